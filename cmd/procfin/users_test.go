package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"procfin/platform/postgres/pgtest"
	"procfin/platform/waitfor"
)

// TestUsersDisableAndPasswordReachServe: `procfin users disable` and
// `procfin users password`, run as other processes would (their own pool
// and auth service), revoke the tokens a running `procfin serve` had just
// verified and remembered: serve hears of it through the users' channel.
func TestUsersDisableAndPasswordReachServe(t *testing.T) {
	getenv := testEnv(t, pgtest.URL(t))
	for _, name := range []string{"root", "olga"} {
		if _, err := runCmd(t, getenv, "a long enough password\n", "users", "add", "--username", name, "--role", "officer"); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"procfin", "serve"}, getenv, &logs) }()
	base := waitListening(t, &logs, done)
	defer func() {
		cancel()
		<-done
	}()

	token := func(name, password string) string {
		t.Helper()
		res, err := http.Post(base+"/v1/auth/token", "application/json",
			strings.NewReader(`{"username":"`+name+`","password":"`+password+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var body struct {
			AccessToken string `json:"access_token"`
		}
		if res.StatusCode != 200 || json.NewDecoder(res.Body).Decode(&body) != nil {
			t.Fatalf("token for %s: %d", name, res.StatusCode)
		}
		return body.AccessToken
	}
	me := func(tok string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", base+"/v1/me", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	refusedSoon := func(tok string) {
		t.Helper()
		// Within 5 s: the users' cache itself expires after 10 s.
		waitfor.True(t, 5*time.Second, "serve to refuse the revoked token", func() bool { return me(tok) == http.StatusUnauthorized })
	}
	olga, root := token("olga", "a long enough password"), token("root", "a long enough password")
	for _, tok := range []string{olga, olga, root} {
		if st := me(tok); st != 200 {
			t.Fatalf("me: %d", st)
		}
	}

	out, err := runCmd(t, getenv, "", "users", "disable", "OLGA")
	if err != nil || !strings.Contains(out, "disabled user olga") {
		t.Fatalf("users disable: %v %q", err, out)
	}
	refusedSoon(olga)
	if _, err := runCmd(t, getenv, "", "users", "disable", "olga"); err == nil || !strings.Contains(err.Error(), "already disabled") {
		t.Fatalf("users disable again: %v", err)
	}
	if _, err := runCmd(t, getenv, "", "users", "disable", "nobody"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("users disable nobody: %v", err)
	}

	out, err = runCmd(t, getenv, "a brand new passphrase\n", "users", "password", "root")
	if err != nil || !strings.Contains(out, "changed the password of root") {
		t.Fatalf("users password: %v %q", err, out)
	}
	refusedSoon(root)
	if st := me(token("root", "a brand new passphrase")); st != 200 {
		t.Fatalf("a token after the change: %d", st)
	}
	if strings.Contains(logs.String(), "watch users") {
		t.Fatalf("serve did not listen for users' changes:\n%s", logs.String())
	}
}
