// Package money owns procfin's money, rate and date values: Amount (CNY
// and other currencies, to the 分), Rate (an annual decimal fraction) and
// Date (a calendar date in Asia/Shanghai). They travel in JSON as strings
// ("800000.00", "0.0345", "2026-10-08"), live in PostgreSQL as NUMERIC and
// DATE, and never pass through float64.
package money

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// Amount is a sum of money with at most two decimal places.
type Amount struct{ d decimal.Decimal }

// Zero is no money.
var Zero = Amount{}

// ParseAmount reads a decimal string such as "1200000.00". It refuses
// exponents, signs other than a leading '-', more than two decimal places
// and more than 15 integer digits.
func ParseAmount(s string) (Amount, error) {
	if s == "" || len(s) > 24 || strings.ContainsAny(s, "eE+ _,") || strings.HasPrefix(s, ".") || strings.HasSuffix(s, ".") {
		return Amount{}, fmt.Errorf("not a decimal amount: %q", s)
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return Amount{}, fmt.Errorf("not a decimal amount: %q", s)
	}
	if d.Exponent() < -2 && !d.Equal(d.Round(2)) {
		return Amount{}, fmt.Errorf("more than two decimal places: %q", s)
	}
	if d.Abs().GreaterThanOrEqual(decimal.New(1, 15)) {
		return Amount{}, fmt.Errorf("too large: %q", s)
	}
	return Amount{d.Round(2)}, nil
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
		return valueError[Amount]("amounts are decimal strings such as \"1200.00\"")
	}
	v, err := ParseAmount(s)
	if err != nil {
		return valueError[Amount](err.Error())
	}
	*a = v
	return nil
}

// valueError reports a bad JSON value as a *json.UnmarshalTypeError, which
// encoding/json fills in with the field's name; Value carries the reason.
// Package jsonbody turns it into a field problem.
func valueError[T any](reason string) error {
	return &json.UnmarshalTypeError{Value: reason, Type: reflect.TypeFor[T]()}
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

// ParseRate reads a decimal fraction from 0 to 1 with at most 6 places.
func ParseRate(s string) (Rate, error) {
	if s == "" || len(s) > 12 || strings.ContainsAny(s, "eE+-_ ,") {
		return Rate{}, fmt.Errorf("not a rate: %q", s)
	}
	d, err := decimal.NewFromString(s)
	if err != nil || d.GreaterThan(decimal.NewFromInt(1)) {
		return Rate{}, fmt.Errorf("not a rate from 0 to 1: %q", s)
	}
	if !d.Equal(d.Round(6)) {
		return Rate{}, fmt.Errorf("more than six decimal places: %q", s)
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
		return valueError[Rate]("rates are decimal strings such as \"0.0345\"")
	}
	v, err := ParseRate(s)
	if err != nil {
		return valueError[Rate](err.Error())
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

// ParseDate reads YYYY-MM-DD.
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, fmt.Errorf("not a date YYYY-MM-DD: %q", s)
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
		return valueError[Date]("dates are strings YYYY-MM-DD")
	}
	v, err := ParseDate(s)
	if err != nil {
		return valueError[Date](err.Error())
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
