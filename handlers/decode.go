package handlers

import (
	"bytes"
	"encoding/json"
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

// bindJSON checks the Content-Type and decodes the request body into dst.
func bindJSON(c *gin.Context, dst any) error {
	if ct := c.GetHeader("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return errs.E(errs.UnsupportedMedia, "send the body as application/json")
		}
	}
	return decodeJSON(c.Request.Body, dst)
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
			out = append(out, errs.FieldError{Field: name, Code: "required", Message: "is required"})
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
