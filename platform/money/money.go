// Package money owns procfin's money, rate and date values: Amount (CNY
// and other currencies, to the 分), Rate (an annual decimal fraction) and
// Date (a calendar date in Asia/Shanghai). They travel in JSON as strings
// ("800000.00", "0.0345", "2026-10-08"), live in PostgreSQL as NUMERIC and
// DATE, and never pass through float64.
package money

import (
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"procfin/platform/errs"
)

// Amount is a sum of money with at most two decimal places.
type Amount struct{ d decimal.Decimal }

// Zero is no money.
var Zero = Amount{}

// MaxAmount is the largest amount procfin takes: 15 integer digits.
var MaxAmount = Amount{decimal.New(1, 15).Sub(decimal.New(1, -2))}

// ParseError says why a text is not an amount, rate or date: Code is a
// kind of the one table of field problems (errs: invalid_amount,
// too_large, invalid_rate, invalid_date), Args its message's arguments.
type ParseError struct {
	Code string
	Args []any
	Text string
}

func (e *ParseError) Error() string {
	return errs.FieldMessage(e.Code, e.Args...) + ": " + strconv.Quote(cut(e.Text))
}

// FieldError is the problem of field holding the text.
func (e *ParseError) FieldError(field string) errs.FieldError {
	return errs.Field(field, e.Code, e.Args...)
}

// Problem is the problem of field whose text ParseAmount, ParseRate or
// ParseDate refused with err: its kind and arguments (too_large with
// the maximum), else invalid.
func Problem(field string, err error) errs.FieldError {
	var pe *ParseError
	if errors.As(err, &pe) {
		return pe.FieldError(field)
	}
	return errs.Field(field, errs.FieldInvalid)
}

func cut(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

func amountError(s string) error { return &ParseError{Code: errs.FieldInvalidAmount, Text: s} }

// ParseAmount reads a decimal string such as "1200000.00". It refuses
// exponents, signs other than a leading '-' and more than two decimal
// places (invalid_amount), and more than 15 integer digits (too_large,
// however many digits there are).
func ParseAmount(s string) (Amount, error) {
	if s == "" || strings.ContainsAny(s, "eE+ _,") || strings.HasPrefix(s, ".") || strings.HasSuffix(s, ".") {
		return Amount{}, amountError(s)
	}
	if len(s) > 24 {
		whole, frac, _ := strings.Cut(strings.TrimPrefix(s, "-"), ".")
		if len(whole) > 15 && whole[0] != '0' && digits(whole) && digits(frac) && len(frac) <= 2 {
			return Amount{}, &ParseError{Code: errs.FieldTooLarge, Args: []any{MaxAmount.String()}, Text: s}
		}
		return Amount{}, amountError(s)
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return Amount{}, amountError(s)
	}
	if d.Exponent() < -2 && !d.Equal(d.Round(2)) {
		return Amount{}, amountError(s)
	}
	if d.Abs().GreaterThanOrEqual(decimal.New(1, 15)) {
		return Amount{}, &ParseError{Code: errs.FieldTooLarge, Args: []any{MaxAmount.String()}, Text: s}
	}
	return Amount{d.Round(2)}, nil
}

func digits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// MustAmount is ParseAmount for constants in code and tests.
func MustAmount(s string) Amount {
	a, err := ParseAmount(s)
	if err != nil {
		panic(err)
	}
	return a
}

// AmountFromDecimal rounds d half-up to the 分.
func AmountFromDecimal(d decimal.Decimal) Amount { return Amount{d.Round(2)} }

func (a Amount) Decimal() decimal.Decimal  { return a.d }
func (a Amount) String() string            { return a.d.StringFixed(2) }
func (a Amount) IsZero() bool              { return a.d.IsZero() }
func (a Amount) IsNegative() bool          { return a.d.IsNegative() }
func (a Amount) IsPositive() bool          { return a.d.IsPositive() }
func (a Amount) Add(b Amount) Amount       { return Amount{a.d.Add(b.d)} }
func (a Amount) Sub(b Amount) Amount       { return Amount{a.d.Sub(b.d)} }
func (a Amount) Cmp(b Amount) int          { return a.d.Cmp(b.d) }
func (a Amount) Equal(b Amount) bool       { return a.d.Equal(b.d) }
func (a Amount) GreaterThan(b Amount) bool { return a.d.GreaterThan(b.d) }
func (a Amount) LessThan(b Amount) bool    { return a.d.LessThan(b.d) }

// MarshalText makes an amount a JSON string ("1200.00"). It is MarshalText,
// not MarshalJSON, because encoding/json re-reads and compacts whatever a
// MarshalJSON returns, and amounts are the most marshalled values there
// are (docs/performance-log.md, fifth round).
func (a Amount) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalJSON takes only a JSON string: a number would have passed
// through float64 in many clients already.
func (a *Amount) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return amountError(string(b))
	}
	v, err := ParseAmount(s)
	if err != nil {
		return err
	}
	*a = v
	return nil
}

