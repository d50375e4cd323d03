// Package jsonbody owns the strict decoding of JSON request bodies that
// every parser of outside input uses: unknown fields, trailing data, wrong
// types and syntax errors become client errors (errs codes) naming the
// field or offset; oversize bodies become body_too_large; NUL characters,
// which PostgreSQL text cannot hold, are refused. It never panics.
package jsonbody

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"procfin/platform/errs"
)

// Decode reads one JSON object from body into dst, strictly: unknown
// fields, trailing data, wrong types and syntax errors are errors naming
// the field or offset. Oversize bodies (http.MaxBytesReader) give
// body_too_large. It never panics, whatever the bytes.
func Decode(body io.Reader, dst any) error {
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
	case errors.As(err, &typeErr) && typeErr.Type != nil && typeErr.Type.PkgPath() == "procfin/platform/money":
		// A money value refused by its own parser: Value holds the reason.
		field := typeErr.Field
		if field == "" {
			field = "body"
		}
		return errs.InvalidFields(errs.FieldError{Field: field, Code: "invalid_" + strings.ToLower(typeErr.Type.Name()), Message: typeErr.Value})
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
