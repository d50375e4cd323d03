package lending_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/big"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"pgregory.net/rapid"

	"procfin/contracts"
	"procfin/lending"
	"procfin/platform/errs"
	"procfin/platform/money"
	"procfin/platform/postgres"
	"procfin/subsidies"
)

// TestStateTable checks the transition table against the lifecycle written
// out by hand from the specification, for every pair of statuses.
func TestStateTable(t *testing.T) {
	t.Parallel()
	all := []lending.Status{lending.Submitted, lending.Delivered, lending.Received, lending.Approved, lending.Rejected,
		lending.Disbursed, lending.Repaid, lending.Closed, lending.Cancelled, lending.DeliveryFailed}
	// The wire names are part of the API (api.md, bank-protocol.md).
	names := []string{"submitted", "delivered", "received", "approved", "rejected", "disbursed", "repaid", "closed", "cancelled", "delivery_failed"}
	for i, s := range all {
		if string(s) != names[i] {
			t.Errorf("status %q, want %q", s, names[i])
		}
		if !lending.KnownStatus(s) {
			t.Errorf("KnownStatus(%q) = false", s)
		}
	}
	allowed := map[[2]string]bool{
		{"submitted", "delivered"}: true, {"submitted", "delivery_failed"}: true, {"submitted", "cancelled"}: true,
		{"delivered", "received"}: true, {"delivered", "approved"}: true, {"delivered", "rejected"}: true, {"delivered", "cancelled"}: true,
		{"received", "approved"}: true, {"received", "rejected"}: true, {"received", "cancelled"}: true,
		{"delivery_failed", "submitted"}: true, {"delivery_failed", "cancelled"}: true,
		{"approved", "disbursed"}: true, {"approved", "closed"}: true,
		{"disbursed", "disbursed"}: true, {"disbursed", "repaid"}: true, {"disbursed", "closed"}: true,
		{"repaid", "disbursed"}: true, {"repaid", "closed"}: true,
		// rejected, cancelled and closed go nowhere.
	}
	for _, from := range all {
		for _, to := range all {
			want := allowed[[2]string{string(from), string(to)}]
			if got := lending.CanBecome(from, to); got != want {
				t.Errorf("CanBecome(%s, %s) = %v, want %v", from, to, got, want)
			}
		}
	}
	for _, bogus := range []lending.Status{"", "bogus", "SUBMITTED", "Submitted", " submitted"} {
		if lending.KnownStatus(bogus) {
			t.Errorf("KnownStatus(%q) = true", bogus)
		}
		for _, s := range all {
			if lending.CanBecome(bogus, s) || lending.CanBecome(s, bogus) {
				t.Errorf("an unknown status %q takes part in a transition with %s", bogus, s)
			}
		}
	}
}

// gen draws an iteration's random choices through rapid, which leans
// towards the edges of ranges and shrinks a failing sequence.
type gen struct{ *rapid.T }

func (g gen) Int64Range(lo, hi int64, label string) int64 {
	return rapid.Int64Range(lo, hi).Draw(g.T, label)
}
func (g gen) IntRange(lo, hi int, label string) int { return rapid.IntRange(lo, hi).Draw(g.T, label) }
func (g gen) Bool(label string) bool                { return rapid.Bool().Draw(g.T, label) }
func (g gen) OneOf(list []string, label string) string {
	return rapid.SampledFrom(list).Draw(g.T, label)
}

// rapidChecks is how many random sequences TestLendingStateMachine runs
// when neither -rapid.checks nor RAPID_CHECKS says otherwise: rapid's
// default of 100 takes too long against a real database under -race.
const rapidChecks = 40

var rapidChecksChosen = sync.OnceValue(func() bool {
	if _, ok := os.LookupEnv("RAPID_CHECKS"); ok {
		return true
	}
	chosen := false
	flag.Visit(func(f *flag.Flag) { chosen = chosen || f.Name == "rapid.checks" })
	return chosen
})

// limitRapidChecks sets rapid's number of checks to n for this test unless
// the caller chose one (rapid reads it only from its flag). The flag is the
// process's: a test that calls it does not run in parallel.
func limitRapidChecks(t *testing.T, n int) {
	f := flag.Lookup("rapid.checks")
	if f == nil || rapidChecksChosen() {
		return
	}
	old := f.Value.String()
	if err := flag.Set("rapid.checks", strconv.Itoa(n)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = flag.Set("rapid.checks", old) })
}

// propSeq makes every contract, line, loan and event id of the property
// test unique across the iterations (which share one database).
var propSeq atomic.Int64

// cents is an amount in 分, the model's unit.
type cents = int64

func toCents(rt gen, s string) cents {
	rt.Helper()
	a, err := money.ParseAmount(s)
	if err != nil {
		rt.Fatalf("amount %q from the database: %v", s, err)
	}
	return a.Decimal().Shift(2).IntPart()
}

func amountOf(c cents) money.Amount {
	sign := ""
	if c < 0 {
		sign, c = "-", -c
	}
	return money.MustAmount(fmt.Sprintf("%s%d.%02d", sign, c/100, c%100))
}

func fmtCents(c cents) string { return amountOf(c).String() }

// mApp is the model of one application: what it should be.
type mApp struct {
	id                              string
	status                          lending.Status
	amount                          cents
	approved                        cents // 0 until approved
	financingHeld, lineHeld         cents
	disbursed, repaid, interestPaid cents
	onLine                          bool
	everApproved                    bool
	hasLoan                         bool
	drawdownEnded                   bool        // loan.drawdown_ended, or closed
	closedAs                        string      // why it closed: repaid, written_off, lapsed
	writtenOff                      bool        // its loan was written off (a bar, even once closed as repaid after)
	overdue                         bool        // an overdue episode is open
	overdues                        []mEpisode  // every overdue episode, in the order opened
	tranches                        []*mTranche // in the order disbursed
	periods                         []mPeriod   // the interest periods stored
	claims                          []*mClaim   // the subsidy claims of its repayments
	confirmed                       bool        // the purchaser confirmed its repayment account (its claims are not held)
	alerted                         bool        // its bank disbursed before the purchaser confirmed (disbursed_unconfirmed_at)
}

// mEpisode is an overdue episode [since, cured) in days from propDay0;
// open until cured (cured is then meaningless).
type mEpisode struct {
	since, cured int
	open         bool
}

// overdueOn reports whether a's loan was overdue on day d: some episode
// with since ≤ d, not cured or cured after d.
func (a *mApp) overdueOn(d int) bool {
	return slices.ContainsFunc(a.overdues, func(e mEpisode) bool { return e.since <= d && (e.open || d < e.cured) })
}

// mClaim is the model of one repayment's subsidy claim.
type mClaim struct {
	repayment string // the bank's repayment id
	paidOn    int
	amount    cents
	status    string // pending, held, rejected or ineligible
	reason    string // the rejection reason
}

// mTranche is the model of one disbursement: its principal, what was
// repaid of it, its value date in days from propDay0, its annual rate,
// and the principal each repayment took of it, in the order recorded.
type mTranche struct {
	id             string
	amount, repaid cents
	valueDay       int
	rate           *big.Rat
	taken          []mTaken
}

// mTaken is principal a repayment paid on day paidOn took of a tranche.
type mTaken struct {
	paidOn    int
	principal cents
}

// The subsidy policy of the property tests (withSubsidies): half the
// interest, capped day by day at the 1-year LPR, which changes twice
// within the tests' dates. lprOn is that table by day from propDay0.
var (
	propLPR = []subsidies.LPRInput{{From: "2026-01-01", Rate: "0.0345"}, {From: "2026-10-15", Rate: "0.0310"},
		{From: "2026-11-05", Rate: "0.0300"}}
	propRatio = big.NewRat(1, 2)
)

// propYearlyCap is the policy's cap of a supplier's claims in a year:
// some iterations reach it.
const propYearlyCap cents = 10000

// lprOn is the 1-year LPR in force on day d from propDay0 (2026-10-01):
// 3.45 % before 2026-10-15 (day 14), 3.10 % before 2026-11-05 (day 35,
// October having 31 days), 3.00 % from then on.
func lprOn(d int) *big.Rat {
	switch {
	case d < 14:
		return big.NewRat(345, 10000)
	case d < 35:
		return big.NewRat(310, 10000)
	default:
		return big.NewRat(300, 10000)
	}
}

// trancheRates are the annual rates tranches are disbursed at: below every
// cap, between them, at or above every cap.
var trancheRates = map[string]*big.Rat{"0.0290": big.NewRat(290, 10000), "0.0320": big.NewRat(320, 10000), "0.0345": big.NewRat(345, 10000)}

