package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"procfin/platform/postgres"
	"procfin/platform/waitfor"
)

// TestDrillDatabaseOutage: PostgreSQL stops for 10 s under load. procfin
// answers 503 problems meanwhile (never a 500, never a hang), and recovers
// by itself when the database is back: committed data is all there.
func TestDrillDatabaseOutage(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("drill")
	}
	if _, err := postgres.FindBinDir(); err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	for d := dir; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	// A cluster of its own: the shared test cluster must stay up.
	cluster := &postgres.Cluster{Dir: filepath.Join(dir, "pg")}
	ctx := context.Background()
	if err := cluster.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer cluster.StopServer(context.Background())
	bin := buildProcfin(t)
	addr := freeAddr(t)
	base := "http://" + addr
	cmd := exec.Command(bin, "serve", "--migrate")
	cmd.Env = append(os.Environ(), "DATABASE_URL="+cluster.URL(), "PROCFIN_ADDR="+addr, "PROCFIN_METRICS_ADDR=127.0.0.1:0", "PROCFIN_DATA_DIR="+dir, "PROCFIN_LOG_LEVEL=error", "PROCFIN_ALLOW_PRIVATE_URLS=1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	waitfor.True(t, 30*time.Second, "procfin to start", func() bool { return ready(base) })
	add := exec.Command(bin, "users", "add", "--username", "watcher", "--role", "officer")
	add.Env = cmd.Env
	add.Stdin = strings.NewReader("a long enough password\n")
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("users add: %v %s", err, out)
	}
	token := login(t, base, "watcher", "a long enough password")

	// Load: logins (database reads) and readiness checks, all through the outage.
	var stop atomic.Bool
	var mu sync.Mutex
	statuses := map[int]int{}
	var badBodies []string
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 15 * time.Second}
			for i := 0; !stop.Load(); i++ {
				req, _ := http.NewRequest("GET", base+"/readyz", nil)
				if i%2 == 1 { // an authenticated read of the database
					req, _ = http.NewRequest("GET", base+"/v1/me", nil)
					req.Header.Set("Authorization", "Bearer "+token)
				}
				res, err := client.Do(req)
				if err != nil {
					mu.Lock()
					statuses[-1]++
					mu.Unlock()
					continue
				}
				var p struct{ Type string }
				json.NewDecoder(res.Body).Decode(&p)
				res.Body.Close()
				mu.Lock()
				statuses[res.StatusCode]++
				if res.StatusCode >= 500 && (res.StatusCode != 503 || p.Type != "unavailable") {
					badBodies = append(badBodies, p.Type)
				}
				mu.Unlock()
				time.Sleep(20 * time.Millisecond) // the load's pace: 4 clients, 50 requests a second each
			}
		}()
	}
	// The database stops under load: once the load has had answers.
	waitfor.True(t, 30*time.Second, "the load's first answers", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return statuses[200] > 0
	})
	if err := cluster.StopServer(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Second) // the outage the drill is about
	if err := cluster.Start(ctx); err != nil {
		t.Fatal(err)
	}
	recovered := waitfor.Within(30*time.Second, func() bool { return ready(base) })
	stop.Store(true)
	wg.Wait()
	if !recovered {
		t.Fatal("procfin did not recover after the database came back")
	}
	if statuses[503] == 0 || statuses[200] == 0 || statuses[500] > 0 || statuses[-1] > 0 || len(badBodies) > 0 {
		t.Fatalf("answers during the outage: %v (bad problems %v); want 200s and 503 unavailable problems only", statuses, badBodies)
	}
	// And it works, on the same data: the migration it applied is there.
	res, err := http.Post(base+"/v1/auth/token", "application/json", nil)
	if err != nil || res.StatusCode >= 500 {
		t.Fatalf("after recovery: %v %v", err, res)
	}
	res.Body.Close()
	t.Logf("answers: %v", statuses)
}
