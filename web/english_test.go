package web

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// allowedLatin are the Latin words a Chinese page may show: product and
// standard names, units and codes a Chinese reader knows as they are.
var allowedLatin = map[string]bool{
	"procfin": true, "lpr": true, "uscc": true, "csv": true, "xlsx": true, "http": true, "https": true,
	"api": true, "json": true, "ocds": true, "jwks": true, "eddsa": true, "es256": true, "ps256": true, "rs256": true,
	"cny": true, "id": true, "ids": true, "ok": true, "url": true, "min": true, "max": true, "p50": true, "p90": true,
	"english": true, "v": true, "k": true, "m": true, "b": true, "pdf": true, "sme": true, "utc": true, "cst": true,
}

// latinToken is a run of characters without spaces that may be a word.
var latinToken = regexp.MustCompile(`[A-Za-z0-9_.:/@#'’&+-]+`)

// plainWord is a token that reads as an English word: letters only, an
// apostrophe inside at most ("supplier's"), not a code (snake_case,
// dotted, hyphenated with digits), not an 8-letter hex id.
var plainWord = regexp.MustCompile(`^[A-Za-z]+(['’][a-z]+)?$`)
var hexID = regexp.MustCompile(`^[0-9a-f]{8}$`)

// englishRuns returns the runs of two or more English words in text that
// are not allowed terms: a sentence left untranslated. Numbers and codes
// between words continue a run; anything else (Chinese, a line break)
// ends it.
func englishRuns(text string) []string {
	var found []string
	for line := range strings.Lines(text) {
		// Split the line at every character that is neither Latin, digit,
		// a code's punctuation nor a sentence's spacing and punctuation.
		var seg strings.Builder
		flush := func() {
			s := seg.String()
			seg.Reset()
			words, run := 0, []string{}
			end := func() {
				if words >= 2 {
					found = append(found, strings.Join(run, " "))
				}
				words, run = 0, run[:0]
			}
			for _, tok := range latinToken.FindAllString(s, -1) {
				tok = strings.Trim(tok, ".:'’-+&#/@")
				switch {
				case tok == "":
				case plainWord.MatchString(tok) && !hexID.MatchString(tok) && !allowedLatin[strings.ToLower(tok)]:
					words++
					run = append(run, tok)
				case plainWord.MatchString(tok): // an allowed term or id: ends nothing, counts nothing
					if words > 0 {
						run = append(run, tok)
					}
				default: // numbers and codes
					if words > 0 {
						run = append(run, tok)
					}
				}
			}
			end()
		}
		for _, r := range line {
			if r < 0x80 {
				seg.WriteRune(r)
				continue
			}
			switch r {
			case '×', '−', '·', '—', '–', '“', '”', '‘', '’', '…', '¥', '%', '≥', '≤', 'Σ':
				seg.WriteRune(r)
			default:
				flush()
			}
		}
		flush()
	}
	return found
}

func TestEnglishRuns(t *testing.T) {
	t.Parallel()
	for text, want := range map[string]int{
		"银行批准 approved 500000.00 at 0.0345":   1, // "approved … at"
		"the application failed verification": 1,
		"提交申请 2026-12-01 HT-JNCG-2026-0815":   0,
		"齐鲁银行 qilu · 91350100M000100Y43":      0,
		"eligible_interest 可贴息利息":             0,
		"一年期 LPR 3.10%":                       0,
		"procfin · English":                   0,
		"materials":                           0,
		"Qilu Bank (sandbox)":                 1,
		"tranche D1 disbursed":                1,
		"min(可贴息利息, 实付利息 862.50)":             0,
		"application.submitted user:3f0c2a9e": 0,
		"deadbeef cafebabe":                   0,
		"HTTP 503 · 银行忙":                      0,
		"approved\n500000.00":                 0,
		"贴息金额（元）\nconsent statement 本企业同意":    1,
	} {
		if got := englishRuns(text); len(got) != want {
			t.Errorf("%q: runs %q, want %d", text, got, want)
		}
	}
}

// visibleText is the page's text a reader sees, without what is quoted
// rather than written by procfin: code (codes, formulas' names), elements
// marked data-raw (another party's words, such as a bank's error), and
// the language switch (a.lang); with the inputs' placeholders.
const visibleText = `(() => {
  const skip = 'code, [data-raw], script, style, a.lang';
  const out = [];
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walk.nextNode(); n; n = walk.nextNode()) {
    const el = n.parentElement;
    if (!el || el.closest(skip) || !el.checkVisibility()) continue;
    const s = n.textContent.trim();
    if (s) out.push(s);
  }
  for (const el of document.querySelectorAll('[placeholder]')) out.push(el.getAttribute('placeholder'));
  document.title && out.push(document.title);
  return out.join('\n');
})()`

// pageChecker visits the pages of a browser test: it saves each page's
// screenshot in zh-CN (and, for a page reached by its address, in
// English) under the artifacts' zh-CN/ and en/, and fails the test when a
// Chinese page shows an English sentence (englishRuns).
type pageChecker struct {
	t    *testing.T
	ctx  context.Context
	base string
	dir  string
}

func newPageChecker(t *testing.T, ctx context.Context, base string) *pageChecker {
	dir := artifacts(t)
	for _, l := range []string{"zh-CN", "en"} {
		if err := os.MkdirAll(filepath.Join(dir, l), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return &pageChecker{t: t, ctx: ctx, base: base, dir: dir}
}

// check reads the page shown and fails the test on an English sentence;
// it saves the zh-CN screenshot.
func (p *pageChecker) check(name string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 15*time.Second)
	defer cancel()
	lang, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.lang`))
	if err != nil {
		p.t.Fatalf("%s: %v", name, err)
	}
	if lang != "zh-CN" {
		p.t.Fatalf("%s: the page is in %q, want zh-CN", name, lang)
	}
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](visibleText))
	if err != nil {
		p.t.Fatalf("%s: %v", name, err)
	}
	if runs := englishRuns(text); len(runs) > 0 {
		p.t.Errorf("the zh-CN page %s shows English: %q", name, runs)
	}
	if err := chromedp.Do(ctx, shot(filepath.Join(p.dir, "zh-CN"), name)); err != nil {
		p.t.Fatalf("%s: %v", name, err)
	}
}

// both checks the page shown (check), then shows it again in English for
// its screenshot, and back in Chinese. Only for a page reached by its
// address (a GET), which shows the same again.
func (p *pageChecker) both(name string) {
	p.t.Helper()
	p.check(name)
	ctx, cancel := context.WithTimeout(p.ctx, 15*time.Second)
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		p.t.Fatalf("%s: %v", name, err)
	}
	u, err := url.Parse(loc)
	if err != nil {
		p.t.Fatal(err)
	}
	next := url.QueryEscape(u.RequestURI())
	if err := chromedp.Do(ctx,
		chromedp.Navigate(p.base+"/lang/en?next="+next),
		chromedp.WaitVisible(css("main")),
		shot(filepath.Join(p.dir, "en"), name),
		chromedp.Navigate(p.base+"/lang/zh-CN?next="+next),
		chromedp.WaitVisible(css("main")),
	); err != nil {
		p.t.Fatalf("%s in English: %v", name, err)
	}
}
