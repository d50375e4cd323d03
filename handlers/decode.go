package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"procfin/platform/errs"
)

// decodeJSON reads one JSON object from body into dst, strictly: unknown
// fields, trailing data, wrong types and syntax errors are errors naming
// the field or offset. Oversize bodies (http.MaxBytesReader) give
// body_too_large. It never panics, whatever the bytes.
func decodeJSON(body io.Reader, dst any) error {
	b, err := io.ReadAll(body)
	if err != nil {
		return decodeError(err)
	}
	// PostgreSQL text cannot hold NUL, and no field of ours needs one.
	if bytes.Contains(b, []byte(`\u0000`)) {
		return errs.E(errs.MalformedRequest, "the body holds a NUL character (\\u0000), which no field accepts")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return decodeError(err)
		}
		return errs.E(errs.MalformedRequest, "the body must hold exactly one JSON value")
	}
	return nil
}

func decodeError(err error) error {
	var (
		syntax   *json.SyntaxError
		typeErr  *json.UnmarshalTypeError
		tooLarge *http.MaxBytesError
	)
	switch {
	case errors.As(err, &tooLarge):
		return errs.E(errs.BodyTooLarge, "the request body is over %d bytes", tooLarge.Limit)
	case errors.Is(err, io.EOF):
		return errs.E(errs.MalformedRequest, "the request body is empty; a JSON object is required")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errs.E(errs.MalformedRequest, "the JSON body ends too early")
	case errors.As(err, &syntax):
		return errs.E(errs.MalformedRequest, "the body is not valid JSON (at byte %d)", syntax.Offset)
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			return errs.E(errs.MalformedRequest, "the body must be a JSON object")
		}
		return errs.InvalidFields(errs.FieldError{Field: field, Code: "wrong_type",
			Message: fmt.Sprintf("must be %s, not %s", jsonKind(typeErr.Type.Kind().String()), typeErr.Value)})
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return errs.InvalidFields(errs.FieldError{Field: name, Code: "unknown", Message: "is not a field of this request"})
	}
	var e *errs.Error
	if errors.As(err, &e) { // from a custom UnmarshalJSON
		return e
	}
	return errs.Wrap(errs.MalformedRequest, err, "the body is not the JSON this route takes")
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64", "float32", "float64":
		return "a number"
	case "bool":
		return "true or false"
	case "slice", "array":
		return "an array"
	default:
		return "an object"
	}
}

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

func (r jsonRender) WriteContentType(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
}

// reply writes v as JSON with the status.
func reply(c *gin.Context, status int, v any) {
	c.Render(status, jsonRender{v})
}
