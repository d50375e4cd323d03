package main

import (
	"context"
	"errors"
	"flag"
	"io"

	"procfin/bench"
)

// runBench is `procfin bench` (package bench): the load generator. Its
// command-line mistakes are usage errors (exit status 2).
func runBench(ctx context.Context, args []string, stdout io.Writer) error {
	err := bench.Run(ctx, args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return helpRequest{name: "bench", fs: bench.Flags(new(bench.Config))}
	}
	if u := (*bench.UsageError)(nil); errors.As(err, &u) {
		return usageError{u}
	}
	return err
}
