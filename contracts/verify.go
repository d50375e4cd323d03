package contracts

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"procfin/platform/errs"
	"procfin/platform/money"
	"procfin/platform/postgres"
)

// The named checks of award verification (中标核实), in report order.
const (
	CheckIssuerSignature     = "issuer.signature"
	CheckAwardActive         = "award.active"
	CheckSupplierUSCCValid   = "supplier.uscc_valid"
	CheckSupplierIsApplicant = "supplier.is_applicant"
	CheckSupplierSMEEligible = "supplier.sme_eligible"
	CheckReferencesAward     = "contract.references_award"
	CheckPartiesMatchAward   = "contract.parties_match_award"
	CheckAmountWithinAward   = "contract.amount_within_award"
	CheckContractActive      = "contract.active"
	CheckContractInPeriod    = "contract.in_period"
	CheckNoPendingAmendment  = "contract.no_pending_amendment"
	CheckFinancingHeadroom   = "financing.headroom"
	CheckSupplierNotOverdue  = "supplier.not_overdue" // added by lending: no overdue loan, no recent write-off
	CheckContractSingleBank  = "contract.single_bank" // added by lending: no live application at another bank
	CheckCreditLineAvailable = "credit_line.available"
)

// Check is one verification check's result.
type Check struct {
	Name   string `json:"name"`
	Result string `json:"result"` // "pass" or "fail"
	Reason string `json:"reason"`
}

// Report is the result of verifying a contract for financing.
type Report struct {
	ContractID string    `json:"contract_id"`
	VerifiedAt time.Time `json:"verified_at"`
	Passed     bool      `json:"passed"`
	Checks     []Check   `json:"checks"`
}

// Add appends a check (the lending package adds credit_line.available).
func (r *Report) Add(name string, ok bool, reason string, args ...any) {
	res := "pass"
	if !ok {
		res = "fail"
	}
	r.Checks = append(r.Checks, Check{Name: name, Result: res, Reason: fmt.Sprintf(reason, args...)})
	r.Passed = r.Passed && ok
}

// VerifyRequest says what to verify the contract for.
type VerifyRequest struct {
	ApplicantUSCC string        // the supplier applying; "" checks the contract's own supplier
	Amount        *money.Amount // the amount asked for, if any
}

// Verify runs every check over the stored records and reports each. It
// returns not_found when the contract does not exist or is outside scope;
// failed checks are in the report, not an error.
func (s *Service) Verify(ctx context.Context, scope Scope, contractID string, req VerifyRequest) (Report, error) {
	c, err := s.Contract(ctx, scope, contractID)
	if err != nil {
		return Report{}, err
	}
	r, _, err := s.VerifyContract(ctx, s.db, c, req)
	return r, err
}

// Checked is what a verification read besides the contract: the award
// notice and the supplier, as they were checked.
type Checked struct {
	Notice   AwardNotice
	Supplier Supplier
}

// Evidence is what verification reads besides the contract: the award
// notice (with its parties' names), the contract's supplier, and the
// provenance of both documents' current versions.
type Evidence struct {
	Notice     AwardNotice
	Supplier   Supplier
	Provenance []string
}

// VerifyContract runs the checks on c with q, which may be the caller's
// transaction (then at its instant, else at the service's clock), and
// returns the notice and supplier it checked, so that the caller need not
// read them again.
func (s *Service) VerifyContract(ctx context.Context, q sqlx.QueryerContext, c Contract, req VerifyRequest) (Report, Checked, error) {
	evidence, err := s.EvidenceOf(ctx, q, []Contract{c})
	if err != nil {
		return Report{}, Checked{}, err
	}
	ev, ok := evidence[c.ID]
	if !ok {
		return Report{}, Checked{}, errs.E(errs.NotFound, "no award notice %s", c.NoticeID)
	}
	now := s.now()
	if tx, ok := q.(*postgres.Tx); ok {
		now = tx.Now()
	}
	r, checked := s.CheckContract(c, ev, req, now)
	return r, checked, nil
}

