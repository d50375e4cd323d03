package subsidies

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"

	"procfin/platform/errs"
	"procfin/platform/money"
)

// LPREntry is one row of the dated 1-year LPR (loan prime rate): the rate
// in force from From until the next entry's From.
type LPREntry struct {
	From money.Date `json:"from"`
	Rate money.Rate `json:"rate"`
}

// LPRTable is the dated 1-year LPR, sorted by From, at least one entry
// (a policy's lpr_1y): the rate cap of each day.
type LPRTable []LPREntry

// On returns the rate in force on day d: the last entry from d or before;
// a day before the first entry uses the first. An empty table caps
// nothing away: it returns 0.
func (t LPRTable) On(d money.Date) money.Rate {
	if len(t) == 0 {
		return money.Rate{}
	}
	r := t[0].Rate
	for _, e := range t[1:] {
		if e.From.After(d) {
			break
		}
		r = e.Rate
	}
	return r
}

// Value stores the table as JSON (jsonb).
func (t LPRTable) Value() (driver.Value, error) {
	if t == nil {
		t = LPRTable{}
	}
	b, err := json.Marshal(t)
	return string(b), err
}

// Scan reads the table from JSON (jsonb).
func (t *LPRTable) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case []byte:
		b = v
	case string:
		b = []byte(v)
	default:
		return fmt.Errorf("lpr_1y: cannot scan %T", src)
	}
	return json.Unmarshal(b, t)
}

// LPRInput is one entry of lpr_1y as an administrator (or the
// configuration) gives it, checked by parseLPR.
type LPRInput struct {
	From string `json:"from" yaml:"from"`
	Rate string `json:"rate" yaml:"rate"`
}

// parseLPR parses a dated LPR table: at least one entry, each a date and a
// rate from 0 to 1, dates strictly increasing. Each bad entry is named
// (lpr_1y[i].from, lpr_1y[i].rate).
func parseLPR(in []LPRInput) (LPRTable, []errs.FieldError) {
	var fe []errs.FieldError
	bad := func(field, code, msg string) {
		fe = append(fe, errs.FieldError{Field: field, Code: code, Message: msg})
	}
	if len(in) == 0 {
		bad("lpr_1y", "required", "name at least one entry {\"from\": \"YYYY-MM-DD\", \"rate\": \"0.0310\"}")
		return nil, fe
	}
	t := make(LPRTable, 0, len(in))
	var prev *money.Date
	for i, e := range in {
		at := fmt.Sprintf("lpr_1y[%d]", i)
		d, dateErr := money.ParseDate(e.From)
		if dateErr != nil {
			bad(at+".from", "invalid_date", fmt.Sprintf("must be a date YYYY-MM-DD, got %q", e.From))
		}
		r, rateErr := money.ParseRate(e.Rate)
		if rateErr != nil {
			bad(at+".rate", errs.FieldInvalidRate, "")
		}
		if dateErr != nil {
			continue
		}
		if prev != nil && !d.After(*prev) {
			bad(at+".from", "not_increasing", fmt.Sprintf("%s is not after the entry before it (%s): entries go from the oldest, one per date", d, *prev))
		}
		prev = &d
		t = append(t, LPREntry{From: d, Rate: r})
	}
	if len(fe) > 0 {
		return nil, fe
	}
	return t, nil
}
