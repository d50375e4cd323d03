package auth

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"procfin/platform/audit"
	"procfin/platform/errs"
	"procfin/platform/postgres"
	"procfin/platform/postgres/pgtest"
)

// tokenKid returns the kid in a token's header.
func tokenKid(t *testing.T, token string) string {
	t.Helper()
	var h map[string]any
	decodeSegment(t, strings.Split(token, ".")[0], &h)
	kid, _ := h["kid"].(string)
	return kid
}

func jwksKids(t *testing.T, s *Service) []string {
	t.Helper()
	set, err := s.JWKS(context.Background())
	if err != nil {
		t.Fatalf("JWKS: %v", err)
	}
	kids := []string{}
	for _, k := range set.Keys {
		kids = append(kids, k.Kid)
	}
	return kids
}

func sameStrings(a, b []string) bool {
	return strings.Join(a, ",") == strings.Join(b, ",")
}

func TestEnsureSigningKey(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	clock := newTestClock()
	s := MustService(t, db, testConfig(), clock)
	ctx := context.Background()

	t.Run("NoKeyNoToken", func(t *testing.T) {
		_, _, err := s.IssueToken(ctx, User{ID: "00000000-0000-4000-8000-000000000000", Username: "x", Role: RoleAdmin})
		wantErr(t, err, errs.Internal, "")
	})
	t.Run("CreatesOne", func(t *testing.T) {
		if err := s.EnsureSigningKey(ctx); err != nil {
			t.Fatal(err)
		}
		var rows []signingKey
		if err := db.Select(&rows, `SELECT kid, alg, public_key, private_key_enc, not_before, retire_after FROM signing_keys`); err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 {
			t.Fatalf("got %d keys, want 1", len(rows))
		}
		k := rows[0]
		sum := sha256.Sum256(k.PublicKey)
		if want := base64.RawURLEncoding.EncodeToString(sum[:])[:16]; k.Kid != want {
			t.Fatalf("kid %q, want %q", k.Kid, want)
		}
		if k.Alg != "EdDSA" || len(k.PublicKey) != ed25519.PublicKeySize || !k.NotBefore.Equal(clock.Now()) || k.RetireAfter != nil {
			t.Fatalf("key %+v", k)
		}
		auditRows, err := audit.List(ctx, db, "signing_key", k.Kid, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(auditRows) != 1 || auditRows[0].Action != "signing_key.created" || auditRows[0].Actor != "system" {
			t.Fatalf("audit rows %+v", auditRows)
		}
	})
	t.Run("Idempotent", func(t *testing.T) {
		clock.Advance(time.Hour)
		for range 3 {
			if err := s.EnsureSigningKey(ctx); err != nil {
				t.Fatal(err)
			}
		}
		var n int
		if err := db.Get(&n, `SELECT count(*) FROM signing_keys`); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Fatalf("got %d keys, want 1", n)
		}
		if err := db.Get(&n, `SELECT count(*) FROM audit_log`); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Fatalf("got %d audit rows, want 1", n)
		}
	})
	t.Run("ErrWrongMasterKey", func(t *testing.T) {
		wrong := MustService(t, db, Config{MasterKey: bytes.Repeat([]byte{7}, 32)}, clock)
		wantErr(t, wrong.EnsureSigningKey(ctx), errs.Internal, "")
		_, _, err := wrong.IssueToken(ctx, User{ID: "00000000-0000-4000-8000-000000000000", Username: "x", Role: RoleAdmin})
		wantErr(t, err, errs.Internal, "")
	})
}