// subsidyOf is the model's subsidy, in 分, of a repayment of application a
// paying interest for the days [start, end) on its tranche target (-1:
// every tranche), before the repayment's own principal is taken: day by day,
// each tranche's principal outstanding that day (its amount from its value
// date on, less what earlier repayments paid on or before that day took of
// it) × min(its rate, the LPR that day) / 360, summed exactly; capped by
// the interest paid; × the ratio; rounded half-up to the 分 once.
func subsidyOf(a *mApp, target, start, end int, interest cents) cents {
	covered := a.tranches
	if target >= 0 {
		covered = a.tranches[target : target+1]
	}
	sum := new(big.Rat)
	for d := start; d < end; d++ {
		for _, t := range covered {
			if d < t.valueDay {
				continue
			}
			out := t.amount
			for _, k := range t.taken {
				if k.paidOn <= d {
					out -= k.principal
				}
			}
			if out <= 0 {
				continue
			}
			rate := t.rate
			if c := lprOn(d); c.Cmp(rate) < 0 {
				rate = c
			}
			sum.Add(sum, new(big.Rat).Mul(new(big.Rat).SetInt64(out), rate))
		}
	}
	eligible := sum.Quo(sum, big.NewRat(360, 1))
	if paid := new(big.Rat).SetInt64(interest); eligible.Cmp(paid) > 0 {
		eligible = paid
	}
	x := eligible.Mul(eligible, propRatio)
	// half-up of x ≥ 0: ⌊(2·num + den) / (2·den)⌋.
	num := new(big.Int).Add(new(big.Int).Lsh(x.Num(), 1), x.Denom())
	return num.Quo(num, new(big.Int).Lsh(x.Denom(), 1)).Int64()
}

// mPeriod is a stored interest period [start, end) in days from propDay0,
// of a tranche (its index) or, -1, of the whole loan.
type mPeriod struct{ tranche, start, end int }

// propDay0 is day 0 of the property test's dates; the world's clock says
// 2026-11-20 (day 50), so a payment may be dated up to day 51.
var propDay0 = money.MustDate("2026-10-01")

const propTomorrow = 51

func (a *mApp) loanID() string { return "PLN-" + a.id }

// model is one iteration's contract, line and applications.
type model struct {
	limit, financed         cents // the contract's financing limit and what is held of it
	lineLimit, lineUsed     cents
	lineRevoked, revolving  bool
	apps                    []*mApp
	byID                    map[string]*mApp
	contractID, lineID      string
	bankLineID              string
	contractAmount, retains cents
	uscc                    string // the iteration's own supplier, whom overdue and write-offs bar
	receivable              string // the contract's receivable: "" before any approval, pending or confirmed
	claimed                 cents  // what the supplier's pending and held claims hold of its yearly cap (all are of 2026)
}

// supplierBarred says whether the supplier fails supplier.not_overdue: a
// loan overdue, or one written off (all within the bar of a year here).
func (m *model) supplierBarred() bool {
	for _, a := range m.apps {
		if a.overdue || a.writtenOff {
			return true
		}
	}
	return false
}

// newSupplier registers the n-th iteration's supplier and returns its
// USCC: a valid code of organisation body P and n's digits.
func (p *prop) newSupplier(n int64) string {
	p.rt.Helper()
	prefix := fmt.Sprintf("91350100P%07d", n%10000000)
	for _, oc := range "0123456789X" {
		for _, cc := range "0123456789ABCDEFGHJKLMNPQRTUWXY" {
			code := prefix + string(oc) + string(cc)
			if _, err := contracts.ParseUSCC(code); err != nil {
				continue
			}
			emp := 42
			rev, assets := money.MustAmount("8000000.00"), money.MustAmount("5000000.00")
			if _, _, err := p.w.contracts.RegisterSupplier(ctx, contracts.SupplierRegistration{USCC: code, Name: "Firm " + code[9:16],
				Industry: "software_it", Employees: &emp, AnnualRevenue: &rev, TotalAssets: &assets}, "test"); err != nil {
				p.rt.Fatalf("register supplier %s: %v", code, err)
			}
			return code
		}
	}
	p.rt.Fatalf("no valid USCC for %s", prefix)
	return ""
}

func (m *model) release(a *mApp, financing, line cents) {
	a.financingHeld -= financing
	m.financed -= financing
	a.lineHeld -= line
	m.lineUsed -= line
}

func (m *model) final(a *mApp, to lending.Status) {
	m.release(a, a.financingHeld, a.lineHeld-m.lineKept(a))
	a.status = to
}

// lineKept is what a's line keeps for good once a draws no more: principal
// not repaid and, on a line that is not revolving, repaid principal too.
func (m *model) lineKept(a *mApp) cents {
	kept := a.disbursed - a.repaid
	if !m.revolving {
		kept = a.disbursed
	}
	return max(0, min(kept, a.lineHeld))
}

// close closes a's loan on day for reason: everything held beyond the
// line's keep is released, an open overdue episode ends that day (or on
// its start, if later).
func (m *model) close(a *mApp, reason string, day int) {
	m.final(a, lending.Closed)
	a.closedAs, a.drawdownEnded = reason, true
	a.writtenOff = a.writtenOff || reason == "written_off"
	a.cure(max(day, a.openSince()))
}

// propCloseDay is the day loan.closed closes loans on, propEndDay the day
// loan.drawdown_ended ends their drawdown on.
const propCloseDay, propEndDay = 45, 40

// openSince is the start of a's open overdue episode (-1: none).
func (a *mApp) openSince() int {
	for _, e := range a.overdues {
		if e.open {
			return e.since
		}
	}
	return -1
}

// cure ends a's open overdue episode, if any, on day.
func (a *mApp) cure(day int) {
	for i := range a.overdues {
		if a.overdues[i].open {
			a.overdues[i].open, a.overdues[i].cured = false, day
		}
	}
	a.overdue = false
}

func oneOf(s lending.Status, set ...lending.Status) bool { return slices.Contains(set, s) }

// prop runs one iteration's operations against the service and the model.
type prop struct {
	rt  gen
	w   *world
	m   *model
	ops []string // the operations drawn from (nil: ops)
	// lawful: approvals, tranches and repayments are drawn only with
	// figures a bank could send (more of them succeed), except where an
	// application's state makes them wrong.
	lawful bool
}

const bank = "qilu-bank"

var ceiling = money.MustRate("0.05")

func (p *prop) newContract(no string, retention cents) string {
	p.rt.Helper()
	src := contracts.Source{Kind: "signed", KeyID: "k1", MessageID: no, Actor: "issuer:jinan-pprc"}
	_, _, err := p.w.contracts.SubmitAwardNotice(ctx, "jinan-pprc", contracts.AwardNoticeDoc{
		NoticeNo: "N-" + no, ProjectNo: "P-" + no, ProjectName: "Network", Purchaser: contracts.Party{ID: "sdu", Name: "SDU"},
		Supplier: contracts.SupplierRef{USCC: p.m.uscc}, Amount: money.MustAmount("1200000.00"), Currency: "CNY",
		AwardedOn: money.MustDate("2026-10-08"), ProcurementMethod: "open_tender", Status: "active"}, src)
	if err != nil {
		p.rt.Fatal(err)
	}
	var ret *money.Amount
	if retention > 0 {
		r := amountOf(retention)
		ret = &r
	}
	c, _, err := p.w.contracts.SubmitContract(ctx, "jinan-pprc", contracts.ContractDoc{
		ContractNo: no, NoticeNo: "N-" + no, Purchaser: contracts.Party{ID: "sdu"}, Supplier: contracts.SupplierRef{USCC: p.m.uscc},
		Amount: money.MustAmount("1180000.00"), Retention: ret, SignedOn: money.MustDate("2026-10-20"),
		Period: contracts.Period{Start: money.MustDate("2026-11-01"), End: money.MustDate("2027-04-30")}, Status: "active"}, src)
	if err != nil {
		p.rt.Fatal(err)
	}
	return c.ID
}

func (p *prop) setLine(limit cents, granted bool) (lending.CreditLine, error) {
	var l lending.CreditLine
	err := p.w.tx(func(tx *postgres.Tx) error {
		c := ceiling
		var err error
		l, err = p.w.lending.SetLine(ctx, tx, bank, lending.LineTerms{BankLineID: p.m.bankLineID, SupplierUSCC: p.m.uscc,
			Limit: amountOf(limit), ValidFrom: money.MustDate("2026-01-01"), ValidUntil: money.MustDate("2027-12-31"),
			Revolving: p.m.revolving, RateCeiling: &c}, granted, "bank:"+bank)
		return err
	})
	return l, err
}

// snapshot is everything an operation on this iteration's applications
// may touch, as text: a refused operation must leave it as it was.
func (p *prop) snapshot() string {
	p.rt.Helper()
	var s string
	err := p.w.db.Get(&s, `
		SELECT concat_ws(E'\n',
			(SELECT row_to_json(c)::text FROM contracts c WHERE c.id = $1),
			(SELECT row_to_json(l)::text FROM credit_lines l WHERE l.id = $2),
			(SELECT json_agg(a ORDER BY a.seq)::text FROM applications a WHERE a.contract_id = $1),
			(SELECT json_agg(t ORDER BY t.application_id, t.n)::text FROM application_transitions t
				JOIN applications a ON a.id = t.application_id WHERE a.contract_id = $1),
			(SELECT json_agg(l ORDER BY l.id)::text FROM loans l JOIN applications a ON a.id = l.application_id WHERE a.contract_id = $1),
			(SELECT json_agg(d ORDER BY d.id)::text FROM disbursements d JOIN loans l ON l.id = d.loan_id
				JOIN applications a ON a.id = l.application_id WHERE a.contract_id = $1),
			(SELECT json_agg(r ORDER BY r.id)::text FROM repayments r JOIN loans l ON l.id = r.loan_id
				JOIN applications a ON a.id = l.application_id WHERE a.contract_id = $1),
			(SELECT json_agg(ra ORDER BY ra.application_id)::text FROM repayment_accounts ra
				JOIN applications a ON a.id = ra.application_id WHERE a.contract_id = $1),
			(SELECT json_agg(d ORDER BY d.id)::text FROM deliveries d JOIN applications a ON a.id = d.application_id WHERE a.contract_id = $1),
			(SELECT count(*)::text FROM consents),
			(SELECT count(*)::text FROM audit_log))`, p.m.contractID, p.m.lineID)
	if err != nil {
		p.rt.Fatalf("snapshot: %v", err)
	}
	return s
}

