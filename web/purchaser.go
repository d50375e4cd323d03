package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"procfin/contracts"
	"procfin/lending"
	"procfin/platform/errs"
	"procfin/platform/i18n"
	"procfin/platform/money"
)

// The purchaser's pages (采购人): the receivables of its contracts waiting
// for its confirmation (确权), each with what it is asked to confirm, the
// confirm and refuse forms, and the contract's payments with where each
// went. A purchaser user sees only its own purchaser's contracts (the
// services' scopes); another purchaser's contract is not found.

// purchaserScopes are the services' scopes of the purchaser the user acts
// for (a purchaser user always names one; the page's role check let only
// purchaser users in).
func purchaserScopes(v *view) (lending.Scope, contracts.Scope, error) {
	u := v.User
	if u.PurchaserID == "" || u.PurchaserIssuerID == "" {
		return lending.Scope{}, contracts.Scope{}, errs.E(errs.Forbidden, "the user acts for no purchaser")
	}
	return lending.Scope{PurchaserIssuerID: u.PurchaserIssuerID, PurchaserID: u.PurchaserID},
		contracts.Scope{PurchaserIssuerID: u.PurchaserIssuerID, PurchaserID: u.PurchaserID}, nil
}

// receivableGroup is one status's receivables on the purchaser's home page.
type receivableGroup struct {
	Status string
	Items  []lending.Receivable
}

type purchaserData struct {
	Groups []receivableGroup
}

// purchaserHome lists the purchaser's receivables: those waiting for its
// confirmation first, then the confirmed and the refused ones.
func (s *server) purchaserHome(w http.ResponseWriter, r *http.Request, v *view) {
	sc, _, err := purchaserScopes(v)
	if err != nil {
		s.fail(w, r, v, err)
		return
	}
	var d purchaserData
	for _, st := range []string{lending.ReceivablePending, lending.ReceivableConfirmed, lending.ReceivableRefused} {
		list, err := s.Lending.Receivables(r.Context(), sc, st, 0, 200)
		if err != nil {
			s.fail(w, r, v, err)
			return
		}
		d.Groups = append(d.Groups, receivableGroup{Status: st, Items: list})
	}
	s.render(w, r, v, http.StatusOK, "purchaser", "purchaser.title", d)
}

// confirmForm and refuseForm are the forms as typed.
type confirmForm struct {
	ConfirmedAmount, BankName, AccountNo, AccountName, PaymentTerms string
}

type receivableData struct {
	Receivable lending.Receivable
	Contract   *contracts.Contract
	// Terms are the payment terms to confirm, as the contract has them
	// (TermsRaw when they are not in the usual shape).
	Terms    []contracts.PaymentTerm
	TermsRaw string
	Payments []lending.ContractPayment
	// Account is the account the confirmation names: the new one the bank
	// consented to, else the one it approved.
	Account    lending.Account
	CanConfirm bool
	CanRefuse  bool
	Confirm    confirmForm
	Reason     string
	Errors     map[string]string // by field: confirmed_amount, repayment_account.*, payment_terms, reason
	Problem    string            // a refusal not tied to a field, in the service's words
	ProblemKey string            // the catalogue's words for its code
	Form       string            // the form the problem is about: confirm or refuse
	scope      lending.Scope     // the purchaser's, as the receivable was read
}

// receivableData reads what the purchaser is asked to confirm; it writes
// the error page and answers false when it cannot.
func (s *server) receivableData(w http.ResponseWriter, r *http.Request, v *view) (receivableData, bool) {
	ctx := r.Context()
	sc, csc, err := purchaserScopes(v)
	if err != nil {
		s.fail(w, r, v, err)
		return receivableData{}, false
	}
	rec, err := s.Lending.Receivable(ctx, sc, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, v, err)
		return receivableData{}, false
	}
	d := receivableData{Receivable: rec, Errors: map[string]string{}, Account: rec.RepaymentAccount, scope: sc}
	if c, err := s.Contracts.Contract(ctx, csc, rec.ContractID); err == nil {
		d.Contract = &c
	}
	d.Terms, d.TermsRaw = paymentTerms(rec.PaymentTerms)
	if d.Payments, err = s.Lending.ContractPayments(ctx, sc, rec.ContractID, 0, 200); err != nil {
		s.fail(w, r, v, err)
		return receivableData{}, false
	}
	if rec.NewAccount != nil {
		d.Account = *rec.NewAccount
	}
	d.CanConfirm = rec.Status == lending.ReceivablePending || rec.NewAccount != nil
	d.CanRefuse = rec.Status == lending.ReceivablePending
	d.Confirm = confirmForm{ConfirmedAmount: rec.ContractAmount.String(), BankName: d.Account.BankName,
		AccountNo: d.Account.AccountNo, AccountName: d.Account.AccountName, PaymentTerms: string(rec.PaymentTerms)}
	if rec.ConfirmedAmount != nil && rec.NewAccount != nil { // a new account confirmed under the amount confirmed before
		d.Confirm.ConfirmedAmount = rec.ConfirmedAmount.String()
	}
	return d, true
}

