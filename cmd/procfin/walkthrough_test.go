package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"procfin/platform/postgres/pgtest"
)

// totalLine is the batch CSV's total line as the walk-through prints it.
var totalLine = regexp.MustCompile(`(?m)^    total: .*[^0-9.]937\.50[^0-9]`)

// TestWalkthroughScript runs the README's walk-through, scripts/walkthrough.sh,
// against the demo, twice (a second run against the same demo is how a
// reader tries it again): each run exits 0 and prints the contract found by
// its number, the application's journey, the purchaser's confirmation, the
// loan repaid, the claim approved, the batch made, closed and exported,
// the statistics and the bank report; and procfin holds what the script
// says it did (the batches closed, the claims in them paid).
// It changes demoStep (a step a second), so it does not run in parallel.
func TestWalkthroughScript(t *testing.T) {
	for _, tool := range []string{"bash", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the walk-through needs %s: %v", tool, err)
		}
	}
	saved := demoStep
	demoStep = time.Second
	t.Cleanup(func() { demoStep = saved })
	base, logs, stop := startDemo(t, testEnv(t, pgtest.URL(t)))
	if !strings.Contains(logs.String(), "scripts/walkthrough.sh "+base+"\n") {
		t.Errorf("the demo does not print how to run the walk-through against %s:\n%s", base, logs.String())
	}
	script, err := filepath.Abs("../../scripts/walkthrough.sh")
	if err != nil {
		t.Fatal(err)
	}

	// What every run prints, figures computed by hand: the sandbox bank
	// lends the 500,000.00 in two tranches of 250,000.00 at 3.45 %, valued
	// 90 days back and repaid today, each with interest
	// 250,000.00 × 0.0345 × 90 / 360 = 2,156.25; its subsidy is
	// 250,000.00 × min(0.0345, the LPR 0.03) × 90 / 360 × the ratio 0.5
	// = 937.50; the batch gathers the one claim approved.
	want := []string{
		"contract ", "1,200,000.00 元 from 济南市教育局 Jinan Education Bureau to 泉城软件有限公司 Quancheng Software",
		"available to finance: 1,020,000.00 元",
		"Idempotency-Key walk-",
		"approved 500,000.00 元 for 180 days at an annual rate of 0.0345",
		"confirmed: 500,000.00 元 owed by 济南市教育局 Jinan Education Bureau, to be paid into 齐鲁银行 Qilu Bank (sandbox)",
		"disbursed 500,000.00 元, repaid 500,000.00 元 of principal",
		": 937.50 元 on interest paid 2,156.25 元, repaid on ",
		": approved",
		"claims 1, total 937.50 元, open",
		": closed",
		"lines, with a UTF-8 byte-order mark",
		"a workbook (zip)",
		"subsidy paid ",
		"齐鲁银行 Qilu Bank (sandbox)",
		"walk-through done: application ",
	}
	for i := range 2 {
		out := t.TempDir()
		// Each wait of the script is bounded by WALK_WAIT, the run as a whole here.
		runCtx, stopRun := context.WithTimeout(t.Context(), 5*time.Minute)
		cmd := exec.CommandContext(runCtx, "bash", script, base)
		cmd.Env = append(os.Environ(), "WALK_OUT="+out, "WALK_WAIT=60")
		printed, err := cmd.CombinedOutput()
		stopRun()
		if err != nil {
			t.Fatalf("run %d of the walk-through: %v\n%s\n(demo log:)\n%s", i+1, err, printed, refusals(logs.String()))
		}
		var missing []string
		for _, w := range want {
			if !strings.Contains(string(printed), w) {
				missing = append(missing, w)
			}
		}
		if !totalLine.Match(printed) {
			missing = append(missing, "the batch CSV's total line with 937.50")
		}
		if len(missing) > 0 {
			t.Errorf("run %d printed none of %q:\n%s", i+1, missing, printed)
		}
		files, _ := filepath.Glob(filepath.Join(out, "*"))
		if len(files) != 3 {
			t.Errorf("run %d saved %v, want the batch's CSV and XLSX and the bank report", i+1, files)
		}
	}

	// procfin's own account: two batches, each closed with the one claim
	// the run approved, 937.50, now paid.
	officer := login(t, base, "officer", "procfin-demo-officer")
	var batches struct {
		Items []struct {
			ID, Status, Total string
			Claims            int
		}
	}
	getJSON(t, base+"/v1/subsidy-batches", officer, &batches)
	if len(batches.Items) != 2 {
		t.Fatalf("batches %+v, want the two the runs made", batches.Items)
	}
	for _, b := range batches.Items {
		if b.Status != "closed" || b.Claims != 1 || b.Total != "937.50" {
			t.Errorf("batch %+v, want closed with one claim of 937.50", b)
		}
	}
	var paid struct {
		Items []struct{ Amount string }
	}
	getJSON(t, base+"/v1/subsidy-claims?status=paid", officer, &paid)
	if len(paid.Items) != 2 || paid.Items[0].Amount != "937.50" || paid.Items[1].Amount != "937.50" {
		t.Errorf("paid claims %+v, want the two approved, 937.50 each", paid.Items)
	}
	stop()
}

// TestWalkthroughScriptFails: the walk-through stops at the first thing
// that goes wrong, with exit status 1 and a line saying what failed: no
// procfin at the address, and a procfin that refuses the log-in.
func TestWalkthroughScriptFails(t *testing.T) {
	t.Parallel()
	script, err := filepath.Abs("../../scripts/walkthrough.sh")
	if err != nil {
		t.Fatal(err)
	}
	ln := listenLoopback(t)
	nobody := "http://" + ln.Addr().String()
	ln.Close()
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"type":"unauthorized","title":"Unauthorized","status":401}`)
	}))
	defer refusing.Close()
	for _, c := range []struct{ base, want string }{
		{nobody, "walkthrough: FAILED: POST /v1/auth/token: procfin did not answer at " + nobody},
		{refusing.URL, `walkthrough: FAILED: log in as quancheng: answered 401, want 200: {"type":"unauthorized"`},
	} {
		cmd := exec.Command("bash", script, c.base)
		cmd.Env = append(os.Environ(), "WALK_OUT="+t.TempDir())
		printed, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(string(printed), c.want) {
			t.Errorf("against %s: %v, printed:\n%s\nwant exit status 1 and %q", c.base, err, printed, c.want)
		}
	}
}
