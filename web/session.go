package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"procfin/platform/auth"
	"procfin/platform/errs"
	"procfin/platform/i18n"
	"procfin/platform/postgres"
)

const (
	sessionCookie = "procfin_session"
	loginCSRF     = "procfin_login_csrf" // the CSRF token of the log-in form, before there is a session
	langCookie    = "procfin_lang"
	csrfField     = "csrf"
)

// session is a logged-in user's session.
type session struct {
	idHash []byte
	user   auth.User
	csrf   string
}

// randomToken returns 256 random bits, URL-safe base64.
func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashID(id string) []byte {
	h := sha256.Sum256([]byte(id))
	return h[:]
}

func (s *server) secure(r *http.Request) bool {
	return r.TLS != nil || strings.HasPrefix(s.PublicURL, "https://")
}

func (s *server) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge time.Duration) {
	c := &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: s.secure(r), MaxAge: int(maxAge / time.Second)}
	if maxAge < 0 {
		c.MaxAge = -1
	}
	http.SetCookie(w, c)
}

// startSession stores a new session for u and sets its cookie. A new id at
// every log-in: a session id planted before the log-in is worthless.
func (s *server) startSession(ctx context.Context, w http.ResponseWriter, r *http.Request, u auth.User) error {
	id := randomToken()
	_, err := s.DB.ExecContext(ctx, `
		INSERT INTO web_sessions (id_hash, user_id, csrf_token, expires_at, token_generation) VALUES ($1, $2, $3, $4, $5)`,
		hashID(id), u.ID, randomToken(), time.Now().Add(s.SessionTTL), u.TokenGeneration)
	if err != nil {
		return postgres.Translate(err)
	}
	// Expired sessions go when someone logs in; nothing else needs them.
	if _, err := s.DB.ExecContext(ctx, `DELETE FROM web_sessions WHERE expires_at < now()`); err != nil {
		s.Logger.Warn("purge web sessions", "error", err)
	}
	s.setCookie(w, r, sessionCookie, id, s.SessionTTL)
	return nil
}

// loadSession returns the request's session; errs not_found when there is
// none (no cookie, unknown, expired, or its user is gone). A session of a
// user disabled since, or whose sessions were revoked since (a password
// change: the user's token generation moved on), is ended here and is none.
func (s *server) loadSession(ctx context.Context, r *http.Request) (session, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || len(c.Value) != 43 {
		return session{}, errs.E(errs.NotFound, "no session")
	}
	var row struct {
		UserID string `db:"user_id"`
		CSRF   string `db:"csrf_token"`
		Gen    int64  `db:"token_generation"`
	}
	h := hashID(c.Value)
	err = s.DB.GetContext(ctx, &row, `SELECT user_id, csrf_token, token_generation FROM web_sessions WHERE id_hash = $1 AND expires_at > now()`, h)
	if errors.Is(err, sql.ErrNoRows) {
		return session{}, errs.E(errs.NotFound, "no session")
	}
	if err != nil {
		return session{}, postgres.Translate(err)
	}
	u, err := s.Auth.GetUser(ctx, row.UserID)
	if err != nil {
		return session{}, err
	}
	if u.DisabledAt != nil || u.TokenGeneration != row.Gen {
		if _, err := s.DB.ExecContext(ctx, `DELETE FROM web_sessions WHERE id_hash = $1`, h); err != nil {
			s.Logger.Warn("end revoked web session", "error", err)
		}
		return session{}, errs.E(errs.NotFound, "no session")
	}
	return session{idHash: h, user: u, csrf: row.CSRF}, nil
}

// validCSRF compares the form's token with want in constant time.
func validCSRF(r *http.Request, want string) bool {
	got := r.PostFormValue(csrfField)
	return want != "" && got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// page wraps a handler: it loads the session (sending the anonymous to the
// log-in), checks the role (nil: any role), and checks the CSRF token of
// every POST.
func (s *server) page(roles []auth.Role, h func(w http.ResponseWriter, r *http.Request, v *view)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v := s.newView(r)
		sess, err := s.loadSession(r.Context(), r)
		if errs.Is(err, errs.NotFound) {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			s.errorPage(w, r, v, http.StatusForbidden, "err.session_expired")
			return
		}
		if err != nil {
			s.fail(w, r, v, err)
			return
		}
		v.User, v.CSRF = &sess.user, sess.csrf
		if r.Method == http.MethodPost && !validCSRF(r, sess.csrf) {
			s.errorPage(w, r, v, http.StatusForbidden, "err.csrf")
			return
		}
		if roles != nil && !slices.Contains(roles, sess.user.Role) {
			s.errorPage(w, r, v, http.StatusForbidden, "err.forbidden")
			return
		}
		v.session = sess
		h(w, r, v)
	}
}

