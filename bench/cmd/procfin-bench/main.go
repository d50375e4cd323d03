// Command procfin-bench is `procfin bench` on its own, for scripts/bench.sh
// to use while the procfin binary does not dispatch "bench" yet. Once it
// does, this command can go.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"procfin/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := bench.Run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "procfin:", strings.ReplaceAll(err.Error(), "\n", "; "))
		if u := (*bench.UsageError)(nil); errors.As(err, &u) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}
