package contracts_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jmoiron/sqlx"
	"github.com/shopspring/decimal"

	"procfin/contracts"
	"procfin/platform/errs"
	"procfin/platform/money"
	"procfin/platform/postgres/pgtest"
)

const (
	usccSmall = "91350100M000100Y43" // the standard's example
	usccOther = "91110000600037341L"
)

var ctx = context.Background()

func newService(t *testing.T, now time.Time) (*contracts.Service, *sqlx.DB) {
	t.Helper()
	db := pgtest.NewDB(t)
	s := contracts.NewService(db, contracts.Policy{
		FinancingRatio: decimal.RequireFromString("0.85"), Currency: "CNY",
		EligibleClasses: []contracts.SizeClass{contracts.SizeMicro, contracts.SizeSmall, contracts.SizeMedium},
	}, func() time.Time { return now })
	return s, db
}

func jwks(t *testing.T, kid string) json.RawMessage {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return json.RawMessage(fmt.Sprintf(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":%q,"kid":%q,"alg":"EdDSA","use":"sig"}]}`,
		base64.RawURLEncoding.EncodeToString(pub), kid))
}

func mustIssuer(t *testing.T, s *contracts.Service, id string) {
	t.Helper()
	if _, _, err := s.RegisterIssuer(ctx, contracts.IssuerRegistration{ID: id, Name: "Jinan PPRC", JWKS: jwks(t, "k1")}, "test"); err != nil {
		t.Fatal(err)
	}
}

func intp(n int) *int            { return &n }
func amt(s string) *money.Amount { a := money.MustAmount(s); return &a }
func fieldOf(err error) (string, string) {
	var e *errs.Error
	if ok := asErr(err, &e); !ok || len(e.Fields) == 0 {
		return "", ""
	}
	return e.Fields[0].Field, e.Fields[0].Code
}

func asErr(err error, e **errs.Error) bool {
	x, ok := err.(*errs.Error)
	if ok {
		*e = x
	}
	return ok
}

func mustSupplier(t *testing.T, s *contracts.Service, uscc string) contracts.Supplier {
	t.Helper()
	sp, _, err := s.RegisterSupplier(ctx, contracts.SupplierRegistration{
		USCC: uscc, Name: "Quancheng Software", Industry: "software_it", Employees: intp(42),
		AnnualRevenue: amt("8000000.00"), TotalAssets: amt("5000000.00"),
	}, "test")
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

func notice(no, uscc string) contracts.AwardNoticeDoc {
	return contracts.AwardNoticeDoc{
		NoticeNo: no, ProjectNo: "P-" + no, ProjectName: "Campus network", Purchaser: contracts.Party{ID: "sdu", Name: "Shandong University"},
		Supplier: contracts.SupplierRef{USCC: uscc, Name: "Quancheng Software"}, Amount: money.MustAmount("1200000.00"),
		Currency: "CNY", AwardedOn: money.MustDate("2026-10-08"), ProcurementMethod: "open_tender", Status: "active",
	}
}

func contract(no, noticeNo, uscc string) contracts.ContractDoc {
	return contracts.ContractDoc{
		ContractNo: no, NoticeNo: noticeNo, Purchaser: contracts.Party{ID: "sdu"}, Supplier: contracts.SupplierRef{USCC: uscc},
		Amount: money.MustAmount("1180000.00"), SignedOn: money.MustDate("2026-10-20"),
		Period:       contracts.Period{Start: money.MustDate("2026-11-01"), End: money.MustDate("2027-04-30")},
		PaymentTerms: []contracts.PaymentTerm{{DueOn: money.MustDate("2027-05-31"), Amount: money.MustAmount("1180000.00"), Condition: "acceptance"}},
		Status:       "active",
	}
}

var signed = contracts.Source{Kind: "signed", KeyID: "k1", MessageID: "m1", Actor: "issuer:jinan-pprc"}

func count(t *testing.T, db *sqlx.DB, q string, args ...any) int {
	t.Helper()
	var n int
	if err := db.Get(&n, q, args...); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestRegisterIssuer(t *testing.T) {
	t.Parallel()
	s, db := newService(t, time.Now())
	is, created, err := s.RegisterIssuer(ctx, contracts.IssuerRegistration{ID: "jinan-pprc", Name: "Jinan", JWKS: jwks(t, "k1")}, "test")
	if err != nil || !created || strings.Join(is.Algorithms, ",") != "EdDSA" {
		t.Fatalf("register: %+v %v %v", is, created, err)
	}
	_, created, err = s.RegisterIssuer(ctx, contracts.IssuerRegistration{ID: "jinan-pprc", Name: "Jinan", JWKS: jwks(t, "k2")}, "test")
	if err != nil || created {
		t.Fatalf("re-register (rotation): created=%v err=%v", created, err)
	}
	if n := count(t, db, `SELECT count(*) FROM audit_log WHERE entity_type = 'issuer'`); n != 2 {
		t.Fatalf("%d audit rows, want 2", n)
	}
	for name, tc := range map[string]struct {
		reg   contracts.IssuerRegistration
		field string
	}{
		"BadID":    {contracts.IssuerRegistration{ID: "Jinan PPRC", Name: "x", JWKS: jwks(t, "k")}, "id"},
		"NoName":   {contracts.IssuerRegistration{ID: "a1", JWKS: jwks(t, "k")}, "name"},
		"NoKeys":   {contracts.IssuerRegistration{ID: "a1", Name: "x"}, "jwks"},
		"BothKeys": {contracts.IssuerRegistration{ID: "a1", Name: "x", JWKS: jwks(t, "k"), JWKSURL: "https://example.org/jwks"}, "jwks"},
		"BadJWKS":  {contracts.IssuerRegistration{ID: "a1", Name: "x", JWKS: json.RawMessage(`{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`)}, "jwks"},
		"BadAlg":   {contracts.IssuerRegistration{ID: "a1", Name: "x", JWKS: jwks(t, "k"), Algorithms: []string{"HS256"}}, "algorithms"},
		"PlainURL": {contracts.IssuerRegistration{ID: "a1", Name: "x", JWKSURL: "http://example.org/jwks"}, "jwks_url"},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := s.RegisterIssuer(ctx, tc.reg, "test")
			if f, _ := fieldOf(err); f != tc.field {
				t.Fatalf("err %v, want a problem with field %s", err, tc.field)
			}
		})
	}
}

