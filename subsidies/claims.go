package subsidies

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"procfin/lending"
	"procfin/platform/audit"
	"procfin/platform/auth"
	"procfin/platform/errs"
	"procfin/platform/ids"
	"procfin/platform/money"
	"procfin/platform/postgres"
)

// Service computes, reviews and pays interest subsidies.
type Service struct {
	db       *sqlx.DB
	defaults PolicyInput
}

// NewService returns the service; defaults become policy version 1 when
// EnsurePolicy finds no policy.
func NewService(db *sqlx.DB, defaults PolicyInput) *Service {
	return &Service{db: db, defaults: defaults}
}

// Claim statuses.
const (
	Pending    = "pending"    // waits for one officer, or two at or above the four-eyes threshold
	Held       = "held"       // would be pending, but waits for the purchaser's confirmation of the receivable (确权) first
	Approved   = "approved"   // took its amount from the year's budget
	Rejected   = "rejected"   // an officer refused it, with a reason
	Ineligible = "ineligible" // recorded so officers see why no subsidy is due
	Paid       = "paid"       // in a closed payment batch
)

// KnownStatus reports whether s is a claim status.
func KnownStatus(s string) bool {
	switch s {
	case Pending, Held, Approved, Rejected, Ineligible, Paid:
		return true
	}
	return false
}

// Claim is one repayment's interest-subsidy claim (SubsidyClaim).
type Claim struct {
	ID                string          `db:"id" json:"id"`
	Seq               int64           `db:"seq" json:"-"`
	RepaymentID       string          `db:"repayment_id" json:"repayment_id"`
	ApplicationID     string          `db:"application_id" json:"application_id"`
	LoanID            string          `db:"loan_id" json:"loan_id"`
	BankID            string          `db:"bank_id" json:"bank_id"`
	SupplierUSCC      string          `db:"supplier_uscc" json:"supplier_uscc"`
	PolicyVersion     *int            `db:"policy_version" json:"policy_version"`
	Year              int             `db:"year" json:"year"`
	PaidOn            money.Date      `db:"paid_on" json:"paid_on"`
	InterestPaid      money.Amount    `db:"interest_paid" json:"interest_paid"`
	Amount            money.Amount    `db:"amount" json:"amount"`
	Status            string          `db:"status" json:"status"`
	IneligibleReason  string          `db:"ineligible_reason" json:"ineligible_reason,omitempty"`
	RejectionReason   string          `db:"rejection_reason" json:"rejection_reason,omitempty"`
	Approvals         int             `db:"approvals" json:"approvals"`
	ApprovalsRequired int             `db:"approvals_required" json:"approvals_required"`
	Computation       json.RawMessage `db:"computation" json:"computation"`
	BatchID           *string         `db:"batch_id" json:"batch_id"`
	DecidedAt         *time.Time      `db:"decided_at" json:"decided_at"`
	CreatedAt         time.Time       `db:"created_at" json:"created_at"`
	UpdatedAt         time.Time       `db:"updated_at" json:"updated_at"`

	// SupplierName and BankName are the names beside the ids, for people
	// (read by Claims and Claim only).
	SupplierName string `db:"supplier_name" json:"-"`
	BankName     string `db:"bank_name" json:"-"`
}

// claimNames adds the supplier's and the bank's names to a query of
// subsidy_claims (columns supplier_name and bank_name, empty when unknown).
const claimNames = `, coalesce(sp.supplier_name, '') AS supplier_name, coalesce(bk.bank_name, '') AS bank_name FROM subsidy_claims
	LEFT JOIN LATERAL (SELECT name AS supplier_name FROM suppliers WHERE uscc = subsidy_claims.supplier_uscc) sp ON true
	LEFT JOIN LATERAL (SELECT name AS bank_name FROM banks WHERE banks.id = subsidy_claims.bank_id) bk ON true`

const claimColumns = `id, seq, repayment_id, application_id, loan_id, bank_id, supplier_uscc, policy_version, year,
	paid_on, interest_paid, amount, status, ineligible_reason, rejection_reason, approvals, approvals_required,
	computation, batch_id, decided_at, created_at, updated_at`

