package web

import (
	"encoding/json"
	"errors"
	"fmt"
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
	"procfin/subsidies"
)

// The supplier portal: a supplier user sees only its own supplier's
// documents, lines, applications and claims (the services' scopes).

func contractScope(v *view) contracts.Scope {
	return contracts.Scope{SupplierUSCC: v.User.SupplierUSCC}
}
func lendingScope(v *view) lending.Scope { return lending.Scope{SupplierUSCC: v.User.SupplierUSCC} }

type portalData struct {
	Supplier     contracts.Supplier
	Lines        []lending.CreditLine
	Notices      []contracts.AwardNotice
	Contracts    []contracts.Contract
	Applications []lending.Application
	BankNames    map[string]string
}

func (s *server) bankNames(r *http.Request) map[string]string {
	names := map[string]string{}
	banks, err := s.Banks.List(r.Context())
	if err != nil {
		s.Logger.Warn("web: list banks", "error", err)
	}
	for _, b := range banks {
		names[b.ID] = b.Name
	}
	return names
}

func (s *server) portal(w http.ResponseWriter, r *http.Request, v *view) {
	ctx := r.Context()
	var d portalData
	var err error
	if d.Supplier, err = s.Contracts.GetSupplier(ctx, contractScope(v), v.User.SupplierUSCC); err != nil && !errs.Is(err, errs.NotFound) {
		s.fail(w, r, v, err)
		return
	}
	if d.Lines, err = s.Lending.Lines(ctx, lendingScope(v), 0, 50); err != nil {
		s.fail(w, r, v, err)
		return
	}
	if d.Notices, err = s.Contracts.AwardNotices(ctx, contractScope(v), 0, 50); err != nil {
		s.fail(w, r, v, err)
		return
	}
	if d.Contracts, err = s.Contracts.Contracts(ctx, contractScope(v), 0, 50); err != nil {
		s.fail(w, r, v, err)
		return
	}
	if d.Applications, err = s.Lending.Applications(ctx, lendingScope(v), lending.Filter{}, 0, 5); err != nil {
		s.fail(w, r, v, err)
		return
	}
	d.BankNames = s.bankNames(r)
	s.render(w, r, v, http.StatusOK, "portal", "portal.title", d)
}

// checkView is one verification check in plain words.
type checkView struct {
	Name   string
	Passed bool
	Reason string // the API's English words
	Code   string // the reason's code (verify.<code>), "" in reports from before codes
	Args   []any  // its arguments
}

func checksOf(list []contracts.Check) []checkView {
	out := make([]checkView, 0, len(list))
	for _, c := range list {
		out = append(out, checkView{Name: c.Name, Passed: c.Result == "pass", Reason: c.Reason, Code: c.Code, Args: c.Args})
	}
	return out
}

type contractData struct {
	Contract     contracts.Contract
	Notice       *contracts.AwardNotice
	Report       contracts.Report
	Checks       []checkView
	Applications []lending.Application
	BankNames    map[string]string
	// Receivable is the purchaser's confirmation and the lock, once a bank
	// approved; Payments the treasury's payments of the contract.
	Receivable *lending.Receivable
	Payments   []lending.ContractPayment
}

func (s *server) contractPage(w http.ResponseWriter, r *http.Request, v *view) {
	ctx := r.Context()
	c, err := s.Contracts.Contract(ctx, contractScope(v), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, v, err)
		return
	}
	d := contractData{Contract: c, BankNames: s.bankNames(r)}
	if n, err := s.Contracts.AwardNotice(ctx, contractScope(v), c.NoticeID); err == nil {
		d.Notice = &n
	}
	if d.Report, err = s.Contracts.Verify(ctx, contractScope(v), c.ID, contracts.VerifyRequest{ApplicantUSCC: v.User.SupplierUSCC}); err != nil {
		s.fail(w, r, v, err)
		return
	}
	d.Checks = checksOf(d.Report.Checks)
	apps, err := s.Lending.Applications(ctx, lendingScope(v), lending.Filter{}, 0, 200)
	if err != nil {
		s.fail(w, r, v, err)
		return
	}
	for _, a := range apps {
		if a.ContractID == c.ID {
			d.Applications = append(d.Applications, a)
		}
	}
	switch rec, err := s.Lending.Receivable(ctx, lendingScope(v), c.ID); {
	case err == nil:
		d.Receivable = &rec
	case !errs.Is(err, errs.NotFound):
		s.fail(w, r, v, err)
		return
	}
	if d.Payments, err = s.Lending.ContractPayments(ctx, lendingScope(v), c.ID, 0, 200); err != nil {
		s.fail(w, r, v, err)
		return
	}
	s.render(w, r, v, http.StatusOK, "contract", "contract.title", d)
}

// applyForm is the application form as typed.
type applyForm struct {
	BankID, Amount, TermDays, Purpose, CreditLineID string
}

type applyData struct {
	Contract contracts.Contract
	Banks    []banking.Bank
	Lines    []lending.CreditLine
	Form     applyForm
	Errors   map[string]string
	Failed   []checkView // verification checks that failed
	Problem  string      // a refusal not tied to a field, in the service's words
}

