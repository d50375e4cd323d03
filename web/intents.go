package web

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"procfin/banking"
	"procfin/contracts"
	"procfin/lending"
	"procfin/platform/errs"
	"procfin/platform/i18n"
	"procfin/platform/money"
)

// Competing offers (融资意向): the supplier publishes a financing need to
// several banks, compares their offers by the effective rate after the
// programme's subsidy, and accepts one or cancels the need; the officers
// see every need with how many banks answered and the best rate.

// publishForm is the form publishing a need, as typed.
type publishForm struct {
	Amount, TermDays, Purpose, RespondBy string
	BankIDs                              []string // the banks ticked
	AllBanks                             bool     // every bank of the programme
}

// bankConsent is a bank to tick with the consent the supplier gives it.
type bankConsent struct {
	Bank      banking.Bank
	Statement string
	Chosen    bool
}

type publishData struct {
	Contract contracts.Contract
	Banks    []bankConsent
	Form     publishForm
	Errors   map[string]string
	Failed   []checkView // verification checks that failed
	Problem  string      // a refusal not tied to a field, in the service's words
}

// publishData reads the contract and the banks to choose from.
func (s *server) publishData(w http.ResponseWriter, r *http.Request, v *view, f publishForm) (publishData, bool) {
	ctx := r.Context()
	c, err := s.Contracts.Contract(ctx, contractScope(v), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, v, err)
		return publishData{}, false
	}
	banks, err := s.Banks.List(ctx)
	if err != nil {
		s.fail(w, r, v, err)
		return publishData{}, false
	}
	d := publishData{Contract: c, Form: f, Errors: map[string]string{}}
	for _, b := range banks {
		d.Banks = append(d.Banks, bankConsent{Bank: b, Statement: lending.IntentConsentStatement(v.Lang, b.ID, b.Name),
			Chosen: f.AllBanks || slices.Contains(f.BankIDs, b.ID)})
	}
	return d, true
}

func (s *server) publishPage(w http.ResponseWriter, r *http.Request, v *view) {
	d, ok := s.publishData(w, r, v, publishForm{TermDays: "180"})
	if !ok {
		return
	}
	if d.Contract.Financing.Available.Decimal().IsPositive() {
		d.Form.Amount = d.Contract.Financing.Available.String()
	}
	s.render(w, r, v, http.StatusOK, "intents_publish", "intent.publish_title", d)
}

// respondByLayouts are what a datetime-local input sends (the supplier's
// wall clock in China) and RFC 3339.
var respondByLayouts = []string{"2006-01-02T15:04", "2006-01-02T15:04:05"}

// parseRespondBy reads the form's respond_by as an RFC 3339 instant.
func parseRespondBy(s string) (string, bool) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.Format(time.RFC3339), true
	}
	for _, l := range respondByLayouts {
		if t, err := time.ParseInLocation(l, s, shanghai); err == nil {
			return t.Format(time.RFC3339), true
		}
	}
	return "", false
}

