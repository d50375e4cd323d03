// Package subsidies owns interest subsidies (贴息): versioned policies
// (SubsidyPolicy), claims computed from repayments (SubsidyClaim), officer
// review, the yearly budget, and payment batches.
//
// A claim is computed in the transaction that records a loan.repaid event
// (OnRepaid), day by day: Σ over the interest period's days of the
// principal outstanding that day on each tranche the repayment covers ×
// min(the tranche's rate, the 1-year LPR in force that day) / 360, capped
// by the interest paid, × the policy's ratio, rounded half-up to the 分
// once at the end, then limited by the supplier's yearly cap. The claim
// keeps the computation (its runs of days and each step) and the policy
// version. A repayment paid while its loan was overdue gets a claim
// rejected loan_overdue; OnOverdue rejects so the pending (and held)
// claims an overdue reported late makes ineligible. A claim of a loan whose
// purchaser has not confirmed the receivable is held until it does
// (ReleaseHeld, in the confirmation's transaction). Officers
// approve (two different officers at or above the four-eyes threshold) or
// reject with a reason; the approval that completes a claim takes its
// amount from the year's programme budget in one guarded UPDATE, so no
// approval ever overdraws it. Approved claims are paid in batches,
// exported as CSV and XLSX. The package also computes the officers'
// statistics and the banks' monthly report to the finance bureau.
package subsidies
