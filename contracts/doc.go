// Package contracts owns the documents procfin lends against: procurement
// centres (Issuer, 政府采购中心), award notices (AwardNotice, 中标(成交)通知书)
// and government procurement contracts (Contract, 政府采购合同), the
// suppliers they name (Supplier, 供应商) with their USCC and SME size class,
// and award verification (Verification, 中标核实).
package contracts
