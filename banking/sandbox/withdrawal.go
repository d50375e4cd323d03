package sandbox

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"procfin/platform/errs"
	"procfin/platform/signature"
)

// The reasons of a withdrawal (bank-protocol.md 1.1, "Withdrawal").
const (
	WithdrawnByCancel  = "cancelled_by_supplier"
	WithdrawnByConsent = "consent_revoked"
)

// WithdrawalReceived is a withdrawal the bank took.
type WithdrawalReceived struct {
	MessageID     string // its Idempotency-Key
	ApplicationID string
	Reason        string
	WithdrawnAt   time.Time
	BodyHash      string    // signature.BodyHash of the body taken
	ReceivedAt    time.Time // first delivery, by Config.Now
	Deliveries    int       // deliveries with this key and body, the first included
	// Decided: the bank had already sent its decision (approval or
	// rejection) when the withdrawal came; procfin refuses it then.
	Decided bool
}

// withdrawal is the body of a withdrawal.
type withdrawal struct {
	ApplicationID string    `json:"application_id"`
	WithdrawnAt   time.Time `json:"withdrawn_at"`
	Reason        string    `json:"reason"`
}

// withdraw is POST /v1/credit-applications/{application_id}/withdrawal:
// procfin's signed word that the supplier cancelled, or revoked its
// consent, before the bank decided. The bank answers 202 and decides
// nothing more for the application (a decision already being sent is
// not resent); a resend of the same message (Idempotency-Key and body) is
// answered 200, the same key with another body 409. An application the
// bank never received is withdrawn all the same: if it comes later, it is
// not decided.
func (b *Bank) withdraw(w http.ResponseWriter, r *http.Request) {
	body, ok := b.readSigned(w, r)
	if !ok {
		return
	}
	key := r.Header.Get("Idempotency-Key")
	if key == "" || len(key) > 200 {
		writeProblem(w, http.StatusBadRequest, string(errs.MalformedRequest), "the Idempotency-Key header is required (the message id, at most 200 bytes)")
		return
	}
	hash := signature.BodyHash(body)
	if answered := b.withdrawnBefore(w, key, hash); answered {
		return
	}
	m, status, detail := parseWithdrawal(body, r.PathValue("application_id"))
	if status != 0 {
		refuseBody(w, status, detail)
		return
	}

	b.mu.Lock()
	if _, ok := b.withdrawals[key]; ok { // a concurrent delivery won
		b.mu.Unlock()
		b.withdrawnBefore(w, key, hash)
		return
	}
	rec := &WithdrawalReceived{MessageID: key, ApplicationID: m.ApplicationID, Reason: m.Reason,
		WithdrawnAt: m.WithdrawnAt, BodyHash: hash, ReceivedAt: b.now(), Deliveries: 1}
	if a, ok := b.apps[m.ApplicationID]; ok { // keyed by application_id
		rec.Decided = a.decided
	}
	if err := b.store.takeMessage(kindWithdrawal, key, hash, rec, "", ""); err != nil {
		b.mu.Unlock()
		b.unstored(w, "withdrawal", key, err)
		return
	}
	b.withdrawals[key] = rec
	b.wOrder = append(b.wOrder, rec)
	if _, ok := b.withdrawnApps[m.ApplicationID]; !ok {
		b.withdrawnApps[m.ApplicationID] = rec
	}
	b.mu.Unlock()
	b.log.Info("application withdrawn", "application_id", m.ApplicationID, "reason", m.Reason, "decided_before", rec.Decided)
	writeJSON(w, http.StatusAccepted, map[string]string{"application_id": m.ApplicationID, "status": "withdrawn"})
}

// withdrawnBefore answers a resend of the withdrawal under key (200, or
// 409 for another body) and reports whether it did.
func (b *Bank) withdrawnBefore(w http.ResponseWriter, key, hash string) bool {
	b.mu.Lock()
	rec, ok := b.withdrawals[key]
	if !ok {
		b.mu.Unlock()
		return false
	}
	b.resent(w, kindWithdrawal, key, hash, rec.BodyHash, &rec.Deliveries, map[string]string{"application_id": rec.ApplicationID, "status": "withdrawn"})
	return true
}

// parseWithdrawal reads a withdrawal of the application the path names:
// status 0, or 400 (not JSON) or 422 (not a withdrawal of it) with what is
// wrong. It never panics.
func parseWithdrawal(body []byte, pathID string) (m withdrawal, status int, detail string) {
	if !json.Valid(body) {
		return m, http.StatusBadRequest, "the body is not JSON"
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return m, http.StatusUnprocessableEntity, "the body is not a withdrawal: " + errs.MessageOf(err)
	}
	if detail := m.check(pathID); detail != "" {
		return m, http.StatusUnprocessableEntity, detail
	}
	return m, 0, ""
}

// check returns what is wrong with a withdrawal of the application the
// path names, or "".
func (m withdrawal) check(pathID string) string {
	var bad []string
	if m.ApplicationID == "" || !strings.EqualFold(m.ApplicationID, pathID) {
		bad = append(bad, "application_id must be the application of the path")
	}
	if m.WithdrawnAt.IsZero() {
		bad = append(bad, "withdrawn_at is required (RFC 3339)")
	}
	if m.Reason != WithdrawnByCancel && m.Reason != WithdrawnByConsent {
		bad = append(bad, `reason must be "`+WithdrawnByCancel+`" or "`+WithdrawnByConsent+`"`)
	}
	return strings.Join(bad, "; ")
}

// withdrawn reports whether the application was withdrawn.
func (b *Bank) withdrawn(applicationID string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, ok := b.withdrawnApps[applicationID]
	return ok
}

// Withdrawals returns the withdrawals taken so far, in the order taken.
func (b *Bank) Withdrawals() []WithdrawalReceived { return copies(&b.mu, &b.wOrder) }