func (s *server) applyData(w http.ResponseWriter, r *http.Request, v *view) (applyData, bool) {
	ctx := r.Context()
	c, err := s.Contracts.Contract(ctx, contractScope(v), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, v, err)
		return applyData{}, false
	}
	d := applyData{Contract: c, Errors: map[string]string{}, Form: applyForm{TermDays: "180"}}
	if d.Banks, err = s.Banks.List(ctx); err != nil {
		s.fail(w, r, v, err)
		return d, false
	}
	lines, err := s.Lending.Lines(ctx, lendingScope(v), 0, 100)
	if err != nil {
		s.fail(w, r, v, err)
		return d, false
	}
	today := money.DateOf(time.Now().In(shanghai))
	for _, l := range lines {
		if l.Status == "active" && !today.Before(l.ValidFrom) && !today.After(l.ValidUntil) {
			d.Lines = append(d.Lines, l)
		}
	}
	return d, true
}

func (s *server) applyPage(w http.ResponseWriter, r *http.Request, v *view) {
	d, ok := s.applyData(w, r, v)
	if !ok {
		return
	}
	if len(d.Banks) > 0 {
		d.Form.BankID = d.Banks[0].ID
	}
	s.render(w, r, v, http.StatusOK, "apply", "apply.title", d)
}

// apply submits the form through lending.Apply; its field errors are
// shown next to the fields, a failed verification as the failed checks.
func (s *server) apply(w http.ResponseWriter, r *http.Request, v *view) {
	d, ok := s.applyData(w, r, v)
	if !ok {
		return
	}
	d.Form = applyForm{BankID: r.PostFormValue("bank_id"), Amount: strings.TrimSpace(r.PostFormValue("amount")),
		TermDays: strings.TrimSpace(r.PostFormValue("term_days")), Purpose: r.PostFormValue("purpose"),
		CreditLineID: r.PostFormValue("credit_line_id")}
	in := lending.ApplyInput{ContractID: d.Contract.ID, BankID: d.Form.BankID, Purpose: d.Form.Purpose}
	var fe []errs.FieldError
	if d.Form.Amount != "" {
		a, err := money.ParseAmount(strings.ReplaceAll(d.Form.Amount, ",", ""))
		if err != nil {
			fe = append(fe, amountProblem("amount", err))
		} else {
			in.Amount = &a
		}
	}
	if d.Form.TermDays != "" {
		n, err := strconv.Atoi(d.Form.TermDays)
		if err != nil {
			fe = append(fe, errs.Field("term_days", errs.FieldWholeNumber))
		} else {
			in.TermDays = &n
		}
	}
	if d.Form.CreditLineID != "" {
		in.CreditLineID = &d.Form.CreditLineID
	}
	var app lending.Application
	var err error
	if len(fe) > 0 { // every problem at once: the form's and the service's checks of the rest
		err = errs.InvalidFields(errs.Merge(fe, s.Lending.CheckApply(in))...)
	} else {
		app, err = s.Lending.Apply(r.Context(), applicant(r, v), in)
	}
	if err == nil {
		http.Redirect(w, r, "/portal/applications/"+app.ID+"?ok=applied", http.StatusSeeOther)
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
	s.render(w, r, v, errs.StatusOf(err), "apply", "apply.title", d)
}

type applicationsData struct {
	Applications []lending.Application
	BankNames    map[string]string
	// SupplierNames are the listed applications' suppliers' names by
	// USCC (the officers' list only).
	SupplierNames map[string]string
	Status        string
	Statuses      []lending.Status
}

var allStatuses = []lending.Status{lending.Submitted, lending.Delivered, lending.Received, lending.Approved,
	lending.Rejected, lending.Disbursed, lending.Repaid, lending.Closed, lending.Cancelled, lending.DeliveryFailed}

func (s *server) listApplications(w http.ResponseWriter, r *http.Request, v *view, sc lending.Scope, page string) {
	d := applicationsData{BankNames: s.bankNames(r), Statuses: allStatuses, Status: r.URL.Query().Get("status")}
	f := lending.Filter{}
	if lending.KnownStatus(lending.Status(d.Status)) {
		f.Status = lending.Status(d.Status)
	}
	var err error
	if d.Applications, err = s.Lending.Applications(r.Context(), sc, f, 0, 200); err != nil {
		s.fail(w, r, v, err)
		return
	}
	if page == "applications_all" {
		if d.SupplierNames, err = s.supplierNames(r.Context(), d.Applications); err != nil {
			s.fail(w, r, v, err)
			return
		}
	}
	s.render(w, r, v, http.StatusOK, page, "applications.title", d)
}

func (s *server) applicationsPage(w http.ResponseWriter, r *http.Request, v *view) {
	s.listApplications(w, r, v, lendingScope(v), "applications")
}

// step is one milestone of the progress bar above the timeline.
type step struct {
	Status  lending.Status
	Reached bool
}

type applicationData struct {
	App       lending.Application
	BankName  string
	Contract  *contracts.Contract
	Steps     []step
	Loans     []lending.Loan
	Checks    []checkView
	Final     bool // no more changes are expected soon: the page stops refreshing
	CanCancel bool
	// Receivable is the purchaser's answer on the contract, once a bank
	// approved.
	Receivable *lending.Receivable
	// Offer is the offer the application accepted, of the financing need
	// IntentID (web/intents.go), if it came from one.
	Offer    *lending.Offer
	IntentID string
}

var milestones = []lending.Status{lending.Submitted, lending.Delivered, lending.Approved, lending.Disbursed, lending.Repaid, lending.Closed}

func (s *server) applicationPage(w http.ResponseWriter, r *http.Request, v *view) {
	ctx := r.Context()
	a, err := s.Lending.Application(ctx, lendingScope(v), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, v, err)
		return
	}
	d := applicationData{App: a, BankName: s.bankNames(r)[a.BankID]}
	if c, err := s.Contracts.Contract(ctx, contractScope(v), a.ContractID); err == nil {
		d.Contract = &c
	}
	reached := map[lending.Status]bool{lending.Submitted: true}
	for _, t := range a.History {
		reached[t.To] = true
		if t.To == lending.Received || t.To == lending.Approved {
			reached[lending.Delivered] = true
		}
	}
	for _, m := range milestones {
		d.Steps = append(d.Steps, step{Status: m, Reached: reached[m]})
	}
	if len(a.Verification) > 0 {
		var rep contracts.Report
		if err := json.Unmarshal(a.Verification, &rep); err == nil {
			d.Checks = checksOf(rep.Checks)
		}
	}
	if d.Loans, err = s.Lending.LoansOf(ctx, lendingScope(v), a.ID); err != nil {
		s.fail(w, r, v, err)
		return
	}
	if a.RepaymentAccount != nil {
		switch rec, err := s.Lending.Receivable(ctx, lendingScope(v), a.ContractID); {
		case err == nil:
			d.Receivable = &rec
		case !errs.Is(err, errs.NotFound):
			s.fail(w, r, v, err)
			return
		}
	}
	if d.Offer, d.IntentID, err = s.acceptedOffer(r, v, a); err != nil {
		s.fail(w, r, v, err)
		return
	}
	d.Final = slices.Contains([]lending.Status{lending.Rejected, lending.Closed, lending.Cancelled, lending.DeliveryFailed}, a.Status)
	d.CanCancel = lending.CanBecome(a.Status, lending.Cancelled)
	s.render(w, r, v, http.StatusOK, "application", "application.title", d)
}

