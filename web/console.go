package web

import (
	"encoding/json"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"time"

	"procfin/lending"
	"procfin/platform/audit"
	"procfin/platform/errs"
	"procfin/platform/ids"
	"procfin/platform/money"
	"procfin/subsidies"
)

// The officers' console: the dashboard, the subsidy review queue, payment
// batches, every application, and the audit trail of any entity.

type dashboardData struct {
	Enabled        bool
	Stats          subsidies.Stats
	Pending        int
	FinancingChart template.HTML
	ApprovalChart  template.HTML
	BudgetCharts   []template.HTML
	P50, P90       string
	Alerts         string // how many alerts are open
	ReportMonth    string // the bank report's month offered: last month, in Asia/Shanghai
}

func (s *server) dashboard(w http.ResponseWriter, r *http.Request, v *view) {
	ctx := r.Context()
	d := dashboardData{Enabled: s.Subsidies != nil, ReportMonth: lastMonth(time.Now())}
	if d.Enabled {
		var err error
		if d.Stats, err = s.Subsidies.Stats(ctx); err != nil {
			s.fail(w, r, v, err)
			return
		}
		pending, err := s.Subsidies.Claims(ctx, subsidies.Scope{}, subsidies.Pending, 0, 500)
		if err != nil {
			s.fail(w, r, v, err)
			return
		}
		d.Pending = len(pending)
		d.FinancingChart = financingChart(v, d.Stats.Banks, s.bankNames(r))
		for _, b := range d.Stats.Subsidy.Budgets {
			d.BudgetCharts = append(d.BudgetCharts, budgetBar(v.T("dash.budget_year", b.Year),
				v.T("dash.used_of", b.Year, formatMoney(b.Used), formatMoney(b.Budget)), v.T("dash.left", formatMoney(b.Left)), b.Used, b.Budget))
		}
		at := d.Stats.ApprovalTimes
		if at.P50Seconds != nil {
			d.P50 = duration(v, int64(*at.P50Seconds))
		}
		if at.P90Seconds != nil {
			d.P90 = duration(v, int64(*at.P90Seconds))
		}
	}
	chart, err := s.approvalChart(r, v)
	if err != nil {
		s.fail(w, r, v, err)
		return
	}
	d.ApprovalChart = chart
	if d.Alerts, err = s.openAlerts(r); err != nil {
		s.fail(w, r, v, err)
		return
	}
	s.render(w, r, v, http.StatusOK, "dashboard", "dash.title", d)
}

// financingChart: money disbursed per month, one bar per bank, over the
// months from the first to the last with money disbursed (at most the
// last 12): a month with nothing disbursed between them shows 0, and none
// without any is drawn at either end.
func financingChart(v *view, months []subsidies.BankMonth, names map[string]string) template.HTML {
	var banks []string
	first, last := "", ""
	for _, m := range months {
		if !m.Financed.IsPositive() {
			continue
		}
		if !slices.Contains(banks, m.BankID) {
			banks = append(banks, m.BankID)
		}
		if first == "" || m.Month < first {
			first = m.Month
		}
		if m.Month > last {
			last = m.Month
		}
	}
	groups := monthsBetween(first, last)
	if len(groups) > 12 {
		groups = groups[len(groups)-12:]
	}
	slices.Sort(banks)
	var ss []series
	for _, b := range banks {
		name := names[b]
		if name == "" {
			name = b
		}
		sr := series{Name: name, Values: make([]money.Amount, len(groups))}
		for _, m := range months {
			if i := slices.Index(groups, m.Month); i >= 0 && m.BankID == b {
				sr.Values[i] = sr.Values[i].Add(m.Financed)
			}
		}
		ss = append(ss, sr)
	}
	return groupedBars(v.Lang, v.T("dash.financing"), groups, ss)
}

// monthsBetween lists the months from first to last (YYYY-MM), both
// included; none when either is not a month or last is before first.
func monthsBetween(first, last string) []string {
	from, err1 := time.Parse("2006-01", first)
	to, err2 := time.Parse("2006-01", last)
	var out []string
	for m := from; err1 == nil && err2 == nil && !m.After(to); m = m.AddDate(0, 1, 0) {
		out = append(out, m.Format("2006-01"))
	}
	return out
}

