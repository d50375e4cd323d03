package lending

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"runtime/debug"
	"slices"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"procfin/platform/errs"
	"procfin/platform/ids"
	"procfin/platform/money"
	"procfin/platform/postgres"
)

// intentSelect reads intents with their supplier's name and contract's
// number.
const intentSelect = `
	SELECT fi.id, fi.seq, fi.supplier_uscc, coalesce(s.name, '') AS supplier_name, fi.contract_id, c.contract_no,
		fi.amount, fi.term_days, fi.purpose, fi.status, fi.published_at, fi.respond_by, fi.published_by,
		fi.accepted_offer_id, fi.application_id, fi.closed_at
	FROM financing_intents fi JOIN contracts c ON c.id = fi.contract_id LEFT JOIN suppliers s ON s.uscc = fi.supplier_uscc`

// seesIntents reports whether the scope sees any intent: a supplier its
// own, officers all; a bank's or a purchaser's none (a bank hears of
// intents through its messages only).
func (sc Scope) seesIntents() bool { return !sc.purchaserScoped() && sc.BankID == "" }

// Intent returns the intent with its banks and offers, each offer with its
// effective rate; not_found when absent or outside scope.
func (s *Service) Intent(ctx context.Context, sc Scope, id string) (Intent, error) {
	canon, ok := ids.Canonical(id)
	if !ok || !sc.seesIntents() {
		return Intent{}, errs.E(errs.NotFound, "no financing intent %s", id)
	}
	var in Intent
	err := s.db.GetContext(ctx, &in, intentSelect+` WHERE fi.id = $1 AND ($2 = '' OR fi.supplier_uscc = $2)`, canon, sc.SupplierUSCC)
	if errors.Is(err, sql.ErrNoRows) {
		return Intent{}, errs.E(errs.NotFound, "no financing intent %s", canon)
	}
	if err != nil {
		return Intent{}, postgres.Translate(err)
	}
	list := []Intent{in}
	if err := s.completeIntents(ctx, s.db, list); err != nil {
		return Intent{}, err
	}
	return list[0], nil
}

// Intents lists intents in scope, newest first, with seq below before (0:
// from the newest), at most limit, each with its banks and offers: three
// queries for the page, and the effective rates once per supplier on it.
func (s *Service) Intents(ctx context.Context, sc Scope, f IntentFilter, before int64, limit int) ([]Intent, error) {
	list := []Intent{}
	if !sc.seesIntents() {
		return list, nil
	}
	err := s.db.SelectContext(ctx, &list, intentSelect+`
		WHERE ($1 = '' OR fi.supplier_uscc = $1) AND ($2 = '' OR fi.status = $2) AND ($3::bigint = 0 OR fi.seq < $3::bigint)
		ORDER BY fi.seq DESC LIMIT $4`, sc.SupplierUSCC, string(f.Status), before, limit)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	return list, s.completeIntents(ctx, s.db, list)
}