// home sends each user to their start page.
func (s *server) home(w http.ResponseWriter, r *http.Request) {
	sess, err := s.loadSession(r.Context(), r)
	if err != nil {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, startPage(sess.user.Role), http.StatusSeeOther)
}

func startPage(role auth.Role) string {
	switch role {
	case auth.RoleSupplier:
		return "/portal"
	case auth.RoleOfficer:
		return "/console"
	case auth.RolePurchaser:
		return "/purchaser"
	default:
		return "/admin"
	}
}

type loginData struct {
	Username string
	Next     string
	Error    string
}

func (s *server) loginPage(w http.ResponseWriter, r *http.Request) {
	v := s.newView(r)
	if sess, err := s.loadSession(r.Context(), r); err == nil {
		http.Redirect(w, r, startPage(sess.user.Role), http.StatusSeeOther)
		return
	}
	s.renderLogin(w, r, v, loginData{Next: safeNext(r.URL.Query().Get("next"))}, http.StatusOK)
}

func (s *server) renderLogin(w http.ResponseWriter, r *http.Request, v *view, d loginData, status int) {
	token := randomToken()
	s.setCookie(w, r, loginCSRF, token, time.Hour)
	v.CSRF = token
	s.render(w, r, v, status, "login", "login.title", d)
}

// login checks the credentials through auth.Authenticate, which also
// rate-limits by username and by address.
func (s *server) login(w http.ResponseWriter, r *http.Request) {
	v := s.newView(r)
	c, err := r.Cookie(loginCSRF)
	if err != nil || !validCSRF(r, c.Value) {
		s.errorPage(w, r, v, http.StatusForbidden, "err.csrf")
		return
	}
	d := loginData{Username: strings.TrimSpace(r.PostFormValue("username")), Next: safeNext(r.PostFormValue("next"))}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	u, err := s.Auth.Authenticate(r.Context(), d.Username, r.PostFormValue("password"), host)
	switch {
	case errs.Is(err, errs.RateLimited):
		var e *errs.Error
		if errors.As(err, &e) {
			if secs, ok := e.Extra["retry_after"].(int); ok && secs > 0 {
				w.Header().Set("Retry-After", strconv.Itoa(secs))
			}
		}
		d.Error = "login.rate_limited"
		s.renderLogin(w, r, v, d, errs.StatusOf(err))
		return
	case errs.Is(err, errs.Unauthorized):
		d.Error = "login.failed"
		s.renderLogin(w, r, v, d, errs.StatusOf(err))
		return
	case err != nil:
		s.fail(w, r, v, err)
		return
	}
	if err := s.startSession(r.Context(), w, r, u); err != nil {
		s.fail(w, r, v, err)
		return
	}
	s.setCookie(w, r, loginCSRF, "", -1)
	next := d.Next
	if next == "" || !allowedStart(u.Role, next) {
		next = startPage(u.Role)
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// allowedStart keeps a user from being sent after log-in to another role's
// pages, which would only show them a refusal.
func allowedStart(role auth.Role, next string) bool {
	return strings.HasPrefix(next, startPage(role))
}

func (s *server) logout(w http.ResponseWriter, r *http.Request, v *view) {
	if _, err := s.DB.ExecContext(r.Context(), `DELETE FROM web_sessions WHERE id_hash = $1`, v.session.idHash); err != nil {
		s.fail(w, r, v, postgres.Translate(err))
		return
	}
	s.setCookie(w, r, sessionCookie, "", -1)
	http.Redirect(w, r, "/login?ok=logged_out", http.StatusSeeOther)
}

// switchLanguage sets the language cookie and goes back where the user was.
func (s *server) switchLanguage(w http.ResponseWriter, r *http.Request) {
	lang := r.PathValue("lang")
	if !i18n.Known(lang) {
		lang = defaultLang
	}
	http.SetCookie(w, &http.Cookie{Name: langCookie, Value: lang, Path: "/", MaxAge: 365 * 24 * 3600,
		SameSite: http.SameSiteLaxMode, Secure: s.secure(r), HttpOnly: true})
	next := safeNext(r.URL.Query().Get("next"))
	if next == "" {
		next = "/"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// safeNext accepts only a path on this site ("/x", not "//host" or "/\host").
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return ""
	}
	u, err := url.Parse(next)
	if err != nil || u.Host != "" || u.Scheme != "" {
		return ""
	}
	return next
}