func TestRegisterSupplier(t *testing.T) {
	t.Parallel()
	s, db := newService(t, time.Now())
	sp := mustSupplier(t, s, usccSmall)
	if sp.SizeClass != contracts.SizeSmall || !sp.Registered || sp.SizeAssessedOn == nil {
		t.Fatalf("supplier %+v, want small and registered", sp)
	}
	// Growth past the small bounds: the class is recomputed.
	sp, created, err := s.RegisterSupplier(ctx, contracts.SupplierRegistration{USCC: usccSmall, Name: "Quancheng Software",
		Industry: "software_it", Employees: intp(150), AnnualRevenue: amt("20000000.00"), TotalAssets: amt("5000000.00")}, "test")
	if err != nil || created || sp.SizeClass != contracts.SizeMedium {
		t.Fatalf("update: %+v created=%v err=%v", sp, created, err)
	}

	t.Run("ChecksumNeedsOverride", func(t *testing.T) {
		bad := "91350100M000100Y44"
		reg := contracts.SupplierRegistration{USCC: bad, Name: "Real Firm", Industry: "retail", Employees: intp(5),
			AnnualRevenue: amt("500000.00"), TotalAssets: amt("100000.00")}
		_, _, err := s.RegisterSupplier(ctx, reg, "test")
		if f, code := fieldOf(err); f != "uscc" || code != "uscc_checksum" {
			t.Fatalf("err %v, want uscc_checksum", err)
		}
		reg.USCCOverrideReason = "checked against the business licence, photo on file"
		sp, _, err := s.RegisterSupplier(ctx, reg, "user:admin")
		if err != nil || sp.USCCOverrideReason == "" {
			t.Fatalf("override: %+v %v", sp, err)
		}
		if n := count(t, db, `SELECT count(*) FROM audit_log WHERE entity_id = $1 AND reason LIKE 'checked against%'`, bad); n != 1 {
			t.Fatalf("override not in the audit trail (%d rows)", n)
		}
		reg.USCC = "91350100M00010OY43" // a letter O: no override makes this a code
		if _, _, err := s.RegisterSupplier(ctx, reg, "test"); err == nil {
			t.Fatal("override accepted a malformed code")
		}
	})
	t.Run("MissingFigures", func(t *testing.T) {
		_, _, err := s.RegisterSupplier(ctx, contracts.SupplierRegistration{USCC: usccOther, Name: "x", Industry: "retail"}, "test")
		var e *errs.Error
		if !asErr(err, &e) || len(e.Fields) != 3 {
			t.Fatalf("err %v, want three missing fields", err)
		}
	})
}