// completeIntents reads the banks and offers of the intents list, in one
// query each, and orders each intent's offers: the current ones (made, on
// an open intent, and valid now: now is not after valid_until) first, cheapest effective rate first (then
// the larger amount, then the earlier), then the others newest first.
func (s *Service) completeIntents(ctx context.Context, q sqlx.QueryerContext, list []Intent) error {
	if len(list) == 0 {
		return nil
	}
	idx := make(map[string]int, len(list))
	intentIDs := make([]string, len(list))
	for i := range list {
		idx[list[i].ID], intentIDs[i] = i, list[i].ID
		list[i].Currency = "CNY"
		list[i].Banks, list[i].Offers = []IntentBank{}, []Offer{}
	}
	var banks []struct {
		IntentID string `db:"intent_id"`
		IntentBank
	}
	err := sqlx.SelectContext(ctx, q, &banks, `
		SELECT ib.intent_id, ib.bank_id, coalesce(b.name, ib.bank_id) AS bank_name, ib.consent_id, ib.out_at, ib.decision, ib.decided_at,
			coalesce((SELECT d.status FROM deliveries d
				WHERE d.intent_id = ib.intent_id AND d.bank_id = ib.bank_id AND d.kind = 'financing-intent'
				ORDER BY d.id LIMIT 1), 'pending') AS delivery
		FROM intent_banks ib LEFT JOIN banks b ON b.id = ib.bank_id
		WHERE ib.intent_id = ANY($1::uuid[]) ORDER BY ib.intent_id, ib.bank_id`, pq.Array(intentIDs))
	if err != nil {
		return postgres.Translate(err)
	}
	for _, b := range banks {
		i := idx[b.IntentID]
		list[i].Banks = append(list[i].Banks, b.IntentBank)
	}
	var offers []Offer
	err = sqlx.SelectContext(ctx, q, &offers, `
		SELECT o.id, o.intent_id, o.bank_id, coalesce(b.name, o.bank_id) AS bank_name, o.bank_offer_id, o.amount, o.annual_rate,
			o.term_days, o.valid_until, o.conditions, o.status, o.made_at
		FROM offers o LEFT JOIN banks b ON b.id = o.bank_id
		WHERE o.intent_id = ANY($1::uuid[]) ORDER BY o.made_at, o.id`, pq.Array(intentIDs))
	if err != nil {
		return postgres.Translate(err)
	}
	for _, o := range offers {
		i := idx[o.IntentID]
		o.EffectiveAnnualRate = o.AnnualRate
		list[i].Offers = append(list[i].Offers, o)
	}
	now := s.now()
	if err := s.effectiveRates(ctx, list, money.DateOf(now)); err != nil {
		return err
	}
	for i := range list {
		open := list[i].Status == IntentOpen
		current := func(o Offer) bool { return open && o.Status == OfferMadeStatus && !o.ValidUntil.Before(now) }
		slices.SortStableFunc(list[i].Offers, func(a, b Offer) int {
			ca, cb := current(a), current(b)
			switch {
			case ca != cb:
				if ca {
					return -1
				}
				return 1
			case !ca:
				return b.MadeAt.Compare(a.MadeAt)
			}
			return cmp.Or(a.EffectiveAnnualRate.Decimal().Cmp(b.EffectiveAnnualRate.Decimal()),
				b.Amount.Cmp(a.Amount), a.MadeAt.Compare(b.MadeAt))
		})
	}
	return nil
}

// effectiveRates sets each offer's rate after the programme's subsidy for
// its supplier on day, asking once per supplier (a supplier's page is one
// call); without a SubsidyRates each offer's effective rate is its rate.
func (s *Service) effectiveRates(ctx context.Context, list []Intent, day money.Date) error {
	if s.subsidy == nil {
		return nil
	}
	bySupplier := map[string][]*Offer{}
	var usccs []string
	for i := range list {
		for j := range list[i].Offers {
			u := list[i].SupplierUSCC
			if _, ok := bySupplier[u]; !ok {
				usccs = append(usccs, u)
			}
			bySupplier[u] = append(bySupplier[u], &list[i].Offers[j])
		}
	}
	for _, u := range usccs {
		offers := bySupplier[u]
		rates := make([]money.Rate, len(offers))
		for i, o := range offers {
			rates[i] = o.AnnualRate
		}
		after, err := s.subsidy.AfterSubsidy(ctx, u, day, rates)
		if err != nil {
			return err
		}
		if len(after) != len(offers) {
			return errs.E(errs.Internal, "effective rates: %d answers for %d rates", len(after), len(offers))
		}
		for i, o := range offers {
			a := after[i]
			o.EffectiveAnnualRate, o.Subsidy = a.Rate, &a
		}
	}
	return nil
}

