// Package safehttp owns the rules for the URLs procfin itself calls on
// another party's word: partner banks' base URLs (the relay) and senders'
// JWKS URLs (the signature verifier). A registered URL must be https and
// may not name, or resolve to, an address inside procfin's own network
// (loopback, private, link-local, CGNAT, unspecified, multicast), so that
// an administrator's typo or a hostile registration cannot make procfin
// read or write its own services (SSRF). The address is checked where the
// connection is made, after DNS resolution, so a name that resolves to a
// private address (or starts to, DNS rebinding) is refused too.
//
// Policy{AllowPrivate: true} lifts the address and https rules, for tests,
// the demo and the sandbox bank, which talk over 127.0.0.1
// (PROCFIN_ALLOW_PRIVATE_URLS=1). A redirect from https to plain http is
// refused whatever the policy.
package safehttp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Policy says which URLs procfin may call. The zero value is the strict
// one: https only, public addresses only.
type Policy struct {
	// AllowPrivate allows plain http and addresses in procfin's own
	// network (loopback, private ranges, ...).
	AllowPrivate bool
}

// maxRedirects bounds the redirects a Client follows.
const maxRedirects = 3

// ErrBlocked is the cause of a connection or URL refused for its address.
var ErrBlocked = errors.New("address not allowed")

// blocked are the ranges a strict policy never connects to.
var blocked = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8",       // this network, unspecified
		"10.0.0.0/8",      // private (RFC 1918)
		"100.64.0.0/10",   // carrier-grade NAT (RFC 6598)
		"127.0.0.0/8",     // loopback
		"169.254.0.0/16",  // link-local (cloud metadata services)
		"172.16.0.0/12",   // private (RFC 1918)
		"192.0.0.0/24",    // IETF protocol assignments
		"192.168.0.0/16",  // private (RFC 1918)
		"198.18.0.0/15",   // benchmarking
		"224.0.0.0/4",     // multicast
		"240.0.0.0/4",     // reserved, broadcast
		"::/96",           // unspecified, loopback, IPv4-compatible
		"100::/64",        // discard
		"fc00::/7",        // unique local
		"fe80::/10",       // link-local
		"fec0::/10",       // site-local (deprecated)
		"ff00::/8",        // multicast
		"2001:db8::/32",   // documentation
		"2001::/32",       // Teredo (embeds an IPv4 address)
		"64:ff9b:1::/48",  // local-use NAT64
		"::ffff:0:0:0/96", // IPv4-translated (RFC 2765)
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
)

// Public reports whether ip is an address a strict policy may connect to:
// none of loopback, private (RFC 1918, fc00::/7), link-local, CGNAT
// (100.64.0.0/10), unspecified, multicast or reserved, in IPv4 form or
// wrapped in IPv6 (IPv4-mapped, NAT64, 6to4).
func Public(ip netip.Addr) bool {
	if !ip.IsValid() {
		return false
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		b := ip.As16()
		switch {
		case nat64.Contains(ip):
			return Public(netip.AddrFrom4([4]byte(b[12:16])))
		case sixToFour.Contains(ip):
			return Public(netip.AddrFrom4([4]byte(b[2:6])))
		}
	}
	for _, p := range blocked {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// CheckURL checks a URL procfin will call: absolute, http or https, a
// host, no user info. Under a strict policy it must also be https and its
// host may not be a private address or a name of this machine
// (localhost). The error's message says what is wrong, for a field error.
func (p Policy) CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Opaque != "" || u.Host == "" || u.Hostname() == "" {
		return errors.New("must be an absolute https URL")
	}
	if u.User != nil {
		return errors.New("must not carry user info")
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "https" && scheme != "http" {
		return errors.New("must use https")
	}
	if p.AllowPrivate {
		return nil
	}
	if scheme != "https" {
		return errors.New("must use https")
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return fmt.Errorf("%w: %s is this machine", ErrBlocked, host)
	}
	if ip, err := netip.ParseAddr(host); err == nil && !Public(ip) {
		return fmt.Errorf("%w: %s is a loopback, private or reserved address", ErrBlocked, host)
	}
	if ip := net.ParseIP(host); ip == nil && looksNumeric(host) {
		// 2130706433, 0x7f.1, 017700000001: forms some resolvers read as
		// an address.
		return fmt.Errorf("%w: %s is not a host name", ErrBlocked, host)
	}
	return nil
}

// looksNumeric reports whether every dot-separated label of host is a
// number (decimal, octal or hex): not a DNS name, but read as an IPv4
// address by inet_aton.
func looksNumeric(host string) bool {
	for _, label := range strings.Split(host, ".") {
		l := strings.TrimPrefix(strings.TrimPrefix(label, "0x"), "0X")
		if l == "" {
			return false
		}
		for _, c := range l {
			if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
				return false
			}
		}
		if l == label && strings.ContainsAny(l, "abcdefABCDEF") {
			return false // a hex-looking label without 0x is a name
		}
	}
	return true
}

// control refuses a connection to an address the policy does not allow.
// It runs after DNS resolution, on the very address dialled.
func (p Policy) control(_, address string, _ syscall.RawConn) error {
	if p.AllowPrivate {
		return nil
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrBlocked, address)
	}
	if !Public(ap.Addr()) {
		return fmt.Errorf("%w: %s is a loopback, private or reserved address", ErrBlocked, ap.Addr())
	}
	return nil
}

// Dialer returns a dialer that connects only to addresses the policy
// allows.
func (p Policy) Dialer() *net.Dialer {
	return &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Control: p.control}
}

// Transport returns a copy of http.DefaultTransport that connects only to
// addresses the policy allows. Under a strict policy it uses no proxy (a
// proxy would hide the address really called).
func (p Policy) Transport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	d := p.Dialer()
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		return d.DialContext(ctx, network, addr)
	}
	if !p.AllowPrivate {
		t.Proxy = nil
	}
	return t
}

// CheckRedirect is an http.Client's CheckRedirect: at most 3 redirects,
// never from https to plain http, each to a URL CheckURL accepts.
func (p Policy) CheckRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return errors.New("too many redirects")
	}
	if len(via) > 0 && strings.EqualFold(via[len(via)-1].URL.Scheme, "https") && !strings.EqualFold(req.URL.Scheme, "https") {
		return fmt.Errorf("%w: redirect from https to %s refused", ErrBlocked, req.URL.Scheme)
	}
	if err := p.CheckURL(req.URL.String()); err != nil {
		return fmt.Errorf("redirect to %s refused: %w", req.URL.Redacted(), err)
	}
	return nil
}

// Client returns a client with the policy's Transport and CheckRedirect,
// and the time-out.
func (p Policy) Client(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: p.Transport(), CheckRedirect: p.CheckRedirect}
}