// The private key is stored encrypted under the master key, bound to its kid.
func TestPrivateKeyEncrypted(t *testing.T) {
	t.Parallel()
	_, db, _ := MustReadyService(t, testConfig())
	var k signingKey
	if err := db.Get(&k, `SELECT kid, alg, public_key, private_key_enc, not_before, retire_after FROM signing_keys`); err != nil {
		t.Fatal(err)
	}
	seed, err := openPrivateKey(testMasterKey, k.PrivateKeyEnc, k.Kid)
	if err != nil {
		t.Fatalf("decrypt with the right master key: %v", err)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	if !bytes.Equal(priv.Public().(ed25519.PublicKey), k.PublicKey) {
		t.Fatal("decrypted private key does not match the public key")
	}
	if bytes.Contains(k.PrivateKeyEnc, seed) || bytes.Contains(k.PrivateKeyEnc, priv) {
		t.Fatal("private_key_enc holds the raw private key")
	}
	if len(k.PrivateKeyEnc) != 12+ed25519.SeedSize+16 {
		t.Fatalf("private_key_enc is %d bytes, want nonce + seed + tag", len(k.PrivateKeyEnc))
	}

	cases := []struct {
		name      string
		masterKey []byte
		sealed    []byte
		kid       string
	}{
		{"ErrWrongMasterKey", bytes.Repeat([]byte{0x43}, 32), k.PrivateKeyEnc, k.Kid},
		{"ErrOtherKid", testMasterKey, k.PrivateKeyEnc, "some-other-kid"},
		{"ErrFlippedBit", testMasterKey, append(append([]byte(nil), k.PrivateKeyEnc[:20]...), append([]byte{k.PrivateKeyEnc[20] ^ 1}, k.PrivateKeyEnc[21:]...)...), k.Kid},
		{"ErrTruncated", testMasterKey, k.PrivateKeyEnc[:20], k.Kid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := openPrivateKey(tc.masterKey, tc.sealed, tc.kid); err == nil {
				t.Fatal("decrypted")
			}
		})
	}
}

