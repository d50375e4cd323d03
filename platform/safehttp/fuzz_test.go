package safehttp_test

import (
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"procfin/platform/safehttp"
)

// FuzzCheckURL: CheckURL never panics; what the strict policy accepts is
// https, names no private address, and is accepted with private URLs
// allowed too.
func FuzzCheckURL(f *testing.F) {
	for _, s := range []string{"https://bank.example/procfin", "http://127.0.0.1:8080", "https://[::ffff:10.0.0.1]/",
		"https://0x7f.1/", "https://localhost./", "https://user@h/", "https://%31%32%37.0.0.1/", "https://[fe80::1%25eth0]/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		strictErr := safehttp.Policy{}.CheckURL(s)
		openErr := safehttp.Policy{AllowPrivate: true}.CheckURL(s)
		if strictErr != nil {
			return
		}
		if openErr != nil {
			t.Fatalf("%q: strict accepts, AllowPrivate refuses: %v", s, openErr)
		}
		u, err := url.Parse(s)
		if err != nil || !strings.EqualFold(u.Scheme, "https") {
			t.Fatalf("%q: strict accepts a non-https URL", s)
		}
		if ip, err := netip.ParseAddr(u.Hostname()); err == nil && !safehttp.Public(ip) {
			t.Fatalf("%q: strict accepts the private address %s", s, ip)
		}
	})
}