// publish publishes the need through lending.Publish: the form's own
// mistakes (an amount, a term or a time that is not one; no bank chosen)
// are all shown at once beside their fields, then the service's.
func (s *server) publish(w http.ResponseWriter, r *http.Request, v *view) {
	f := publishForm{Amount: strings.TrimSpace(r.PostFormValue("amount")), TermDays: strings.TrimSpace(r.PostFormValue("term_days")),
		Purpose: r.PostFormValue("purpose"), RespondBy: strings.TrimSpace(r.PostFormValue("respond_by")),
		BankIDs: r.PostForm["bank_ids"], AllBanks: r.PostFormValue("all_banks") != ""}
	d, ok := s.publishData(w, r, v, f)
	if !ok {
		return
	}
	in := lending.PublishInput{ContractID: d.Contract.ID, Purpose: f.Purpose, BankIDs: f.BankIDs}
	if f.AllBanks {
		in.BankIDs = []string{"*"}
	}
	var fe []errs.FieldError
	if f.Amount == "" {
		fe = append(fe, errs.Field("amount", errs.FieldRequired))
	} else if a, err := money.ParseAmount(strings.ReplaceAll(f.Amount, ",", "")); err != nil {
		fe = append(fe, amountProblem("amount", err))
	} else {
		in.Amount = &a
	}
	if f.TermDays == "" {
		fe = append(fe, errs.Field("term_days", errs.FieldRequired))
	} else if n, err := strconv.Atoi(f.TermDays); err != nil {
		fe = append(fe, errs.Field("term_days", errs.FieldWholeNumber))
	} else {
		in.TermDays = &n
	}
	if f.RespondBy != "" {
		if at, ok := parseRespondBy(f.RespondBy); ok {
			in.RespondBy = &at
		} else {
			fe = append(fe, errs.Field("respond_by", errs.FieldInvalidFormat))
		}
	}
	if len(in.BankIDs) == 0 {
		fe = append(fe, errs.FieldError{Field: "bank_ids", Code: "no_bank", Message: "choose at least one bank"})
	}
	var it lending.Intent
	var err error
	if len(fe) > 0 { // every problem at once: the form's and the service's checks of the rest
		err = errs.InvalidFields(errs.Merge(fe, s.Lending.CheckPublish(r.Context(), in))...)
	} else {
		it, err = s.Lending.Publish(r.Context(), applicant(r, v), in)
	}
	if err == nil {
		http.Redirect(w, r, "/portal/intents/"+it.ID+"?ok=intent_published", http.StatusSeeOther)
		return
	}
	var e *errs.Error
	if !errors.As(err, &e) {
		s.fail(w, r, v, err)
		return
	}
	switch e.Code {
	case errs.Invalid:
		d.Errors = fieldErrors(v, e.Fields)
		for field, msg := range d.Errors { // bank_ids[1] and the like: beside the banks
			if field != "bank_ids" && strings.HasPrefix(field, "bank_ids") {
				delete(d.Errors, field)
				d.Errors["bank_ids"] = strings.TrimPrefix(d.Errors["bank_ids"]+"; "+msg, "; ")
			}
		}
		if len(d.Errors) == 0 {
			d.Problem = problemText(v, e)
		}
	case errs.VerificationFailed:
		d.Failed = failedChecks(e)
		d.Problem = problemText(v, e)
	case errs.Conflict, errs.InvalidTransition:
		d.Problem = problemText(v, e)
	default:
		s.fail(w, r, v, err)
		return
	}
	s.render(w, r, v, errs.StatusOf(err), "intents_publish", "intent.publish_title", d)
}

// failedChecks are the failed checks of a verification_failed error's
// report.
func failedChecks(e *errs.Error) []checkView {
	var out []checkView
	if rep, ok := e.Extra["verification"].(contracts.Report); ok {
		for _, c := range checksOf(rep.Checks) {
			if !c.Passed {
				out = append(out, c)
			}
		}
	}
	return out
}

// intentRow is one need in a list.
type intentRow struct {
	lending.Intent
	Answered int         // banks that made an offer
	Best     *money.Rate // the lowest effective rate offered, nil before any
}

func intentRows(list []lending.Intent) []intentRow {
	rows := make([]intentRow, 0, len(list))
	for _, it := range list {
		row := intentRow{Intent: it}
		answered := map[string]bool{}
		for _, o := range it.Offers {
			answered[o.BankID] = true
			if o.Status == lending.OfferReplaced || o.Status == lending.OfferWithdrawn {
				continue
			}
			if r := o.EffectiveAnnualRate; row.Best == nil || r.Decimal().LessThan(row.Best.Decimal()) {
				row.Best = &r
			}
		}
		row.Answered = len(answered)
		rows = append(rows, row)
	}
	return rows
}

var intentStatuses = []lending.IntentStatus{lending.IntentOpen, lending.IntentAccepted, lending.IntentCancelled, lending.IntentExpired}

type intentsData struct {
	Intents  []intentRow
	Status   string
	Statuses []lending.IntentStatus
}

func (s *server) listIntents(w http.ResponseWriter, r *http.Request, v *view, sc lending.Scope, page string) {
	d := intentsData{Statuses: intentStatuses, Status: r.URL.Query().Get("status")}
	var f lending.IntentFilter
	if slices.Contains(intentStatuses, lending.IntentStatus(d.Status)) {
		f.Status = lending.IntentStatus(d.Status)
	}
	list, err := s.Lending.Intents(r.Context(), sc, f, 0, 200)
	if err != nil {
		s.fail(w, r, v, err)
		return
	}
	d.Intents = intentRows(list)
	s.render(w, r, v, http.StatusOK, page, "intent.list_title", d)
}

