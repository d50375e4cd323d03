package web

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"

	"procfin/platform/errs"
	"procfin/platform/idempotency"
)

// formKeyField is the hidden field that binds a state-changing form to one
// submission: every such form is rendered with a new key (the template
// function formKey), and a POST carrying it is idempotent as the API is
// under Idempotency-Key, through the same store (platform/idempotency).
// The first submission's answer when it succeeded (a redirect, or the page
// saying what was registered) is stored, and a second submission (a
// double click, a reload, the back button) is answered with it: it
// creates nothing new. A refused submission (a page with the form's
// errors, 4xx) changed nothing, so its key is released and the corrected
// form, rendered with a new key, runs afresh.
const formKeyField = "form_key"

var validFormKey = regexp.MustCompile(`^[A-Za-z0-9-]{16,64}$`)

// once makes a state-changing page handler idempotent by its form's key.
// A form without a key (an old page, a script) runs as before.
func (s *server) once(h func(w http.ResponseWriter, r *http.Request, v *view)) func(w http.ResponseWriter, r *http.Request, v *view) {
	return func(w http.ResponseWriter, r *http.Request, v *view) {
		key := r.PostFormValue(formKeyField)
		if key == "" {
			h(w, r, v)
			return
		}
		if !validFormKey.MatchString(key) {
			s.errorPage(w, r, v, http.StatusBadRequest, "err.form_key")
			return
		}
		ctx := r.Context()
		scope := "web:user:" + v.User.ID
		hash := idempotency.RequestHash(r.Method, r.URL.Path, formBody(r.PostForm))
		stored, err := s.beginWaiting(ctx, scope, key, hash)
		switch {
		case err != nil: // the key used for other contents, or the first submission still running: 409
			s.fail(w, r, v, err)
			return
		case stored != nil && stored.Location != "":
			http.Redirect(w, r, stored.Location, http.StatusSeeOther)
			return
		case stored != nil:
			w.Header().Set("Content-Type", stored.ContentType)
			w.WriteHeader(stored.Status)
			w.Write(stored.Body)
			return
		}
		rec := &answerRecorder{ResponseWriter: w}
		completed := false
		defer func() { // a refusal, an error or a panic: the next submission runs afresh
			if !completed {
				_ = s.idem.Release(context.WithoutCancel(ctx), scope, key)
			}
		}()
		h(rec, r, v)
		answer := idempotency.Response{Status: rec.status, Location: rec.Header().Get("Location")}
		switch {
		case rec.status == http.StatusSeeOther && answer.Location != "":
		case rec.status >= 200 && rec.status < 300:
			answer.ContentType, answer.Body = rec.Header().Get("Content-Type"), rec.buf.Bytes()
		default:
			return
		}
		if err := s.idem.Complete(context.WithoutCancel(ctx), scope, key, answer); err != nil {
			s.Logger.Error("web: store a form's answer", "path", r.URL.Path, "error", err)
			return
		}
		completed = true
	}
}

// beginWaiting claims the form's key; while the first submission still
// runs (a double click), it waits a little for its answer.
func (s *server) beginWaiting(ctx context.Context, scope, key, hash string) (*idempotency.Response, error) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		stored, err := s.idem.Begin(ctx, scope, key, hash)
		if !errs.Is(err, errs.IdempotencyPending) || time.Now().After(deadline) {
			return stored, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// formBody is the submitted form in a fixed order without the CSRF token,
// the key and any password (the hash is stored), so the same form posted
// again hashes the same.
func formBody(form url.Values) []byte {
	names := make([]string, 0, len(form))
	for n := range form {
		if n != csrfField && n != formKeyField && n != "password" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		for _, v := range form[n] {
			b.WriteString(url.QueryEscape(n) + "=" + url.QueryEscape(v) + "&")
		}
	}
	return []byte(b.String())
}

// answerRecorder keeps a copy of what a page handler answers.
type answerRecorder struct {
	http.ResponseWriter
	status int
	buf    bytes.Buffer
}

func (w *answerRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *answerRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.buf.Write(b)
	return w.ResponseWriter.Write(b)
}
