package appliance

import (
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/phoneprov/phoneprov/cmd/internal/config"
	"github.com/phoneprov/phoneprov/fileserve"

	"github.com/phoneprov/phoneprov/internal/syncbuf"
)

var (
	okRequest     = fileserve.AccessEvent{Protocol: "tftp", Client: netip.MustParseAddrPort("198.18.0.20:2000"), Name: "46xxsettings.txt", Status: 200, Bytes: 10}
	failedRequest = fileserve.AccessEvent{Protocol: "http", Client: netip.MustParseAddrPort("198.18.0.21:2000"), Name: "J100Supgrade.txt", Status: 500, Detail: "read error"}
)

// Each [log] access setting puts the request lines where it says, with
// the appliance's log at its default level (info); a server error is a
// warning in the log whatever the setting.
func TestAccessLogGoesWhereTheSettingSays(t *testing.T) {
	file := filepath.Join(t.TempDir(), "access.log")
	for _, tc := range []struct {
		access   string
		wantLog  []string // lines in the appliance's log, "level name"
		wantFile []string
	}{
		{access: "debug", wantLog: []string{"WARN J100Supgrade.txt"}},
		{access: "info", wantLog: []string{"INFO 46xxsettings.txt", "WARN J100Supgrade.txt"}},
		{access: "off", wantLog: []string{"WARN J100Supgrade.txt"}},
		{access: file, wantLog: []string{"WARN J100Supgrade.txt"}, wantFile: []string{"INFO 46xxsettings.txt", "WARN J100Supgrade.txt"}},
	} {
		t.Run(filepath.Base(tc.access), func(t *testing.T) {
			logs := &syncbuf.Buffer{}
			l, err := newAccessLog(config.LogConfig{Level: "info", Format: "text", Access: tc.access},
				slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})))
			if err != nil {
				t.Fatal(err)
			}
			l.ObserveAccess(okRequest)
			l.ObserveAccess(failedRequest)
			if err := l.close(); err != nil {
				t.Fatal(err)
			}
			checkAccessLines(t, "log", logs.String(), tc.wantLog)
			if tc.wantFile != nil {
				b, err := os.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				checkAccessLines(t, "file", string(b), tc.wantFile)
			}
		})
	}
}

// checkAccessLines compares the access lines in text with want ("LEVEL
// name", in order).
func checkAccessLines(t *testing.T, what, text string, want []string) {
	t.Helper()
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		if !strings.Contains(line, "msg=access") {
			continue
		}
		level := strings.Fields(strings.SplitN(line, "level=", 2)[1])[0]
		name := strings.Fields(strings.SplitN(line, "name=", 2)[1])[0]
		got = append(got, level+" "+name)
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("%s has access lines %q, want %q:\n%s", what, got, want, text)
	}
}

// With level = "debug" the default setting shows every request, as a
// dnsmasq user turns on log-queries to see them.
func TestAccessLogAtDebugShowsWithDebugLevel(t *testing.T) {
	logs := &syncbuf.Buffer{}
	l, err := newAccessLog(config.Default().Log, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	l.ObserveAccess(okRequest)
	checkAccessLines(t, "log", logs.String(), []string{"DEBUG 46xxsettings.txt"})
}

// A reload opens the file anew: after logrotate renamed it, new lines go
// to a new file of the same name. A file that cannot be opened refuses
// the reload and the running access log stays.
func TestReloadReopensTheAccessLog(t *testing.T) {
	ta := startAppliance(t, "")
	file := filepath.Join(t.TempDir(), "access.log")
	next := ta.app.cfg
	next.Log.Access = file
	if _, err := ta.app.reload(t.Context(), next); err != nil {
		t.Fatal(err)
	}
	if code := ta.fetch(t, "FW_S_J179_R4_1_3_0_6.bin", "test"); code != 200 {
		t.Fatalf("GET: %d", code)
	}
	// The server records a request after its response has left: the line
	// must be in the file before it is rotated, or it goes to the new one.
	waitAccessLines(t, file, 1)
	if err := os.Rename(file, file+".1"); err != nil {
		t.Fatal(err)
	}
	if _, err := ta.app.reload(t.Context(), next); err != nil {
		t.Fatal(err)
	}
	if code := ta.fetch(t, "lang/Mlf_J179_German.xml", "test"); code != 200 {
		t.Fatalf("GET: %d", code)
	}
	bad := next
	bad.Log.Access = filepath.Join(t.TempDir(), "missing", "access.log")
	if _, err := ta.app.reload(t.Context(), bad); err == nil {
		t.Error("a reload with an access log that cannot be opened was accepted")
	}
	if code := ta.fetch(t, "FW_S_J179_R4_1_3_0_6.bin", "again"); code != 200 {
		t.Fatalf("GET: %d", code)
	}
	for name, want := range map[string][]string{
		file + ".1": {"INFO /FW_S_J179_R4_1_3_0_6.bin"},
		file:        {"INFO /lang/Mlf_J179_German.xml", "INFO /FW_S_J179_R4_1_3_0_6.bin"},
	} {
		checkAccessLines(t, filepath.Base(name), waitAccessLines(t, name, len(want)), want)
	}
}

// waitAccessLines returns the text of the access log file once it holds
// n access lines, or what it holds after ten seconds.
func waitAccessLines(t *testing.T, file string, n int) string {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Count(string(b), "msg=access") >= n || time.Now().After(deadline) {
			return string(b)
		}
	}
}

// TestDefaultAccessLinesAreNotAtInfo runs the whole appliance with the
// default [log] access: a file request gives one access line, at debug,
// and none at info (the file server used to log its own at info too).
func TestDefaultAccessLinesAreNotAtInfo(t *testing.T) {
	ta := startAppliance(t, "")
	if code := ta.fetch(t, "J100Supgrade.txt", j179Agent); code != http.StatusOK {
		t.Fatalf("J100Supgrade.txt: %d", code)
	}
	// The access event follows the response: wait a bounded while for it.
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(ta.logs.String(), "level=DEBUG msg=access"); {
		if time.Now().After(deadline) {
			t.Fatalf("no access line at debug:\n%s", ta.logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if strings.Contains(ta.logs.String(), "level=INFO msg=access") {
		t.Errorf("an access line at info with the default settings:\n%s", ta.logs.String())
	}
	if n := strings.Count(ta.logs.String(), "msg=access"); n != 1 {
		t.Errorf("%d access lines for one request, want 1:\n%s", n, ta.logs.String())
	}
}