func (s *server) intentsPage(w http.ResponseWriter, r *http.Request, v *view) {
	s.listIntents(w, r, v, lendingScope(v), "intents")
}

// consoleIntents lists every need for the officers.
func (s *server) consoleIntents(w http.ResponseWriter, r *http.Request, v *view) {
	s.listIntents(w, r, v, lending.Scope{}, "intents_console")
}

// offerView is an offer as the comparison shows it.
type offerView struct {
	lending.Offer
	Best    bool // the lowest effective rate among the offers the supplier may accept
	Current bool // the bank's offer in force (made)
	Expired bool // current, but its valid_until has passed
}

// bankState is a bank asked and where it stands.
type bankState struct {
	lending.IntentBank
	State string // message key intent.bank.<state>
}

type intentData struct {
	Intent lending.Intent
	Offers []offerView
	Banks  []bankState
	Open   bool
	// Problem is a refused acceptance or cancellation: ProblemKey the
	// catalogue's words, Problem the service's, Failed the failed checks
	// of the verification at acceptance.
	ProblemKey, Problem string
	Failed              []checkView
}

// intentView arranges an intent for the comparison: the offers in
// lending's order (current ones best first by effective rate), the best
// acceptable one marked, and each bank's state.
func intentView(it lending.Intent, now time.Time) intentData {
	d := intentData{Intent: it, Open: it.Status == lending.IntentOpen}
	best := -1
	offered, withdrew := map[string]bool{}, map[string]bool{}
	for i, o := range it.Offers {
		ov := offerView{Offer: o, Current: o.Status == lending.OfferMadeStatus}
		ov.Expired = ov.Current && !now.Before(o.ValidUntil)
		if ov.Current && !ov.Expired && d.Open &&
			(best < 0 || o.EffectiveAnnualRate.Decimal().LessThan(d.Offers[best].EffectiveAnnualRate.Decimal())) {
			best = i
		}
		switch o.Status {
		case lending.OfferMadeStatus, lending.OfferAccepted, lending.OfferDeclined:
			offered[o.BankID] = true
		case lending.OfferWithdrawn:
			withdrew[o.BankID] = true
		}
		d.Offers = append(d.Offers, ov)
	}
	if best >= 0 {
		d.Offers[best].Best = true
	}
	for _, b := range it.Banks {
		st := bankState{IntentBank: b}
		switch {
		case b.OutAt != nil:
			st.State = "out"
		case offered[b.BankID]:
			st.State = "offered"
		case withdrew[b.BankID]:
			st.State = "withdrew"
		case b.Delivery == "failed" || b.Delivery == "dead":
			st.State = "delivery_failed"
		case b.Delivery == "pending" || b.Delivery == "":
			st.State = "delivery_pending"
		default:
			st.State = "waiting"
		}
		d.Banks = append(d.Banks, st)
	}
	return d
}

func (s *server) intentPage(w http.ResponseWriter, r *http.Request, v *view) {
	s.renderIntent(w, r, v, http.StatusOK, nil)
}

// renderIntent shows the comparison page, with a refusal when refused is
// set.
func (s *server) renderIntent(w http.ResponseWriter, r *http.Request, v *view, status int, refused *errs.Error) {
	it, err := s.Lending.Intent(r.Context(), lendingScope(v), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, v, err)
		return
	}
	d := intentView(it, time.Now())
	if refused != nil {
		d.ProblemKey, d.Problem = refusalKeyOf(v, d, refused, r.PostFormValue("offer_id"))
		if refused.Code == errs.VerificationFailed {
			d.Failed = failedChecks(refused)
		}
	}
	s.render(w, r, v, status, "intents_compare", "intent.title", d)
}

// refusalKeyOf is the catalogue's words for a refused acceptance or
// cancellation, said from the intent as it is now (the offer replaced or
// withdrawn, the intent closed), and the service's own words where the
// catalogue has none of its own.
func refusalKeyOf(v *view, d intentData, refused *errs.Error, offerID string) (key, detail string) {
	switch refused.Code {
	case errs.VerificationFailed:
		return "intent.headroom_gone", ""
	case errs.OfferExpired:
		return "intent.err.offer_expired", ""
	case errs.InvalidTransition:
		if !d.Open {
			return "intent.err.closed", ""
		}
		for _, o := range d.Offers {
			if o.ID == offerID && o.Status == lending.OfferReplaced {
				return "intent.err.replaced", ""
			}
			if o.ID == offerID && o.Status == lending.OfferWithdrawn {
				return "intent.err.withdrawn", ""
			}
		}
	}
	return refusalKey(refused.Code), englishDetail(v, refused)
}

