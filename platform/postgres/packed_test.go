package postgres_test

import (
	"bytes"
	"context"
	"testing"

	"procfin/platform/postgres"
	"procfin/platform/postgres/pgtest"
)

// TestPacked: values packed into one parameter come back byte for byte,
// as bytea and as text, whatever they hold: nothing, quotes, backslashes,
// braces and commas (what an array literal escapes), multibyte text, NUL
// and invalid UTF-8 (bytea only).
func TestPacked(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	ctx := context.Background()
	texts := []string{"", `{"a": "b\"c", "d": [1, 2]}`, `\\x00 {,} NULL "`, "中标核实 贴息", "x"}
	raw := [][]byte{{0, 1, 255}, nil, []byte(`\x41`), {0xe4, 0xb8}}
	var pt, pb postgres.Packed
	for _, s := range texts {
		pt.AddString(s)
	}
	for _, b := range raw {
		pb.Add(b)
	}
	var gotTexts []string
	if err := db.SelectContext(ctx, &gotTexts, `
		SELECT convert_from(substring($3::bytea FROM v.at FOR v.len), 'UTF8')
		FROM unnest($1::int[], $2::int[]) WITH ORDINALITY AS v(at, len, i) ORDER BY i`,
		pt.Starts(), pt.Lengths(), pt.Bytes()); err != nil {
		t.Fatal(err)
	}
	if len(gotTexts) != len(texts) {
		t.Fatalf("%d texts back, want %d", len(gotTexts), len(texts))
	}
	for i := range texts {
		if gotTexts[i] != texts[i] {
			t.Errorf("text %d: %q, want %q", i, gotTexts[i], texts[i])
		}
	}
	var gotRaw [][]byte
	if err := db.SelectContext(ctx, &gotRaw, `
		SELECT substring($3::bytea FROM v.at FOR v.len)
		FROM unnest($1::int[], $2::int[]) WITH ORDINALITY AS v(at, len, i) ORDER BY i`,
		pb.Starts(), pb.Lengths(), pb.Bytes()); err != nil {
		t.Fatal(err)
	}
	if len(gotRaw) != len(raw) {
		t.Fatalf("%d values back, want %d", len(gotRaw), len(raw))
	}
	for i := range raw {
		if !bytes.Equal(gotRaw[i], raw[i]) || gotRaw[i] == nil {
			t.Errorf("value %d: %v, want %v (never NULL)", i, gotRaw[i], raw[i])
		}
	}
	var empty postgres.Packed
	var n int
	if err := db.GetContext(ctx, &n, `SELECT count(*) FROM unnest($1::int[], $2::int[]) WHERE length($3::bytea) = 0`,
		empty.Starts(), empty.Lengths(), empty.Bytes()); err != nil || n != 0 {
		t.Errorf("nothing packed: %d values, %v", n, err)
	}
}
