package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"procfin/banking/sandbox"
)

// demoStep is the pause between the steps of a demo loan's life (the
// sandbox banks' RepayAfter).
var demoStep = 30 * time.Second

// demoStory is one of the demo's own applications, made at start-up as its
// supplier on a contract of its own, whose loan lives the life the sandbox
// banks give its amount (demoLife).
type demoStory struct {
	user     string // the supplier's log-in (demoUsers)
	contract string // its award notice's number; the contract is HT-<it>
	amount   string // the contract's amount
	bank     string
	request  string // the amount applied for: chooses the life
	life     sandbox.Life
	shows    string // what the demo shows of it
}

var demoStories = []demoStory{
	{"quancheng", "JNCG-2026-0818", "600000.00", "qilu-sandbox", "400000.00", sandbox.LifeTranches,
		"two tranches valued 30 days apart, each repaid naming its tranche with its own interest; closed as repaid"},
	{"quancheng", "JNCG-2026-0819", "500000.00", "qilu-sandbox", "300000.00", sandbox.LifePartial,
		"half disbursed, then the drawdown ended (the rest released); repaid; closed"},
	{"quancheng", "JNCG-2026-0820", "300000.00", "jinan-rural-sandbox", "150000.00", sandbox.LifeHeld,
		"held by the bank undecided; cancelled by the supplier after delivery: the bank gets a withdrawal"},
	{"lixia", "JNCG-2026-0821", "240000.00", "jinan-rural-sandbox", "200000.00", sandbox.LifeWhole,
		"repaid as a whole loan, naming no tranche; closed as repaid"},
	{"lixia", "JNCG-2026-0822", "400000.00", "qilu-sandbox", "250000.00", sandbox.LifeOverdue,
		"overdue; a tranche repaid while overdue (its subsidy claim rejected, loan_overdue); cured; the rest repaid; closed"},
	{"lixia", "JNCG-2026-0823", "300000.00", "qilu-sandbox", "180000.00", sandbox.LifeRepaid,
		"approved; its receivable waits for the purchaser's confirmation by hand (log in as jnedu), then disbursed and repaid"},
}

// demoLife is the sandbox banks' rule in the demo: a demo story's amount
// gets its life, any other amount the default (two tranches repaid).
func demoLife(a sandbox.Application) sandbox.Life {
	for _, s := range demoStories {
		if a.Amount.String() == s.request {
			return s.life
		}
	}
	return sandbox.LifeRepaid
}

// demoLines are what the demo's banks do to the lines they granted:
// jinan-rural-sandbox lowers lixia's line (and makes it not revolving) and
// revokes quancheng's.
const (
	demoChangedLimit = "300000.00"
	demoRevokeReason = "年度授信复核未通过 Annual credit review not passed"
)

// stories makes the demo's own applications, as their suppliers through
// procfin's API, and then, in the background until the demo stops,
// cancels the held one once the bank has received it. Each story's
// contract is posted first. A story that fails is logged and left out.
func (d *demo) stories(ctx context.Context, base string, logger *slog.Logger) {
	run := time.Now().UTC().Format("20060102T150405")
	tokens := map[string]string{}
	for _, s := range demoStories {
		sp := demoSupplierOf(s.user)
		if err := d.postContract(ctx, base, s.contract, sp.USCC, sp.Name, s.amount, "校园设备采购 Campus equipment"); err != nil {
			logger.Warn("demo story: contract", "contract", s.contract, "error", err)
			continue
		}
		tok, ok := tokens[s.user]
		if !ok {
			var err error
			if tok, err = demoLogin(ctx, base, s.user); err != nil {
				logger.Warn("demo story: log in", "user", s.user, "error", err)
				continue
			}
			tokens[s.user] = tok
		}
		id, err := demoApply(ctx, base, tok, s, "demo-"+string(s.life)+"-"+run)
		if err != nil {
			logger.Warn("demo story: apply", "contract", s.contract, "error", err)
			continue
		}
		logger.Info("demo story: applied", "user", s.user, "contract", "HT-"+s.contract, "application_id", id, "life", s.life)
		if s.life == sandbox.LifeHeld {
			go func() {
				if err := demoCancelWhenReceived(d.runCtx, base, tok, id); err != nil {
					logger.Warn("demo story: cancel after delivery", "application_id", id, "error", err)
					return
				}
				logger.Info("demo story: cancelled after delivery", "application_id", id)
			}()
		}
	}
}

// changeLines changes one line and revokes another of a bank's.
func (d *demo) changeLines(ctx context.Context, bank *sandbox.Bank, change, revoke string) error {
	if err := bank.ChangeLine(ctx, change, demoChangedLimit, false); err != nil {
		return err
	}
	return bank.RevokeLine(ctx, revoke, demoRevokeReason)
}

