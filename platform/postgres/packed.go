package postgres

import "github.com/lib/pq"

// Packed is many values of a batch statement sent as one bytea parameter
// with where each starts and how long it is, instead of as a text[] or
// bytea[] parameter. An array parameter travels as text: the driver
// escapes every quote and backslash of its values (and writes bytea as
// hex), and PostgreSQL scans it all back, which for the kilobytes of JSON
// of an application's batch (its verification report, stored answer,
// payload and audit states) cost: PostgreSQL's array_in was 7 % of all
// the CPU under intake load, and the driver's quoting and hex 6 % of
// procfin's (docs/performance-log.md, eighth round). The bytea goes as
// binary (withOneRoundTrip) and each value is a copy of its bytes:
//
//	FROM unnest($1::int[], $2::int[]) WITH ORDINALITY AS v(at, len, i)
//	… substring($3::bytea FROM v.at FOR v.len)                         -- bytea
//	… convert_from(substring($3::bytea FROM v.at FOR v.len), 'UTF8')   -- text, jsonb
//
// with Starts, Lengths and Bytes as $1, $2 and $3.
type Packed struct {
	data      []byte
	at, sizes []int64
}

// Add appends a value.
func (p *Packed) Add(b []byte) {
	p.at, p.sizes = append(p.at, int64(len(p.data))+1), append(p.sizes, int64(len(b)))
	p.data = append(p.data, b...)
}

// AddString appends a value.
func (p *Packed) AddString(s string) {
	p.at, p.sizes = append(p.at, int64(len(p.data))+1), append(p.sizes, int64(len(s)))
	p.data = append(p.data, s...)
}

// Starts is the parameter of where each value starts (from 1, as
// substring counts).
func (p *Packed) Starts() any { return pq.Array(p.at) }

// Lengths is the parameter of each value's length in bytes.
func (p *Packed) Lengths() any { return pq.Array(p.sizes) }

// Bytes is the parameter of the values, one after the other; never NULL.
func (p *Packed) Bytes() any {
	if p.data == nil {
		return []byte{}
	}
	return p.data
}
