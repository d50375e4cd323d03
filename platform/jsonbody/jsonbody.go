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
	"io"
	"net/http"

	"procfin/platform/errs"
)

// Decode reads one JSON object from body into dst, strictly: unknown
// fields, trailing data, wrong types and syntax errors are errors naming
// the field or offset. A body that is well-formed JSON but has bad fields
// is invalid naming every one of them (wrong types, unknown fields,
// values their own parsers refuse), and dst then holds every good field,
// a bad one left zero (a pointer nil). Oversize bodies
// (http.MaxBytesReader) give body_too_large. It never panics, whatever
// the bytes.
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
	err = dec.Decode(dst)
	if err != nil && !fieldLevel(err) {
		return decodeError(err)
	}
	end := dec.InputOffset() // the decoder read the value whole, even if it could not fill dst
	var extra json.RawMessage
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return errs.E(errs.MalformedRequest, "the body must hold exactly one JSON value")
	}
	if err == nil {
		return nil
	}
	// A well-formed value with bad fields: find every one, not only the
	// first the decoder met.
	raw := bytes.TrimSpace(b[:end])
	if raw[0] != '{' {
		return errs.E(errs.MalformedRequest, "the body must be a JSON object")
	}
	if fe := Fields(raw, dst, true); len(fe) > 0 {
		return errs.InvalidFields(fe...)
	}
	return errs.InvalidFields(fieldErrorOf(err, "")...)
}

// fieldLevel reports whether err is about a field's value (a wrong type,
// an unknown field, a value its parser refuses) in a well-formed body.
func fieldLevel(err error) bool {
	var (
		syntax   *json.SyntaxError
		tooLarge *http.MaxBytesError
	)
	switch {
	case errors.As(err, &tooLarge), errors.As(err, &syntax),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return false
	}
	return true
}

func decodeError(err error) error {
	var (
		syntax   *json.SyntaxError
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
	}
	return errs.Wrap(errs.MalformedRequest, err, "the body is not the JSON this route takes")
}
