package benchkit

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// waitFor polls cond every 10 ms for at most five seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 500 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s: not within 5s", what)
}

// gone reports whether pid no longer runs (absent, or a zombie nobody reaps).
func gone(pid int) bool {
	st, err := ReadStat(pid)
	return err != nil || st.State == 'Z'
}

// TestStopKillsTheGroup starts a shell that leaves a forked sleep behind,
// as tftpd-hpa leaves its transfers: Stop ends both, once.
func TestStopKillsTheGroup(t *testing.T) {
	for _, groups := range []bool{false, true} {
		t.Run("cgroups="+strconv.FormatBool(groups), func(t *testing.T) {
			dir := t.TempDir()
			s := &Supervisor{CPUGroups: groups}
			p, err := s.Start(Spec{Name: "forker", Log: filepath.Join(dir, "log"),
				Argv: []string{"sh", "-c", `sleep 60 & echo "kid $!"; echo "$GREETING"; exec sleep 60`}, Env: []string{"GREETING=hello"}})
			if err != nil {
				t.Fatal(err)
			}
			var kid int
			waitFor(t, "the shell's output", func() bool {
				b, _ := os.ReadFile(p.Log())
				f := strings.Fields(string(b))
				if len(f) < 3 || f[0] != "kid" || f[2] != "hello" {
					return false
				}
				kid, err = strconv.Atoi(f[1])
				return err == nil
			})
			if p.Exited() || p.Alive() != nil || p.Name() != "forker" || p.Args()[0] != "sh" {
				t.Fatalf("just started: exited %v, alive %v, name %q, args %q", p.Exited(), p.Alive(), p.Name(), p.Args())
			}
			if _, err := p.CPUTime(); err != nil {
				t.Errorf("CPUTime: %v (%s)", err, p.CPUSource())
			}
			if err := s.StopAll(); err != nil {
				t.Fatal(err)
			}
			if !p.Exited() {
				t.Errorf("after StopAll the server has not exited")
			}
			// The kill is sent; the kernel ends the forked sleep a moment later.
			waitFor(t, fmt.Sprintf("the forked sleep %d to go", kid), func() bool { return gone(kid) })
			if err := p.Stop(); err != nil {
				t.Errorf("second Stop: %v", err)
			}
		})
	}
}

// TestFailure describes a server that died, with the end of its log.
func TestFailure(t *testing.T) {
	var s Supervisor
	p, err := s.Start(Spec{Name: "dies", Log: filepath.Join(t.TempDir(), "log"), Argv: []string{"sh", "-c", "echo cannot bind >&2; exit 3"}})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("did not exit")
	}
	err = p.Alive()
	if err == nil || !strings.Contains(err.Error(), "dies exited: exit status 3") || !strings.Contains(err.Error(), "\n    cannot bind") {
		t.Errorf("Alive() = %v", err)
	}
	if err := s.Stop(p); err != nil {
		t.Errorf("Stop of an exited process: %v", err)
	}
	if _, err := s.Start(Spec{Name: "none", Log: filepath.Join(t.TempDir(), "log")}); err == nil {
		t.Error("Start without a program succeeded")
	}
	if _, err := s.Start(Spec{Name: "nolog", Log: filepath.Join(t.TempDir(), "no", "log"), Argv: []string{"true"}}); err == nil {
		t.Error("Start with an unwritable log succeeded")
	}
}

func TestLogTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	var b strings.Builder
	for i := 1; i <= 12; i++ {
		b.WriteString("line " + strconv.Itoa(i) + "\n")
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	got := LogTail(path)
	if !strings.HasPrefix(got, "\n    line 3\n") || !strings.HasSuffix(got, "    line 12") {
		t.Errorf("LogTail = %q", got)
	}
	if LogTail(filepath.Join(t.TempDir(), "absent")) != "" {
		t.Error("LogTail of a missing file is not empty")
	}
}

// TestMeasure samples a running process: it has memory and at least one
// process throughout.
func TestMeasure(t *testing.T) {
	var s Supervisor
	defer s.StopAll()
	p, err := s.Start(Spec{Name: "sleeper", Log: filepath.Join(t.TempDir(), "log"), Argv: []string{"sleep", "60"}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := Measure(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * SampleInterval)
	u, err := m.Stop()
	if err != nil || u.PeakRSS <= 0 || u.MaxProcs != 1 || u.CPU < 0 {
		t.Errorf("Stop = %+v, %v", u, err)
	}
	WaitIdle(t.Context(), p.PID(), time.Second)
}
