package web

import (
	"encoding/json"
	"net/http"

	"procfin/contracts"
	"procfin/platform/errs"
)

// The administrators' page of purchasers.

// purchasersData is the administrators' page of purchasers.
type purchasersData struct {
	F          formData // the form
	Purchasers []contracts.Purchaser
}

func (s *server) purchasersPage(w http.ResponseWriter, r *http.Request, v *view) {
	d := newForm(r)
	s.renderPurchasers(w, r, v, d, http.StatusOK)
}

// renderPurchasers shows the purchasers, registered or known only from
// documents, above the form.
func (s *server) renderPurchasers(w http.ResponseWriter, r *http.Request, v *view, d formData, status int) {
	list, err := s.Contracts.Purchasers(r.Context(), "")
	if err != nil {
		s.fail(w, r, v, err)
		return
	}
	if d.Issuers, err = s.Contracts.Issuers(r.Context()); err != nil {
		s.fail(w, r, v, err)
		return
	}
	s.render(w, r, v, status, "admin_purchasers", "admin.purchasers", purchasersData{F: d, Purchasers: list})
}

func (s *server) registerPurchaser(w http.ResponseWriter, r *http.Request, v *view) {
	d := newForm(r, "id", "name", "issuer_id", "jwks", "jwks_url", "algorithms")
	reg := contracts.PurchaserRegistration{ID: d.Form["id"], Name: d.Form["name"], IssuerID: d.Form["issuer_id"],
		JWKSURL: d.Form["jwks_url"], Algorithms: algorithms(d.Form["algorithms"])}
	if d.Form["jwks"] != "" {
		if !json.Valid([]byte(d.Form["jwks"])) {
			d.Errors["jwks"] = v.T("fe.json")
			s.renderPurchasers(w, r, v, d, errs.Status(errs.Invalid))
			return
		}
		reg.JWKS = json.RawMessage(d.Form["jwks"])
	}
	p, _, err := s.Contracts.RegisterPurchaser(r.Context(), reg, "user:"+v.User.ID)
	if err != nil {
		if !refused(v, &d, err) {
			s.fail(w, r, v, err)
			return
		}
		s.renderPurchasers(w, r, v, d, errs.StatusOf(err))
		return
	}
	d = formData{Form: map[string]string{}, Done: p.IssuerID + " / " + p.ID + " — " + p.Name}
	s.renderPurchasers(w, r, v, d, http.StatusOK)
}
