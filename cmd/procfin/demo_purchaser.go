package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"procfin/banking/sandbox"
	"procfin/lending"
	"procfin/platform/money"
)

// The purchaser's side of the demo (domain.md 1.1, "The purchaser (采购人)
// and the repayment lock (回款控制)"): the demo contracts' purchaser, the
// Jinan Education Bureau, confirms their receivables through its own
// signing system (a sandbox.Purchaser) once their bank approves, all but
// one, which waits for its user to confirm by hand; and the sandbox
// treasury pays one contract into its locked repayment account and
// another into its supplier's own account, a misdirected payment.
const (
	demoIssuerID    = "jinan-pprc"
	demoPurchaserID = "jn-edu-bureau"
	demoTreasuryID  = "jinan-treasury"
	// demoHandConfirm is the contract whose receivable waits for the
	// purchaser user (demoPurchaserUser) to confirm it by hand.
	demoHandConfirm = "HT-JNCG-2026-0823"
)

// demoPurchaserUser is the purchaser's log-in (role purchaser).
var demoPurchaserUser = struct{ Username, Password string }{"jnedu", "procfin-demo-purchaser"}

// demoPayment is a payment the sandbox treasury makes of a demo contract
// once its receivable is confirmed: into the confirmed repayment account,
// or, misdirected, into the supplier's own settlement account.
type demoPayment struct {
	contractNo  string
	paymentID   string
	amount      string
	misdirected bool
}

var demoPayments = []demoPayment{
	{"HT-JNCG-2026-0818", "JNGK-2026-000818-1", "300000.00", false},
	{"HT-JNCG-2026-0819", "JNGK-2026-000819-1", "200000.00", true},
}

// purchaserSide makes the sandbox purchaser system and treasury, and
// registers them through the administrator's API: the purchaser with its
// system's keys, the treasury as a payment system, and the purchaser's
// user. A registration found already (a demo run again on its database)
// is kept.
func (d *demo) purchaserSide(ctx context.Context, base string) error {
	var err error
	if d.purchaser, err = sandbox.NewPurchaser(sandbox.ClientConfig{ID: demoPurchaserID, ProcfinURL: base, Key: demoKey(demoPurchaserID)}); err != nil {
		return err
	}
	if d.treasury, err = sandbox.NewTreasury(sandbox.ClientConfig{ID: demoTreasuryID, ProcfinURL: base, Key: demoKey(demoTreasuryID)}); err != nil {
		return err
	}
	admin, err := demoLogin(ctx, base, "admin")
	if err != nil {
		return fmt.Errorf("demo: log in as admin: %w", err)
	}
	run := time.Now().UTC().Format("20060102T150405")
	for _, r := range []struct {
		path string
		body map[string]any
	}{
		{"/v1/admin/purchasers", map[string]any{"id": demoPurchaserID, "name": "济南市教育局 Jinan Education Bureau",
			"issuer_id": demoIssuerID, "jwks": d.purchaser.JWKS()}},
		{"/v1/admin/payment-systems", map[string]any{"id": demoTreasuryID, "name": "济南市国库集中支付中心 Jinan Treasury Payment Centre",
			"jwks": d.treasury.JWKS()}},
		{"/v1/admin/users", map[string]any{"username": demoPurchaserUser.Username, "password": demoPurchaserUser.Password,
			"role": "purchaser", "purchaser_issuer_id": demoIssuerID, "purchaser_id": demoPurchaserID}},
	} {
		err := demoCall(ctx, http.MethodPost, base+r.path, admin, "demo-"+r.path+"-"+run, r.body, nil)
		if err != nil && !isConflict(err) {
			return fmt.Errorf("demo: %w", err)
		}
	}
	return nil
}

// isConflict reports whether a demoCall failed with 409: what it would
// create exists already.
func isConflict(err error) bool {
	var s *statusError
	return errors.As(err, &s) && s.status == http.StatusConflict
}