func (s *server) cancelApplication(w http.ResponseWriter, r *http.Request, v *view) {
	a, err := s.Lending.Cancel(r.Context(), lendingScope(v), r.PathValue("id"), "user:"+v.User.ID)
	if err != nil {
		s.fail(w, r, v, err)
		return
	}
	http.Redirect(w, r, "/portal/applications/"+a.ID+"?ok=cancelled", http.StatusSeeOther)
}

type claimsData struct {
	Enabled bool
	Claims  []subsidies.Claim
	Status  string
}

func (s *server) supplierClaims(w http.ResponseWriter, r *http.Request, v *view) {
	d := claimsData{Enabled: s.Subsidies != nil}
	if d.Enabled {
		var err error
		if d.Claims, err = s.Subsidies.Claims(r.Context(), subsidies.Scope{SupplierUSCC: v.User.SupplierUSCC}, "", 0, 200); err != nil {
			s.fail(w, r, v, err)
			return
		}
	}
	s.render(w, r, v, http.StatusOK, "claims_supplier", "claims.mine", d)
}

// applicant is the signed-in supplier applying or publishing, in the
// page's language, its request keyed by the form's once key (checked by
// s.once): what a submission writes is unique by it too, so a submission
// whose answer was lost finds what it made.
func applicant(r *http.Request, v *view) lending.Applicant {
	who := lending.Applicant{UserID: v.User.ID, SupplierUSCC: v.User.SupplierUSCC, Lang: v.Lang}
	if key := r.PostFormValue(formKeyField); key != "" {
		who.RequestKey = "web:" + key
	}
	return who
}

// Why is a check's reason in the page's language: the catalogue's words
// for its code, a size class or document status among its arguments
// worded too; the API's English words only on an English page for a
// report without codes.
func (v *view) Why(c checkView) string {
	if c.Code == "" || !i18n.Has("verify."+c.Code) {
		if v.Lang == i18n.EN {
			return c.Reason
		}
		return ""
	}
	return v.reason(c.Code, c.Args...)
}

// Because is a reason (why a contract cannot be financed) in the page's
// language.
func (v *view) Because(r contracts.Reason) string { return v.reason(r.Code, r.Args...) }

// reason is the catalogue's verify.<code> with list, each argument as
// text (a report read back from the database holds strings and numbers),
// a size class or document status in the page's words.
func (v *view) reason(code string, list ...any) string {
	args := make([]any, len(list))
	for i, a := range list {
		s := fmt.Sprint(a)
		args[i] = s
		for _, prefix := range []string{"size.", "doc."} {
			if i18n.Has(prefix + s) {
				args[i] = v.T(prefix + s)
			}
		}
	}
	return v.T("verify."+code, args...)
}
