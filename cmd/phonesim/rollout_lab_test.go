package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/phoneprov/phoneprov/cmd/phonesim/internal/phone"
	"github.com/phoneprov/phoneprov/cmd/phonesim/internal/storm"
	"github.com/phoneprov/phoneprov/deploy/netlab"
	"github.com/phoneprov/phoneprov/internal/syncbuf"
)

// The roll-out lab: phoneprov (DHCP, files, admin API) in one network
// namespace, phonesim's 9608s in another, run after run with -state so
// the same phones power-cycle with the firmware they were left on. Small
// by default so `make test` stays fast; the sizes are
//
//	go test -count=1 -v -timeout 60m -run 'TestLabRollout|TestLabDownloadCap' ./cmd/phonesim \
//	  -args -rollout.phones 500 -storm.phones 1000 -storm.mb 20 -storm.cap 50
//
// (make bench-rollout).
var (
	rolloutPhones = flag.Int("rollout.phones", 40, "phones in the roll-out lab runs")
	stormPhones   = flag.Int("storm.phones", 60, "phones in the download-cap storm")
	stormMB       = flag.Int("storm.mb", 1, "size of the storm's firmware image, MB")
	stormCap      = flag.Int("storm.cap", 5, "the download cap of the capped storm")
)

// The firmware of the runs: every 9608 comes out of the box on A (the
// phone fact table's 7.1.13.0.4); B is the roll-out's target.
const (
	fwA, fwB     = "S96x1_SALBR7_1_13_0_4_r.tar", "S96x1_SALBR7_1_15_0_4_r.tar"
	versionA     = "7.1.13.0.4"
	versionB     = "7.1.15.0.4"
	labServer    = "198.18.0.1"
	labAdminPort = "9167"
)

// rolloutLab is the two namespaces, the file tree and phoneprov.
type rolloutLab struct {
	t                *testing.T
	lab              *netlab.Lab
	srv, phones      *netlab.Namespace
	srvIf, phonesIf  string
	dir, files, data string
	pp, ps           string // binaries
	cmd              *exec.Cmd
	log              *syncbuf.Buffer
	admin            *http.Client
	seed             string
}

func newRolloutLab(t *testing.T) *rolloutLab {
	t.Helper()
	need(t, "ip")
	if err := netlab.Available(); err != nil {
		t.Skip(err)
	}
	pp, ps := binaries(t)
	l := &rolloutLab{t: t, lab: netlab.New(), dir: t.TempDir(), pp: pp, ps: ps, seed: "1616"}
	t.Cleanup(func() {
		l.stop()
		if err := l.lab.Close(); err != nil {
			t.Errorf("lab: %v", err)
		}
	})
	var err error
	if l.srv, err = l.lab.Namespace("srv"); err != nil {
		t.Fatal(err)
	}
	if l.phones, err = l.lab.Namespace("phones"); err != nil {
		t.Fatal(err)
	}
	if l.srvIf, l.phonesIf, err = l.lab.Veth(l.srv, l.phones); err != nil {
		t.Fatal(err)
	}
	if err := l.srv.AddAddr(l.srvIf, netip.MustParsePrefix(labServer+"/16")); err != nil {
		t.Fatal(err)
	}
	l.files, l.data = filepath.Join(l.dir, "files"), filepath.Join(l.dir, "data")
	for _, d := range []string{l.files, l.data, filepath.Join(l.dir, "run")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	l.writeFile(fwA, 64<<10)
	// The admin API listens on loopback inside the server namespace: the
	// client's sockets are opened there.
	l.admin = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var c net.Conn
			err := l.srv.Do(func() error {
				var err error
				c, err = (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, addr)
				return err
			})
			return c, err
		},
	}}
	return l
}

// writeFile puts a firmware image of size bytes into the file tree.
func (l *rolloutLab) writeFile(name string, size int) {
	l.t.Helper()
	if err := os.WriteFile(filepath.Join(l.files, name), bytes.Repeat([]byte{0x5a}, size), 0o644); err != nil {
		l.t.Fatal(err)
	}
}