func TestSubmitAwardNoticeVersions(t *testing.T) {
	t.Parallel()
	s, db := newService(t, time.Now())
	mustIssuer(t, s, "jinan-pprc")
	doc := notice("JNCG-2026-0815", usccSmall)

	n, outcome, err := s.SubmitAwardNotice(ctx, "jinan-pprc", doc, signed)
	if err != nil || outcome != contracts.Created || n.Version != 1 || n.Purchaser.Name != "Shandong University" {
		t.Fatalf("first: %+v %s %v", n, outcome, err)
	}
	// The supplier was unknown: created from the document, unregistered.
	sp, err := s.GetSupplier(ctx, contracts.All, usccSmall)
	if err != nil || sp.Registered || sp.SizeClass != contracts.SizeUnknown {
		t.Fatalf("supplier from document: %+v %v", sp, err)
	}
	again, outcome, err := s.SubmitAwardNotice(ctx, "jinan-pprc", doc, signed)
	if err != nil || outcome != contracts.Unchanged || again.ID != n.ID || again.Version != 1 {
		t.Fatalf("again: %s %v", outcome, err)
	}
	doc.Amount = money.MustAmount("1250000.00")
	v2, outcome, err := s.SubmitAwardNotice(ctx, "jinan-pprc", doc, signed)
	if err != nil || outcome != contracts.NewVersion || v2.ID != n.ID || v2.Version != 2 || v2.Amount.String() != "1250000.00" {
		t.Fatalf("changed: %+v %s %v", v2, outcome, err)
	}
	if k := count(t, db, `SELECT count(*) FROM document_versions WHERE document_id = $1`, n.ID); k != 2 {
		t.Fatalf("%d versions kept, want 2", k)
	}
	if k := count(t, db, `SELECT count(*) FROM audit_log WHERE entity_id = $1`, n.ID); k != 2 {
		t.Fatalf("%d audit rows, want 2 (received, version added)", k)
	}
}

func TestSubmitRefusalsChangeNothing(t *testing.T) {
	t.Parallel()
	s, db := newService(t, time.Now())
	mustIssuer(t, s, "jinan-pprc")
	total := func() int {
		return count(t, db, `SELECT (SELECT count(*) FROM award_notices) + (SELECT count(*) FROM contracts) + (SELECT count(*) FROM suppliers) + (SELECT count(*) FROM purchasers) + (SELECT count(*) FROM audit_log)`)
	}
	before := total()
	badUSCC := notice("N1", "91350100M000100Y44")
	_, _, err := s.SubmitAwardNotice(ctx, "jinan-pprc", badUSCC, signed)
	if f, code := fieldOf(err); f != "supplier.uscc" || code != "uscc_checksum" {
		t.Fatalf("bad USCC: %v", err)
	}
	noAmount := notice("N2", usccSmall)
	noAmount.Amount = money.Zero
	if _, _, err := s.SubmitAwardNotice(ctx, "jinan-pprc", noAmount, signed); !errs.Is(err, errs.Invalid) {
		t.Fatalf("zero amount: %v", err)
	}
	_, _, err = s.SubmitContract(ctx, "jinan-pprc", contract("C1", "NO-SUCH-NOTICE", usccSmall), signed)
	if f, code := fieldOf(err); f != "notice_no" || code != "award_not_found" {
		t.Fatalf("missing award: %v", err)
	}
	if total() != before {
		t.Fatal("a refused document changed something")
	}
	// Another issuer's notice does not count.
	mustIssuer(t, s, "other-centre")
	if _, _, err := s.SubmitAwardNotice(ctx, "other-centre", notice("N3", usccSmall), signed); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.SubmitContract(ctx, "jinan-pprc", contract("C1", "N3", usccSmall), signed); err == nil {
		t.Fatal("a contract referenced another issuer's award")
	}
}

func TestConcurrentFirstSubmissionsMakeOneDocument(t *testing.T) {
	t.Parallel()
	s, db := newService(t, time.Now())
	mustIssuer(t, s, "jinan-pprc")
	var wg sync.WaitGroup
	outcomes := make(chan contracts.Outcome, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, o, err := s.SubmitAwardNotice(ctx, "jinan-pprc", notice("RACE-1", usccSmall), signed)
			if err != nil {
				t.Error(err)
			}
			outcomes <- o
		}()
	}
	wg.Wait()
	close(outcomes)
	created := 0
	for o := range outcomes {
		if o == contracts.Created {
			created++
		}
	}
	if n := count(t, db, `SELECT count(*) FROM award_notices`); n != 1 || created != 1 {
		t.Fatalf("%d notices, %d created, want 1 and 1", n, created)
	}
}

