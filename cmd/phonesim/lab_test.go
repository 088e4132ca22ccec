package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/phoneprov/phoneprov/cmd/phonesim/internal/phone"
	"github.com/phoneprov/phoneprov/cmd/phonesim/internal/storm"
	"github.com/phoneprov/phoneprov/deploy/netlab/netlabtest"

	"github.com/phoneprov/phoneprov/internal/syncbuf"
)

// The lab tests run deploy/lab/lab.sh: two network namespaces joined by a
// veth pair (addresses from 198.18.0.0/15 only), phoneprov serving the
// sample tree, DHCP from phoneprov or dnsmasq, and phonesim booting phones
// against it. They need root; dnsmasq is needed for the dnsmasq lab.

// need skips the test when something it needs is missing; under CI
// (CI set) a missing tool fails it instead.
func need(t *testing.T, tools ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces, DHCP port 68)")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is missing (deploy/dev/install-test-packages.sh installs it)", tool)
			}
			t.Skipf("%s is missing", tool)
		}
	}
}

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// binaries builds phoneprov and phonesim once for all lab tests.
func binaries(t *testing.T) (phoneprov, phonesim string) {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "phonesim-lab-bin-")
		if buildErr != nil {
			return
		}
		for _, pkg := range []string{"phoneprov", "phonesim"} {
			out, err := exec.Command("go", "build", "-o", filepath.Join(binDir, pkg), "../"+pkg).CombinedOutput()
			if err != nil {
				buildErr = fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, "phoneprov"), filepath.Join(binDir, "phonesim")
}

