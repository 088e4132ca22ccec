package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/phoneprov/phoneprov/cmd/internal/benchkit"
)

// TestStormSmall runs the whole storm benchmark with a few phones: the lab,
// both stacks, phonesim, the measurements and the report. It needs root
// and the baseline's tools.
func TestStormSmall(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces)")
	}
	for _, tool := range []string{"ip", "dnsmasq", "nginx", "in.tftpd"} {
		if _, err := lookTool("", tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is missing (deploy/dev/install-test-packages.sh installs it)", tool)
			}
			t.Skipf("%s is missing", tool)
		}
	}
	bin := t.TempDir()
	for _, pkg := range []string{"phoneprov", "phonesim"} {
		if out, err := exec.Command("go", "build", "-o", filepath.Join(bin, pkg), "../"+pkg).CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, out)
		}
	}
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	done := make(chan int, 1)
	go func() {
		done <- run([]string{"-storm", "-phoneprov", filepath.Join(bin, "phoneprov"), "-phonesim", filepath.Join(bin, "phonesim"),
			"-files", "../../testdata/files", "-phones", "30", "-limit", "40", "-timeout", "60s", "-out", out}, &stdout, &stderr)
	}()
	var code int
	select {
	case code = <-done:
	case <-ctx.Done():
		t.Fatal("the storm benchmark did not finish in 3 minutes")
	}
	if code != benchkit.ExitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	text := stdout.String()
	for _, want := range []string{"[met   ] phoneprov provisions all 30 phones", "40 phones: all provisioned"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	reports, _ := filepath.Glob(filepath.Join(out, "storm-*.md"))
	if len(reports) != 1 {
		t.Fatalf("reports %v", reports)
	}
	md, _ := os.ReadFile(reports[0])
	// Both stacks provisioned every phone (failed is the sixth column).
	for _, stack := range []string{"phoneprov", "baseline"} {
		if !regexp.MustCompile(`\| ` + stack + ` \| 1 \| 30 \| \d+ \| \d+ \| 0 \|`).Match(md) {
			t.Errorf("no %s row with 30 phones and none failed:\n%s", stack, md)
		}
	}
	if !strings.Contains(string(md), "| baseline | 1 | nginx |") || !strings.Contains(string(md), "J100Supgrade.txt") {
		t.Errorf("report:\n%s", md)
	}
	// The lab is gone.
	nss, _ := exec.Command("ip", "netns", "list").Output()
	if strings.Contains(string(nss), "pp-bench-srv-"+strconv.Itoa(os.Getpid())) {
		t.Errorf("namespaces left: %s", nss)
	}
}