// OnRepaid creates the subsidy claims of the repayments recorded in tx (a
// batch of bank events; a lone repayment is a batch of one), in their
// order: banking.Events.OnRepaid. A repayment without interest has none. A
// repayment that is not subsidised (no policy in force, a supplier of an
// ineligible or unknown size class, the supplier's yearly cap used up)
// gets an "ineligible" claim with the reason, so officers see why; one
// paid while its loan was overdue a claim created "rejected" with the
// reason loan_overdue, for the record. A claim that would be pending on a
// loan whose repayment account the purchaser has not confirmed (a bank
// that disbursed before the confirmation) is created "held" instead, and
// waits for the confirmation (ReleaseHeld).
//
// It reads, in one statement, the histories of the repayments' loans
// (lending.LoanHistories: tranches, repayments, overdue episodes), and in
// another what the claims are computed from: the policy in force on each
// day paid, the suppliers' size classes, and the suppliers' (supplier,
// year) rows, made on first use and locked in (supplier, year) order. A
// batch of bank events locks its applications first (in id order), then
// what its events lock, and these rows last, in this one order, so two
// transactions never wait on each other's years. Each claim counts
// against its year's total as it stands with the claims made before it in
// tx, so two repayments of one supplier share the yearly cap in their
// order. The claims and the years' new totals are written just before tx
// commits.
func (s *Service) OnRepaid(ctx context.Context, tx *postgres.Tx, rs []lending.RepaymentResult) error {
	var claims []lending.ClaimOf
	for _, r := range rs {
		if rp := r.Repayment; rp.Interest.IsPositive() {
			claims = append(claims, lending.ClaimOf{LoanID: r.Loan.ID, RepaymentID: rp.ID, Seq: rp.Seq, Start: rp.PeriodStart, End: rp.PeriodEnd})
		}
	}
	if len(claims) == 0 {
		return nil
	}
	histories, err := lending.LoanHistories(ctx, tx, claims)
	if err != nil {
		return err
	}
	return s.onRepaid(ctx, tx, rs, histories)
}

// onRepaid is OnRepaid with the loans' histories read.
func (s *Service) onRepaid(ctx context.Context, tx *postgres.Tx, rs []lending.RepaymentResult, histories map[string]lending.LoanHistory) error {
	var usccs []string
	var paidOn []money.Date
	for _, r := range rs {
		if r.Repayment.Interest.IsPositive() {
			usccs, paidOn = append(usccs, r.Application.SupplierUSCC), append(paidOn, r.Repayment.PaidOn)
		}
	}
	if len(usccs) == 0 {
		return nil
	}
	pr := preparedIn(tx)
	bases, err := pr.read(ctx, tx, usccs, paidOn)
	if err != nil {
		return err
	}
	for _, r := range rs {
		if !r.Repayment.Interest.IsPositive() {
			continue
		}
		h, ok := histories[r.Loan.ID]
		if !ok {
			return errs.E(errs.Internal, "no history of loan %s read for repayment %s", r.Loan.ID, r.Repayment.ID)
		}
		c, err := claimOf(r, h, bases[basisKey{r.Application.SupplierUSCC, r.Repayment.PaidOn.String()}])
		if err != nil {
			return err
		}
		if err := pr.add(tx, c); err != nil {
			return err
		}
		reason := c.IneligibleReason + c.RejectionReason
		if c.Status == Held {
			reason = HeldReason
		}
		if err := audit.Record(ctx, tx, audit.Entry{Actor: "system:subsidies", Action: "subsidy_claim." + c.Status, EntityType: "subsidy_claim",
			EntityID: c.ID, After: c, Reason: reason}); err != nil {
			return err
		}
	}
	return nil
}

// LoanOverdue is the rejection reason of a claim of a repayment paid while
// its loan was overdue (domain.md 1.1, "While overdue").
const LoanOverdue = "loan_overdue"

// HeldReason says why a claim is held (domain.md 1.1, "Confirmation").
const HeldReason = "held: the purchaser has not confirmed the receivable (确权); the claim waits for the confirmation"

