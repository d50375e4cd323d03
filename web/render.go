package web

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"procfin/lending"
	"procfin/platform/audit"
	"procfin/platform/auth"
	"procfin/platform/errs"
	"procfin/platform/i18n"
	"procfin/platform/money"
)

// view is what every page template sees: the language, the user, the
// CSRF token for its forms, and the page's own data.
type view struct {
	Lang    string
	User    *auth.User
	CSRF    string
	Path    string // the request's path and query, for the language switch
	Title   string // message key
	Flash   string // message key of a one-line confirmation (?ok=...)
	Data    any
	session session
	actors  map[string]string // the names of the audit rows' actors (web/pages.go)
}

func (s *server) newView(r *http.Request) *view {
	v := &view{Lang: defaultLang, Path: r.URL.RequestURI()}
	if c, err := r.Cookie(langCookie); err == nil {
		if i18n.Known(c.Value) {
			v.Lang = c.Value
		}
	}
	if ok := r.URL.Query().Get("ok"); ok != "" {
		if i18n.Has("ok." + ok) {
			v.Flash = "ok." + ok
		}
	}
	return v
}

// T translates a message key into the page's language.
func (v *view) T(key string, args ...any) string { return translate(v.Lang, key, args...) }

// Other is the language the switch link offers.
func (v *view) Other() string {
	if v.Lang == "en" {
		return defaultLang
	}
	return "en"
}

// RoleName is the user's role in words.
func (v *view) RoleName() string {
	if v.User == nil {
		return ""
	}
	return v.T("role." + string(v.User.Role))
}

// Is reports whether the user has the role (for the navigation).
func (v *view) Is(role string) bool { return v.User != nil && string(v.User.Role) == role }

var shanghai = func() *time.Location {
	if l, err := time.LoadLocation("Asia/Shanghai"); err == nil {
		return l
	}
	return time.FixedZone("CST", 8*3600)
}()

var funcs = template.FuncMap{
	// formKey is a new key for a form that changes something (web/once.go).
	"formKey": func() string { return uuid.NewString() },
	"money":   formatMoney,
	"when": func(t any) string {
		switch t := t.(type) {
		case time.Time:
			return t.In(shanghai).Format("2006-01-02 15:04:05")
		case *time.Time:
			if t == nil {
				return ""
			}
			return t.In(shanghai).Format("2006-01-02 15:04:05")
		}
		return fmt.Sprint(t)
	},
	"badge": func(status any) string { return "badge badge-" + strings.ReplaceAll(fmt.Sprint(status), "_", "-") },
	"short": func(id string) string {
		if len(id) > 8 {
			return id[:8]
		}
		return id
	},
	"deref": func(p any) any {
		switch p := p.(type) {
		case *string:
			if p == nil {
				return ""
			}
			return *p
		case *int:
			if p == nil {
				return ""
			}
			return *p
		case *money.Amount:
			if p == nil {
				return ""
			}
			return formatMoney(*p)
		case *money.Rate:
			if p == nil {
				return ""
			}
			return p.String()
		}
		return p
	},
	"apps": func(v *view, list []lending.Application, names map[string]string, link string) appTable {
		return appTable{V: v, Apps: list, Names: names, Link: link}
	},
	// appsBy is apps with a supplier column: the officers' list.
	"appsBy": func(v *view, list []lending.Application, names, suppliers map[string]string, link string) appTable {
		return appTable{V: v, Apps: list, Names: names, Suppliers: suppliers, Link: link}
	},
	"checks": func(v *view, list []checkView) checkList { return checkList{V: v, Checks: list} },
	"audit":  func(v *view, rows []audit.Row) auditList { return auditList{V: v, Rows: rows} },
	"form":   func(v *view, d formData) formCtx { return formCtx{V: v, D: d} },
	"input": func(v *view, d formData, name, kind string) inputCtx {
		return inputCtx{V: v, D: d, Name: name, Kind: kind}
	},
	"list": func(s ...string) []string { return s },
	"percent": func(r money.Rate) string {
		return r.Decimal().Shift(2).StringFixed(2) + "%"
	},
	"ratePct":   ratePercent,
	"payments":  func(v *view, list []lending.ContractPayment) paymentList { return paymentList{V: v, Payments: list} },
	"lockfacts": func(v *view, r lending.Receivable) receivableFacts { return receivableFacts{V: v, R: r} },
	"pct":       func(r money.Rate) string { return ratePercent(&r) },
}

// appTable is what the shared table of applications shows.
type appTable struct {
	V     *view
	Apps  []lending.Application
	Names map[string]string
	// Suppliers are the suppliers' names by USCC; nil for a supplier's own
	// list, which has no supplier column.
	Suppliers map[string]string
	Link      string // the application's page is Link + its id
}

// checkList is what the shared list of verification checks shows.
type checkList struct {
	V      *view
	Checks []checkView
}

// auditList is what the shared audit table shows.
type auditList struct {
	V    *view
	Rows []audit.Row
}

// formCtx and inputCtx are what the shared form pieces show.
type formCtx struct {
	V *view
	D formData
}

