package contracts

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"procfin/platform/errs"
	"procfin/platform/i18n"
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
	// Code and Args say the reason in words any language can give: the
	// catalogue's verify.<code> with the arguments (platform/i18n).
	Code string `json:"code,omitempty"`
	Args []any  `json:"args,omitempty"`
}

// A Reason is why a check passed or failed: a code of the catalogue
// (verify.<code>, worded in every language) and its arguments.
type Reason struct {
	Code string
	Args []any
}

// Because is the reason code with args.
func Because(code string, args ...any) Reason { return Reason{Code: code, Args: args} }

// String is the reason in English, as the API gives it.
func (r Reason) String() string { return i18n.T(i18n.EN, "verify."+r.Code, r.Args...) }

// Report is the result of verifying a contract for financing.
type Report struct {
	ContractID string    `json:"contract_id"`
	VerifiedAt time.Time `json:"verified_at"`
	Passed     bool      `json:"passed"`
	Checks     []Check   `json:"checks"`
}

// Add appends a check (the lending package adds credit_line.available)
// with its reason: code (the catalogue's verify.<code>) and args.
func (r *Report) Add(name string, ok bool, code string, args ...any) {
	r.AddReason(name, ok, Because(code, args...))
}

// AddReason appends a check with its reason.
func (r *Report) AddReason(name string, ok bool, why Reason) {
	res := "pass"
	if !ok {
		res = "fail"
	}
	r.Checks = append(r.Checks, Check{Name: name, Result: res, Reason: why.String(), Code: why.Code, Args: why.Args})
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
		r.Add(CheckIssuerSignature, false, "provenance_missing")
	case signed == 2:
		r.Add(CheckIssuerSignature, true, "signed_by", c.IssuerID)
	default:
		r.Add(CheckIssuerSignature, true, "imported_ocds", c.IssuerID, imported)
	}

	r.Add(CheckAwardActive, n.Status == StatusActive, "notice_status", n.NoticeNo, n.Status)

	if _, err := ParseUSCC(sup.USCC); err == nil {
		r.Add(CheckSupplierUSCCValid, true, "uscc_valid", sup.USCC)
	} else if sup.USCCOverrideReason != "" {
		r.Add(CheckSupplierUSCCValid, true, "uscc_overridden", sup.USCC, sup.USCCOverrideReason)
	} else {
		r.Add(CheckSupplierUSCCValid, false, "uscc_invalid", sup.USCC)
	}

	switch {
	case req.ApplicantUSCC == "":
		r.Add(CheckSupplierIsApplicant, true, "own_supplier", c.SupplierUSCC)
	case req.ApplicantUSCC == c.SupplierUSCC:
		r.Add(CheckSupplierIsApplicant, true, "applicant_is_supplier", req.ApplicantUSCC)
	default:
		r.Add(CheckSupplierIsApplicant, false, "applicant_not_supplier", req.ApplicantUSCC)
	}

	switch {
	case !sup.Registered || sup.SizeClass == SizeUnknown:
		r.Add(CheckSupplierSMEEligible, false, "size_unknown")
	case slices.Contains(s.policy.EligibleClasses, sup.SizeClass):
		r.Add(CheckSupplierSMEEligible, true, "size_eligible", sup.SizeClass)
	default:
		r.Add(CheckSupplierSMEEligible, false, "size_not_eligible", sup.SizeClass, classList(s.policy.EligibleClasses))
	}

	r.Add(CheckReferencesAward, n.IssuerID == c.IssuerID, "references_award", n.NoticeNo, n.IssuerID)

	switch {
	case n.PurchaserID != c.PurchaserID:
		r.Add(CheckPartiesMatchAward, false, "purchaser_mismatch", c.PurchaserID, n.PurchaserID)
	case n.SupplierUSCC != c.SupplierUSCC:
		r.Add(CheckPartiesMatchAward, false, "supplier_mismatch", c.SupplierUSCC, n.SupplierUSCC)
	default:
		r.Add(CheckPartiesMatchAward, true, "parties_match")
	}

	switch {
	case n.Currency != c.Currency:
		r.Add(CheckAmountWithinAward, false, "currency_mismatch", c.Currency, n.Currency)
	case c.Amount.GreaterThan(n.Amount):
		r.Add(CheckAmountWithinAward, false, "amount_above_award", c.Amount, n.Amount)
	default:
		r.Add(CheckAmountWithinAward, true, "amount_within_award", c.Amount, n.Amount)
	}

	r.Add(CheckContractActive, c.Status == StatusActive, "contract_status", c.Status)

	if c.AmendmentPending {
		r.Add(CheckNoPendingAmendment, false, "amendment_pending")
	} else {
		r.Add(CheckNoPendingAmendment, true, "no_amendment_pending")
	}

	day := today(now)
	switch {
	case day.Before(c.SignedOn):
		r.Add(CheckContractInPeriod, false, "dated_after_today", c.SignedOn, day)
	case day.After(c.PeriodEnd):
		r.Add(CheckContractInPeriod, false, "period_ended", c.PeriodEnd)
	default:
		r.Add(CheckContractInPeriod, true, "within_period", day, c.SignedOn, c.PeriodEnd)
	}

	f := s.policy.FinancingOf(c)
	switch {
	case !f.Financeable:
		r.AddReason(CheckFinancingHeadroom, false, f.Why)
	case req.Amount != nil && req.Amount.GreaterThan(f.Available):
		r.Add(CheckFinancingHeadroom, false, "headroom_short", req.Amount, f.Available, f.Limit)
	default:
		r.Add(CheckFinancingHeadroom, true, "headroom", f.Available, f.Limit)
	}
	return r, Checked{Notice: n, Supplier: sup}
}

// classList is size classes as one argument of a reason: "small, micro".
func classList(cs []SizeClass) string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = string(c)
	}
	return strings.Join(out, ", ")
}