// checks maps a report's check names to results.
func checks(r contracts.Report) map[string]string {
	m := map[string]string{}
	for _, c := range r.Checks {
		m[c.Name] = c.Result
	}
	return m
}

func TestVerify(t *testing.T) {
	t.Parallel()
	today := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	setup := func(t *testing.T, mod func(*contracts.AwardNoticeDoc, *contracts.ContractDoc), registered bool) (*contracts.Service, string) {
		s, _ := newService(t, today)
		mustIssuer(t, s, "jinan-pprc")
		if registered {
			mustSupplier(t, s, usccSmall)
		}
		n, c := notice("N1", usccSmall), contract("C1", "N1", usccSmall)
		mod(&n, &c)
		if _, _, err := s.SubmitAwardNotice(ctx, "jinan-pprc", n, signed); err != nil {
			t.Fatal(err)
		}
		ct, _, err := s.SubmitContract(ctx, "jinan-pprc", c, signed)
		if err != nil {
			t.Fatal(err)
		}
		return s, ct.ID
	}
	none := func(*contracts.AwardNoticeDoc, *contracts.ContractDoc) {}

	t.Run("AllPass", func(t *testing.T) {
		s, id := setup(t, none, true)
		r, err := s.Verify(ctx, contracts.All, id, contracts.VerifyRequest{ApplicantUSCC: usccSmall})
		if err != nil || !r.Passed || len(r.Checks) != 12 {
			t.Fatalf("report %+v %v", r, err)
		}
		for _, c := range r.Checks {
			if c.Result != "pass" || c.Reason == "" {
				t.Errorf("%s: %s (%s)", c.Name, c.Result, c.Reason)
			}
		}
	})
	cases := []struct {
		name       string
		mod        func(*contracts.AwardNoticeDoc, *contracts.ContractDoc)
		registered bool
		applicant  string
		amount     string
		failing    string
	}{
		{"UnregisteredSupplier", none, false, "", "", contracts.CheckSupplierSMEEligible},
		{"AwardCancelled", func(n *contracts.AwardNoticeDoc, _ *contracts.ContractDoc) { n.Status = "cancelled" }, true, "", "", contracts.CheckAwardActive},
		{"ContractTerminated", func(_ *contracts.AwardNoticeDoc, c *contracts.ContractDoc) { c.Status = "terminated" }, true, "", "", contracts.CheckContractActive},
		{"AmountAboveAward", func(_ *contracts.AwardNoticeDoc, c *contracts.ContractDoc) {
			c.Amount = money.MustAmount("1300000.00")
			c.PaymentTerms = nil
		}, true, "", "", contracts.CheckAmountWithinAward},
		{"OtherPurchaser", func(_ *contracts.AwardNoticeDoc, c *contracts.ContractDoc) { c.Purchaser.ID = "other-agency" }, true, "", "", contracts.CheckPartiesMatchAward},
		{"PeriodEnded", func(_ *contracts.AwardNoticeDoc, c *contracts.ContractDoc) {
			c.Period.End = money.MustDate("2026-11-19")
		}, true, "", "", contracts.CheckContractInPeriod},
		{"NotTheApplicant", none, true, usccOther, "", contracts.CheckSupplierIsApplicant},
		{"OverHeadroom", none, true, "", "1003000.01", contracts.CheckFinancingHeadroom}, // 0.85 × 1180000 = 1003000.00
		{"ForeignCurrency", func(n *contracts.AwardNoticeDoc, c *contracts.ContractDoc) { n.Currency = "USD" }, true, "", "", contracts.CheckFinancingHeadroom},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, id := setup(t, tc.mod, tc.registered)
			req := contracts.VerifyRequest{ApplicantUSCC: tc.applicant}
			if tc.amount != "" {
				req.Amount = amt(tc.amount)
			}
			r, err := s.Verify(ctx, contracts.All, id, req)
			if err != nil {
				t.Fatal(err)
			}
			got := checks(r)
			if r.Passed || got[tc.failing] != "fail" {
				t.Fatalf("passed=%v, %s=%s; report %+v", r.Passed, tc.failing, got[tc.failing], r.Checks)
			}
		})
	}
	t.Run("ExactHeadroomPasses", func(t *testing.T) {
		s, id := setup(t, none, true)
		r, _ := s.Verify(ctx, contracts.All, id, contracts.VerifyRequest{Amount: amt("1003000.00")})
		if checks(r)[contracts.CheckFinancingHeadroom] != "pass" {
			t.Fatalf("%+v", r.Checks)
		}
	})
}