// approvalBuckets are the bins of the approval-time distribution.
var approvalBuckets = []struct {
	key   string
	under time.Duration
}{{"lt1m", time.Minute}, {"lt10m", 10 * time.Minute}, {"lt1h", time.Hour}, {"lt1d", 24 * time.Hour}, {"lt7d", 7 * 24 * time.Hour}, {"ge7d", 1 << 62}}

// approvalChart draws how long the latest approved applications waited from
// submission to the bank's approval.
func (s *server) approvalChart(r *http.Request, v *view) (template.HTML, error) {
	apps, err := s.Lending.Applications(r.Context(), lending.Scope{}, lending.Filter{}, 0, 60)
	if err != nil {
		return "", err
	}
	counts := make([]int, len(approvalBuckets))
	for _, a := range apps {
		if a.ApprovedAmount == nil {
			continue
		}
		full, err := s.Lending.Application(r.Context(), lending.Scope{}, a.ID)
		if err != nil {
			return "", err
		}
		for _, t := range full.History {
			if t.To == lending.Approved {
				took := t.At.Sub(full.CreatedAt)
				for i, b := range approvalBuckets {
					if took < b.under {
						counts[i]++
						break
					}
				}
				break
			}
		}
	}
	labels := make([]string, len(approvalBuckets))
	for i, b := range approvalBuckets {
		labels[i] = v.T("dash.bucket." + b.key)
	}
	return histogram(v.T("dash.approval_times"), labels, counts), nil
}

type queueData struct {
	Enabled  bool
	Status   string
	Statuses []string
	Claims   []subsidies.Claim
}

func (s *server) claimsQueue(w http.ResponseWriter, r *http.Request, v *view) {
	d := queueData{Enabled: s.Subsidies != nil, Status: r.URL.Query().Get("status"),
		Statuses: []string{subsidies.Pending, subsidies.Held, subsidies.Approved, subsidies.Rejected, subsidies.Ineligible, subsidies.Paid}}
	if d.Status == "" {
		d.Status = subsidies.Pending
	}
	if d.Status == "all" || !subsidies.KnownStatus(d.Status) {
		d.Status = "all"
	}
	if d.Enabled {
		status := d.Status
		if status == "all" {
			status = ""
		}
		var err error
		if d.Claims, err = s.Subsidies.Claims(r.Context(), subsidies.Scope{}, status, 0, 200); err != nil {
			s.fail(w, r, v, err)
			return
		}
	}
	s.render(w, r, v, http.StatusOK, "claims_queue", "claims.queue", d)
}

type claimData struct {
	Claim       subsidies.Claim
	Computation *subsidies.Computation
	Steps       []subsidies.StepText // the computation's steps in the page's language
	Policy      *subsidies.Policy
	Threshold   string // the four-eyes threshold of the claim's policy
	App         *lending.Application
	Trail       []audit.Row
	Error       string
	Reason      string
}

func (s *server) claimData(w http.ResponseWriter, r *http.Request, v *view) (claimData, bool) {
	if s.Subsidies == nil {
		s.errorPage(w, r, v, http.StatusNotFound, "claims.disabled")
		return claimData{}, false
	}
	ctx := r.Context()
	c, err := s.Subsidies.Claim(ctx, subsidies.Scope{}, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, v, err)
		return claimData{}, false
	}
	d := claimData{Claim: c}
	var comp subsidies.Computation
	if len(c.Computation) > 0 && json.Unmarshal(c.Computation, &comp) == nil {
		d.Computation = &comp
		d.Steps = comp.Explain(v.Lang)
	}
	if pols, err := s.Subsidies.Policies(ctx); err == nil && c.PolicyVersion != nil {
		for _, p := range pols {
			if p.Version == *c.PolicyVersion {
				d.Policy = &p
				d.Threshold = formatMoney(p.FourEyesThreshold)
			}
		}
	}
	if a, err := s.Lending.Application(ctx, lending.Scope{}, c.ApplicationID); err == nil {
		d.App = &a
	}
	if d.Trail, err = audit.List(ctx, s.DB, "subsidy_claim", c.ID, 0, 50); err != nil {
		s.fail(w, r, v, err)
		return d, false
	}
	if err := s.nameActors(ctx, v, d.Trail); err != nil {
		s.fail(w, r, v, err)
		return d, false
	}
	return d, true
}