// Value stores the amount as NUMERIC text.
func (a Amount) Value() (driver.Value, error) { return a.String(), nil }

// Scan reads NUMERIC.
func (a *Amount) Scan(src any) error {
	var d decimal.Decimal
	if err := d.Scan(src); err != nil {
		return err
	}
	a.d = d
	return nil
}

// Rate is an annual rate as a decimal fraction ("0.0345" is 3.45%).
type Rate struct{ d decimal.Decimal }

// ParseRate reads a decimal fraction from 0 to 1 with at most 6 places;
// anything else is invalid_rate.
func ParseRate(s string) (Rate, error) {
	bad := &ParseError{Code: errs.FieldInvalidRate, Text: s}
	if s == "" || len(s) > 12 || strings.ContainsAny(s, "eE+-_ ,") {
		return Rate{}, bad
	}
	d, err := decimal.NewFromString(s)
	if err != nil || d.GreaterThan(decimal.NewFromInt(1)) || !d.Equal(d.Round(6)) {
		return Rate{}, bad
	}
	return Rate{d}, nil
}

// MustRate is ParseRate for constants.
func MustRate(s string) Rate {
	r, err := ParseRate(s)
	if err != nil {
		panic(err)
	}
	return r
}

func (r Rate) Decimal() decimal.Decimal { return r.d }
func (r Rate) String() string           { return r.d.String() }

// MarshalText makes a rate a JSON string ("0.0345"), as Amount's does.
func (r Rate) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

func (r *Rate) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return &ParseError{Code: errs.FieldInvalidRate, Text: string(b)}
	}
	v, err := ParseRate(s)
	if err != nil {
		return err
	}
	*r = v
	return nil
}
func (r Rate) Value() (driver.Value, error) { return r.String(), nil }
func (r *Rate) Scan(src any) error          { return r.d.Scan(src) }

// Shanghai is the time zone of procfin's calendar dates.
var Shanghai = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		return time.FixedZone("CST", 8*3600) // no DST since 1991
	}
	return loc
}()

// Date is a calendar date, YYYY-MM-DD.
type Date struct{ t time.Time } // midnight UTC of that date

// ParseDate reads YYYY-MM-DD; anything else is invalid_date.
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, &ParseError{Code: errs.FieldInvalidDate, Text: s}
	}
	return Date{t}, nil
}

// MustDate is ParseDate for constants.
func MustDate(s string) Date {
	d, err := ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}

// DateOf is the Shanghai calendar date of instant t.
func DateOf(t time.Time) Date {
	y, m, d := t.In(Shanghai).Date()
	return Date{time.Date(y, m, d, 0, 0, 0, 0, time.UTC)}
}

func (d Date) IsZero() bool         { return d.t.IsZero() }
func (d Date) String() string       { return d.t.Format(time.DateOnly) }
func (d Date) Before(o Date) bool   { return d.t.Before(o.t) }
func (d Date) After(o Date) bool    { return d.t.After(o.t) }
func (d Date) Equal(o Date) bool    { return d.t.Equal(o.t) }
func (d Date) AddDays(n int) Date   { return Date{d.t.AddDate(0, 0, n)} }
func (d Date) DaysUntil(o Date) int { return int(o.t.Sub(d.t).Hours() / 24) }
func (d Date) Year() int            { return d.t.Year() }
func (d Date) Time() time.Time      { return d.t }
func (d Date) MarshalJSON() ([]byte, error) {
	if d.IsZero() {
		return []byte("null"), nil
	}
	return []byte(`"` + d.String() + `"`), nil // digits and dashes: nothing to escape
}
func (d *Date) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return &ParseError{Code: errs.FieldInvalidDate, Text: string(b)}
	}
	v, err := ParseDate(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}
func (d Date) Value() (driver.Value, error) {
	if d.IsZero() {
		return nil, nil
	}
	return d.String(), nil
}
func (d *Date) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*d = Date{}
	case time.Time:
		y, m, dd := v.Date()
		*d = Date{time.Date(y, m, dd, 0, 0, 0, 0, time.UTC)}
	case string:
		return d.parseInto(v)
	case []byte:
		return d.parseInto(string(v))
	default:
		return fmt.Errorf("cannot scan %T into Date", src)
	}
	return nil
}
func (d *Date) parseInto(s string) error {
	if len(s) > 10 {
		s = s[:10]
	}
	v, err := ParseDate(s)
	*d = v
	return err
}
