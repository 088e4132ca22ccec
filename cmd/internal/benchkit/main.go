package benchkit

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// Exit statuses of every benchmark program.
const (
	ExitOK          = 0   // everything ran, whether or not targets were met
	ExitFailed      = 1   // something could not run
	ExitUsage       = 2   // a bad command line
	ExitInterrupted = 130 // SIGINT or SIGTERM
)

// Report is what a benchmark found, as Main prints and saves it.
type Report interface {
	// WriteTable prints the findings as aligned text for the terminal.
	WriteTable(w io.Writer) error
	// FileName names the Markdown report, like "dhcp-20260102-150405.md".
	FileName() string
	// WriteMarkdown renders the Markdown report.
	WriteMarkdown(b *strings.Builder)
}

// Footer is a Report with more to say after the report's path (targets
// missed, where the artifacts are).
type Footer interface {
	WriteFooter(w io.Writer)
}

// Program is one benchmark, as Main runs it; O is its options.
type Program[O any] struct {
	// Name prefixes every message: "phonebench".
	Name string
	// Parse reads the command line: flag.ErrHelp after -h, any other error
	// for a bad one (already reported on stderr).
	Parse func(args []string, stderr io.Writer) (O, error)
	// Resolve finds the tools the run needs; an error says what is missing.
	Resolve func(o *O) error
	// Run runs the benchmark, telling progress lines as it goes. It returns
	// a nil Report when there is nothing to report, and an error when
	// something could not run (with whatever did run in the Report).
	Run func(ctx context.Context, o O, progress func(string)) (Report, error)
	// Out is the directory for the Markdown report.
	Out func(o O) string
	// Interrupted says what an interrupt leaves behind.
	Interrupted string
}

// Main runs p with the command line args and returns the exit status. A
// SIGINT or SIGTERM cancels the run's context.
func Main[O any](p Program[O], args []string, stdout, stderr io.Writer) int {
	opts, err := p.Parse(args, stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return ExitOK
	case err != nil:
		return ExitUsage
	}
	if err := p.Resolve(&opts); err != nil {
		fmt.Fprintf(stderr, "%s: cannot run: %v\n", p.Name, err)
		return ExitFailed
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, runErr := p.Run(ctx, opts, func(line string) { fmt.Fprintf(stderr, "%s: %s\n", p.Name, line) })
	if ctx.Err() != nil {
		fmt.Fprintf(stderr, "%s: interrupted; %s\n", p.Name, p.Interrupted)
		return ExitInterrupted
	}
	status := ExitOK
	if rep != nil {
		if err := publish(rep, p.Out(opts), stdout); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", p.Name, err)
			status = ExitFailed
		}
	}
	if runErr != nil {
		fmt.Fprintf(stderr, "%s: could not run everything: %v\n", p.Name, runErr)
		status = ExitFailed
	}
	return status
}

// publish prints the report's table, writes its Markdown file into dir and
// says where, then prints the footer if the report has one.
func publish(rep Report, dir string, stdout io.Writer) error {
	fmt.Fprintln(stdout)
	tableErr := rep.WriteTable(stdout)
	var b strings.Builder
	rep.WriteMarkdown(&b)
	path, err := writeReportFile(dir, rep.FileName(), b.String())
	if err == nil {
		fmt.Fprintf(stdout, "\nreport: %s\n", path)
	}
	if f, ok := rep.(Footer); ok {
		f.WriteFooter(stdout)
	}
	return errors.Join(tableErr, err)
}
