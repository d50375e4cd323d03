// Package lending owns credit lines (CreditLine, 提前授信, 循环使用),
// credit applications (Application, 融资申请) and their state machine, and
// loans with their disbursements and repayments (Loan, 贷款 / 放款 / 还款).
// Every limit it keeps holds under concurrency. It also keeps the
// per-process read cache behind the API's application reads (cache.go).
package lending
