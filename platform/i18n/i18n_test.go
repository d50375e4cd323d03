package i18n

import (
	"fmt"
	"strings"
	"testing"
)

// TestCatalogueComplete: every key in both languages, registered once,
// and a message's verbs the same in both (a %s in one and not the other
// would print %!s(MISSING) or EXTRA on one side).
func TestCatalogueComplete(t *testing.T) {
	t.Parallel()
	for _, d := range dupes {
		t.Errorf("%s is registered twice", d)
	}
	for _, p := range parts {
		zh, en := p[0], p[1]
		for k := range zh {
			if _, ok := en[k]; !ok {
				t.Errorf("%q has no English", k)
			}
		}
		for k := range en {
			if _, ok := zh[k]; !ok {
				t.Errorf("%q has no Chinese", k)
			}
		}
	}
	for _, k := range Keys() {
		if a, b := verbs(catalogue[ZH][k]), verbs(catalogue[EN][k]); a != b {
			t.Errorf("%q: zh-CN has verbs %q, en %q", k, a, b)
		}
	}
}

// verbs are the formatting verbs of a message, sorted by their argument.
func verbs(msg string) string {
	var n int
	var out []string
	for i := 0; i < len(msg); i++ {
		if msg[i] != '%' || i+1 >= len(msg) {
			continue
		}
		if msg[i+1] == '%' {
			i++
			continue
		}
		n++
		out = append(out, fmt.Sprint(n))
	}
	return strings.Join(out, ",")
}

// TestT is not parallel: it registers a part while no other test reads.
func TestT(t *testing.T) {
	register(map[string]string{"test.x": "甲%s"}, map[string]string{"test.x": "A%s"})
	if got := T(EN, "test.x", "1"); got != "A1" {
		t.Errorf("T(en) = %q, want A1", got)
	}
	if got := T("fr", "test.x", "1"); got != "甲1" { // an unknown language reads the default
		t.Errorf("T(fr) = %q, want 甲1", got)
	}
	if got := T(ZH, "test.none"); got != "test.none" {
		t.Errorf("T(missing) = %q, want the key", got)
	}
	if Lang("fr") != ZH || Lang(EN) != EN {
		t.Error("Lang does not fall back to the default")
	}
}
