package ocds

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	"procfin/platform/errs"
)

// Read reads one OCDS release package or record package and maps it. An
// error means the file as a whole cannot be read (not JSON, not a package,
// not in the charset): it is an *errs.Error with code Invalid (or the
// reader's own error). Anything smaller is a Refusal in the batch.
func Read(r io.Reader, opts Options) (*Batch, error) {
	mode, err := parseCharset(opts.Charset)
	if err != nil {
		return nil, err
	}
	rd := &reader{
		opts:  opts,
		batch: &Batch{},
		byID:  map[string]*ocidState{},
		seen:  map[Refusal]bool{},
	}
	dec := json.NewDecoder(newCharsetReader(r, mode))
	dec.UseNumber()
	rd.dec = dec
	if err := rd.readPackage(); err != nil {
		return nil, err
	}
	rd.finish()
	return rd.batch, nil
}

type release struct {
	date time.Time
	seq  int
	m    map[string]any
}

type ocidState struct {
	ocid     string
	releases []release
}

type reader struct {
	opts  Options
	dec   *json.Decoder
	batch *Batch
	order []*ocidState
	byID  map[string]*ocidState
	seq   int
	seen  map[Refusal]bool
}

// fileError turns a decoding failure into the error Read returns.
func (rd *reader) fileError(err error) error {
	var e *errs.Error
	if errors.As(err, &e) {
		return e
	}
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return errs.Wrap(errs.Invalid, err, "not valid JSON at byte %d: %v", se.Offset, se)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return errs.Wrap(errs.Invalid, err, "the file ends inside the JSON document")
	}
	var ute *json.UnmarshalTypeError
	if errors.As(err, &ute) {
		return errs.Wrap(errs.Invalid, err, "not valid JSON at byte %d: %v", ute.Offset, ute)
	}
	return err // a read error of the source
}

