package lending

import (
	"testing"
	"time"
)

// FuzzAlertCursor: reading a client's alerts cursor never panics, and a
// cursor made from an alert reads back as that alert's keyset.
func FuzzAlertCursor(f *testing.F) {
	f.Add("MjAyNi0xMi0wNFQyMToyNjo1OS41NTc4NTNafHA6eA", int64(1764883619557853000), "p:2f1c")
	f.Add("", int64(0), "o:1")
	f.Add("!!", int64(-1), "|")
	f.Fuzz(func(t *testing.T, cursor string, nanos int64, key string) {
		parseAlertCursor(cursor)
		if key == "" {
			return
		}
		at := time.Unix(0, nanos).UTC().Truncate(time.Microsecond)
		gotAt, gotKey, ok := parseAlertCursor(alertCursor(Alert{RaisedAt: at, SortKey: key}))
		if !ok || !gotAt.Equal(at) || gotKey != key {
			t.Fatalf("cursor of (%v, %q) read back as (%v, %q, %v)", at, key, gotAt, gotKey, ok)
		}
	})
}