// TestMain runs up to six lab tests at once (they wait for phones'
// retries and timers more than they compute) and removes the binaries
// built for them.
func TestMain(m *testing.M) {
	netlabtest.ParallelLabs(6)
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// labRun is one run of lab.sh.
type labRun struct {
	cmd            *exec.Cmd
	stdout, stderr *syncbuf.Buffer
}

func startLab(t *testing.T, ctx context.Context, args ...string) *labRun {
	t.Helper()
	pp, ps := binaries(t)
	all := append([]string{"../../deploy/lab/lab.sh", "--phoneprov", pp, "--phonesim", ps}, args...)
	cmd := exec.CommandContext(ctx, "bash", all...)
	r := &labRun{cmd: cmd, stdout: &syncbuf.Buffer{}, stderr: &syncbuf.Buffer{}}
	cmd.Stdout, cmd.Stderr = r.stdout, r.stderr
	// Its own process group, as a shell gives a foreground job: Ctrl-C
	// reaches the whole group.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return r
}

// labLeftovers lists what a lab run with this PID may have left behind.
func labLeftovers(t *testing.T, pid int, tmp string) []string {
	t.Helper()
	var left []string
	out, err := exec.Command("ip", "netns", "list").CombinedOutput()
	if err != nil {
		t.Fatalf("ip netns list: %v: %s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, fmt.Sprintf("pp-lab-srv-%d", pid)) || strings.Contains(line, fmt.Sprintf("pp-lab-phones-%d", pid)) {
			left = append(left, "namespace "+strings.Fields(line)[0])
		}
	}
	for _, link := range []string{fmt.Sprintf("pps%d", pid), fmt.Sprintf("ppp%d", pid)} {
		if exec.Command("ip", "link", "show", link).Run() == nil {
			left = append(left, "link "+link)
		}
	}
	if tmp != "" {
		if _, err := os.Stat(tmp); err == nil {
			left = append(left, "folder "+tmp)
		}
		// Processes still running with the lab's files (phoneprov -c tmp/…, dnsmasq).
		procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
		for _, p := range procs {
			b, err := os.ReadFile(p)
			if err == nil && bytes.Contains(b, []byte(tmp)) {
				left = append(left, "process "+strings.ReplaceAll(string(b), "\x00", " "))
			}
		}
	}
	return left
}

var tmpLine = regexp.MustCompile(`temporary folder (\S+)`)

// finish waits for the run and checks that nothing is left behind.
func (r *labRun) finish(t *testing.T) int {
	t.Helper()
	err := r.cmd.Wait()
	code := r.cmd.ProcessState.ExitCode()
	if err != nil && code < 0 {
		t.Fatalf("lab.sh: %v\nstderr:\n%s", err, r.stderr.String())
	}
	tmp := ""
	if m := tmpLine.FindStringSubmatch(r.stderr.String()); m != nil {
		tmp = m[1]
	}
	if left := labLeftovers(t, r.cmd.Process.Pid, tmp); len(left) > 0 {
		t.Errorf("lab.sh left behind: %s", strings.Join(left, "; "))
	}
	return code
}

// decodeSummary reads phonesim's JSON summary at the start of stdout.
func decodeSummary(t *testing.T, stdout string) storm.Summary {
	t.Helper()
	var s storm.Summary
	if err := json.NewDecoder(strings.NewReader(stdout)).Decode(&s); err != nil {
		t.Fatalf("phonesim's JSON: %v\nstdout:\n%s", err, stdout)
	}
	return s
}

// checkFleet checks a mixed fleet against the sample tree in
// testdata/files: J179, 96x1 and 4600 firmware are there, 1600 firmware is
// not, Cisco and Polycom configurations are not. Backups: the table says
// the 1600 and 9608 back up by HTTP PUT, the 4600 by FTP (not simulated),
// and has no backup fact for the J179 and 9641.
func checkFleet(t *testing.T, s storm.Summary, phones int, tableOut string) {
	t.Helper()
	if s.Phones != phones || s.Failed != 0 {
		var b strings.Builder
		s.WriteText(&b, 0)
		t.Fatalf("want %d phones, none failed:\n%s", phones, b.String())
	}
	seen := map[string]bool{}
	for _, r := range s.Results {
		seen[r.Model] = true
		want := map[string]struct {
			state    phone.State
			firmware string
			boots    int
		}{
			"J179":     {phone.Provisioned, "4.1.3.0.6", 2},
			"9608":     {phone.Provisioned, "7.1.15.0.4", 2},
			"9641":     {phone.Provisioned, "7.1.15.0.4", 2},
			"4621":     {phone.Provisioned, "2.8.3", 2},
			"1608":     {phone.Provisioned, "1.3.12", 1},
			"CP-7941G": {phone.Kept, "SCCP41.9-3-1SR1-1S", 1},
			"VVX 410":  {phone.Kept, "5.9.5.0614", 1},
		}[r.Model]
		if r.State != want.state || r.Firmware != want.firmware || r.Boots != want.boots {
			t.Errorf("%s %s: %s, firmware %s, %d boots; want %s, %s, %d boots (notes %q)", r.MAC, r.Model, r.State, r.Firmware, r.Boots, want.state, want.firmware, want.boots, r.Notes)
		}
		if strings.HasPrefix(r.Model, "J") || strings.HasPrefix(r.Model, "96") || r.Model == "1608" || r.Model == "4621" {
			if r.TrustedCerts != 1 {
				t.Errorf("%s %s trusts %d certificates, want the appliance's CA", r.MAC, r.Model, r.TrustedCerts)
			}
			// A phone that restarted fetched its script over verified
			// HTTPS on the last boot; every one backed up its settings.
			var https, put bool
			for _, f := range r.Files {
				script := strings.HasSuffix(f.URL, "upgrade.txt") || strings.HasSuffix(f.URL, "upgrade.scr")
				if script && f.Boot == r.Boots && f.Protocol == "https" && f.Error == "" {
					https = true
				}
				if f.Method == "PUT" && f.Status == 201 {
					put = true
				}
			}
			wantPut := r.Model == "1608" || r.Model == "9608"
			if r.Boots > 1 && !https || put != wantPut {
				t.Errorf("%s %s: verified HTTPS script %v, backup %v (want %v); files %+v", r.MAC, r.Model, https, put, wantPut, r.Files)
			}
			if r.Model == "4621" && r.Backup != phone.BackupFTPSkipped {
				t.Errorf("%s 4621: backup %q, want %q", r.MAC, r.Backup, phone.BackupFTPSkipped)
			}
		}
		if r.Model == "J179" && !strings.Contains(tableOut, r.MAC) {
			t.Errorf("phoneprov phones does not list %s", r.MAC)
		}
	}
	for _, m := range []string{"J179", "9608", "9641", "4621", "1608", "CP-7941G", "VVX 410"} {
		if !seen[m] {
			t.Errorf("no %s in the fleet", m)
		}
	}
	if s.Protocols["https"].Bytes == 0 || s.Protocols["http"].Requests == 0 || s.Protocols["tftp"].Requests == 0 {
		t.Errorf("protocols %+v: want HTTPS bytes, HTTP (first boots) and TFTP (Cisco)", s.Protocols)
	}
}

func runFleet(t *testing.T, dhcp string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const phones = 40
	r := startLab(t, ctx, "--dhcp", dhcp, "--phones", fmt.Sprint(phones), "--spread", "1s", "--reboot-delay", "100ms",
		"--mix", "j179=10,9608=6,9641=4,4621=6,1608=6,7941=4,vvx410=4", "--", "-json", "-seed", "4242", "-timeout", "60s")
	code := r.finish(t)
	if code != 0 {
		t.Fatalf("lab.sh exited %d\nstderr:\n%s\nstdout:\n%s", code, r.stderr.String(), r.stdout.String())
	}
	out := r.stdout.String()
	table := out[strings.Index(out, "What phoneprov saw"):]
	checkFleet(t, decodeSummary(t, out), phones, table)
}

func TestLabWithDnsmasq(t *testing.T) {
	t.Parallel()
	need(t, "ip", "dnsmasq")
	runFleet(t, "dnsmasq")
}

func TestLabWithPhoneprovDHCP(t *testing.T) {
	t.Parallel()
	need(t, "ip")
	runFleet(t, "phoneprov")
}

// One phone of every vendor the fact table and the server both know boots
// against phoneprov (DHCP and files): each gets the options the table says
// it reads and asks for the first file the table names, through the
// presets lab.sh configures (avaya, cisco, cisco-mpp, polycom, yealink,
// snom, grandstream, mitel, mitel-sip). The J179 does not ask for 242
// (CORRECTIONS claim 8): the avaya preset sends it unasked.
func TestLabEveryVendor(t *testing.T) {
	t.Parallel()
	need(t, "ip")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	want := []struct {
		key, model string
		option     int
		first      string // "" for none; <MAC>/<mac> as in the table
	}{
		{"j179", "J179", 242, "J100Supgrade.txt"},
		{"9608", "9608", 242, "96x1Supgrade.txt"},
		{"1608", "1608", 242, "16xxupgrade.txt"},
		{"4621", "4621", 176, "46xxupgrade.scr"},
		{"7941", "CP-7941G", 150, "CTLSEP<MAC>.tlv"},
		{"7841", "CP-7841-3PCC", 66, "7841-3PCC.xml"},
		{"vvx410", "VVX 410", 66, "<mac>.cfg"},
		{"t41p", "SIP-T41P", 66, "<mac>.cfg"},
		{"snom710", "710", 66, "snom710.htm"},
		{"gxp1628", "GXP1628", 66, "cfg<mac>.xml"},
		{"5320", "5320", 43, ""},
		{"6731i", "6731i", 66, "<MAC>.cfg"},
		{"6920", "6920", 66, "<MAC>.cfg"},
	}
	var mix []string
	for _, w := range want {
		mix = append(mix, w.key+"=1")
	}
	r := startLab(t, ctx, "--phones", fmt.Sprint(len(want)), "--spread", "1s", "--reboot-delay", "100ms",
		"--mix", strings.Join(mix, ","), "--", "-json", "-seed", "11", "-timeout", "60s")
	if code := r.finish(t); code != 0 {
		t.Fatalf("lab.sh exited %d\nstderr:\n%s\nstdout:\n%s", code, r.stderr.String(), r.stdout.String())
	}
	s := decodeSummary(t, r.stdout.String())
	byModel := map[string]phone.Result{}
	for _, res := range s.Results {
		byModel[res.Model] = res
	}
	for _, w := range want {
		res, ok := byModel[w.model]
		if !ok {
			t.Errorf("no %s booted", w.model)
			continue
		}
		if res.State == phone.Failed || !slices.Contains(res.OptionsRead, w.option) {
			t.Errorf("%s: %s (%s %s), options read %v, want option %d", w.model, res.State, res.Step, res.Reason, res.OptionsRead, w.option)
		}
		if w.first == "" {
			if len(res.Files) != 0 {
				t.Errorf("%s fetched %+v, want nothing", w.model, res.Files)
			}
			continue
		}
		hex := strings.ReplaceAll(res.MAC, ":", "")
		file := strings.NewReplacer("<MAC>", strings.ToUpper(hex), "<mac>", hex).Replace(w.first)
		if len(res.Files) == 0 || !strings.HasSuffix(res.Files[0].URL, "/"+file) {
			t.Errorf("%s: first transfer %+v, want %s", w.model, res.Files, file)
		}
	}
}

func TestLabCleansUpOnCtrlC(t *testing.T) {
	t.Parallel()
	need(t, "ip")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// Phones switched on over a minute: the run is still going when the
	// interrupt comes.
	r := startLab(t, ctx, "--phones", "300", "--spread", "60s")
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(r.stderr.String(), "phonesim:") {
		if time.Now().After(deadline) {
			t.Fatalf("phonesim did not start:\n%s", r.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second) // some phones hold addresses now
	// Ctrl-C: SIGINT to the whole foreground process group.
	if err := syscall.Kill(-r.cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	code := r.finish(t)
	if code != 130 {
		t.Errorf("exit %d after Ctrl-C, want 130\nstderr:\n%s", code, r.stderr.String())
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("cleanup took %v", d)
	}
}

func TestLabRefusesBadArguments(t *testing.T) {
	need(t, "ip")
	for _, args := range [][]string{{"--phones", "0"}, {"--dhcp", "kea"}, {"--frob"}} {
		r := startLab(t, context.Background(), args...)
		if code := r.finish(t); code == 0 {
			t.Errorf("lab.sh %v exited 0", args)
		}
	}
}