// config writes phoneprov's configuration with extra sections appended.
func (l *rolloutLab) config(extra string) string {
	l.t.Helper()
	path := filepath.Join(l.dir, "phoneprov.toml")
	cfg := fmt.Sprintf(`data_dir = %q
[log]
level = "info"
[admin]
listen = "127.0.0.1:%s"
[fileserve]
root = %q
drain_timeout = "2s"
[fileserve.http]
listen = ["%[4]s:80"]
[fileserve.https]
listen = ["%[4]s:443", "%[4]s:411"]
[provisioning]
https_port = 443
[provisioning.rollout]
check_interval = "100ms"
come_back_window = "5m"
[dhcp]
enabled = true
lock_dir = %q
lease_time = "1h"
[[dhcp.subnet]]
cidr = "198.18.0.0/16"
interface = %q
routers = ["%[4]s"]
[[dhcp.subnet.pool]]
start = "198.18.1.1"
end = "198.18.254.254"
[[dhcp.class]]
preset = "avaya"
call_servers = ["198.18.0.2"]
%[7]s
`, l.data, labAdminPort, l.files, labServer, filepath.Join(l.dir, "run"), l.srvIf, extra)
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		l.t.Fatal(err)
	}
	return path
}

// start runs phoneprov and waits until its admin API answers.
func (l *rolloutLab) start(extra string) {
	l.t.Helper()
	cfg := l.config(extra)
	l.log = &syncbuf.Buffer{}
	// ip netns exec execs phoneprov in place: the PID is phoneprov's.
	l.cmd = l.srv.Command(context.Background(), l.pp, "serve", "-c", cfg)
	l.cmd.Stdout, l.cmd.Stderr = l.log, l.log
	if err := l.cmd.Start(); err != nil {
		l.t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := l.admin.Get("http://127.0.0.1:" + labAdminPort + "/api/rollouts")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			l.t.Fatalf("phoneprov did not start: %v\n%s", err, l.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop ends phoneprov: SIGTERM, or SIGKILL when kill is set.
func (l *rolloutLab) stopWith(sig syscall.Signal) {
	if l.cmd == nil || l.cmd.Process == nil {
		return
	}
	_ = l.cmd.Process.Signal(sig)
	done := make(chan struct{})
	go func() { _ = l.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = l.cmd.Process.Kill()
		<-done
	}
	l.cmd = nil
}

func (l *rolloutLab) stop() { l.stopWith(syscall.SIGTERM) }

// api sends a request to the admin API and decodes the JSON answer.
func (l *rolloutLab) api(method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "http://127.0.0.1:"+labAdminPort+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := l.admin.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// labRollout is the part of a roll-out the lab reads (the admin API's
// JSON, decoded without importing phoneprov's packages).
type labRollout struct {
	ID      int                  `json:"id"`
	Status  string               `json:"status"`
	Reason  string               `json:"reason"`
	Wave    int                  `json:"wave"`
	Waves   []float64            `json:"waves"`
	Members map[string]labMember `json:"members"`
}

type labMember struct {
	Wave  int    `json:"wave"`
	State string `json:"state"`
}

// counts is how many members are in each state, for the report.
func (r labRollout) counts() string {
	n := map[string]int{}
	for _, m := range r.Members {
		n[m.State]++
	}
	var parts []string
	for _, s := range []string{"pending", "fetched", "upgraded", "failed", "absent"} {
		if n[s] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", s, n[s]))
		}
	}
	return strings.Join(parts, ", ")
}

func (l *rolloutLab) rollout() labRollout {
	l.t.Helper()
	var list []labRollout
	if err := l.api(http.MethodGet, "/api/rollouts", nil, &list); err != nil {
		l.t.Fatal(err)
	}
	if len(list) == 0 {
		l.t.Fatal("no roll-out")
	}
	return list[0]
}

// rawRollouts is the admin API's answer as it is, for comparisons.
func (l *rolloutLab) rawRollouts() string {
	l.t.Helper()
	var v any
	if err := l.api(http.MethodGet, "/api/rollouts", nil, &v); err != nil {
		l.t.Fatal(err)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// boot powers every phone on once (phonesim with -state) and returns
// its summary and how long it took. extra are further phonesim options.
func (l *rolloutLab) boot(phones int, extra ...string) (storm.Summary, time.Duration) {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	args := append([]string{"-i", l.phonesIf, "-phones", strconv.Itoa(phones), "-mix", "9608=1", "-seed", l.seed,
		"-state", filepath.Join(l.dir, "phones.json"), "-facts", l.factsDir(), "-json", "-progress", "none",
		"-spread", "2s", "-reboot-delay", "200ms", "-timeout", "10m", "-dhcp-retry", "1s"}, extra...)
	cmd := l.phones.Command(ctx, l.ps, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	if err != nil && cmd.ProcessState.ExitCode() != 1 {
		l.t.Fatalf("phonesim: %v\n%s", err, stderr.String())
	}
	var s storm.Summary
	if err := json.Unmarshal(stdout.Bytes(), &s); err != nil {
		l.t.Fatalf("phonesim's JSON: %v\n%s", err, stderr.String())
	}
	return s, took
}

// factsDir is the phone fact table, absolute (phonesim runs elsewhere).
func (l *rolloutLab) factsDir() string {
	d, err := filepath.Abs("../../testdata/phones")
	if err != nil {
		l.t.Fatal(err)
	}
	return d
}

// firmwareOf counts the phones of a summary by the firmware they ended on.
func firmwareOf(s storm.Summary) map[string]int {
	out := map[string]int{}
	for _, r := range s.Results {
		out[r.Firmware]++
	}
	return out
}

// fetchedB returns the MACs of the phones that asked for B in a run
// (any answer: a request means the script named B to them).
func fetchedB(s storm.Summary) []string {
	var out []string
	for _, r := range s.Results {
		if slices.ContainsFunc(r.Files, func(f phone.Record) bool { return strings.HasSuffix(f.URL, "/"+fwB) }) {
			out = append(out, r.MAC)
		}
	}
	return out
}

// settle waits until the roll-out has folded in what the phones did: no
// member is left fetched (every phone that downloaded B came back during
// the run) and the state stayed the same for ten looks at the inventory.
func (l *rolloutLab) settle() labRollout {
	l.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	last, since := "", time.Now()
	for {
		raw := l.rawRollouts()
		if raw != last {
			last, since = raw, time.Now()
		}
		r := l.rollout()
		fetched := 0
		for _, m := range r.Members {
			if m.State == "fetched" {
				fetched++
			}
		}
		if fetched == 0 && time.Since(since) > time.Second || time.Now().After(deadline) {
			return r
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// prepare boots every phone once on A, adds B to the tree and starts
// the roll-out of 96x1S to B: a canary of 5 % (at least 2), then waves
// of 40 % and 100 %.
func (l *rolloutLab) prepare(n int) labRollout {
	l.t.Helper()
	l.start("")
	s, took := l.boot(n)
	if fw := firmwareOf(s); fw[versionA] != n || s.Failed != 0 {
		l.t.Fatalf("first boot: firmware %v, %d failed; want all %d on %s", fw, s.Failed, n, versionA)
	}
	l.t.Logf("boot 0: %d phones on %s in %s", n, versionA, took.Round(time.Millisecond))
	l.writeFile(fwB, 64<<10)
	canary := max(2, n/20)
	var r labRollout
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := l.api(http.MethodPost, "/api/rollouts", map[string]any{
			"series": "96x1S", "version": versionB, "canary": map[string]int{"count": canary}, "waves": []float64{0.4, 1},
		}, &r)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			l.t.Fatalf("start: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	l.t.Logf("roll-out %d started: 96x1S → %s, canary %d phones, waves 40 %%, 100 %%", r.ID, versionB, len(r.Members))
	return r
}

// runWaves boots the phones until the roll-out is done, checking after
// every boot that only members were offered B; with kill set, phoneprov
// is killed (SIGKILL) once wave 1 has started and must come back in the
// same state.
func runWaves(t *testing.T, kill bool) {
	l := newRolloutLab(t)
	n := *rolloutPhones
	l.prepare(n)
	killed := false
	for round := 1; round <= 8; round++ {
		s, took := l.boot(n)
		r := l.settle()
		for _, mac := range fetchedB(s) {
			if _, ok := r.Members[mac]; !ok {
				t.Errorf("boot %d: %s asked for B but is in no wave", round, mac)
			}
		}
		t.Logf("boot %d: %s; phones %v; roll-out %s, wave %d/%d, members: %s", round, took.Round(time.Millisecond),
			firmwareOf(s), r.Status, r.Wave, len(r.Waves), r.counts())
		if r.Status == "done" {
			if fw := firmwareOf(s); fw[versionB] != n {
				t.Errorf("done, but the phones are on %v; want all %d on %s", fw, n, versionB)
			}
			if err := l.api(http.MethodPost, "/api/rollouts/0/finish", struct{}{}, nil); err != nil {
				t.Error(err)
			}
			return
		}
		if r.Status != "running" {
			t.Fatalf("boot %d: roll-out %s: %s", round, r.Status, r.Reason)
		}
		if kill && !killed && r.Wave >= 1 {
			before := l.rawRollouts()
			pid := l.cmd.Process.Pid
			l.stopWith(syscall.SIGKILL)
			l.start("")
			after := l.rawRollouts()
			if after != before {
				t.Fatalf("after kill -9 the roll-outs differ:\nbefore %s\nafter  %s", before, after)
			}
			t.Logf("kill -9 of phoneprov (pid %d) in wave %d; restarted: /api/rollouts is the same (%d bytes)", pid, r.Wave, len(after))
			killed = true
		}
	}
	t.Fatalf("the roll-out was not done after 8 boots: %+v", l.rollout())
}

// TestLabRolloutWaves: all phones on A, B rolled out in a canary and
// two growing waves; every phone ends on B and no phone outside a
// started wave is offered B.
func TestLabRolloutWaves(t *testing.T) {
	t.Parallel()
	runWaves(t, false)
}

// TestLabRolloutKill9: the same, with phoneprov killed with SIGKILL once
// wave 1 has started: it comes back in the same state and goes on.
func TestLabRolloutKill9(t *testing.T) {
	t.Parallel()
	runWaves(t, true)
}

// TestLabRolloutBrake: the phones refuse B (they download it and come
// back on A); the roll-out brakes in the canary wave and no phone outside
// the canary is offered B, then or on the next boot.
func TestLabRolloutBrake(t *testing.T) {
	t.Parallel()
	l := newRolloutLab(t)
	n := *rolloutPhones
	first := l.prepare(n)
	for round, extra := range [][]string{{"-refuse-firmware", versionB}, nil} {
		s, took := l.boot(n, extra...)
		r := l.settle()
		var outside []string
		for _, mac := range fetchedB(s) {
			if m, ok := first.Members[mac]; !ok || m.Wave != 0 {
				outside = append(outside, mac)
			}
		}
		t.Logf("boot %d %v: %s; phones %v, asked for B: %d (outside the canary: %d); roll-out %s, wave %d, members: %s",
			round+1, extra, took.Round(time.Millisecond), firmwareOf(s), len(fetchedB(s)), len(outside), r.Status, r.Wave, r.counts())
		if len(outside) > 0 {
			t.Errorf("phones outside the canary were offered B: %v", outside)
		}
		if r.Status != "braked" || r.Wave != 0 || len(r.Members) != len(first.Members) {
			t.Fatalf("roll-out %s in wave %d with %d members (%s); want braked in the canary wave", r.Status, r.Wave, len(r.Members), r.Reason)
		}
		if round == 0 {
			t.Logf("brake: %s", r.Reason)
		}
	}
}

// metric reads one sample of phoneprov's /metrics.
func (l *rolloutLab) metric(name string) float64 {
	l.t.Helper()
	resp, err := l.admin.Get("http://127.0.0.1:" + labAdminPort + "/metrics")
	if err != nil {
		l.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	total := 0.0
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `(\{[^}]*\})? (\S+)$`)
	for _, m := range re.FindAllStringSubmatch(string(b), -1) {
		v, _ := strconv.ParseFloat(m[2], 64)
		total += v
	}
	return total
}

// TestLabDownloadCap: a storm of phones that all find a newer image,
// uncapped and then with the cap: phoneprov's peak of firmware downloads
// in flight stays within the cap, every phone ends on the new firmware,
// and both times are reported.
func TestLabDownloadCap(t *testing.T) {
	t.Parallel()
	l := newRolloutLab(t)
	n, size, limit := *stormPhones, *stormMB<<20, *stormCap
	l.writeFile(fwB, size)
	for _, capped := range []bool{false, true} {
		extra := ""
		if capped {
			extra = fmt.Sprintf("[provisioning.downloads]\nmax_concurrent = %d\nretry_after = \"2s\"", limit)
		}
		// A fresh appliance and fresh phones each time (all on A).
		l.stop()
		for _, p := range []string{l.data, filepath.Join(l.dir, "phones.json")} {
			if err := os.RemoveAll(p); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.MkdirAll(l.data, 0o755); err != nil {
			t.Fatal(err)
		}
		l.start(extra)
		s, took := l.boot(n, "-spread", "0s", "-fetch-tries", "400", "-fetch-backoff", "500ms", "-fetch-backoff-max", "2s", "-request-timeout", "5m")
		peak, refused := l.metric("phoneprov_firmware_downloads_peak"), l.metric("phoneprov_firmware_downloads_refused_total")
		fw := firmwareOf(s)
		t.Logf("storm of %d phones, %d MB image, cap %d: %s; peak in flight %g, refused %g; phones %v, failed %d",
			n, *stormMB, map[bool]int{true: limit}[capped], took.Round(time.Millisecond), peak, refused, fw, s.Failed)
		if fw[versionB] != n || s.Failed != 0 {
			var b strings.Builder
			s.WriteText(&b, 10)
			t.Errorf("want all %d on %s:\n%s", n, versionB, b.String())
		}
		if capped && (peak > float64(limit) || peak < 1) {
			t.Errorf("peak %g with a cap of %d", peak, limit)
		}
	}
}
