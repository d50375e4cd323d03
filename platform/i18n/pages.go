package i18n

// The texts of the pages' names, figures, lists and units (part pages).
var pagesZH = map[string]string{
	"delivery.ok":            "已送达",
	"suppliers.list":         "已知的供应商",
	"suppliers.register":     "登记或补全供应商",
	"suppliers.unregistered": "仅见于文件，未登记",
	"col.supplier":           "供应商",
	"col.uscc":               "统一社会信用代码",
	"col.recorded":           "记录时间",
}

var pagesEN = map[string]string{
	"delivery.ok":            "delivered",
	"suppliers.list":         "Suppliers known",
	"suppliers.register":     "Register or complete a supplier",
	"suppliers.unregistered": "known from a document only, not registered",
	"col.supplier":           "Supplier",
	"col.uscc":               "USCC",
	"col.recorded":           "Recorded",
}

func init() { register(pagesZH, pagesEN) }

// The labels and formulas of a subsidy's computation steps (subsidies'
// Computation.Explain), with the figures as arguments.
var stepsZH = map[string]string{
	"step.days":                            "计息天数",
	"step.rate":                            "计息利率",
	"step.eligible_interest":               "可贴息利息",
	"step.capped_by_interest_paid":         "以实付利息为限",
	"step.subsidy":                         "贴息金额",
	"step.supplier_yearly_cap":             "企业年度上限",
	"step.interest_paid":                   "实付利息",
	"step.formula.days":                    "%s − %s（起息日计息，止息日不计息）",
	"step.formula.rate":                    "min(该笔放款的年利率, 当日适用的一年期 LPR)，逐区段",
	"step.formula.eligible_interest":       "Σ 各区段 本金 × 利率 × 天数 / 360 = (%s) / 360 = %s / 360（显示到小数点后 %d 位，计算中保持精确）",
	"step.formula.capped_by_interest_paid": "min(可贴息利息, 实付利息 %s)",
	"step.formula.subsidy":                 "%s × 贴息比例 %s，四舍五入到 0.01",
	"step.formula.subsidy_exact":           "%s × 贴息比例 %s / 360，四舍五入到 0.01",
	"step.formula.supplier_yearly_cap":     "min(贴息 %s, 年度上限 %s − %d 年已申领 %s)",
}

var stepsEN = map[string]string{
	"step.days":                            "Days",
	"step.rate":                            "Rate",
	"step.eligible_interest":               "Eligible interest",
	"step.capped_by_interest_paid":         "Capped by the interest paid",
	"step.subsidy":                         "Subsidy",
	"step.supplier_yearly_cap":             "Supplier's yearly cap",
	"step.interest_paid":                   "Interest paid",
	"step.formula.days":                    "%s − %s (the start day accrues, the end day does not)",
	"step.formula.rate":                    "min(tranche's annual_rate, the 1-year LPR in force that day), per run",
	"step.formula.eligible_interest":       "Σ runs principal × rate × days / 360 = (%s) / 360 = %s / 360 (shown to %d places, kept exact)",
	"step.formula.capped_by_interest_paid": "min(eligible_interest, interest_paid %s)",
	"step.formula.subsidy":                 "%s × subsidy_ratio %s, rounded half-up to 0.01",
	"step.formula.subsidy_exact":           "%s × subsidy_ratio %s / 360, rounded half-up to 0.01",
	"step.formula.supplier_yearly_cap":     "min(subsidy %s, cap %s − already claimed in %d %s)",
}

func init() { register(stepsZH, stepsEN) }

// The dashboard's figures.
var dashZH = map[string]string{
	"dash.used_of": "%d 年已用 %s 元，预算共 %s 元",
	"unit.day":     "%d 天",
	"unit.hour":    "%d 小时",
	"unit.minute":  "%d 分",
	"unit.second":  "%d 秒",
}

var dashEN = map[string]string{
	"dash.used_of": "%d: %s of %s yuan used",
	"unit.day":     "%d d",
	"unit.hour":    "%d h",
	"unit.minute":  "%d min",
	"unit.second":  "%d s",
}

func init() { register(dashZH, dashEN) }

// The unit of a table's column of amounts, after its heading.
var unitsZH = map[string]string{"unit.yuan_col": "（元）"}
var unitsEN = map[string]string{"unit.yuan_col": " (yuan)"}

func init() { register(unitsZH, unitsEN) }

// Why a subsidy claim is ineligible (subsidies.IneligibleText), and the
// separator of a list in a sentence.
var ineligibleZH = map[string]string{
	"ineligible.no_policy":         "%s 没有生效的贴息政策",
	"ineligible.size_unknown":      "企业规模未知：只有%s可获贴息",
	"ineligible.size_not_eligible": "该企业为%s：第 %s 版政策只贴息%s",
	"ineligible.yearly_cap_used":   "每户每年贴息上限 %s 元（%s 年）已用完",
	"ineligible.zero":              "计算出的贴息为 0.00 元",
	"list.sep":                     "、",
}

var ineligibleEN = map[string]string{
	"ineligible.no_policy":         "no subsidy policy is in force on %s",
	"ineligible.size_unknown":      "the supplier's size class is unknown: only %s are subsidised",
	"ineligible.size_not_eligible": "the supplier is a %s: policy version %s subsidises only %s",
	"ineligible.yearly_cap_used":   "the supplier's yearly cap of %s yuan for %s is used up",
	"ineligible.zero":              "the computed subsidy is 0.00",
	"list.sep":                     ", ",
}

func init() { register(ineligibleZH, ineligibleEN) }

// Audit reasons written as causes (web's view.Reason): an officer's
// approval of a subsidy claim, a purchaser's confirmation.
var reasonsZH = map[string]string{
	"cause.claim_approval":               "第 {approvals} 次批准（共需 {required} 次），贴息 {amount} 元",
	"cause.receivable_confirmed":         "确认 {amount} 元，付入账户 {account}",
	"cause.receivable_account_confirmed": "采购人确认了银行同意的新还款账户 {account}",
}

var reasonsEN = map[string]string{
	"cause.claim_approval":               "approval {approvals} of {required} for {amount} yuan",
	"cause.receivable_confirmed":         "confirmed {amount} yuan into account {account}",
	"cause.receivable_account_confirmed": "the purchaser confirmed the new repayment account {account} the bank consented to",
}

func init() { register(reasonsZH, reasonsEN) }