// inputsOf is what repayment r's subsidy is computed from, out of its
// loan's history h: the tranches it covers (the one it names, or all),
// and the principal of the repayments recorded before it on them, a
// whole-loan repayment's allocated oldest tranche first among the tranches
// recorded before it, replayed in the order recorded as lending.Repay
// allocated it. Returns internal when h
// does not hold r.
func inputsOf(r lending.RepaymentResult, h lending.LoanHistory) (Inputs, error) {
	rp := r.Repayment
	in := Inputs{OutstandingBefore: rp.OutstandingBefore, AnnualRate: r.Loan.AnnualRate, DisbursementID: rp.BankDisbursementID,
		PeriodStart: rp.PeriodStart, PeriodEnd: rp.PeriodEnd, InterestPaid: rp.Interest, PaidOn: rp.PaidOn,
		ClaimedThisYear: money.Zero, Tranches: []TrancheInput{}, EarlierPrincipal: []PrincipalRepaid{}}
	var this *lending.RepaymentEntry
	for i := range h.Repayments {
		if h.Repayments[i].ID == rp.ID {
			this = &h.Repayments[i]
		}
	}
	if this == nil {
		return in, errs.E(errs.Internal, "repayment %s is not in the history of loan %s", rp.ID, r.Loan.ID)
	}
	bankID := make(map[string]string, len(h.Tranches))
	left := make(map[string]money.Amount, len(h.Tranches))
	for _, t := range h.Tranches {
		bankID[t.ID], left[t.ID] = t.BankDisbursementID, t.Amount
	}
	var earlier []PrincipalRepaid
	take := func(trancheID string, paidOn money.Date, p money.Amount) {
		left[trancheID] = left[trancheID].Sub(p)
		earlier = append(earlier, PrincipalRepaid{DisbursementID: bankID[trancheID], PaidOn: paidOn, Principal: p})
	}
	for _, e := range h.Repayments {
		if e.Seq >= this.Seq || !e.Principal.IsPositive() {
			continue
		}
		if e.TrancheID != "" {
			take(e.TrancheID, e.PaidOn, e.Principal)
			continue
		}
		rest := e.Principal
		for _, t := range h.Tranches {
			p := left[t.ID]
			if !rest.IsPositive() {
				break
			}
			if !p.IsPositive() || t.RecordedAt.After(e.RecordedAt) { // a tranche recorded after it took none of it
				continue
			}
			if rest.LessThan(p) {
				p = rest
			}
			take(t.ID, e.PaidOn, p)
			rest = rest.Sub(p)
		}
	}
	covered := map[string]bool{}
	for _, t := range h.Tranches {
		if this.TrancheID == "" || this.TrancheID == t.ID {
			covered[t.BankDisbursementID] = true
			in.Tranches = append(in.Tranches, TrancheInput{DisbursementID: t.BankDisbursementID, Amount: t.Amount,
				ValueDate: t.ValueDate, AnnualRate: t.AnnualRate})
		}
	}
	for _, e := range earlier {
		if covered[e.DisbursementID] {
			in.EarlierPrincipal = append(in.EarlierPrincipal, e)
		}
	}
	return in, nil
}

