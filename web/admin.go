package web

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"procfin/banking"
	"procfin/contracts"
	"procfin/platform/auth"
	"procfin/platform/errs"
	"procfin/platform/money"
)

// The administrators' pages: the registries (issuers, banks, suppliers,
// users) and the delivery queue, enough to run the demo without curl.

// formData is an administrator's form as typed, with its problems.
type formData struct {
	Form    map[string]string
	Errors  map[string]string
	Problem string
	Done    string // what was registered, when it was
	Banks   []banking.Bank
	Issuers []contracts.Issuer
	Users   []auth.User
	Options []string
	// Supplier is the supplier shown on the suppliers' page (looked up by
	// ?uscc=, or just registered), with its settlement account.
	Supplier *contracts.Supplier
	// Suppliers is the page of the supplier list shown, Next the cursor of
	// the next page ("" on the last), NotFirst whether it is not the first.
	Suppliers []contracts.Supplier
	Next      string
	NotFirst  bool
}

func newForm(r *http.Request, fields ...string) formData {
	d := formData{Form: map[string]string{}, Errors: map[string]string{}}
	for _, f := range fields {
		d.Form[f] = strings.TrimSpace(r.PostFormValue(f))
	}
	return d
}

// refused fills the form's problems from a business error; false when the
// error is not the user's to fix. The form is shown again at the error's
// status (errs.StatusOf), as the API answers it.
func refused(v *view, d *formData, err error) bool {
	switch errs.CodeOf(err) {
	case errs.Invalid:
		d.Errors = fieldErrors(v, fieldsOf(err))
		if len(d.Errors) == 0 {
			d.Problem = problemText(v, err)
		}
		return true
	case errs.Conflict:
		d.Problem = problemText(v, err)
		return true
	}
	return false
}

func (s *server) adminHome(w http.ResponseWriter, r *http.Request, v *view) {
	s.render(w, r, v, http.StatusOK, "admin", "admin.title", nil)
}

func algorithms(s string) []string {
	if out := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }); len(out) > 0 {
		return out
	}
	return nil
}

func (s *server) issuersPage(w http.ResponseWriter, r *http.Request, v *view) {
	d := newForm(r)
	d.Form["algorithms"] = "EdDSA"
	s.renderIssuers(w, r, v, d, http.StatusOK)
}

// renderIssuers shows the registered issuers above the form.
func (s *server) renderIssuers(w http.ResponseWriter, r *http.Request, v *view, d formData, status int) {
	var err error
	if d.Issuers, err = s.Contracts.Issuers(r.Context()); err != nil {
		s.fail(w, r, v, err)
		return
	}
	s.render(w, r, v, status, "admin_issuers", "admin.issuers", d)
}

func (s *server) registerIssuer(w http.ResponseWriter, r *http.Request, v *view) {
	d := newForm(r, "id", "name", "jwks", "jwks_url", "algorithms")
	reg := contracts.IssuerRegistration{ID: d.Form["id"], Name: d.Form["name"], JWKSURL: d.Form["jwks_url"], Algorithms: algorithms(d.Form["algorithms"])}
	if d.Form["jwks"] != "" {
		if !json.Valid([]byte(d.Form["jwks"])) {
			d.Errors["jwks"] = v.T("fe.json")
			s.renderIssuers(w, r, v, d, errs.Status(errs.Invalid))
			return
		}
		reg.JWKS = json.RawMessage(d.Form["jwks"])
	}
	is, _, err := s.Contracts.RegisterIssuer(r.Context(), reg, "user:"+v.User.ID)
	if err != nil {
		if !refused(v, &d, err) {
			s.fail(w, r, v, err)
			return
		}
		s.renderIssuers(w, r, v, d, errs.StatusOf(err))
		return
	}
	d = formData{Form: map[string]string{"algorithms": "EdDSA"}, Done: is.ID + " — " + is.Name}
	s.renderIssuers(w, r, v, d, http.StatusOK)
}

func (s *server) banksPage(w http.ResponseWriter, r *http.Request, v *view) {
	d := newForm(r)
	d.Form["algorithms"] = "EdDSA"
	s.renderBanks(w, r, v, d, http.StatusOK)
}

func (s *server) renderBanks(w http.ResponseWriter, r *http.Request, v *view, d formData, status int) {
	var err error
	if d.Banks, err = s.Banks.List(r.Context()); err != nil {
		s.fail(w, r, v, err)
		return
	}
	s.render(w, r, v, status, "admin_banks", "admin.banks", d)
}