type inputCtx struct {
	V          *view
	D          formData
	Name, Kind string
}

// formatMoney writes an amount with thousands separators: 1,200,000.00.
func formatMoney(a money.Amount) string {
	s := a.String()
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	whole, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	for i, c := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	out := b.String() + "." + frac
	if neg {
		out = "-" + out
	}
	return out
}

// parseTemplates parses each page with the layout.
func parseTemplates() (map[string]*template.Template, error) {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if name == "layout" || name == "partials" {
			continue
		}
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/partials.html", n)
		if err != nil {
			return nil, fmt.Errorf("web: template %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// render writes the page inside the layout with the status.
func (s *server) render(w http.ResponseWriter, r *http.Request, v *view, status int, page, title string, data any) {
	t, ok := s.pages[page]
	if !ok {
		s.Logger.Error("web: no template", "page", page)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	v.Title, v.Data = title, data
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		s.Logger.Error("web: render", "page", page, "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

type errorData struct {
	Status  int
	Message string // message key
	Detail  string // a business error's message, safe to show
}

func (s *server) errorPage(w http.ResponseWriter, r *http.Request, v *view, status int, msg string) {
	s.render(w, r, v, status, "error", fmt.Sprintf("err.%d", status), errorData{Status: status, Message: msg})
}

// fail shows a business error as a page, at the status the API answers
// for it (errs.Status): another supplier's contract is simply not found; a
// refusal shows the service's words; internal errors are logged once and
// shown without detail.
func (s *server) fail(w http.ResponseWriter, r *http.Request, v *view, err error) {
	code, status := errs.CodeOf(err), errs.StatusOf(err)
	switch {
	case code == errs.NotFound:
		s.errorPage(w, r, v, status, "err.not_found")
	case code == errs.Forbidden:
		s.errorPage(w, r, v, status, "err.forbidden")
	case code == errs.IdempotencyReused:
		s.errorPage(w, r, v, status, "err.form_reused")
	case code == errs.IdempotencyPending:
		s.errorPage(w, r, v, status, "err.form_pending")
	case code == errs.Unavailable:
		s.errorPage(w, r, v, status, "err.unavailable")
	case status < 500:
		s.render(w, r, v, status, "error", fmt.Sprintf("err.%d", status),
			errorData{Status: status, Message: refusalKey(code), Detail: englishDetail(v, err)})
	default:
		s.Logger.Error("web: internal error", "path", r.URL.Path, "error", err)
		s.errorPage(w, r, v, http.StatusInternalServerError, "err.internal")
	}
}

// englishDetail is the service's own words on an English page, below the
// catalogue's; nothing on a Chinese one.
func englishDetail(v *view, err error) string {
	if v.Lang != i18n.EN {
		return ""
	}
	return errs.MessageOf(err)
}

// notFoundPage answers every path no page serves.
func (s *server) notFoundPage(w http.ResponseWriter, r *http.Request) {
	v := s.newView(r)
	if sess, err := s.loadSession(r.Context(), r); err == nil {
		v.User, v.CSRF = &sess.user, sess.csrf
	}
	s.errorPage(w, r, v, http.StatusNotFound, "err.not_found")
}

// fieldErrors indexes field problems by field, each in the page's
// language: the catalogue's words for its kind (fe.<code>, with the
// problem's arguments), or for a kind it does not word "is not valid",
// never the service's English on a Chinese page.
func fieldErrors(v *view, fe []errs.FieldError) map[string]string {
	m := map[string]string{}
	for _, f := range fe {
		msg := fieldMessage(v, f)
		if prev, ok := m[f.Field]; ok {
			msg = prev + "; " + msg
		}
		m[f.Field] = msg
	}
	return m
}

// amountProblem is the problem of a form's amount that money.ParseAmount
// refused (invalid_amount, too_large).
func amountProblem(field string, err error) errs.FieldError { return money.Problem(field, err) }

// fieldMessage is one field problem in the page's language.
func fieldMessage(v *view, f errs.FieldError) string {
	if key := "fe." + f.Code + "." + f.Field; i18n.Has(key) {
		return v.T(key)
	}
	want := errs.FieldArgs(f.Code)
	switch {
	case i18n.Has("fe."+f.Code) && (want == len(f.Args) || want < 0 && len(f.Args) == 0):
		return v.T("fe."+f.Code, f.Args...)
	case v.Lang == i18n.EN:
		return f.Message
	}
	return v.T("fe." + errs.FieldInvalid)
}

// problemText is a refusal in the page's language: the catalogue's words
// for its code (err.<code>); on an English page the service's own, more
// precise, words.
func problemText(v *view, err error) string {
	if v.Lang == i18n.EN {
		return errs.MessageOf(err)
	}
	return v.T(refusalKey(errs.CodeOf(err)))
}

// fieldsOf returns the field problems of an invalid error.
func fieldsOf(err error) []errs.FieldError {
	var e *errs.Error
	if errors.As(err, &e) && e.Code == errs.Invalid {
		return e.Fields
	}
	return nil
}
