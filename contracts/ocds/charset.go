package ocds

import (
	"bytes"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/simplifiedchinese"

	"procfin/platform/errs"
)

type charsetMode int

const (
	modeAuto charsetMode = iota
	modeUTF8
	modeLatin1
	modeGB18030
)

var charsetNames = map[charsetMode]string{modeUTF8: "UTF-8", modeLatin1: "ISO-8859-1", modeGB18030: "GB18030"}

// CheckCharset says whether Read takes name as Options.Charset: nil, or an
// Invalid error naming the charsets there are.
func CheckCharset(name string) error {
	_, err := parseCharset(name)
	return err
}

// parseCharset reads Options.Charset, case, hyphens, underscores and spaces
// ignored. GBK, CP936 and GB2312 are read as GB18030: every byte sequence
// of theirs means the same in GB18030, which also reads the four-byte
// characters a file labelled GBK often carries (as WHATWG's decoder for
// "gbk" does).
func parseCharset(s string) (charsetMode, error) {
	k := strings.NewReplacer("-", "", "_", "", " ", "").Replace(strings.ToLower(s))
	switch k {
	case "":
		return modeAuto, nil
	case "utf8":
		return modeUTF8, nil
	case "iso88591", "latin1", "l1":
		return modeLatin1, nil
	case "gb18030", "gbk", "cp936", "gb2312":
		return modeGB18030, nil
	}
	return 0, errs.E(errs.Invalid, "unsupported charset %q: use UTF-8, GB18030 (or GBK, GB2312) or ISO-8859-1", s)
}

// boms are the byte order marks skipped at the start of a file: UTF-8's
// whatever the charset, GB18030's (U+FEFF in GB18030) when the charset is
// GB18030 or detected; either decides a detected charset.
var boms = []struct {
	b    []byte
	mode charsetMode
}{{[]byte{0xEF, 0xBB, 0xBF}, modeUTF8}, {[]byte{0x84, 0x31, 0x95, 0x33}, modeGB18030}}

const (
	chunkSize = 32 << 10
	lookahead = 4 << 10 // bytes from the first non-ASCII byte that decide the charset
)

// charsetReader turns its source into UTF-8 as the package doc describes.
type charsetReader struct {
	src     io.Reader
	mode    charsetMode
	gb      *encoding.Decoder // GB18030's decoder (mode GB18030)
	in      []byte            // bytes read, not yet converted (at most an incomplete sequence between calls)
	out     []byte            // converted bytes, not yet returned
	off     int64             // source offset of in[0]
	started bool              // the BOM check is done
	eof     bool
	srcErr  error // a read error of the source, returned once out is drained
	err     error // a decoding error, returned once out is drained
	empty   int   // successive reads of the source that gave nothing
}

func newCharsetReader(r io.Reader, mode charsetMode) *charsetReader {
	return &charsetReader{src: r, mode: mode, gb: simplifiedchinese.GB18030.NewDecoder()}
}

func (c *charsetReader) Read(p []byte) (int, error) {
	for len(c.out) == 0 {
		if c.err != nil {
			return 0, c.err
		}
		if c.srcErr != nil && len(c.in) == 0 {
			return 0, c.srcErr
		}
		if c.eof && len(c.in) == 0 {
			return 0, io.EOF
		}
		c.fill()
		c.convert()
	}
	n := copy(p, c.out)
	c.out = c.out[n:]
	return n, nil
}

func (c *charsetReader) fill() {
	if c.eof || c.srcErr != nil {
		return
	}
	if cap(c.in)-len(c.in) < 1024 {
		nb := make([]byte, len(c.in), len(c.in)+chunkSize)
		copy(nb, c.in)
		c.in = nb
	}
	n, err := c.src.Read(c.in[len(c.in):cap(c.in)])
	c.in = c.in[:len(c.in)+n]
	if n == 0 && err == nil {
		if c.empty++; c.empty >= 100 {
			err = io.ErrNoProgress
		}
	} else {
		c.empty = 0
	}
	switch {
	case err == io.EOF:
		c.eof = true
	case err != nil:
		c.srcErr = err
	}
}

func (c *charsetReader) done() bool { return c.eof || c.srcErr != nil }

