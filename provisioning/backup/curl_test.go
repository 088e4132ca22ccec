package backup

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// needTool returns the path of an external program, skipping the test when
// it is missing, unless CI is set: there it must be installed.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is required in CI (deploy/dev/install-test-packages.sh installs it): %v", name, err)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}

// TestCurlRoundTrip drives the store with curl, the way an operator checks
// it by hand: curl -T uploads with PUT.
func TestCurlRoundTrip(t *testing.T) {
	curl := needTool(t, "curl")
	s, _ := newTestStore(t, nil)
	srv := serve(t, s)
	url := srv.URL + "/backup/1234_96xxdata.txt"
	src := filepath.Join(t.TempDir(), "upload.txt")
	body := "SPEEDDIAL1=Alice 1001\nSPEEDDIAL2=Bob 1002\n"
	if err := os.WriteFile(src, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(curl, append([]string{"-sS", "--max-time", "10", "-w", "%{http_code}", "-o", "-"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("curl %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	if got := run("-T", src, url); got != "201" {
		t.Fatalf("curl -T = %q", got)
	}
	if got := run(url); got != body+"200" {
		t.Fatalf("curl GET = %q", got)
	}
	if got := run("-X", "DELETE", url); got != "204" {
		t.Fatalf("curl -X DELETE = %q", got)
	}
	if got := run(url); !strings.HasSuffix(got, "404") {
		t.Fatalf("curl GET after delete = %q", got)
	}
}
