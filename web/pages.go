package web

import (
	"context"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/lib/pq"

	"procfin/banking"
	"procfin/contracts"
	"procfin/lending"
	"procfin/platform/audit"
	"procfin/platform/money"
	"procfin/platform/postgres"
	"procfin/subsidies"
)

// The template functions of names beside ids and of the deliveries' last
// error.
func init() {
	funcs["named"] = named
	funcs["lastError"] = lastError
	funcs["actor"] = actor
	funcs["yuan"] = yuan
	funcs["bankName"] = bankName
	funcs["ineligible"] = func(v *view, reason string) string { return subsidies.IneligibleText(reason, v.Lang) }
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

// nameActors looks up, in one query, the names of the actors of the audit
// rows that name a user, a bank, an issuer or a purchaser, for the audit
// table (actor).
func (s *server) nameActors(ctx context.Context, v *view, rows []audit.Row) error {
	var actors []string
	for _, r := range rows {
		if !slices.Contains(actors, r.Actor) {
			actors = append(actors, r.Actor)
		}
	}
	if len(actors) == 0 {
		return nil
	}
	var named []struct {
		Actor string `db:"actor"`
		Name  string `db:"name"`
	}
	err := s.DB.SelectContext(ctx, &named, `
		SELECT 'user:' || id::text AS actor, username AS name FROM users WHERE 'user:' || id::text = ANY($1)
		UNION ALL SELECT 'bank:' || id, name FROM banks WHERE 'bank:' || id = ANY($1)
		UNION ALL SELECT 'issuer:' || id, name FROM issuers WHERE 'issuer:' || id = ANY($1)`, pq.Array(actors))
	if err != nil {
		return postgres.Translate(err)
	}
	v.actors = map[string]string{}
	for _, n := range named {
		v.actors[n.Actor] = n.Name
	}
	return nil
}

// supplierNames looks up, in one query, the names of the suppliers of
// apps, by USCC.
func (s *server) supplierNames(ctx context.Context, apps []lending.Application) (map[string]string, error) {
	var usccs []string
	for _, a := range apps {
		if !slices.Contains(usccs, a.SupplierUSCC) {
			usccs = append(usccs, a.SupplierUSCC)
		}
	}
	names := map[string]string{}
	if len(usccs) == 0 {
		return names, nil
	}
	var rows []struct {
		USCC string `db:"uscc"`
		Name string `db:"name"`
	}
	if err := s.DB.SelectContext(ctx, &rows, `SELECT uscc, name FROM suppliers WHERE uscc = ANY($1)`, pq.Array(usccs)); err != nil {
		return nil, postgres.Translate(err)
	}
	for _, r := range rows {
		names[r.USCC] = r.Name
	}
	return names, nil
}

// actor is an audit row's actor with its name beside it, when known.
func actor(v *view, a string) template.HTML { return named(v.actors[a], a) }

// duration writes a number of seconds in the reader's units, its two
// largest: 45 秒, 2 分 5 秒, 3 小时 20 分, 2 天 4 小时 (zh-CN); 45 s,
// 2 min 5 s, 3 h 20 min, 2 d 4 h (en).
func duration(v *view, seconds int64) string {
	units := []struct {
		key  string
		size int64
	}{{"unit.day", 86400}, {"unit.hour", 3600}, {"unit.minute", 60}, {"unit.second", 1}}
	for i, u := range units {
		n := seconds / u.size
		if n == 0 && u.size > 1 {
			continue
		}
		parts := []string{v.T(u.key, n)}
		if i+1 < len(units) {
			next := units[i+1]
			if m := seconds % u.size / next.size; m > 0 {
				parts = append(parts, v.T(next.key, m))
			}
		}
		return strings.Join(parts, " ")
	}
	return ""
}

// yuan writes an amount with thousands separators and its unit in the
// reader's language: 300,000.00 元 (zh-CN), 300,000.00 yuan (en); nothing
// for a nil amount.
func yuan(v *view, a any) string {
	switch a := a.(type) {
	case money.Amount:
		return formatMoney(a) + " " + v.T("intent.yuan")
	case *money.Amount:
		if a != nil {
			return formatMoney(*a) + " " + v.T("intent.yuan")
		}
	}
	return ""
}

// bankName is the bank's name with its id ("齐鲁银行 · qilu"), from the
// banks the page has; the id alone for a bank not among them.
func bankName(banks []banking.Bank, id string) string {
	for _, b := range banks {
		if b.ID == id && b.Name != "" && b.Name != id {
			return b.Name + " · " + id
		}
	}
	return id
}
