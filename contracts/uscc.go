package contracts

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"procfin/platform/errs"
)

// USCC is a unified social credit code (统一社会信用代码, GB 32100-2015) in
// its normal form: 18 characters of the GB 32100 alphabet, upper case. Only
// ParseUSCC and ParseUSCCAllowChecksum make one from outside input.
type USCC string

func (u USCC) String() string { return string(u) }

// usccAlphabet lists the GB 32100 characters in value order 0..30; it leaves
// out I, O, S, V and Z, which are too easily misread as 1, 0, 5, U and 2.
const usccAlphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"

const usccLength = 18

// The field and its error codes; clients switch on the codes.
const (
	usccField       = "uscc"
	usccRequired    = "required"
	usccLengthCode  = "uscc_length"
	usccCharacter   = "uscc_character"
	usccDivision    = "uscc_division"
	usccChecksum    = "uscc_checksum"
	usccOrgChecksum = "uscc_org_checksum"
)

// usccWeights weight positions 1-17 for the GB 32100 check character.
var usccWeights = [17]int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}

// orgWeights weight the first eight characters of the organisation code
// (组织机构代码, GB 11714), positions 9-16 of a USCC.
var orgWeights = [8]int{3, 7, 9, 10, 5, 8, 4, 2}

// usccValue is the GB 32100 value of c (0..30), or -1 outside the alphabet.
func usccValue(c byte) int { return strings.IndexByte(usccAlphabet, c) }

// usccCheckChar is the GB 32100 check character of the first 17 characters
// of code, which must all be in the alphabet.
func usccCheckChar(code string) byte {
	sum := 0
	for i, w := range usccWeights {
		sum += usccValue(code[i]) * w
	}
	return usccAlphabet[(31-sum%31)%31]
}

// orgCheckChar is the GB 11714 check character of an organisation code's
// first eight characters (digits and capital letters). GB 11714 values
// letters by their place in the full Latin alphabet (A=10 … Z=35), not by
// the GB 32100 alphabet.
func orgCheckChar(body string) byte {
	sum := 0
	for i, w := range orgWeights {
		c := body[i]
		v := int(c - '0')
		if c >= 'A' && c <= 'Z' {
			v = int(c-'A') + 10
		}
		sum += v * w
	}
	switch c := 11 - sum%11; c {
	case 10:
		return 'X'
	case 11:
		return '0'
	default:
		return byte('0' + c)
	}
}

// ParseUSCC reads a unified social credit code. Lower-case letters are
// upper-cased; anything else outside the GB 32100 alphabet, spaces and
// hyphens included, is refused rather than removed, since a code that needed
// repair is a code someone mistyped. Returns invalid, with one or more field
// errors on "uscc" (codes required, uscc_length, uscc_character,
// uscc_division, uscc_checksum, uscc_org_checksum), if s is not a valid code.
func ParseUSCC(s string) (USCC, error) {
	code, fields := checkUSCC(s)
	if len(fields) > 0 {
		return "", errs.InvalidFields(fields...)
	}
	return code, nil
}

// ParseUSCCAllowChecksum is ParseUSCC for an administrator's override: it
// accepts a code whose only faults are its check characters (the
// administrator has seen the registration and vouches for the code), and
// still refuses a code of the wrong length, with a character outside the
// alphabet or with a non-numeric division. The caller records the
// administrator's reason; ParseUSCC says which check failed.
func ParseUSCCAllowChecksum(s string) (USCC, error) {
	code, fields := checkUSCC(s)
	if len(fields) > 0 && !checksumOnly(fields) {
		return "", errs.InvalidFields(fields...)
	}
	return code, nil
}

// USCCChecksumOnly reports whether err is a USCC parse failure caused only
// by the check characters (uscc_checksum and/or uscc_org_checksum): the one
// kind of failure an administrator may override with a reason.
func USCCChecksumOnly(err error) bool {
	var e *errs.Error
	if !errors.As(err, &e) || e.Code != errs.Invalid {
		return false
	}
	return checksumOnly(e.Fields)
}

func checksumOnly(fields []errs.FieldError) bool {
	if len(fields) == 0 {
		return false
	}
	for _, f := range fields {
		if f.Field != usccField || (f.Code != usccChecksum && f.Code != usccOrgChecksum) {
			return false
		}
	}
	return true
}

// checkUSCC normalises s and returns its faults. The code is returned
// whenever its structure (length, alphabet, division) is sound, even if a
// check character is wrong. Checksums are judged only on a sound structure:
// on anything else they would only add noise.
func checkUSCC(s string) (USCC, []errs.FieldError) {
	if s == "" {
		return "", []errs.FieldError{usccFault(usccRequired, "is required")}
	}
	var (
		fields   []errs.FieldError
		b        strings.Builder
		n        int // characters read
		bad      int // characters outside the alphabet
		firstBad string
	)
	for _, r := range s {
		n++
		if r >= 'a' && r <= 'z' {
			r -= 'a' - 'A'
		}
		if r < utf8.RuneSelf && usccValue(byte(r)) >= 0 {
			b.WriteByte(byte(r))
			continue
		}
		bad++
		if bad == 1 {
			firstBad = describeBadChar(n, r)
		}
	}
	if bad > 0 {
		msg := firstBad
		switch bad {
		case 1:
		case 2:
			msg += "; 1 more character is outside the alphabet"
		default:
			msg += fmt.Sprintf("; %d more characters are outside the alphabet", bad-1)
		}
		fields = append(fields, usccFault(usccCharacter, msg))
	}
	if n != usccLength {
		fields = append(fields, usccFault(usccLengthCode,
			fmt.Sprintf("must be %d characters; got %d", usccLength, n)))
	}
	if len(fields) > 0 {
		return "", fields
	}
	code := b.String()
	for i := 2; i < 8; i++ {
		if c := code[i]; c < '0' || c > '9' {
			return "", []errs.FieldError{usccFault(usccDivision, fmt.Sprintf(
				"character %d (%s) must be a digit: characters 3 to 8 are the administrative division code", i+1, strconv.QuoteRune(rune(c))))}
		}
	}
	if want := orgCheckChar(code[8:16]); code[16] != want {
		fields = append(fields, usccFault(usccOrgChecksum, fmt.Sprintf(
			"the organisation code %s has check character %s but its characters give %s",
			code[8:17], strconv.QuoteRune(rune(code[16])), strconv.QuoteRune(rune(want)))))
	}
	if want := usccCheckChar(code); code[17] != want {
		fields = append(fields, usccFault(usccChecksum, fmt.Sprintf(
			"check character is %s but the code's characters give %s",
			strconv.QuoteRune(rune(code[17])), strconv.QuoteRune(rune(want)))))
	}
	return USCC(code), fields
}

// describeBadChar says why character number pos (1-based) is refused.
func describeBadChar(pos int, r rune) string {
	switch {
	case strings.ContainsRune("IOSVZ", r):
		return fmt.Sprintf("character %d (%s) is not allowed: GB 32100 codes never use I, O, S, V or Z",
			pos, strconv.QuoteRune(r))
	case r == ' ' || r == '-':
		return fmt.Sprintf("character %d (%s) is not allowed: write the code without spaces or hyphens",
			pos, strconv.QuoteRune(r))
	default:
		return fmt.Sprintf("character %d (%s) is not allowed: codes use only digits and the capital letters %s",
			pos, strconv.QuoteRune(r), usccAlphabet[10:])
	}
}

func usccFault(code, msg string) errs.FieldError {
	return errs.FieldError{Field: usccField, Code: code, Message: msg}
}
