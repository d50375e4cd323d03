// Package text makes untrusted bytes from outside (banks, issuers, JWKS
// hosts, files) safe to store and show: valid UTF-8, no NUL or other C0
// control characters but tab and newline, and cut to a byte bound on a
// character boundary. Everything procfin keeps of another party's words goes
// through Clean first, so one party's bytes can never make PostgreSQL refuse
// a statement that also carries another party's data.
package text

import (
	"unicode/utf8"
)

// Clean returns s as valid UTF-8 without NUL and other control characters
// (C0 but tab, newline and carriage return, DEL, and C1), each invalid byte
// replaced by U+FFFD, cut to at most max bytes on a character boundary, with
// "…" ending a cut text (the ellipsis counts towards max). max ≤ 0 means no
// bound.
func Clean(s string, max int) string {
	if clean(s) && (max <= 0 || len(s) <= max) {
		return s
	}
	out := make([]byte, 0, min(len(s), boundOr(max, len(s)))+3)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if r == utf8.RuneError && size == 1 {
			r = utf8.RuneError
		} else if dropped(r) {
			continue
		}
		out = utf8.AppendRune(out, r)
	}
	if max > 0 && len(out) > max {
		out = cut(out, max)
	}
	return string(out)
}

// Bytes is Clean for a byte slice.
func Bytes(b []byte, max int) string { return Clean(string(b), max) }

const ellipsis = "…"

// cut shortens b to at most max bytes, ending in "…" when there is room.
func cut(b []byte, max int) []byte {
	room := max
	if max > len(ellipsis) {
		room = max - len(ellipsis)
	}
	for room > 0 && !utf8.RuneStart(b[room]) {
		room--
	}
	b = b[:room]
	if max > len(ellipsis) {
		b = append(b, ellipsis...)
	}
	return b
}

func boundOr(max, n int) int {
	if max <= 0 {
		return n
	}
	return max
}

// dropped reports whether r is a control character Clean removes.
func dropped(r rune) bool {
	switch {
	case r == '\t' || r == '\n' || r == '\r':
		return false
	case r < 0x20, r == 0x7f, r >= 0x80 && r < 0xa0:
		return true
	}
	return false
}

// clean reports whether s is already valid UTF-8 without dropped runes.
func clean(s string) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if dropped(rune(c)) {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || dropped(r) {
			return false
		}
		i += size
	}
	return true
}

// Valid reports whether s is valid UTF-8 without NUL or the other control
// characters Clean removes: what a field must be to be accepted as it is.
func Valid(s string) bool { return clean(s) }