// claimOf is the claim of repayment r of the loan whose history is h,
// computed from basis (nil: no policy was in force on the day paid), its
// year's claimed total as it stands.
func claimOf(r lending.RepaymentResult, h lending.LoanHistory, basis *claimBasis) (*Claim, error) {
	rp := r.Repayment
	in, err := inputsOf(r, h)
	if err != nil {
		return nil, err
	}
	claim := &Claim{RepaymentID: rp.ID, ApplicationID: r.Application.ID, LoanID: r.Loan.ID, BankID: r.Application.BankID,
		SupplierUSCC: r.Application.SupplierUSCC, Year: rp.PaidOn.Year(), PaidOn: rp.PaidOn, InterestPaid: rp.Interest,
		Amount: money.Zero, Status: Ineligible, ApprovalsRequired: 1}
	if basis == nil {
		claim.IneligibleReason = fmt.Sprintf(reasonNoPolicy, rp.PaidOn)
		claim.Computation, _ = json.Marshal(map[string]any{"inputs": in})
		return claim, nil
	}
	p := basis.Policy
	claim.PolicyVersion = &p.Version
	in.ClaimedThisYear = basis.year.claimed
	comp := Compute(in, p)
	claim.Computation, err = json.Marshal(comp)
	if err != nil {
		return nil, errs.Wrap(errs.Internal, err, "encode the computation")
	}
	sizeClass := "unknown"
	if basis.SizeClass.Valid {
		sizeClass = basis.SizeClass.String
	}
	_, isOverdue := h.OverdueOn(rp.PaidOn)
	switch {
	case sizeClass == "unknown" || sizeClass == "":
		claim.IneligibleReason = fmt.Sprintf(reasonSizeUnknown, strings.Join(p.EligibleSizeClasses, ", "))
	case !p.eligible(sizeClass):
		claim.IneligibleReason = fmt.Sprintf(reasonSizeNotEligible, sizeClass, p.Version, strings.Join(p.EligibleSizeClasses, ", "))
	case isOverdue:
		// Kept for the record with what it would have been; a rejected
		// claim counts against no cap or budget.
		claim.Status, claim.RejectionReason, claim.Amount = Rejected, LoanOverdue, comp.Amount
	case comp.Amount.IsZero() && comp.Subsidy.IsPositive():
		claim.IneligibleReason = fmt.Sprintf(reasonYearlyCapUsed, p.SupplierYearlyCap, claim.Year)
	case comp.Amount.IsZero():
		claim.IneligibleReason = reasonZero
	default:
		claim.Status, claim.Amount = Pending, comp.Amount
		if !comp.Amount.LessThan(p.FourEyesThreshold) {
			claim.ApprovalsRequired = 2
		}
		if !h.Confirmed {
			claim.Status = Held
		}
	}
	return claim, nil
}

// claimBasis is what a claim is computed from: the policy in force on the
// day paid, the supplier's size class, and the supplier's year as locked
// in the transaction.
type claimBasis struct {
	Policy
	SizeClass sql.NullString `db:"size_class"`

	year *supplierYear
}

// supplierYear is a supplier's year row as locked in a transaction:
// claimed is its total with the transaction's claims, added what they
// add to the row's when they are written.
type supplierYear struct{ claimed, added money.Amount }

// prepared is what a transaction knows of its claims: each (supplier,
// year) row locked in it, kept current, and the claims made in it,
// written just before it commits. It lives with the transaction, so that
// a second OnRepaid in one transaction sees the claims of the first.
type prepared struct {
	years  map[yearKey]*supplierYear
	claims []*Claim
}

// add makes c one of the transaction's claims, counted against its
// supplier's year when it counts (pending or held, with an amount): the year's
// row is locked in tx (read) until the commit, so its total here is what
// it will be. c's id and times are made here, from the transaction's
// clock, so that its audit entry shows the row as written. The
// transaction's claims and the years' totals are written by the statement
// that ends the transaction (tx.BeforeCommit): the claims of a batch
// cost one insert together.
func (pr *prepared) add(tx *postgres.Tx, c *Claim) error {
	var y *supplierYear
	if c.Amount.IsPositive() && (c.Status == Pending || c.Status == Held || c.Status == Approved || c.Status == Paid) {
		if y = pr.years[yearKey{c.SupplierUSCC, c.Year}]; y == nil {
			return errs.E(errs.Internal, "claim of repayment %s counted against a year not locked", c.RepaymentID)
		}
	}
	c.ID, c.CreatedAt, c.UpdatedAt = uuid.NewString(), tx.Now(), tx.Now()
	if c.Status == Rejected {
		at := tx.Now()
		c.DecidedAt = &at
	}
	if len(pr.claims) == 0 {
		tx.BeforeCommit(pr.insertClaims)
		tx.BeforeCommit(pr.countClaims)
	}
	pr.claims = append(pr.claims, c)
	if y != nil {
		y.claimed, y.added = y.claimed.Add(c.Amount), y.added.Add(c.Amount)
	}
	return nil
}

