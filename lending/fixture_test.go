package lending_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"procfin/platform/errs"

	"github.com/jmoiron/sqlx"
	"github.com/shopspring/decimal"

	"procfin/banking"
	"procfin/contracts"
	"procfin/lending"
	"procfin/platform/money"
	"procfin/platform/postgres"
	"procfin/platform/postgres/pgtest"
	"procfin/platform/safehttp"
	"procfin/subsidies"
)

var ctx = context.Background()

const (
	uscc      = "91350100M000100Y43"
	otherUSCC = "91110000600037341L"
)

// world is one test's programme: a registered small supplier with an
// active contract of 1,180,000.00 (financing limit 1,003,000.00), a bank
// and a revolving credit line of 500,000.00.
type world struct {
	t          *testing.T
	db         *sqlx.DB
	contracts  *contracts.Service
	lending    *lending.Service
	subsidies  *subsidies.Service // nil unless withSubsidies
	contractID string
	lineID     string
	who        lending.Applicant
	now        time.Time
	tick       time.Duration // how far the clock moves at each reading (0: it stands still)
	clockMu    sync.Mutex
	repaidDays int // repayOne's repayments so far: each pays the interest of its own day
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{t: t, db: pgtest.NewDB(t), now: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)}
	clock := func() time.Time {
		w.clockMu.Lock()
		defer w.clockMu.Unlock()
		now := w.now
		w.now = w.now.Add(w.tick)
		return now
	}
	w.contracts = contracts.NewService(w.db, contracts.Policy{FinancingRatio: decimal.RequireFromString("0.85"), Currency: "CNY",
		EligibleClasses: []contracts.SizeClass{contracts.SizeMicro, contracts.SizeSmall, contracts.SizeMedium}}, clock)
	w.lending = lending.NewService(w.db, w.contracts, banking.Outbox{}, lending.Limits{MaxAmount: money.MustAmount("10000000.00"), MaxTermDays: 365}, clock)
	// An hour: a change that fails to drop what the cache holds shows as a
	// stale cached read (TestLendingStateMachine, cache_test.go).
	w.lending.UseReadCache(time.Hour)
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	jwks := json.RawMessage(fmt.Sprintf(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":%q,"kid":"k1","alg":"EdDSA","use":"sig"}]}`, base64.RawURLEncoding.EncodeToString(pub)))
	must(t, func() error {
		_, _, err := w.contracts.RegisterIssuer(ctx, contracts.IssuerRegistration{ID: "jinan-pprc", Name: "Jinan", JWKS: jwks}, "test")
		return err
	})
	for _, u := range []string{uscc, otherUSCC} {
		must(t, func() error {
			emp := 42
			rev, assets := money.MustAmount("8000000.00"), money.MustAmount("5000000.00")
			_, _, err := w.contracts.RegisterSupplier(ctx, contracts.SupplierRegistration{USCC: u, Name: "Firm " + u[:4], Industry: "software_it",
				Employees: &emp, AnnualRevenue: &rev, TotalAssets: &assets}, "test")
			return err
		})
	}
	for _, b := range []string{"qilu-bank", "other-bank"} {
		must(t, func() error {
			banks := banking.NewRegistry(w.db)
			banks.SetURLPolicy(safehttp.Policy{AllowPrivate: true}) // a bank at 127.0.0.1
			_, _, err := banks.Register(ctx, banking.BankRegistration{ID: b, Name: b, BaseURL: "http://127.0.0.1:9", JWKS: jwks}, "test")
			return err
		})
	}
	w.contractID = w.newContract("C1", uscc)
	w.lineID = w.grantLine("L1", uscc, "500000.00", true)
	w.who = lending.Applicant{UserID: "u1", SupplierUSCC: uscc}
	return w
}

func must(t *testing.T, f func() error) {
	t.Helper()
	if err := f(); err != nil {
		t.Fatal(err)
	}
}

func (w *world) newContract(no, supplier string) string {
	w.t.Helper()
	src := contracts.Source{Kind: "signed", KeyID: "k1", MessageID: no, Actor: "issuer:jinan-pprc"}
	_, _, err := w.contracts.SubmitAwardNotice(ctx, "jinan-pprc", contracts.AwardNoticeDoc{
		NoticeNo: "N-" + no, ProjectNo: "P", ProjectName: "Network", Purchaser: contracts.Party{ID: "sdu", Name: "SDU"},
		Supplier: contracts.SupplierRef{USCC: supplier}, Amount: money.MustAmount("1200000.00"), Currency: "CNY",
		AwardedOn: money.MustDate("2026-10-08"), ProcurementMethod: "open_tender", Status: "active"}, src)
	if err != nil {
		w.t.Fatal(err)
	}
	c, _, err := w.contracts.SubmitContract(ctx, "jinan-pprc", contracts.ContractDoc{
		ContractNo: no, NoticeNo: "N-" + no, Purchaser: contracts.Party{ID: "sdu"}, Supplier: contracts.SupplierRef{USCC: supplier},
		Amount: money.MustAmount("1180000.00"), SignedOn: money.MustDate("2026-10-20"),
		Period: contracts.Period{Start: money.MustDate("2026-11-01"), End: money.MustDate("2027-04-30")}, Status: "active"}, src)
	if err != nil {
		w.t.Fatal(err)
	}
	return c.ID
}

func (w *world) grantLine(bankLineID, supplier, limit string, revolving bool) string {
	w.t.Helper()
	var id string
	must(w.t, func() error {
		return postgres.Transact(ctx, w.db, func(tx *postgres.Tx) error {
			ceiling := money.MustRate("0.05")
			l, err := w.lending.SetLine(ctx, tx, "qilu-bank", lending.LineTerms{BankLineID: bankLineID, SupplierUSCC: supplier,
				Limit: money.MustAmount(limit), ValidFrom: money.MustDate("2026-01-01"), ValidUntil: money.MustDate("2027-12-31"),
				Revolving: revolving, RateCeiling: &ceiling}, true, "bank:qilu-bank")
			id = l.ID
			return err
		})
	})
	return id
}

func (w *world) apply(amount string, line bool) (lending.Application, error) {
	a := money.MustAmount(amount)
	days := 180
	in := lending.ApplyInput{ContractID: w.contractID, BankID: "qilu-bank", Amount: &a, TermDays: &days, Purpose: "materials"}
	if line {
		in.CreditLineID = &w.lineID
	}
	return w.lending.Apply(ctx, w.who, in)
}

func (w *world) tx(f func(tx *postgres.Tx) error) error { return postgres.Transact(ctx, w.db, f) }

func (w *world) financed() string {
	w.t.Helper()
	var s string
	must(w.t, func() error { return w.db.Get(&s, `SELECT financed::text FROM contracts WHERE id = $1`, w.contractID) })
	return s
}

func (w *world) lineUsed() string {
	w.t.Helper()
	var s string
	must(w.t, func() error { return w.db.Get(&s, `SELECT used::text FROM credit_lines WHERE id = $1`, w.lineID) })
	return s
}

func errorsAs(err error, target **errs.Error) bool { return errors.As(err, target) }

func decimalOf(n int) decimal.Decimal { return decimal.NewFromInt(int64(n)) }
