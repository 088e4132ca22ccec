package deploy_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/phoneprov/phoneprov/deploy/internal/deploytest"
)

func manPage(t *testing.T) string {
	return filepath.Join(deploytest.RepoRoot(t), "docs", "phoneprov.8")
}

func completionScript(t *testing.T) string {
	return filepath.Join(deploytest.RepoRoot(t), "deploy", "bash-completion", "phoneprov")
}

// TestManPageRenders: docs/phoneprov.8 renders with groff and with man -l
// without a single warning, with the sections an administrator looks for.
func TestManPageRenders(t *testing.T) {
	deploytest.NeedTools(t, "groff", "man")
	page := manPage(t)
	if out := deploytest.Run(t, time.Minute, "groff", "-man", "-Tutf8", "-ww", "-z", page); out != "" {
		t.Errorf("groff -man -Tutf8 -ww warns:\n%s", out)
	}
	// man -l --warnings renders through groff with -w, warnings on stderr;
	// on a pipe it prints plain text.
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "man", "--warnings", "-l", page)
	cmd.Env = append(os.Environ(), "MANWIDTH=80")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("man -l %s: %v\n%s", page, err, stderr.String())
	}
	if stderr.Len() > 0 {
		t.Errorf("man -l warns:\n%s", stderr.String())
	}
	out := string(b)
	for _, section := range []string{"NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "SIGNALS", "FILES", "EXIT STATUS"} {
		if !regexp.MustCompile(`(?m)^` + section + `$`).MatchString(out) {
			t.Errorf("the rendered page has no %s section", section)
		}
	}
}

// TestManPageAndCompletionCoverTheCLI builds phoneprov and reads its own
// help: every command it lists, and every option each command's -h lists,
// must be in the man page and offered by the bash completion, and the
// completion must offer nothing the program does not know.
func TestManPageAndCompletionCoverTheCLI(t *testing.T) {
	t.Parallel()
	deploytest.NeedTools(t, "go", "bash")
	bin := filepath.Join(t.TempDir(), "phoneprov")
	deploytest.Run(t, 3*time.Minute, "go", "build", "-o", bin, filepath.Join(deploytest.RepoRoot(t), "cmd", "phoneprov"))
	usage := deploytest.Run(t, time.Minute, bin, "--help")
	var commands []string
	for _, m := range regexp.MustCompile(`(?m)^  ([a-z]+)\b`).FindAllStringSubmatch(usage, -1) {
		commands = append(commands, m[1])
	}
	if len(commands) < 8 {
		t.Fatalf("phoneprov --help lists only %v", commands)
	}
	b, err := os.ReadFile(manPage(t))
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)

	offered := completeWords(t, "phoneprov", "")
	want := slices.Clone(commands)
	if !slices.Contains(want, "help") {
		want = append(want, "help")
	}
	if !sameWords(offered, want) {
		t.Errorf("the completion offers the commands %v, phoneprov --help lists %v (and help)", offered, commands)
	}
	// Go's flag package prints "  -json"; a hand-made usage may say "--json".
	flagLine := regexp.MustCompile(`(?m)^ {1,4}--?([a-z][a-z0-9-]*)`)
	for _, c := range commands {
		if !regexp.MustCompile(`(?m)^\.BI? ` + c + `\b`).MatchString(page) {
			t.Errorf("the man page has no entry for the command %s", c)
		}
		// The options, from -h (Go's flag package exits 2 after printing them).
		help, _ := deploytest.Output(t.Context(), time.Minute, bin, c, "-h")
		var options []string
		for _, m := range flagLine.FindAllStringSubmatch(help, -1) {
			o := "--" + m[1]
			if m[1] == "c" {
				o = "-c"
			}
			options = append(options, o)
			if !strings.Contains(page, strings.ReplaceAll(o, "-", `\-`)) {
				t.Errorf("the man page does not mention %s %s", c, o)
			}
		}
		if got := completeWords(t, "phoneprov", c, "-"); !sameWords(got, options) {
			t.Errorf("phoneprov %s -<TAB> offers %v; phoneprov %s -h lists %v", c, got, c, options)
		}
	}
}

// TestCompletion completes what an administrator types.
func TestCompletion(t *testing.T) {
	deploytest.NeedTools(t, "bash")
	dir := t.TempDir()
	for _, f := range []string{"site.toml", "bundle.zip"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		words []string
		want  []string
	}{
		{[]string{"phoneprov", "ch"}, []string{"check"}},
		{[]string{"phoneprov", "leases", "--"}, []string{"--json", "--csv", "--mac", "--state"}},
		{[]string{"phoneprov", "leases", "--state", "d"}, []string{"declined"}},
		{[]string{"phoneprov", "leases", "-state", "e"}, []string{"expired"}},
		{[]string{"phoneprov", "leases", "--mac", ""}, nil},
		{[]string{"phoneprov", "help", "le"}, []string{"leases"}},
		{[]string{"phoneprov", "help", "leases", ""}, nil},
		{[]string{"phoneprov", "phones", "--st"}, []string{"--state"}},
		{[]string{"phoneprov", "phones", "--state", "up"}, []string{"up_to_date"}},
		{[]string{"phoneprov", "phones", "-state", "f"}, []string{"failed", "fetching"}},
		{[]string{"phoneprov", "phones", "--model", ""}, nil},
		{[]string{"phoneprov", "check", "-c", filepath.Join(dir, "si")}, []string{filepath.Join(dir, "site.toml")}},
		{[]string{"phoneprov", "init", filepath.Join(dir, "d")}, []string{filepath.Join(dir, "data")}},
		{[]string{"phoneprov", "import", filepath.Join(dir, "b")}, []string{filepath.Join(dir, "bundle.zip")}},
		{[]string{"phoneprov", "version", "-"}, nil},
		{[]string{"phoneprov", "bogus", "-"}, nil},
	}
	for _, tc := range tests {
		if got := completeWords(t, tc.words...); !sameWords(got, tc.want) {
			t.Errorf("%q<TAB>: %q, want %q", strings.Join(tc.words, " "), got, tc.want)
		}
	}
}

// completeWords sources the completion script in bash, runs it as if TAB
// were pressed after words (the last one being completed), and returns
// what it offers.
func completeWords(t *testing.T, words ...string) []string {
	t.Helper()
	script := `source "$1"; shift
complete -p phoneprov >/dev/null || exit 1
COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
_phoneprov
printf '%s\n' "${COMPREPLY[@]}"`
	out := deploytest.Run(t, 30*time.Second, "bash", append([]string{"-c", script, "bash", completionScript(t)}, words...)...)
	var got []string
	for _, w := range strings.Split(out, "\n") {
		if w != "" {
			got = append(got, w)
		}
	}
	return got
}

// sameWords reports whether a and b hold the same words, in any order.
func sameWords(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