// outcome is what the model says an operation should do.
type outcome struct {
	ok     bool      // succeeds (or is a harmless no-op when noop)
	noop   bool      // succeeds without changing anything
	code   errs.Code // the error code when refused
	commit func()    // applies the operation to the model on success
}

func refused(code errs.Code) outcome { return outcome{code: code} }

// sized draws an amount from lo to hi, half the time from the upper half
// (rapid leans towards small values, and subsidies need large ones too);
// a lawful one at least a hundredth of the way up.
func (p *prop) sized(lo, hi int64, label string) int64 {
	if p.lawful {
		lo += (hi - lo) / 100
	}
	if hi-lo >= 2 && p.rt.Bool(label+"_large") {
		return p.rt.Int64Range(lo+(hi-lo)/2, hi, label)
	}
	return p.rt.Int64Range(lo, hi, label)
}

// pick draws the application an operation acts on: mostly one in a state
// where the operation can succeed (so that sequences reach disbursement,
// repayment and closing), otherwise any, to exercise the refusals.
func (p *prop) pick(prefer ...lending.Status) *mApp {
	if len(p.m.apps) == 0 {
		return nil
	}
	var fit []*mApp
	for _, a := range p.m.apps {
		if oneOf(a.status, prefer...) {
			fit = append(fit, a)
		}
	}
	if len(fit) > 0 && p.rt.IntRange(0, 3, "prefer") > 0 {
		return fit[p.rt.IntRange(0, len(fit)-1, "app")]
	}
	return p.m.apps[p.rt.IntRange(0, len(p.m.apps)-1, "app")]
}

// preferred are the states in which each operation can succeed.
var preferred = map[string][]lending.Status{
	"cancel":          {lending.Submitted, lending.Delivered, lending.Received, lending.DeliveryFailed},
	"deliver":         {lending.Submitted},
	"delivery_failed": {lending.Submitted},
	"requeue":         {lending.DeliveryFailed},
	"received":        {lending.Submitted, lending.Delivered},
	"approve":         {lending.Submitted, lending.Delivered, lending.Received},
	"reject":          {lending.Submitted, lending.Delivered, lending.Received},
	"disburse":        {lending.Approved, lending.Disbursed, lending.Repaid},
	"repay":           {lending.Disbursed, lending.Repaid},
	"end_drawdown":    {lending.Disbursed, lending.Repaid},
	"close":           {lending.Disbursed, lending.Repaid},
	"overdue":         {lending.Disbursed},
	"cure":            {lending.Disbursed, lending.Repaid},
	"lapse":           {lending.Approved},
	"confirm":         {lending.Approved, lending.Disbursed, lending.Repaid},
}

var ops = []string{"apply", "apply", "cancel", "deliver", "delivery_failed", "requeue", "received", "approve", "approve",
	"approve", "reject", "disburse", "disburse", "disburse", "disburse", "repay", "repay", "repay", "repay", "change_line",
	"change_line", "revoke_line", "end_drawdown", "close", "close", "overdue", "cure", "lapse", "confirm"}