// insertClaims is the statement writing the transaction's claims, in the
// order they were made. The computations go as one JSON array, which
// needs no quoting, in the order of the other columns.
func (pr *prepared) insertClaims() (postgres.Write, error) {
	n := len(pr.claims)
	ids, reps, apps, loans := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	banks, usccs, statuses, reasons := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	rejections := make([]string, n)
	decided := make([]bool, n)
	paid, interest, amounts := make([]string, n), make([]string, n), make([]string, n)
	versions, years, required := make([]int64, n), make([]int64, n), make([]int64, n)
	at := make([]time.Time, n)
	var comps strings.Builder
	comps.WriteByte('[')
	for i, c := range pr.claims {
		ids[i], reps[i], apps[i], loans[i] = c.ID, c.RepaymentID, c.ApplicationID, c.LoanID
		banks[i], usccs[i], statuses[i], reasons[i] = c.BankID, c.SupplierUSCC, c.Status, c.IneligibleReason
		rejections[i], decided[i] = c.RejectionReason, c.Status == Rejected
		paid[i], interest[i], amounts[i] = c.PaidOn.String(), c.InterestPaid.String(), c.Amount.String()
		if c.PolicyVersion != nil {
			versions[i] = int64(*c.PolicyVersion)
		}
		years[i], required[i], at[i] = int64(c.Year), int64(c.ApprovalsRequired), c.CreatedAt
		if len(c.Computation) == 0 {
			return postgres.Write{}, errs.E(errs.Internal, "claim of repayment %s has no computation", c.RepaymentID)
		}
		if i > 0 {
			comps.WriteByte(',')
		}
		comps.Write(c.Computation)
	}
	comps.WriteByte(']')
	return postgres.Write{Query: `
		INSERT INTO subsidy_claims (id, repayment_id, application_id, loan_id, bank_id, supplier_uscc, policy_version, year,
			paid_on, interest_paid, amount, status, ineligible_reason, approvals_required, computation, created_at, updated_at,
			rejection_reason, decided_at)
		SELECT v.id, v.repayment_id, v.application_id, v.loan_id, v.bank_id, v.supplier_uscc, NULLIF(v.policy_version, 0), v.year,
			v.paid_on, v.interest_paid, v.amount, v.status, v.ineligible_reason, v.approvals_required, j.computation, v.at, v.at,
			v.rejection_reason, CASE WHEN v.decided THEN v.at END
		FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::text[], $7::int[], $8::int[],
				$9::date[], $10::numeric[], $11::numeric[], $12::text[], $13::text[], $14::int[], $15::timestamptz[],
				$17::text[], $18::bool[])
			WITH ORDINALITY AS v(id, repayment_id, application_id, loan_id, bank_id, supplier_uscc, policy_version, year,
				paid_on, interest_paid, amount, status, ineligible_reason, approvals_required, at, rejection_reason, decided, i)
		JOIN jsonb_array_elements($16::jsonb) WITH ORDINALITY AS j(computation, i) USING (i)
		ORDER BY i`,
		Args: []any{pq.Array(ids), pq.Array(reps), pq.Array(apps), pq.Array(loans), pq.Array(banks), pq.Array(usccs),
			pq.Array(versions), pq.Array(years), pq.Array(paid), pq.Array(interest), pq.Array(amounts), pq.Array(statuses),
			pq.Array(reasons), pq.Array(required), pq.Array(at), comps.String(), pq.Array(rejections), pq.Array(decided)}}, nil
}

// countClaims is the statement adding the transaction's claims to their
// suppliers' years, whose rows it locked.
func (pr *prepared) countClaims() (postgres.Write, error) {
	var usccs []string
	var years []int64
	var added []string
	for k, y := range pr.years {
		if y.added.IsPositive() {
			usccs, years, added = append(usccs, k.uscc), append(years, int64(k.year)), append(added, y.added.String())
		}
	}
	if len(usccs) == 0 {
		return postgres.Write{}, nil
	}
	return postgres.Write{Query: `
		UPDATE subsidy_supplier_years AS y SET claimed = y.claimed + v.added
		FROM unnest($1::text[], $2::int[], $3::numeric[]) AS v(supplier_uscc, year, added)
		WHERE y.supplier_uscc = v.supplier_uscc AND y.year = v.year`,
		Args: []any{pq.Array(usccs), pq.Array(years), pq.Array(added)}}, nil
}

