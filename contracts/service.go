package contracts

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/shopspring/decimal"

	"procfin/platform/money"
	"procfin/platform/postgres"
	"procfin/platform/safehttp"
)

// Policy holds the financing rules the contracts package applies: the
// share of a contract that may be financed and who is eligible.
type Policy struct {
	FinancingRatio  decimal.Decimal // of the amount less retention
	Currency        string          // only contracts in it can be financed
	EligibleClasses []SizeClass
}

// Service keeps issuers, suppliers, award notices and contracts.
type Service struct {
	db     *sqlx.DB
	policy Policy
	now    func() time.Time
	urls   safehttp.Policy // which issuers' JWKS URLs may be registered (SetURLPolicy)
	// onNewVersion is told of each new version of a financed contract (OnNewVersion).
	onNewVersion func(ctx context.Context, tx *postgres.Tx, v VersionArrived) error
}

// NewService returns a Service over db. A nil now means time.Now.
func NewService(db *sqlx.DB, policy Policy, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{db: db, policy: policy, now: now}
}

// Scope limits what a caller sees: a supplier user sees only documents
// naming its supplier, a purchaser user or signing system only those of its
// purchaser; officers and administrators see all (the zero Scope).
type Scope struct {
	SupplierUSCC string
	// PurchaserIssuerID and PurchaserID, when set, limit the scope to the
	// contracts of that purchaser (a purchaser user or signing system).
	PurchaserIssuerID string
	PurchaserID       string
}

// All is the scope of officers and administrators.
var All = Scope{}

// purchaserScoped reports whether the scope is a purchaser's: one with
// either field set sees only documents naming exactly that purchaser under
// that issuer, never everything.
func (s Scope) purchaserScoped() bool { return s.PurchaserID != "" || s.PurchaserIssuerID != "" }

// allows reports whether the scope may see the supplier: a purchaser's
// scope sees no supplier record of its own accord.
func (s Scope) allows(uscc string) bool {
	return !s.purchaserScoped() && (s.SupplierUSCC == "" || s.SupplierUSCC == uscc)
}

// allowsDocument reports whether the scope may see a document of the
// issuer naming the purchaser and the supplier.
func (s Scope) allowsDocument(issuerID, purchaserID, uscc string) bool {
	return (s.SupplierUSCC == "" || s.SupplierUSCC == uscc) &&
		(!s.purchaserScoped() || (s.PurchaserIssuerID == issuerID && s.PurchaserID == purchaserID))
}

// scopeSQL is the condition, on a documents' table aliased t, that keeps
// to the scope, with its arguments numbered from n: the supplier, then the
// purchaser.
func (s Scope) scopeSQL(t string, n int) (string, []any) {
	arg := func(i int) string { return "$" + strconv.Itoa(n+i) }
	cond := "(" + arg(0) + " = '' OR " + t + ".supplier_uscc = " + arg(0) + ") AND (NOT " + arg(1) + " OR (" +
		t + ".issuer_id = " + arg(2) + " AND " + t + ".purchaser_id = " + arg(3) + "))"
	return cond, []any{s.SupplierUSCC, s.purchaserScoped(), s.PurchaserIssuerID, s.PurchaserID}
}

// digestOf is the SHA-256 of v's JSON: documents are compared by it. The
// JSON of the parsed document is canonical (fixed field order, normalised
// amounts and dates), so formatting differences do not make a new version.
func digestOf(v any) (string, []byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", nil, err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), b, nil
}

func today(now time.Time) money.Date { return money.DateOf(now) }
