package safehttp_test

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"procfin/platform/safehttp"
)

func TestPublic(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		ip   string
		want bool
	}{
		{"93.184.216.34", true},
		{"8.8.8.8", true},
		{"2606:4700:4700::1111", true},
		{"64:ff9b::808:808", true}, // NAT64 of 8.8.8.8
		{"127.0.0.1", false},
		{"127.1.2.3", false},
		{"10.1.2.3", false},
		{"172.16.0.1", false},
		{"172.31.255.255", false},
		{"192.168.1.1", false},
		{"100.64.0.1", false}, // CGNAT
		{"100.127.255.255", false},
		{"169.254.169.254", false}, // cloud metadata
		{"0.0.0.0", false},
		{"224.0.0.1", false},
		{"255.255.255.255", false},
		{"::", false},
		{"::1", false},
		{"fc00::1", false},
		{"fd12:3456::1", false},
		{"fe80::1", false},
		{"fe80::1%eth0", false},
		{"ff02::1", false},
		{"::ffff:127.0.0.1", false},  // IPv4-mapped loopback
		{"::ffff:10.0.0.1", false},   // IPv4-mapped private
		{"::ffff:100.64.0.1", false}, // IPv4-mapped CGNAT
		{"::ffff:8.8.8.8", true},
		{"64:ff9b::7f00:1", false}, // NAT64 of 127.0.0.1
		{"2002:7f00:1::", false},   // 6to4 of 127.0.0.1
		{"::127.0.0.1", false},     // IPv4-compatible
		{"172.32.0.1", true},       // just past 172.16/12
		{"100.128.0.1", true},      // just past 100.64/10
	} {
		t.Run(tc.ip, func(t *testing.T) {
			if got := safehttp.Public(netip.MustParseAddr(tc.ip)); got != tc.want {
				t.Fatalf("Public(%s) = %v, want %v", tc.ip, got, tc.want)
			}
		})
	}
}

func TestCheckURL(t *testing.T) {
	t.Parallel()
	strict, open := safehttp.Policy{}, safehttp.Policy{AllowPrivate: true}
	for _, tc := range []struct {
		url          string
		strict, open bool
	}{
		{"https://bank.example/procfin", true, true},
		{"HTTPS://bank.example:8443/", true, true},
		{"https://93.184.216.34/", true, true},
		{"http://bank.example/procfin", false, true},
		{"http://127.0.0.1:8081/jwks.json", false, true},
		{"https://127.0.0.1/", false, true},
		{"https://localhost:8443/", false, true},
		{"https://api.localhost/", false, true},
		{"https://10.0.0.5/", false, true},
		{"https://[::1]/", false, true},
		{"https://[::ffff:169.254.169.254]/", false, true},
		{"https://[fd00::1]/", false, true},
		{"https://100.64.1.1/", false, true},
		{"https://2130706433/", false, true}, // 127.0.0.1 as one number
		{"https://0x7f.1/", false, true},
		{"https://user:pw@bank.example/", false, false},
		{"ftp://bank.example/", false, false},
		{"/relative", false, false},
		{"https:///nohost", false, false},
		{"", false, false},
	} {
		t.Run(tc.url, func(t *testing.T) {
			if err := strict.CheckURL(tc.url); (err == nil) != tc.strict {
				t.Errorf("strict: CheckURL = %v, want ok %v", err, tc.strict)
			}
			if err := open.CheckURL(tc.url); (err == nil) != tc.open {
				t.Errorf("AllowPrivate: CheckURL = %v, want ok %v", err, tc.open)
			}
		})
	}
}

func okServer(t *testing.T, tlsServer bool) *httptest.Server {
	t.Helper()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) })
	var srv *httptest.Server
	if tlsServer {
		srv = httptest.NewTLSServer(h)
	} else {
		srv = httptest.NewServer(h)
	}
	t.Cleanup(srv.Close)
	return srv
}

// client is the policy's client, trusting srv's test certificate.
func client(p safehttp.Policy, srv *httptest.Server) *http.Client {
	c := p.Client(5 * time.Second)
	if srv.TLS != nil {
		c.Transport.(*http.Transport).TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig
	}
	return c
}

func get(c *http.Client, url string) error {
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errors.New(resp.Status)
	}
	return nil
}

// TestTransportRefusesLoopback: the dialer refuses 127.0.0.1 unless
// private addresses are allowed.
func TestTransportRefusesLoopback(t *testing.T) {
	t.Parallel()
	srv := okServer(t, true)
	if err := get(client(safehttp.Policy{}, srv), srv.URL); !errors.Is(err, safehttp.ErrBlocked) {
		t.Fatalf("strict GET %s: err = %v, want ErrBlocked", srv.URL, err)
	}
	if err := get(client(safehttp.Policy{AllowPrivate: true}, srv), srv.URL); err != nil {
		t.Fatalf("AllowPrivate GET %s: %v", srv.URL, err)
	}
}

// TestTransportRefusesNameResolvingToLoopback: the check is on the address
// dialled, after DNS: localhost resolves to loopback and is refused.
func TestTransportRefusesNameResolvingToLoopback(t *testing.T) {
	t.Parallel()
	srv := okServer(t, true)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	url := "https://localhost:" + port + "/"
	err := get(client(safehttp.Policy{}, srv), url)
	if !errors.Is(err, safehttp.ErrBlocked) {
		t.Fatalf("strict GET %s: err = %v, want ErrBlocked", url, err)
	}
}

// TestRedirectDowngradeRefused: https → http is refused even when private
// addresses are allowed; a redirect to loopback is refused when they are
// not.
func TestRedirectDowngradeRefused(t *testing.T) {
	t.Parallel()
	plain := okServer(t, false)
	tlsOK := okServer(t, true)
	redirect := func(to string) *httptest.Server {
		srv := httptest.NewTLSServer(http.RedirectHandler(to, http.StatusFound))
		t.Cleanup(srv.Close)
		return srv
	}
	t.Run("HTTPSToHTTP", func(t *testing.T) {
		srv := redirect(plain.URL + "/jwks.json")
		err := get(client(safehttp.Policy{AllowPrivate: true}, srv), srv.URL)
		if err == nil || !strings.Contains(err.Error(), "https to http") {
			t.Fatalf("err = %v, want the downgrade refused", err)
		}
	})
	t.Run("HTTPSToHTTPS", func(t *testing.T) {
		srv := redirect(tlsOK.URL + "/jwks.json")
		if err := get(client(safehttp.Policy{AllowPrivate: true}, srv), srv.URL); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("ToLoopbackStrict", func(t *testing.T) {
		var p safehttp.Policy
		req := httptestRequest(t, tlsOK.URL)
		via := []*http.Request{httptestRequest(t, "https://bank.example/jwks.json")}
		if err := p.CheckRedirect(req, via); !errors.Is(err, safehttp.ErrBlocked) {
			t.Fatalf("CheckRedirect to %s: %v, want ErrBlocked", tlsOK.URL, err)
		}
	})
	t.Run("TooMany", func(t *testing.T) {
		p := safehttp.Policy{AllowPrivate: true}
		via := make([]*http.Request, 3)
		if err := p.CheckRedirect(httptestRequest(t, tlsOK.URL), via); err == nil {
			t.Fatal("a fourth redirect was allowed")
		}
	})
}

func httptestRequest(t *testing.T, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}