func (s *server) registerBank(w http.ResponseWriter, r *http.Request, v *view) {
	d := newForm(r, "id", "name", "base_url", "jwks", "jwks_url", "algorithms")
	reg := banking.BankRegistration{ID: d.Form["id"], Name: d.Form["name"], BaseURL: d.Form["base_url"],
		JWKSURL: d.Form["jwks_url"], Algorithms: algorithms(d.Form["algorithms"])}
	if d.Form["jwks"] != "" {
		if !json.Valid([]byte(d.Form["jwks"])) {
			d.Errors["jwks"] = v.T("fe.json")
			s.renderBanks(w, r, v, d, errs.Status(errs.Invalid))
			return
		}
		reg.JWKS = json.RawMessage(d.Form["jwks"])
	}
	b, _, err := s.Banks.Register(r.Context(), reg, "user:"+v.User.ID)
	if err != nil {
		if !refused(v, &d, err) {
			s.fail(w, r, v, err)
			return
		}
		s.renderBanks(w, r, v, d, errs.StatusOf(err))
		return
	}
	d = formData{Form: map[string]string{"algorithms": "EdDSA"}, Done: b.ID + " — " + b.Name}
	s.renderBanks(w, r, v, d, http.StatusOK)
}

var industries = []string{"agriculture", "industry", "construction", "wholesale", "retail", "transport", "warehousing", "postal",
	"accommodation", "catering", "information_transmission", "software_it", "real_estate", "property_management", "leasing_business", "other"}

// The settlement account's form fields, named as the API names its
// fields, so that its problems land on them.
const (
	formSettlementBank = "settlement_account.bank_name"
	formSettlementNo   = "settlement_account.account_no"
	formSettlementName = "settlement_account.account_name"
)

// suppliersPage shows the registration form; with ?uscc= it shows that
// supplier, its settlement account among its facts, and fills the form
// with what is registered, to be changed.
func (s *server) suppliersPage(w http.ResponseWriter, r *http.Request, v *view) {
	d := newForm(r)
	d.Options = industries
	if uscc := strings.ToUpper(strings.TrimSpace(r.URL.Query().Get("uscc"))); uscc != "" {
		sp, err := s.Contracts.GetSupplier(r.Context(), contracts.Scope{}, uscc)
		if err != nil {
			s.fail(w, r, v, err)
			return
		}
		d.Supplier = &sp
		d.Form = supplierForm(sp)
	}
	if err := s.supplierList(r, &d); err != nil {
		s.fail(w, r, v, err)
		return
	}
	s.render(w, r, v, http.StatusOK, "admin_suppliers", "admin.suppliers", d)
}

// supplierForm is the registration form filled with what is registered.
func supplierForm(sp contracts.Supplier) map[string]string {
	f := map[string]string{"uscc": sp.USCC, "name": sp.Name}
	if sp.Industry != nil {
		f["industry"] = *sp.Industry
	}
	if sp.Employees != nil {
		f["employees"] = strconv.Itoa(*sp.Employees)
	}
	if sp.AnnualRevenue != nil {
		f["annual_revenue"] = sp.AnnualRevenue.String()
	}
	if sp.TotalAssets != nil {
		f["total_assets"] = sp.TotalAssets.String()
	}
	if a := sp.SettlementAccount; a != nil {
		f[formSettlementBank], f[formSettlementNo], f[formSettlementName] = a.BankName, a.AccountNo, a.AccountName
	}
	return f
}

func (s *server) registerSupplier(w http.ResponseWriter, r *http.Request, v *view) {
	d := newForm(r, "uscc", "name", "industry", "employees", "annual_revenue", "total_assets", "uscc_override_reason",
		formSettlementBank, formSettlementNo, formSettlementName)
	d.Options = industries
	reg := contracts.SupplierRegistration{USCC: strings.ToUpper(d.Form["uscc"]), Name: d.Form["name"], Industry: d.Form["industry"],
		USCCOverrideReason: d.Form["uscc_override_reason"]}
	// All three empty: the registered account stays; any one given: all
	// three are required.
	if d.Form[formSettlementBank] != "" || d.Form[formSettlementNo] != "" || d.Form[formSettlementName] != "" {
		reg.SettlementAccount = &contracts.SettlementAccount{BankName: d.Form[formSettlementBank],
			AccountNo: d.Form[formSettlementNo], AccountName: d.Form[formSettlementName]}
	}
	if f := d.Form["employees"]; f != "" {
		if n, err := strconv.Atoi(f); err != nil {
			d.Errors["employees"] = v.T("fe.whole_number")
		} else {
			reg.Employees = &n
		}
	}
	for _, f := range []struct {
		name string
		dst  **money.Amount
	}{{"annual_revenue", &reg.AnnualRevenue}, {"total_assets", &reg.TotalAssets}} {
		if d.Form[f.name] == "" {
			continue
		}
		a, err := money.ParseAmount(strings.ReplaceAll(d.Form[f.name], ",", ""))
		if err != nil {
			d.Errors[f.name] = fieldMessage(v, amountProblem(f.name, err))
			continue
		}
		*f.dst = &a
	}
	if len(d.Errors) > 0 { // every problem at once: the form's and the registration's checks of the rest
		for field, msg := range fieldErrors(v, reg.Check()) {
			if _, named := d.Errors[field]; !named {
				d.Errors[field] = msg
			}
		}
		s.render(w, r, v, errs.Status(errs.Invalid), "admin_suppliers", "admin.suppliers", d)
		return
	}
	sp, _, err := s.Contracts.RegisterSupplier(r.Context(), reg, "user:"+v.User.ID)
	if err != nil {
		if !refused(v, &d, err) {
			s.fail(w, r, v, err)
			return
		}
		s.render(w, r, v, errs.StatusOf(err), "admin_suppliers", "admin.suppliers", d)
		return
	}
	d = formData{Form: map[string]string{}, Options: industries, Done: sp.USCC + " — " + sp.Name + " (" + v.T("size."+string(sp.SizeClass)) + ")",
		Supplier: &sp}
	s.render(w, r, v, http.StatusOK, "admin_suppliers", "admin.suppliers", d)
}

