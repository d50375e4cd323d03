package ocds

import (
	"bytes"
	"io"
	"strings"
	"unicode/utf8"

	"procfin/platform/errs"
)

type charsetMode int

const (
	modeAuto charsetMode = iota
	modeUTF8
	modeLatin1
)

func parseCharset(s string) (charsetMode, error) {
	k := strings.NewReplacer("-", "", "_", "", " ", "").Replace(strings.ToLower(s))
	switch k {
	case "":
		return modeAuto, nil
	case "utf8":
		return modeUTF8, nil
	case "iso88591", "latin1", "l1":
		return modeLatin1, nil
	}
	return 0, errs.E(errs.Invalid, "unsupported charset %q: use UTF-8 or ISO-8859-1", s)
}

const (
	chunkSize = 32 << 10
	lookahead = 4 << 10 // bytes from the first non-ASCII byte that decide the charset
)

// charsetReader turns its source into UTF-8 as the package doc describes.
type charsetReader struct {
	src     io.Reader
	mode    charsetMode
	in      []byte // bytes read, not yet converted (at most an incomplete sequence between calls)
	out     []byte // converted bytes, not yet returned
	off     int64  // source offset of in[0]
	started bool   // the BOM check is done
	eof     bool
	srcErr  error // a read error of the source, returned once out is drained
	err     error // a decoding error, returned once out is drained
	empty   int   // successive reads of the source that gave nothing
}

func newCharsetReader(r io.Reader, mode charsetMode) *charsetReader {
	return &charsetReader{src: r, mode: mode}
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
		if len(c.in) < 3 && !c.done() && bytes.HasPrefix([]byte{0xEF, 0xBB, 0xBF}, c.in) {
			return // could still be a BOM: read more
		}
		c.started = true
		if bytes.HasPrefix(c.in, []byte{0xEF, 0xBB, 0xBF}) {
			c.in = c.in[3:]
			c.off += 3
			if c.mode == modeAuto {
				c.mode = modeUTF8
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
		if utf8.Valid(rest[:end]) {
			c.mode = modeUTF8
		} else {
			c.mode = modeLatin1
		}
	}
	switch c.mode {
	case modeLatin1:
		for _, b := range c.in {
			if b < utf8.RuneSelf {
				c.out = append(c.out, b)
			} else {
				c.out = utf8.AppendRune(c.out, rune(b))
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
				c.err = errs.E(errs.Invalid, "the file is not valid UTF-8 at byte offset %d (a file in ISO-8859-1 needs the charset given explicitly when its first non-ASCII text is valid UTF-8)", c.off)
				return
			}
			i += size
		}
		c.emit(i)
	}
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
