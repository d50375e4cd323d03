package web

import (
	"errors"
	"net/http"

	"procfin/lending"
	"procfin/platform/errs"
	"procfin/platform/i18n"
)

// consentsData is the supplier's consents page: each consent to send its
// data to a bank, with a revoke form for those in force.
type consentsData struct {
	Consents []lending.SupplierConsent
	// Refused is the message key of a refused revocation (err.<code>) and
	// Detail procfin's own words; RefusedID names the consent.
	Refused, Detail, RefusedID string
}

func (s *server) consentsPage(w http.ResponseWriter, r *http.Request, v *view) {
	s.renderConsents(w, r, v, http.StatusOK, consentsData{})
}

func (s *server) renderConsents(w http.ResponseWriter, r *http.Request, v *view, status int, d consentsData) {
	var err error
	if d.Consents, err = s.Lending.Consents(r.Context(), lendingScope(v), 0, 200); err != nil {
		s.fail(w, r, v, err)
		return
	}
	s.render(w, r, v, status, "consents", "consents.title", d)
}

// revokeConsent revokes one of the supplier's consents. A refusal
// (consent_in_use after approval) shows the page again with why, at its
// status.
func (s *server) revokeConsent(w http.ResponseWriter, r *http.Request, v *view) {
	_, err := s.Lending.RevokeConsent(r.Context(), lendingScope(v), r.PathValue("id"), "user:"+v.User.ID)
	if err == nil {
		http.Redirect(w, r, "/portal/consents?ok=consent_revoked", http.StatusSeeOther)
		return
	}
	var e *errs.Error
	if !errors.As(err, &e) || (e.Code != errs.ConsentInUse && e.Code != errs.InvalidTransition) {
		s.fail(w, r, v, err)
		return
	}
	s.renderConsents(w, r, v, errs.Status(e.Code), consentsData{Refused: refusalKey(e.Code), Detail: englishDetail(v, e), RefusedID: r.PathValue("id")})
}

// refusalKey is the catalogue's message for a refusal: err.<code> where
// the catalogue has one, else the general err.refused.
func refusalKey(code errs.Code) string {
	if i18n.Has("err." + string(code)) {
		return "err." + string(code)
	}
	return "err.refused"
}
