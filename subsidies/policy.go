package subsidies

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/lib/pq"

	"procfin/platform/audit"
	"procfin/platform/errs"
	"procfin/platform/money"
	"procfin/platform/postgres"
)

// Policy is one version of the subsidy policy (SubsidyPolicy). A repayment
// is subsidised under the newest version in force on the day it was paid.
type Policy struct {
	Version       int        `db:"version" json:"version"`
	EffectiveFrom money.Date `db:"effective_from" json:"effective_from"`
	SubsidyRatio  money.Rate `db:"subsidy_ratio" json:"subsidy_ratio"`
	// RateCap is the entry of LPR1Y in force on EffectiveFrom, shown for
	// reference: claims use LPR1Y, day by day.
	RateCap             money.Rate     `db:"rate_cap" json:"rate_cap"`
	LPR1Y               LPRTable       `db:"lpr_1y" json:"lpr_1y"`
	SupplierYearlyCap   money.Amount   `db:"supplier_yearly_cap" json:"supplier_yearly_cap"`
	ProgrammeBudget     money.Amount   `db:"programme_budget" json:"programme_budget"`
	EligibleSizeClasses pq.StringArray `db:"eligible_size_classes" json:"eligible_size_classes"`
	FourEyesThreshold   money.Amount   `db:"four_eyes_threshold" json:"four_eyes_threshold"`
	CreatedBy           string         `db:"created_by" json:"created_by"`
	CreatedAt           time.Time      `db:"created_at" json:"created_at"`
}

// eligible reports whether the policy subsidises suppliers of the class.
func (p Policy) eligible(sizeClass string) bool {
	for _, c := range p.EligibleSizeClasses {
		if c == sizeClass {
			return true
		}
	}
	return false
}

// PolicyInput is a new policy version as an administrator (or the
// configuration) gives it: decimal strings, checked by Validate.
type PolicyInput struct {
	EffectiveFrom string `json:"effective_from"`
	SubsidyRatio  string `json:"subsidy_ratio"`
	// LPR1Y is the dated 1-year LPR, the rate cap of each day. RateCap,
	// a single cap, is the table of one entry from EffectiveFrom; give
	// one of the two.
	LPR1Y               []LPRInput `json:"lpr_1y"`
	RateCap             string     `json:"rate_cap"`
	SupplierYearlyCap   string     `json:"supplier_yearly_cap"`
	ProgrammeBudget     string     `json:"programme_budget"`
	EligibleSizeClasses []string   `json:"eligible_size_classes"`
	FourEyesThreshold   string     `json:"four_eyes_threshold"`
}

// Validate parses the input into a Policy (without version). Returns
// invalid, naming every bad field: a ratio or rate outside 0..1, an
// lpr_1y empty, with a bad date or not in increasing date order, lpr_1y
// given with rate_cap or neither given, a negative or malformed cap,
// budget or threshold, an unknown size class. rate_cap alone is the table
// of one entry from effective_from.
func (in PolicyInput) Validate() (Policy, error) {
	var p Policy
	var fe []errs.FieldError
	bad := func(field, code, msg string) {
		fe = append(fe, errs.FieldError{Field: field, Code: code, Message: msg})
	}
	if d, err := money.ParseDate(in.EffectiveFrom); err != nil {
		bad("effective_from", "invalid_date", "must be a date YYYY-MM-DD")
	} else {
		p.EffectiveFrom = d
	}
	rate := func(field, v string, dst *money.Rate) {
		r, err := money.ParseRate(v)
		if err != nil {
			bad(field, errs.FieldInvalidRate, "")
			return
		}
		*dst = r
	}
	rate("subsidy_ratio", in.SubsidyRatio, &p.SubsidyRatio)
	switch {
	case len(in.LPR1Y) > 0 && in.RateCap != "":
		bad("rate_cap", "conflicts", "give lpr_1y (the dated 1-year LPR) or rate_cap (one cap for every day), not both")
	case in.LPR1Y != nil:
		table, lprErrs := parseLPR(in.LPR1Y)
		fe = append(fe, lprErrs...)
		p.LPR1Y = table
	case in.RateCap != "":
		rate("rate_cap", in.RateCap, &p.RateCap)
		if !p.EffectiveFrom.IsZero() && len(fe) == 0 {
			p.LPR1Y = LPRTable{{From: p.EffectiveFrom, Rate: p.RateCap}}
		}
	default:
		bad("lpr_1y", "required", "name the 1-year LPR: at least one entry {\"from\": \"YYYY-MM-DD\", \"rate\": \"0.0310\"}")
	}
	amount := func(field, v string, dst *money.Amount) {
		a, err := money.ParseAmount(v)
		switch {
		case err != nil:
			fe = append(fe, money.Problem(field, err))
		case a.IsNegative():
			bad(field, "negative", "must not be negative")
		default:
			*dst = a
		}
	}
	amount("supplier_yearly_cap", in.SupplierYearlyCap, &p.SupplierYearlyCap)
	amount("programme_budget", in.ProgrammeBudget, &p.ProgrammeBudget)
	amount("four_eyes_threshold", in.FourEyesThreshold, &p.FourEyesThreshold)
	if len(in.EligibleSizeClasses) == 0 {
		bad("eligible_size_classes", "required", "name at least one size class (micro, small, medium, large)")
	}
	seen := map[string]bool{}
	for _, c := range in.EligibleSizeClasses {
		switch c {
		case "micro", "small", "medium", "large":
		default:
			bad("eligible_size_classes", "unknown_size_class", fmt.Sprintf("%q is not a size class (micro, small, medium, large)", c))
			continue
		}
		if !seen[c] {
			seen[c] = true
			p.EligibleSizeClasses = append(p.EligibleSizeClasses, c)
		}
	}
	if len(fe) > 0 {
		return Policy{}, errs.InvalidFields(fe...)
	}
	p.RateCap = p.LPR1Y.On(p.EffectiveFrom)
	return p, nil
}