func (s *server) claimPage(w http.ResponseWriter, r *http.Request, v *view) {
	d, ok := s.claimData(w, r, v)
	if ok {
		s.render(w, r, v, http.StatusOK, "claim", "claim.title", d)
	}
}

func (s *server) approveClaim(w http.ResponseWriter, r *http.Request, v *view) {
	if s.Subsidies == nil {
		s.errorPage(w, r, v, http.StatusNotFound, "claims.disabled")
		return
	}
	c, err := s.Subsidies.Approve(r.Context(), r.PathValue("id"), "user:"+v.User.ID)
	if err != nil {
		s.claimRefused(w, r, v, err, "")
		return
	}
	ok := "approved"
	if c.Status == subsidies.Pending {
		ok = "first_approval"
	}
	http.Redirect(w, r, "/console/claims/"+c.ID+"?ok="+ok, http.StatusSeeOther)
}

func (s *server) rejectClaim(w http.ResponseWriter, r *http.Request, v *view) {
	if s.Subsidies == nil {
		s.errorPage(w, r, v, http.StatusNotFound, "claims.disabled")
		return
	}
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	c, err := s.Subsidies.Reject(r.Context(), r.PathValue("id"), reason, "user:"+v.User.ID)
	if err != nil {
		s.claimRefused(w, r, v, err, reason)
		return
	}
	http.Redirect(w, r, "/console/claims/"+c.ID+"?ok=rejected", http.StatusSeeOther)
}

// claimRefused shows the claim again with why the decision was refused
// (the same officer twice, the budget, a missing reason).
func (s *server) claimRefused(w http.ResponseWriter, r *http.Request, v *view, err error, reason string) {
	if c := errs.CodeOf(err); c != errs.Conflict && c != errs.Invalid {
		s.fail(w, r, v, err)
		return
	}
	d, ok := s.claimData(w, r, v)
	if !ok {
		return
	}
	d.Error, d.Reason = problemText(v, err), reason
	if fe := fieldsOf(err); len(fe) > 0 {
		d.Error = fieldErrors(v, fe)["reason"]
		if d.Error == "" {
			d.Error = fieldMessage(v, fe[0])
		}
	}
	s.render(w, r, v, errs.StatusOf(err), "claim", "claim.title", d)
}

type batchesData struct {
	Enabled bool
	Batches []subsidies.Batch
}

func (s *server) batchesPage(w http.ResponseWriter, r *http.Request, v *view) {
	d := batchesData{Enabled: s.Subsidies != nil}
	if d.Enabled {
		var err error
		if d.Batches, err = s.Subsidies.Batches(r.Context(), 0, 100); err != nil {
			s.fail(w, r, v, err)
			return
		}
	}
	s.render(w, r, v, http.StatusOK, "batches", "batches.title", d)
}

func (s *server) createBatch(w http.ResponseWriter, r *http.Request, v *view) {
	if s.Subsidies == nil {
		s.errorPage(w, r, v, http.StatusNotFound, "claims.disabled")
		return
	}
	if _, err := s.Subsidies.CreateBatch(r.Context(), "user:"+v.User.ID); err != nil {
		if errs.Is(err, errs.Conflict) {
			http.Redirect(w, r, "/console/batches?ok=nothing_to_batch", http.StatusSeeOther)
			return
		}
		s.fail(w, r, v, err)
		return
	}
	http.Redirect(w, r, "/console/batches?ok=batch_created", http.StatusSeeOther)
}

func (s *server) closeBatch(w http.ResponseWriter, r *http.Request, v *view) {
	if s.Subsidies == nil {
		s.errorPage(w, r, v, http.StatusNotFound, "claims.disabled")
		return
	}
	if _, err := s.Subsidies.CloseBatch(r.Context(), r.PathValue("id"), "user:"+v.User.ID); err != nil {
		s.fail(w, r, v, err)
		return
	}
	http.Redirect(w, r, "/console/batches?ok=batch_closed", http.StatusSeeOther)
}