func (s *server) usersPage(w http.ResponseWriter, r *http.Request, v *view) {
	d := newForm(r)
	d.Form["role"] = string(auth.RoleSupplier)
	s.renderUsers(w, r, v, d, http.StatusOK)
}

// maxListedUsers bounds the administrators' list of users.
const maxListedUsers = 500

// renderUsers shows the users above the form.
func (s *server) renderUsers(w http.ResponseWriter, r *http.Request, v *view, d formData, status int) {
	var err error
	if d.Users, err = s.Auth.Users(r.Context(), maxListedUsers); err != nil {
		s.fail(w, r, v, err)
		return
	}
	s.render(w, r, v, status, "admin_users", "admin.users", d)
}

func (s *server) createUser(w http.ResponseWriter, r *http.Request, v *view) {
	d := newForm(r, "username", "role", "supplier_uscc", "purchaser_id", "purchaser_issuer_id")
	u, err := s.Auth.CreateUser(r.Context(), auth.NewUser{Username: d.Form["username"], Password: r.PostFormValue("password"),
		Role: d.Form["role"], SupplierUSCC: strings.ToUpper(d.Form["supplier_uscc"]),
		PurchaserID: d.Form["purchaser_id"], PurchaserIssuerID: d.Form["purchaser_issuer_id"]}, "user:"+v.User.ID)
	if err != nil {
		if !refused(v, &d, err) {
			s.fail(w, r, v, err)
			return
		}
		s.renderUsers(w, r, v, d, errs.StatusOf(err))
		return
	}
	d = formData{Form: map[string]string{"role": string(auth.RoleSupplier)}, Done: u.Username + " (" + v.T("role."+string(u.Role)) + ")"}
	s.renderUsers(w, r, v, d, http.StatusOK)
}

// disableUser disables a user for good: their sessions and tokens end at
// once (auth.DisableUser). An administrator cannot disable themselves.
func (s *server) disableUser(w http.ResponseWriter, r *http.Request, v *view) {
	if _, err := s.Auth.DisableUser(r.Context(), r.PathValue("id"), v.User.ID); err != nil {
		s.fail(w, r, v, err)
		return
	}
	http.Redirect(w, r, "/admin/users?ok=user_disabled", http.StatusSeeOther)
}

type deliveriesData struct {
	Status     string
	Statuses   []string
	Deliveries []banking.Delivery
}

func (s *server) deliveriesPage(w http.ResponseWriter, r *http.Request, v *view) {
	d := deliveriesData{Status: r.URL.Query().Get("status"), Statuses: []string{"pending", "delivered", "failed", "dead"}}
	var err error
	if d.Deliveries, err = s.Deliveries.List(r.Context(), d.Status, 0, 200); err != nil {
		s.fail(w, r, v, err)
		return
	}
	s.render(w, r, v, http.StatusOK, "admin_deliveries", "admin.deliveries", d)
}

func (s *server) requeueDelivery(w http.ResponseWriter, r *http.Request, v *view) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		s.errorPage(w, r, v, http.StatusNotFound, "err.not_found")
		return
	}
	if _, err := s.Deliveries.Requeue(r.Context(), id, "user:"+v.User.ID); err != nil {
		s.fail(w, r, v, err)
		return
	}
	http.Redirect(w, r, "/admin/deliveries?ok=requeued", http.StatusSeeOther)
}
