package main

import (
	"bytes"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/phoneprov/phoneprov/dhcpd/leases"
	"github.com/phoneprov/phoneprov/internal/durable"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/cli/ from the commands' output")

// golden compares got with testdata/golden/cli/name (rewritten with -update).
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", "cli", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the output (go test -update rewrites it):\n--- want\n%s--- got\n%s", path, want, got)
	}
}

// testRun runs a command line with packaged as the configuration read
// without -c and times shown in CET; it returns the exit code and outputs.
func testRun(t *testing.T, packaged string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := env{stdout: &out, stderr: &errb, packaged: packaged, loc: time.FixedZone("CET", 3600)}
	code := e.run(t.Context(), args)
	return code, out.String(), errb.String()
}

func noPackaged(t *testing.T) string { return filepath.Join(t.TempDir(), "no-such.toml") }

var commandNames = []string{"serve", "check", "init", "render", "import", "phones", "leases", "version"}

// Every command prints its usage for --help, -h and `help COMMAND`, on
// stdout, and exits 0; the general usage too.
func TestHelpOnEveryCommand(t *testing.T) {
	none := noPackaged(t)
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}, {"help", "-h"}} {
		code, out, errs := testRun(t, none, args...)
		if code != 0 || errs != "" {
			t.Errorf("%v: exit %d, stderr %q", args, code, errs)
		}
		golden(t, "help.txt", out)
	}
	for _, name := range commandNames {
		for _, args := range [][]string{{name, "--help"}, {name, "-h"}, {"help", name}, {name, "-c", "x.toml", "-help"}} {
			if name == "init" || name == "version" {
				if args[1] == "-c" {
					continue
				}
			}
			code, out, errs := testRun(t, none, args...)
			if code != 0 || errs != "" {
				t.Errorf("%v: exit %d, stderr %q", args, code, errs)
			}
			golden(t, "help-"+name+".txt", out)
		}
	}
	// A mistake prints the usage on stderr and exits 2.
	code, out, errs := testRun(t, none, "leases", "--frobnicate")
	if code != 2 || out != "" || !strings.Contains(errs, "flag provided but not defined: -frobnicate") || !strings.Contains(errs, "usage: phoneprov leases") {
		t.Errorf("leases --frobnicate: %d %q %q", code, out, errs)
	}
	if code, _, _ := testRun(t, none, "help", "frobnicate"); code != 2 {
		t.Errorf("help frobnicate: exit %d", code)
	}
}

func TestUnknownFilterValuesAreErrors(t *testing.T) {
	cfg := leasesConfig(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"phones", "-c", cfg, "--state", "bogus"}, `--state "bogus": not one of stale, failed, up_to_date`},
		{[]string{"leases", "-c", cfg, "--state", "bogus"}, `--state "bogus": not one of active, released, declined, expired`},
		{[]string{"leases", "-c", cfg, "--mac", "zz:zz"}, `--mac "zz:zz" is not a MAC address`},
		{[]string{"leases", "-c", cfg, "--json", "--csv"}, `--json or --csv, not both`},
		{[]string{"version", "extra"}, `unexpected argument "extra"`},
	} {
		code, out, errs := testRun(t, noPackaged(t), c.args...)
		if code != 2 || out != "" || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 2 and %q", c.args, code, out, errs, c.want)
		}
	}
}

// Without -c the commands read the packaged configuration when it exists,
// else the built-in defaults, and say which.
func TestWithoutDashCThePackagedConfigurationOrTheDefaults(t *testing.T) {
	none := noPackaged(t)
	code, out, errs := testRun(t, none, "check")
	if code != 0 || !strings.HasPrefix(out, "# built-in defaults (no -c given, and no "+none+"): configuration is valid\n") {
		t.Errorf("check without a packaged file: %d %q %s", code, firstLine(out), errs)
	}

	dir := t.TempDir()
	packaged := writeConfig(t, fmt.Sprintf("data_dir = %q\n[dhcp]\nlease_time = \"6w\"\n", dir))
	code, out, errs = testRun(t, packaged, "check")
	if code != 0 || !strings.HasPrefix(out, "# "+packaged+" (no -c given): configuration is valid\n") || !strings.Contains(out, "\n  lease_time = \"6w\"\n") {
		t.Errorf("check with a packaged file: %d %q %s", code, firstLine(out), errs)
	}
	code, _, errs = testRun(t, packaged, "leases")
	if code != 0 || !strings.Contains(errs, "phoneprov leases: configuration: "+packaged+" (no -c given)\n") ||
		!strings.Contains(errs, "phoneprov leases: from the files in "+dir+" (no phoneprov runs with this data directory)") {
		t.Errorf("leases with a packaged file: %d %s", code, errs)
	}
	code, _, errs = testRun(t, packaged, "phones")
	if code != 0 || !strings.Contains(errs, "phoneprov phones: configuration: "+packaged+" (no -c given)\n") ||
		!strings.Contains(errs, "phoneprov phones: from the files in "+dir) {
		t.Errorf("phones with a packaged file: %d %s", code, errs)
	}
	// -c wins, and then nothing is said about the choice.
	code, out, errs = testRun(t, packaged, "check", "-c", writeConfig(t, fmt.Sprintf("data_dir = %q\n", dir)))
	if code != 0 || strings.Contains(out, "6w") || strings.Contains(out, "no -c given") {
		t.Errorf("check -c: %d %q %s", code, firstLine(out), errs)
	}
	// A packaged file that is there but broken is an error, not the defaults.
	broken := writeConfig(t, "[dhcp]\nlease_time = \"6 weeks\"\n")
	code, _, errs = testRun(t, broken, "check")
	if code != 1 || !strings.Contains(errs, broken+":2: dhcp.lease_time: invalid duration") {
		t.Errorf("broken packaged file: %d %s", code, errs)
	}
}

