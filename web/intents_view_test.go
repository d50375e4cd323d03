package web

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"procfin/lending"
	"procfin/platform/auth"
	"procfin/platform/money"
)

// TestIntentComparisonView: the comparison marks as best the lowest
// effective rate among the offers the supplier may still accept (not an
// expired one, even if lower), shows each offer's effective rate big with
// its computation's steps, and says where each bank asked stands.
func TestIntentComparisonView(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 5, 2, 0, 0, 0, time.UTC)
	delivered, pending := "delivered", "pending"
	out := now.Add(-time.Hour)
	lpr, ratio := money.MustRate("0.031"), money.MustRate("0.5")
	sub := func(rate, eff string) *lending.RateAfterSubsidy {
		return &lending.RateAfterSubsidy{Rate: money.MustRate(eff), Eligible: true, PolicyVersion: 1, Cap: &lpr, Ratio: &ratio,
			Steps: []lending.RateStep{{Name: "cap", Formula: "LPR", Value: "0.031"}, {Name: "subsidised_rate", Formula: "min", Value: "0.031"},
				{Name: "rate_off", Formula: "×", Value: "0.0155"}, {Name: "effective_annual_rate", Formula: "−", Value: eff}}}
	}
	it := lending.Intent{ID: "i1", ContractNo: "HT-1", Amount: money.MustAmount("800000.00"), TermDays: 180, Status: lending.IntentOpen,
		PublishedAt: now.Add(-time.Hour), RespondBy: now.Add(time.Hour),
		Banks: []lending.IntentBank{
			{BankID: "a", BankName: "甲银行", Delivery: delivered},
			{BankID: "b", BankName: "乙银行", Delivery: delivered},
			{BankID: "c", BankName: "丙银行", Delivery: delivered},
			{BankID: "d", BankName: "丁银行", Delivery: pending},
			{BankID: "e", BankName: "戊银行", Delivery: delivered, OutAt: &out},
			{BankID: "f", BankName: "己银行", Delivery: delivered},
		},
		// lending's order: current offers best first, then the rest.
		Offers: []lending.Offer{
			// Expired: 0.0300 − min(0.0300, 0.031) × 0.5 = 0.0300 − 0.0150 = 0.0150, the lowest, but gone.
			{ID: "oc", BankID: "c", BankName: "丙银行", Amount: money.MustAmount("500000.00"), AnnualRate: money.MustRate("0.0300"),
				TermDays: 180, ValidUntil: now.Add(-time.Minute), Status: lending.OfferMadeStatus,
				EffectiveAnnualRate: money.MustRate("0.015"), Subsidy: sub("0.0300", "0.015000")},
			// 0.0330 − 0.0310 × 0.5 = 0.0330 − 0.0155 = 0.0175.
			{ID: "ob", BankID: "b", BankName: "乙银行", Amount: money.MustAmount("800000.00"), AnnualRate: money.MustRate("0.0330"),
				TermDays: 180, ValidUntil: now.Add(time.Hour), Status: lending.OfferMadeStatus, Conditions: "需提供采购人确权",
				EffectiveAnnualRate: money.MustRate("0.0175"), Subsidy: sub("0.0330", "0.017500")},
			// 0.0345 − 0.0310 × 0.5 = 0.0345 − 0.0155 = 0.0190.
			{ID: "oa", BankID: "a", BankName: "甲银行", Amount: money.MustAmount("600000.00"), AnnualRate: money.MustRate("0.0345"),
				TermDays: 180, ValidUntil: now.Add(time.Hour), Status: lending.OfferMadeStatus,
				EffectiveAnnualRate: money.MustRate("0.019"), Subsidy: sub("0.0345", "0.019000")},
			{ID: "of", BankID: "f", BankName: "己银行", Amount: money.MustAmount("800000.00"), AnnualRate: money.MustRate("0.0290"),
				TermDays: 180, ValidUntil: now.Add(time.Hour), Status: lending.OfferWithdrawn, EffectiveAnnualRate: money.MustRate("0.0145")},
		},
	}
	d := intentView(it, now)
	var best []string
	for _, o := range d.Offers {
		if o.Best {
			best = append(best, o.ID)
		}
	}
	if len(best) != 1 || best[0] != "ob" {
		t.Fatalf("best offers %v, want [ob]", best)
	}
	states := map[string]string{}
	for _, b := range d.Banks {
		states[b.BankID] = b.State
	}
	want := map[string]string{"a": "offered", "b": "offered", "c": "offered", "d": "delivery_pending", "e": "out", "f": "withdrew"}
	for id, st := range want {
		if states[id] != st {
			t.Errorf("bank %s is %q, want %q", id, states[id], st)
		}
	}

	pages, err := parseTemplates()
	if err != nil {
		t.Fatal(err)
	}
	s := &server{Deps: Deps{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, pages: pages}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/portal/intents/i1", nil)
	v := s.newView(req)
	v.User = &auth.User{ID: "u", Role: auth.RoleSupplier}
	s.render(rec, req, v, http.StatusOK, "intents_compare", "intent.title", d)
	body := rec.Body.String()
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d\n%s", rec.Code, body)
	}
	for _, part := range []string{`class="card offer best" data-offer="ob"`, `id="best-offer">最优`, `data-effective="0.0175">1.75%`,
		`data-effective="0.019">1.90%`, "银行报价年利率 3.30%", "800,000.00 元", "需提供采购人确权", "当日一年期 LPR（贴息政策第 1 版）", "min(银行年利率 0.033, LPR 0.031)",
		"计贴息利率 0.031 × 贴息比例 0.5", "银行年利率 0.033 − 贴息减少的利率 0.0155，四舍五入保留 6 位小数", `<td class="num">0.017500</td>`,
		"已过有效期", "银行已撤回", "贴息后实际年利率", `data-bank="d" data-state="delivery_pending"`, "已退出（授权已撤回）",
		`action="/portal/intents/i1/cancel"`} {
		if !strings.Contains(body, part) {
			t.Fatalf("the comparison lacks %q:\n%s", part, body)
		}
	}
	// Accept buttons only for the offers still valid: ob and oa, in that order.
	buttons := regexp.MustCompile(`id="accept-(o[a-z])"`).FindAllStringSubmatch(body, -1)
	if len(buttons) != 2 || buttons[0][1] != "ob" || buttons[1][1] != "oa" {
		t.Fatalf("accept buttons %v, want ob then oa", buttons)
	}

	// Closed: nothing to accept or cancel, nothing marked best.
	it.Status = lending.IntentAccepted
	d = intentView(it, now)
	rec = httptest.NewRecorder()
	s.render(rec, req, v, http.StatusOK, "intents_compare", "intent.title", d)
	if body := rec.Body.String(); strings.Contains(body, `id="accept-`) || strings.Contains(body, "/cancel") || strings.Contains(body, `id="best-offer"`) {
		t.Fatalf("a closed intent offers to act, or marks a best offer:\n%s", body)
	}
}
