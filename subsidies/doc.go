// Package subsidies owns interest subsidies (贴息): versioned policies
// (SubsidyPolicy), claims computed from repayments (SubsidyClaim), officer
// review, the yearly budget, and payment batches.
package subsidies
