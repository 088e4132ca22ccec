package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// runStormMode is phonebench -storm: the boot-storm benchmark. Exit
// statuses as for the file benchmarks: 0 when everything ran (targets met
// or not), 1 when something could not run, 2 for a bad command line, 130
// when interrupted.
func runStormMode(args []string, stdout, stderr io.Writer) int {
	opts, err := parseStormOptions(args, stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case err != nil:
		return exitUsage
	}
	if err := opts.resolveTools(); err != nil {
		fmt.Fprintf(stderr, "phonebench: cannot run the storm: %v\n", err)
		return exitFailed
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, benchErr := stormBench(ctx, opts, func(line string) { fmt.Fprintf(stderr, "phonebench: %s\n", line) })
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "phonebench: interrupted; servers stopped, lab removed, nothing written")
		return exitInterrupted
	}
	status := exitOK
	if rep != nil && (len(rep.Runs) > 0 || len(rep.Limit) > 0) {
		fmt.Fprintln(stdout)
		rep.writeTable(stdout)
		path, err := rep.writeMarkdownFile(opts.Out)
		if err != nil {
			fmt.Fprintf(stderr, "phonebench: %v\n", err)
			status = exitFailed
		} else {
			fmt.Fprintf(stdout, "\nreport: %s\n", path)
		}
	}
	if benchErr != nil {
		fmt.Fprintf(stderr, "phonebench: could not run everything: %v\n", benchErr)
		status = exitFailed
	}
	return status
}