type (
	preparedKey struct{}
	basisKey    struct{ uscc, paid string } // paid: the date as YYYY-MM-DD
	yearKey     struct {
		uscc string
		year int
	}
)

// read reads, in one statement, the basis of a claim for each repayment
// of a supplier paid on a day: the policies in force, the suppliers' size
// classes, and the suppliers' year rows, made on first use and locked in
// (supplier, year) order, the one order every transaction takes them in.
// A (supplier, day) without a policy in force has a nil basis. A year
// already locked in tx keeps its total there, which counts the claims made
// in tx but not written yet.
func (pr *prepared) read(ctx context.Context, tx *postgres.Tx, suppliers []string, paidOn []money.Date) (map[basisKey]*claimBasis, error) {
	var rows []struct {
		claimBasis
		Claimed      money.Amount `db:"claimed"`
		SupplierUSCC string       `db:"supplier_uscc"`
		PaidOn       money.Date   `db:"paid_on"`
		Year         int          `db:"year"`
	}
	err := tx.SelectContext(ctx, &rows, `
		WITH v AS (
			SELECT DISTINCT supplier_uscc, paid_on, extract(year FROM paid_on)::int AS year
			FROM unnest($1::text[], $2::date[]) AS v(supplier_uscc, paid_on)
		), p AS (
			SELECT v.supplier_uscc, v.paid_on, v.year, pol.*
			FROM v CROSS JOIN LATERAL (`+selectPolicy+`
				WHERE effective_from <= v.paid_on ORDER BY effective_from DESC, version DESC LIMIT 1) AS pol
		), y AS (
			INSERT INTO subsidy_supplier_years (supplier_uscc, year)
			SELECT DISTINCT supplier_uscc, year FROM p ORDER BY supplier_uscc, year
			ON CONFLICT (supplier_uscc, year) DO UPDATE SET claimed = subsidy_supplier_years.claimed
			RETURNING supplier_uscc, year, claimed
		)
		SELECT p.*, y.claimed, s.size_class
		FROM p JOIN y ON y.supplier_uscc = p.supplier_uscc AND y.year = p.year
		LEFT JOIN suppliers s ON s.uscc = p.supplier_uscc`, pq.Array(suppliers), pq.Array(paidOn))
	if err != nil {
		return nil, postgres.Translate(err)
	}
	bases := make(map[basisKey]*claimBasis, len(rows))
	for i := range rows {
		r := &rows[i]
		yk := yearKey{r.SupplierUSCC, r.Year}
		y, ok := pr.years[yk]
		if !ok {
			y = &supplierYear{claimed: r.Claimed}
			pr.years[yk] = y
		}
		b := r.claimBasis
		b.year = y
		bases[basisKey{r.SupplierUSCC, r.PaidOn.String()}] = &b
	}
	return bases, nil
}

// preparedIn returns tx's claims, made empty on first use.
func preparedIn(tx *postgres.Tx) *prepared {
	return tx.Value(preparedKey{}, func() any {
		return &prepared{years: map[yearKey]*supplierYear{}}
	}).(*prepared)
}

// Scope is what the caller may see of claims: a supplier its own, an
// officer everything, a purchaser (PurchaserIssuerID, PurchaserID) none.
type Scope struct {
	SupplierUSCC      string
	PurchaserIssuerID string
	PurchaserID       string
}

func (sc Scope) purchaserScoped() bool { return sc.PurchaserID != "" || sc.PurchaserIssuerID != "" }

// Claims lists claims in scope, newest first, with the status when given,
// at most limit, before seq `before` (0 for the newest).
func (s *Service) Claims(ctx context.Context, sc Scope, status string, before int64, limit int) ([]Claim, error) {
	list := []Claim{}
	if sc.purchaserScoped() {
		return list, nil
	}
	err := s.db.SelectContext(ctx, &list, `SELECT `+claimColumns+claimNames+`
		WHERE ($1 = '' OR supplier_uscc = $1) AND ($2 = '' OR status = $2) AND ($3 = 0 OR seq < $3)
		ORDER BY seq DESC LIMIT $4`, sc.SupplierUSCC, status, before, limit)
	return list, postgres.Translate(err)
}

