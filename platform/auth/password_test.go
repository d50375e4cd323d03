package auth

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"procfin/platform/errs"
)

func TestHashPassword(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		password string
		params   PasswordParams
	}{
		{"OK", "correct horse battery", fastPassword},
		{"Unicode", "密码是很长的一句话", fastPassword},
		{"MinLength", strings.Repeat("a", MinPasswordLen), fastPassword},
		{"MaxLength", strings.Repeat("x", MaxPasswordLen), fastPassword},
		{"OtherParams", "correct horse battery", PasswordParams{Memory: 2048, Time: 2, Threads: 2}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h, err := HashPassword(tc.password, tc.params)
			if err != nil {
				t.Fatalf("HashPassword: %v", err)
			}
			prefix := fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$", tc.params.Memory, tc.params.Time, tc.params.Threads)
			if !strings.HasPrefix(h, prefix) {
				t.Fatalf("hash %q does not start with %q", h, prefix)
			}
			// VerifyPassword takes the parameters from the hash.
			ok, err := VerifyPassword(tc.password, h)
			if err != nil || !ok {
				t.Fatalf("VerifyPassword(right) = %v, %v; want true", ok, err)
			}
			ok, err = VerifyPassword(tc.password+"!", h)
			if err != nil || ok {
				t.Fatalf("VerifyPassword(wrong) = %v, %v; want false", ok, err)
			}
			h2, err := HashPassword(tc.password, tc.params)
			if err != nil {
				t.Fatal(err)
			}
			if h2 == h {
				t.Fatalf("two hashes of one password are equal: salt not random")
			}
		})
	}
}

func TestHashPasswordDefaults(t *testing.T) {
	t.Parallel()
	h, err := HashPassword("correct horse battery", PasswordParams{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q does not use the default parameters", h)
	}
}

func TestHashPasswordLength(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		password string
		code     string // "" = accepted
	}{
		{"Empty", "", "too_short"},
		{"TooShort", strings.Repeat("a", MinPasswordLen-1), "too_short"},
		{"ShortestOK", strings.Repeat("a", MinPasswordLen), ""},
		{"LongestOK", strings.Repeat("a", MaxPasswordLen), ""},
		{"TooLong", strings.Repeat("a", MaxPasswordLen+1), "too_long"},
		// Length is in bytes: 4 three-byte characters are 12 bytes.
		{"BytesNotRunes", "密码密码", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := HashPassword(tc.password, fastPassword)
			if tc.code == "" {
				if err != nil {
					t.Fatalf("got %v, want no error", err)
				}
				return
			}
			e := wantErr(t, err, errs.Invalid, "")
			if len(e.Fields) != 1 || e.Fields[0].Field != "password" || e.Fields[0].Code != tc.code {
				t.Fatalf("got fields %+v, want password/%s", e.Fields, tc.code)
			}
		})
	}
}

func TestVerifyPasswordRejectsGarbage(t *testing.T) {
	t.Parallel()
	good, err := HashPassword("correct horse battery", fastPassword)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, "$") // "", argon2id, v=19, params, salt, hash
	with := func(i int, v string) string {
		p := append([]string(nil), parts...)
		p[i] = v
		return strings.Join(p, "$")
	}
	cases := []struct {
		name    string
		encoded string
	}{
		{"Empty", ""},
		{"Plain", "correct horse battery"},
		{"Bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"},
		{"Argon2i", with(1, "argon2i")},
		{"OldVersion", with(2, "v=16")},
		{"NoVersion", strings.Join(append(parts[:2:2], parts[3:]...), "$")},
		{"MissingParam", with(3, "m=1024,t=1")},
		{"ParamsOutOfOrder", with(3, "t=1,m=1024,p=1")},
		{"ZeroMemory", with(3, "m=0,t=1,p=1")},
		{"ZeroTime", with(3, "m=1024,t=0,p=1")},
		{"ZeroThreads", with(3, "m=1024,t=1,p=0")},
		{"HugeMemory", with(3, "m=4294967295,t=1,p=1")},
		{"HugeTime", with(3, "m=1024,t=100000,p=1")},
		{"ThreadsOverflow", with(3, "m=1024,t=1,p=256")},
		{"NegativeMemory", with(3, "m=-1,t=1,p=1")},
		{"SaltNotBase64", with(4, "!!!!!!!!!!!")},
		{"SaltTooShort", with(4, "AAAA")},
		{"HashNotBase64", with(5, "%%%")},
		{"HashTooShort", with(5, "AAAAAAAA")},
		{"ExtraField", good + "$AAAA"},
		{"MissingHash", strings.Join(parts[:5], "$")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ok, err := VerifyPassword("correct horse battery", tc.encoded)
			if ok {
				t.Fatalf("VerifyPassword accepted %q", tc.encoded)
			}
			wantErr(t, err, errs.Internal, "")
		})
	}
	t.Run("GoodStillParses", func(t *testing.T) {
		if ok, err := VerifyPassword("correct horse battery", good); !ok || err != nil {
			t.Fatalf("VerifyPassword(good) = %v, %v", ok, err)
		}
	})
}

// A hash waits for a free slot: with every slot taken, none runs.
func TestPasswordHashesBounded(t *testing.T) {
	encoded, err := HashPassword("correct horse battery", fastPassword)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < cap(argonSlots); i++ {
		argonSlots <- struct{}{}
	}
	done := make(chan bool)
	go func() {
		ok, _ := VerifyPassword("correct horse battery", encoded)
		done <- ok
	}()
	select {
	case <-done:
		t.Fatal("a hash ran with every slot taken")
	case <-time.After(200 * time.Millisecond):
	}
	<-argonSlots // one slot frees: the waiting hash runs
	if ok := <-done; !ok {
		t.Fatal("the password did not verify")
	}
	for i := 1; i < cap(argonSlots); i++ {
		<-argonSlots
	}
}
