package lending

import (
	"context"

	"procfin/platform/postgres"
)

// Accept accepts an offer of an open intent: the offer becomes a credit
// application to its bank (request.offer_id), checked and written through
// the intake as any application is, holding the contract's headroom then;
// the intent is accepted, the bank's consent becomes the application's,
// and every bank asked is told the decision. Returns not_found,
// offer_expired (409), invalid_transition (intent closed, offer replaced or
// withdrawn) or verification_failed (the intent stays open).
func (s *Service) Accept(ctx context.Context, who Applicant, intentID, offerID string) (Application, error) {
	return Application{}, errNotYet
}

// MakeOffer records a bank's offer.made in the event's transaction:
// not_found when the bank was not asked (or no such intent);
// invalid_transition when above the amount asked, after respond_by or on a
// closed intent. A new offer from the bank replaces its current one.
func (s *Service) MakeOffer(ctx context.Context, tx *postgres.Tx, bankID string, o OfferMade) error {
	return errNotYet
}

// WithdrawOffer records a bank's offer.withdrawn: not_found when the bank
// was not asked or has no such offer; invalid_transition after acceptance.
func (s *Service) WithdrawOffer(ctx context.Context, tx *postgres.Tx, bankID, intentID, bankOfferID string) error {
	return errNotYet
}
