package web

import "fmt"

// defaultLang is the interface's first language; English is one click away.
const defaultLang = "zh-CN"

// translate returns the message in lang (else in the default language,
// else the key itself), formatted with args.
func translate(lang, key string, args ...any) string {
	msg, ok := messages[lang][key]
	if !ok {
		if msg, ok = messages[defaultLang][key]; !ok {
			msg = key
		}
	}
	if len(args) > 0 {
		return fmt.Sprintf(msg, args...)
	}
	return msg
}

// messages are every text of the interface, by language and key. Both
// languages have every key (TestMessagesComplete).
var messages = map[string]map[string]string{
	"zh-CN": zh,
	"en":    en,
}

var zh = map[string]string{
	"app.name":    "政府采购合同融资",
	"app.skip":    "跳到正文",
	"app.footer":  "procfin · 政府采购合同融资服务平台 · 全程留痕",
	"lang.switch": "English",

	"nav.consents": "数据授权", "ok.consent_revoked": "授权已撤回。",
	"consents.title": "我的数据授权", "consents.intro": "每次申请融资时，您授权平台把所列资料发送给所选银行。银行作出决定前撤回授权，申请随之撤回，并通知银行；贷款结清前不能撤回。",
	"consents.statement": "授权内容", "consents.application": "融资申请", "consents.given": "授权时间", "consents.expires": "有效至",
	"consents.revoke": "撤回授权", "consents.none": "还没有数据授权。",
	"consent.state.given": "有效", "consent.state.revoked": "已撤回", "consent.state.expired": "已过期",
	"err.consent_in_use":  "贷款尚未结清，银行和平台仍需要这些资料，授权在贷款结清前不能撤回。",
	"err.consent_expired": "供应商的数据授权已过期或已撤回，不能再向银行发送其资料。",

	"nav.main": "主导航", "nav.portal": "我的首页", "nav.applications": "融资申请", "nav.my_claims": "贴息",
	"nav.dashboard": "总览", "nav.claims": "贴息审核", "nav.batches": "支付批次", "nav.audit": "审计记录",
	"nav.admin": "管理", "nav.deliveries": "报文投递", "nav.logout": "退出",

	"role.supplier": "供应商", "role.officer": "财政经办人", "role.admin": "管理员",
	"size.micro": "微型企业", "size.small": "小型企业", "size.medium": "中型企业", "size.large": "大型企业", "size.unknown": "规模未知",

	"login.title": "登录", "login.intro": "供应商、财政经办人和管理员使用各自的账号登录。",
	"login.username": "用户名", "login.password": "密码", "login.submit": "登录",
	"login.failed": "用户名或密码不正确。", "login.rate_limited": "尝试次数过多，请稍后再试。",

	"ok.logged_out": "您已安全退出。", "ok.applied": "申请已提交，正在发送给银行。", "ok.cancelled": "申请已撤回。",
	"ok.approved": "贴息申请已批准。", "ok.first_approval": "已记录您的批准；还需另一位经办人批准（双人复核）。",
	"ok.rejected": "贴息申请已驳回。", "ok.batch_created": "已生成支付批次。", "ok.nothing_to_batch": "没有待纳入批次的已批准贴息。",
	"ok.batch_closed": "批次已关闭，其中的贴息记为已支付。", "ok.requeued": "已重新排队投递。",
	"ok.user_disabled": "用户已停用：其登录会话和访问令牌立即失效。",

	"err.403": "无权访问", "err.404": "未找到", "err.409": "未能完成", "err.500": "系统错误", "err.503": "暂时不可用",
	"err.forbidden": "您的角色不能打开此页面。", "err.not_found": "没有这个页面或记录，或者它不属于您。",
	"err.400": "请求有误", "err.401": "未登录", "err.405": "不支持此操作", "err.413": "内容过大", "err.415": "格式不支持", "err.422": "输入有误", "err.429": "请求过于频繁", "err.form_key": "表单已损坏，请返回刷新页面后重试。",
	"err.form_reused": "这份表单已提交过其他内容，请返回刷新页面后重新填写。", "err.form_pending": "这份表单正在处理中，请稍候刷新查看结果。",
	"err.csrf": "表单已过期或来源不明，请返回刷新页面后重试。", "err.session_expired": "登录已过期，请重新登录。",
	"err.refused": "系统拒绝了这次操作：", "err.unavailable": "数据库暂时无法访问，请稍后重试。",
	"err.internal": "出现了意外错误，已记录。请稍后重试。", "err.home": "返回首页",

	"portal.title": "我的融资", "lines.title": "我的授信额度", "lines.limit": "额度", "lines.used": "已用", "lines.available": "可用",
	"lines.use": "使用情况", "lines.valid_until": "有效期至", "lines.revolving": "循环", "lines.none": "还没有银行授予的授信额度。",
	"line.active": "有效", "line.revoked": "已撤销",
	"contracts.title": "我的政府采购合同", "contracts.none": "还没有合同。", "contracts.open": "查看与申请",
	"notices.title": "我的中标（成交）通知书", "notices.none": "还没有中标通知书。",
	"applications.recent": "最近的融资申请", "applications.all": "全部申请", "applications.title": "融资申请",
	"applications.none": "还没有融资申请。",

	"col.bank": "银行", "col.status": "状态", "col.contract_no": "合同编号", "col.purchaser": "采购人", "col.amount": "金额",
	"col.period": "履约期", "col.actions": "操作", "col.notice_no": "通知书编号", "col.project": "项目", "col.awarded_on": "中标日期",
	"col.signed_on": "签订日期", "col.application": "申请", "col.submitted": "提交时间", "col.term": "期限", "col.created": "创建时间",
	"col.updated": "更新时间", "unit.days": "天",
	"doc.active": "有效", "doc.cancelled": "已取消", "doc.terminated": "已终止", "doc.completed": "已完成",

	"contract.title": "合同", "contract.details": "合同信息", "contract.retention": "质保金", "contract.apply": "申请融资",
	"contract.not_financeable": "此合同目前不能融资。", "contract.applications": "以此合同提交的申请",
	"financing.title": "可融资额度", "financing.limit": "融资上限", "financing.ratio": "合同金额扣除质保金后的 %s",
	"financing.financed": "已被申请占用", "financing.available": "尚可融资",

	"verify.title": "中标核实报告", "verify.passed": "全部核实项通过。", "verify.failed": "有核实项未通过，暂不能申请。",
	"verify.at": "核实时间 %s", "verify.at_submission": "提交时的核实结果",
	"check.passed": "通过", "check.failed": "未通过",
	"check.issuer.signature":             "合同和中标通知书由采购中心签名，签名已核验",
	"check.award.active":                 "中标通知书有效",
	"check.supplier.uscc_valid":          "供应商统一社会信用代码有效",
	"check.supplier.is_applicant":        "申请人就是合同上的供应商",
	"check.supplier.sme_eligible":        "供应商属于可获融资的中小微企业",
	"check.contract.references_award":    "合同引用了这份中标通知书",
	"check.contract.parties_match_award": "合同双方与中标通知书一致",
	"check.contract.amount_within_award": "合同金额不超过中标金额",
	"check.contract.active":              "合同有效",
	"check.contract.in_period":           "合同在履约期内",
	"check.financing.headroom":           "合同尚有可融资额度",
	"check.credit_line.available":        "所选授信额度足够",

	"apply.title": "申请融资", "apply.intro": "以合同 %s 申请融资。此合同尚可融资 %s 元。",
	"apply.fix_fields": "请修改下面标出的内容。", "apply.refused": "申请未被受理：",
	"apply.bank": "合作银行", "apply.amount": "申请金额（元）", "apply.amount_help": "最多 %s 元，例如 500000.00",
	"apply.term": "期限（天）", "apply.term_help": "1 至 365 天", "apply.line": "使用授信额度（可选）",
	"apply.no_line": "不使用授信额度", "apply.line_help": "选择所选银行给您的授信额度，审批更快。",
	"apply.purpose": "资金用途", "apply.consent_title": "数据授权",
	"apply.consent":       "点击“同意并提交”，即表示您同意平台把以下资料发送给您选择的银行，仅用于本次融资申请：",
	"apply.consent_after": "授权只针对所选银行和本次申请；资料发送的每一步都记录在审计记录中。",
	"apply.submit":        "同意并提交", "action.cancel": "取消",
	"consent.identity": "企业身份与规模", "consent.award": "中标通知书", "consent.contract": "合同及付款条款",
	"consent.purchaser": "采购人", "consent.request": "申请金额、期限和用途", "consent.verification": "中标核实报告",

	"fe.required": "必填", "fe.format": "格式不对：请输入金额，例如 500000.00", "fe.not_positive": "必须大于零",
	"fe.too_large": "超过本计划的单笔上限", "fe.out_of_range": "超出允许范围", "fe.invalid": "无效",
	"fe.unknown": "不存在", "fe.too_long": "太长", "fe.json": "不是有效的 JSON", "fe.whole_number": "请输入整数",
	"fe.too_short": "太短", "fe.taken": "已被使用",

	"application.title": "融资申请", "application.progress": "办理进度", "application.request": "申请内容",
	"application.bank_ref": "银行受理编号", "application.decision": "银行决定与放款",
	"application.approved_amount": "批准金额", "application.rate": "年利率", "application.rejection": "拒绝原因",
	"application.disbursed": "已放款", "application.repaid": "已还本金", "application.interest": "已付利息",
	"application.outstanding": "未还本金", "application.cancel": "撤回申请", "application.timeline": "办理记录",
	"application.consent": "数据授权", "application.consent_given": "授权于 %s，有效至 %s",

	"status.submitted": "已提交", "status.delivered": "已送达银行", "status.received": "银行已受理", "status.approved": "已批准",
	"status.rejected": "已拒绝", "status.disbursed": "已放款", "status.repaid": "已还清", "status.closed": "已结清",
	"status.cancelled": "已撤回", "status.delivery_failed": "投递失败",
	"timeline.submitted": "提交申请", "timeline.submitted_detail": "核实通过，额度已预留，报文已排队发送给银行",
	"timeline.delivered": "送达银行", "timeline.received": "银行受理", "timeline.approved": "银行批准",
	"timeline.rejected": "银行拒绝", "timeline.disbursed": "放款", "timeline.repaid": "还清", "timeline.closed": "结清",
	"timeline.cancelled": "撤回", "timeline.delivery_failed": "投递失败",
	"loan.title": "贷款", "loan.maturity": "到期", "loan.disbursements": "放款", "loan.repayments": "还款",
	"loan.value_date": "起息日", "loan.paid_on": "还款日", "loan.principal": "本金", "loan.interest": "利息", "loan.none": "暂无",

	"claims.mine": "我的贴息", "claims.mine_intro": "每次还款付息后，平台按贴息政策自动计算贴息，由财政经办人审核后支付。",
	"claims.disabled": "贴息功能尚未启用。", "claims.none": "暂无贴息记录。", "claims.paid_on": "还款日",
	"claims.interest_paid": "已付利息", "claims.amount": "贴息金额", "claims.note": "说明", "claims.queue": "贴息审核",
	"claims.queue_intro": "逐笔核对计算过程后批准或驳回。达到双人复核金额的，需要两位不同的经办人批准。",
	"claims.claim":       "贴息", "claims.supplier": "供应商", "claims.approvals": "批准数", "claims.four_eyes": "双人复核",
	"claim.pending": "待审核", "claim.approved": "已批准", "claim.rejected": "已驳回", "claim.ineligible": "不符合条件", "claim.paid": "已支付",
	"claim.title": "贴息申请", "claim.facts": "基本信息", "claim.policy": "政策版本", "claim.rejection": "驳回原因",
	"claim.decision": "审核", "claim.four_eyes": "金额达到 %s 元，需要两位不同经办人批准（双人复核）。已有 %d 人批准。",
	"claim.one_officer": "一位经办人批准即可。已有 %d 人批准。", "claim.approve": "批准", "claim.reason": "驳回原因（必填）",
	"claim.reject": "驳回", "claim.decided": "已于此时决定：", "claim.computation": "计算过程",
	"claim.computation_intro": "计息期 %s 至 %s，共 %d 天。", "claim.step": "步骤", "claim.formula": "公式", "claim.value": "结果",
	"claim.limited_by": "受以下限制：",

	"batches.title": "支付批次", "batches.intro": "把已批准的贴息归入批次，导出 CSV 或 XLSX 交付支付；关闭批次后其中贴息记为已支付。",
	"batches.create": "把已批准的贴息生成批次", "batches.batch": "批次", "batches.claims": "笔数", "batches.total": "合计",
	"batches.export": "导出", "batches.close": "关闭并记为已支付", "batches.none": "还没有支付批次。",
	"batch.open": "未关闭", "batch.closed": "已关闭",

	"dash.title": "总览", "dash.pending_claims": "待审核贴息", "dash.approved_unpaid": "已批准待支付（元）", "dash.paid": "已支付贴息（元）",
	"dash.p50": "审批用时中位数", "dash.financing": "各银行每月放款金额（元）", "dash.no_financing": "还没有放款。",
	"dash.approval_times": "银行审批用时分布", "dash.approval_note": "最近 60 笔申请中已获批准的，从提交到银行批准的用时。",
	"dash.budget": "贴息预算", "dash.budget_year": "%d 年预算", "dash.used": "%d 年已用 %s 元", "dash.left": "剩余 %s 元",
	"dash.no_budget":   "还没有预算。",
	"dash.bucket.lt1m": "1分钟内", "dash.bucket.lt10m": "10分钟内", "dash.bucket.lt1h": "1小时内", "dash.bucket.lt1d": "1天内",
	"dash.bucket.lt7d": "7天内", "dash.bucket.ge7d": "7天以上",

	"filter.all": "全部", "filter.apply": "筛选",
	"audit.title": "审计记录", "audit.intro": "查看任一对象的全部变更记录（哈希链防篡改）。", "audit.type": "对象类型",
	"audit.id": "对象编号", "audit.show": "查看", "audit.none": "没有记录。", "audit.at": "时间", "audit.actor": "操作人",
	"audit.action": "动作", "audit.reason": "理由", "audit.hash": "哈希", "audit.sealing": "封存中",

	"admin.title": "管理", "admin.intro": "维护登记信息，查看发往银行的报文。", "admin.issuers": "采购中心",
	"admin.issuers_help": "登记采购中心及其公钥（JWKS），平台据此核验签名的中标通知书和合同。",
	"admin.banks":        "合作银行", "admin.banks_help": "登记合作银行的地址和公钥。", "admin.suppliers": "供应商",
	"admin.suppliers_help": "登记或补全供应商信息，系统按中小企业划型标准确定企业规模。",
	"admin.users":          "用户", "admin.users_help": "为供应商员工、财政经办人和管理员创建账号。",
	"admin.deliveries": "报文投递", "admin.deliveries_help": "发往银行的申请报文；投递失败或进入死信的可以重新排队。",
	"admin.register": "登记", "admin.register_bank": "登记或更新银行", "admin.create_user": "创建用户", "admin.done": "已保存：",
	"admin.no_banks": "还没有合作银行。", "admin.no_issuers": "还没有登记采购中心。", "admin.no_users": "还没有用户。", "admin.keys_at": "公钥来源", "admin.keys_inline": "已登记的公钥集", "admin.no_deliveries": "没有报文。", "admin.attempts": "尝试次数",
	"admin.last_error": "最近错误", "admin.requeue": "重新排队",
	"admin.disable": "停用", "admin.disable_help": "停用后不可恢复：该用户的会话和令牌立即失效，待复核的批准不再计数。",
	"admin.user_disabled": "已停用", "admin.user_active": "正常",
	"delivery.pending": "待投递", "delivery.delivered": "已送达", "delivery.failed": "失败", "delivery.dead": "死信",

	"field.id": "编号（小写字母、数字、-）", "field.name": "名称", "field.jwks": "公钥集 JWKS（粘贴 JSON）", "field.jwks_url": "或 JWKS 地址",
	"field.algorithms": "签名算法（逗号分隔）", "field.base_url": "接口地址", "field.uscc": "统一社会信用代码",
	"field.industry": "行业", "field.employees": "从业人员（人）", "field.annual_revenue": "营业收入（元）",
	"field.total_assets": "资产总额（元）", "field.uscc_override_reason": "校验位不符时的说明（可选）",
	"field.username": "用户名", "field.password": "初始密码（至少 10 个字符）", "field.role": "角色",
	"field.supplier_uscc": "所属供应商的统一社会信用代码（仅供应商）",

	"industry.agriculture": "农、林、牧、渔业", "industry.industry": "工业", "industry.construction": "建筑业",
	"industry.wholesale": "批发业", "industry.retail": "零售业", "industry.transport": "交通运输业", "industry.warehousing": "仓储业",
	"industry.postal": "邮政业", "industry.accommodation": "住宿业", "industry.catering": "餐饮业",
	"industry.information_transmission": "信息传输业", "industry.software_it": "软件和信息技术服务业",
	"industry.real_estate": "房地产开发经营", "industry.property_management": "物业管理",
	"industry.leasing_business": "租赁和商务服务业", "industry.other": "其他未列明行业",

	// Contract amendments awaiting review (console/amendments).
	"nav.amendments": "合同变更审核", "check.contract.no_pending_amendment": "合同没有待审核的变更",
	"ok.amendment_adopted": "已采用合同新版本。", "ok.amendment_kept": "已保留融资所依据的合同版本，理由已记录。",
	"amend.title":    "待审核的合同变更",
	"amend.intro":    "已融资合同的新版本如果使融资上限低于已融资金额、变更供应商或采购人、或撤销、终止合同，不会自动生效。请核对后采用新版本，或保留融资所依据的版本，并说明理由。处理之前，该合同不受理新的融资申请。",
	"amend.contract": "合同", "amend.current": "现行版本金额", "amend.financed": "已融资", "amend.version": "新版本",
	"amend.why": "需审核原因", "amend.new": "新版本金额", "amend.decision": "处理", "amend.limit": "融资上限",
	"amend.reason": "理由（必填）", "amend.keep": "保留现行版本", "amend.adopt": "采用新版本",
	"amend.none": "没有待审核的合同变更。", "amend.refused": "未能处理：",
	"amend.field.decision": "处理方式", "amend.field.reason": "理由", "amend.field_error": "%s：%s", "fe.unknown_decision": "须为采用或保留",
	"amend.reason.limit_below_financed": "融资上限低于已融资金额", "amend.reason.supplier_changed": "变更供应商",
	"amend.reason.purchaser_changed": "变更采购人", "amend.reason.cancelled": "合同撤销", "amend.reason.terminated": "合同终止",
}

