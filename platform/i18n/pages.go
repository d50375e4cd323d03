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
