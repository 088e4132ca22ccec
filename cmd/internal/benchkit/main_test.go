package benchkit

import (
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

type fakeOptions struct{ out string }

type fakeReport struct{}

func (fakeReport) WriteTable(w io.Writer) error     { _, err := io.WriteString(w, "TABLE\n"); return err }
func (fakeReport) FileName() string                 { return "fake.md" }
func (fakeReport) WriteMarkdown(b *strings.Builder) { b.WriteString("# fake\n") }
func (fakeReport) WriteFooter(w io.Writer)          { io.WriteString(w, "FOOTER\n") }

// fakeProgram parses "-h", "bad", "missing" and otherwise runs run.
func fakeProgram(out string, run func(ctx context.Context) (Report, error)) Program[fakeOptions] {
	return Program[fakeOptions]{
		Name: "fakebench",
		Parse: func(args []string, _ io.Writer) (fakeOptions, error) {
			switch {
			case len(args) > 0 && args[0] == "-h":
				return fakeOptions{}, flag.ErrHelp
			case len(args) > 0 && args[0] == "bad":
				return fakeOptions{}, errors.New("bad")
			}
			return fakeOptions{out: out + strings.Join(args, "")}, nil
		},
		Resolve: func(o *fakeOptions) error {
			if strings.HasSuffix(o.out, "missing") {
				return errors.New("no such tool")
			}
			return nil
		},
		Run:         func(ctx context.Context, _ fakeOptions, _ func(string)) (Report, error) { return run(ctx) },
		Out:         func(o fakeOptions) string { return o.out },
		Interrupted: "nothing written",
	}
}

func TestMainFrame(t *testing.T) {
	dir := t.TempDir()
	ok := func(context.Context) (Report, error) { return fakeReport{}, nil }
	for _, tc := range []struct {
		name   string
		args   []string
		run    func(context.Context) (Report, error)
		status int
		stdout string // wanted in stdout
		stderr string // wanted in stderr
	}{
		{"help", []string{"-h"}, ok, ExitOK, "", ""},
		{"usage", []string{"bad"}, ok, ExitUsage, "", ""},
		{"missing tool", []string{"missing"}, ok, ExitFailed, "", "fakebench: cannot run: no such tool"},
		{"report", nil, ok, ExitOK, "\nTABLE\n\nreport: " + filepath.Join(dir, "fake.md") + "\nFOOTER\n", ""},
		{"partial", nil, func(context.Context) (Report, error) { return fakeReport{}, errors.New("kea died") }, ExitFailed, "TABLE", "fakebench: could not run everything: kea died"},
		{"nothing ran", nil, func(context.Context) (Report, error) { return nil, errors.New("no lab") }, ExitFailed, "", "could not run everything: no lab"},
		{"interrupted", nil, func(ctx context.Context) (Report, error) {
			_ = syscall.Kill(os.Getpid(), syscall.SIGINT)
			select {
			case <-ctx.Done():
			case <-time.After(5 * time.Second):
			}
			return fakeReport{}, ctx.Err()
		}, ExitInterrupted, "", "fakebench: interrupted; nothing written"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr strings.Builder
			got := Main(fakeProgram(dir, tc.run), tc.args, &stdout, &stderr)
			if got != tc.status || !strings.Contains(stdout.String(), tc.stdout) || !strings.Contains(stderr.String(), tc.stderr) {
				t.Errorf("status %d, want %d\nstdout:\n%s\nstderr:\n%s", got, tc.status, stdout.String(), stderr.String())
			}
		})
	}
	if b, err := os.ReadFile(filepath.Join(dir, "fake.md")); err != nil || string(b) != "# fake\n" {
		t.Errorf("report file: %q, %v", b, err)
	}
}

func TestShellJoin(t *testing.T) {
	got := ShellJoin([]string{"-o", "60,6363", "", "a b", "it's", "{x}"})
	if want := `-o 60,6363 '' 'a b' 'it'\''s' '{x}'`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestMDTable(t *testing.T) {
	var b strings.Builder
	MDTable(&b, []string{"server", "storage"}, func(row func(...string)) { row("kea", "memfile | CSV\nappend") })
	if want := "| server | storage |\n|---|---|\n| kea | memfile \\| CSV append |\n"; b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestMachineWriteMarkdown(t *testing.T) {
	m := DescribeMachine()
	if m.NProc < 1 || m.Go == "" || m.Kernel == "" {
		t.Errorf("DescribeMachine = %+v", m)
	}
	var b strings.Builder
	m.WriteMarkdown(&b, Fact{"nginx", "nginx/1.22"}, Fact{"wrk", ""})
	md := b.String()
	if !strings.HasPrefix(md, "## Machine\n\n- nproc: `") || !strings.Contains(md, "- nginx: `nginx/1.22`\n") || strings.Contains(md, "wrk") {
		t.Errorf("machine section:\n%s", md)
	}
	if v := ToolVersion(t.Context(), "sh", "-c", "echo; echo ' v1.2 '; echo usage"); v != "v1.2" {
		t.Errorf("ToolVersion = %q", v)
	}
	if v := ToolVersion(t.Context(), filepath.Join(t.TempDir(), "absent")); v != "unknown" {
		t.Errorf("ToolVersion(absent) = %q", v)
	}
	if fs := FSType(t.TempDir()); fs == "unknown" || FSType("/absent/dir") != "unknown" {
		t.Errorf("FSType = %q", fs)
	}
}
