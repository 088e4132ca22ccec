package appliance

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// headless runs Debian's chromium on one URL with a fresh profile and
// nothing that reaches past 127.0.0.1, and returns what it prints.
func headless(t *testing.T, chromium string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium, append(chromiumFlags(t), args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes()
}

// artifactDir is where a test leaves files for a person to look at:
// $PHONEPROV_ARTIFACTS when set (CI keeps it), else the test's temporary
// folder.
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("PHONEPROV_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestStatusPageInABrowser loads the status page in headless Chromium
// with two phones provisioned by the test, one of them with a hostile
// User-Agent: the page must render, show the phones, search, and run none
// of what the phone sent. It keeps a screenshot.
func TestStatusPageInABrowser(t *testing.T) {
	t.Parallel()
	chromium := requireTestTool(t, "chromium")
	ta := startAppliance(t, "")
	if code := ta.fetch(t, "J100Supgrade.txt", j179Agent); code != http.StatusOK {
		t.Fatalf("J100Supgrade.txt: %d", code)
	}
	if code := ta.fetch(t, "FW_S_J179_R4_1_3_0_6.bin", j179Agent); code != http.StatusOK {
		t.Fatalf("firmware: %d", code)
	}
	const hostileMAC = "c8:1f:ea:00:0b:ad"
	hostile := `AVAYA/J179-4.0.0.0.9 (MAC:c81fea000bad) "><script>document.title='owned'</script><img src=x onerror=alert(1)>`
	ta.fetch(t, "J100Supgrade.txt", hostile)
	ta.fetch(t, "no-such-file.bin", hostile)
	// Phones of two more series, known only by the upgrade script they ask
	// for (as 1600 and 4600 phones, which send no User-Agent; here a MAC in
	// the User-Agent stands for their lease, which this test has none of).
	const p1608, p4621 = "00:60:1d:00:16:08", "00:04:0d:00:46:21"
	ta.fetch(t, "16xxupgrade.txt", "test (MAC:00601d001608)")
	ta.fetch(t, "46xxupgrade.scr", "test (MAC:00040d004621)")
	ta.waitPhone(t, j179MAC)
	ta.waitPhone(t, hostileMAC)
	ta.waitPhone(t, p1608)
	ta.waitPhone(t, p4621)

	dom := string(headless(t, chromium, "--dump-dom", ta.admin+"/"))
	for _, want := range []string{"<title>phoneprov · ", j179MAC, hostileMAC, "J179", "4.1.3.0.6", "up to date", "Phones by model", "http FW_S_J179_R4_1_3_0_6.bin 200"} {
		if !strings.Contains(dom, want) {
			t.Errorf("the page in the browser lacks %q", want)
		}
	}
	// The roll-out view: a row per series present, with its newest version
	// and share, or that the tree has none for it.
	from, to := strings.Index(dom, `id="rollout"`), strings.Index(dom, `id="fleet"`)
	if from < 0 || to < from {
		t.Fatal("the page has no roll-out view before the phones by model")
	}
	rollout := dom[from:to]
	for _, want := range []string{"Roll-out by series", `data-label="Series">J100</td>`, "4.1.3.0.6", `data-label="Series">16xx</td>`, `data-label="Series">46xx</td>`, "none in the tree", "nothing to roll out"} {
		if !strings.Contains(rollout, want) {
			t.Errorf("the roll-out view lacks %q:\n%s", want, rollout)
		}
	}
	if !strings.Contains(rollout, "50 %") {
		t.Errorf("the J100 row does not show its share (one of two J179s up to date):\n%s", rollout)
	}
	if strings.Contains(dom, "<title>owned") {
		t.Error("a phone's User-Agent ran a script")
	}
	// The User-Agent is text: the DOM keeps it escaped, with no element
	// made of it (an injected <img> would serialize with quoted attributes).
	if !strings.Contains(dom, "&lt;script&gt;document.title='owned'&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;") {
		t.Error("the hostile User-Agent is not shown as text")
	}
	if strings.Contains(dom, `<img src="x"`) {
		t.Error("the hostile User-Agent became an element")
	}
	// Where the appliance records recent events, the failed request is
	// among the recent errors.
	if code, _ := ta.get(t, "/api/events"); code == http.StatusOK {
		if !strings.Contains(dom, "http /no-such-file.bin → 404") {
			t.Error("the recent errors lack the request answered 404")
		}
	} else {
		t.Logf("this appliance does not record recent events (/api/events: %d): recent errors not checked", code)
	}

	dom = string(headless(t, chromium, "--dump-dom", ta.admin+"/?q=83e85a"))
	if !strings.Contains(dom, j179MAC) || strings.Contains(dom, hostileMAC) || !strings.Contains(dom, `value="83e85a"`) {
		t.Errorf("search for 83e85a: shows the J179 %v, the other phone %v", strings.Contains(dom, j179MAC), strings.Contains(dom, hostileMAC))
	}
	dom = string(headless(t, chromium, "--dump-dom", ta.admin+"/?q=zz-no-phone"))
	if strings.Contains(dom, j179MAC) || strings.Contains(dom, hostileMAC) || !strings.Contains(dom, "No phone matches “zz-no-phone”") {
		t.Error("a search that matches nothing still lists phones, or does not say so")
	}

	shot := filepath.Join(artifactDir(t), "status-page.png")
	headless(t, chromium, "--screenshot="+shot, "--window-size=1280,900", ta.admin+"/")
	png, err := os.ReadFile(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) || len(png) < 10<<10 {
		t.Fatalf("the screenshot is not a plausible PNG (%d bytes)", len(png))
	}
	t.Logf("screenshot of the status page: %s (%d bytes)", shot, len(png))
}
