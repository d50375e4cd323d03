package banking

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"procfin/platform/errs"
	"procfin/platform/ids"
	"procfin/platform/money"
	"procfin/platform/text"
)

const testIntent = "7c0e9a52-3d4f-4e8a-9b1c-2d3e4f5a6b7c"

// offerEvent is an offer event's body, with no application.
func offerEvent(typ, data string) string {
	return `{"event_id": "e1", "type": "` + typ + `", "occurred_at": "2026-11-21T02:00:00Z", "application_id": null, "data": ` + data + `}`
}

// madeWith is offer.made with every field right, one of them replaced by
// field: value (value "" drops the field).
func madeWith(field, value string) string {
	fields := [][2]string{{"intent_id", `"` + testIntent + `"`}, {"offer_id", `"QL-OFFER-1"`}, {"amount", `"800000.00"`},
		{"annual_rate", `"0.0385"`}, {"term_days", `180`}, {"valid_until", `"2026-11-24T10:00:00+08:00"`},
		{"conditions", `"以应收账款质押，按月付息。"`}}
	var parts []string
	for _, f := range fields {
		if f[0] == field {
			if value == "" {
				continue
			}
			f[1] = value
		}
		parts = append(parts, `"`+f[0]+`": `+f[1])
	}
	return offerEvent("offer.made", "{"+strings.Join(parts, ", ")+"}")
}

func TestParseOfferEvents(t *testing.T) {
	t.Parallel()
	env, data, err := ParseEvent([]byte(madeWith("", "")))
	if err != nil {
		t.Fatalf("refused a good offer: %v", err)
	}
	d := data.(*offerMadeData)
	// 10:00 at +08:00 is 02:00Z.
	if env.ApplicationID != "" || d.IntentID != testIntent || d.OfferID != "QL-OFFER-1" || d.Amount.String() != "800000.00" ||
		d.AnnualRate.String() != "0.0385" || *d.TermDays != 180 || d.validUntil.UTC().Format("2006-01-02T15:04:05Z07:00") != "2026-11-24T02:00:00Z" ||
		d.Conditions != "以应收账款质押，按月付息。" {
		t.Fatalf("parsed %+v", d)
	}
	if s := d.subject(env); !s.intent || s.intentID != testIntent || s.application() {
		t.Fatalf("subject %+v", s)
	}
	ok := map[string]string{
		// The intent's id in capitals has one spelling from here on.
		"UpperIntent":        madeWith("intent_id", `"`+strings.ToUpper(testIntent)+`"`),
		"NoConditions":       madeWith("conditions", ""),
		"EmptyConditions":    madeWith("conditions", `""`),
		"LongConditions":     madeWith("conditions", `"`+strings.Repeat("条", 666)+`xx"`), // 666 × 3 + 2 = 2000 bytes
		"ConditionsNewlines": madeWith("conditions", `"一、质押\n二、按月付息"`),
		"UTCInstant":         madeWith("valid_until", `"2026-11-24T02:00:00Z"`),
		"SmallestRate":       madeWith("annual_rate", `"0.000001"`),
		"LongestTerm":        madeWith("term_days", `3650`),
		"NoApplicationKey":   strings.Replace(madeWith("", ""), `"application_id": null, `, "", 1),
		"Withdrawn":          offerEvent("offer.withdrawn", `{"intent_id": "`+testIntent+`", "offer_id": "QL-OFFER-1"}`),
	}
	for name, body := range ok {
		t.Run(name, func(t *testing.T) {
			_, data, err := ParseEvent([]byte(body))
			if err != nil {
				t.Fatalf("refused a good event: %v", err)
			}
			if d, isMade := data.(*offerMadeData); isMade && d.IntentID != testIntent {
				t.Fatalf("intent %q", d.IntentID)
			}
		})
	}
	bad := map[string]struct{ body, field string }{
		"Application":        {strings.Replace(madeWith("", ""), `null`, `"0b5e1c4e-7a51-4b2f-9d3e-1f2a3b4c5d6e"`, 1), "application_id"},
		"NoIntent":           {madeWith("intent_id", ""), "data.intent_id"},
		"IntentNotUUID":      {madeWith("intent_id", `"intent-1"`), "data.intent_id"},
		"NoOffer":            {madeWith("offer_id", ""), "data.offer_id"},
		"OfferTooLong":       {madeWith("offer_id", `"`+strings.Repeat("x", 201)+`"`), "data.offer_id"},
		"OfferControl":       {madeWith("offer_id", `"QL\u0007"`), "data.offer_id"},
		"NoAmount":           {madeWith("amount", ""), "data.amount"},
		"ZeroAmount":         {madeWith("amount", `"0.00"`), "data.amount"},
		"NegativeAmount":     {madeWith("amount", `"-1.00"`), "data.amount"},
		"AmountAsNumber":     {madeWith("amount", `800000`), "data.amount"},
		"NoRate":             {madeWith("annual_rate", ""), "data.annual_rate"},
		"ZeroRate":           {madeWith("annual_rate", `"0"`), "data.annual_rate"},
		"WholeRate":          {madeWith("annual_rate", `"1"`), "data.annual_rate"},
		"RateSevenPlaces":    {madeWith("annual_rate", `"0.0385001"`), "data.annual_rate"},
		"NoTerm":             {madeWith("term_days", ""), "data.term_days"},
		"ZeroTerm":           {madeWith("term_days", `0`), "data.term_days"},
		"TermTooLong":        {madeWith("term_days", `3651`), "data.term_days"},
		"TermHuge":           {madeWith("term_days", `99999999999999999999`), "data.term_days"},
		"NoValidUntil":       {madeWith("valid_until", ""), "data.valid_until"},
		"ValidUntilDate":     {madeWith("valid_until", `"2026-11-24"`), "data.valid_until"},
		"ValidUntilNoOffset": {madeWith("valid_until", `"2026-11-24T10:00:00"`), "data.valid_until"},
		"ValidUntilNumber":   {madeWith("valid_until", `1764000000`), "data.valid_until"},
		"ConditionsTooLong":  {madeWith("conditions", `"`+strings.Repeat("条", 666)+`xxx"`), "data.conditions"}, // 2001 bytes
		"ConditionsControl":  {madeWith("conditions", `"a\u001bb"`), "data.conditions"},
		"WithdrawnNoOffer":   {offerEvent("offer.withdrawn", `{"intent_id": "`+testIntent+`"}`), "data.offer_id"},
		"WithdrawnBadIntent": {offerEvent("offer.withdrawn", `{"intent_id": "x", "offer_id": "QL-OFFER-1"}`), "data.intent_id"},
		"WithdrawnAppl": {strings.Replace(offerEvent("offer.withdrawn", `{"intent_id": "`+testIntent+`", "offer_id": "O"}`), "null",
			`"0b5e1c4e-7a51-4b2f-9d3e-1f2a3b4c5d6e"`, 1), "application_id"},
	}
	for name, tc := range bad {
		t.Run(name, func(t *testing.T) {
			_, _, err := ParseEvent([]byte(tc.body))
			var e *errs.Error
			if !errors.As(err, &e) || e.Code != errs.Invalid || !slices.ContainsFunc(e.Fields, func(f errs.FieldError) bool {
				return f.Field == tc.field
			}) {
				t.Fatalf("%v, want invalid naming %s", err, tc.field)
			}
		})
	}
	// Every bad field of an offer is named at once.
	body := offerEvent("offer.made", `{"intent_id": "x", "offer_id": "", "amount": "0.00", "annual_rate": "0", "term_days": 0,
		"valid_until": "soon", "conditions": "\u0007"}`)
	_, _, err = ParseEvent([]byte(body))
	var e *errs.Error
	if !errors.As(err, &e) || e.Code != errs.Invalid {
		t.Fatalf("%v, want invalid", err)
	}
	var named []string
	for _, f := range e.Fields {
		named = append(named, f.Field)
	}
	want := []string{"data.intent_id", "data.offer_id", "data.amount", "data.annual_rate", "data.term_days", "data.valid_until", "data.conditions"}
	if !slices.Equal(named, want) {
		t.Fatalf("named %v, want %v", named, want)
	}
}

