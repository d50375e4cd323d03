package subsidies

import (
	"strconv"
	"strings"

	"procfin/platform/errs"
)

// The payment files' words in both languages. They live here, not in the
// web interface's catalogue (web/i18n.go), because the API
// (handlers) exports the same files and neither handlers nor subsidies
// may import package web.

// ExportLangs are the languages of payment files, the default first.
var ExportLangs = []string{"zh-CN", "en"}

// ExportLang reads a payment file's ?lang= (zh-CN or en, in any case);
// "" when not given, for the caller to fall back on the user's language,
// then zh-CN. Returns invalid naming field lang for any other value.
func ExportLang(q string) (string, error) {
	if q == "" {
		return "", nil
	}
	for _, l := range ExportLangs {
		if strings.EqualFold(q, l) {
			return l, nil
		}
	}
	return "", errs.InvalidFields(errs.Field("lang", errs.FieldInvalid))
}

// exportColumn is one column of a payment file: its header in each
// language, and whether it holds an amount (a number cell in XLSX).
type exportColumn struct {
	zh, en string
	amount bool
}

func (c exportColumn) in(lang string) string {
	if lang == "en" {
		return c.en
	}
	return c.zh
}

// exportColumns are the payment file's columns, in the order of
// Line.record. The treasury pays the amount (col 7) to the settlement
// account (cols 4–6); a claim whose supplier has none is still listed,
// its account cells empty, and the note (col 14) says so.
var exportColumns = []exportColumn{
	{zh: "贴息申请编号", en: "Claim id"},
	{zh: "统一社会信用代码", en: "Supplier USCC"},
	{zh: "供应商名称", en: "Supplier name"},
	{zh: "结算账户开户行", en: "Settlement bank"},
	{zh: "结算账号", en: "Settlement account no."},
	{zh: "结算账户户名", en: "Settlement account name"},
	{zh: "贴息金额（元）", en: "Subsidy amount (yuan)", amount: true},
	{zh: "贷款银行编号", en: "Lending bank id"},
	{zh: "贷款银行", en: "Lending bank"},
	{zh: "融资申请编号", en: "Application id"},
	{zh: "还款日", en: "Repaid on"},
	{zh: "实付利息（元）", en: "Interest paid (yuan)", amount: true},
	{zh: "贴息政策版本", en: "Policy version"},
	{zh: "备注", en: "Note"},
}

// The notes of a payment file, by language.
var (
	noteSettlementMissing = exportColumn{zh: "待补充结算账户", en: "settlement account missing"}
	noteTotal             = exportColumn{zh: "合计", en: "TOTAL"}
)

func exportHeader(lang string) []string {
	h := make([]string, len(exportColumns))
	for i, c := range exportColumns {
		h[i] = c.in(lang)
	}
	return h
}

func (l Line) record(lang string) []string {
	note := ""
	if l.SettlementMissing {
		note = noteSettlementMissing.in(lang)
	}
	return []string{l.ClaimID, l.SupplierUSCC, l.SupplierName,
		l.SettlementBankName, l.SettlementAccountNo, l.SettlementAccountName, l.Amount.String(),
		l.BankID, l.BankName, l.ApplicationID, l.PaidOn.String(), l.InterestPaid.String(),
		strconv.Itoa(l.PolicyVersion), note}
}

// totalRecord is the last line: the word for total, the batch total under
// the amounts, and the number of claims as the note.
func totalRecord(b Batch, lang string) []string {
	rec := make([]string, len(exportColumns))
	rec[0] = noteTotal.in(lang)
	rec[6] = b.Total.String()
	claims := exportColumn{zh: strconv.Itoa(b.Claims) + " 笔", en: strconv.Itoa(b.Claims) + " claims"}
	rec[len(rec)-1] = claims.in(lang)
	return rec
}