// Claim returns one claim; not_found when absent or outside scope.
func (s *Service) Claim(ctx context.Context, sc Scope, id string) (Claim, error) {
	var c Claim
	canon, isID := ids.Canonical(id)
	if !isID || sc.purchaserScoped() {
		return c, errs.E(errs.NotFound, "no subsidy claim %s", id)
	}
	id = canon
	err := s.db.GetContext(ctx, &c, `SELECT `+claimColumns+claimNames+` WHERE id = $1`, id)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && sc.SupplierUSCC != "" && sc.SupplierUSCC != c.SupplierUSCC) {
		return Claim{}, errs.E(errs.NotFound, "no subsidy claim %s", id)
	}
	return c, postgres.Translate(err)
}

func claimForUpdate(ctx context.Context, tx *postgres.Tx, id string) (Claim, error) {
	var c Claim
	canon, isID := ids.Canonical(id)
	if !isID {
		return c, errs.E(errs.NotFound, "no subsidy claim %s", id)
	}
	id = canon
	err := tx.GetContext(ctx, &c, `SELECT `+claimColumns+` FROM subsidy_claims WHERE id = $1 FOR UPDATE`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return c, errs.E(errs.NotFound, "no subsidy claim %s", id)
	}
	return c, postgres.Translate(err)
}

// Approve records officer's approval of a pending claim. A claim at or
// above its policy's four-eyes threshold needs two different officers: the
// first approval is recorded and the claim stays pending. An approval by an
// officer disabled since (auth.DisableUser) no longer counts: the claim
// waits for another officer. The last
// approval takes the amount from the year's programme budget atomically.
// Returns not_found, invalid_transition (held: it waits for the
// purchaser's confirmation), conflict (not pending; the same officer
// again; the budget would be overdrawn), or the claim.
func (s *Service) Approve(ctx context.Context, id, officer string) (Claim, error) {
	var c Claim
	err := postgres.Transact(ctx, s.db, func(tx *postgres.Tx) error {
		var err error
		if c, err = claimForUpdate(ctx, tx, id); err != nil {
			return err
		}
		if c.Status == Held {
			return errs.E(errs.InvalidTransition, "the claim is held: the purchaser has not confirmed the receivable (确权), and the claim cannot be approved until it does")
		}
		if c.Status != Pending {
			return errs.E(errs.Conflict, "the claim is %s: only a pending claim can be approved", c.Status)
		}
		before := c
		_, err = tx.ExecContext(ctx, `INSERT INTO subsidy_claim_approvals (claim_id, officer) VALUES ($1, $2)`, c.ID, officer)
		if errs.Is(postgres.Translate(err), errs.Conflict) {
			return errs.E(errs.Conflict, "you already approved this claim of %s: a second, different officer must approve it (four-eyes)", c.Amount)
		}
		if err != nil {
			return postgres.Translate(err)
		}
		// Count the approvals again: one given by an officer disabled
		// since no longer counts (four-eyes needs two officers in office).
		if c.Approvals, err = countApprovals(ctx, tx, c.ID); err != nil {
			return err
		}
		action := "subsidy_claim.first_approval"
		if c.Approvals >= c.ApprovalsRequired {
			if err := takeBudget(ctx, tx, c.Year, c.Amount); err != nil {
				return err
			}
			c.Status, action = Approved, "subsidy_claim.approved"
		}
		// $3 is text, as the comparison makes it; the column's domain
		// (claim_status) checks it where it is written.
		err = tx.GetContext(ctx, &c, `
			UPDATE subsidy_claims SET approvals = $2, status = $3::text, updated_at = now(),
				decided_at = CASE WHEN $3 = 'approved' THEN now() END
			WHERE id = $1 RETURNING `+claimColumns, c.ID, c.Approvals, c.Status)
		if err != nil {
			return postgres.Translate(err)
		}
		return audit.Record(ctx, tx, audit.Entry{Actor: officer, Action: action, EntityType: "subsidy_claim",
			EntityID: c.ID, Before: before, After: c,
			Reason: lending.Cause{Code: "claim_approval", Args: lending.CauseArgs{"approvals": strconv.Itoa(c.Approvals),
				"required": strconv.Itoa(c.ApprovalsRequired), "amount": c.Amount.String()}}.String()})
	})
	if err != nil {
		return Claim{}, err
	}
	return c, nil
}