// step draws and runs one operation, then checks the model and invariants.
func (p *prop) step(i int) {
	rt, m, w := p.rt, p.m, p.w
	rt.Helper()
	list := ops
	if p.ops != nil {
		list = p.ops
	}
	op := rt.OneOf(list, "op")
	a := p.pick(preferred[op]...)
	if a == nil && op != "change_line" && op != "revoke_line" {
		op = "apply"
	}
	var (
		desc string
		want outcome
		run  func() error
	)
	switch op {
	case "apply":
		amount := p.sized(1, 60000000, "amount")
		line := rt.Bool("with_line")
		desc = fmt.Sprintf("apply %s line=%v", fmtCents(amount), line)
		switch {
		case amount > m.limit-m.financed:
			want = refused(errs.VerificationFailed)
		case line && (m.lineRevoked || amount > m.lineLimit-m.lineUsed):
			want = refused(errs.VerificationFailed)
		case m.supplierBarred(): // supplier.not_overdue
			want = refused(errs.VerificationFailed)
		default:
			want = outcome{ok: true}
		}
		var got lending.Application
		run = func() error {
			amt, days := amountOf(amount), 90
			in := lending.ApplyInput{ContractID: m.contractID, BankID: bank, Amount: &amt, TermDays: &days, Purpose: "materials"}
			if line {
				in.CreditLineID = &m.lineID
			}
			var err error
			got, err = w.lending.Apply(ctx, lending.Applicant{UserID: "u1", SupplierUSCC: m.uscc}, in)
			return err
		}
		want.commit = func() {
			na := &mApp{id: got.ID, status: lending.Submitted, amount: amount, financingHeld: amount, onLine: line}
			if line {
				na.lineHeld = amount
				m.lineUsed += amount
			}
			m.financed += amount
			m.apps = append(m.apps, na)
			m.byID[na.id] = na
			if got.Status != lending.Submitted || !got.Amount.Equal(amountOf(amount)) || len(got.History) != 1 || got.Consent == nil {
				rt.Fatalf("applied: %+v", got)
			}
		}
	case "cancel":
		desc = "cancel " + a.id
		if oneOf(a.status, lending.Submitted, lending.Delivered, lending.Received, lending.DeliveryFailed) {
			want = outcome{ok: true, commit: func() { m.final(a, lending.Cancelled) }}
		} else {
			want = refused(errs.InvalidTransition)
		}
		run = func() error {
			_, err := w.lending.Cancel(ctx, lending.Scope{SupplierUSCC: m.uscc}, a.id, "user:u1")
			return err
		}
	case "deliver":
		desc = "deliver " + a.id
		want = outcome{ok: true, noop: a.status != lending.Submitted, commit: func() { a.status = lending.Delivered }}
		run = func() error {
			return w.tx(func(tx *postgres.Tx) error { return w.lending.MarkDelivered(ctx, tx, a.id, "REF-"+a.id[:8]) })
		}
	case "delivery_failed":
		desc = "delivery failed " + a.id
		want = outcome{ok: true, noop: a.status != lending.Submitted, commit: func() { a.status = lending.DeliveryFailed }}
		run = func() error {
			return w.tx(func(tx *postgres.Tx) error { return w.lending.MarkDeliveryFailed(ctx, tx, a.id, "HTTP 503") })
		}
	case "requeue":
		desc = "requeue " + a.id
		want = outcome{ok: true, noop: a.status != lending.DeliveryFailed, commit: func() { a.status = lending.Submitted }}
		run = func() error {
			return w.tx(func(tx *postgres.Tx) error { return w.lending.Requeued(ctx, tx, a.id, "user:admin") })
		}
	case "received":
		desc = "received " + a.id
		switch {
		case oneOf(a.status, lending.Submitted, lending.Delivered):
			want = outcome{ok: true, commit: func() { a.status = lending.Received }}
		case oneOf(a.status, lending.Approved, lending.Rejected, lending.Disbursed, lending.Repaid, lending.Closed):
			// A receipt after the bank's decision is accepted and changes nothing.
			want = outcome{ok: true, noop: true}
		default:
			want = refused(errs.InvalidTransition)
		}
		run = func() error {
			return w.tx(func(tx *postgres.Tx) error { return w.lending.Received(ctx, tx, bank, a.id, "", "bank:"+bank) })
		}
	case "approve":
		var approved cents
		switch k := rt.IntRange(0, 9, "approve_kind"); {
		case k == 0 && !p.lawful:
			approved = a.amount + rt.Int64Range(1, 10000000, "over")
		case k <= 1:
			approved = a.amount
		default:
			approved = p.sized(1, a.amount, "approved")
		}
		rate := rt.OneOf([]string{"0.0345", "0.0345", "0.0345", "0.0345", "0.0345", "0.0345", "0.0345", "0.0600"}, "rate")
		desc = fmt.Sprintf("approve %s of %s at %s", a.id, fmtCents(approved), rate)
		switch {
		case !oneOf(a.status, lending.Submitted, lending.Delivered, lending.Received):
			want = refused(errs.InvalidTransition)
		case approved > a.amount:
			want = refused(errs.InvalidTransition)
		case a.onLine && rate == "0.0600":
			want = refused(errs.InvalidTransition)
		default:
			want = outcome{ok: true, commit: func() {
				diff := a.amount - approved
				lineDiff := cents(0)
				if a.lineHeld > 0 {
					lineDiff = diff
				}
				m.release(a, diff, lineDiff)
				a.approved, a.everApproved, a.status = approved, true, lending.Approved
				// The receivable: a confirmation (of the contract's whole
				// amount, into the one account) covers the approval; else
				// it waits for the purchaser.
				if m.receivable == lending.ReceivableConfirmed {
					a.confirmed = true
				} else {
					m.receivable = lending.ReceivablePending
				}
			}}
		}
		run = func() error {
			return w.tx(func(tx *postgres.Tx) error {
				return w.lending.Approve(ctx, tx, bank, a.id, lending.Approval{ApprovedAmount: amountOf(approved),
					AnnualRate: money.MustRate(rate), TermDays: 90, RepaymentAccount: account}, "bank:"+bank)
			})
		}
	case "reject":
		desc = "reject " + a.id
		if oneOf(a.status, lending.Submitted, lending.Delivered, lending.Received) {
			want = outcome{ok: true, commit: func() { m.final(a, lending.Rejected) }}
		} else {
			want = refused(errs.InvalidTransition)
		}
		run = func() error {
			return w.tx(func(tx *postgres.Tx) error {
				return w.lending.Reject(ctx, tx, bank, a.id, "risk", "not this time", "bank:"+bank)
			})
		}
	case "disburse":
		remaining := a.approved - a.disbursed
		var amount cents
		switch k := rt.IntRange(0, 5, "disburse_kind"); {
		case k == 0 && !p.lawful || remaining <= 0:
			amount = max(remaining, 0) + rt.Int64Range(1, 10000000, "over")
		case k <= 1:
			amount = remaining
		default:
			amount = p.sized(1, remaining, "tranche")
		}
		seq := propSeq.Add(1)
		valueDay := rt.IntRange(0, 20, "value_day")
		rate := rt.OneOf([]string{"0.0290", "0.0320", "0.0345", "0.0345"}, "tranche_rate")
		desc = fmt.Sprintf("disburse %s on %s at %s, value date %s", fmtCents(amount), a.id, rate, propDay0.AddDays(valueDay))
		if oneOf(a.status, lending.Approved, lending.Disbursed, lending.Repaid) && a.disbursed+amount <= a.approved && !a.drawdownEnded {
			want = outcome{ok: true, commit: func() {
				if a.status == lending.Approved && !a.confirmed { // recorded, never refused
					a.alerted = true
				}
				a.disbursed += amount
				a.status, a.hasLoan = lending.Disbursed, true
				a.tranches = append(a.tranches, &mTranche{id: fmt.Sprintf("PD-%d", seq), amount: amount, valueDay: valueDay, rate: trancheRates[rate]})
			}}
		} else {
			want = refused(errs.InvalidTransition)
		}
		run = func() error {
			return w.tx(func(tx *postgres.Tx) error {
				return w.lending.DisburseOne(ctx, tx, bank, a.id, a.loanID(), lending.Disbursement{BankDisbursementID: fmt.Sprintf("PD-%d", seq),
					Amount: amountOf(amount), ValueDate: propDay0.AddDays(valueDay), MaturityDate: money.MustDate("2027-05-21"),
					AnnualRate: money.MustRate(rate)}, "bank:"+bank)
			})
		}
	case "repay":
		// The tranche repaid: -1 the whole loan, len(a.tranches) one the
		// loan does not have.
		target := -1
		switch k := rt.IntRange(0, 4, "target"); {
		case k == 1 && !p.lawful:
			target = len(a.tranches)
		case k >= 2 && len(a.tranches) > 0:
			target = rt.IntRange(0, len(a.tranches)-1, "tranche")
		}
		loanOutstanding := a.disbursed - a.repaid
		outstanding := loanOutstanding
		if target >= 0 && target < len(a.tranches) {
			outstanding = a.tranches[target].amount - a.tranches[target].repaid
		}
		var principal, interest cents
		switch k := rt.IntRange(0, 5, "repay_kind"); {
		case p.lawful && outstanding == 0:
			principal = 0
		case p.lawful && (k == 0 || k >= 4):
			principal = rt.Int64Range(1, outstanding, "principal")
		case k == 0, k == 5 && outstanding < loanOutstanding: // over the tranche's outstanding, often not the loan's
			principal = outstanding + rt.Int64Range(1, loanOutstanding-outstanding+100, "over")
		case k == 1:
			principal = outstanding
		case k == 2 || outstanding == 0:
			principal = 0
		default:
			principal = rt.Int64Range(1, outstanding, "principal")
		}
		if rt.IntRange(0, 3, "with_interest") > 0 {
			interest = p.sized(1, 500000, "interest")
		}
		// The interest period [start, end) and the payment, in days from
		// propDay0: mostly true figures (from the value date on, a week
		// or so, paid at its end or the day after), sometimes not.
		hasPeriod := interest > 0 || rt.Bool("zero_interest_period")
		firstValue := 0
		for i, t := range a.tranches {
			if i == 0 || t.valueDay < firstValue {
				firstValue = t.valueDay
			}
		}
		if target >= 0 && target < len(a.tranches) {
			firstValue = a.tranches[target].valueDay
		}
		var start, end, paidOn int
		if p.lawful || rt.IntRange(0, 4, "true_figures") > 0 {
			start = firstValue + rt.IntRange(0, 24, "start")
			if p.lawful || rt.Bool("next_period") { // from the end of the last period it may not overlap
				for _, q := range a.periods {
					if target == -1 || q.tranche == -1 || q.tranche == target {
						start = max(start, q.end)
					}
				}
			}
			end = start + rt.IntRange(1, 7, "days")
			paidOn = min(end+rt.IntRange(0, 1, "paid_after"), propTomorrow)
		} else {
			hasPeriod = hasPeriod && rt.IntRange(0, 4, "drop_period") > 0
			start = rt.IntRange(-2, 50, "start")
			end = start + rt.IntRange(-1, 10, "days")
			paidOn = end + rt.IntRange(-1, 3, "paid_after")
		}
		trancheID := ""
		switch {
		case target == len(a.tranches):
			trancheID = fmt.Sprintf("PD-none-%d", propSeq.Add(1))
		case target >= 0:
			trancheID = a.tranches[target].id
		}
		overlaps := false
		for _, q := range a.periods {
			if (target == -1 || q.tranche == -1 || q.tranche == target) && q.start < end && start < q.end {
				overlaps = true
			}
		}
		seq := propSeq.Add(1)
		desc = fmt.Sprintf("repay %s + %s interest on %s, tranche %q", fmtCents(principal), fmtCents(interest), a.id, trancheID)
		if hasPeriod {
			desc += fmt.Sprintf(", period %s to %s", propDay0.AddDays(start), propDay0.AddDays(end))
		}
		desc += ", paid on " + propDay0.AddDays(paidOn).String()
		switch {
		case principal == 0 && interest == 0:
			want = refused(errs.Invalid)
		case !hasPeriod && interest > 0,
			hasPeriod && (end <= start || end > paidOn),
			paidOn > propTomorrow:
			want = refused(errs.InvalidFigures)
		case !oneOf(a.status, lending.Disbursed, lending.Repaid) || !a.hasLoan || principal > loanOutstanding:
			want = refused(errs.InvalidTransition)
		case target == len(a.tranches):
			want = refused(errs.InvalidTransition)
		case hasPeriod && start < firstValue:
			want = refused(errs.InvalidFigures)
		case principal > outstanding:
			want = refused(errs.InvalidTransition)
		case hasPeriod && overlaps:
			want = refused(errs.InvalidTransition)
		default:
			want = outcome{ok: true, commit: func() {
				var claim *mClaim
				if interest > 0 { // its subsidy, from the repayments before it
					claim = &mClaim{repayment: fmt.Sprintf("PR-%d", seq), paidOn: paidOn, amount: subsidyOf(a, target, start, end, interest)}
					if room := max(0, propYearlyCap-m.claimed); claim.amount > room {
						claim.amount = room // what the supplier's yearly cap leaves
					}
					a.claims = append(a.claims, claim)
				}
				a.repaid += principal
				a.interestPaid += interest
				take := func(t *mTranche, p cents) {
					t.repaid += p
					if p > 0 {
						t.taken = append(t.taken, mTaken{paidOn: paidOn, principal: p})
					}
				}
				if target >= 0 {
					take(a.tranches[target], principal)
				} else { // the oldest tranches first: earliest value date, then earliest disbursed
					order := slices.Clone(a.tranches)
					slices.SortStableFunc(order, func(x, y *mTranche) int { return x.valueDay - y.valueDay })
					left := principal
					for _, t := range order {
						p := min(left, t.amount-t.repaid)
						take(t, p)
						left -= p
					}
				}
				if hasPeriod {
					a.periods = append(a.periods, mPeriod{tranche: target, start: start, end: end})
				}
				if a.onLine && m.revolving && principal > 0 {
					m.release(a, 0, min(principal, a.lineHeld))
				}
				if a.status == lending.Disbursed && a.disbursed == a.repaid {
					a.status = lending.Repaid
					if a.disbursed == a.approved || a.drawdownEnded {
						m.close(a, "repaid", paidOn)
					}
				}
				// The claim's status, with the repayment recorded: a
				// repayment that closes the loan ends its overdue that day.
				switch {
				case claim == nil:
				case a.overdueOn(paidOn):
					claim.status, claim.reason = subsidies.Rejected, subsidies.LoanOverdue
				case claim.amount == 0:
					claim.status = subsidies.Ineligible
				case !a.confirmed: // the purchaser has not confirmed: held, counted as pending
					claim.status = subsidies.Held
					m.claimed += claim.amount
				default:
					claim.status = subsidies.Pending
					m.claimed += claim.amount
				}
			}}
		}
		run = func() error {
			r := lending.Repayment{BankRepaymentID: fmt.Sprintf("PR-%d", seq), BankDisbursementID: trancheID,
				Principal: amountOf(principal), Interest: amountOf(interest), PaidOn: propDay0.AddDays(paidOn)}
			if hasPeriod {
				r.PeriodStart, r.PeriodEnd = propDay0.AddDays(start), propDay0.AddDays(end)
			}
			// As a batch of one bank event: the repayment and its claim
			// in one transaction.
			return w.tx(func(tx *postgres.Tx) error {
				res, err := w.lending.RepayOne(ctx, tx, bank, a.id, a.loanID(), r, "bank:"+bank)
				if err != nil {
					return err
				}
				return w.subsidies.OnRepaid(ctx, tx, []lending.RepaymentResult{res})
			})
		}
	case "change_line":
		var limit cents
		if m.lineUsed > 0 && rt.IntRange(0, 3, "below_used") == 0 {
			limit = rt.Int64Range(0, m.lineUsed-1, "limit")
		} else {
			limit = m.lineUsed + rt.Int64Range(0, 60000000, "headroom")
		}
		desc = "change line limit to " + fmtCents(limit)
		if !m.lineRevoked && limit >= m.lineUsed {
			want = outcome{ok: true, commit: func() { m.lineLimit = limit }}
		} else {
			want = refused(errs.InvalidTransition)
		}
		run = func() error { _, err := p.setLine(limit, false); return err }
	case "end_drawdown":
		desc = "end the drawdown of " + a.id
		switch {
		case !a.hasLoan:
			want = refused(errs.InvalidTransition)
		case a.drawdownEnded || a.status == lending.Closed:
			want = outcome{ok: true, noop: true}
		case a.status == lending.Repaid:
			want = outcome{ok: true, commit: func() { m.close(a, "repaid", propEndDay) }}
		default:
			want = outcome{ok: true, commit: func() {
				m.release(a, max(0, a.financingHeld-a.disbursed), a.lineHeld-m.lineKept(a))
				a.drawdownEnded = true
			}}
		}
		run = func() error {
			return w.tx(func(tx *postgres.Tx) error {
				return w.lending.EndDrawdownOne(ctx, tx, bank, a.id, a.loanID(), propDay0.AddDays(propEndDay), "bank:"+bank)
			})
		}
	case "close":
		reason := rt.OneOf([]string{"repaid", "written_off"}, "reason")
		desc = fmt.Sprintf("close %s as %s", a.id, reason)
		outstanding := a.disbursed - a.repaid
		switch {
		case !a.hasLoan:
			want = refused(errs.InvalidTransition)
		case a.status == lending.Closed && a.closedAs == reason:
			want = outcome{ok: true, noop: true}
		case a.status == lending.Closed && a.closedAs == "written_off" && reason == "repaid":
			// The bank was paid in the end: the lock is released, the rest
			// stays as the write-off left it.
			want = outcome{ok: true, commit: func() { a.closedAs = "repaid" }}
		case a.status == lending.Closed,
			reason == "repaid" && outstanding > 0,
			reason == "written_off" && outstanding == 0:
			want = refused(errs.InvalidTransition)
		default:
			want = outcome{ok: true, commit: func() { m.close(a, reason, propCloseDay) }}
		}
		run = func() error {
			return w.tx(func(tx *postgres.Tx) error {
				return w.lending.CloseOne(ctx, tx, bank, a.id, a.loanID(), propDay0.AddDays(propCloseDay), reason, "bank:"+bank)
			})
		}
	case "overdue":
		principal := rt.Int64Range(0, max(0, a.disbursed-a.repaid)+1, "overdue_principal")
		since := rt.IntRange(15, 45, "overdue_since")
		desc = fmt.Sprintf("overdue %s on %s since %s", fmtCents(principal), a.id, propDay0.AddDays(since))
		if !a.hasLoan || a.status == lending.Closed || principal > a.disbursed-a.repaid {
			want = refused(errs.InvalidTransition)
		} else {
			want = outcome{ok: true, commit: func() {
				if !a.overdue { // an open episode keeps its start
					a.overdues = append(a.overdues, mEpisode{since: since, open: true})
				}
				a.overdue = true
				// A pending or held claim of a repayment paid since the episode began is rejected.
				start := a.openSince()
				for _, c := range a.claims {
					if (c.status == subsidies.Pending || c.status == subsidies.Held) && c.paidOn >= start {
						c.status, c.reason = subsidies.Rejected, subsidies.LoanOverdue
						m.claimed -= c.amount
					}
				}
			}}
		}
		// As a batch of one bank event: the overdue and what it does to
		// the loan's claims in one transaction.
		run = func() error {
			return w.tx(func(tx *postgres.Tx) error {
				l, err := w.lending.LockLoan(ctx, tx, lending.LoanKey{BankID: bank, ApplicationID: a.id, BankLoanID: a.loanID()})
				if err != nil {
					return err
				}
				o, err := w.lending.Overdue(ctx, tx, l, amountOf(principal), propDay0.AddDays(since), "bank:"+bank)
				if err != nil {
					return err
				}
				return w.subsidies.OnOverdue(ctx, tx, []lending.OverdueResult{o})
			})
		}
	case "cure":
		for _, x := range m.apps { // mostly an overdue one, if any
			if x.overdue && rt.IntRange(0, 3, "cure_overdue") > 0 {
				a = x
				break
			}
		}
		day := rt.IntRange(13, 50, "cured_on")
		desc = fmt.Sprintf("cure %s on %s", a.id, propDay0.AddDays(day))
		switch {
		case !a.hasLoan || !a.overdue:
			want = refused(errs.InvalidTransition)
		case day < a.openSince():
			want = refused(errs.Invalid)
		default:
			want = outcome{ok: true, commit: func() { a.cure(day) }}
		}
		run = func() error {
			return w.tx(func(tx *postgres.Tx) error {
				return w.lending.CureOne(ctx, tx, bank, a.id, a.loanID(), propDay0.AddDays(day), "bank:"+bank)
			})
		}
	case "confirm":
		// The purchaser confirms the contract's receivable, for the
		// contract's whole amount into the one account the bank approves
		// (so that it covers every later approval too): every live
		// application's lock is confirmed, and its held claims become
		// pending (OnConfirmed: subsidies.ReleaseHeld).
		desc = "confirm the receivable"
		var live []*mApp
		approvedAny := false
		for _, x := range m.apps {
			approvedAny = approvedAny || x.everApproved
			// A closed loan disbursed before a confirmation that never came
			// is covered too: its held claims wait for the confirmation.
			if oneOf(x.status, lending.Approved, lending.Disbursed, lending.Repaid) || x.status == lending.Closed && x.alerted && !x.confirmed {
				live = append(live, x)
			}
		}
		switch {
		case !approvedAny:
			want = refused(errs.NotFound) // no receivable before an approval
		case len(live) == 0 && m.receivable == lending.ReceivableConfirmed:
			want = outcome{ok: true, noop: true} // the recorded confirmation again: nothing changes
		case len(live) == 0:
			want = refused(errs.InvalidTransition) // nothing approved to confirm
		default:
			want = outcome{ok: true, commit: func() {
				m.receivable = lending.ReceivableConfirmed
				for _, x := range live {
					x.confirmed = true
					for _, c := range x.claims {
						if c.status == subsidies.Held {
							c.status = subsidies.Pending
						}
					}
				}
			}}
		}
		run = func() error {
			_, _, err := w.lending.Confirm(ctx, lending.Scope{}, m.contractID, lending.Confirmation{ConfirmedAmount: amountOf(m.contractAmount),
				RepaymentAccount: lending.Account{BankName: account.BankName, AccountNo: account.AccountNo, AccountName: account.AccountName},
				PaymentTerms:     json.RawMessage(`[]`)}, "user:purchaser")
			return err
		}
	case "lapse":
		desc = "lapse " + a.id
		if a.status == lending.Approved {
			want = outcome{ok: true, commit: func() { m.final(a, lending.Closed); a.closedAs = "lapsed" }}
		} else {
			want = refused(errs.InvalidTransition)
		}
		run = func() error {
			return w.tx(func(tx *postgres.Tx) error {
				return w.lending.Lapse(ctx, tx, bank, a.id, "expired", "bank:"+bank)
			})
		}
	case "revoke_line":
		desc = "revoke line"
		if m.lineRevoked {
			want = refused(errs.InvalidTransition)
		} else {
			want = outcome{ok: true, commit: func() { m.lineRevoked = true }}
		}
		run = func() error {
			return w.tx(func(tx *postgres.Tx) error {
				_, err := w.lending.RevokeLine(ctx, tx, bank, m.bankLineID, "risk review", "bank:"+bank)
				return err
			})
		}
	default:
		rt.Fatalf("unknown operation %q", op)
	}

	before := p.snapshot()
	err := run()
	rt.Logf("#%d %s → %v", i, desc, err)
	switch {
	case err != nil && want.ok:
		rt.Fatalf("#%d %s: %v; the model expected success", i, desc, err)
	case err == nil && !want.ok:
		rt.Fatalf("#%d %s succeeded; the model expected %s", i, desc, want.code)
	case err != nil:
		if !errs.Is(err, want.code) {
			rt.Fatalf("#%d %s: refused with %v (code %s), want code %s", i, desc, err, errs.CodeOf(err), want.code)
		}
		if after := p.snapshot(); after != before {
			rt.Fatalf("#%d %s was refused (%v) but changed the database:\nbefore %s\nafter  %s", i, desc, err, before, after)
		}
	case want.noop:
		if after := p.snapshot(); after != before {
			rt.Fatalf("#%d %s should change nothing, but changed the database:\nbefore %s\nafter  %s", i, desc, before, after)
		}
	default:
		want.commit()
	}
	p.check(fmt.Sprintf("#%d %s", i, desc))
}

