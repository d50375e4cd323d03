package web

import (
	"html/template"
	"net/http"
	"strconv"

	"procfin/banking"
	"procfin/contracts"
)

// The template functions of names beside ids and of the deliveries' last
// error.
func init() {
	funcs["named"] = named
	funcs["lastError"] = lastError
}

// named is a name with its id beside it, muted ("泉城软件有限公司
// 91350100M000100Y43"); the id alone when the name is unknown.
func named(name, id string) template.HTML {
	esc := template.HTMLEscapeString
	if name == "" || name == id {
		return template.HTML(esc(id))
	}
	return template.HTML(esc(name) + ` <span class="muted">` + esc(id) + `</span>`)
}

// lastError is what the deliveries page shows as a delivery's last error:
// nothing for a message the bank took, else the failed attempt's HTTP
// status (if the bank answered) and its error text.
func lastError(v *view, d banking.Delivery) string {
	if d.Status == "delivered" {
		return v.T("delivery.ok")
	}
	out := ""
	if d.LastStatus != nil && (*d.LastStatus < 200 || *d.LastStatus >= 300) {
		out = "HTTP " + strconv.Itoa(*d.LastStatus)
	}
	if d.LastError != "" {
		if out != "" {
			out += " · "
		}
		out += d.LastError
	}
	return out
}

// supplierPageSize is how many suppliers the administrators' list shows at
// a time.
const supplierPageSize = 50

// supplierList fills the page of the supplier list that ?cursor= names
// (the newest first; a cursor not given by the page starts there too).
func (s *server) supplierList(r *http.Request, d *formData) error {
	after, ok := contracts.ParseSupplierCursor(r.URL.Query().Get("cursor"))
	if !ok {
		after = contracts.SupplierCursor{}
	}
	list, err := s.Contracts.Suppliers(r.Context(), after, supplierPageSize+1)
	if err != nil {
		return err
	}
	d.NotFirst = !after.CreatedAt.IsZero()
	if len(list) > supplierPageSize {
		list = list[:supplierPageSize]
		last := list[len(list)-1]
		d.Next = contracts.SupplierCursor{CreatedAt: last.CreatedAt, USCC: last.USCC}.String()
	}
	d.Suppliers = list
	return nil
}