// countApprovals counts the claim's approvals by officers not disabled.
func countApprovals(ctx context.Context, tx *postgres.Tx, claimID string) (int, error) {
	var officers []string
	if err := tx.SelectContext(ctx, &officers, `SELECT officer FROM subsidy_claim_approvals WHERE claim_id = $1`, claimID); err != nil {
		return 0, postgres.Translate(err)
	}
	disabled, err := auth.DisabledUsers(ctx, tx, officers)
	if err != nil {
		return 0, err
	}
	return len(officers) - len(disabled), nil
}

// takeBudget adds amount to the year's used budget, in one statement that
// holds the row lock: two approvals can never both take the last of it.
// Returns conflict when the budget would be overdrawn.
func takeBudget(ctx context.Context, tx *postgres.Tx, year int, amount money.Amount) error {
	// The year's row is made from the policy that applies in it, the first time.
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO subsidy_budgets (year, budget)
		SELECT $1, programme_budget FROM subsidy_policies
		WHERE effective_from <= make_date($1, 12, 31)
		ORDER BY effective_from DESC, version DESC LIMIT 1
		ON CONFLICT (year) DO NOTHING`, year); err != nil {
		return postgres.Translate(err)
	}
	res, err := tx.ExecContext(ctx, `
		UPDATE subsidy_budgets SET used = used + $2
		WHERE year = $1 AND used + $2 <= budget`, year, amount)
	if err != nil {
		return postgres.Translate(err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	var b Budget
	if err := tx.GetContext(ctx, &b, `SELECT year, budget, used FROM subsidy_budgets WHERE year = $1`, year); errors.Is(err, sql.ErrNoRows) {
		return errs.E(errs.Conflict, "there is no programme budget for %d", year)
	} else if err != nil {
		return postgres.Translate(err)
	}
	return errs.E(errs.Conflict, "approving %s would overdraw the %d programme budget: %s of %s is used, %s is left",
		amount, year, b.Used, b.Budget, b.Budget.Sub(b.Used))
}

// Reject records an officer's refusal of a pending claim, with the reason
// (required). Returns invalid without a reason, not_found, or conflict
// when the claim is not pending.
func (s *Service) Reject(ctx context.Context, id, reason, officer string) (Claim, error) {
	if fe := CheckRejection(reason); len(fe) > 0 {
		return Claim{}, errs.InvalidFields(fe...)
	}
	reason = strings.TrimSpace(reason)
	var c Claim
	err := postgres.Transact(ctx, s.db, func(tx *postgres.Tx) error {
		var err error
		if c, err = claimForUpdate(ctx, tx, id); err != nil {
			return err
		}
		if c.Status != Pending {
			return errs.E(errs.Conflict, "the claim is %s: only a pending claim can be rejected", c.Status)
		}
		before := c
		// The claim no longer counts against the supplier's yearly cap.
		err = tx.GetContext(ctx, &c, `
			WITH c AS (
				UPDATE subsidy_claims SET status = 'rejected', rejection_reason = $2, decided_at = now(), updated_at = now()
				WHERE id = $1 RETURNING `+claimColumns+`
			), uncounted AS (
				UPDATE subsidy_supplier_years AS y SET claimed = y.claimed - c.amount
				FROM c WHERE y.supplier_uscc = c.supplier_uscc AND y.year = c.year
			)
			SELECT * FROM c`, c.ID, reason)
		if err != nil {
			return postgres.Translate(err)
		}
		return audit.Record(ctx, tx, audit.Entry{Actor: officer, Action: "subsidy_claim.rejected", EntityType: "subsidy_claim",
			EntityID: c.ID, Before: before, After: c, Reason: reason})
	})
	if err != nil {
		return Claim{}, err
	}
	return c, nil
}

// Budget is one year's programme budget.
type Budget struct {
	Year   int          `db:"year" json:"year"`
	Budget money.Amount `db:"budget" json:"budget"`
	Used   money.Amount `db:"used" json:"used"`
	Left   money.Amount `db:"-" json:"left"`
}
