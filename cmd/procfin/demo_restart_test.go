package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"procfin/banking/sandbox"
	"procfin/platform/postgres"
	"procfin/platform/postgres/pgtest"
	"procfin/platform/waitfor"
)

// TestDemoRestartCarriesOn: a demo stopped while its loans are disbursed,
// their next step an hour away, and run again on its database once the
// hour has passed, takes each loan on where it stood to its close: the
// sandbox banks keep their state in the database. Every event they send,
// before and after the restart, is taken. It changes demoStep, so it does
// not run in parallel.
func TestDemoRestartCarriesOn(t *testing.T) {
	saved := demoStep
	t.Cleanup(func() { demoStep = saved })
	dbURL := pgtest.URL(t)
	getenv := testEnv(t, dbURL)
	lives := []sandbox.Life{sandbox.LifeTranches, sandbox.LifeWhole, sandbox.LifeOverdue}

	runDemo := func() (string, *syncBuffer, func()) { return startDemo(t, getenv) }
	type app struct{ ID, Status, Amount string }
	// statuses reads the stories' applications of these lives: those of
	// ids when given (a demo run again applies again), else the one of
	// each amount.
	statuses := func(base string, tokens map[string]string, ids map[sandbox.Life]app) map[sandbox.Life]app {
		out := map[sandbox.Life]app{}
		for _, s := range demoStories {
			var list struct{ Items []app }
			getJSON(t, base+"/v1/credit-applications", tokens[s.user], &list)
			for _, a := range list.Items {
				if a.Amount == s.request && (ids == nil || ids[s.life].ID == a.ID) {
					out[s.life] = a
				}
			}
		}
		return out
	}
	loginAll := func(base string) map[string]string {
		return map[string]string{
			"quancheng": login(t, base, "quancheng", "procfin-demo-supplier"),
			"lixia":     login(t, base, "lixia", "procfin-demo-supplier"),
		}
	}

	demoStep = time.Hour
	base, logs, stop := runDemo()
	tokens := loginAll(base)
	var before map[sandbox.Life]app
	if !waitfor.Within(90*time.Second, func() bool {
		before = statuses(base, tokens, nil)
		for _, l := range lives {
			if before[l].Status != "disbursed" {
				return false
			}
		}
		return true
	}) {
		stop()
		t.Fatalf("the loans were not disbursed: %+v\n%s", before, refusals(logs.String()))
	}
	stop()
	if r := refusals(logs.String()); r != "" {
		t.Errorf("before the restart, procfin refused events the sandbox banks sent:\n%s", r)
	}

	// The hour passes while the demo is stopped.
	db, err := postgres.Open(context.Background(), dbURL, postgres.PoolConfig{MaxOpenConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE sandbox_applications SET next_at = now() WHERE NOT done AND batches_sent > 0`); err != nil {
		t.Fatal(err)
	}

	demoStep = time.Second
	base, logs, stop = runDemo()
	defer stop()
	tokens = loginAll(base)
	var after map[sandbox.Life]app
	if !waitfor.Within(90*time.Second, func() bool {
		after = statuses(base, tokens, before)
		for _, l := range lives {
			if after[l].Status != "closed" {
				return false
			}
		}
		return true
	}) {
		t.Fatalf("after the restart, the loans did not close: %+v\n%s", after, refusals(logs.String()))
	}
	if r := refusals(logs.String()); r != "" {
		t.Errorf("after the restart, procfin refused events the sandbox banks sent:\n%s", r)
	}
}

// TestSandboxBankKeepsState: `procfin sandbox-bank` keeps its state in
// the database it is given (--database-url, else DATABASE_URL), in
// memory without one, and says which.
func TestSandboxBankKeepsState(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.URL(t)
	for _, tc := range []struct {
		name string
		env  string
		args []string
		want string
	}{
		{"Flag", "", []string{"--database-url", dbURL}, "state: in the database"},
		{"Environment", dbURL, nil, "state: in the database"},
		{"Memory", "", nil, "state: in memory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			getenv := func(k string) string {
				if k == "DATABASE_URL" {
					return tc.env
				}
				return ""
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var out syncBuffer
			done := make(chan error, 1)
			go func() {
				done <- run(ctx, append([]string{"procfin", "sandbox-bank", "--addr", "127.0.0.1:0", "--bank-id", "kept-" + strings.ToLower(tc.name)}, tc.args...), getenv, &out)
			}()
			if !waitfor.Within(30*time.Second, func() bool { return strings.Contains(out.String(), "listens at") }) {
				cancel()
				t.Fatalf("the bank did not start: %v\n%s", <-done, out.String())
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("sandbox-bank returned %v\n%s", err, out.String())
			}
			if !strings.Contains(out.String(), tc.want) {
				t.Errorf("output has no %q:\n%s", tc.want, out.String())
			}
		})
	}
}