// EvidenceOf reads the evidence of each of cs, in one round trip with q,
// keyed by contract id. A contract whose award notice is missing has none.
func (s *Service) EvidenceOf(ctx context.Context, q sqlx.QueryerContext, cs []Contract) (map[string]Evidence, error) {
	notices, ids, versions, usccs := make([]string, len(cs)), make([]string, len(cs)), make([]int64, len(cs)), make([]string, len(cs))
	for i, c := range cs {
		notices[i], ids[i], versions[i], usccs[i] = c.NoticeID, c.ID, int64(c.Version), c.SupplierUSCC
	}
	var rows []struct {
		ContractID string `db:"contract_id"`
		evidenceRow
	}
	err := sqlx.SelectContext(ctx, q, &rows, `
		SELECT c.id AS contract_id, `+evidenceColumns+`
		FROM unnest($1::uuid[], $2::uuid[], $3::int[], $4::text[]) AS c(notice_id, id, version, supplier_uscc)`+evidenceJoins,
		pq.Array(notices), pq.Array(ids), pq.Array(versions), pq.Array(usccs))
	if err != nil {
		return nil, postgres.Translate(err)
	}
	evidence := make(map[string]Evidence, len(rows))
	for _, row := range rows {
		evidence[row.ContractID] = row.evidence()
	}
	return evidence, nil
}

// evidenceColumns and evidenceJoins read a contract's evidence, for a query
// over rows c with the contract's id, notice_id, version and supplier_uscc:
// the award notice n with its purchaser's and supplier's names (np, ns),
// the contract's supplier cs, and the provenance of both documents' current
// versions. They scan into an evidenceRow.
const (
	evidenceColumns = `
		n.id AS "ev.id", n.seq AS "ev.seq", n.issuer_id AS "ev.issuer_id", n.notice_no AS "ev.notice_no",
		n.project_no AS "ev.project_no", n.project_name AS "ev.project_name", n.purchaser_id AS "ev.purchaser_id",
		n.supplier_uscc AS "ev.supplier_uscc", n.amount AS "ev.amount", n.currency AS "ev.currency",
		n.awarded_on AS "ev.awarded_on", n.procurement_method AS "ev.procurement_method", n.status AS "ev.status",
		n.version AS "ev.version", n.digest AS "ev.digest", n.source AS "ev.source",
		n.created_at AS "ev.created_at", n.updated_at AS "ev.updated_at",
		np.name AS "ev.purchaser_name", ns.name AS "ev.supplier_name",
		cs.uscc AS "sup.uscc", cs.name AS "sup.name", cs.industry AS "sup.industry",
		cs.employees AS "sup.employees", cs.annual_revenue AS "sup.annual_revenue",
		cs.total_assets AS "sup.total_assets", cs.size_class AS "sup.size_class",
		cs.size_assessed_on AS "sup.size_assessed_on", cs.uscc_override_reason AS "sup.uscc_override_reason",
		cs.registered AS "sup.registered", cs.created_at AS "sup.created_at", cs.updated_at AS "sup.updated_at",
		ARRAY(SELECT d.source FROM document_versions d
			WHERE (d.kind = 'award_notice' AND d.document_id = n.id AND d.version = n.version)
			   OR (d.kind = 'contract' AND d.document_id = c.id AND d.version = c.version)) AS provenance`
	evidenceJoins = `
		JOIN award_notices n ON n.id = c.notice_id
		JOIN purchasers np ON np.issuer_id = n.issuer_id AND np.id = n.purchaser_id
		JOIN suppliers ns ON ns.uscc = n.supplier_uscc
		JOIN suppliers cs ON cs.uscc = c.supplier_uscc`
)

type evidenceRow struct {
	Notice     AwardNotice    `db:"ev"`
	Sup        Supplier       `db:"sup"`
	Provenance pq.StringArray `db:"provenance"`
}

func (r evidenceRow) evidence() Evidence {
	n := r.Notice
	n.fill()
	return Evidence{Notice: n, Supplier: r.Sup, Provenance: r.Provenance}
}

