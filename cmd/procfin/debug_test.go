package main

import (
	"context"
	"log/slog"
	"net/http"
	"testing"
)

func TestServeDebug(t *testing.T) {
	addr := freeAddr(t)
	stop, err := serveDebug(context.Background(), addr, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	resp, err := http.Get("http://" + addr + "/debug/pprof/heap?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("heap profile: %d", resp.StatusCode)
	}
}