// check compares the database with the model and asserts the invariants
// that hold whatever happened.
func (p *prop) check(after string) {
	rt, m, db := p.rt, p.m, p.w.db
	rt.Helper()
	fail := func(format string, args ...any) {
		rt.Helper()
		rt.Fatalf("after %s: %s", after, fmt.Sprintf(format, args...))
	}

	// The contract's receivable: as the model says.
	var receivable string
	if err := db.Get(&receivable, `SELECT coalesce((SELECT status FROM receivables WHERE contract_id = $1), '')`, m.contractID); err != nil {
		rt.Fatal(err)
	}
	if receivable != m.receivable {
		fail("the contract's receivable is %q; the model says %q", receivable, m.receivable)
	}

	// The contract: financed ≤ 0.85 × (amount − retention), and it is the
	// sum of what its applications hold.
	var c struct {
		Financed, Amount, Retention string
		Held                        string
	}
	if err := db.Get(&c, `
		SELECT financed::text AS financed, amount::text AS amount, retention::text AS retention,
			(SELECT coalesce(sum(financing_held), 0)::text FROM applications a WHERE a.contract_id = c.id) AS held
		FROM contracts c WHERE id = $1`, m.contractID); err != nil {
		fail("contract: %v", err)
	}
	financed := toCents(rt, c.Financed)
	limit := 85 * (toCents(rt, c.Amount) - toCents(rt, c.Retention)) / 100
	if financed > limit {
		fail("contract financed %s, over 0.85 × (%s − %s) = %s", c.Financed, c.Amount, c.Retention, fmtCents(limit))
	}
	if financed != toCents(rt, c.Held) {
		fail("contract financed %s, but its applications hold %s", c.Financed, c.Held)
	}
	if financed != m.financed || limit != m.limit {
		fail("contract financed %s of %s; the model says %s of %s", c.Financed, fmtCents(limit), fmtCents(m.financed), fmtCents(m.limit))
	}

	// The line: used ≤ limit, and it is the sum of what its applications hold.
	var l struct {
		Used, Limit, Status, Held string
	}
	if err := db.Get(&l, `
		SELECT used::text AS used, limit_amount::text AS limit, status,
			(SELECT coalesce(sum(line_held), 0)::text FROM applications a WHERE a.credit_line_id = l.id) AS held
		FROM credit_lines l WHERE id = $1`, m.lineID); err != nil {
		fail("line: %v", err)
	}
	used := toCents(rt, l.Used)
	if used > toCents(rt, l.Limit) || used < 0 {
		fail("line used %s of its limit %s", l.Used, l.Limit)
	}
	if used != toCents(rt, l.Held) {
		fail("line used %s, but its applications hold %s", l.Used, l.Held)
	}
	if used != m.lineUsed || toCents(rt, l.Limit) != m.lineLimit || (l.Status == "revoked") != m.lineRevoked {
		fail("line used %s of %s (%s); the model says %s of %s (revoked %v)", l.Used, l.Limit, l.Status,
			fmtCents(m.lineUsed), fmtCents(m.lineLimit), m.lineRevoked)
	}

	// Each application: against the model, and the limits of its figures.
	var apps []struct {
		ID, Status, Amount, Approved, FinancingHeld, LineHeld string
		Disbursed, Repaid, Interest                           string
		OnLine, Overdue, Alerted                              bool
		Account                                               string
		Pending, OpenOverdues, Withdrawals                    int
	}
	if err := db.Select(&apps, `
		SELECT a.id, a.status, a.amount::text AS amount, coalesce(a.approved_amount::text, '') AS approved,
			a.financing_held::text AS financingheld, a.line_held::text AS lineheld, a.disbursed::text AS disbursed,
			a.repaid_principal::text AS repaid, a.interest_paid::text AS interest, a.credit_line_id IS NOT NULL AS online,
			coalesce(ra.status, '') AS account, coalesce(ra.disbursed_unconfirmed_at IS NOT NULL, false) AS alerted,
			(SELECT count(*) FROM deliveries d WHERE d.application_id = a.id AND d.status = 'pending' AND d.kind = 'credit-application') AS pending,
			a.overdue_since IS NOT NULL AS overdue,
			(SELECT count(*) FROM loan_overdues o JOIN loans l ON l.id = o.loan_id
				WHERE l.application_id = a.id AND o.cured_on IS NULL) AS openoverdues,
			(SELECT count(*) FROM deliveries d WHERE d.application_id = a.id AND d.kind = 'withdrawal') AS withdrawals
		FROM applications a LEFT JOIN repayment_accounts ra ON ra.application_id = a.id
		WHERE a.contract_id = $1 ORDER BY a.seq`, m.contractID); err != nil {
		fail("applications: %v", err)
	}
	if len(apps) != len(m.apps) {
		fail("%d applications, the model has %d", len(apps), len(m.apps))
	}
	for _, r := range apps {
		ma := m.byID[r.ID]
		if ma == nil {
			fail("application %s is not in the model", r.ID)
		}
		approved := cents(0)
		if r.Approved != "" {
			approved = toCents(rt, r.Approved)
		}
		got := fmt.Sprintf("%s amount %s approved %s held %s/%s disbursed %s repaid %s interest %s line %v",
			r.Status, r.Amount, fmtCents(approved), r.FinancingHeld, r.LineHeld, r.Disbursed, r.Repaid, r.Interest, r.OnLine)
		want := fmt.Sprintf("%s amount %s approved %s held %s/%s disbursed %s repaid %s interest %s line %v",
			ma.status, fmtCents(ma.amount), fmtCents(ma.approved), fmtCents(ma.financingHeld), fmtCents(ma.lineHeld),
			fmtCents(ma.disbursed), fmtCents(ma.repaid), fmtCents(ma.interestPaid), ma.onLine)
		if got != want {
			fail("application %s is\n\t%s\nthe model says\n\t%s", r.ID, got, want)
		}
		disbursed, repaid := toCents(rt, r.Disbursed), toCents(rt, r.Repaid)
		fin, line := toCents(rt, r.FinancingHeld), toCents(rt, r.LineHeld)
		switch {
		case disbursed > approved:
			fail("application %s disbursed %s of %s approved", r.ID, r.Disbursed, r.Approved)
		case repaid > disbursed:
			fail("application %s repaid %s of %s disbursed", r.ID, r.Repaid, r.Disbursed)
		case line > fin && r.Status != "closed":
			fail("application %s holds %s of the line but only %s of the contract", r.ID, r.LineHeld, r.FinancingHeld)
		case !r.OnLine && line != 0:
			fail("application %s holds %s of a line it does not draw on", r.ID, r.LineHeld)
		case oneOf(lending.Status(r.Status), lending.Rejected, lending.Cancelled) && (fin != 0 || line != 0):
			fail("application %s is %s but still holds %s/%s", r.ID, r.Status, r.FinancingHeld, r.LineHeld)
		case r.Status == "closed" && (fin != 0 || line > disbursed-repaid && m.revolving || line > disbursed):
			fail("application %s is closed but still holds %s/%s (disbursed %s, repaid %s)", r.ID, r.FinancingHeld, r.LineHeld, r.Disbursed, r.Repaid)
		case r.Overdue != ma.overdue || r.OpenOverdues != map[bool]int{false: 0, true: 1}[ma.overdue]:
			fail("application %s overdue %v with %d open episodes; the model says overdue %v", r.ID, r.Overdue, r.OpenOverdues, ma.overdue)
		case r.Status == "cancelled" && r.Pending != 0:
			fail("application %s is cancelled but still queued for the bank", r.ID)
		case r.Status != "cancelled" && r.Withdrawals != 0 || r.Withdrawals > 1:
			fail("application %s is %s with %d withdrawals", r.ID, r.Status, r.Withdrawals)
		}
		wantAccount := map[string]string{"approved": "proposed", "disbursed": "locked", "repaid": "locked", "closed": "released"}[r.Status]
		if ma.closedAs == "written_off" {
			wantAccount = "locked" // the bank is still owed what the purchaser pays
		}
		if r.Status == "approved" && ma.confirmed {
			wantAccount = "confirmed"
		}
		if r.Alerted != ma.alerted {
			fail("application %s: disbursed before the purchaser's confirmation %v; the model says %v", r.ID, r.Alerted, ma.alerted)
		}
		if r.Account != wantAccount {
			fail("application %s is %s with repayment account %q, want %q", r.ID, r.Status, r.Account, wantAccount)
		}
	}

	// Loans: their totals are the sums of their disbursements and
	// repayments, and an application's totals the sums of its loans'.
	var bad []string
	if err := db.Select(&bad, `
		SELECT format('loan %s: disbursed %s, repaid %s, interest %s; tranches %s, repayments %s + %s',
				l.bank_loan_id, l.disbursed, l.repaid_principal, l.interest_paid, d.total, r.principal, r.interest)
		FROM loans l JOIN applications a ON a.id = l.application_id,
			LATERAL (SELECT coalesce(sum(amount), 0) AS total FROM disbursements WHERE loan_id = l.id) d,
			LATERAL (SELECT coalesce(sum(principal), 0) AS principal, coalesce(sum(interest), 0) AS interest
				FROM repayments WHERE loan_id = l.id) r
		WHERE a.contract_id = $1
		  AND (l.disbursed <> d.total OR l.repaid_principal <> r.principal OR l.interest_paid <> r.interest
		       OR l.repaid_principal > l.disbursed OR l.application_id <> a.id)
		UNION ALL
		SELECT format('application %s: disbursed %s, repaid %s, interest %s; its loans %s, %s, %s',
				a.id, a.disbursed, a.repaid_principal, a.interest_paid, s.disbursed, s.repaid, s.interest)
		FROM applications a,
			LATERAL (SELECT coalesce(sum(disbursed), 0) AS disbursed, coalesce(sum(repaid_principal), 0) AS repaid,
				coalesce(sum(interest_paid), 0) AS interest FROM loans WHERE application_id = a.id) s
		WHERE a.contract_id = $1
		  AND (a.disbursed <> s.disbursed OR a.repaid_principal <> s.repaid OR a.interest_paid <> s.interest)
		UNION ALL
		-- Each tranche: repaid ≤ its amount; a loan's repaid principal is
		-- the sum of its tranches'.
		SELECT format('loan %s: repaid %s, its tranches %s (%s outside 0 to their amount)', l.bank_loan_id, l.repaid_principal, d.repaid, d.over)
		FROM loans l JOIN applications a ON a.id = l.application_id,
			LATERAL (SELECT coalesce(sum(amount - outstanding), 0) AS repaid, count(*) FILTER (WHERE outstanding < 0 OR outstanding > amount) AS over
				FROM disbursements WHERE loan_id = l.id) d
		WHERE a.contract_id = $1 AND (l.repaid_principal <> d.repaid OR d.over > 0)
		UNION ALL
		-- A repayment names a tranche of its own loan, and no two stored
		-- periods of one tranche, or of a tranche and the whole loan, or of
		-- the whole loan, share a day.
		SELECT format('repayment %s names tranche %s of another loan', r.bank_repayment_id, r.disbursement_id)
		FROM repayments r JOIN loans l ON l.id = r.loan_id JOIN applications a ON a.id = l.application_id
			LEFT JOIN disbursements d ON d.id = r.disbursement_id
		WHERE a.contract_id = $1 AND r.disbursement_id IS NOT NULL AND d.loan_id IS DISTINCT FROM r.loan_id
		UNION ALL
		SELECT format('repayments %s and %s of loan %s overlap: %s to %s and %s to %s', r1.bank_repayment_id, r2.bank_repayment_id,
				l.bank_loan_id, r1.period_start, r1.period_end, r2.period_start, r2.period_end)
		FROM repayments r1 JOIN repayments r2 ON r2.loan_id = r1.loan_id AND r1.id < r2.id
			JOIN loans l ON l.id = r1.loan_id JOIN applications a ON a.id = l.application_id
		WHERE a.contract_id = $1 AND r1.period_start IS NOT NULL AND r2.period_start IS NOT NULL
		  AND (r1.disbursement_id IS NULL OR r2.disbursement_id IS NULL OR r1.disbursement_id = r2.disbursement_id)
		  AND daterange(r1.period_start, r1.period_end) && daterange(r2.period_start, r2.period_end)`, m.contractID); err != nil {
		fail("loans: %v", err)
	}

	// Each tranche's repaid principal against the model.
	var tranches []struct {
		App    string `db:"application_id"`
		ID     string `db:"bank_disbursement_id"`
		Repaid string `db:"repaid"`
	}
	if err := db.Select(&tranches, `
		SELECT l.application_id, d.bank_disbursement_id, (d.amount - d.outstanding)::text AS repaid
		FROM disbursements d JOIN loans l ON l.id = d.loan_id JOIN applications a ON a.id = l.application_id
		WHERE a.contract_id = $1`, m.contractID); err != nil {
		fail("tranches: %v", err)
	}
	wantTranches := 0
	for _, ma := range m.apps {
		wantTranches += len(ma.tranches)
	}
	if len(tranches) != wantTranches {
		fail("%d tranches, the model has %d", len(tranches), wantTranches)
	}
	for _, d := range tranches {
		ma := m.byID[d.App]
		i := slices.IndexFunc(ma.tranches, func(t *mTranche) bool { return t.id == d.ID })
		if i < 0 || toCents(rt, d.Repaid) != ma.tranches[i].repaid {
			var model []string
			for _, t := range ma.tranches {
				model = append(model, fmt.Sprintf("%s %s of %s from day %d", t.id, fmtCents(t.repaid), fmtCents(t.amount), t.valueDay))
			}
			fail("tranche %s of %s repaid %s; the model says %v", d.ID, d.App, d.Repaid, model)
		}
	}
	if len(bad) > 0 {
		fail("%s", strings.Join(bad, "\n"))
	}

	// Subsidy claims: one per repayment with interest, each the model's
	// day-by-day subsidy to the 分, with the model's status and reason.
	var claims []struct {
		App         string `db:"application_id"`
		Repayment   string `db:"bank_repayment_id"`
		Amount      string `db:"amount"`
		Status      string `db:"status"`
		Reason      string `db:"rejection_reason"`
		Computation string `db:"computation"`
	}
	if err := db.Select(&claims, `
		SELECT c.application_id, r.bank_repayment_id, c.amount::text AS amount, c.status, c.rejection_reason,
			c.computation::text AS computation
		FROM subsidy_claims c JOIN repayments r ON r.id = c.repayment_id JOIN applications a ON a.id = c.application_id
		WHERE a.contract_id = $1`, m.contractID); err != nil {
		fail("claims: %v", err)
	}
	var year string
	if err := db.Get(&year, `SELECT coalesce((SELECT claimed::text FROM subsidy_supplier_years WHERE supplier_uscc = $1 AND year = 2026), '0')`,
		m.uscc); err != nil {
		fail("the supplier's year: %v", err)
	}
	if toCents(rt, year) != m.claimed {
		fail("the supplier's claims hold %s of its yearly cap; the model says %s", year, fmtCents(m.claimed))
	}
	wantClaims := 0
	for _, ma := range m.apps {
		wantClaims += len(ma.claims)
	}
	if len(claims) != wantClaims {
		fail("%d subsidy claims, the model has %d", len(claims), wantClaims)
	}
	for _, c := range claims {
		ma := m.byID[c.App]
		var mc *mClaim
		if ma != nil {
			if i := slices.IndexFunc(ma.claims, func(x *mClaim) bool { return x.repayment == c.Repayment }); i >= 0 {
				mc = ma.claims[i]
			}
		}
		if mc == nil {
			fail("claim of repayment %s of %s is not in the model", c.Repayment, c.App)
		}
		got := fmt.Sprintf("%s %s %q", c.Amount, c.Status, c.Reason)
		if want := fmt.Sprintf("%s %s %q", fmtCents(mc.amount), mc.status, mc.reason); got != want {
			fail("claim of repayment %s is %s; the model says %s\ncomputation %s", c.Repayment, got, want, c.Computation)
		}
	}

	// History: every recorded change follows the table, in order, and ends
	// in the application's status; an event of the loan that changes no
	// state (a repayment, an overdue, its cure, the drawdown's end) is an
	// entry from its state to itself, and every repayment has one, in the
	// order recorded.
	var hist []struct {
		ID     string `db:"application_id"`
		N      int    `db:"n"`
		From   string `db:"from_status"`
		To     string `db:"to_status"`
		Status string `db:"status"`
		Cause  string `db:"cause"`
		Args   string `db:"cause_args"`
	}
	if err := db.Select(&hist, `
		SELECT t.application_id, t.n, t.from_status, t.to_status, a.status, t.cause, t.cause_args::text AS cause_args
		FROM application_transitions t
		JOIN applications a ON a.id = t.application_id WHERE a.contract_id = $1 ORDER BY a.seq, t.n`, m.contractID); err != nil {
		fail("history: %v", err)
	}
	var repaid []struct {
		ID        string `db:"application_id"`
		Repayment string `db:"bank_repayment_id"`
	}
	if err := db.Select(&repaid, `
		SELECT l.application_id, r.bank_repayment_id FROM repayments r JOIN loans l ON l.id = r.loan_id
		JOIN applications a ON a.id = l.application_id WHERE a.contract_id = $1 ORDER BY a.seq, r.seq`, m.contractID); err != nil {
		fail("repayments: %v", err)
	}
	var wantRepaid, gotRepaid []string
	for _, r := range repaid {
		wantRepaid = append(wantRepaid, r.ID+" "+r.Repayment)
	}
	notes := []string{lending.CauseRepayment, lending.CauseOverdue, lending.CauseOverdueCured, lending.CauseDrawdownEnded, lending.CauseWrittenOffRepaid}
	last := map[string]string{}
	for _, h := range hist {
		prev, seen := last[h.ID]
		if h.Cause == lending.CauseRepayment {
			var args lending.CauseArgs
			if err := json.Unmarshal([]byte(h.Args), &args); err != nil {
				fail("application %s's history #%d: arguments %s: %v", h.ID, h.N, h.Args, err)
			}
			gotRepaid = append(gotRepaid, h.ID+" "+args["repayment"])
		}
		switch {
		case seen && h.From == h.To && slices.Contains(notes, h.Cause):
		case !seen && (h.N != 1 || h.From != "" || h.To != "submitted"):
			fail("application %s's history starts with #%d %q → %s", h.ID, h.N, h.From, h.To)
		case seen && h.From != prev:
			fail("application %s's history #%d goes from %s, but it was %s", h.ID, h.N, h.From, prev)
		case seen && !lending.CanBecome(lending.Status(h.From), lending.Status(h.To)):
			fail("application %s's history #%d records %s → %s, which the table forbids", h.ID, h.N, h.From, h.To)
		}
		last[h.ID] = h.To
	}
	if fmt.Sprint(gotRepaid) != fmt.Sprint(wantRepaid) {
		fail("the history's repayments %v, want every one recorded, in order: %v", gotRepaid, wantRepaid)
	}
	for _, r := range apps {
		if last[r.ID] != r.Status {
			fail("application %s is %s but its history ends in %q", r.ID, r.Status, last[r.ID])
		}
	}

	// The read cache (a TTL of an hour in this world) answers what the
	// database holds: every change dropped what it changed. Reading it here
	// fills it, so the next step's change must drop it again.
	for _, r := range apps {
		cached, err := p.w.lending.CachedApplicationJSON(ctx, lending.Scope{}, r.ID)
		if err != nil {
			fail("cached read of %s: %v", r.ID, err)
		}
		if fresh := freshJSON(rt, p.w, r.ID); string(cached) != fresh {
			fail("application %s: the read cache answers\n\t%s\nthe database holds\n\t%s", r.ID, cached, fresh)
		}
	}
}

