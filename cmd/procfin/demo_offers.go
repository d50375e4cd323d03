package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"procfin/banking/sandbox"
	"procfin/platform/money"
)

// demoBank is one of the demo's sandbox banks: its id, name, decision
// delay and how it answers financing needs (competing offers, 融资意向).
type demoBank struct {
	id, name string
	delay    time.Duration
	offers   sandbox.OfferRule
	shows    string // what the demo says of its offers
}

// demoBanks are the demo's sandbox banks, each answering a need by its own
// rule so that the supplier has a real comparison: qilu-sandbox offers the
// whole need at 3.45 %, jinan-rural-sandbox 80 % of it at 3.20 %, and
// laishang-sandbox makes no offer. The first two grant the demo's credit
// lines (demo.populate).
var demoBanks = []demoBank{
	{"qilu-sandbox", "齐鲁银行 Qilu Bank (sandbox)", 2 * time.Second,
		sandbox.OfferRule{Rate: money.MustRate("0.0345"), ValidFor: 7 * 24 * time.Hour,
			Conditions: "全额授信，按中标合同回款账户还款，无需抵押。The whole need; repaid from the contract's repayment account; no collateral."},
		"the whole need at 3.45 %"},
	{"jinan-rural-sandbox", "济南农商银行 Jinan Rural Bank (sandbox)", 4 * time.Second,
		sandbox.OfferRule{Rate: money.MustRate("0.0320"), MaxShare: decimal.RequireFromString("0.8"), ValidFor: 7 * 24 * time.Hour,
			Conditions: "最高融资需求的80%，需采购人确权后放款。Up to 80 % of the need; disbursed once the purchaser confirmed the receivable."},
		"80 % of the need at 3.20 %"},
	{"laishang-sandbox", "莱商银行 Laishang Bank (sandbox)", 3 * time.Second,
		sandbox.OfferRule{Decline: true}, "no offer"},
}

// demoNeed is the demo's financing need: its supplier publishes it to
// every bank of the programme at start-up, on a contract of its own, and
// leaves it open for the visitor to compare the offers and accept one.
var demoNeed = struct {
	user, contract, amount, need string // amount: the contract's; need: the amount asked
	termDays                     int
}{"quancheng", "JNCG-2026-0824", "1000000.00", "600000.00", 180}

// publishNeed posts the need's contract and publishes the need, as its
// supplier through procfin's API, to every bank ("*"); it returns the
// intent's id, or logs why it could not.
func (d *demo) publishNeed(ctx context.Context, base string, logger *slog.Logger) string {
	sp := demoSupplierOf(demoNeed.user)
	if err := d.postContract(ctx, base, demoNeed.contract, sp.USCC, sp.Name, demoNeed.amount, "智慧教室建设 Smart classrooms"); err != nil {
		logger.Warn("demo financing need: contract", "contract", demoNeed.contract, "error", err)
		return ""
	}
	tok, err := demoLogin(ctx, base, demoNeed.user)
	if err != nil {
		logger.Warn("demo financing need: log in", "user", demoNeed.user, "error", err)
		return ""
	}
	contractID, err := demoContractID(ctx, base, tok, "HT-"+demoNeed.contract)
	if err != nil {
		logger.Warn("demo financing need: contract", "error", err)
		return ""
	}
	var intent struct {
		ID string `json:"id"`
	}
	if err := demoCall(ctx, http.MethodPost, base+"/v1/financing-intents", tok, "demo-need-"+time.Now().UTC().Format("20060102T150405"),
		map[string]any{"contract_id": contractID, "amount": demoNeed.need, "term_days": demoNeed.termDays,
			"purpose": "设备采购垫资 Equipment purchase", "bank_ids": []string{"*"}}, &intent); err != nil {
		logger.Warn("demo financing need: publish", "error", err)
		return ""
	}
	logger.Info("demo story: financing need published", "user", demoNeed.user, "contract", "HT-"+demoNeed.contract, "intent_id", intent.ID)
	return intent.ID
}

// demoContractID finds the id of the supplier's contract numbered no.
func demoContractID(ctx context.Context, base, token, no string) (string, error) {
	var list struct {
		Items []struct {
			ID         string `json:"id"`
			ContractNo string `json:"contract_no"`
		} `json:"items"`
	}
	if err := demoCall(ctx, http.MethodGet, base+"/v1/contracts", token, "", nil, &list); err != nil {
		return "", err
	}
	for _, c := range list.Items {
		if c.ContractNo == no {
			return c.ID, nil
		}
	}
	return "", fmt.Errorf("contract %s not found", no)
}

// demoNeedText is what the demo prints of its financing need.
func demoNeedText(base string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Competing offers (融资意向): %s has published a need of %s for %d days on\nHT-%s to every bank. The banks answer within seconds:\n",
		demoNeed.user, demoNeed.need, demoNeed.termDays, demoNeed.contract)
	for _, bk := range demoBanks {
		fmt.Fprintf(&b, "  %-20s %s\n", bk.id, bk.shows)
	}
	fmt.Fprintf(&b, "As %s, open 融资需求 (Financing needs) to compare the offers, best first by\ntheir effective rate after the interest subsidy, and accept one: it becomes\nthe credit application to that bank, approved within the offer. By API:\n"+
		"  curl -s %s/v1/financing-intents -H \"Authorization: Bearer $TOKEN\"\n"+
		"  curl -s %s/v1/financing-intents/<id>/accept -H \"Authorization: Bearer $TOKEN\" \\\n"+
		"    -H 'Idempotency-Key: demo-accept-1' -H 'Content-Type: application/json' -d '{\"offer_id\":\"<an offer's id>\"}'\n",
		demoNeed.user, base, base)
	return b.String()
}