var en = map[string]string{
	"app.name":    "Procurement Contract Financing",
	"app.skip":    "Skip to content",
	"app.footer":  "procfin · government procurement contract financing · every change on the audit trail",
	"lang.switch": "中文",

	"nav.consents": "Consents", "ok.consent_revoked": "The consent is revoked.",
	"consents.title": "My consents to share data", "consents.intro": "With each application you consent to procfin sending the listed data to the bank you chose. Revoking before the bank decides withdraws the application, and the bank is told; while a loan is live the consent cannot be revoked.",
	"consents.statement": "Statement", "consents.application": "Application", "consents.given": "Given", "consents.expires": "Valid until",
	"consents.revoke": "Revoke consent", "consents.none": "No consents yet.",
	"consent.state.given": "in force", "consent.state.revoked": "revoked", "consent.state.expired": "expired",
	"err.consent_in_use":  "The loan is not closed yet: the bank and procfin need the data until it is, so the consent cannot be revoked before then.",
	"err.consent_expired": "The supplier's consent to share its data has expired or was revoked: its data cannot be sent to the bank again.",

	"nav.main": "Main navigation", "nav.portal": "My home", "nav.applications": "Applications", "nav.my_claims": "Subsidies",
	"nav.dashboard": "Dashboard", "nav.claims": "Subsidy review", "nav.batches": "Payment batches", "nav.audit": "Audit trail",
	"nav.admin": "Administration", "nav.deliveries": "Deliveries", "nav.logout": "Log out",

	"role.supplier": "Supplier", "role.officer": "Finance officer", "role.admin": "Administrator",
	"size.micro": "micro enterprise", "size.small": "small enterprise", "size.medium": "medium enterprise", "size.large": "large enterprise", "size.unknown": "size unknown",

	"login.title": "Log in", "login.intro": "Suppliers, finance officers and administrators log in with their own accounts.",
	"login.username": "Username", "login.password": "Password", "login.submit": "Log in",
	"login.failed": "The username or password is not right.", "login.rate_limited": "Too many attempts. Please wait a little and try again.",

	"ok.logged_out": "You have logged out.", "ok.applied": "Your application was submitted and is on its way to the bank.", "ok.cancelled": "The application was withdrawn.",
	"ok.approved": "The subsidy claim is approved.", "ok.first_approval": "Your approval is recorded; a second, different officer must also approve (four-eyes).",
	"ok.rejected": "The subsidy claim is rejected.", "ok.batch_created": "A payment batch was created.", "ok.nothing_to_batch": "There are no approved claims waiting for a batch.",
	"ok.batch_closed": "The batch is closed; its claims are paid.", "ok.requeued": "The delivery is queued again.",
	"ok.user_disabled": "The user is disabled: their sessions and access tokens stopped working at once.",

	"err.403": "Not allowed", "err.404": "Not found", "err.409": "Not done", "err.500": "Something went wrong", "err.503": "Unavailable",
	"err.forbidden": "Your role cannot open this page.", "err.not_found": "There is no such page or record, or it is not yours.",
	"err.400": "Bad request", "err.401": "Not logged in", "err.405": "Not supported", "err.413": "Too large", "err.415": "Unsupported format", "err.422": "Not accepted", "err.429": "Too many attempts", "err.form_key": "The form is damaged. Go back, reload the page and try again.",
	"err.form_reused": "This form was already submitted with other contents. Go back, reload the page and fill it in again.", "err.form_pending": "This form is still being processed. Wait a moment, then reload to see the result.",
	"err.csrf": "The form has expired or did not come from this site. Go back, reload the page and try again.", "err.session_expired": "Your session has ended. Please log in again.",
	"err.refused": "The system refused this:", "err.unavailable": "The database cannot be reached just now. Please try again shortly.",
	"err.internal": "An unexpected error occurred and was logged. Please try again later.", "err.home": "Back to the start page",

	"portal.title": "My financing", "lines.title": "My credit lines", "lines.limit": "Limit", "lines.used": "Used", "lines.available": "Available",
	"lines.use": "Use", "lines.valid_until": "Valid until", "lines.revolving": "revolving", "lines.none": "No bank has granted you a credit line yet.",
	"line.active": "active", "line.revoked": "revoked",
	"contracts.title": "My government procurement contracts", "contracts.none": "No contracts yet.", "contracts.open": "View and apply",
	"notices.title": "My award notices", "notices.none": "No award notices yet.",
	"applications.recent": "Recent credit applications", "applications.all": "All applications", "applications.title": "Credit applications",
	"applications.none": "No credit applications yet.",

	"col.bank": "Bank", "col.status": "Status", "col.contract_no": "Contract no.", "col.purchaser": "Purchaser", "col.amount": "Amount",
	"col.period": "Performance period", "col.actions": "Actions", "col.notice_no": "Notice no.", "col.project": "Project", "col.awarded_on": "Awarded on",
	"col.signed_on": "Signed on", "col.application": "Application", "col.submitted": "Submitted", "col.term": "Term", "col.created": "Created",
	"col.updated": "Updated", "unit.days": "days",
	"doc.active": "active", "doc.cancelled": "cancelled", "doc.terminated": "terminated", "doc.completed": "completed",

	"contract.title": "Contract", "contract.details": "Contract", "contract.retention": "Retention", "contract.apply": "Apply for financing",
	"contract.not_financeable": "This contract cannot be financed now.", "contract.applications": "Applications against this contract",
	"financing.title": "Financing", "financing.limit": "Financing limit", "financing.ratio": "%s of the amount less retention",
	"financing.financed": "Held by applications", "financing.available": "Still available",

	"verify.title": "Award verification", "verify.passed": "Every check passed.", "verify.failed": "A check failed: you cannot apply yet.",
	"verify.at": "verified %s", "verify.at_submission": "Verification at submission",
	"check.passed": "passed", "check.failed": "failed",
	"check.issuer.signature":             "The procurement centre signed the contract and the award notice, and the signatures were checked",
	"check.award.active":                 "The award notice is in force",
	"check.supplier.uscc_valid":          "The supplier's unified social credit code is valid",
	"check.supplier.is_applicant":        "You are the supplier named on the contract",
	"check.supplier.sme_eligible":        "The supplier is a small, micro or medium enterprise that may borrow",
	"check.contract.references_award":    "The contract refers to this award notice",
	"check.contract.parties_match_award": "The contract's parties are those of the award notice",
	"check.contract.amount_within_award": "The contract amount is within the award",
	"check.contract.active":              "The contract is in force",
	"check.contract.in_period":           "The contract is within its performance period",
	"check.financing.headroom":           "Some of the contract can still be financed",
	"check.credit_line.available":        "The chosen credit line has enough left",

	"apply.title": "Apply for financing", "apply.intro": "Apply against contract %s. It can still finance %s yuan.",
	"apply.fix_fields": "Please correct the fields marked below.", "apply.refused": "The application was not accepted:",
	"apply.bank": "Partner bank", "apply.amount": "Amount (yuan)", "apply.amount_help": "At most %s yuan, for example 500000.00",
	"apply.term": "Term (days)", "apply.term_help": "1 to 365 days", "apply.line": "Credit line (optional)",
	"apply.no_line": "No credit line", "apply.line_help": "A credit line the chosen bank granted you gets a faster decision.",
	"apply.purpose": "What the money is for", "apply.consent_title": "Consent to share data",
	"apply.consent":       "By pressing “Agree and submit” you consent to procfin sending the following to the bank you chose, for this application only:",
	"apply.consent_after": "The consent covers only the chosen bank and this application; every step is on the audit trail.",
	"apply.submit":        "Agree and submit", "action.cancel": "Cancel",
	"consent.identity": "your firm's identity and size class", "consent.award": "the award notice", "consent.contract": "the contract and its payment terms",
	"consent.purchaser": "the purchaser", "consent.request": "the amount, term and purpose asked for", "consent.verification": "the verification report",

	"fe.required": "is required", "fe.format": "must be an amount such as 500000.00", "fe.not_positive": "must be above zero",
	"fe.too_large": "is above the programme's maximum", "fe.out_of_range": "is out of range", "fe.invalid": "is not valid",
	"fe.unknown": "does not exist", "fe.too_long": "is too long", "fe.json": "is not valid JSON", "fe.whole_number": "must be a whole number",
	"fe.too_short": "is too short", "fe.taken": "is taken",

	"application.title": "Credit application", "application.progress": "Progress", "application.request": "What you asked for",
	"application.bank_ref": "Bank reference", "application.decision": "Bank decision and loan",
	"application.approved_amount": "Approved amount", "application.rate": "Annual rate", "application.rejection": "Reason for rejection",
	"application.disbursed": "Disbursed", "application.repaid": "Principal repaid", "application.interest": "Interest paid",
	"application.outstanding": "Outstanding", "application.cancel": "Withdraw application", "application.timeline": "Timeline",
	"application.consent": "Consent to share data", "application.consent_given": "Given %s, valid until %s",

	"status.submitted": "submitted", "status.delivered": "delivered to bank", "status.received": "received by bank", "status.approved": "approved",
	"status.rejected": "rejected", "status.disbursed": "disbursed", "status.repaid": "repaid", "status.closed": "closed",
	"status.cancelled": "withdrawn", "status.delivery_failed": "delivery failed",
	"timeline.submitted": "Submitted", "timeline.submitted_detail": "verified, amounts reserved, message queued for the bank",
	"timeline.delivered": "Delivered to the bank", "timeline.received": "Received by the bank", "timeline.approved": "Approved by the bank",
	"timeline.rejected": "Rejected by the bank", "timeline.disbursed": "Disbursed", "timeline.repaid": "Repaid", "timeline.closed": "Closed",
	"timeline.cancelled": "Withdrawn", "timeline.delivery_failed": "Delivery failed",
	"loan.title": "Loan", "loan.maturity": "matures", "loan.disbursements": "Disbursements", "loan.repayments": "Repayments",
	"loan.value_date": "Value date", "loan.paid_on": "Paid on", "loan.principal": "Principal", "loan.interest": "Interest", "loan.none": "None yet",

	"claims.mine": "My interest subsidies", "claims.mine_intro": "After each repayment with interest, procfin computes the subsidy under the policy; a finance officer reviews it before payment.",
	"claims.disabled": "Interest subsidies are not enabled.", "claims.none": "No subsidy claims.", "claims.paid_on": "Repaid on",
	"claims.interest_paid": "Interest paid", "claims.amount": "Subsidy", "claims.note": "Note", "claims.queue": "Subsidy review",
	"claims.queue_intro": "Check each computation, then approve or reject. Claims at or above the four-eyes threshold need two different officers.",
	"claims.claim":       "Claim", "claims.supplier": "Supplier", "claims.approvals": "Approvals", "claims.four_eyes": "four-eyes",
	"claim.pending": "pending", "claim.approved": "approved", "claim.rejected": "rejected", "claim.ineligible": "ineligible", "claim.paid": "paid",
	"claim.title": "Subsidy claim", "claim.facts": "Facts", "claim.policy": "Policy version", "claim.rejection": "Reason for rejection",
	"claim.decision": "Decision", "claim.four_eyes": "At %s yuan or more two different officers must approve (four-eyes). Approvals so far: %d.",
	"claim.one_officer": "One officer's approval is enough. Approvals so far: %d.", "claim.approve": "Approve", "claim.reason": "Reason for rejection (required)",
	"claim.reject": "Reject", "claim.decided": "Decided", "claim.computation": "Computation",
	"claim.computation_intro": "Interest period %s to %s, %d days.", "claim.step": "Step", "claim.formula": "Formula", "claim.value": "Value",
	"claim.limited_by": "Limited by:",

	"batches.title": "Payment batches", "batches.intro": "Gather approved claims into a batch and export it as CSV or XLSX for payment; closing a batch marks its claims paid.",
	"batches.create": "Batch the approved claims", "batches.batch": "Batch", "batches.claims": "Claims", "batches.total": "Total",
	"batches.export": "Export", "batches.close": "Close as paid", "batches.none": "No payment batches yet.",
	"batch.open": "open", "batch.closed": "closed",

	"dash.title": "Dashboard", "dash.pending_claims": "subsidy claims to review", "dash.approved_unpaid": "approved, not yet paid (yuan)", "dash.paid": "subsidies paid (yuan)",
	"dash.p50": "median time to approval", "dash.financing": "Money disbursed per month, by bank (yuan)", "dash.no_financing": "Nothing disbursed yet.",
	"dash.approval_times": "Time to the bank's approval", "dash.approval_note": "Approved applications among the latest 60, from submission to approval.",
	"dash.budget": "Subsidy budget", "dash.budget_year": "Budget %d", "dash.used": "%d: %s yuan used", "dash.left": "%s yuan left",
	"dash.no_budget":   "No budget yet.",
	"dash.bucket.lt1m": "< 1 min", "dash.bucket.lt10m": "< 10 min", "dash.bucket.lt1h": "< 1 h", "dash.bucket.lt1d": "< 1 day",
	"dash.bucket.lt7d": "< 7 days", "dash.bucket.ge7d": "≥ 7 days",

	"filter.all": "all", "filter.apply": "Filter",
	"audit.title": "Audit trail", "audit.intro": "Every change to any entity, hash-chained so edits show.", "audit.type": "Entity type",
	"audit.id": "Entity id", "audit.show": "Show", "audit.none": "No entries.", "audit.at": "When", "audit.actor": "Who",
	"audit.action": "What", "audit.reason": "Reason", "audit.hash": "Hash", "audit.sealing": "sealing…",

	"admin.title": "Administration", "admin.intro": "Keep the registries and watch the messages to banks.", "admin.issuers": "Procurement centres",
	"admin.issuers_help": "Register a procurement centre and its public keys (JWKS), which procfin checks signed award notices and contracts against.",
	"admin.banks":        "Partner banks", "admin.banks_help": "Register a partner bank's address and public keys.", "admin.suppliers": "Suppliers",
	"admin.suppliers_help": "Register or complete a supplier; procfin works out its SME size class.",
	"admin.users":          "Users", "admin.users_help": "Create accounts for suppliers' staff, finance officers and administrators.",
	"admin.deliveries": "Deliveries", "admin.deliveries_help": "Applications sent to banks; failed or dead ones can be queued again.",
	"admin.register": "Register", "admin.register_bank": "Register or update a bank", "admin.create_user": "Create user", "admin.done": "Saved:",
	"admin.no_banks": "No partner banks yet.", "admin.no_issuers": "No issuers yet.", "admin.no_users": "No users yet.", "admin.keys_at": "Public keys", "admin.keys_inline": "registered key set", "admin.no_deliveries": "No deliveries.", "admin.attempts": "Attempts",
	"admin.last_error": "Last error", "admin.requeue": "Queue again",
	"admin.disable": "Disable", "admin.disable_help": "For good: the user's sessions and tokens stop working at once, and their approvals awaiting a second officer no longer count.",
	"admin.user_disabled": "Disabled", "admin.user_active": "Active",
	"delivery.pending": "pending", "delivery.delivered": "delivered", "delivery.failed": "failed", "delivery.dead": "dead",

	"field.id": "Id (lower-case letters, digits, -)", "field.name": "Name", "field.jwks": "Public keys, JWKS (paste the JSON)", "field.jwks_url": "or a JWKS URL",
	"field.algorithms": "Signature algorithms (comma-separated)", "field.base_url": "Base URL", "field.uscc": "Unified social credit code (USCC)",
	"field.industry": "Industry", "field.employees": "Employees", "field.annual_revenue": "Annual revenue (yuan)",
	"field.total_assets": "Total assets (yuan)", "field.uscc_override_reason": "Why to accept a code failing its checksum (optional)",
	"field.username": "Username", "field.password": "Initial password (10 characters or more)", "field.role": "Role",
	"field.supplier_uscc": "The supplier's USCC (suppliers only)",

	"industry.agriculture": "agriculture, forestry, husbandry, fishery", "industry.industry": "industry", "industry.construction": "construction",
	"industry.wholesale": "wholesale", "industry.retail": "retail", "industry.transport": "transport", "industry.warehousing": "warehousing",
	"industry.postal": "postal", "industry.accommodation": "accommodation", "industry.catering": "catering",
	"industry.information_transmission": "information transmission", "industry.software_it": "software and IT services",
	"industry.real_estate": "real-estate development", "industry.property_management": "property management",
	"industry.leasing_business": "leasing and business services", "industry.other": "other",

	// Contract amendments awaiting review (console/amendments).
	"nav.amendments": "Contract amendments", "check.contract.no_pending_amendment": "No amendment of the contract awaits review",
	"ok.amendment_adopted": "The new version of the contract is now current.", "ok.amendment_kept": "The version the financing stands on is kept; the reason is recorded.",
	"amend.title":    "Contract amendments awaiting review",
	"amend.intro":    "A new version of a financed contract that lowers its financing limit below what is financed, changes its supplier or purchaser, or cancels or terminates it does not take effect by itself. Adopt it, or keep the version the financing stands on, and say why. Until then no new application is accepted on the contract.",
	"amend.contract": "Contract", "amend.current": "Current amount", "amend.financed": "Financed", "amend.version": "New version",
	"amend.why": "Why held", "amend.new": "New amount", "amend.decision": "Decision", "amend.limit": "limit",
	"amend.reason": "Reason (required)", "amend.keep": "Keep the current version", "amend.adopt": "Adopt the new version",
	"amend.none": "No contract amendment awaits review.", "amend.refused": "Refused: ",
	"amend.field.decision": "Decision", "amend.field.reason": "Reason", "amend.field_error": "%s: %s", "fe.unknown_decision": "must be adopt or keep",
	"amend.reason.limit_below_financed": "limit below what is financed", "amend.reason.supplier_changed": "supplier changed",
	"amend.reason.purchaser_changed": "purchaser changed", "amend.reason.cancelled": "cancelled", "amend.reason.terminated": "terminated",
}
