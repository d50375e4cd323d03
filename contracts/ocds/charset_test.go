package ocds

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/simplifiedchinese"

	"procfin/platform/errs"
)

var update = flag.Bool("update", false, "rewrite testdata/release-package_zh.gb18030.json from its UTF-8 source")

// The GB18030 fixture is its UTF-8 source encoded by x/text's GB18030
// encoder; -update writes it.
func TestGB18030FixtureIsItsSource(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile(filepath.Join("testdata", "release-package_zh.utf8.json"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := simplifiedchinese.GB18030.NewEncoder().Bytes(src)
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Join("testdata", "release-package_zh.gb18030.json")
	if *update {
		if err := os.WriteFile(name, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is not the GB18030 encoding of its UTF-8 source: go test -run TestGB18030FixtureIsItsSource -update", name)
	}
	if utf8.Valid(got) {
		t.Fatal("the fixture is valid UTF-8: it tests nothing")
	}
	// 𠮷 (U+20BB7) is one of GB18030's four-byte sequences: its linear
	// index is 189000 + 0x20BB7 - 0x10000 = 257535 = 20·12600 + 4·1260 +
	// 49·10 + 5, so the bytes are 0x81+20, 0x30+4, 0x81+49, 0x30+5.
	if !bytes.Contains(got, []byte{0x95, 0x34, 0xB2, 0x35}) {
		t.Fatal("the fixture lacks its four-byte character")
	}
}

func gbFixture(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "release-package_zh.gb18030.json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestGB18030(t *testing.T) {
	t.Parallel()
	gb := gbFixture(t)
	utf, err := os.ReadFile(filepath.Join("testdata", "release-package_zh.utf8.json"))
	if err != nil {
		t.Fatal(err)
	}
	fromUTF8, err := Read(bytes.NewReader(utf), Options{ValidUSCC: realUSCC})
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, b *Batch, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(b.Notices) != 2 || len(b.Contracts) != 1 || len(b.Refused) != 0 {
			t.Fatalf("%s: %+v", name, b)
		}
		names := map[string]string{}
		for _, n := range b.Notices {
			names[n.Doc.Supplier.USCC] = n.Doc.Supplier.Name
			if n.Doc.ProjectName != "校园网络升级改造项目" || n.Doc.Purchaser.Name != "山东大学" || n.Doc.Purchaser.ID != "CN-SDGP-370000-SDU" {
				t.Errorf("%s: %+v", name, n.Doc)
			}
		}
		if names[usccA] != "济南泉城软件有限公司（高新区）" || names[usccB] != "山东𠮷祥信息技术有限公司" {
			t.Errorf("%s: suppliers %q", name, names)
		}
		if fmt.Sprint(b) != fmt.Sprint(fromUTF8) {
			t.Errorf("%s: differs from the UTF-8 source's batch\n%v\n%v", name, b, fromUTF8)
		}
	}
	for _, cs := range []string{"", "GB18030", "gbk", "GBK", "cp936", "gb2312", "gb-18030"} {
		b, err := Read(bytes.NewReader(gb), Options{ValidUSCC: realUSCC, Charset: cs})
		check("charset "+cs, b, err)
		b, err = Read(iotest.OneByteReader(bytes.NewReader(gb)), Options{ValidUSCC: realUSCC, Charset: cs})
		check("charset "+cs+", one byte at a time", b, err)
		// With GB18030's byte order mark (U+FEFF: 84 31 95 33), skipped.
		withBOM := append([]byte{0x84, 0x31, 0x95, 0x33}, gb...)
		b, err = Read(iotest.OneByteReader(bytes.NewReader(withBOM)), Options{ValidUSCC: realUSCC, Charset: cs})
		check("charset "+cs+", with a BOM", b, err)
	}
	// Named UTF-8, the file is refused at its first non-ASCII byte.
	first := bytes.IndexFunc(gb, func(r rune) bool { return r >= utf8.RuneSelf || r == utf8.RuneError })
	_, err = Read(bytes.NewReader(gb), Options{Charset: "UTF-8"})
	assertInvalid(t, err, fmt.Sprintf("not valid UTF-8 at byte offset %d", first))
	// Named ISO-8859-1, every byte is a character: no error, and no Chinese.
	b, err := Read(bytes.NewReader(gb), Options{ValidUSCC: realUSCC, Charset: "latin1"})
	if err != nil || len(b.Notices) != 2 || b.Notices[0].Doc.Purchaser.Name == "山东大学" {
		t.Fatalf("latin1: %v %+v", err, b)
	}
}

// chinese is a release package with Chinese names of n bytes or more in
// GB18030, after pad bytes of ASCII.
func chinese(t *testing.T, pad, n int) []byte {
	t.Helper()
	doc := `{"pad": "` + strings.Repeat("x", pad) + `", "releases": [{"ocid": "ocds-zh", "date": "2026-01-01T00:00:00Z",
	  "buyer": {"id": "b", "name": "济南市财政局"},
	  "tender": {"title": "政府采购合同融资", "description": "` + strings.Repeat("山东省济南市历下区泉城路", n/24+1) + `"},
	  "awards": [{"id": "a1", "date": "2026-01-05", "value": {"amount": 1, "currency": "CNY"},
	    "suppliers": [{"name": "泉城软件", "identifier": {"scheme": "CN-USCC", "id": "` + usccA + `"}}]}]}]}`
	b, err := simplifiedchinese.GB18030.NewEncoder().Bytes([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestGB18030Detection(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ pad, n int }{{0, 10}, {0, 3 * lookahead}, {2 * chunkSize, 3 * lookahead}, {lookahead - 5, 2 * lookahead}} {
		gb := chinese(t, tc.pad, tc.n)
		for _, r := range []io.Reader{bytes.NewReader(gb), iotest.OneByteReader(bytes.NewReader(gb)), iotest.HalfReader(bytes.NewReader(gb))} {
			b, err := Read(r, Options{ValidUSCC: realUSCC})
			if err != nil || len(b.Notices) != 1 || b.Notices[0].Doc.Purchaser.Name != "济南市财政局" || b.Notices[0].Doc.Supplier.Name != "泉城软件" {
				t.Fatalf("pad %d n %d: %v %+v", tc.pad, tc.n, err, b)
			}
		}
	}
	// Latin-1 text that GB18030 could also read (í then a, ñ then í: two
	// "characters" 0xED61, 0xF1ED) stays Latin-1: its two-byte pairs mostly
	// end in ASCII.
	l1 := latin1(`{"releases": [{"ocid": "ocds-l", "date": "2026-01-01T00:00:00Z", "buyer": {"id": "b", "name": "Compañía Telefónica"},
	  "awards": [{"id": "a1", "date": "2026-01-05", "value": {"amount": 1, "currency": "MXN"},
	    "suppliers": [{"name": "Secretaría", "identifier": {"scheme": "CN-USCC", "id": "` + usccA + `"}}]}]}]}`)
	b, err := Read(bytes.NewReader(l1), Options{})
	if err != nil || len(b.Notices) != 1 || b.Notices[0].Doc.Purchaser.Name != "Compañía Telefónica" || b.Notices[0].Doc.Supplier.Name != "Secretaría" {
		t.Fatalf("latin1: %v %+v", err, b)
	}
}

func TestGB18030Invalid(t *testing.T) {
	t.Parallel()
	gb := chinese(t, 0, 2*chunkSize)
	// A byte GB18030 has no sequence for, beyond what decides the charset
	// (the first read of at most a chunk): detected as GB18030, then
	// refused there. 0xFF starts no sequence; 0x81 followed by
	// 0x20 is a lead byte without its trail; 0x81 at the very end is cut.
	at := len(gb) - 100
	for _, bad := range [][]byte{{0xFF}, {0x81, 0x20}} {
		data := append(append(append([]byte{}, gb[:at]...), bad...), gb[at:]...)
		for _, cs := range []string{"", "gb18030"} {
			_, err := Read(bytes.NewReader(data), Options{Charset: cs})
			assertInvalid(t, err, fmt.Sprintf("not valid GB18030 at byte offset %d (0x%02X)", at, bad[0]))
		}
	}
	_, err := Read(bytes.NewReader(append([]byte(`{"releases": [], "x": "`), 0x81)), Options{Charset: "gbk"})
	assertInvalid(t, err, "not valid GB18030 at byte offset 23 (0x81)") // len(`{"releases": [], "x": "`) = 23
	// Four bytes of GB18030's form beyond its last character (0xFE 0x39 0xFE 0x39).
	_, err = Read(bytes.NewReader([]byte("{\"x\": \"\xFE\x39\xFE\x39\"}")), Options{Charset: "GB18030"})
	assertInvalid(t, err, "not valid GB18030 at byte offset 7")
	// U+FFFD itself, which the decoder also gives for what it cannot read, is a character.
	b, err := Read(bytes.NewReader([]byte("{\"releases\": [], \"x\": \"\x84\x31\xA4\x37\"}")), Options{Charset: "GB18030"})
	if err != nil || b == nil {
		t.Fatalf("U+FFFD: %v", err)
	}
	// A mistake names the charsets there are.
	_, err = Read(strings.NewReader(`{}`), Options{Charset: "big5"})
	assertInvalid(t, err, "use UTF-8, GB18030 (or GBK, GB2312) or ISO-8859-1")
}

// FuzzCharset: whatever the bytes and the mode, the reader gives valid
// UTF-8 or an Invalid error, the same in one read or a byte at a time, and
// what it gives is x/text's decoding of the input (without a BOM) in the
// named charset, or in the one it detected.
func FuzzCharset(f *testing.F) {
	f.Add([]byte("plain"), uint8(0))
	f.Add([]byte("\xEF\xBB\xBFé"), uint8(0))
	f.Add([]byte("\xC9\xBD\xB6\xAB\xB4\xF3\xD1\xA7"), uint8(0)) // 山东大学
	f.Add([]byte("Compa\xF1\xEDa"), uint8(0))
	f.Add([]byte("\x95\x34\xB2\x35 \x84\x31\xA4\x37 \x80"), uint8(3))
	f.Add([]byte("\xFE\x39\xFE\x39"), uint8(3))
	f.Add([]byte("\x84\x31\x95\x33\xC9\xBD"), uint8(0))
	f.Add([]byte("\x84\x31\x95"), uint8(0))
	f.Add([]byte("\x81"), uint8(3))
	f.Add([]byte("caf\xE9"), uint8(2))
	f.Add([]byte("caf\xC3\xA9"), uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, m uint8) {
		mode := charsetMode(m % 4)
		whole, err := io.ReadAll(newCharsetReader(bytes.NewReader(data), mode))
		bytewise, err2 := io.ReadAll(newCharsetReader(iotest.OneByteReader(bytes.NewReader(data)), mode))
		if (err == nil) != (err2 == nil) || !bytes.Equal(whole, bytewise) {
			t.Fatalf("whole %q %v, byte by byte %q %v", whole, err, bytewise, err2)
		}
		if err != nil {
			var e *errs.Error
			if !errors.As(err, &e) || e.Code != errs.Invalid || !strings.Contains(e.Message, "byte offset") {
				t.Fatalf("error %v", err)
			}
			if err.Error() != err2.Error() {
				t.Fatalf("errors %v and %v", err, err2)
			}
			return
		}
		if !utf8.Valid(whole) {
			t.Fatalf("not UTF-8: %q", whole)
		}
		in, decided := data, mode
		switch {
		case bytes.HasPrefix(data, []byte{0xEF, 0xBB, 0xBF}):
			in = data[3:]
			if mode == modeAuto {
				decided = modeUTF8
			}
		case bytes.HasPrefix(data, []byte{0x84, 0x31, 0x95, 0x33}) && (mode == modeAuto || mode == modeGB18030):
			in, decided = data[4:], modeGB18030
		}
		var want []byte
		switch decided {
		case modeUTF8:
			want = in
		case modeLatin1:
			want, _ = charmap.ISO8859_1.NewDecoder().Bytes(in)
		case modeGB18030:
			want, _ = simplifiedchinese.GB18030.NewDecoder().Bytes(in)
		default:
			latin, _ := charmap.ISO8859_1.NewDecoder().Bytes(in)
			gb, _ := simplifiedchinese.GB18030.NewDecoder().Bytes(in)
			if utf8.Valid(in) {
				want = in
			} else if !bytes.Equal(whole, latin) {
				want = gb
			} else {
				want = latin
			}
		}
		if !bytes.Equal(whole, want) {
			t.Fatalf("got %q, want %q", whole, want)
		}
	})
}
