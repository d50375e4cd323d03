package auth

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"procfin/platform/audit"
	"procfin/platform/errs"
	"procfin/platform/postgres/pgtest"
)

const (
	goodPassword = "correct horse battery"
	goodUSCC     = "91350100M000100Y43"
)

func TestCreateUser(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	clock := newTestClock()
	s := MustService(t, db, testConfig(), clock)
	ctx := context.Background()

	type field struct{ Field, Code string }
	cases := []struct {
		name   string
		in     NewUser
		want   User    // on success; ID and CreatedAt are checked apart
		fields []field // on Invalid
	}{
		{name: "OKOfficer",
			in:   NewUser{Username: "officer.li", Password: goodPassword, Role: "officer"},
			want: User{Username: "officer.li", Role: RoleOfficer}},
		{name: "OKAdmin",
			in:   NewUser{Username: "root_1", Password: goodPassword, Role: "admin"},
			want: User{Username: "root_1", Role: RoleAdmin}},
		{name: "OKSupplier",
			in:   NewUser{Username: "acme-sales", Password: goodPassword, Role: "supplier", SupplierUSCC: goodUSCC},
			want: User{Username: "acme-sales", Role: RoleSupplier, SupplierUSCC: goodUSCC}},
		{name: "UsernameLowerCased",
			in:   NewUser{Username: "Wang.Fang", Password: goodPassword, Role: "officer"},
			want: User{Username: "wang.fang", Role: RoleOfficer}},
		{name: "USCCUpperCased",
			in:   NewUser{Username: "beta-sales", Password: goodPassword, Role: "supplier", SupplierUSCC: strings.ToLower(goodUSCC)},
			want: User{Username: "beta-sales", Role: RoleSupplier, SupplierUSCC: goodUSCC}},
		{name: "ErrUsernameEmpty",
			in:     NewUser{Password: goodPassword, Role: "officer"},
			fields: []field{{"username", "required"}}},
		{name: "ErrUsernameTooShort",
			in:     NewUser{Username: "ab", Password: goodPassword, Role: "officer"},
			fields: []field{{"username", "invalid_format"}}},
		{name: "ErrUsernameTooLong",
			in:     NewUser{Username: strings.Repeat("a", 65), Password: goodPassword, Role: "officer"},
			fields: []field{{"username", "invalid_format"}}},
		{name: "ErrUsernameLeadingDot",
			in:     NewUser{Username: ".hidden", Password: goodPassword, Role: "officer"},
			fields: []field{{"username", "invalid_format"}}},
		{name: "ErrUsernameSpace",
			in:     NewUser{Username: "li wei", Password: goodPassword, Role: "officer"},
			fields: []field{{"username", "invalid_format"}}},
		{name: "ErrPasswordTooShort",
			in:     NewUser{Username: "short.pw", Password: "123456789", Role: "officer"},
			fields: []field{{"password", "too_short"}}},
		{name: "ErrPasswordTooLong",
			in:     NewUser{Username: "long.pw", Password: strings.Repeat("p", 257), Role: "officer"},
			fields: []field{{"password", "too_long"}}},
		{name: "ErrRoleEmpty",
			in:     NewUser{Username: "norole", Password: goodPassword},
			fields: []field{{"role", "required"}}},
		{name: "ErrRoleUnknown",
			in:     NewUser{Username: "superuser", Password: goodPassword, Role: "root"},
			fields: []field{{"role", "unknown_role"}}},
		{name: "ErrRoleWrongCase",
			in:     NewUser{Username: "shouty", Password: goodPassword, Role: "ADMIN"},
			fields: []field{{"role", "unknown_role"}}},
		{name: "ErrSupplierWithoutUSCC",
			in:     NewUser{Username: "gamma-sales", Password: goodPassword, Role: "supplier"},
			fields: []field{{"supplier_uscc", "required"}}},
		{name: "ErrSupplierBadUSCC",
			in:     NewUser{Username: "delta-sales", Password: goodPassword, Role: "supplier", SupplierUSCC: "91350100M000100I43"},
			fields: []field{{"supplier_uscc", "invalid_format"}}},
		{name: "ErrSupplierShortUSCC",
			in:     NewUser{Username: "eps-sales", Password: goodPassword, Role: "supplier", SupplierUSCC: "91350100M000100Y4"},
			fields: []field{{"supplier_uscc", "invalid_format"}}},
		{name: "ErrOfficerWithUSCC",
			in:     NewUser{Username: "officer.zhao", Password: goodPassword, Role: "officer", SupplierUSCC: goodUSCC},
			fields: []field{{"supplier_uscc", "not_allowed"}}},
		{name: "ErrSeveralFields",
			in:     NewUser{Username: "x", Password: "short", Role: "supplier"},
			fields: []field{{"username", "invalid_format"}, {"password", "too_short"}, {"supplier_uscc", "required"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u, err := s.CreateUser(ctx, tc.in, "user:test-admin")
			if tc.fields != nil {
				e := wantErr(t, err, errs.Invalid, "")
				var got []field
				for _, f := range e.Fields {
					got = append(got, field{f.Field, f.Code})
					if f.Message == "" {
						t.Errorf("field %s has no message", f.Field)
					}
				}
				if !reflect.DeepEqual(got, tc.fields) {
					t.Fatalf("got fields %v, want %v", got, tc.fields)
				}
				var n int
				if err := db.Get(&n, `SELECT count(*) FROM users WHERE username = lower($1)`, tc.in.Username); err != nil {
					t.Fatal(err)
				}
				if n != 0 {
					t.Fatalf("an invalid user was stored")
				}
				return
			}
			if err != nil {
				t.Fatalf("CreateUser: %v", err)
			}
			if u.ID == "" || !u.CreatedAt.Equal(clock.Now()) {
				t.Fatalf("got id %q created_at %v, want an id and %v", u.ID, u.CreatedAt, clock.Now())
			}
			got := u
			got.ID, got.CreatedAt = "", time.Time{}
			if got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			stored, err := s.GetUser(ctx, u.ID)
			if err != nil {
				t.Fatalf("GetUser: %v", err)
			}
			if stored.ID != u.ID || stored.Username != u.Username || stored.Role != u.Role ||
				stored.SupplierUSCC != u.SupplierUSCC || !stored.CreatedAt.Equal(u.CreatedAt) {
				t.Fatalf("GetUser = %+v, CreateUser returned %+v", stored, u)
			}
			var hash string
			if err := db.Get(&hash, `SELECT password_hash FROM users WHERE id = $1`, u.ID); err != nil {
				t.Fatal(err)
			}
			if ok, err := VerifyPassword(tc.in.Password, hash); !ok || err != nil {
				t.Fatalf("stored hash does not verify the password: %v %v", ok, err)
			}
		})
	}
}

func TestCreateUserAudited(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	s := MustService(t, db, testConfig(), newTestClock())
	ctx := context.Background()
	u := MustCreateUser(t, s, NewUser{Username: "audited", Password: goodPassword, Role: "officer"})

	rows, err := audit.List(ctx, db, "user", u.ID, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 {
		t.Fatalf("got %d audit rows, want 1", len(rows))
	}
	r := rows[0]
	if r.Action != "user.created" || r.Actor != "system" || r.BeforeDigest != "" {
		t.Fatalf("audit row %+v: want action user.created, actor system, no before", r)
	}
	var after map[string]any
	if err := json.Unmarshal(r.After, &after); err != nil {
		t.Fatalf("after state %s: %v", r.After, err)
	}
	if after["id"] != u.ID || after["username"] != "audited" || after["role"] != "officer" {
		t.Fatalf("after state %s does not describe the user", r.After)
	}
	if strings.Contains(string(r.After), "argon2") || strings.Contains(string(r.After), "password") {
		t.Fatalf("after state %s leaks the password hash", r.After)
	}

	t.Run("FailedCreateLeavesNoTrace", func(t *testing.T) {
		_, err := s.CreateUser(ctx, NewUser{Username: "AUDITED", Password: goodPassword, Role: "admin"}, "system")
		wantErr(t, err, errs.Conflict, "username already taken")
		var n int
		if err := db.Get(&n, `SELECT count(*) FROM audit_log`); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Fatalf("got %d audit rows after a failed create, want 1", n)
		}
	})
}

func TestCreateUserDuplicate(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	s := MustService(t, db, testConfig(), newTestClock())
	MustCreateUser(t, s, NewUser{Username: "alice", Password: goodPassword, Role: "officer"})

	for _, name := range []string{"alice", "Alice", "ALICE"} {
		t.Run(name, func(t *testing.T) {
			_, err := s.CreateUser(context.Background(), NewUser{Username: name, Password: goodPassword, Role: "admin"}, "system")
			wantErr(t, err, errs.Conflict, "username already taken")
		})
	}
}

// The table's constraints hold even for SQL that bypasses CreateUser.
func TestUsersTableConstraints(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	const hash = "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA"
	cases := []struct {
		name, username, role string
		uscc                 any
	}{
		{"UpperCaseUsername", "Alice", "officer", nil},
		{"UnknownRole", "alice", "root", nil},
		{"SupplierWithoutUSCC", "alice", "supplier", nil},
		{"OfficerWithUSCC", "alice", "officer", goodUSCC},
		{"BadUSCC", "alice", "supplier", "91350100M000100O43"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := db.Exec(`INSERT INTO users (username, password_hash, role, supplier_uscc) VALUES ($1, $2, $3, $4)`,
				tc.username, hash, tc.role, tc.uscc)
			if err == nil {
				t.Fatalf("the database accepted the row")
			}
		})
	}
	t.Run("OK", func(t *testing.T) {
		if _, err := db.Exec(`INSERT INTO users (username, password_hash, role, supplier_uscc) VALUES ($1, $2, $3, $4)`,
			"alice", hash, "supplier", goodUSCC); err != nil {
			t.Fatalf("a good row was refused: %v", err)
		}
	})
}

