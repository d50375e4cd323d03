package contracts

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"procfin/platform/errs"
)

// The standard's own example (GB 32100-2015).
const exampleUSCC = "91350100M000100Y43"

// Valid codes worked by hand, so that the check arithmetic is not tested
// against itself. GB 32100 values: 0-9, A10 B11 C12 D13 E14 F15 G16 H17 J18
// K19 L20 M21 N22 P23 Q24 R25 T26 U27 W28 X29 Y30. GB 11714 values letters
// A=10 … Z=35 (so M=22, K=20, P=25, Y=34).
var handWorkedUSCCs = []string{
	// Org code M000100Y?: 22·3 + 1·5 + 34·2 = 139; 139 mod 11 = 7; 11-7 = 4.
	// USCC: 9·1 + 1·3 + 3·9 + 5·27 + 1·26 + 21·20 + 1·8 + 30·30 + 4·28 =
	// 1640; 1640 mod 31 = 28; 31-28 = 3.
	exampleUSCC,
	// Org code MA01K3P2?: 22·3 + 10·7 + 1·10 + 20·5 + 3·8 + 25·4 + 2·2 = 374;
	// 374 mod 11 = 0; 11-0 = 11 → '0'.
	// USCC: 9·1 + 1·3 + 1·9 + 1·27 + 1·26 + 8·17 + 21·20 + 10·29 + 1·13 +
	// 19·8 + 3·24 + 23·10 + 2·30 + 0·28 = 1447; 1447 mod 31 = 21; 31-21 =
	// 10 → 'A'.
	"91110108MA01K3P20A",
	// Org code 3A5B7C99?: 3·3 + 10·7 + 5·9 + 11·10 + 7·5 + 12·8 + 9·4 + 9·2
	// = 419; 419 mod 11 = 1; 11-1 = 10 → 'X'.
	// USCC: 9·1 + 1·3 + 4·9 + 4·27 + 3·26 + 3·20 + 10·29 + 5·25 + 11·13 +
	// 7·8 + 12·24 + 9·10 + 9·30 + 29·28 = 2368; 2368 mod 31 = 12; 31-12 =
	// 19 → 'K'.
	"914403003A5B7C99XK",
	// Org code 40000012?: 4·3 + 1·4 + 2·2 = 20; 20 mod 11 = 9; 11-9 = 2.
	// USCC: 1·1 + 2·3 + 1·9 + 1·26 + 4·20 + 1·10 + 2·30 + 2·28 = 248;
	// 248 mod 31 = 0; 31-0 = 31 → '0'.
	"121001004000001220",
}

func TestParseUSCC(t *testing.T) {
	t.Parallel()
	for _, code := range handWorkedUSCCs {
		t.Run(code, func(t *testing.T) {
			got, err := ParseUSCC(code)
			if err != nil {
				t.Fatalf("ParseUSCC(%q): %v", code, err)
			}
			if got != USCC(code) || got.String() != code {
				t.Errorf("ParseUSCC(%q) = %q", code, got)
			}
		})
	}
	t.Run("LowerCaseUpperCased", func(t *testing.T) {
		for _, in := range []string{"91350100m000100y43", "91110108ma01k3p20a", "914403003a5B7c99xk"} {
			got, err := ParseUSCC(in)
			if err != nil {
				t.Fatalf("ParseUSCC(%q): %v", in, err)
			}
			if want := USCC(strings.ToUpper(in)); got != want {
				t.Errorf("ParseUSCC(%q) = %q, want %q", in, got, want)
			}
		}
	})
}

func TestParseUSCCErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		in    string
		codes []string // field error codes, in order
	}{
		{"Empty", "", []string{"required"}},
		{"TooShort", "91350100M000100Y4", []string{"uscc_length"}},
		{"TooLong", "91350100M000100Y433", []string{"uscc_length"}},
		{"Seventeen", "9135010M000100Y43", []string{"uscc_length"}},
		{"LetterI", "91350100M000100I43", []string{"uscc_character"}},
		{"LetterO", "91350100MO00100Y43", []string{"uscc_character"}},
		{"LetterS", "S1350100M000100Y43", []string{"uscc_character"}},
		{"LetterV", "91350100M000100V43", []string{"uscc_character"}},
		{"LetterZ", "9Z350100M000100Y43", []string{"uscc_character"}},
		{"LowerI", "91350100m000100i43", []string{"uscc_character"}},
		{"Hyphen", "91350100-M000100Y4", []string{"uscc_character"}},
		{"HyphenAdded", "91350100-M000100Y43", []string{"uscc_character", "uscc_length"}},
		{"SpaceInside", "91350100 M000100Y43", []string{"uscc_character", "uscc_length"}},
		{"LeadingSpace", " 91350100M000100Y43", []string{"uscc_character", "uscc_length"}},
		{"TrailingNewline", "91350100M000100Y43\n", []string{"uscc_character", "uscc_length"}},
		{"FullWidthDigit", "９1350100M000100Y43", []string{"uscc_character"}},
		{"Chinese", "统一社会信用代码", []string{"uscc_character", "uscc_length"}},
		{"InvalidUTF8", "91350100M000100Y4\xff", []string{"uscc_character"}},
		{"DivisionLetter", "9135A100M000100Y43", []string{"uscc_division"}},
		{"DivisionLetterAt8", "9135010AM000100Y43", []string{"uscc_division"}},
		{"DivisionLetterAt3", "91A50100M000100Y43", []string{"uscc_division"}},
		{"Checksum", "91350100M000100Y44", []string{"uscc_checksum"}},
		{"ChecksumZeroCase", "12100100400000122A", []string{"uscc_checksum"}},
		// A wrong organisation check character breaks both checks ...
		{"BothChecksums", "91350100M000100Y53", []string{"uscc_org_checksum", "uscc_checksum"}},
		// ... unless the USCC check character is recomputed to match it.
		{"OrgChecksum", orgOnlyFailure, []string{"uscc_org_checksum"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseUSCC(tc.in)
			if err == nil {
				t.Fatalf("ParseUSCC(%q) = %q, want an error", tc.in, got)
			}
			if got != "" {
				t.Errorf("ParseUSCC(%q) returned %q with its error", tc.in, got)
			}
			var e *errs.Error
			if !errors.As(err, &e) || e.Code != errs.Invalid {
				t.Fatalf("ParseUSCC(%q) error %v is not an invalid *errs.Error", tc.in, err)
			}
			var codes []string
			for _, f := range e.Fields {
				if f.Field != "uscc" {
					t.Errorf("field %q, want uscc", f.Field)
				}
				if f.Message == "" {
					t.Errorf("code %s has no message", f.Code)
				}
				codes = append(codes, f.Code)
			}
			if diff := cmp.Diff(tc.codes, codes); diff != "" {
				t.Errorf("ParseUSCC(%q) codes (-want +got):\n%s\n%v", tc.in, diff, e.Fields)
			}
		})
	}
}

// orgOnlyFailure has a right USCC check character but a wrong organisation
// code check character: 91350100M000100Y43 with position 17 '4' → '5' adds
// 1·28 to the USCC sum: 1668; 1668 mod 31 = 25; 31-25 = 6. The organisation
// code M000100Y5 still wants '4'.
const orgOnlyFailure = "91350100M000100Y56"

func TestParseUSCCMessages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
	}{
		{"91350I00M000100Y43", "uscc: character 6 ('I') is not allowed: GB 32100 codes never use I, O, S, V or Z"},
		{"91350100M000100Y44", "uscc: check character is '4' but the code's characters give '3'"},
		{"91350100M000100Y56", "uscc: the organisation code M000100Y5 has check character '5' but its characters give '4'"},
		{"9135A100M000100Y43", "uscc: character 5 ('A') must be a digit: characters 3 to 8 are the administrative division code"},
		{"9135010", "uscc: must be 18 characters; got 7"},
		{"91350100-M000100Y4", "uscc: character 9 ('-') is not allowed: write the code without spaces or hyphens"},
		{"9135010０M000100Y43", "uscc: character 8 ('０') is not allowed: codes use only digits and the capital letters ABCDEFGHJKLMNPQRTUWXY"},
	}
	for _, tc := range tests {
		_, err := ParseUSCC(tc.in)
		var e *errs.Error
		if !errors.As(err, &e) {
			t.Fatalf("ParseUSCC(%q) = %v, want *errs.Error", tc.in, err)
		}
		if e.Message != tc.want {
			t.Errorf("ParseUSCC(%q) message\n got %s\nwant %s", tc.in, e.Message, tc.want)
		}
	}
	_, err := ParseUSCC("9135010 M000100Y43x")
	var e *errs.Error
	if !errors.As(err, &e) || len(e.Fields) != 2 ||
		e.Fields[0].Message != "character 8 (' ') is not allowed: write the code without spaces or hyphens" {
		t.Errorf("two faults: %#v", err)
	}
	_, err = ParseUSCC("9I35O100M000100Y43")
	if !errors.As(err, &e) || !strings.HasSuffix(e.Fields[0].Message, "; 1 more character is outside the alphabet") {
		t.Errorf("two bad characters: %v", err)
	}
}

// Every change of one character in positions 1-18 of a valid code to
// another character is caught: the GB 32100 weights are all non-zero modulo
// the prime 31.
func TestParseUSCCSingleSubstitution(t *testing.T) {
	t.Parallel()
	const others = usccAlphabet + "IOSVZ -a"
	for _, valid := range handWorkedUSCCs {
		for i := range len(valid) {
			for _, c := range others {
				if byte(c) == valid[i] || (c == 'a' && valid[i] == 'A') {
					continue
				}
				in := valid[:i] + string(c) + valid[i+1:]
				if got, err := ParseUSCC(in); err == nil {
					t.Errorf("ParseUSCC(%q) = %q, want an error (position %d of %s)", in, got, i+1, valid)
				} else if !errs.Is(err, errs.Invalid) {
					t.Errorf("ParseUSCC(%q) = %v, want invalid", in, err)
				}
			}
		}
	}
}