// exportBatch serves /console/batches/{id}.csv and {id}.xlsx, headed in
// ?lang=, else in the page's language (the officer's choice), else zh-CN.
func (s *server) exportBatch(w http.ResponseWriter, r *http.Request, v *view) {
	id, ext, _ := strings.Cut(r.PathValue("file"), ".")
	if !ids.Valid(id) || (ext != "csv" && ext != "xlsx") || s.Subsidies == nil {
		s.errorPage(w, r, v, http.StatusNotFound, "err.not_found")
		return
	}
	// Headers in ?lang=, else the officer's language on these pages.
	lang, err := subsidies.ExportLang(r.URL.Query().Get("lang"))
	if err != nil {
		s.fail(w, r, v, err)
		return
	}
	if lang == "" {
		lang = v.Lang
	}
	b, lines, err := s.Subsidies.BatchLines(r.Context(), id)
	if err != nil {
		s.fail(w, r, v, err)
		return
	}
	f, err := subsidies.BatchFile(b, lines, ext, lang)
	if err != nil {
		s.fail(w, r, v, err)
		return
	}
	sendFile(w, f)
}

// bankReport serves /console/bank-report?month=YYYY-MM&format=csv|xlsx,
// worded in ?lang=, else in the page's language.
func (s *server) bankReport(w http.ResponseWriter, r *http.Request, v *view) {
	q := r.URL.Query()
	format := q.Get("format")
	if (format != subsidies.CSV && format != subsidies.XLSX) || s.Subsidies == nil {
		s.errorPage(w, r, v, http.StatusNotFound, "err.not_found")
		return
	}
	month := q.Get("month")
	d, lang, err := subsidies.ReportQuery(month, q.Get("lang"))
	if err != nil {
		s.fail(w, r, v, err)
		return
	}
	if lang == "" {
		lang = v.Lang
	}
	lines, err := s.Subsidies.BankReport(r.Context(), d)
	if err != nil {
		s.fail(w, r, v, err)
		return
	}
	f, err := subsidies.BankReportFile(month, lines, format, lang)
	if err != nil {
		s.fail(w, r, v, err)
		return
	}
	sendFile(w, f)
}

// lastMonth is the month before now's, YYYY-MM, in Asia/Shanghai: the
// month a monthly report is asked for.
func lastMonth(now time.Time) string {
	y, m, _ := now.In(shanghai).Date()
	return time.Date(y, m-1, 1, 0, 0, 0, 0, time.UTC).Format("2006-01")
}

// sendFile answers with an exported file, as an attachment with its name.
func sendFile(w http.ResponseWriter, f subsidies.File) {
	w.Header().Set("Content-Type", f.ContentType)
	w.Header().Set("Content-Disposition", f.Disposition())
	w.WriteHeader(http.StatusOK)
	w.Write(f.Body)
}

func (s *server) allApplications(w http.ResponseWriter, r *http.Request, v *view) {
	s.listApplications(w, r, v, lending.Scope{}, "applications_all")
}

type auditData struct {
	Type, ID string
	Types    []string
	Rows     []audit.Row
	Searched bool
}

var auditTypes = []string{"application", "contract", "award_notice", "supplier", "issuer", "bank", "credit_line",
	"subsidy_claim", "subsidy_batch", "subsidy_policy", "user", "signing_key"}

// auditPage shows the audit trail of one entity (a GET form: nothing
// changes, so no CSRF token is needed).
func (s *server) auditPage(w http.ResponseWriter, r *http.Request, v *view) {
	q := r.URL.Query()
	d := auditData{Type: strings.TrimSpace(q.Get("type")), ID: strings.TrimSpace(q.Get("id")), Types: auditTypes}
	if d.Type != "" && d.ID != "" {
		d.Searched = true
		id := d.ID
		if c, ok := ids.Canonical(id); ok { // an id in upper case finds its rows
			id = c
		}
		var err error
		if d.Rows, err = audit.List(r.Context(), s.DB, d.Type, id, 0, 200); err != nil {
			s.fail(w, r, v, err)
			return
		}
		if err := s.nameActors(r.Context(), v, d.Rows); err != nil {
			s.fail(w, r, v, err)
			return
		}
	}
	s.render(w, r, v, http.StatusOK, "audit", "audit.title", d)
}