func demoSupplierOf(user string) (sp struct{ USCC, Name string }) {
	for _, u := range demoUsers {
		if u.Username == user {
			for _, s := range demoSuppliers {
				if s.USCC == u.SupplierUSCC {
					sp.USCC, sp.Name = s.USCC, s.Name
				}
			}
		}
	}
	return sp
}

// postContract posts, signed by the procurement centre, an award notice
// numbered no for the supplier and its contract HT-<no>.
func (d *demo) postContract(ctx context.Context, base, no, uscc, name, amount, project string) error {
	notice := fmt.Sprintf(`{"notice_no": %q, "project_no": "JN-P-%s", "project_name": %q,
		"purchaser": {"id": "jn-edu-bureau", "name": "济南市教育局 Jinan Education Bureau"},
		"supplier": {"uscc": %q, "name": %q}, "amount": %q, "currency": "CNY", "awarded_on": "2026-10-08",
		"procurement_method": "open_tender", "status": "active"}`,
		no, no[len(no)-3:], project, uscc, name, amount)
	if err := d.post(ctx, base, "/v1/award-notices", notice); err != nil {
		return err
	}
	contract := fmt.Sprintf(`{"contract_no": "HT-%s", "notice_no": %q, "purchaser": {"id": "jn-edu-bureau"},
		"supplier": {"uscc": %q}, "amount": %q, "signed_on": "2026-10-20",
		"period": {"start": "2026-11-01", "end": "2027-10-31"},
		"payment_terms": [{"due_on": "2027-11-30", "amount": %q, "condition": "acceptance"}], "status": "active"}`,
		no, no, uscc, amount, amount)
	return d.post(ctx, base, "/v1/contracts", contract)
}

// demoCall makes one API call with the token (if any) and decodes a 2xx
// answer into out.
func demoCall(ctx context.Context, method, url, token, key string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	req.Header.Set("Cache-Control", "no-cache")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if res.StatusCode >= 300 {
		return &statusError{method: method, url: url, status: res.StatusCode, body: strings.TrimSpace(string(b))}
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

func demoLogin(ctx context.Context, base, user string) (string, error) {
	for _, u := range demoUsers {
		if u.Username == user {
			var tok struct {
				AccessToken string `json:"access_token"`
			}
			err := demoCall(ctx, http.MethodPost, base+"/v1/auth/token", "", "", map[string]string{"username": u.Username, "password": u.Password}, &tok)
			return tok.AccessToken, err
		}
	}
	return "", errors.New("no demo user " + user)
}

// demoApply applies for s as its supplier on its contract and returns the
// application's id.
func demoApply(ctx context.Context, base, token string, s demoStory, key string) (string, error) {
	var list struct {
		Items []struct {
			ID         string `json:"id"`
			ContractNo string `json:"contract_no"`
		} `json:"items"`
	}
	if err := demoCall(ctx, http.MethodGet, base+"/v1/contracts", token, "", nil, &list); err != nil {
		return "", err
	}
	contractID := ""
	for _, c := range list.Items {
		if c.ContractNo == "HT-"+s.contract {
			contractID = c.ID
		}
	}
	if contractID == "" {
		return "", errors.New("contract HT-" + s.contract + " not found")
	}
	var app struct {
		ID string `json:"id"`
	}
	err := demoCall(ctx, http.MethodPost, base+"/v1/credit-applications", token, key, map[string]any{
		"contract_id": contractID, "bank_id": s.bank, "amount": s.request, "term_days": 180, "purpose": "原材料采购 Materials"}, &app)
	return app.ID, err
}

// demoCancelWhenReceived waits (up to a minute) until the bank has
// received the application, then cancels it as its supplier.
func demoCancelWhenReceived(ctx context.Context, base, token, id string) error {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(time.Minute)
	for {
		var app struct {
			Status string `json:"status"`
		}
		if err := demoCall(ctx, http.MethodGet, base+"/v1/credit-applications/"+id, token, "", nil, &app); err != nil {
			return err
		}
		if app.Status == "received" {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the application stayed %s", app.Status)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return demoCall(ctx, http.MethodPost, base+"/v1/credit-applications/"+id+"/cancel", token, "demo-cancel-"+id, nil, nil)
}

// demoStoriesText is what the demo prints of its stories.
func demoStoriesText() string {
	var b strings.Builder
	fmt.Fprintf(&b, "The demo's own applications show the sandbox banks' protocol 1.1, a step\nevery %s (log in as their supplier; Applications, then each one's page):\n", demoStep)
	for _, s := range demoStories {
		fmt.Fprintf(&b, "  %-9s HT-%s  %10s  %s:\n      %s\n", s.user, s.contract, s.request, s.bank, s.shows)
	}
	fmt.Fprintf(&b, "Credit lines (the portal's front page): jinan-rural-sandbox changes lixia's\nline to %s, not revolving, and revokes quancheng's. As officer, the\nsubsidy claims of these repayments are under Claims (/console/claims).\n", demoChangedLimit)
	return b.String()
}
