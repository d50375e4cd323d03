package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"procfin/platform/errs"
	"procfin/platform/jsonbody"
)

// decodeJSON reads one JSON value from body into dst, strictly
// (jsonbody.Decode).
func decodeJSON(body io.Reader, dst any) error { return jsonbody.Decode(body, dst) }

// bindJSON checks the Content-Type and decodes the request body into dst,
// naming every problem at once (bindChecked, with dst's own checks).
func bindJSON(c *gin.Context, dst any) error { return bindChecked(c, dst, nil) }

// checkedBody is a request body that names its own problems (the business
// package's checks of its fields, reading and changing nothing).
type checkedBody interface{ Check() []errs.FieldError }

// bindChecked checks the Content-Type and decodes the request body into
// dst (checkedDecode).
func bindChecked(c *gin.Context, dst any, check func() []errs.FieldError) error {
	if ct := c.GetHeader("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return errs.E(errs.UnsupportedMedia, "send the body as application/json")
		}
	}
	return checkedDecode(c.Request.Body, dst, check)
}

// checkedDecode is decodeJSON naming every problem of the body at once:
// when some fields cannot be read, check (else dst's own Check) runs on
// what was read, and its problems of the other fields join theirs in one
// invalid error. A body whose fields all read is left to the business
// call, which checks it.
func checkedDecode(body io.Reader, dst any, check func() []errs.FieldError) error {
	err := decodeJSON(body, dst)
	if !errs.Is(err, errs.Invalid) {
		return err
	}
	if check == nil {
		if cb, ok := dst.(checkedBody); ok {
			check = cb.Check
		}
	}
	if check == nil {
		return err
	}
	return withChecks(err, check)
}

// withChecks adds check's problems of the fields err does not name.
func withChecks(err error, check func() []errs.FieldError) error {
	var e *errs.Error
	if !errors.As(err, &e) {
		return err
	}
	return errs.InvalidFields(errs.Merge(e.Fields, check())...)
}

// required returns a FieldError for each named field whose value is empty.
func required(fields ...any) []errs.FieldError {
	var out []errs.FieldError
	for i := 0; i+1 < len(fields); i += 2 {
		name, _ := fields[i].(string)
		empty := false
		switch v := fields[i+1].(type) {
		case string:
			empty = strings.TrimSpace(v) == ""
		case nil:
			empty = true
		}
		if empty {
			out = append(out, errs.Field(name, errs.FieldRequired))
		}
	}
	return out
}

func encodeJSON(w io.Writer, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}

type jsonRender struct{ v any }

func (r jsonRender) Render(w http.ResponseWriter) error {
	r.WriteContentType(w)
	return encodeJSON(w, r.v)
}

// jsonContentType is the Content-Type of every JSON answer but problems.
const jsonContentType = "application/json; charset=utf-8"

func (r jsonRender) WriteContentType(w http.ResponseWriter) {
	w.Header().Set("Content-Type", jsonContentType)
}

// reply writes v as JSON with the status.
func reply(c *gin.Context, status int, v any) {
	c.Render(status, jsonRender{v})
}
