package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"procfin/platform/errs"
	"procfin/platform/i18n"
)

// TestFailAnswersTheTablesStatus: a business error's page has the status
// of errs' one table, the API's, for every code; its title is in both
// languages; an error that is not an *errs.Error is internal.
func TestFailAnswersTheTablesStatus(t *testing.T) {
	t.Parallel()
	pages, err := parseTemplates()
	if err != nil {
		t.Fatal(err)
	}
	s := &server{Deps: Deps{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, pages: pages}
	answer := func(err error) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/portal/apply", nil)
		rec := httptest.NewRecorder()
		s.fail(rec, req, s.newView(req), err)
		return rec
	}
	for _, code := range errs.Codes() {
		status := errs.Status(code)
		rec := answer(errs.E(code, "refused for a reason"))
		if rec.Code != status || !strings.Contains(rec.Body.String(), fmt.Sprintf(`data-status="%d"`, status)) {
			t.Errorf("%s: status %d, want %d\n%s", code, rec.Code, status, rec.Body)
		}
		if !i18n.Has(fmt.Sprintf("err.%d", status)) {
			t.Errorf("%s: no title for status %d", code, status)
		}
	}
	if rec := answer(errors.New("a bug")); rec.Code != http.StatusInternalServerError || strings.Contains(rec.Body.String(), "a bug") {
		t.Errorf("a plain error: status %d, want 500 without its text\n%s", rec.Code, rec.Body)
	}
}

// TestWebAndAPIAnswerAlike: the same refusal has the same status through
// a page and through the API: a user who exists (conflict, 409), a user
// with no such role (invalid, 422), an administrator disabling themselves
// (conflict, 409).
func TestWebAndAPIAnswerAlike(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	admin, err := e.auth.UserByName(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	token, _, err := e.auth.IssueToken(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	api := func(path string, body any) int {
		t.Helper()
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+path, bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		n++
		req.Header.Set("Idempotency-Key", fmt.Sprintf("alike-%d", n))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	a := e.client()
	a.login("admin")
	csrf := a.csrf(a.get("/admin/users"))
	cases := []struct {
		name       string
		page       string
		form       url.Values
		path       string
		body       any
		wantStatus int
	}{
		{"UserExists", "/admin/users", url.Values{"username": {"officer"}, "password": {password}, "role": {"officer"}},
			"/v1/admin/users", map[string]string{"username": "officer", "password": password, "role": "officer"}, http.StatusConflict},
		{"NoSuchRole", "/admin/users", url.Values{"username": {"newcomer"}, "password": {password}, "role": {"wizard"}},
			"/v1/admin/users", map[string]string{"username": "newcomer", "password": password, "role": "wizard"}, http.StatusUnprocessableEntity},
		{"DisableSelf", "/admin/users/" + admin.ID + "/disable", url.Values{},
			"/v1/admin/users/" + admin.ID + "/disable", map[string]string{}, http.StatusConflict},
	}
	for _, tc := range cases {
		tc.form.Set("csrf", csrf)
		web := a.post(tc.page, tc.form).status
		if got := api(tc.path, tc.body); web != tc.wantStatus || got != tc.wantStatus {
			t.Errorf("%s: the page answered %d and the API %d, want %d both", tc.name, web, got, tc.wantStatus)
		}
	}
}