// statusError is an API call's answer other than 2xx.
type statusError struct {
	method, url string
	status      int
	body        string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s %s: %d %s", e.method, e.url, e.status, e.body)
}

// confirmReceivables is the purchaser's system at work, until ctx ends:
// every half second it reads the purchaser's receivables waiting for
// confirmation (in this process: lending.Service.Receivables) and confirms
// each, but demoHandConfirm, with a signed message: the amount the bank
// approved, the contract's payment terms and the bank's repayment account;
// then the treasury makes the payment demoPayments names for it, if any.
func (d *demo) confirmReceivables(ctx context.Context, ls *lending.Service, logger *slog.Logger) {
	scope := lending.Scope{PurchaserIssuerID: demoIssuerID, PurchaserID: demoPurchaserID}
	tries := map[string]int{}
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		pending, err := ls.Receivables(ctx, scope, lending.ReceivablePending, 0, 100)
		if err != nil {
			logger.Warn("demo purchaser: receivables", "error", err)
			continue
		}
		for _, r := range pending {
			if r.ContractNo == demoHandConfirm || tries[r.ContractID] >= 3 {
				continue
			}
			tries[r.ContractID]++
			a, err := d.purchaser.Confirm(ctx, r.ContractID, sandbox.Confirmation{ConfirmedAmount: r.Approved,
				RepaymentAccount: sandbox.Account(r.RepaymentAccount), PaymentTerms: r.PaymentTerms})
			if err != nil || a.Status >= 300 {
				logger.Warn("demo purchaser: confirmation not taken", "contract_no", r.ContractNo, "status", a.Status,
					"answer", string(a.Body), "error", err)
				continue
			}
			tries[r.ContractID] = 3
			logger.Info("demo purchaser: receivable confirmed", "contract_no", r.ContractNo, "amount", r.Approved)
			d.pay(ctx, r, logger)
		}
	}
}

// pay makes the demo's payment of r's contract, if demoPayments names one.
func (d *demo) pay(ctx context.Context, r lending.Receivable, logger *slog.Logger) {
	for _, p := range demoPayments {
		if p.contractNo != r.ContractNo {
			continue
		}
		payee := sandbox.Account(r.RepaymentAccount)
		if p.misdirected {
			own := demoSettlementAccounts[r.SupplierUSCC]
			if own == nil {
				logger.Warn("demo treasury: the supplier has no account of its own", "contract_no", r.ContractNo)
				return
			}
			payee = sandbox.Account(*own)
		}
		a, err := d.treasury.Pay(ctx, sandbox.PaymentRecord{PaymentID: p.paymentID, ContractNo: r.ContractNo, IssuerID: r.IssuerID,
			PurchaserID: r.PurchaserID, Amount: money.MustAmount(p.amount), PaidOn: money.DateOf(time.Now()), PayeeAccount: payee})
		var status struct {
			Status string `json:"status"`
		}
		_ = json.Unmarshal(a.Body, &status)
		if err != nil || a.Status >= 300 {
			logger.Warn("demo treasury: payment not taken", "contract_no", r.ContractNo, "status", a.Status, "answer", string(a.Body), "error", err)
			return
		}
		logger.Info("demo treasury: paid", "contract_no", r.ContractNo, "payment_id", p.paymentID, "amount", p.amount, "status", status.Status)
	}
}

// demoPurchaserText is what the demo prints of the purchaser's side.
func demoPurchaserText() string {
	return fmt.Sprintf(`The purchaser (采购人) 济南市教育局 confirms each receivable (确权) through its
signing system once the bank approves, and the sandbox banks (protocol 1.1)
disburse only after that confirmation; but the receivable of %s waits
for you: log in as %s, confirm it, and its bank disburses. The treasury
pays %s into its locked repayment account (matched) and %s
into the supplier's own account (misdirected: an alert on the officers'
console, /console/alerts).
`, demoHandConfirm, demoPurchaserUser.Username, demoPayments[0].contractNo, demoPayments[1].contractNo)
}
