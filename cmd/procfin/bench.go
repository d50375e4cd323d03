package main

import (
	"context"
	"errors"
	"io"

	"procfin/bench"
)

// runBench is `procfin bench` (package bench): the load generator. Its
// command-line mistakes are usage errors (exit status 2).
func runBench(ctx context.Context, args []string, stdout io.Writer) error {
	err := bench.Run(ctx, args, stdout)
	if u := (*bench.UsageError)(nil); errors.As(err, &u) {
		return usageError{u}
	}
	return err
}