// FuzzParseOfferEvent: no input panics; every refusal is a client error;
// an offer accepted has no application, a canonical intent id, an offer id,
// a positive amount, a rate above 0 and below 1, a term from 1 to 3650
// days, an instant and conditions of clean text, at most 2000 bytes.
func FuzzParseOfferEvent(f *testing.F) {
	f.Add([]byte(madeWith("", "")))
	f.Add([]byte(madeWith("conditions", `"`+strings.Repeat("条", 667)+`"`)))
	f.Add([]byte(madeWith("valid_until", `"2026-11-24T02:00:00.999999999Z"`)))
	f.Add([]byte(madeWith("annual_rate", `"0.999999"`)))
	f.Add([]byte(offerEvent("offer.withdrawn", `{"intent_id": "`+testIntent+`", "offer_id": "QL-OFFER-1"}`)))
	f.Add([]byte(offerEvent("offer.made", `{"intent_id": "x", "offer_id": "", "amount": "0.00", "annual_rate": "0", "term_days": 0}`)))
	f.Fuzz(func(t *testing.T, body []byte) {
		env, data, err := ParseEvent(body)
		if err != nil {
			if c := errs.CodeOf(err); c != errs.Invalid && c != errs.MalformedRequest {
				t.Fatalf("code %s for %q", c, body)
			}
			return
		}
		offerID, intentID := "", ""
		switch d := data.(type) {
		case *offerMadeData:
			offerID, intentID = d.OfferID, d.IntentID
			if !d.Amount.IsPositive() || !d.AnnualRate.Decimal().IsPositive() || !d.AnnualRate.Decimal().LessThan(money.MustRate("1").Decimal()) ||
				*d.TermDays < 1 || *d.TermDays > maxOfferTermDays || d.validUntil.IsZero() ||
				!text.Valid(d.Conditions) || len(d.Conditions) > maxConditions {
				t.Fatalf("accepted %q as %+v", body, d)
			}
		case *offerWithdrawnData:
			offerID, intentID = d.OfferID, d.IntentID
		default:
			return
		}
		if canonical, ok := ids.Canonical(intentID); env.ApplicationID != "" || !ok || canonical != intentID ||
			offerID == "" || len(offerID) > 200 || !text.Valid(offerID) {
			t.Fatalf("accepted %q: application %q, intent %q, offer %q", body, env.ApplicationID, intentID, offerID)
		}
	})
}