func firstLine(s string) string { l, _, _ := strings.Cut(s, "\n"); return l }

// leasesConfig is a configuration with two subnets, whose data directory
// holds a lease journal with a lease in every state.
func leasesConfig(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cfg := writeConfig(t, fmt.Sprintf(`data_dir = %q
[admin]
listen = ""
[dhcp]
lease_time = "6w"
renew_time = "3d12h"
[[dhcp.subnet]]
cidr = "198.18.0.0/24"
interface = "lo"
[[dhcp.subnet.pool]]
start = "198.18.0.100"
end = "198.18.0.199"
[[dhcp.subnet]]
cidr = "198.18.1.0/24"
interface = "lo"
lease_time = "42d"
[[dhcp.subnet.pool]]
start = "198.18.1.100"
end = "198.18.1.199"
`, dir))
	j, err := leases.OpenJournal(filepath.Join(dir, "leases.journal"), leases.JournalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	start := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	mac := func(s string) net.HardwareAddr { hw, _ := net.ParseMAC(s); return hw }
	ls := []leases.Lease{
		{Addr: netip.MustParseAddr("198.18.0.100"), HWAddr: mac("00:1b:4f:aa:00:01"), ClientID: []byte{1, 0, 0x1b, 0x4f, 0xaa, 0, 1},
			Subnet: netip.MustParsePrefix("198.18.0.0/24"), Hostname: "J179, desk 4", VendorClass: "ccp.avaya.com", Class: "avaya",
			Start: start, Expiry: start.Add(42 * 24 * time.Hour), State: leases.Active},
		{Addr: netip.MustParseAddr("198.18.0.101"), HWAddr: mac("00:1b:4f:aa:00:02"), Subnet: netip.MustParsePrefix("198.18.0.0/24"),
			Start: start, Expiry: start.Add(time.Hour), State: leases.Released},
		{Addr: netip.MustParseAddr("198.18.1.100"), HWAddr: mac("00:04:f2:bb:00:03"), Subnet: netip.MustParsePrefix("198.18.1.0/24"),
			VendorClass: "Polycom-VVX411", Start: start, Expiry: start.Add(24 * time.Hour), State: leases.Declined},
		{Addr: netip.MustParseAddr("198.18.1.101"), HWAddr: mac("00:04:f2:bb:00:04"), Subnet: netip.MustParsePrefix("198.18.1.0/24"),
			Hostname: "vvx&co", Start: start, Expiry: start.Add(36 * time.Hour), State: leases.Expired},
	}
	if err := j.Put(t.Context(), ls...); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// The leases table (times in the operator's zone, with the zone), the
// Kea-style CSV and the filters, against golden files.
func TestLeasesGolden(t *testing.T) {
	cfg := leasesConfig(t)
	for _, c := range []struct {
		golden string
		args   []string
	}{
		{"leases.txt", nil},
		{"leases.csv", []string{"--csv"}},
		{"leases-declined.txt", []string{"--state", "declined"}},
		{"leases-mac.csv", []string{"--csv", "--mac", "001B.4FAA.0001"}},
		{"leases-none.txt", []string{"--state", "active", "--mac", "00-04-f2-bb-00-03"}},
	} {
		code, out, errs := testRun(t, noPackaged(t), append([]string{"leases", "-c", cfg}, c.args...)...)
		if code != 0 || !strings.Contains(errs, "phoneprov leases: from the files in ") {
			t.Errorf("leases %v: exit %d, stderr %s", c.args, code, errs)
		}
		golden(t, c.golden, out)
	}
}

// The CSV's header is Kea's, column for column (isc-projects/kea,
// src/lib/dhcpsrv/csv_lease_file4.cc, Kea 3.0), and every row has as many
// fields as the header, however the host name is written.
func TestLeasesCSVHasKeasColumns(t *testing.T) {
	_, out, _ := testRun(t, noPackaged(t), "leases", "-c", leasesConfig(t), "--csv")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if lines[0] != "address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context,pool_id" {
		t.Errorf("header %q", lines[0])
	}
	for _, l := range lines[1:] {
		if n := strings.Count(l, ","); n != 11 {
			t.Errorf("%d separators in %q", n, l)
		}
	}
}

// check prints durations in weeks and days as they can be written.
func TestCheckDurationsGolden(t *testing.T) {
	code, out, errs := testRun(t, noPackaged(t), "check", "-c", leasesConfig(t))
	if code != 0 {
		t.Fatalf("check: %d %s", code, errs)
	}
	var durations []string
	key := regexp.MustCompile(`^\s*(\[.*\]|[a-z_]*(time|timeout|hold|probation|_for|interval|after|window) = .*)$`)
	for _, l := range strings.Split(out, "\n") {
		if key.MatchString(l) {
			durations = append(durations, l)
		}
	}
	golden(t, "check-durations.txt", strings.Join(durations, "\n")+"\n")
}

// phones and leases ask the appliance only when it holds this
// configuration's data directory; an appliance of another configuration
// answering at the same admin address is not asked.
func TestPhonesAndLeasesAskOnlyTheirOwnAppliance(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/leases":
			fmt.Fprint(w, `[{"mac":"00:1b:4f:ee:ee:ee","address":"198.18.0.77","state":"active","subnet":"198.18.0.0/24","start":"2026-03-01T08:00:00Z","expiry":"2026-03-02T08:00:00Z"}]`)
		case "/api/phones":
			fmt.Fprint(w, `[{"mac":"00:1b:4f:ee:ee:ee","model":"J179","state":"up_to_date"}]`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer api.Close()
	dir := t.TempDir()
	cfg := writeConfig(t, fmt.Sprintf("data_dir = %q\n[admin]\nlisten = %q\n", dir, strings.TrimPrefix(api.URL, "http://")))

	for _, cmd := range []string{"leases", "phones"} {
		code, out, errs := testRun(t, noPackaged(t), cmd, "-c", cfg)
		if code != 0 || strings.Contains(out, "00:1b:4f:ee:ee:ee") || !strings.Contains(errs, "from the files in "+dir) {
			t.Errorf("%s with nothing holding the data directory: %d\n%s%s", cmd, code, out, errs)
		}
	}

	// This process plays the appliance: it holds the inventory's lock.
	f, err := durable.OpenLocked(filepath.Join(dir, "inventory.journal"), "inventory journal", 0o600, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, cmd := range []string{"leases", "phones"} {
		code, out, errs := testRun(t, noPackaged(t), cmd, "-c", cfg)
		want := fmt.Sprintf("from the running appliance (pid %d, holding %s) at %s", os.Getpid(), filepath.Join(dir, "inventory.journal"), api.URL)
		if code != 0 || !strings.Contains(out, "00:1b:4f:ee:ee:ee") || !strings.Contains(errs, want) {
			t.Errorf("%s with the data directory held: %d\n%s%s\nwant %q", cmd, code, out, errs, want)
		}
	}
}

func TestVersionPrefersTheLinkersValues(t *testing.T) {
	settings := []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"}, {Key: "vcs.modified", Value: "true"}}
	for _, c := range []struct {
		version, commit, main string
		settings              []debug.BuildSetting
		v, c                  string
		modified              bool
	}{
		{"1.2.3", "fedcba9876543210fedcba9876543210fedcba98", "(devel)", nil, "1.2.3", "fedcba9876543210fedcba9876543210fedcba98", false},
		{"", "", "(devel)", settings, "devel", "0123456789abcdef0123456789abcdef01234567", true},
		{"", "", "v0.4.0", nil, "v0.4.0", "unknown", false},
	} {
		if v, cm, m := pickVersion(c.version, c.commit, c.main, c.settings); v != c.v || cm != c.c || m != c.modified {
			t.Errorf("pickVersion(%q, %q, %q) = %q, %q, %v; want %q, %q, %v", c.version, c.commit, c.main, v, cm, m, c.v, c.c, c.modified)
		}
	}
}