func TestScope(t *testing.T) {
	t.Parallel()
	s, _ := newService(t, time.Now())
	mustIssuer(t, s, "jinan-pprc")
	n, _, err := s.SubmitAwardNotice(ctx, "jinan-pprc", notice("N1", usccSmall), signed)
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := s.SubmitContract(ctx, "jinan-pprc", contract("C1", "N1", usccSmall), signed)
	if err != nil {
		t.Fatal(err)
	}
	mine, other := contracts.Scope{SupplierUSCC: usccSmall}, contracts.Scope{SupplierUSCC: usccOther}
	if _, err := s.AwardNotice(ctx, mine, n.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AwardNotice(ctx, other, n.ID); !errs.Is(err, errs.NotFound) {
		t.Fatalf("other supplier sees the notice: %v", err)
	}
	if _, err := s.Contract(ctx, other, c.ID); !errs.Is(err, errs.NotFound) {
		t.Fatalf("other supplier sees the contract: %v", err)
	}
	if _, err := s.Verify(ctx, other, c.ID, contracts.VerifyRequest{}); !errs.Is(err, errs.NotFound) {
		t.Fatalf("other supplier verifies the contract: %v", err)
	}
	list, _ := s.Contracts(ctx, other, 0, 10)
	if len(list) != 0 {
		t.Fatalf("other supplier lists %d contracts", len(list))
	}
	list, _ = s.Contracts(ctx, mine, 0, 10)
	if len(list) != 1 || list[0].Financing.Limit.String() != "1003000.00" {
		t.Fatalf("own list %+v", list)
	}
	if _, err := s.Contract(ctx, contracts.All, "not-a-uuid"); !errs.Is(err, errs.NotFound) {
		t.Fatalf("malformed id: %v", err)
	}
}

// TestIssuerTextIsText: what an issuer sends is stored and shown to
// suppliers, officers and banks, so every text of a document, names and
// conditions included, must be valid text of bounded length: a control
// character or an overlong name is refused naming each field, and nothing
// is stored.
func TestIssuerTextIsText(t *testing.T) {
	t.Parallel()
	s, db := newService(t, time.Now())
	mustIssuer(t, s, "jinan-pprc")
	stored := func() int {
		return count(t, db, `SELECT (SELECT count(*) FROM award_notices) + (SELECT count(*) FROM contracts) + (SELECT count(*) FROM purchasers)`)
	}
	before := stored()
	n := notice("N1", usccSmall)
	n.ProjectName = "校园网\x1b[2J"
	n.Purchaser.Name = "山东大学\u0085"
	n.Supplier.Name = strings.Repeat("泉", 167) // 501 bytes, over 500
	_, _, err := s.SubmitAwardNotice(ctx, "jinan-pprc", n, signed)
	want := map[string]string{"project_name": "invalid_text", "purchaser.name": "invalid_text", "supplier.name": "too_long"}
	if got := fieldCodes(err); !cmp.Equal(got, want) {
		t.Fatalf("notice: fields %v, want %v (%v)", got, want, err)
	}
	if _, _, err := s.SubmitAwardNotice(ctx, "jinan-pprc", notice("N1", usccSmall), signed); err != nil {
		t.Fatal(err)
	}
	c := contract("C1", "N1", usccSmall)
	c.PaymentTerms[0].Condition = "验收合格\x07"
	_, _, err = s.SubmitContract(ctx, "jinan-pprc", c, signed)
	if got, want := fieldCodes(err), map[string]string{"payment_terms[0].condition": "invalid_text"}; !cmp.Equal(got, want) {
		t.Fatalf("contract: fields %v, want %v (%v)", got, want, err)
	}
	if got := stored(); got != before+2 { // the valid notice and its purchaser
		t.Fatalf("%d rows stored, want %d", got, before+2)
	}
}

func fieldCodes(err error) map[string]string {
	var e *errs.Error
	if !asErr(err, &e) {
		return nil
	}
	m := map[string]string{}
	for _, f := range e.Fields {
		m[f.Field] = f.Code
	}
	return m
}