// TestLendingStateMachine runs random sequences of applications, bank
// events, cancellations and line changes against the real database and a
// model of what they should do; after every operation the database must
// match the model and the programme's invariants must hold, and a refused
// operation must have changed nothing. Each iteration has its own contract
// (with a random retention) and its own credit line, in one shared world.
func TestLendingStateMachine(t *testing.T) {
	limitRapidChecks(t, rapidChecks)
	w := newWorld(t)
	w.withSubsidies()
	rapid.Check(t, func(r *rapid.T) { runProp(r, w, nil, 20, 40, false) })
}

// TestRepaymentsProperty runs the state machine's random sequences with
// most operations repayments (of a tranche, of the whole loan, of one the
// loan does not have; with true figures and not), so that loans see many:
// after every one, no tranche has more principal repaid than it had
// disbursed, a loan's repaid principal is its tranches', and no two stored
// periods of a tranche (or of a tranche and the whole loan) overlap, as
// the model says.
func TestRepaymentsProperty(t *testing.T) {
	limitRapidChecks(t, rapidChecks)
	w := newWorld(t)
	w.withSubsidies()
	ops := []string{"apply", "approve", "approve", "confirm", "disburse", "disburse", "disburse", "repay", "repay", "repay", "repay", "repay", "repay"}
	rapid.Check(t, func(r *rapid.T) { runProp(r, w, ops, 20, 30, false) })
}

