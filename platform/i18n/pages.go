package i18n

// The texts of the pages' names, figures, lists and units (part pages).
var pagesZH = map[string]string{
	"delivery.ok": "已送达",
}

var pagesEN = map[string]string{
	"delivery.ok": "delivered",
}

func init() { register(pagesZH, pagesEN) }
