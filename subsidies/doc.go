// Package subsidies owns interest subsidies (贴息): versioned policies
// (SubsidyPolicy), claims computed from repayments (SubsidyClaim), officer
// review, the yearly budget, and payment batches.
//
// A claim is computed in the transaction that records a loan.repaid event
// (OnRepaid): outstanding principal × min(rate, cap) × days / 360, capped
// by the interest paid, × the policy's ratio, rounded half-up to the 分
// once at the end, then limited by the supplier's yearly cap. The claim
// keeps the computation, step by step, and the policy version. Officers
// approve (two different officers at or above the four-eyes threshold) or
// reject with a reason; the approval that completes a claim takes its
// amount from the year's programme budget in one guarded UPDATE, so no
// approval ever overdraws it. Approved claims are paid in batches,
// exported as CSV and XLSX. The package also computes the officers'
// statistics and the banks' monthly report to the finance bureau.
package subsidies
