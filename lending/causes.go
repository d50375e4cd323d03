package lending

import (
	"encoding/json"
	"strings"
)

// The codes of an application's history entries (Transition.Cause) and
// of the reasons of its audit entries, beside the protocol's causes
// (CauseCancelledBySupplier, CauseConsentRevoked, CauseConsentExpired).
// Each has its arguments (CauseArgs), named in the comment; the
// catalogue's words are cause.<code> (platform/i18n/history.go). An entry
// written before codes (migration 00039) whose words match none keeps
// them, with no arguments.
const (
	CauseSubmitted              = "submitted"                // verified, queued for the bank
	CauseDelivered              = "delivered"                // reference: the bank's
	CauseDeliveryFailed         = "delivery_failed"          // detail: why, in the relay's words
	CauseRequeued               = "requeued"                 // an administrator re-queued a failed delivery
	CauseReceivedBeforeDelivery = "received_before_delivery" // the bank reported it received before the delivery was recorded
	CauseReceived               = "received"                 // the bank registered it
	CauseAnsweredEarly          = "answered_before_delivery" // the bank answered before the delivery was recorded
	CauseApproved               = "approved"                 // amount, rate, term_days
	CauseRejected               = "rejected"                 // code, reason: the bank's
	CauseDisbursed              = "disbursed"                // loan, tranche, amount, value_date
	CauseRepayment              = "repayment"                // loan, repayment, tranche ("": the whole loan), principal, interest, paid_on
	CauseRepaidInFull           = "repaid_in_full"           // nothing is outstanding
	CauseOverdue                = "overdue"                  // loan, principal, since
	CauseOverdueCured           = "overdue_cured"            // loan, since, on
	CauseDrawdownEnded          = "drawdown_ended"           // loan, on
	CauseDrawdownEndedRepaid    = "drawdown_ended_repaid"    // loan, on: and all disbursed principal was repaid, so it closed
	CauseLoanClosedRepaid       = "loan_closed_repaid"       // loan, on
	CauseLoanWrittenOff         = "loan_written_off"         // loan, on
	CauseWrittenOffRepaid       = "written_off_repaid"       // loan, on: a loan written off, closed as repaid
	CauseLapsed                 = "lapsed"                   // reason: expired, receivable_refused, declined_by_supplier

	// The receivable and the repayment account's lock, in the audit trail
	// only.
	CauseReceivableNeeded         = "receivable_needed"          // bank, application: it approved, the purchaser's confirmation is needed
	CauseReceivableMoved          = "receivable_moved"           // bank, application, previous_bank: which no longer finances the contract
	CauseReceivableRepended       = "receivable_repended"        // bank, application, receivable_status: which does not cover it
	CauseReceivableCovers         = "receivable_covers"          // amount, account: the purchaser's confirmation covers this approval
	CauseAccountChangeConsented   = "account_change_consented"   // account, loan: the bank consented to the new account
	CauseAccountLocked            = "account_locked"             // funds disbursed
	CauseAccountLockedUnconfirmed = "account_locked_unconfirmed" // disbursed before the purchaser's confirmation: claims held
	CauseAccountReleased          = "account_released"           // all disbursed principal is repaid
	CauseAccountReleasedLapsed    = "account_released_lapsed"    // reason: the approval lapsed
)

// CauseCodes are every code procfin writes (the catalogue has words for
// each).
var CauseCodes = []string{CauseSubmitted, CauseDelivered, CauseDeliveryFailed, CauseConsentExpired, CauseRequeued,
	CauseReceivedBeforeDelivery, CauseReceived, CauseAnsweredEarly, CauseApproved, CauseRejected, CauseCancelledBySupplier,
	CauseConsentRevoked, CauseDisbursed, CauseRepayment, CauseRepaidInFull, CauseOverdue, CauseOverdueCured,
	CauseDrawdownEnded, CauseDrawdownEndedRepaid, CauseLoanClosedRepaid, CauseLoanWrittenOff, CauseWrittenOffRepaid,
	CauseLapsed, CauseReceivableNeeded, CauseReceivableMoved, CauseReceivableRepended, CauseReceivableCovers,
	CauseAccountChangeConsented, CauseAccountLocked, CauseAccountLockedUnconfirmed, CauseAccountReleased,
	CauseAccountReleasedLapsed}

// CauseArgs are a cause's arguments by name: amounts and rates as decimal
// strings, days as YYYY-MM-DD, ids and the bank's words as they are.
type CauseArgs map[string]string

// Cause is why something happened to an application: a code and its
// arguments.
type Cause struct {
	Code string
	Args CauseArgs
}

// cause makes a Cause of code and its arguments given as name, value
// pairs.
func cause(code string, nameValues ...string) Cause {
	c := Cause{Code: code}
	if len(nameValues) > 0 {
		c.Args = make(CauseArgs, len(nameValues)/2)
		for i := 0; i+1 < len(nameValues); i += 2 {
			c.Args[nameValues[i]] = nameValues[i+1]
		}
	}
	return c
}

// argsJSON is the arguments as a JSON object ({} when none).
func (c Cause) argsJSON() string {
	if len(c.Args) == 0 {
		return "{}"
	}
	b, _ := json.Marshal(c.Args) // a map of strings always encodes
	return string(b)
}

// String is the cause as an audit entry's reason: the code, then its
// arguments as a JSON object when it has any (ParseCause reads it back).
func (c Cause) String() string {
	if len(c.Args) == 0 {
		return c.Code
	}
	return c.Code + " " + c.argsJSON()
}

// ParseCause reads an audit reason written by Cause.String: ok is false
// for a reason of other words (a person's, or one written before codes),
// which is then its own code with no arguments.
func ParseCause(reason string) (c Cause, ok bool) {
	code, rest, hasArgs := strings.Cut(reason, " ")
	if !isCode(code) {
		return Cause{Code: reason}, false
	}
	if !hasArgs {
		return Cause{Code: code}, true
	}
	var args CauseArgs
	if !strings.HasPrefix(rest, "{") || json.Unmarshal([]byte(rest), &args) != nil {
		return Cause{Code: reason}, false
	}
	if len(args) == 0 {
		args = nil
	}
	return Cause{Code: code, Args: args}, true
}

// isCode reports whether s looks like a code: lower-case letters and
// underscores.
func isCode(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && r != '_' {
			return false
		}
	}
	return true
}

// insertNote ends a statement that changes an application's loan with its
// history entry, its state unchanged: $3 the application, $4 its status,
// $5 the actor, $6 the cause's code and $7 its arguments (JSON).
const insertNote = `
	INSERT INTO application_transitions (application_id, n, from_status, to_status, actor, cause, cause_args)
	SELECT $3, (SELECT coalesce(max(n), 0) + 1 FROM application_transitions t WHERE t.application_id = $3), $4, $4, $5, $6, $7::jsonb`