const selectPolicy = `SELECT version, effective_from, subsidy_ratio, rate_cap, lpr_1y, supplier_yearly_cap, programme_budget,
	eligible_size_classes, four_eyes_threshold, created_by, created_at FROM subsidy_policies`

// EnsurePolicy inserts the configured defaults as version 1 when there is
// no policy yet (at start-up). Returns invalid when the defaults are bad.
func (s *Service) EnsurePolicy(ctx context.Context) error {
	p, err := s.defaults.Validate()
	if err != nil {
		return fmt.Errorf("subsidy defaults: %w", err)
	}
	return postgres.Transact(ctx, s.db, func(tx *postgres.Tx) error {
		// Two processes starting together must not both insert version 1.
		if _, err := tx.ExecContext(ctx, `LOCK TABLE subsidy_policies IN EXCLUSIVE MODE`); err != nil {
			return postgres.Translate(err)
		}
		var n int
		if err := tx.GetContext(ctx, &n, `SELECT count(*) FROM subsidy_policies`); err != nil {
			return postgres.Translate(err)
		}
		if n > 0 {
			return nil
		}
		_, err := s.insertPolicy(ctx, tx, p, "system:config")
		return err
	})
}

// AddPolicy records a new policy version from effective_from on. Budgets
// of the years it applies to follow its programme budget. Returns invalid
// for bad input, conflict when the new budget is below what approvals
// already took in a year it covers.
func (s *Service) AddPolicy(ctx context.Context, in PolicyInput, actor string) (Policy, error) {
	p, err := in.Validate()
	if err != nil {
		return Policy{}, err
	}
	err = postgres.Transact(ctx, s.db, func(tx *postgres.Tx) error {
		// Approvals that create a year's budget row wait, and then see this version.
		if _, err := tx.ExecContext(ctx, `LOCK TABLE subsidy_budgets IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return postgres.Translate(err)
		}
		var err error
		if p, err = s.insertPolicy(ctx, tx, p, actor); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `
			UPDATE subsidy_budgets b SET budget = (
				SELECT programme_budget FROM subsidy_policies
				WHERE effective_from <= make_date(b.year, 12, 31)
				ORDER BY effective_from DESC, version DESC LIMIT 1)
			WHERE b.year >= $1`, p.EffectiveFrom.Year())
		if err != nil {
			if errs.Is(postgres.Translate(err), errs.Invalid) {
				return errs.E(errs.Conflict, "the programme budget %s is below what approvals already took in a year from %d on", p.ProgrammeBudget, p.EffectiveFrom.Year())
			}
			return postgres.Translate(err)
		}
		return nil
	})
	return p, err
}

func (s *Service) insertPolicy(ctx context.Context, tx *postgres.Tx, p Policy, actor string) (Policy, error) {
	err := tx.GetContext(ctx, &p, `
		INSERT INTO subsidy_policies (effective_from, subsidy_ratio, rate_cap, supplier_yearly_cap, programme_budget,
			eligible_size_classes, four_eyes_threshold, created_by, lpr_1y)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		RETURNING version, effective_from, subsidy_ratio, rate_cap, lpr_1y, supplier_yearly_cap, programme_budget,
			eligible_size_classes, four_eyes_threshold, created_by, created_at`,
		p.EffectiveFrom, p.SubsidyRatio, p.RateCap, p.SupplierYearlyCap, p.ProgrammeBudget,
		p.EligibleSizeClasses, p.FourEyesThreshold, actor, p.LPR1Y)
	if err != nil {
		return p, postgres.Translate(err)
	}
	return p, audit.Record(ctx, tx, audit.Entry{Actor: actor, Action: "subsidy_policy.created", EntityType: "subsidy_policy",
		EntityID: fmt.Sprint(p.Version), After: p,
		Reason: fmt.Sprintf("in force from %s for classes %s", p.EffectiveFrom, strings.Join(p.EligibleSizeClasses, ", "))})
}

// Policies lists every version, newest first.
func (s *Service) Policies(ctx context.Context) ([]Policy, error) {
	list := []Policy{}
	err := s.db.SelectContext(ctx, &list, selectPolicy+` ORDER BY version DESC`)
	return list, postgres.Translate(err)
}
