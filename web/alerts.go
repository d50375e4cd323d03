package web

import (
	"net/http"
	"slices"
	"strconv"

	"procfin/contracts"
	"procfin/lending"
	"procfin/platform/errs"
)

// The officers' alerts (lending.Service.Alerts): misdirected and unmatched
// payments, disbursements before confirmation, amendments awaiting review,
// overdue loans and dead deliveries, newest first, each in words with a
// link to what it concerns; and one contract's lock and payments, where
// the payments' alerts lead.

// alertLink is a link from an alert to what it concerns.
type alertLink struct {
	Key  string // message key of its words
	Href string
}

type alertRow struct {
	lending.Alert
	Links []alertLink
}

type alertsData struct {
	Rows       []alertRow
	Kind       string
	Kinds      []string
	Cursor     string // this page's, "" for the first
	NextCursor string
}

func (s *server) alertsPage(w http.ResponseWriter, r *http.Request, v *view) {
	q := r.URL.Query()
	d := alertsData{Kinds: lending.AlertKinds, Cursor: q.Get("cursor")}
	if k := q.Get("kind"); slices.Contains(lending.AlertKinds, k) {
		d.Kind = k
	}
	page, err := s.Lending.Alerts(r.Context(), d.Kind, d.Cursor, 50)
	if err != nil {
		s.fail(w, r, v, err)
		return
	}
	d.NextCursor = page.NextCursor
	for _, a := range page.Items {
		d.Rows = append(d.Rows, alertRow{Alert: a, Links: alertLinks(v, a)})
	}
	s.render(w, r, v, http.StatusOK, "alerts", "alerts.title", d)
}

// alertLinks are the pages an alert concerns that the user may open.
func alertLinks(v *view, a lending.Alert) []alertLink {
	var links []alertLink
	switch a.Kind {
	case lending.AlertAmendmentPending:
		links = append(links, alertLink{"alert.link.amendments", "/console/amendments"})
	case lending.AlertDeadDelivery:
		if v.Is("admin") {
			links = append(links, alertLink{"alert.link.deliveries", "/admin/deliveries?status=dead"})
		}
	}
	if a.ContractID != nil && a.Kind != lending.AlertAmendmentPending {
		links = append(links, alertLink{"alert.link.payments", "/console/contracts/" + *a.ContractID})
	}
	if a.ApplicationID != nil {
		links = append(links, alertLink{"alert.link.application", "/console/audit?type=application&id=" + *a.ApplicationID})
	}
	return links
}

// alertCountCap bounds the count the dashboard shows ("500+" above it).
const alertCountCap = 500

// openAlerts counts the open alerts, up to alertCountCap, in one read.
func (s *server) openAlerts(r *http.Request) (string, error) {
	page, err := s.Lending.Alerts(r.Context(), "", "", alertCountCap)
	if err != nil {
		return "", err
	}
	if page.NextCursor != "" {
		return strconv.Itoa(alertCountCap) + "+", nil
	}
	return strconv.Itoa(len(page.Items)), nil
}

type consoleContractData struct {
	Contract   contracts.Contract
	Receivable *lending.Receivable
	Payments   []lending.ContractPayment
}

// consoleContract shows a contract's receivable, lock and payments to the
// officers.
func (s *server) consoleContract(w http.ResponseWriter, r *http.Request, v *view) {
	ctx := r.Context()
	c, err := s.Contracts.Contract(ctx, contracts.All, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, v, err)
		return
	}
	d := consoleContractData{Contract: c}
	switch rec, err := s.Lending.Receivable(ctx, lending.Scope{}, c.ID); {
	case err == nil:
		d.Receivable = &rec
	case !errs.Is(err, errs.NotFound):
		s.fail(w, r, v, err)
		return
	}
	if d.Payments, err = s.Lending.ContractPayments(ctx, lending.Scope{}, c.ID, 0, 200); err != nil {
		s.fail(w, r, v, err)
		return
	}
	s.render(w, r, v, http.StatusOK, "console_contract", "ccontract.title", d)
}