func (rd *reader) readPackage() error {
	tok, err := rd.dec.Token()
	if err == io.EOF {
		return errs.E(errs.Invalid, "the file is empty: expected an OCDS release or record package")
	}
	if err != nil {
		return rd.fileError(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return errs.E(errs.Invalid, "not an OCDS package: the file is not a JSON object")
	}
	var sawReleases, sawRecords bool
	for rd.dec.More() {
		tok, err := rd.dec.Token()
		if err != nil {
			return rd.fileError(err)
		}
		key, _ := tok.(string)
		switch key {
		case "releases", "records":
			if sawReleases || sawRecords {
				return errs.E(errs.Invalid, "not an OCDS package: it has both releases and records, or one of them twice")
			}
			if key == "releases" {
				sawReleases = true
			} else {
				sawRecords = true
			}
			if err := rd.readArray(key); err != nil {
				return err
			}
		default:
			if err := rd.skip(); err != nil {
				return err
			}
		}
	}
	if _, err := rd.dec.Token(); err != nil { // the closing '}'
		return rd.fileError(err)
	}
	if _, err := rd.dec.Token(); err != io.EOF {
		if err != nil {
			return rd.fileError(err)
		}
		return errs.E(errs.Invalid, "not an OCDS package: data after the package object")
	}
	if !sawReleases && !sawRecords {
		return errs.E(errs.Invalid, "not an OCDS package: the object has neither \"releases\" nor \"records\"")
	}
	return nil
}

// skip reads past one value.
func (rd *reader) skip() error {
	depth := 0
	for {
		tok, err := rd.dec.Token()
		if err != nil {
			return rd.fileError(err)
		}
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{', '[':
				depth++
			default:
				depth--
			}
		}
		if depth == 0 {
			return nil
		}
	}
}

func (rd *reader) readArray(key string) error {
	tok, err := rd.dec.Token()
	if err != nil {
		return rd.fileError(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		if tok == nil {
			return nil // "releases": null — an empty package
		}
		return errs.E(errs.Invalid, "not an OCDS package: %q is not an array", key)
	}
	for i := 0; rd.dec.More(); i++ {
		if key == "releases" {
			var v any
			if err := rd.dec.Decode(&v); err != nil {
				return rd.fileError(err)
			}
			rd.addRelease(v, fmt.Sprintf("releases[%d]", i), "")
		} else if err := rd.readRecord(i); err != nil {
			return err
		}
	}
	if _, err := rd.dec.Token(); err != nil { // ']'
		return rd.fileError(err)
	}
	return nil
}

// readRecord streams one record: its embedded releases are cut down one by
// one, and dropped when the record has a compiledRelease.
func (rd *reader) readRecord(i int) error {
	pos := fmt.Sprintf("records[%d]", i)
	tok, err := rd.dec.Token()
	if err != nil {
		return rd.fileError(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		if ok { // an array: read past it
			if err := rd.skipOpened(); err != nil {
				return err
			}
		}
		rd.refuse(Refusal{Kind: KindRelease, Ref: pos, Reason: ReasonMalformedRelease, Detail: "a record is not a JSON object"})
		return nil
	}
	var (
		ocidV    any
		compiled any
		hasComp  bool
		embedded []any
		badRels  bool
	)
	for rd.dec.More() {
		tok, err := rd.dec.Token()
		if err != nil {
			return rd.fileError(err)
		}
		key, _ := tok.(string)
		switch key {
		case "ocid":
			if err := rd.dec.Decode(&ocidV); err != nil {
				return rd.fileError(err)
			}
		case "compiledRelease":
			if err := rd.dec.Decode(&compiled); err != nil {
				return rd.fileError(err)
			}
			hasComp = compiled != nil
			if m, ok := compiled.(map[string]any); ok {
				compiled = prune(m, releaseShape)
			}
		case "releases":
			tok, err := rd.dec.Token()
			if err != nil {
				return rd.fileError(err)
			}
			if d, ok := tok.(json.Delim); !ok || d != '[' {
				if ok {
					if err := rd.skipOpened(); err != nil {
						return err
					}
				}
				badRels = tok != nil
				continue
			}
			embedded = embedded[:0]
			for rd.dec.More() {
				var v any
				if err := rd.dec.Decode(&v); err != nil {
					return rd.fileError(err)
				}
				if m, ok := v.(map[string]any); ok {
					v = prune(m, releaseShape)
				}
				embedded = append(embedded, v)
			}
			if _, err := rd.dec.Token(); err != nil {
				return rd.fileError(err)
			}
		default:
			if err := rd.skip(); err != nil {
				return err
			}
		}
	}
	if _, err := rd.dec.Token(); err != nil { // '}'
		return rd.fileError(err)
	}
	ocid, ok := ocidV.(string)
	if !ok || ocid == "" {
		rd.refuse(Refusal{Kind: KindRelease, Ref: pos, Reason: ReasonMalformedRelease, Detail: "a record without a string ocid"})
		return nil
	}
	if hasComp {
		rd.addRelease(compiled, pos+".compiledRelease", ocid)
		return nil
	}
	if badRels {
		rd.refuse(Refusal{OCID: ocid, Kind: KindRelease, Ref: pos, Reason: ReasonMalformedRelease, Detail: "the record's releases is not an array"})
	}
	for j, v := range embedded {
		rd.addRelease(v, fmt.Sprintf("%s.releases[%d]", pos, j), ocid)
	}
	return nil
}

// skipOpened reads past the rest of a value whose opening delimiter was
// read.
func (rd *reader) skipOpened() error {
	depth := 1
	for depth > 0 {
		tok, err := rd.dec.Token()
		if err != nil {
			return rd.fileError(err)
		}
		if d, ok := tok.(json.Delim); ok {
			if d == '{' || d == '[' {
				depth++
			} else {
				depth--
			}
		}
	}
	return nil
}

// addRelease files one release under its ocid. recordOCID, when set, is the
// ocid of the record the release belongs to.
func (rd *reader) addRelease(v any, pos, recordOCID string) {
	rd.batch.Releases++
	if rd.opts.Progress != nil {
		defer rd.opts.Progress(rd.batch.Releases)
	}
	m, ok := v.(map[string]any)
	if !ok {
		rd.refuse(Refusal{OCID: recordOCID, Kind: KindRelease, Ref: pos, Reason: ReasonMalformedRelease, Detail: "a release is not a JSON object"})
		return
	}
	if recordOCID == "" {
		m = prune(m, releaseShape)
	}
	ref := pos
	if id, st := idOf(m["id"]); st == idOK {
		ref = id
	}
	ocid := recordOCID
	if ocid == "" {
		s, ok := m["ocid"].(string)
		if !ok || s == "" {
			rd.refuse(Refusal{Kind: KindRelease, Ref: ref, Reason: ReasonMalformedRelease, Detail: "a release without a string ocid (" + pos + ")"})
			return
		}
		ocid = s
	}
	var date time.Time
	if dv, present := m["date"]; present && dv != nil {
		s, _ := dv.(string)
		t, err := parseInstant(s)
		if err != nil {
			rd.refuse(Refusal{OCID: ocid, Kind: KindRelease, Ref: ref, Reason: ReasonInvalidDate, Detail: fmt.Sprintf("release date %s is not an RFC 3339 date-time; the release is left out of the merge", show(dv))})
			return
		}
		date = t
	}
	st := rd.byID[ocid]
	if st == nil {
		st = &ocidState{ocid: ocid}
		rd.byID[ocid] = st
		rd.order = append(rd.order, st)
	}
	rd.seq++
	st.releases = append(st.releases, release{date: date, seq: rd.seq, m: m})
}

func (rd *reader) refuse(r Refusal) {
	if rd.seen[r] {
		return
	}
	rd.seen[r] = true
	rd.batch.Refused = append(rd.batch.Refused, r)
}

func (rd *reader) note(n Note) {
	rd.batch.Notes = append(rd.batch.Notes, n)
}

// finish merges the releases of each ocid and maps them.
func (rd *reader) finish() {
	rd.batch.OCIDs = len(rd.order)
	for _, st := range rd.order {
		rels := st.releases
		sort.SliceStable(rels, func(i, j int) bool {
			if !rels[i].date.Equal(rels[j].date) {
				return rels[i].date.Before(rels[j].date)
			}
			return rels[i].seq < rels[j].seq
		})
		merged := map[string]any{}
		for _, r := range rels {
			rd.mergeRelease(st.ocid, merged, r.m)
		}
		st.releases = nil
		rd.mapOCID(st.ocid, merged)
	}
}
