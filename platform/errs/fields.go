package errs

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// The kinds of field problem (FieldError.Code) that any route may report.
// Each has one English message in fieldKinds, and the catalogue
// (platform/i18n, key "fe."+code) words it for the pages, with the same
// arguments. A part with problems of its own (the USCC's checks in
// package contracts) keeps its own codes and words.
const (
	FieldRequired       = "required"        // missing or empty
	FieldWrongType      = "wrong_type"      // a JSON value of another type (arg: the type wanted)
	FieldUnknown        = "unknown_field"   // not a field of the request
	FieldInvalidAmount  = "invalid_amount"  // not a decimal amount to the 分
	FieldTooLarge       = "too_large"       // above a maximum (arg: the maximum)
	FieldNotPositive    = "not_positive"    // zero or below where more is needed
	FieldNegative       = "negative"        // below zero
	FieldZero           = "zero"            // zero where something is needed
	FieldInvalidRate    = "invalid_rate"    // not a rate from 0 to 1
	FieldInvalidDate    = "invalid_date"    // not a date YYYY-MM-DD
	FieldInvalidInstant = "invalid_instant" // not an RFC 3339 instant
	FieldTooLong        = "too_long"        // over a length in bytes (arg: the limit)
	FieldTooLongChars   = "too_long_chars"  // over a length in characters (arg: the limit)
	FieldTooShort       = "too_short"       // under a length in characters (arg: the limit)
	FieldTooMany        = "too_many"        // a list over its length (arg: the limit)
	FieldInvalidText    = "invalid_text"    // not valid UTF-8, or holds NUL or controls
	FieldOutOfRange     = "out_of_range"    // outside a range (args: lowest, highest)
	FieldOneOf          = "one_of"          // not one of a fixed set (arg: the set)
	FieldInvalidFormat  = "invalid_format"  // not in the format the field takes
	FieldNotFound       = "unknown"         // names something that does not exist, or is not the caller's
	FieldInvalid        = "invalid"         // not acceptable otherwise
	FieldNotAllowed     = "not_allowed"     // must not be given here
	FieldNotFuture      = "not_future"      // must be in the future
	FieldInFuture       = "in_future"       // must not be in the future (arg: the latest day)
	FieldTooLate        = "too_late"        // after the latest allowed (arg: the latest)
	FieldBeforeStart    = "before_start"    // ends before it starts
	FieldWholeNumber    = "whole_number"    // not a whole number
)

// fieldKinds is the one table of field-problem kinds: code → English
// message (a format taking the kind's arguments).
var fieldKinds = map[string]string{
	FieldRequired:       "is required",
	FieldWrongType:      "must be a JSON %s",
	FieldUnknown:        "is not a field of this request",
	FieldInvalidAmount:  `must be an amount with at most two decimal places, as a string such as "1200.00"`,
	FieldTooLarge:       "is above the maximum of %s",
	FieldNotPositive:    "must be above zero",
	FieldNegative:       "must not be negative",
	FieldZero:           "must not be zero",
	FieldInvalidRate:    `must be a rate from 0 to 1 with at most six decimal places, as a string such as "0.0345"`,
	FieldInvalidDate:    "must be a date YYYY-MM-DD",
	FieldInvalidInstant: "must be an RFC 3339 instant, such as 2026-12-08T18:00:00+08:00",
	FieldTooLong:        "is longer than %d bytes",
	FieldTooLongChars:   "is longer than %d characters",
	FieldTooShort:       "is shorter than %d characters",
	FieldTooMany:        "names more than %d",
	FieldInvalidText:    "must be text: valid UTF-8 without NUL or control characters",
	FieldOutOfRange:     "must be from %v to %v",
	FieldOneOf:          "must be one of: %s",
	FieldInvalidFormat:  "is not in the format this field takes",
	FieldNotFound:       "does not exist, or is not yours",
	FieldInvalid:        "is not valid",
	FieldNotAllowed:     "must not be given here",
	FieldNotFuture:      "must be in the future",
	FieldInFuture:       "must be no later than %s",
	FieldTooLate:        "must be no later than %s",
	FieldBeforeStart:    "ends before it starts",
	FieldWholeNumber:    "must be a whole number",
}

// Field is the problem of kind code with field, worded by the one table
// with args (the catalogue words it for pages with the same args). A code
// not in the table keeps args[0], if a string, as its message.
func Field(field, code string, args ...any) FieldError {
	return FieldError{Field: field, Code: code, Message: FieldMessage(code, args...), Args: args}
}

// FieldMessage is the English message of kind code with args.
func FieldMessage(code string, args ...any) string {
	format, ok := fieldKinds[code]
	if !ok {
		if len(args) > 0 {
			if s, ok := args[0].(string); ok {
				return s
			}
		}
		return "is not valid"
	}
	if len(args) == 0 {
		return format
	}
	return fmt.Sprintf(format, args...)
}

// FieldCodes are the kinds of the one table, sorted.
func FieldCodes() []string { return slices.Sorted(maps.Keys(fieldKinds)) }

// FieldArgs is the number of arguments kind code's message takes; -1 for a
// code not in the table.
func FieldArgs(code string) int {
	format, ok := fieldKinds[code]
	if !ok {
		return -1
	}
	return strings.Count(format, "%") - 2*strings.Count(format, "%%")
}

// normalise gives f the table's message for its kind, where the table
// has the kind and f carries the arguments its message takes: one message
// per kind, whichever package found the problem.
func (f FieldError) normalise() FieldError {
	if n := FieldArgs(f.Code); n >= 0 && n == len(f.Args) {
		f.Message = FieldMessage(f.Code, f.Args...)
	}
	return f
}

// Merge is first with each problem of more whose field first does not
// name already (nor a field within it, nor one it is within): a value that
// could not be read is not also reported missing.
func Merge(first, more []FieldError) []FieldError {
	out := slices.Clone(first)
	for _, m := range more {
		if !slices.ContainsFunc(first, func(f FieldError) bool { return related(f.Field, m.Field) }) {
			out = append(out, m)
		}
	}
	return out
}

// related reports whether a and b are one field, or one is within the
// other (a.b, a[0]).
func related(a, b string) bool {
	if len(a) > len(b) {
		a, b = b, a
	}
	return a == b || strings.HasPrefix(b, a) && (b[len(a)] == '.' || b[len(a)] == '[')
}
