package deploy_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/phoneprov/phoneprov/deploy"
	"github.com/phoneprov/phoneprov/deploy/internal/deploytest"
)

// unit is a parsed systemd unit: "Section.Key" → values in file order.
type unit map[string][]string

// one returns the single value of key, or "" with ok false when the key is
// missing or set more than once.
func (u unit) one(key string) (string, bool) {
	if len(u[key]) != 1 {
		return "", false
	}
	return u[key][0], true
}

func unitPath(t *testing.T) string {
	return filepath.Join(deploytest.RepoRoot(t), "deploy", "systemd", "phoneprov.service")
}

func parseUnit(t *testing.T, path string) unit {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u := unit{}
	section := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = strings.Trim(line, "[]")
		default:
			key, value, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s:%d: not a key=value line in a section: %q", path, n, line)
			}
			u[section+"."+key] = append(u[section+"."+key], value)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return u
}

// TestUnitSettings pins what the service promises: who it runs as, where
// its files are, and the hardening. Removing a line by accident fails here.
func TestUnitSettings(t *testing.T) {
	u := parseUnit(t, unitPath(t))
	exact := map[string]string{
		"Unit.Wants":                      "network-online.target",
		"Unit.After":                      "network-online.target",
		"Service.Type":                    "notify",
		"Service.NotifyAccess":            "main",
		"Service.WatchdogSec":             "30s",
		"Service.LogsDirectory":           "phoneprov",
		"Service.User":                    "phoneprov",
		"Service.Group":                   "phoneprov",
		"Service.ExecStart":               "/usr/bin/phoneprov serve -c /etc/phoneprov/phoneprov.toml",
		"Service.ExecReload":              "/bin/kill -HUP $MAINPID",
		"Service.Restart":                 "on-failure",
		"Service.LimitNOFILE":             "65536",
		"Service.StateDirectory":          "phoneprov",
		"Service.StateDirectoryMode":      "0750",
		"Service.RuntimeDirectory":        "phoneprov",
		"Service.ConfigurationDirectory":  "phoneprov",
		"Service.NoNewPrivileges":         "yes",
		"Service.ProtectSystem":           "strict",
		"Service.ProtectHome":             "yes",
		"Service.PrivateTmp":              "yes",
		"Service.PrivateDevices":          "yes",
		"Service.ProtectKernelTunables":   "yes",
		"Service.ProtectKernelModules":    "yes",
		"Service.ProtectKernelLogs":       "yes",
		"Service.ProtectControlGroups":    "yes",
		"Service.RestrictNamespaces":      "yes",
		"Service.LockPersonality":         "yes",
		"Service.MemoryDenyWriteExecute":  "yes",
		"Service.RestrictRealtime":        "yes",
		"Service.RestrictSUIDSGID":        "yes",
		"Service.SystemCallArchitectures": "native",
		"Install.WantedBy":                "multi-user.target",
	}
	for key, want := range exact {
		if got, ok := u.one(key); !ok || got != want {
			t.Errorf("%s = %q, want exactly one %q", key, u[key], want)
		}
	}
	sets := map[string][]string{
		"Service.AmbientCapabilities":     {"CAP_NET_ADMIN", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW"},
		"Service.CapabilityBoundingSet":   {"CAP_NET_ADMIN", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW"},
		"Service.RestrictAddressFamilies": {"AF_INET", "AF_INET6", "AF_NETLINK", "AF_PACKET", "AF_UNIX"},
	}
	for key, want := range sets {
		got := strings.Fields(strings.Join(u[key], " "))
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s = %v, want %v", key, got, want)
		}
	}
	// A stable user (see the unit's comment); no extra writable paths; no
	// user namespace, in which the capabilities would not reach the host's
	// network.
	for _, key := range []string{"Service.DynamicUser", "Service.ReadWritePaths", "Service.PrivateUsers", "Service.PrivateNetwork"} {
		if v, ok := u[key]; ok {
			t.Errorf("%s is set (%q); the unit must not set it", key, v)
		}
	}
	if f := u["Service.SystemCallFilter"]; len(f) == 0 || f[0] != "@system-service" {
		t.Errorf("SystemCallFilter starts with %q, want the allow list @system-service", f)
	}
}

// TestUnitMatchesExampleConfig: the packaged configuration keeps its data
// and its DHCP locks in the folders the unit makes writable.
func TestUnitMatchesExampleConfig(t *testing.T) {
	var cfg struct {
		DataDir string `toml:"data_dir"`
		DHCP    struct {
			LockDir string `toml:"lock_dir"`
		} `toml:"dhcp"`
	}
	if _, err := toml.Decode(string(deploy.ExampleConfig()), &cfg); err != nil {
		t.Fatalf("example configuration: %v", err)
	}
	u := parseUnit(t, unitPath(t))
	state, _ := u.one("Service.StateDirectory")
	if want := "/var/lib/" + state; cfg.DataDir != want {
		t.Errorf("example data_dir = %q, the unit's StateDirectory is %s", cfg.DataDir, want)
	}
	runtime, _ := u.one("Service.RuntimeDirectory")
	if cfg.DHCP.LockDir != "" && cfg.DHCP.LockDir != "/run/"+runtime {
		t.Errorf("example dhcp.lock_dir = %q, the unit's RuntimeDirectory is /run/%s", cfg.DHCP.LockDir, runtime)
	}
}

// TestUnitVerifies runs systemd-analyze verify, which checks every
// directive offline. It names no unknown binary: /usr/bin/phoneprov is
// replaced by an executable in a temporary folder; nothing else changes.
// Any output is a failure: unknown keys and bad values are only warnings.
func TestUnitVerifies(t *testing.T) {
	deploytest.NeedTools(t, "systemd-analyze")
	text, err := os.ReadFile(unitPath(t))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	exe := filepath.Join(dir, "phoneprov")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(text), "/usr/bin/phoneprov "); n != 1 {
		t.Fatalf("the unit names /usr/bin/phoneprov %d times, want once (ExecStart)", n)
	}
	unitCopy := filepath.Join(dir, "phoneprov.service")
	if err := os.WriteFile(unitCopy, []byte(strings.Replace(string(text), "/usr/bin/phoneprov ", exe+" ", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := deploytest.Output(t.Context(), time.Minute, "systemd-analyze", "verify", unitCopy)
	if err != nil || strings.TrimSpace(out) != "" {
		t.Fatalf("systemd-analyze verify: err %v, output:\n%s", err, out)
	}
}

// maxExposure is the highest acceptable `systemd-analyze security` score
// (0 best, 10 worst). What remains is what a DHCP and file server needs:
// the host's network, raw and netlink sockets, three capabilities.
const maxExposure = 2.5

func TestUnitSecurityExposure(t *testing.T) {
	deploytest.NeedTools(t, "systemd-analyze")
	out := deploytest.Run(t, time.Minute, "systemd-analyze", "security", "--offline=yes", "--no-pager", unitPath(t))
	m := regexp.MustCompile(`Overall exposure level for phoneprov\.service: ([0-9.]+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no overall exposure level in:\n%s", out)
	}
	score, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("exposure level %.1f", score)
	if score > maxExposure {
		t.Errorf("exposure level %.1f is above %.1f:\n%s", score, maxExposure, out)
	}
}

// syscallSets reads systemd's named system call sets (`systemd-analyze
// syscall-filter`): "@name" → members, which may name other sets.
func syscallSets(t *testing.T) map[string][]string {
	t.Helper()
	out := deploytest.Run(t, time.Minute, "systemd-analyze", "syscall-filter", "--no-pager")
	sets := map[string][]string{}
	current := ""
	for _, line := range strings.Split(out, "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "" || strings.HasPrefix(trimmed, "#"):
		case !strings.HasPrefix(line, " ") && strings.HasPrefix(trimmed, "@"):
			current = trimmed
			sets[current] = nil
		case current != "":
			sets[current] = append(sets[current], trimmed)
		}
	}
	if len(sets["@system-service"]) == 0 || len(sets["@default"]) == 0 {
		t.Fatalf("systemd-analyze syscall-filter lists no @system-service or @default:\n%s", out)
	}
	return sets
}

// expand adds the system calls of name (a call or an @set) to into.
func expand(t *testing.T, sets map[string][]string, name string, into map[string]bool) {
	t.Helper()
	if !strings.HasPrefix(name, "@") {
		into[name] = true
		return
	}
	members, ok := sets[name]
	if !ok {
		t.Fatalf("unknown system call set %s", name)
	}
	for _, m := range members {
		expand(t, sets, m, into)
	}
}

// allowedSyscalls is what the unit's SystemCallFilter= lines let through:
// the allow list, with @default (always allowed), less every ~ list.
func allowedSyscalls(t *testing.T, u unit) map[string]bool {
	t.Helper()
	sets := syscallSets(t)
	allow, deny := map[string]bool{}, map[string]bool{}
	expand(t, sets, "@default", allow)
	for _, line := range u["Service.SystemCallFilter"] {
		into := allow
		if strings.HasPrefix(line, "~") {
			into, line = deny, strings.TrimPrefix(line, "~")
		}
		for _, name := range strings.Fields(line) {
			expand(t, sets, name, into)
		}
	}
	for name := range deny {
		delete(allow, name)
	}
	return allow
}

var (
	straceCall   = regexp.MustCompile(`^\d+\s+([a-z0-9_]+)\(`)
	straceSocket = regexp.MustCompile(`^\d+\s+socket\((AF_[A-Z0-9]+)`)
	// straceLostTrack is the name strace gives a "call" whose number is a
	// negative errno (the last 4,096 values): its own bookkeeping slipped and it took
	// a return value for a call number (CI once showed
	// syscall_0xfffffffffffffff5, that is -EAGAIN).
	straceLostTrack = regexp.MustCompile(`^syscall_0xfffffffffffff[0-9a-f]{3}$`)
	// straceUnnamed names the calls that an older strace (Debian 12's 6.1)
	// prints by number: cachestat is 451 on x86-64, arm64 and arm (Linux's
	// include/uapi/asm-generic/unistd.h and x86's syscall_64.tbl), named
	// by newer ones.
	straceUnnamed = map[string]string{"syscall_0x1c3": "cachestat"}
)

// TestServeFitsTheUnitSandbox runs `phoneprov serve` under strace with the
// DHCP server on, in a network namespace of its own, and drives every
// protocol with real clients: HTTP, HTTPS (ports 443 and 411), TFTP, a
// backup upload, /metrics, a DHCP lease (udhcpc), a SIGHUP reload and a
// SIGTERM stop. Every system call and socket family the program used must
// pass the unit's SystemCallFilter= and RestrictAddressFamilies=, which
// would otherwise fail those calls with EPERM on a real box.
//
// It sees the amd64 calls; arm64 and armhf use the same Go runtime paths
// with their own call names, all inside @system-service.
func TestServeFitsTheUnitSandbox(t *testing.T) {
	t.Parallel()
	deploytest.NeedRoot(t)
	deploytest.NeedTools(t, "strace", "systemd-analyze", "ip", "curl", "tftp", "udhcpc", "prlimit", "go")
	u := parseUnit(t, unitPath(t))
	allowed := allowedSyscalls(t, u)
	families := map[string]bool{}
	for _, f := range strings.Fields(strings.Join(u["Service.RestrictAddressFamilies"], " ")) {
		families[f] = true
	}

	dir := t.TempDir()
	bin := filepath.Join(dir, "phoneprov")
	build := deploytest.Run(t, 3*time.Minute, "env", "CGO_ENABLED=0", "go", "build", "-trimpath", "-o", bin,
		filepath.Join(deploytest.RepoRoot(t), "cmd", "phoneprov"))
	if build != "" {
		t.Logf("go build: %s", build)
	}

	lab := newNetLab(t)
	srv := lab.startTracedServer(t, bin, dir)

	ns := func(timeout time.Duration, args ...string) string {
		return deploytest.Run(t, timeout, "ip", append([]string{"netns", "exec", lab.name}, args...)...)
	}
	if got := ns(20*time.Second, "curl", "-sSf", "--max-time", "10", "-o", "/dev/null", "-w", "%{size_download}", "http://198.18.0.1/big.bin"); got != strconv.Itoa(bigFileSize) {
		t.Errorf("GET big.bin: %s bytes, want %d", got, bigFileSize)
	}
	for _, url := range []string{"http://198.18.0.1/hello.txt", "https://198.18.0.1/hello.txt", "https://198.18.0.1:411/hello.txt"} {
		if got := ns(20*time.Second, "curl", "-sSfk", "--max-time", "10", url); got != "hello\n" {
			t.Errorf("GET %s = %q, want hello", url, got)
		}
	}
	fetched := filepath.Join(dir, "fetched.txt")
	ns(20*time.Second, "tftp", "198.18.0.1", "-m", "binary", "-c", "get", "hello.txt", fetched)
	if b, err := os.ReadFile(fetched); err != nil || string(b) != "hello\n" {
		t.Errorf("TFTP hello.txt = %q, %v", b, err)
	}
	backup := "http://198.18.0.1/backup/1234_46xxdata.txt"
	if code := ns(20*time.Second, "curl", "-sS", "--max-time", "10", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT", "--data-binary", "SET X 1", backup); code != "201" && code != "204" {
		t.Errorf("PUT %s: status %s", backup, code)
	}
	if metrics := ns(20*time.Second, "curl", "-sSf", "--max-time", "10", "http://127.0.0.1:9167/metrics"); !strings.Contains(metrics, "phoneprov_") {
		t.Errorf("/metrics has no phoneprov_ metrics")
	}
	lease := ns(40*time.Second, "udhcpc", "-i", "ppc0", "-n", "-q", "-f", "-t", "4", "-T", "2", "-s", "/bin/true")
	if !strings.Contains(lease, "lease of 198.18.0.") {
		t.Errorf("udhcpc got no lease:\n%s", lease)
	}
	srv.signal(t, "HUP", "configuration reloaded")
	srv.stop(t)

	trace, err := os.ReadFile(srv.trace)
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]int{}
	var denied []string
	for _, line := range strings.Split(string(trace), "\n") {
		if m := straceCall.FindStringSubmatch(line); m != nil {
			if name, ok := straceUnnamed[m[1]]; ok {
				m[1] = name
			}
			if straceLostTrack.MatchString(m[1]) {
				// strace lost the entry/exit order of one call and read
				// its return value (-errno) as the call number; no
				// program makes such a call, the kernel would answer ENOSYS.
				t.Logf("strace lost track of a call: %s", line)
				continue
			}
			if used[m[1]] == 0 && !allowed[m[1]] {
				denied = append(denied, m[1])
			}
			used[m[1]]++
		}
		if m := straceSocket.FindStringSubmatch(line); m != nil && !families[m[1]] {
			t.Errorf("socket family %s is not in RestrictAddressFamilies: %s", m[1], line)
		}
	}
	if len(used) < 20 {
		t.Fatalf("the trace shows only %d distinct calls; strace did not follow the server?", len(used))
	}
	// The calls the task singles out must have been made, or the run did
	// not exercise what it claims to.
	for _, want := range []string{"sendfile", "flock"} {
		if used[want] == 0 {
			t.Errorf("the run made no %s call", want)
		}
	}
	if !strings.Contains(string(trace), "SO_BINDTODEVICE") {
		t.Error("the run set no SO_BINDTODEVICE (the DHCP socket)")
	}
	t.Logf("%d distinct system calls, %d in all", len(used), sum(used))
	if len(denied) > 0 {
		slices.Sort(denied)
		t.Errorf("calls outside the unit's SystemCallFilter: %s", strings.Join(denied, ", "))
	}
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// netLab is a network namespace with a veth pair inside it: the server on
// pps0 (198.18.0.1/24), clients on ppc0.
type netLab struct{ name string }

func newNetLab(t *testing.T) *netLab {
	t.Helper()
	lab := &netLab{name: fmt.Sprintf("ppdeploy%d", os.Getpid())}
	deploytest.Run(t, 10*time.Second, "ip", "netns", "add", lab.name)
	t.Cleanup(func() {
		if out, err := deploytest.Output(context.Background(), 10*time.Second, "ip", "netns", "del", lab.name); err != nil {
			t.Errorf("removing namespace %s: %v %s", lab.name, err, out)
		}
	})
	for _, args := range [][]string{
		{"link", "set", "lo", "up"},
		{"link", "add", "pps0", "type", "veth", "peer", "name", "ppc0"},
		{"addr", "add", "198.18.0.1/24", "dev", "pps0"},
		{"link", "set", "pps0", "up"},
		{"link", "set", "ppc0", "up"},
	} {
		deploytest.Run(t, 10*time.Second, "ip", append([]string{"-n", lab.name}, args...)...)
	}
	return lab
}
