package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// RequestTimeout bounds one request, setup's included.
const RequestTimeout = 30 * time.Second

// HTTPError is an answer other than the one expected: its status and, when
// the body is an RFC 9457 problem, its type and detail.
type HTTPError struct {
	Method, Path string
	Status       int
	Type         string // the problem type; "" when the body was not a problem
	Detail       string
	Fields       []FieldProblem // the problem's errors, if any
}

// FieldProblem is one entry of a problem's errors.
type FieldProblem struct {
	Field   string `json:"field"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *HTTPError) Error() string {
	s := fmt.Sprintf("%s %s: %d", e.Method, e.Path, e.Status)
	if e.Type != "" {
		s += " " + e.Type
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	for _, f := range e.Fields {
		s += fmt.Sprintf("; %s: %s (%s)", f.Field, f.Message, f.Code)
	}
	return s
}

// errorKind names an error for the report: "status type" for an answer,
// "transport: …" for a failure to get one.
func errorKind(err error) string {
	var he *HTTPError
	if errors.As(err, &he) {
		if he.Type == "" {
			return fmt.Sprintf("%d", he.Status)
		}
		return fmt.Sprintf("%d %s", he.Status, he.Type)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // without the URL, so that kinds group
	}
	return "transport: " + err.Error()
}

// newHTTPClient is a client tuned for clients concurrent callers of one
// host: every caller keeps its connection alive between requests.
func newHTTPClient(clients int) *http.Client {
	tr := &http.Transport{
		Proxy:                 nil, // the targets are local: never a proxy from the environment
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          clients + 16,
		MaxIdleConnsPerHost:   clients,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
	}
	return &http.Client{Transport: tr, Timeout: RequestTimeout}
}

// request is one call to the target.
type request struct {
	method, path string
	token        string      // bearer token, if any
	body         []byte      // JSON, if any
	header       http.Header // more headers
	want         []int       // expected statuses; empty: any 2xx
	out          any         // where to decode a JSON answer; nil: discard it
}

// do sends r to base+r.path and checks the status. An unexpected status is
// an *HTTPError; the answer's Retry-After (seconds) comes back with it.
func do(ctx context.Context, c *http.Client, base string, r request) (status int, retryAfter time.Duration, err error) {
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, base+r.path, body)
	if err != nil {
		return 0, 0, err
	}
	for k, vs := range r.header {
		req.Header[k] = vs
	}
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if r.token != "" {
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	res, err := c.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer res.Body.Close()
	ok := res.StatusCode >= 200 && res.StatusCode < 300
	if len(r.want) > 0 {
		ok = false
		for _, s := range r.want {
			ok = ok || s == res.StatusCode
		}
	}
	if !ok {
		he := &HTTPError{Method: r.method, Path: r.path, Status: res.StatusCode}
		var p struct {
			Type, Detail string
			Errors       []FieldProblem
		}
		if b, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10)); json.Unmarshal(b, &p) == nil {
			he.Type, he.Detail, he.Fields = p.Type, p.Detail, p.Errors
		}
		io.Copy(io.Discard, res.Body)
		var secs int
		if _, err := fmt.Sscan(strings.TrimSpace(res.Header.Get("Retry-After")), &secs); err == nil && secs > 0 {
			retryAfter = time.Duration(secs) * time.Second
		}
		return res.StatusCode, retryAfter, he
	}
	if r.out != nil {
		if err := json.NewDecoder(res.Body).Decode(r.out); err != nil {
			return res.StatusCode, 0, fmt.Errorf("%s %s: %d with an unreadable answer: %w", r.method, r.path, res.StatusCode, err)
		}
	}
	io.Copy(io.Discard, res.Body) // drain, so the connection is reused
	return res.StatusCode, 0, nil
}
