package web

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"procfin/platform/errs"
	"procfin/platform/money"
	"procfin/subsidies"
)

// The subsidy policy's versions (贴息政策) with their dated 1-year LPR, and
// the administrators' form adding a version. The form calls
// subsidies.AddPolicy, as POST /v1/admin/subsidy-policies does: the rules
// and their problems are subsidies'; this page only places each problem
// next to its field.

// sizeClasses are the SME size classes a policy may subsidise.
var sizeClasses = []string{"micro", "small", "medium", "large"}

// The form's fields, named as the API names them so that subsidies'
// problems land on them; the LPR table's rows are the repeated fields
// lpr_from and lpr_rate.
const (
	formLPRFrom = "lpr_from"
	formLPRRate = "lpr_rate"
)

var policyFields = []string{"effective_from", "subsidy_ratio", "supplier_yearly_cap", "programme_budget", "four_eyes_threshold"}

// lprRow is one row of the form's LPR table as typed, with its problems.
type lprRow struct {
	From, Rate       string
	FromErr, RateErr string
}

type policiesData struct {
	F        formData
	Policies []subsidies.Policy // newest first
	Current  int                // the version in force today (0: none yet)
	LPR      []lprRow
	Sizes    []string
	Checked  map[string]bool // the size classes ticked
	CanAdd   bool
}

// currentPolicy is the version in force on day: the newest of the latest
// effective date on or before it, as claims choose theirs; with none in
// force yet, the newest version.
func currentPolicy(list []subsidies.Policy, day money.Date) (subsidies.Policy, bool) {
	var cur *subsidies.Policy
	for i := range list {
		p := &list[i]
		if p.EffectiveFrom.After(day) {
			continue
		}
		if cur == nil || p.EffectiveFrom.After(cur.EffectiveFrom) ||
			(p.EffectiveFrom.Equal(cur.EffectiveFrom) && p.Version > cur.Version) {
			cur = p
		}
	}
	if cur == nil {
		if len(list) == 0 {
			return subsidies.Policy{}, false
		}
		return list[0], true
	}
	return *cur, true
}

func (s *server) policiesPage(w http.ResponseWriter, r *http.Request, v *view) {
	if s.Subsidies == nil {
		s.errorPage(w, r, v, http.StatusNotFound, "claims.disabled")
		return
	}
	s.renderPolicies(w, r, v, policiesData{F: newForm(r)}, http.StatusOK)
}

// renderPolicies shows the versions above the form. A form not yet typed
// (d.LPR nil) is filled with the terms of the version in force today,
// from today on, its LPR table with one empty row to add a change.
func (s *server) renderPolicies(w http.ResponseWriter, r *http.Request, v *view, d policiesData, status int) {
	var err error
	if d.Policies, err = s.Subsidies.Policies(r.Context()); err != nil {
		s.fail(w, r, v, err)
		return
	}
	today := money.DateOf(time.Now())
	cur, ok := currentPolicy(d.Policies, today)
	if ok {
		d.Current = cur.Version
	}
	if d.LPR == nil {
		d.Checked = map[string]bool{}
		d.F.Form["effective_from"] = today.String()
		if ok {
			d.F.Form["subsidy_ratio"] = cur.SubsidyRatio.String()
			d.F.Form["supplier_yearly_cap"] = cur.SupplierYearlyCap.String()
			d.F.Form["programme_budget"] = cur.ProgrammeBudget.String()
			d.F.Form["four_eyes_threshold"] = cur.FourEyesThreshold.String()
			for _, c := range cur.EligibleSizeClasses {
				d.Checked[c] = true
			}
			for _, e := range cur.LPR1Y {
				d.LPR = append(d.LPR, lprRow{From: e.From.String(), Rate: e.Rate.String()})
			}
		}
	}
	if n := len(d.LPR); n == 0 || d.LPR[n-1].From != "" || d.LPR[n-1].Rate != "" {
		d.LPR = append(d.LPR, lprRow{})
	}
	d.Sizes, d.CanAdd = sizeClasses, v.Is("admin")
	s.render(w, r, v, status, "admin_policies", "policy.title", d)
}

// addPolicy adds a version from the form. A row of the LPR table left
// empty is ignored; every problem is shown next to its field or row, and
// nothing is stored.
func (s *server) addPolicy(w http.ResponseWriter, r *http.Request, v *view) {
	if s.Subsidies == nil {
		s.errorPage(w, r, v, http.StatusNotFound, "claims.disabled")
		return
	}
	d := policiesData{F: newForm(r, policyFields...), Checked: map[string]bool{}, LPR: []lprRow{}}
	in := subsidies.PolicyInput{EffectiveFrom: d.F.Form["effective_from"], SubsidyRatio: d.F.Form["subsidy_ratio"],
		SupplierYearlyCap: d.F.Form["supplier_yearly_cap"], ProgrammeBudget: d.F.Form["programme_budget"],
		FourEyesThreshold: d.F.Form["four_eyes_threshold"], LPR1Y: []subsidies.LPRInput{}}
	for _, c := range r.PostForm["eligible_size_classes"] {
		in.EligibleSizeClasses = append(in.EligibleSizeClasses, c)
		d.Checked[c] = true
	}
	froms, rates := r.PostForm[formLPRFrom], r.PostForm[formLPRRate]
	var rowOf []int // the form's row of each entry of in.LPR1Y
	for i := 0; i < max(len(froms), len(rates)); i++ {
		row := lprRow{From: strings.TrimSpace(nth(froms, i)), Rate: strings.TrimSpace(nth(rates, i))}
		d.LPR = append(d.LPR, row)
		if row.From == "" && row.Rate == "" {
			continue
		}
		rowOf = append(rowOf, i)
		in.LPR1Y = append(in.LPR1Y, subsidies.LPRInput{From: row.From, Rate: row.Rate})
	}
	p, err := s.Subsidies.AddPolicy(r.Context(), in, "user:"+v.User.ID)
	if err != nil {
		if !refused(v, &d.F, err) {
			s.fail(w, r, v, err)
			return
		}
		for field, msg := range d.F.Errors {
			var i int
			var part string
			if n, _ := fmt.Sscanf(field, "lpr_1y[%d].%s", &i, &part); n != 2 || i < 0 || i >= len(rowOf) {
				continue
			}
			switch row := &d.LPR[rowOf[i]]; part {
			case "from":
				row.FromErr = msg
			case "rate":
				row.RateErr = msg
			}
		}
		s.renderPolicies(w, r, v, d, errs.StatusOf(err))
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/admin/subsidy-policies?ok=policy_added#policy-%d", p.Version), http.StatusSeeOther)
}

// nth is the i-th value, or "" past the end.
func nth(vals []string, i int) string {
	if i < len(vals) {
		return vals[i]
	}
	return ""
}