func TestGetUser(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	s := MustService(t, db, testConfig(), newTestClock())
	u := MustCreateUser(t, s, NewUser{Username: "findme", Password: goodPassword, Role: "admin"})

	cases := []struct {
		name string
		id   string
		code errs.Code // "" = found
	}{
		{"OK", u.ID, ""},
		{"OKUpperCaseID", strings.ToUpper(u.ID), ""},
		{"ErrNoSuchUser", "00000000-0000-4000-8000-000000000000", errs.NotFound},
		{"ErrNotUUID", "not-a-uuid", errs.NotFound},
		{"ErrEmpty", "", errs.NotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.GetUser(context.Background(), tc.id)
			if tc.code != "" {
				wantErr(t, err, tc.code, "user not found")
				return
			}
			if err != nil {
				t.Fatalf("GetUser: %v", err)
			}
			if got.ID != u.ID || got.Username != "findme" || got.Role != RoleAdmin {
				t.Fatalf("got %+v, want %+v", got, u)
			}
		})
	}
}

func TestUserJSON(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		u    User
		want string
	}{
		{"Officer", User{ID: "u1", Username: "li", Role: RoleOfficer, CreatedAt: at},
			`{"id":"u1","username":"li","role":"officer","created_at":"2026-11-20T08:00:00Z"}`},
		{"Supplier", User{ID: "u2", Username: "acme", Role: RoleSupplier, SupplierUSCC: goodUSCC, CreatedAt: at},
			`{"id":"u2","username":"acme","role":"supplier","supplier_uscc":"91350100M000100Y43","created_at":"2026-11-20T08:00:00Z"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(tc.u)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tc.want {
				t.Fatalf("got %s, want %s", b, tc.want)
			}
		})
	}
}