// acceptOffer accepts the offer: the application it becomes is shown; a
// refusal (the offer expired, replaced or withdrawn, the intent closed,
// the verification failed) shows the comparison again with why.
func (s *server) acceptOffer(w http.ResponseWriter, r *http.Request, v *view) {
	app, err := s.Lending.Accept(r.Context(), applicant(r, v), r.PathValue("id"), r.PostFormValue("offer_id"))
	if err == nil {
		http.Redirect(w, r, "/portal/applications/"+app.ID+"?ok=offer_accepted", http.StatusSeeOther)
		return
	}
	s.intentRefused(w, r, v, err)
}

func (s *server) cancelIntent(w http.ResponseWriter, r *http.Request, v *view) {
	it, err := s.Lending.CancelIntent(r.Context(), lendingScope(v), r.PathValue("id"), "user:"+v.User.ID)
	if err == nil {
		http.Redirect(w, r, "/portal/intents/"+it.ID+"?ok=intent_cancelled", http.StatusSeeOther)
		return
	}
	s.intentRefused(w, r, v, err)
}

// intentRefused shows a refusal on the comparison page, at its status;
// anything else (not found, an internal error) as an error page.
func (s *server) intentRefused(w http.ResponseWriter, r *http.Request, v *view, err error) {
	var e *errs.Error
	if !errors.As(err, &e) || !slices.Contains([]errs.Code{errs.OfferExpired, errs.InvalidTransition, errs.VerificationFailed,
		errs.Invalid, errs.Conflict}, e.Code) {
		s.fail(w, r, v, err)
		return
	}
	s.renderIntent(w, r, v, errs.StatusOf(err), e)
}

// acceptedOffer is the offer an application accepted and its financing
// need's id; nil when it came from no need.
func (s *server) acceptedOffer(r *http.Request, v *view, a lending.Application) (*lending.Offer, string, error) {
	if a.OfferID == nil {
		return nil, "", nil
	}
	list, err := s.Lending.Intents(r.Context(), lendingScope(v), lending.IntentFilter{Status: lending.IntentAccepted}, 0, 200)
	if err != nil {
		return nil, "", err
	}
	for _, it := range list {
		for _, o := range it.Offers {
			if o.ID == *a.OfferID {
				return &o, it.ID, nil
			}
		}
	}
	return nil, "", nil
}

// StepName is a step of an effective rate's computation in the page's
// language: the catalogue's words (intent.step.<name>) where it has them.
func (v *view) StepName(name string) string {
	if i18n.Has("intent.step." + name) {
		return v.T("intent.step." + name)
	}
	return name
}

// StepFormula is how a step of an offer's effective rate is computed, in
// the page's language for the steps the catalogue knows
// (intent.formula.<name>), filled with the offer's figures; else the
// service's own words.
func (v *view) StepFormula(o lending.Offer, st lending.RateStep) string {
	sub := o.Subsidy
	if sub == nil {
		return st.Formula
	}
	values := map[string]string{}
	for _, x := range sub.Steps {
		values[x.Name] = x.Value
	}
	ratio := ""
	if sub.Ratio != nil {
		ratio = sub.Ratio.String()
	}
	rate := o.AnnualRate.String()
	switch {
	case st.Name == "cap":
		return v.T("intent.formula.cap", sub.PolicyVersion)
	case st.Name == "subsidised_rate":
		return v.T("intent.formula.subsidised_rate", rate, values["cap"])
	case st.Name == "rate_off":
		return v.T("intent.formula.rate_off", values["subsidised_rate"], ratio)
	case st.Name == "effective_annual_rate" && sub.Eligible:
		return v.T("intent.formula.effective_annual_rate", rate, values["rate_off"])
	case st.Name == "effective_annual_rate":
		return v.T("intent.formula.no_subsidy", rate)
	case st.Name == "not_eligible":
		return v.T("intent.not_eligible")
	}
	return st.Formula
}

// IntentStatusOf is an intent's status for a page ("" for none): a
// consent given with a financing need carries its need's.
func (v *view) IntentStatusOf(s *lending.IntentStatus) string {
	if s == nil {
		return ""
	}
	return string(*s)
}