func TestUSCCChecksumOnly(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want bool
	}{
		{"91350100M000100Y44", true},  // USCC check
		{orgOnlyFailure, true},        // organisation check
		{"91350100M000100Y53", true},  // both
		{"91350100M000100Y4", false},  // length
		{"91350100M000100I43", false}, // character
		{"9135A100M000100Y43", false}, // division
		{"", false},
	}
	for _, tc := range tests {
		_, err := ParseUSCC(tc.in)
		if got := USCCChecksumOnly(err); got != tc.want {
			t.Errorf("USCCChecksumOnly(ParseUSCC(%q)) = %v, want %v (%v)", tc.in, got, tc.want, err)
		}
		code, err := ParseUSCCAllowChecksum(strings.ToLower(tc.in))
		switch {
		case tc.want && (err != nil || code != USCC(tc.in)):
			t.Errorf("ParseUSCCAllowChecksum(%q) = %q, %v; want %q", tc.in, code, err, tc.in)
		case !tc.want && (err == nil || code != ""):
			t.Errorf("ParseUSCCAllowChecksum(%q) = %q, %v; want an error", tc.in, code, err)
		}
	}
	if code, err := ParseUSCCAllowChecksum(exampleUSCC); err != nil || code != exampleUSCC {
		t.Errorf("ParseUSCCAllowChecksum(valid) = %q, %v", code, err)
	}
	for _, err := range []error{nil, errors.New("boom"), errs.E(errs.Invalid, "no fields"),
		errs.InvalidFields(errs.FieldError{Field: "name", Code: "uscc_checksum"}),
		errs.E(errs.Conflict, "x")} {
		if USCCChecksumOnly(err) {
			t.Errorf("USCCChecksumOnly(%v) = true", err)
		}
	}
}

// Property: a random well-formed 17-character prefix (digits at 3-8, a valid
// organisation code) plus its check character is accepted, and no other 18th
// character is. Generation uses the package's check functions; what is
// checked is the round trip and that exactly one check character fits.
func TestParseUSCCCheckCharacterProperty(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(32100, 11714))
	pick := func(set string) byte { return set[rng.IntN(len(set))] }
	for range 2000 {
		var b []byte
		b = append(b, pick(usccAlphabet), pick(usccAlphabet))
		for range 6 {
			b = append(b, pick("0123456789"))
		}
		for range 8 {
			b = append(b, pick(usccAlphabet))
		}
		b = append(b, orgCheckChar(string(b[8:16])))
		prefix := string(b)
		code := prefix + string(usccCheckChar(prefix))
		if got, err := ParseUSCC(code); err != nil || got != USCC(code) {
			t.Fatalf("ParseUSCC(%q) = %q, %v", code, got, err)
		}
		for i := range len(usccAlphabet) {
			c := usccAlphabet[i]
			if c == code[17] {
				continue
			}
			in := prefix + string(c)
			_, err := ParseUSCC(in)
			var e *errs.Error
			if !errors.As(err, &e) || len(e.Fields) != 1 || e.Fields[0].Code != "uscc_checksum" {
				t.Fatalf("ParseUSCC(%q) = %v, want only uscc_checksum", in, err)
			}
		}
	}
}

func FuzzParseUSCC(f *testing.F) {
	seeds := []string{"", "91350100m000100y43", "91350100-M000100Y43",
		"91350100M000100I43", "9135A100M000100Y43", "91350100M000100Y44", "91350100M000100Y56",
		" 91350100M000100Y43", "统一社会信用代码", "\xff\xfe"}
	for _, s := range append(seeds, handWorkedUSCCs...) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseUSCC(s)
		if err != nil {
			var e *errs.Error
			if !errors.As(err, &e) || e.Code != errs.Invalid || len(e.Fields) == 0 {
				t.Fatalf("ParseUSCC(%q) error %#v is not invalid with fields", s, err)
			}
			if got != "" {
				t.Fatalf("ParseUSCC(%q) = %q with an error", s, got)
			}
			lenient, lerr := ParseUSCCAllowChecksum(s)
			if USCCChecksumOnly(err) != (lerr == nil) {
				t.Fatalf("ParseUSCCAllowChecksum(%q) = %q, %v; ParseUSCC said %v", s, lenient, lerr, err)
			}
			return
		}
		if len(got) != 18 {
			t.Fatalf("ParseUSCC(%q) = %q: %d bytes", s, got, len(got))
		}
		for i := range len(got) {
			if !strings.Contains(usccAlphabet, string(got[i:i+1])) {
				t.Fatalf("ParseUSCC(%q) = %q: %q outside the alphabet", s, got, got[i])
			}
		}
		if !strings.EqualFold(s, string(got)) || len(s) != 18 {
			t.Fatalf("ParseUSCC(%q) = %q is not the input upper-cased", s, got)
		}
		again, err := ParseUSCC(string(got))
		if err != nil || again != got {
			t.Fatalf("re-parse of %q = %q, %v", got, again, err)
		}
		if lenient, err := ParseUSCCAllowChecksum(s); err != nil || lenient != got {
			t.Fatalf("ParseUSCCAllowChecksum(%q) = %q, %v", s, lenient, err)
		}
	})
}
