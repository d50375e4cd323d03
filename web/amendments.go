package web

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"procfin/contracts"
	"procfin/platform/errs"
)

// Contracts changed under a loan: the officers' list of contracts whose new
// version waits for review (contracts/amendments.go), each version with
// an adopt or keep form.

type amendmentRow struct {
	Contract  contracts.Contract
	Amendment contracts.Amendment
	Doc       contracts.ContractDoc // the version as the issuer sent it
}

type amendmentsData struct {
	Rows   []amendmentRow
	Error  string // why the last decision was refused
	Failed string // the row it was about: contract id/version
	Reason string
}

func (s *server) amendmentsPage(w http.ResponseWriter, r *http.Request, v *view) {
	s.renderAmendments(w, r, v, amendmentsData{}, http.StatusOK)
}

func (s *server) renderAmendments(w http.ResponseWriter, r *http.Request, v *view, d amendmentsData, status int) {
	list, err := s.Contracts.ContractsPendingReview(r.Context(), contracts.All, 0, 200)
	if err != nil {
		s.fail(w, r, v, err)
		return
	}
	for _, c := range list {
		for _, a := range c.PendingAmendments {
			row := amendmentRow{Contract: c, Amendment: a}
			_ = json.Unmarshal(a.Document, &row.Doc) // stored by procfin from a parsed document
			d.Rows = append(d.Rows, row)
		}
	}
	s.render(w, r, v, status, "amendments", "amend.title", d)
}

func (s *server) resolveAmendment(w http.ResponseWriter, r *http.Request, v *view) {
	id := r.PathValue("id")
	version, err := strconv.Atoi(r.PathValue("version"))
	if err != nil || version < 1 {
		s.errorPage(w, r, v, http.StatusNotFound, "err.not_found")
		return
	}
	res := contracts.Resolution{Decision: r.PostFormValue("decision"), Reason: r.PostFormValue("reason")}
	_, err = s.Contracts.ResolveAmendment(r.Context(), id, version, res, "user:"+v.User.ID)
	if err == nil {
		ok := "amendment_kept"
		if res.Decision == contracts.AmendmentAdopt {
			ok = "amendment_adopted"
		}
		http.Redirect(w, r, "/console/amendments?ok="+ok, http.StatusSeeOther)
		return
	}
	d := amendmentsData{Failed: id + "/" + strconv.Itoa(version), Reason: res.Reason, Error: v.T("amend.refused") + problemText(v, err)}
	switch errs.CodeOf(err) {
	case errs.Conflict:
	case errs.Invalid:
		var msgs []string
		m := fieldErrors(v, fieldsOf(err))
		for _, field := range []string{"decision", "reason"} {
			if msg, ok := m[field]; ok {
				msgs = append(msgs, v.T("amend.field_error", v.T("amend.field."+field), msg))
			}
		}
		d.Error = strings.Join(msgs, "; ")
	default:
		s.fail(w, r, v, err)
		return
	}
	s.renderAmendments(w, r, v, d, errs.StatusOf(err))
}
