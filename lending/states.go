package lending

import (
	"slices"
	"strings"

	"procfin/platform/errs"
)

// Status is the state of a credit application.
type Status string

const (
	Submitted      Status = "submitted"       // verified, holds reserved, queued for the bank
	Delivered      Status = "delivered"       // the bank accepted the message
	Received       Status = "received"        // the bank's system registered it
	Approved       Status = "approved"        // the bank approved (amount, rate, account)
	Rejected       Status = "rejected"        // the bank declined
	Disbursed      Status = "disbursed"       // at least one tranche paid out
	Repaid         Status = "repaid"          // nothing outstanding
	Closed         Status = "closed"          // the loan's life ended: repaid, written off, or an approval lapsed
	Cancelled      Status = "cancelled"       // the supplier withdrew before the bank decided
	DeliveryFailed Status = "delivery_failed" // the bank refused the message or it could not be delivered
)

// transitions is the one table of allowed state changes. A change not in
// it is an error, never a silent overwrite.
var transitions = map[Status][]Status{
	Submitted:      {Delivered, DeliveryFailed, Cancelled},
	Delivered:      {Received, Approved, Rejected, Cancelled},
	Received:       {Approved, Rejected, Cancelled},
	DeliveryFailed: {Submitted, Cancelled},
	Approved:       {Disbursed, Closed},         // closed: application.lapsed
	Disbursed:      {Disbursed, Repaid, Closed}, // closed: written off
	Repaid:         {Disbursed, Closed},
	Rejected:       {},
	Cancelled:      {},
	Closed:         {},
}

// CanBecome reports whether an application in from may move to to.
func CanBecome(from, to Status) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

func checkTransition(from, to Status) error {
	if !CanBecome(from, to) {
		return errs.E(errs.InvalidTransition, "an application that is %s cannot become %s", from, to)
	}
	return nil
}

// releasesHolds says which states no longer hold contract financing or
// credit line: the application will never draw (more) money.
func releasesHolds(s Status) bool {
	return s == Rejected || s == Cancelled || s == Closed
}

// Statuses are the statuses of applications, sorted, as a list.
func Statuses() string {
	list := make([]string, 0, len(transitions))
	for s := range transitions {
		list = append(list, string(s))
	}
	slices.Sort(list)
	return strings.Join(list, ", ")
}

// KnownStatus reports whether s is a status of applications.
func KnownStatus(s Status) bool {
	_, ok := transitions[s]
	return ok
}

// liveSet is the states of a live application: its bank finances,
// or may yet finance, the contract. It was not rejected, cancelled or
// closed, and its delivery did not fail (an administrator's re-queue of a
// failed one makes it live again, checked as an application is:
// Requeued). One bank finances a contract at a time (contract.single_bank)
// and a receivable covers the live applications at its bank.
var liveSet = []Status{Submitted, Delivered, Received, Approved, Disbursed, Repaid}

// Live reports whether an application in s is live.
func Live(s Status) bool { return slices.Contains(liveSet, s) }

// liveSetSQL is liveSet as an SQL list: `status IN ` + liveSetSQL.
var liveSetSQL = func() string {
	q := make([]string, len(liveSet))
	for i, s := range liveSet {
		q[i] = "'" + string(s) + "'"
	}
	return "(" + strings.Join(q, ", ") + ")"
}()
