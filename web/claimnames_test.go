package web

import (
	"net/http"
	"strings"
	"testing"
)

// TestClaimPagesNames: the claim pages name the supplier beside its USCC
// and the bank beside its id, and the computation's steps carry labels and
// formulas in the page's language beside the steps' names.
func TestClaimPagesNames(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sup := e.client()
	sup.login("quancheng")
	e.loan(sup) // R1: 862.50 of interest on D2 (300000.00) for 2026-11-22 to 2026-12-01, a claim
	reg := bankRegistration("qilu", "http://127.0.0.1:1")
	reg.Name = "齐鲁银行"
	if _, _, err := e.banks.Register(e.t.Context(), reg, "test"); err != nil {
		t.Fatal(err)
	}
	var claimID string
	if err := e.db.Get(&claimID, `SELECT id FROM subsidy_claims WHERE status = 'pending'`); err != nil {
		t.Fatal(err)
	}
	supplierNamed := `泉城软件有限公司 <span class="muted">` + quancheng + `</span>`
	bankNamed := `齐鲁银行 <span class="muted">qilu</span>`
	c := e.client()
	c.login("officer")
	list := c.get("/console/claims?status=pending")
	wantStatus(t, list, http.StatusOK)
	wantContains(t, list, supplierNamed, bankNamed)
	p := c.get("/console/claims/" + claimID)
	wantStatus(t, p, http.StatusOK)
	// days: 2026-12-01 − 2026-11-22 = 9; rate: min(0.0345, cap 0.0310) =
	// 0.031; eligible: 300000.00 × 0.031 × 9 / 360 = 83700 / 360 = 232.50
	// (below the 862.50 paid); subsidy: 83700 × 0.5 / 360 = 116.25.
	wantContains(t, p, `<dd id="claim-supplier">`+supplierNamed+`</dd>`, `<dd id="claim-bank">`+bankNamed+`</dd>`,
		`<td>计息天数 <code class="muted">days</code></td><td><code>2026-12-01 − 2026-11-22（起息日计息，止息日不计息）</code>`,
		`<td>可贴息利息 <code class="muted">eligible_interest</code></td><td><code>Σ 各区段 本金 × 利率 × 天数 / 360 = (300000.00 × 0.031 × 9) / 360 =`,
		`<td>贴息金额 <code class="muted">subsidy</code></td><td><code>`, `× 贴息比例 0.5 / 360，四舍五入到 0.01</code></td><td class="num">116.25</td>`)
	c.get("/lang/en?next=%2F")
	wantContains(t, c.get("/console/claims/"+claimID),
		`<td>Eligible interest <code class="muted">eligible_interest</code></td>`, `rounded half-up to 0.01</code></td><td class="num">116.25</td>`)

	// The audit trail names its actors: the issuer that sent the contract.
	trail := c.get("/console/audit?type=contract&id=" + e.contract[quancheng])
	wantStatus(t, trail, http.StatusOK)
	wantContains(t, trail, `<td>济南市公共资源交易中心 <span class="muted">issuer:jinan-pprc</span></td>`)

	// The officers' list of applications names each one's supplier; the
	// supplier's own list has no supplier column.
	apps := c.get("/console/applications")
	wantStatus(t, apps, http.StatusOK)
	wantContains(t, apps, `<td data-supplier="`+quancheng+`">`+supplierNamed+`</td>`)
	if own := sup.get("/portal/applications"); strings.Contains(own.body, "data-supplier=") {
		t.Error("the supplier's own list of applications has a supplier column")
	}

	mine := sup.get("/portal/subsidies")
	wantStatus(t, mine, http.StatusOK)
	wantContains(t, mine, bankNamed)

	// An ineligible claim's reason, as subsidies keeps it for a large
	// enterprise, reads in Chinese.
	if _, err := e.db.Exec(`UPDATE subsidy_claims SET status = 'ineligible', amount = 0,
		ineligible_reason = 'the supplier is large: policy version 1 subsidises only micro, small, medium suppliers' WHERE id = $1`, claimID); err != nil {
		t.Fatal(err)
	}
	wantContains(t, sup.get("/portal/subsidies"), "该企业为大型企业：第 1 版政策只贴息微型企业、小型企业、中型企业")
}