func TestJWKS(t *testing.T) {
	t.Parallel()
	s, db, _ := MustReadyService(t, testConfig())
	var pub []byte
	var kid string
	if err := db.QueryRow(`SELECT kid, public_key FROM signing_keys`).Scan(&kid, &pub); err != nil {
		t.Fatal(err)
	}
	set, err := s.JWKS(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + base64.RawURLEncoding.EncodeToString(pub) +
		`","kid":"` + kid + `","alg":"EdDSA","use":"sig"}]}`
	if string(got) != want {
		t.Fatalf("got %s\nwant %s", got, want)
	}

	t.Run("EmptyIsArray", func(t *testing.T) {
		empty := MustService(t, pgtest.NewDB(t), testConfig(), newTestClock())
		set, err := empty.JWKS(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := json.Marshal(set); string(b) != `{"keys":[]}` {
			t.Fatalf("got %s", b)
		}
	})
}

func TestRotateSigningKey(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.TokenTTL = 15 * time.Minute
	cfg.RotationLead = 10 * time.Minute
	s, db, clock := MustReadyService(t, cfg)
	ctx := context.Background()
	user := MustCreateUser(t, s, NewUser{Username: "officer.li", Password: goodPassword, Role: "officer"})
	issue := func() string {
		t.Helper()
		tok, _, err := s.IssueToken(ctx, user)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	verify := func(tok string) error {
		_, err := s.VerifyToken(ctx, tok)
		return err
	}
	t0 := clock.Now()
	oldToken := issue()
	oldKid := tokenKid(t, oldToken)

	newKid, err := s.RotateSigningKey(ctx, "user:admin-1")
	if err != nil {
		t.Fatalf("RotateSigningKey: %v", err)
	}
	if newKid == oldKid || newKid == "" {
		t.Fatalf("new kid %q, old %q", newKid, oldKid)
	}

	t.Run("BothPublished", func(t *testing.T) {
		if got := jwksKids(t, s); !sameStrings(got, []string{newKid, oldKid}) {
			t.Fatalf("JWKS kids %v, want [%s %s]", got, newKid, oldKid)
		}
	})
	t.Run("RetireAfter", func(t *testing.T) {
		var retire, notBefore time.Time
		if err := db.Get(&retire, `SELECT retire_after FROM signing_keys WHERE kid = $1`, oldKid); err != nil {
			t.Fatal(err)
		}
		if err := db.Get(&notBefore, `SELECT not_before FROM signing_keys WHERE kid = $1`, newKid); err != nil {
			t.Fatal(err)
		}
		if !notBefore.Equal(t0.Add(10 * time.Minute)) {
			t.Fatalf("new not_before %v, want %v", notBefore, t0.Add(10*time.Minute))
		}
		if want := notBefore.Add(15*time.Minute + 5*time.Minute); !retire.Equal(want) {
			t.Fatalf("old retire_after %v, want %v", retire, want)
		}
	})
	t.Run("Audited", func(t *testing.T) {
		rows, err := audit.List(ctx, db, "signing_key", newKid, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 || rows[0].Action != "signing_key.rotated" || rows[0].Actor != "user:admin-1" || rows[0].BeforeDigest == "" {
			t.Fatalf("audit rows %+v", rows)
		}
		if !strings.Contains(string(rows[0].After), oldKid) || strings.Contains(string(rows[0].After), "private") {
			t.Fatalf("after state %s", rows[0].After)
		}
	})
	t.Run("OldKeySignsUntilNotBefore", func(t *testing.T) {
		clock.Set(t0.Add(10*time.Minute - time.Second))
		if kid := tokenKid(t, issue()); kid != oldKid {
			t.Fatalf("signed with %s before the new key's not_before, want %s", kid, oldKid)
		}
	})
	t.Run("NewKeySignsFromNotBefore", func(t *testing.T) {
		clock.Set(t0.Add(10 * time.Minute))
		tok := issue()
		if kid := tokenKid(t, tok); kid != newKid {
			t.Fatalf("signed with %s at the new key's not_before, want %s", kid, newKid)
		}
		if err := verify(tok); err != nil {
			t.Fatalf("new token: %v", err)
		}
		if err := verify(oldToken); err != nil {
			t.Fatalf("token of the old key: %v", err)
		}
	})
	t.Run("OldKeyRetired", func(t *testing.T) {
		retire := t0.Add(10*time.Minute + 20*time.Minute)
		clock.Set(retire.Add(-time.Second))
		if got := jwksKids(t, s); !sameStrings(got, []string{newKid, oldKid}) {
			t.Fatalf("just before retire_after: JWKS kids %v", got)
		}
		clock.Set(retire)
		if got := jwksKids(t, s); !sameStrings(got, []string{newKid}) {
			t.Fatalf("at retire_after: JWKS kids %v, want [%s]", got, newKid)
		}
		wantErr(t, verify(oldToken), errs.InvalidToken, "unknown signing key")
	})
	t.Run("RotateTwiceWithinLead", func(t *testing.T) {
		// Keys B (signing) and C (pending) both get retired by rotation D,
		// so no key stays published for ever.
		c, err := s.RotateSigningKey(ctx, "cli")
		if err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Minute)
		d, err := s.RotateSigningKey(ctx, "cli")
		if err != nil {
			t.Fatal(err)
		}
		var unretired []string
		if err := db.Select(&unretired, `SELECT kid FROM signing_keys WHERE retire_after IS NULL`); err != nil {
			t.Fatal(err)
		}
		if !sameStrings(unretired, []string{d}) {
			t.Fatalf("unretired keys %v, want [%s]", unretired, d)
		}
		if got := jwksKids(t, s); !sameStrings(got, []string{d, c, newKid}) {
			t.Fatalf("JWKS kids %v, want [%s %s %s]", got, d, c, newKid)
		}
		if kid := tokenKid(t, issue()); kid != newKid {
			t.Fatalf("signed with %s, want %s until c's not_before", kid, newKid)
		}
		clock.Advance(9 * time.Minute)
		if kid := tokenKid(t, issue()); kid != c {
			t.Fatalf("signed with %s, want %s", kid, c)
		}
	})
}

// openSeparateDB opens another pool to the database at url, so a test can
// close it without touching the others.
func openSeparateDB(t *testing.T, url string) *sqlx.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), url, postgres.PoolConfig{MaxOpenConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// A second replica learns keys from the database: by periodic refresh, or
// on an unknown kid (at most once per 5 s), and verifies from memory.
func TestKeyCacheAcrossReplicas(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	clock := newTestClock()
	cfg := testConfig()
	cfg.RotationLead = time.Second
	ctx := context.Background()
	a := MustService(t, openSeparateDB(t, url), cfg, clock)
	bDB := openSeparateDB(t, url)
	b := MustService(t, bDB, cfg, clock)
	if err := a.EnsureSigningKey(ctx); err != nil {
		t.Fatal(err)
	}
	user := MustCreateUser(t, a, NewUser{Username: "officer.li", Password: goodPassword, Role: "officer"})
	issue := func() string {
		t.Helper()
		tok, _, err := a.IssueToken(ctx, user)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	if _, err := b.VerifyToken(ctx, issue()); err != nil { // b loads its cache
		t.Fatal(err)
	}

	t.Run("UnknownKidReloads", func(t *testing.T) {
		kid, err := a.RotateSigningKey(ctx, "cli")
		if err != nil {
			t.Fatal(err)
		}
		clock.Advance(2 * time.Second) // b's cache is 2 s old: not stale
		tok := issue()
		if tokenKid(t, tok) != kid {
			t.Fatal("a did not sign with the new key")
		}
		if _, err := b.VerifyToken(ctx, tok); err != nil {
			t.Fatalf("b on the new kid: %v", err)
		}
	})
	t.Run("UnknownKidReloadThrottled", func(t *testing.T) {
		kid, err := a.RotateSigningKey(ctx, "cli")
		if err != nil {
			t.Fatal(err)
		}
		clock.Advance(2 * time.Second) // 2 s since b's last forced reload
		tok := issue()
		if tokenKid(t, tok) != kid {
			t.Fatal("a did not sign with the new key")
		}
		_, err = b.VerifyToken(ctx, tok)
		wantErr(t, err, errs.InvalidToken, "unknown signing key")
		clock.Advance(3 * time.Second) // 5 s since: may reload again
		if _, err := b.VerifyToken(ctx, tok); err != nil {
			t.Fatalf("b after 5 s: %v", err)
		}
	})
	t.Run("VerifiesFromMemory", func(t *testing.T) {
		// b knows its users' states from memory while it listens for
		// their changes (on a connection of its own).
		startWatch(t, b)
		tok := issue()
		if _, err := b.VerifyToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
		bDB.Close() // b's database is gone
		if _, err := b.VerifyToken(ctx, tok); err != nil {
			t.Fatalf("within 30 s of loading: %v", err)
		}
		// Past the refresh interval the reload fails; the keys it has
		// stay in use.
		clock.Advance(31 * time.Second)
		if _, err := b.VerifyToken(ctx, tok); err != nil {
			t.Fatalf("stale keys after a failed reload: %v", err)
		}
	})
	t.Run("PeriodicRefresh", func(t *testing.T) {
		c := MustService(t, openSeparateDB(t, url), cfg, clock)
		if got := jwksKids(t, c); len(got) != 3 {
			t.Fatalf("JWKS kids %v, want 3", got)
		}
		kid, err := a.RotateSigningKey(ctx, "cli")
		if err != nil {
			t.Fatal(err)
		}
		clock.Advance(29 * time.Second)
		if got := jwksKids(t, c); len(got) != 3 {
			t.Fatalf("after 29 s: JWKS kids %v, want the cached 3", got)
		}
		clock.Advance(time.Second)
		if got := jwksKids(t, c); len(got) != 4 || got[0] != kid {
			t.Fatalf("after 30 s: JWKS kids %v, want %s first of 4", got, kid)
		}
	})
}

func TestLoadOrCreateMasterKey(t *testing.T) {
	t.Parallel()
	key := bytes.Repeat([]byte{0xfb}, 32) // 0xfb makes '+' / '-' in base64
	cases := []struct {
		name string
		env  string
		want []byte // nil: want an error
	}{
		{"StdBase64", base64.StdEncoding.EncodeToString(key), key},
		{"RawURLBase64", base64.RawURLEncoding.EncodeToString(key), key},
		{"TrailingNewline", base64.StdEncoding.EncodeToString(key) + "\n", key},
		{"ErrShort", base64.StdEncoding.EncodeToString(key[:31]), nil},
		{"ErrLong", base64.StdEncoding.EncodeToString(append(key, 1)), nil},
		{"ErrNotBase64", "this is not base64 at all!", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			got, err := LoadOrCreateMasterKey(tc.env, dir)
			if tc.want == nil {
				if err == nil {
					t.Fatalf("accepted %q", tc.env)
				}
			} else if err != nil || !bytes.Equal(got, tc.want) {
				t.Fatalf("got %x, %v; want %x", got, err, tc.want)
			}
			if _, err := os.Stat(filepath.Join(dir, MasterKeyFile)); !os.IsNotExist(err) {
				t.Fatalf("a key from the environment wrote a file: %v", err)
			}
		})
	}

	t.Run("FileCreatedAndReloaded", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data") // does not exist yet
		first, err := LoadOrCreateMasterKey("", dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(first) != 32 || bytes.Equal(first, make([]byte, 32)) {
			t.Fatalf("key %x", first)
		}
		fi, err := os.Stat(filepath.Join(dir, MasterKeyFile))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Fatalf("mode %v, want 0600", fi.Mode().Perm())
		}
		again, err := LoadOrCreateMasterKey("", dir)
		if err != nil || !bytes.Equal(again, first) {
			t.Fatalf("reloaded %x, %v; want %x", again, err, first)
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != 1 {
			t.Fatalf("data directory holds %d files, want only the key", len(entries))
		}
		// The key works as a service's master key.
		if _, err := NewService(pgtest.NewDB(t), Config{MasterKey: first}, nil); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("ErrCorruptFile", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, MasterKeyFile), []byte("short"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadOrCreateMasterKey("", dir); err == nil {
			t.Fatal("accepted a corrupt key file")
		}
	})
	t.Run("ErrNothingGiven", func(t *testing.T) {
		if _, err := LoadOrCreateMasterKey("", ""); err == nil {
			t.Fatal("no error")
		}
	})
}

func TestNewService(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	cases := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"OK", Config{MasterKey: testMasterKey}, true},
		{"ErrNoMasterKey", Config{}, false},
		{"ErrShortMasterKey", Config{MasterKey: testMasterKey[:16]}, false},
		{"ErrNegativeTTL", Config{MasterKey: testMasterKey, TokenTTL: -time.Minute}, false},
		{"ErrNegativeLimit", Config{MasterKey: testMasterKey, LoginPerMinute: -1}, false},
		{"ErrMemoryTooSmall", Config{MasterKey: testMasterKey, Password: PasswordParams{Memory: 8, Threads: 4}}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewService(db, tc.cfg, nil)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
		})
	}
	t.Run("Defaults", func(t *testing.T) {
		s, err := NewService(db, Config{MasterKey: testMasterKey}, nil)
		if err != nil {
			t.Fatal(err)
		}
		want := Config{
			Issuer: "procfin", Audience: "procfin-api", TokenTTL: 15 * time.Minute, RotationLead: 10 * time.Minute,
			Password: PasswordParams{Memory: 19456, Time: 2, Threads: 1}, LoginPerMinute: 10, LoginPerMinutePerAddr: 30,
		}
		got := s.cfg
		got.MasterKey = nil
		if got.Issuer != want.Issuer || got.Audience != want.Audience || got.TokenTTL != want.TokenTTL ||
			got.RotationLead != want.RotationLead || got.Password != want.Password ||
			got.LoginPerMinute != want.LoginPerMinute || got.LoginPerMinutePerAddr != want.LoginPerMinutePerAddr {
			t.Fatalf("config %+v, want %+v", got, want)
		}
		if s.now == nil {
			t.Fatal("nil clock")
		}
	})
}
