package i18n

// The exported files' words: the subsidy payment batch and the monthly
// bank report, as CSV and XLSX (package subsidies): sheet names, column
// headers, the totals row and the notes, and the files' names.
func init() { register(filesZH, filesEN) }

var filesZH = map[string]string{
	"file.total": "合计",

	// A payment batch (贴息发放批次): one line per claim.
	"file.batch.sheet": "贴息发放", "file.batch.name": "贴息发放批次-%s",
	"file.batch.claim_id": "贴息申请编号", "file.batch.supplier_uscc": "统一社会信用代码",
	"file.batch.supplier_name": "供应商名称", "file.batch.settlement_bank": "结算账户开户行",
	"file.batch.settlement_account_no": "结算账号", "file.batch.settlement_account_name": "结算账户户名",
	"file.batch.amount": "贴息金额（元）", "file.batch.bank_id": "贷款银行编号", "file.batch.bank_name": "贷款银行",
	"file.batch.application_id": "融资申请编号", "file.batch.paid_on": "还款日",
	"file.batch.interest_paid": "实付利息（元）", "file.batch.policy_version": "贴息政策版本", "file.batch.note": "备注",
	"file.batch.settlement_missing": "待补充结算账户", "file.batch.claims": "共 %d 笔",

	// The monthly bank report (银行月报): one line per bank.
	"file.report.sheet": "银行月报", "file.report.name": "银行月报-%s",
	"file.report.month": "月份", "file.report.bank_id": "银行编号", "file.report.bank_name": "银行名称",
	"file.report.applications": "申请笔数", "file.report.approvals": "批准笔数",
	"file.report.disbursed": "当月放款（元）", "file.report.outstanding": "月末贷款余额（元）",
	"file.report.overdue": "月末逾期本金（元）", "file.report.misdirected": "错付笔数",
	"file.report.misdirected_amount": "错付金额（元）",

	// The officers' dashboard: downloading the bank report.
	"dash.report": "银行月报", "dash.report_month": "月份",
	"dash.report_note": "各银行当月的申请、批准、放款，月末贷款余额和逾期本金，以及错付的还款。",
	"dash.report_csv":  "下载 CSV", "dash.report_xlsx": "下载 XLSX",
}

var filesEN = map[string]string{
	"file.total": "Total",

	"file.batch.sheet": "Batch", "file.batch.name": "subsidy-batch-%s",
	"file.batch.claim_id": "Claim id", "file.batch.supplier_uscc": "Supplier USCC",
	"file.batch.supplier_name": "Supplier name", "file.batch.settlement_bank": "Settlement bank",
	"file.batch.settlement_account_no": "Settlement account no.", "file.batch.settlement_account_name": "Settlement account name",
	"file.batch.amount": "Subsidy amount (yuan)", "file.batch.bank_id": "Lending bank id", "file.batch.bank_name": "Lending bank",
	"file.batch.application_id": "Application id", "file.batch.paid_on": "Repaid on",
	"file.batch.interest_paid": "Interest paid (yuan)", "file.batch.policy_version": "Policy version", "file.batch.note": "Note",
	"file.batch.settlement_missing": "settlement account missing", "file.batch.claims": "claims: %d",

	"file.report.sheet": "Bank report", "file.report.name": "bank-report-%s",
	"file.report.month": "Month", "file.report.bank_id": "Bank id", "file.report.bank_name": "Bank name",
	"file.report.applications": "Applications", "file.report.approvals": "Approvals",
	"file.report.disbursed": "Disbursed in the month (yuan)", "file.report.outstanding": "Outstanding at the month's end (yuan)",
	"file.report.overdue": "Overdue principal at the month's end (yuan)", "file.report.misdirected": "Misdirected payments",
	"file.report.misdirected_amount": "Misdirected amount (yuan)",

	"dash.report": "Monthly bank report", "dash.report_month": "Month",
	"dash.report_note": "Each bank's applications, approvals and disbursements in the month, outstanding and overdue principal at its end, and misdirected payments.",
	"dash.report_csv":  "Download CSV", "dash.report_xlsx": "Download XLSX",
}