// CheckContract runs every check on c and its evidence at now (the
// report's time, and the day its dates are judged on), reading nothing:
// lending checks several applications of one contract in turn, the
// contract's financed amount moving on after each, at its transaction's
// instant.
func (s *Service) CheckContract(c Contract, ev Evidence, req VerifyRequest, now time.Time) (Report, Checked) {
	r := Report{ContractID: c.ID, VerifiedAt: now.UTC().Truncate(time.Second), Passed: true}
	n, sup := ev.Notice, ev.Supplier
	signed, imported := 0, 0
	for _, source := range ev.Provenance {
		switch source {
		case "signed":
			signed++
		case "ocds_import":
			imported++
		}
	}
	switch {
	case len(ev.Provenance) != 2:
		r.Add(CheckIssuerSignature, false, "the provenance of the documents' current versions is missing")
	case signed == 2:
		r.Add(CheckIssuerSignature, true, "both documents were signed by %s, and the signatures were checked on receipt", c.IssuerID)
	default:
		r.Add(CheckIssuerSignature, true, "imported by an administrator from %s's published OCDS records (%d of 2 documents)", c.IssuerID, imported)
	}

	r.Add(CheckAwardActive, n.Status == StatusActive, "award notice %s is %s", n.NoticeNo, n.Status)

	if _, err := ParseUSCC(sup.USCC); err == nil {
		r.Add(CheckSupplierUSCCValid, true, "%s is a valid unified social credit code", sup.USCC)
	} else if sup.USCCOverrideReason != "" {
		r.Add(CheckSupplierUSCCValid, true, "%s fails its checksum but an administrator accepted it: %s", sup.USCC, sup.USCCOverrideReason)
	} else {
		r.Add(CheckSupplierUSCCValid, false, "%s is not a valid unified social credit code", sup.USCC)
	}

	switch {
	case req.ApplicantUSCC == "":
		r.Add(CheckSupplierIsApplicant, true, "checked for the contract's own supplier %s", c.SupplierUSCC)
	case req.ApplicantUSCC == c.SupplierUSCC:
		r.Add(CheckSupplierIsApplicant, true, "the applicant %s is the contract's supplier", req.ApplicantUSCC)
	default:
		r.Add(CheckSupplierIsApplicant, false, "the applicant %s is not the contract's supplier", req.ApplicantUSCC)
	}

	switch {
	case !sup.Registered || sup.SizeClass == SizeUnknown:
		r.Add(CheckSupplierSMEEligible, false, "the supplier's size is not known yet: an administrator must complete its registration (industry, employees, revenue, assets)")
	case slices.Contains(s.policy.EligibleClasses, sup.SizeClass):
		r.Add(CheckSupplierSMEEligible, true, "a %s enterprise, which the programme serves", sup.SizeClass)
	default:
		r.Add(CheckSupplierSMEEligible, false, "a %s enterprise: the programme serves only %v enterprises", sup.SizeClass, s.policy.EligibleClasses)
	}

	r.Add(CheckReferencesAward, n.IssuerID == c.IssuerID, "the contract references award notice %s of %s", n.NoticeNo, n.IssuerID)

	switch {
	case n.PurchaserID != c.PurchaserID:
		r.Add(CheckPartiesMatchAward, false, "the contract's purchaser %s is not the award's purchaser %s", c.PurchaserID, n.PurchaserID)
	case n.SupplierUSCC != c.SupplierUSCC:
		r.Add(CheckPartiesMatchAward, false, "the contract's supplier %s is not the award's supplier %s", c.SupplierUSCC, n.SupplierUSCC)
	default:
		r.Add(CheckPartiesMatchAward, true, "purchaser and supplier are those of the award")
	}

	switch {
	case n.Currency != c.Currency:
		r.Add(CheckAmountWithinAward, false, "the contract is in %s but the award in %s", c.Currency, n.Currency)
	case c.Amount.GreaterThan(n.Amount):
		r.Add(CheckAmountWithinAward, false, "the contract amount %s is above the award amount %s", c.Amount, n.Amount)
	default:
		r.Add(CheckAmountWithinAward, true, "the contract amount %s is within the award amount %s", c.Amount, n.Amount)
	}

	r.Add(CheckContractActive, c.Status == StatusActive, "the contract is %s", c.Status)

	if c.AmendmentPending {
		r.Add(CheckNoPendingAmendment, false, "a new version of the contract that would change its financing waits for an officer's review")
	} else {
		r.Add(CheckNoPendingAmendment, true, "no new version of the contract waits for review")
	}

	day := today(now)
	switch {
	case day.Before(c.SignedOn):
		r.Add(CheckContractInPeriod, false, "the contract is dated %s, after today %s", c.SignedOn, day)
	case day.After(c.PeriodEnd):
		r.Add(CheckContractInPeriod, false, "the contract period ended on %s", c.PeriodEnd)
	default:
		r.Add(CheckContractInPeriod, true, "today %s is within the contract (signed %s, period ends %s)", day, c.SignedOn, c.PeriodEnd)
	}

	f := s.policy.FinancingOf(c)
	switch {
	case !f.Financeable:
		r.Add(CheckFinancingHeadroom, false, "%s", f.Reason)
	case req.Amount != nil && req.Amount.GreaterThan(f.Available):
		r.Add(CheckFinancingHeadroom, false, "%s asked for, but only %s of the contract's %s limit is left", req.Amount, f.Available, f.Limit)
	default:
		r.Add(CheckFinancingHeadroom, true, "%s of the contract's %s limit is available", f.Available, f.Limit)
	}
	return r, Checked{Notice: n, Supplier: sup}
}
