package ocds

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
)

// shape names the fields of an object that are kept; a nil sub-shape keeps
// the whole value. A shape applies to each object of an array too.
type shape map[string]shape

// releaseShape is what the mapping reads of a release; the rest (planning,
// documents, items, transactions, …) is dropped as soon as a release is
// decoded, so that a large file is not held in memory.
var releaseShape = shape{
	"ocid": nil, "id": nil, "date": nil, "buyer": nil,
	"parties": {"id": nil, "name": nil, "roles": nil, "identifier": nil, "additionalIdentifiers": nil},
	"tender":  {"id": nil, "title": nil, "procurementMethod": nil, "procuringEntity": nil},
	"awards":  {"id": nil, "title": nil, "status": nil, "date": nil, "value": nil, "suppliers": nil},
	"contracts": {
		"id": nil, "awardID": nil, "title": nil, "status": nil, "value": nil,
		"dateSigned": nil, "period": nil, "suppliers": nil,
		"implementation": {"milestones": {"id": nil, "type": nil, "title": nil, "code": nil, "dueDate": nil, "value": nil}},
	},
}

func prune(m map[string]any, sh shape) map[string]any {
	out := make(map[string]any, len(sh))
	for k, sub := range sh {
		v, ok := m[k]
		if !ok {
			continue
		}
		if sub != nil {
			switch t := v.(type) {
			case map[string]any:
				v = prune(t, sub)
			case []any:
				for i, el := range t {
					if em, ok := el.(map[string]any); ok {
						t[i] = prune(em, sub)
					}
				}
			}
		}
		out[k] = v
	}
	return out
}

// idList is an array merged by id: awards, contracts, parties.
type idList struct {
	order []string
	items map[string]map[string]any
}

func (l *idList) get(id string) map[string]any {
	if l == nil {
		return nil
	}
	return l.items[id]
}

type idState int

const (
	idMissing idState = iota
	idOK
	idBad
)

var integerRE = regexp.MustCompile(`^-?[0-9]+$`)

// idOf reads an OCDS id: a string or an integer, both as a string.
func idOf(v any) (string, idState) {
	switch t := v.(type) {
	case nil:
		return "", idMissing
	case string:
		if t == "" {
			return "", idMissing
		}
		return t, idOK
	case json.Number:
		if integerRE.MatchString(string(t)) {
			return string(t), idOK
		}
	}
	return "", idBad
}

var kindOfKey = map[string]string{"awards": KindAward, "contracts": KindContract, "parties": KindParty}

// mergeRelease applies release src over the merged release dst.
func (rd *reader) mergeRelease(ocid string, dst, src map[string]any) {
	// Sorted keys: refusals come in the same order on every run.
	for _, k := range slices.Sorted(maps.Keys(src)) {
		v := src[k]
		if kind, ok := kindOfKey[k]; ok {
			rd.mergeByID(ocid, kind, k, dst, v)
			continue
		}
		dst[k] = mergeValue(dst[k], v)
	}
}

// mergeValue merges objects field by field; anything else is replaced.
func mergeValue(old, new any) any {
	nm, ok := new.(map[string]any)
	if !ok {
		return new
	}
	om, ok := old.(map[string]any)
	if !ok {
		return nm
	}
	for k, v := range nm {
		om[k] = mergeValue(om[k], v)
	}
	return om
}

func (rd *reader) mergeByID(ocid, kind, key string, dst map[string]any, v any) {
	if v == nil {
		return
	}
	arr, ok := v.([]any)
	if !ok {
		rd.refuse(Refusal{OCID: ocid, Kind: KindRelease, Ref: key, Reason: ReasonMalformedRelease, Detail: fmt.Sprintf("%s is not an array but %s", key, show(v))})
		return
	}
	l, _ := dst[key].(*idList)
	if l == nil {
		l = &idList{items: map[string]map[string]any{}}
		dst[key] = l
	}
	for i, el := range arr {
		pos := fmt.Sprintf("%s[%d]", key, i)
		m, ok := el.(map[string]any)
		if !ok {
			rd.refuse(Refusal{OCID: ocid, Kind: kind, Ref: pos, Reason: ReasonMalformedRelease, Detail: fmt.Sprintf("%s is not an object but %s", pos, show(el))})
			continue
		}
		id, st := idOf(m["id"])
		switch st {
		case idMissing:
			rd.refuse(Refusal{OCID: ocid, Kind: kind, Ref: pos, Reason: ReasonMalformedRelease, Detail: fmt.Sprintf("%s has no id", pos)})
			continue
		case idBad:
			rd.refuse(Refusal{OCID: ocid, Kind: kind, Ref: pos, Reason: ReasonIDTypeMismatch, Detail: fmt.Sprintf("%s has id %s: an id is a string or an integer", pos, show(m["id"]))})
			continue
		}
		if old, ok := l.items[id]; ok {
			mergeValue(old, m)
			continue
		}
		l.items[id] = m
		l.order = append(l.order, id)
	}
}

// show renders a JSON value briefly for a refusal detail.
func show(v any) string {
	switch t := v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case bool:
		return fmt.Sprintf("the boolean %v", t)
	case json.Number:
		return "the number " + clip(string(t))
	case string:
		return fmt.Sprintf("%q", clip(t))
	}
	return fmt.Sprintf("%T", v)
}

func clip(s string) string {
	if len(s) > 64 {
		r := []rune(s)
		if len(r) > 64 {
			return string(r[:64]) + "…"
		}
	}
	return s
}
