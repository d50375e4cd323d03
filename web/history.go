package web

import (
	"regexp"
	"strings"

	"procfin/lending"
	"procfin/platform/i18n"
	"procfin/platform/money"
)

// An application's history entries and its audit reasons are codes with
// arguments (lending/causes.go); the page words them from the catalogue
// (cause.<code>, platform/i18n/history.go) in its language, each argument
// in the reader's units.

// placeholder is an argument's place in a cause's words: {name}.
var placeholder = regexp.MustCompile(`\{([a-z_]+)\}`)

// causeText is the cause code with args in the page's language: the
// catalogue's words with each {name} replaced by its argument, written for
// a reader (causeArg); a code the catalogue does not have (words written
// before codes) is shown as it is.
func (v *view) causeText(code string, args lending.CauseArgs) string {
	if !i18n.Has("cause." + code) {
		return code
	}
	return placeholder.ReplaceAllStringFunc(v.T("cause."+code), func(p string) string {
		name := p[1 : len(p)-1]
		return v.causeArg(code, name, args[name])
	})
}

// causeArg writes one argument for a reader: amounts with thousands
// separators, rates as percentages, the whole loan's tranche ("") and a
// lapse's reason in words; anything else as it is.
func (v *view) causeArg(code, name, value string) string {
	switch name {
	case "amount", "principal", "interest":
		if a, err := money.ParseAmount(value); err == nil {
			return formatMoney(a)
		}
	case "rate":
		if r, err := money.ParseRate(value); err == nil {
			return ratePercent(&r)
		}
	case "receivable_status":
		if i18n.Has("rcv.status." + value) {
			return v.T("rcv.status." + value)
		}
	case "tranche":
		if value == "" {
			return v.T("cause.whole_loan")
		}
	case "reason":
		if (code == lending.CauseLapsed || code == lending.CauseAccountReleasedLapsed) && i18n.Has("cause.lapse."+value) {
			return v.T("cause.lapse." + value)
		}
	}
	return value
}

// Cause is a history entry's cause for the page.
func (v *view) Cause(t lending.Transition) string { return v.causeText(t.Cause, t.CauseArgs) }

// EntryTitle is a history entry's title: the state it reached, or, for an
// event of the loan that changed no state (a repayment, an overdue), the
// event's.
func (v *view) EntryTitle(t lending.Transition) string {
	if t.From == t.To && i18n.Has("cause.title."+t.Cause) {
		return v.T("cause.title." + t.Cause)
	}
	return v.T("timeline." + string(t.To))
}

// Reason is an audit entry's reason for the page: a cause written as
// lending.Cause.String words from the catalogue; a person's own words, or
// words written before codes, as they are.
func (v *view) Reason(reason string) string {
	c, ok := lending.ParseCause(reason)
	if !ok || !i18n.Has("cause."+c.Code) || strings.TrimSpace(reason) == "" {
		return reason
	}
	return v.causeText(c.Code, c.Args)
}

// ConsentStatement is the statement of consent to send an application's
// data to the bank, in the page's language: the words the consent stores
// when the supplier applies to that bank.
func (v *view) ConsentStatement(bankID, bankName string) string {
	return lending.ConsentStatement(v.Lang, bankID, bankName)
}