// paymentTerms reads the contract's payment terms for the table; terms
// in another shape are shown as they are.
func paymentTerms(raw json.RawMessage) ([]contracts.PaymentTerm, string) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, ""
	}
	var terms []contracts.PaymentTerm
	if err := json.Unmarshal(raw, &terms); err != nil {
		return nil, string(raw)
	}
	return terms, ""
}

func (s *server) receivablePage(w http.ResponseWriter, r *http.Request, v *view) {
	d, ok := s.receivableData(w, r, v)
	if !ok {
		return
	}
	s.render(w, r, v, http.StatusOK, "receivable", "rcv.title", d)
}

// confirmReceivable submits the confirm form through lending.Confirm.
func (s *server) confirmReceivable(w http.ResponseWriter, r *http.Request, v *view) {
	d, ok := s.receivableData(w, r, v)
	if !ok {
		return
	}
	d.Form = "confirm"
	d.Confirm = confirmForm{ConfirmedAmount: strings.TrimSpace(r.PostFormValue("confirmed_amount")),
		BankName: r.PostFormValue("repayment_account.bank_name"), AccountNo: r.PostFormValue("repayment_account.account_no"),
		AccountName: r.PostFormValue("repayment_account.account_name"), PaymentTerms: r.PostFormValue("payment_terms")}
	c := lending.Confirmation{RepaymentAccount: lending.Account{BankName: d.Confirm.BankName,
		AccountNo: d.Confirm.AccountNo, AccountName: d.Confirm.AccountName}}
	var fe []errs.FieldError
	if d.Confirm.ConfirmedAmount == "" {
		fe = append(fe, errs.Field("confirmed_amount", errs.FieldRequired))
	} else if a, err := money.ParseAmount(strings.ReplaceAll(d.Confirm.ConfirmedAmount, ",", "")); err != nil {
		fe = append(fe, amountProblem("confirmed_amount", err))
	} else {
		c.ConfirmedAmount = a
	}
	if terms := strings.TrimSpace(d.Confirm.PaymentTerms); terms == "" {
		fe = append(fe, errs.Field("payment_terms", errs.FieldRequired))
	} else if !json.Valid([]byte(terms)) {
		fe = append(fe, errs.FieldError{Field: "payment_terms", Code: "json", Message: "is not valid JSON"})
	} else {
		c.PaymentTerms = json.RawMessage(terms)
	}
	var err error
	if len(fe) > 0 { // every problem at once: the form's and the confirmation's checks of the rest
		err = errs.InvalidFields(errs.Merge(fe, c.Check())...)
	} else {
		_, _, err = s.Lending.Confirm(r.Context(), d.scope, d.Receivable.ContractID, c, "user:"+v.User.ID)
	}
	if err == nil {
		http.Redirect(w, r, "/purchaser/contracts/"+d.Receivable.ContractID+"?ok=receivable_confirmed", http.StatusSeeOther)
		return
	}
	s.receivableRefused(w, r, v, d, err)
}

// refuseReceivable submits the refuse form through lending.Refuse.
func (s *server) refuseReceivable(w http.ResponseWriter, r *http.Request, v *view) {
	d, ok := s.receivableData(w, r, v)
	if !ok {
		return
	}
	d.Form, d.Reason = "refuse", r.PostFormValue("reason")
	var err error
	if strings.TrimSpace(d.Reason) == "" {
		err = errs.InvalidFields(errs.Field("reason", errs.FieldRequired))
	} else {
		_, _, err = s.Lending.Refuse(r.Context(), d.scope, d.Receivable.ContractID, lending.Refusal{Reason: d.Reason}, "user:"+v.User.ID)
	}
	if err == nil {
		http.Redirect(w, r, "/purchaser/contracts/"+d.Receivable.ContractID+"?ok=receivable_refused", http.StatusSeeOther)
		return
	}
	s.receivableRefused(w, r, v, d, err)
}

// receivableRefused shows the page again with the form's problems: every
// bad field named next to it, a refusal in the catalogue's and the
// service's words.
func (s *server) receivableRefused(w http.ResponseWriter, r *http.Request, v *view, d receivableData, err error) {
	var e *errs.Error
	if !errors.As(err, &e) {
		s.fail(w, r, v, err)
		return
	}
	switch e.Code {
	case errs.Invalid, errs.ConfirmationMismatch, errs.Conflict, errs.InvalidTransition:
	default:
		s.fail(w, r, v, err)
		return
	}
	d.Errors = fieldErrors(v, e.Fields)
	if e.Code != errs.Invalid {
		d.ProblemKey = refusalKey(e.Code)
	}
	if len(d.Errors) == 0 {
		d.ProblemKey, d.Problem = refusalKey(e.Code), englishDetail(v, e)
	}
	s.render(w, r, v, errs.StatusOf(err), "receivable", "rcv.title", d)
}

// paymentList is what the shared table of a contract's payments shows.
type paymentList struct {
	V        *view
	Payments []lending.ContractPayment
}

// receivableFacts is what the shared facts of a receivable and its lock show.
type receivableFacts struct {
	V *view
	R lending.Receivable
}

// Field is a form field's name in words: the catalogue's label
// (field.<name>), else the name as the service gave it.
func (v *view) Field(name string) string {
	if i18n.Has("field." + name) {
		return v.T("field." + name)
	}
	return name
}