// TestLoanLifeProperty: random sequences of a loan's life (approvals,
// tranches, repayments, the end of drawdown, closing as repaid or written
// off, overdue and cure, lapsed approvals) on one contract and line,
// revolving or not; after every one, the contract's financed and the
// line's use are what the model says the applications hold, every hold
// within its limit, and a closed application holds of its line only what
// it keeps for good.
func TestLoanLifeProperty(t *testing.T) {
	limitRapidChecks(t, rapidChecks)
	w := newWorld(t)
	w.withSubsidies()
	ops := []string{"apply", "approve", "approve", "confirm", "disburse", "disburse", "disburse", "repay", "repay", "repay",
		"end_drawdown", "close", "close", "overdue", "overdue", "cure", "cure", "cure", "lapse"}
	rapid.Check(t, func(r *rapid.T) { runProp(r, w, ops, 20, 30, false) })
}

// TestSubsidyProperty runs random sequences of a loan's life weighted
// towards repayments (of a tranche, of the whole loan, with interest and
// without), with tranches at rates below, between and above the caps,
// overdue episodes and cures, the end of drawdown and closing, each
// repayment's claims made in its transaction as a bank event's batch
// makes them, and each loan.overdue's effect on claims in its own; after
// every one, every claim of the iteration's loans is the model's day-by-day
// subsidy to the 分 (its own computation, independent of package
// subsidies'), with the model's status and rejection reason, and the
// supplier's claims hold of its yearly cap what the model says.
func TestSubsidyProperty(t *testing.T) {
	limitRapidChecks(t, rapidChecks)
	w := newWorld(t)
	w.withSubsidies()
	ops := []string{"apply", "approve", "approve", "confirm", "disburse", "disburse", "disburse", "repay", "repay", "repay", "repay", "repay",
		"repay", "repay", "repay", "overdue", "overdue", "cure", "cure", "end_drawdown", "close"}
	rapid.Check(t, func(r *rapid.T) { runProp(r, w, ops, 30, 40, true) })
}

