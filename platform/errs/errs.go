// Package errs owns procfin's one error type. Business packages return an
// *Error with a stable Code and a message that is safe to show a client;
// Status and Title are the one table of each code's HTTP status and
// summary, which the API (package handlers, as RFC 9457 problems) and the
// web pages both answer with. Anything that is not an *Error is an
// internal error: it is logged once, and the client sees only "internal".
package errs

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
)

// Code is a stable, machine-readable error code. Clients switch on it (it is
// the problem "type"), so a code, once published, never changes meaning.
type Code string

// The codes. Each maps to exactly one HTTP status (Status).
const (
	Invalid              Code = "invalid"                 // input well-formed but not acceptable (422)
	MalformedRequest     Code = "malformed_request"       // body is not the JSON asked for (400)
	UnsupportedMedia     Code = "unsupported_media_type"  // wrong Content-Type (415)
	BodyTooLarge         Code = "body_too_large"          // request body over the limit (413)
	NotFound             Code = "not_found"               // no such resource, or not the caller's (404)
	MethodNotAllowed     Code = "method_not_allowed"      // route exists, method does not (405)
	Conflict             Code = "conflict"                // clashes with current state (409)
	IdempotencyReused    Code = "idempotency_key_reused"  // same key, different request (409)
	IdempotencyPending   Code = "idempotency_in_progress" // same key still running (409)
	Unauthorized         Code = "unauthorized"            // missing or bad credentials (401)
	InvalidToken         Code = "token_invalid"           // bearer token rejected (401)
	SignatureInvalid     Code = "signature_invalid"       // signed message rejected (401)
	Forbidden            Code = "forbidden"               // authenticated, not allowed (403)
	RateLimited          Code = "rate_limited"            // too many attempts (429)
	Unavailable          Code = "unavailable"             // a dependency is down; retry (503)
	Internal             Code = "internal"                // a bug or an unexpected failure (500)
	InvalidTransition    Code = "invalid_transition"      // state machine refuses the change (409)
	EventConflict        Code = "event_conflict"          // event id seen with another body (409)
	VerificationFailed   Code = "verification_failed"     // a verification check failed (422)
	InvalidFigures       Code = "invalid_figures"         // a bank's figures cannot be true (422)
	ConsentInUse         Code = "consent_in_use"          // a live loan needs the data the consent covers (409)
	ConsentExpired       Code = "consent_expired"         // the consent to send the data has expired (409)
	ConfirmationMismatch Code = "confirmation_mismatch"   // a purchaser's confirmation does not fit the financing (422)
	OfferExpired         Code = "offer_expired"           // the offer's valid_until has passed (409)
)

// table is the one mapping of codes to HTTP statuses and titles.
var table = map[Code]struct {
	status int
	title  string
}{
	Invalid:              {http.StatusUnprocessableEntity, "Invalid input"},
	VerificationFailed:   {http.StatusUnprocessableEntity, "Verification failed"},
	InvalidFigures:       {http.StatusUnprocessableEntity, "Invalid figures"},
	ConsentInUse:         {http.StatusConflict, "Consent in use"},
	ConsentExpired:       {http.StatusConflict, "Consent expired"},
	ConfirmationMismatch: {http.StatusUnprocessableEntity, "Confirmation mismatch"},
	OfferExpired:         {http.StatusConflict, "Offer expired"},
	MalformedRequest:     {http.StatusBadRequest, "Malformed request"},
	UnsupportedMedia:     {http.StatusUnsupportedMediaType, "Unsupported media type"},
	BodyTooLarge:         {http.StatusRequestEntityTooLarge, "Request body too large"},
	NotFound:             {http.StatusNotFound, "Not found"},
	MethodNotAllowed:     {http.StatusMethodNotAllowed, "Method not allowed"},
	Conflict:             {http.StatusConflict, "Conflict"},
	IdempotencyReused:    {http.StatusConflict, "Idempotency key reused"},
	IdempotencyPending:   {http.StatusConflict, "Request in progress"},
	InvalidTransition:    {http.StatusConflict, "Invalid transition"},
	EventConflict:        {http.StatusConflict, "Event conflict"},
	Unauthorized:         {http.StatusUnauthorized, "Unauthorized"},
	InvalidToken:         {http.StatusUnauthorized, "Invalid token"},
	SignatureInvalid:     {http.StatusUnauthorized, "Invalid signature"},
	Forbidden:            {http.StatusForbidden, "Forbidden"},
	RateLimited:          {http.StatusTooManyRequests, "Too many requests"},
	Unavailable:          {http.StatusServiceUnavailable, "Service unavailable"},
	Internal:             {http.StatusInternalServerError, "Internal error"},
}

// Status is the HTTP status of code, for the API and the web pages alike;
// 500 for a code not in the table.
func Status(code Code) int {
	if t, ok := table[code]; ok {
		return t.status
	}
	return http.StatusInternalServerError
}

// Title is code's short, fixed summary; "" for a code not in the table.
func Title(code Code) string { return table[code].title }

// Codes are the codes of the table, sorted.
func Codes() []Code { return slices.Sorted(maps.Keys(table)) }

// StatusOf is the HTTP status of err: that of its code (CodeOf).
func StatusOf(err error) int { return Status(CodeOf(err)) }

// FieldError names one problem with one input field: its kind (Code, one
// of the table in fields.go or a part's own) and the kind's one message
// with Args, which pages word again from the catalogue.
type FieldError struct {
	Field   string `json:"field"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Args    []any  `json:"-"`
}

// Error is the one error type of procfin.
type Error struct {
	Code    Code
	Message string         // safe to show to the client
	Fields  []FieldError   // per-field details, for Invalid
	Extra   map[string]any // extra problem members (e.g. a verification report)
	Err     error          // the cause, for logs only; never shown
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// E returns an *Error with the code and a formatted message.
func E(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an *Error that keeps err as its (never shown) cause.
func Wrap(code Code, err error, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Err: err}
}

// InvalidFields returns an Invalid error listing the field problems, each
// of a kind in the table worded by it.
func InvalidFields(fields ...FieldError) *Error {
	for i := range fields {
		fields[i] = fields[i].normalise()
	}
	msg := "the request has invalid fields"
	if len(fields) == 1 {
		msg = fields[0].Field + ": " + fields[0].Message
	}
	return &Error{Code: Invalid, Message: msg, Fields: fields}
}

// CodeOf returns the code of err: the Code of the first *Error in its chain,
// or Internal.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// Is reports whether err carries the code.
func Is(err error, code Code) bool {
	return err != nil && CodeOf(err) == code
}

// MessageOf returns the message of err that is safe to show: the Message of
// an *Error, else a generic text (the cause stays in logs).
func MessageOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "an unexpected error occurred"
}
