package web

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/google/uuid"

	"procfin/contracts"
	"procfin/platform/money"
	"procfin/platform/postgres"
)

// TestAmendmentConsole: an officer sees the contract whose cut version
// waits, is refused adopting it while it would break the financing, and
// keeps the financing's version with a reason.
func TestAmendmentConsole(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	id := e.contract[quancheng]
	// 800000.00 of the contract's 0.85 × 1200000.00 = 1020000.00 financed,
	// held as lending holds it, under the contract's row lock.
	err := postgres.Transact(ctx, e.db, func(tx *postgres.Tx) error {
		c, err := e.contracts.ContractForUpdate(ctx, tx, contracts.All, id)
		if err != nil {
			return err
		}
		return e.contracts.HoldFinancing(ctx, tx, map[string]contracts.Contract{c.ID: c}, map[string]money.Amount{c.ID: money.MustAmount("800000.00")})
	})
	if err != nil {
		t.Fatal(err)
	}
	// The cut: 0.85 × 100000.00 = 85000.00, below the 800000.00 financed.
	cut := money.MustAmount("100000.00")
	_, outcome, err := e.contracts.SubmitContract(ctx, "jinan-pprc", contracts.ContractDoc{ContractNo: "HT-JNCG-2026-0815", NoticeNo: "JNCG-2026-0815",
		Purchaser: contracts.Party{ID: "jn-edu"}, Supplier: contracts.SupplierRef{USCC: quancheng}, Amount: cut,
		SignedOn: money.MustDate("2026-01-20"), Period: contracts.Period{Start: money.MustDate("2026-01-01"), End: money.MustDate("2099-12-31")},
		Status: "active"}, contracts.Source{Kind: "signed", KeyID: "k1", MessageID: uuid.NewString(), Actor: "issuer:jinan-pprc"})
	if err != nil || outcome != contracts.AmendmentHeld {
		t.Fatalf("cut: %s %v", outcome, err)
	}

	supplier := e.client()
	supplier.login("quancheng")
	wantStatus(t, supplier.get("/console/amendments"), http.StatusForbidden)

	c := e.client()
	c.login("officer")
	p := c.get("/console/amendments")
	wantStatus(t, p, http.StatusOK)
	wantContains(t, p, "待审核的合同变更", "HT-JNCG-2026-0815", "融资上限低于已融资金额", "800,000.00", "85,000.00",
		`id="amendment-`+id+`-2"`, `href="/console/amendments"`)
	resolve := "/console/contracts/" + id + "/amendments/2/resolve"

	wantStatus(t, c.post(resolve, url.Values{"decision": {"keep"}, "reason": {"draft"}}), http.StatusForbidden) // no CSRF token
	res := c.post(resolve, url.Values{"csrf": {c.csrf(p)}, "decision": {"adopt"}, "reason": {"the scope was cut"}})
	wantStatus(t, res, http.StatusConflict)
	wantContains(t, res, `role="alert"`, "未能处理", "与当前状态冲突", "the scope was cut")
	res = c.post(resolve, url.Values{"csrf": {c.csrf(p)}, "decision": {"maybe"}})
	wantStatus(t, res, http.StatusUnprocessableEntity)
	wantContains(t, res, "处理方式：须为采用或保留", "理由：必填")
	wantStatus(t, c.post("/console/contracts/"+id+"/amendments/7/resolve", url.Values{"csrf": {c.csrf(p)}, "decision": {"keep"}, "reason": {"x"}}),
		http.StatusNotFound)

	res = c.post(resolve, url.Values{"csrf": {c.csrf(p)}, "decision": {"keep"}, "reason": {"the issuer posted a draft"}})
	wantStatus(t, res, http.StatusSeeOther)
	if loc := res.header.Get("Location"); loc != "/console/amendments?ok=amendment_kept" {
		t.Fatalf("Location %q", loc)
	}
	p = c.get("/console/amendments?ok=amendment_kept")
	wantStatus(t, p, http.StatusOK)
	wantContains(t, p, "已保留融资所依据的合同版本", "没有待审核的合同变更")
	got, err := e.contracts.Contract(ctx, contracts.All, id)
	if err != nil || got.AmendmentPending || got.Version != 1 || got.Amount.String() != "1200000.00" {
		t.Fatalf("after keep: %+v %v", got, err)
	}
}