// withSubsidies gives w the subsidy service, under the property tests'
// policy (propLPR, propRatio) from 2026-01-01 for micro, small and medium
// suppliers, with a yearly cap of propYearlyCap.
func (w *world) withSubsidies() {
	w.t.Helper()
	if got := propDay0.AddDays(14).String() + " " + propDay0.AddDays(35).String(); got != "2026-10-15 2026-11-05" {
		w.t.Fatalf("lprOn's days are %s", got)
	}
	w.subsidies = subsidies.NewService(w.db, subsidies.PolicyInput{})
	w.lending.OnConfirmed(w.subsidies.ReleaseHeld)
	must(w.t, func() error {
		_, err := w.subsidies.AddPolicy(ctx, subsidies.PolicyInput{EffectiveFrom: "2026-01-01", SubsidyRatio: "0.5", LPR1Y: propLPR,
			SupplierYearlyCap: fmtCents(propYearlyCap), ProgrammeBudget: "100000000.00", EligibleSizeClasses: []string{"micro", "small", "medium"},
			FourEyesThreshold: "50000.00"}, "test")
		return err
	})
}

// runProp runs one iteration of minSteps to maxSteps operations drawn
// from ops (nil: all), lawful or not, on a new contract and credit line
// of w.
func runProp(r *rapid.T, w *world, ops []string, minSteps, maxSteps int, lawful bool) {
	{
		rt := gen{r}
		n := propSeq.Add(1)
		retention := cents(0)
		if rt.Bool("has_retention") {
			retention = rt.Int64Range(1, 30000000, "retention")
		}
		m := &model{byID: map[string]*mApp{}, contractAmount: 118000000, retains: retention,
			revolving: rt.Bool("revolving"), bankLineID: fmt.Sprintf("PL-%d", n)}
		m.limit = 85 * (m.contractAmount - retention) / 100
		p := &prop{rt: rt, w: w, m: m, ops: ops, lawful: lawful}
		m.uscc = p.newSupplier(n)
		m.contractID = p.newContract(fmt.Sprintf("PROP-%d", n), retention)
		m.lineLimit = rt.Int64Range(0, 80000000, "line_limit")
		l, err := p.setLine(m.lineLimit, true)
		if err != nil {
			rt.Fatalf("grant line: %v", err)
		}
		m.lineID = l.ID
		p.check("setup")
		steps := rt.IntRange(minSteps, maxSteps, "steps")
		for i := 0; i < steps; i++ {
			p.step(i)
		}
		reached := map[lending.Status]int{}
		for _, a := range m.apps {
			reached[a.status]++
		}
		claims := map[string]int{}
		for _, a := range m.apps {
			for _, c := range a.claims {
				claims[c.status]++
			}
		}
		rt.Logf("%d steps; applications end %v; claims %v", steps, reached, claims)
	}
}