func (c *charsetReader) convert() {
	if !c.started {
		for _, bom := range boms {
			if len(c.in) < len(bom.b) && !c.done() && bytes.HasPrefix(bom.b, c.in) {
				return // could still be a BOM: read more
			}
		}
		c.started = true
		for _, bom := range boms {
			if bytes.HasPrefix(c.in, bom.b) && (bom.mode == modeUTF8 || c.mode == modeAuto || c.mode == bom.mode) {
				c.in = c.in[len(bom.b):]
				c.off += int64(len(bom.b))
				if c.mode == modeAuto {
					c.mode = bom.mode
				}
				break
			}
		}
	}
	if c.mode == modeAuto {
		j := 0
		for j < len(c.in) && c.in[j] < utf8.RuneSelf {
			j++
		}
		if j == len(c.in) {
			c.emit(len(c.in))
			return
		}
		rest := c.in[j:]
		if !c.done() && len(rest) < lookahead {
			c.emit(j) // decide on a longer stretch of text
			return
		}
		end := len(rest)
		if !c.done() {
			end = completePrefix(rest)
		}
		switch {
		case utf8.Valid(rest[:end]):
			c.mode = modeUTF8
		case c.looksGB18030(rest, c.done()):
			c.mode = modeGB18030
		default:
			c.mode = modeLatin1
		}
	}
	switch c.mode {
	case modeLatin1:
		for _, b := range c.in {
			if b < utf8.RuneSelf {
				c.out = append(c.out, b)
			} else {
				c.out = utf8.AppendRune(c.out, charmap.ISO8859_1.DecodeByte(b))
			}
		}
		c.off += int64(len(c.in))
		c.in = c.in[:0]
	case modeUTF8:
		i := 0
		for i < len(c.in) {
			if c.in[i] < utf8.RuneSelf {
				i++
				continue
			}
			if !utf8.FullRune(c.in[i:]) && !c.done() {
				break
			}
			r, size := utf8.DecodeRune(c.in[i:])
			if r == utf8.RuneError && size <= 1 {
				c.emit(i)
				c.invalid()
				return
			}
			i += size
		}
		c.emit(i)
	case modeGB18030:
		i := 0
		for i < len(c.in) {
			if c.in[i] < utf8.RuneSelf {
				c.out = append(c.out, c.in[i])
				i++
				continue
			}
			r, size := c.gbRune(c.in[i:], c.done())
			if size == 0 {
				break // an incomplete sequence: read more
			}
			if size < 0 {
				c.off += int64(i)
				c.in = append(c.in[:0], c.in[i:]...)
				c.invalid()
				return
			}
			c.out = utf8.AppendRune(c.out, r)
			i += size
		}
		c.off += int64(i)
		c.in = append(c.in[:0], c.in[i:]...)
	}
}

// invalid is the error of the byte at in[0], where a sequence not in the
// charset starts.
func (c *charsetReader) invalid() {
	hint := ""
	if c.mode == modeUTF8 {
		hint = "; a file in GB18030 or ISO-8859-1 whose first non-ASCII text is valid UTF-8 needs its charset named"
	}
	c.err = errs.E(errs.Invalid, "the file is not valid %s at byte offset %d (0x%02X)%s", charsetNames[c.mode], c.off, c.in[0], hint)
}

// gbFFFD is U+FFFD in GB18030: the one sequence whose character is the
// replacement character the decoder also gives for a sequence it cannot
// read.
var gbFFFD = []byte{0x84, 0x31, 0xA4, 0x37}

// gbRune reads the GB18030 sequence at the start of b (whose first byte is
// not ASCII): its character and length, length 0 when b ends before the
// sequence does and more may come, -1 when the bytes are not GB18030.
func (c *charsetReader) gbRune(b []byte, atEOF bool) (rune, int) {
	size := gbLen(b)
	if size == 0 {
		if atEOF {
			return 0, -1
		}
		return 0, 0
	}
	if size < 0 {
		return 0, -1
	}
	var buf [utf8.UTFMax]byte
	c.gb.Reset()
	n, _, err := c.gb.Transform(buf[:], b[:size], true)
	r, _ := utf8.DecodeRune(buf[:n])
	if err != nil || n == 0 || (r == utf8.RuneError && !bytes.Equal(b[:size], gbFFFD)) {
		return 0, -1
	}
	return r, size
}

// gbLen is the length of the GB18030 sequence at the start of b (its first
// byte not ASCII): 1, 2 or 4; 0 when b ends inside it; -1 when b does not
// start one. 0x80 alone is the euro sign, as in Code Page 936.
func gbLen(b []byte) int {
	c0 := b[0]
	switch {
	case c0 == 0x80:
		return 1
	case c0 == 0xFF:
		return -1
	case len(b) < 2:
		return 0
	}
	switch c1 := b[1]; {
	case 0x40 <= c1 && c1 <= 0x7E, 0x80 <= c1 && c1 <= 0xFE:
		return 2
	case 0x30 <= c1 && c1 <= 0x39:
		if len(b) < 3 {
			return 0
		}
		if b[2] < 0x81 || b[2] == 0xFF {
			return -1
		}
		if len(b) < 4 {
			return 0
		}
		if b[3] < 0x30 || b[3] > 0x39 {
			return -1
		}
		return 4
	}
	return -1
}

// looksGB18030 decides a file whose first non-ASCII text, b, is not UTF-8:
// GB18030 when b reads as GB18030 throughout (a sequence cut by the end of
// b excepted while more may come), has Han characters, and more of its
// two-byte characters end in a byte above 0x7F than below, as Chinese text
// does (GB2312's characters are all such); Latin-1 text puts an ASCII
// letter after an accented one far more often than two accented letters
// together.
func (c *charsetReader) looksGB18030(b []byte, atEOF bool) bool {
	han, high, low := 0, 0, 0
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, size := c.gbRune(b[i:], atEOF)
		if size == 0 {
			break
		}
		if size < 0 {
			return false
		}
		if unicode.Is(unicode.Han, r) {
			han++
		}
		if size == 2 {
			if b[i+1] >= 0x80 {
				high++
			} else {
				low++
			}
		}
		i += size
	}
	return han > 0 && high > low
}

// emit moves in[:n] to out.
func (c *charsetReader) emit(n int) {
	c.out = append(c.out, c.in[:n]...)
	c.in = append(c.in[:0], c.in[n:]...)
	c.off += int64(n)
}

// completePrefix is the length of b without a trailing incomplete UTF-8
// sequence.
func completePrefix(b []byte) int {
	// A sequence is at most 4 bytes: look back at most 3 for its start.
	for k := 1; k <= 3 && k <= len(b); k++ {
		i := len(b) - k
		if utf8.RuneStart(b[i]) {
			if b[i] < utf8.RuneSelf || utf8.FullRune(b[i:]) {
				return len(b)
			}
			return i
		}
	}
	return len(b)
}
