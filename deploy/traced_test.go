package deploy_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/phoneprov/phoneprov/deploy/internal/deploytest"

	"github.com/phoneprov/phoneprov/internal/syncbuf"
)

// bigFileSize is large enough that the file server sends it with sendfile
// rather than from its small-file cache.
const bigFileSize = 4 << 20

// tracedServer is `phoneprov serve` running under strace in a netLab.
type tracedServer struct {
	cmd   *exec.Cmd
	trace string
	log   *syncbuf.Buffer
	done  chan struct{} // closed when strace has exited
	err   error         // strace's exit, once done is closed
}

// serverConfig serves dir/data/files on the standard ports inside the
// namespace, with DHCP on pps0; %s is dir.
const serverConfig = `data_dir = "data"
[admin]
listen = "127.0.0.1:9167"
[dhcp]
enabled = true
lock_dir = "%s/lock"
[[dhcp.subnet]]
cidr = "198.18.0.0/24"
interface = "pps0"
routers = ["198.18.0.1"]
[[dhcp.subnet.pool]]
start = "198.18.0.100"
end = "198.18.0.110"
[[dhcp.class]]
preset = "avaya"
call_servers = ["198.18.0.10"]
`

// startTracedServer starts bin in the lab's namespace under strace, with
// RLIMIT_NOFILE's soft limit raised to the hard one as the unit's
// LimitNOFILE= does (so Go's runtime has no limit to raise), and waits
// until /healthz answers.
func (lab *netLab) startTracedServer(t *testing.T, bin, dir string) *tracedServer {
	t.Helper()
	files := filepath.Join(dir, "data", "files")
	for _, d := range []string{files, filepath.Join(dir, "lock")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(files, "hello.txt"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(files, "big.bin"), bytes.Repeat([]byte("phoneprov"), bigFileSize/9+1)[:bigFileSize], 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "phoneprov.toml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(serverConfig, dir)), 0o644); err != nil {
		t.Fatal(err)
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	s := &tracedServer{trace: filepath.Join(dir, "strace.out"), log: &syncbuf.Buffer{}, done: make(chan struct{})}
	// `ip netns exec` and prlimit exec their commands, so strace is the
	// process started here and the server is its only child.
	s.cmd = exec.Command("ip", "netns", "exec", lab.name,
		"prlimit", fmt.Sprintf("--nofile=%d:%d", lim.Max, lim.Max),
		"strace", "-f", "-qq", "-o", s.trace, bin, "serve", "-c", cfg)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		s.err = s.cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			// The server first: strace killed alone would leave it running.
			if pid, err := s.serverPID(); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			_ = s.cmd.Process.Kill()
			select {
			case <-s.done:
			case <-time.After(10 * time.Second):
				t.Errorf("strace did not exit")
			}
		}
	})

	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := deploytest.Output(context.Background(), 5*time.Second, "ip", "netns", "exec", lab.name,
			"curl", "-sf", "--max-time", "2", "http://127.0.0.1:9167/healthz")
		if err == nil {
			return s
		}
		select {
		case <-s.done:
			t.Fatalf("phoneprov serve exited (%v):\n%s", s.err, s.log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("phoneprov not healthy after 30s (%v %s):\n%s", err, out, s.log.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// serverPID finds the traced server: strace's child.
func (s *tracedServer) serverPID() (int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	parent := strconv.Itoa(s.cmd.Process.Pid)
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid …; comm may hold spaces, so cut at the last ')'.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(string(stat[i+1:]))
		if len(fields) > 1 && fields[1] == parent {
			return pid, nil
		}
	}
	return 0, errors.New("strace has no child")
}

// signal sends sig ("HUP", "TERM") to the server and waits for want in its log.
func (s *tracedServer) signal(t *testing.T, sig, want string) {
	t.Helper()
	pid, err := s.serverPID()
	if err != nil {
		t.Fatal(err)
	}
	signum := map[string]syscall.Signal{"HUP": syscall.SIGHUP, "TERM": syscall.SIGTERM}[sig]
	if err := syscall.Kill(pid, signum); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(s.log.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the log 20s after SIG%s:\n%s", want, sig, s.log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop sends SIGTERM and waits for a clean exit.
func (s *tracedServer) stop(t *testing.T) {
	t.Helper()
	s.signal(t, "TERM", "phoneprov stopped")
	select {
	case <-s.done:
		if s.err != nil {
			t.Fatalf("phoneprov serve under strace: %v\n%s", s.err, s.log.String())
		}
	case <-time.After(40 * time.Second):
		t.Fatalf("phoneprov did not stop 40s after SIGTERM:\n%s", s.log.String())
	}
}
