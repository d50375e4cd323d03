package web

import (
	"regexp"
	"strings"
	"testing"
)

var lastErrorCell = regexp.MustCompile(`<td class="last-error"[^>]*>([^<]*)</td>`)

// TestDeliveriesLastError: a delivered message's last error is no error
// (已送达, not the bank's 202); a failed one shows the failure's status and
// text. The bank is named beside its id.
func TestDeliveriesLastError(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	supplier := e.client()
	supplier.login("quancheng")
	app := e.approve(supplier)
	admin := e.client()
	admin.login("admin")
	cell := func() string {
		t.Helper()
		p := admin.get("/admin/deliveries")
		wantStatus(t, p, 200)
		wantContains(t, p, `齐鲁银行 <span class="muted">qilu</span>`)
		m := lastErrorCell.FindAllStringSubmatch(p.body, -1)
		if len(m) != 1 {
			t.Fatalf("%d last-error cells, want 1:\n%s", len(m), p.body)
		}
		return strings.TrimSpace(m[0][1])
	}
	// As the relay writes a delivery the bank took (banking/relay.go).
	if _, err := e.db.Exec(`UPDATE deliveries SET status = 'delivered', last_status = 202, last_error = '', delivered_at = now()
		WHERE application_id = $1`, app); err != nil {
		t.Fatal(err)
	}
	if got := cell(); got != "已送达" {
		t.Fatalf("a delivered message's last error reads %q, want 已送达", got)
	}
	// As the relay writes a delivery the bank refused for good.
	if _, err := e.db.Exec(`UPDATE deliveries SET status = 'failed', last_status = 503, last_error = 'bank busy', delivered_at = NULL
		WHERE application_id = $1`, app); err != nil {
		t.Fatal(err)
	}
	if got := cell(); got != "HTTP 503 · bank busy" {
		t.Fatalf("a failed message's last error reads %q", got)
	}
}

// TestAdminSupplierList: the suppliers' page lists every supplier, newest
// first, with its size class and settlement account, a page at a time.
func TestAdminSupplierList(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.client()
	admin.login("admin")
	p := admin.get("/admin/suppliers")
	wantStatus(t, p, 200)
	// seed registers quancheng, then lixia: lixia is newer, listed first.
	wantContains(t, p, `<table id="suppliers">`, "泉城软件有限公司", "历下商贸有限公司", "小型企业", "尚未登记")
	if i, j := strings.Index(p.body, `data-uscc="`+lixia+`"`), strings.Index(p.body, `data-uscc="`+quancheng+`"`); i < 0 || j < 0 || i > j {
		t.Fatalf("lixia at %d, quancheng at %d: want both, the newer first", i, j)
	}
	if strings.Contains(p.body, `id="next-page"`) {
		t.Fatal("a next page with two suppliers")
	}
}
