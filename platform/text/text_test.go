package text

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestClean(t *testing.T) {
	t.Parallel()
	detail := strings.Repeat("贷款申请被拒绝", 30) // 7 runes × 3 bytes × 30 = 630 bytes
	tests := []struct {
		name string
		in   string
		max  int
		want string
	}{
		{"OK", "REF-1", 64, "REF-1"},
		{"NUL", "REF\x00X", 64, "REFX"},
		{"Controls", "a\x01b\x1bc\x7fd\u0085e", 64, "abcde"},
		{"KeepsTabNewline", "a\tb\nc\r", 64, "a\tb\nc\r"},
		{"InvalidUTF8", "a\xffb\xc3", 64, "a\uFFFDb\uFFFD"},
		// 10 bytes: 6 for "REF-12" would fit, but "REF-123456" is 10 > 8:
		// 8 − 3 (the ellipsis) = 5 bytes kept, "REF-1".
		{"CutASCII", "REF-123456", 8, "REF-1…"},
		// 500 bytes: 497 for the text, down to a character boundary at 495
		// (165 characters of 3 bytes), then "…".
		{"CutChinese", detail, 500, detail[:495] + "…"},
		{"NoBound", detail, 0, detail},
		{"TinyBound", "贷款", 2, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Clean(tt.in, tt.max)
			if got != tt.want {
				t.Errorf("Clean(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
			}
		})
	}
}

func FuzzClean(f *testing.F) {
	f.Add("REF\x00X", 10)
	f.Add(strings.Repeat("贷", 200), 500)
	f.Add("a\xffb", 2)
	f.Fuzz(func(t *testing.T, s string, max int) {
		max %= 2000
		got := Clean(s, max)
		if !utf8.ValidString(got) || strings.ContainsRune(got, 0) || !Valid(got) {
			t.Fatalf("Clean(%q, %d) = %q: not clean", s, max, got)
		}
		if max > 0 && len(got) > max {
			t.Fatalf("Clean(%q, %d) is %d bytes", s, max, len(got))
		}
		if Clean(got, max) != got {
			t.Fatalf("Clean is not idempotent on %q", s)
		}
	})
}
