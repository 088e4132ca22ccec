package logging

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/phoneprov/phoneprov/cmd/internal/config"
)

// streamOf is what systemd puts in JOURNAL_STREAM for f: its device and
// inode, in decimal.
func streamOf(t *testing.T, f *os.File) string {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%d:%d", st.Dev, st.Ino)
}

// The variable counts only for the file it names: a process whose
// standard error was redirected keeps the variable but not the stream.
func TestOnJournalComparesDeviceAndInode(t *testing.T) {
	dir := t.TempDir()
	a, err := os.Create(filepath.Join(dir, "a"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := os.Create(filepath.Join(dir, "b"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	stream := streamOf(t, a)
	if !OnJournal(a, stream) {
		t.Errorf("OnJournal(a, %q) = false for a's own device and inode", stream)
	}
	if OnJournal(b, stream) {
		t.Errorf("OnJournal(b, %q) = true with a's inode", stream)
	}
	for _, bad := range []string{"", "12", "x:y", "12:", ":34", "-1:5"} {
		if OnJournal(a, bad) {
			t.Errorf("OnJournal(a, %q) = true", bad)
		}
	}
}

// Each line starts with its sd-daemon priority; derived handlers (With,
// WithGroup) keep it; lines written at once from many goroutines keep
// their own prefixes.
func TestJournalHandlerPrefixesEachLine(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(NewJournalHandler(&buf, func(w io.Writer) slog.Handler {
		return NewHandler(config.LogConfig{Level: "debug", Format: "text"}, w)
	}))
	log.Debug("d")
	log.Info("i", "k", "v")
	log.With("part", "dhcp").Warn("w")
	log.WithGroup("g").Error("e", "k", 1)
	log.Log(context.Background(), slog.LevelError+4, "worse")
	want := []string{`<7>`, `<6>`, `<4>`, `<3>`, `<3>`}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), buf.String())
	}
	for i, l := range lines {
		if !strings.HasPrefix(l, want[i]+"time=") {
			t.Errorf("line %d = %q, want it to start with %stime=", i, l, want[i])
		}
	}
	if !strings.Contains(lines[2], "part=dhcp") || !strings.Contains(lines[3], "g.k=1") {
		t.Errorf("attributes lost:\n%s", buf.String())
	}

	buf.Reset()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				if g%2 == 0 {
					log.Error("even")
				} else {
					log.Info("odd")
				}
			}
		}()
	}
	wg.Wait()
	for _, l := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
		if (strings.HasSuffix(l, "msg=even") && !strings.HasPrefix(l, "<3>")) || (strings.HasSuffix(l, "msg=odd") && !strings.HasPrefix(l, "<6>")) {
			t.Fatalf("line with the wrong priority: %q", l)
		}
	}
}

// JSON lines get the prefix too (journald strips it before the message),
// and lose their time, which the journal keeps itself.
func TestNewPrefixesOnlyOnTheJournal(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c := config.LogConfig{Level: "info", Format: "json"}
	New(c, f, "").Error("plain")
	New(c, f, streamOf(t, f)).Error("journal")
	b, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], `{"time"`) || !strings.HasPrefix(lines[1], `<3>{"level":"ERROR"`) {
		t.Errorf("lines:\n%s", b)
	}
}

// A real journald (started here in a mount namespace of its own, so this
// machine's journal is untouched) files each line under its priority:
// journalctl -p err finds the error and only it. Needs root.
func TestJournaldFilesLinesUnderTheirPriority(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: journald runs in a mount namespace of its own")
	}
	const journald = "/lib/systemd/systemd-journald"
	for _, tool := range []string{journald, "unshare", "journalctl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-ec", `
for d in /run/systemd/journal /run/log /var/log/journal; do mkdir -p "$d"; mount -t tmpfs tmpfs "$d"; done
exec `+journald)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	root := fmt.Sprintf("/proc/%d/root", cmd.Process.Pid)
	sock := root + "/run/systemd/journal/stdout"
	var conn *net.UnixConn
	for deadline := time.Now().Add(10 * time.Second); conn == nil; {
		c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: sock, Net: "unix"})
		if err == nil {
			conn = c
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("journald's stdout socket never answered: %v\n%s", err, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	defer conn.Close()
	// The stream header systemd sends for a service's standard error
	// (systemd's src/journal/journald-stream.c, stdout_stream_line):
	// identifier, unit, default priority, level prefix on, no forwarding.
	id := fmt.Sprintf("phoneprov-test-%d", os.Getpid())
	if _, err := conn.Write([]byte(id + "\n\n6\n1\n0\n0\n0\n")); err != nil {
		t.Fatal(err)
	}
	f, err := conn.File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	log := New(config.LogConfig{Level: "debug", Format: "text"}, f, streamOf(t, f))
	log.Info("all is well")
	log.Warn("pool nearly full")
	log.Error("lease store failing")
	log.Debug("detail")

	journalctl := func(args ...string) string {
		out, err := exec.Command("journalctl", append([]string{"--root=" + root, "--no-pager", "-o", "cat", "-t", id}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("journalctl %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(journalctl(), "msg=detail"); {
		if time.Now().After(deadline) {
			t.Fatalf("journald did not file the lines:\n%s", journalctl())
		}
		time.Sleep(50 * time.Millisecond)
	}
	errs := strings.Split(strings.TrimSpace(journalctl("-p", "err")), "\n")
	if len(errs) != 1 || errs[0] != `level=ERROR msg="lease store failing"` {
		t.Errorf("journalctl -p err shows:\n%s", strings.Join(errs, "\n"))
	}
	warns := journalctl("-p", "warning")
	if !strings.Contains(warns, "pool nearly full") || strings.Contains(warns, "all is well") {
		t.Errorf("journalctl -p warning shows:\n%s", warns)
	}
	if prio := journalctl("-p", "debug..debug"); !strings.Contains(prio, "msg=detail") || strings.Contains(prio, "all is well") {
		t.Errorf("journalctl -p debug..debug shows:\n%s", prio)
	}
}