// lockIntent locks the intent's row for the rest of tx and returns it
// (without banks and offers); not_found when absent or outside scope.
func (s *Service) lockIntent(ctx context.Context, tx *postgres.Tx, sc Scope, id string) (Intent, error) {
	canon, ok := ids.Canonical(id)
	if !ok || !sc.seesIntents() {
		return Intent{}, errs.E(errs.NotFound, "no financing intent %s", id)
	}
	var in Intent
	err := tx.GetContext(ctx, &in, `
		SELECT id, seq, supplier_uscc, contract_id, amount, term_days, purpose, status, published_at, respond_by,
			published_by, accepted_offer_id, application_id, closed_at
		FROM financing_intents WHERE id = $1 FOR UPDATE`, canon)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && sc.SupplierUSCC != "" && in.SupplierUSCC != sc.SupplierUSCC) {
		return Intent{}, errs.E(errs.NotFound, "no financing intent %s", canon)
	}
	if err != nil {
		return Intent{}, postgres.Translate(err)
	}
	return in, nil
}

// CancelIntent cancels an open intent: its offers are declined and every
// bank asked (and not taken out) is told cancelled. Returns the intent
// after, not_found (absent or another's) or invalid_transition (no longer
// open).
func (s *Service) CancelIntent(ctx context.Context, sc Scope, id, actor string) (Intent, error) {
	var canon string
	err := postgres.Transact(postgres.WithClock(ctx, s.now), s.db, func(tx *postgres.Tx) error {
		in, err := s.lockIntent(ctx, tx, sc, id)
		if err != nil {
			return err
		}
		canon = in.ID
		return s.closeIntent(ctx, tx, in.ID, IntentCancelled, actor, nil)
	})
	if err != nil {
		return Intent{}, err
	}
	return s.Intent(ctx, sc, canon)
}

// expiryBatch is how many intents one transaction of ExpireIntents closes.
const expiryBatch = 100

// ExpiryActor is the actor of the intents' expiry in the audit trail.
const ExpiryActor = "system:intent-expiry"

// ExpireIntents closes the open intents whose respond_by has passed and
// that have no offer still valid (made, and now not after its
// valid_until: it may still be accepted), telling
// every bank asked expired (bank-protocol.md 1.1, "Competing offers"); it
// returns how many it closed. It takes intents in batches of expiryBatch,
// each in a transaction of its own, skipping intents another transaction
// holds (an acceptance, a cancellation, an offer): the next run sees
// them.
func (s *Service) ExpireIntents(ctx context.Context) (int, error) {
	total := 0
	for {
		n := 0
		err := postgres.Transact(postgres.WithClock(ctx, s.now), s.db, func(tx *postgres.Tx) error {
			n = 0
			var due []string
			err := tx.SelectContext(ctx, &due, `
				SELECT fi.id FROM financing_intents fi
				WHERE fi.status = 'open' AND fi.respond_by < $1
				  AND NOT EXISTS (SELECT FROM offers o WHERE o.intent_id = fi.id AND o.status = 'made' AND o.valid_until >= $1)
				ORDER BY fi.respond_by, fi.id LIMIT $2
				FOR UPDATE OF fi SKIP LOCKED`, tx.Now(), expiryBatch)
			if err != nil {
				return postgres.Translate(err)
			}
			for _, id := range due {
				if err := s.closeIntent(ctx, tx, id, IntentExpired, ExpiryActor, nil); err != nil {
					return err
				}
			}
			n = len(due)
			return nil
		})
		total += n
		if err != nil || n < expiryBatch {
			return total, err
		}
	}
}

// expiresAfter is how long after respond_by an intent with no valid
// offer stays open at most: the sweeper's period.
const expiresAfter = time.Minute

// RunIntentExpiry closes lapsed intents (ExpireIntents) every period until
// ctx ends, reporting each run's error or count to report; it never stops
// on an error.
func (s *Service) RunIntentExpiry(ctx context.Context, period time.Duration, report func(n int, err error)) {
	if period <= 0 {
		period = expiresAfter
	}
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := s.expireOnce(ctx)
			if report != nil && (err != nil || n > 0) {
				report(n, err)
			}
		}
	}
}

// expireOnce is one run of ExpireIntents, a panic in it an error: the
// sweeper goes on with the next run.
func (s *Service) expireOnce(ctx context.Context) (n int, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = errs.E(errs.Internal, "intent expiry panicked: %v\n%s", p, debug.Stack())
		}
	}()
	return s.ExpireIntents(ctx)
}
