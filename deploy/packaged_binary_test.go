package deploy_test

import (
	"context"
	"fmt"
	"net"
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

// loopbackConfig serves dir/files on loopback only, on the given free high
// ports (HTTP over TCP, TFTP over UDP), with HTTPS, DHCP and the admin
// listener off; %[1]s is dir.
const loopbackConfig = `data_dir = "%[1]s/data"
[admin]
listen = ""
[fileserve]
root = "%[1]s/files"
[fileserve.http]
listen = ["127.0.0.1:%[2]d"]
[fileserve.https]
enabled = false
[fileserve.tftp]
listen = ["127.0.0.1:%[3]d"]
[dhcp]
enabled = false
`

// checkPackagedBinaryRuns runs the binary extracted from a package into
// root, through emulator when it is not empty (qemu-aarch64-static,
// qemu-arm-static: called explicitly, so no binfmt registration is
// needed): `phoneprov check` on the packaged configuration, then `serve`
// with a configuration of its own on loopback, one file fetched over HTTP
// (curl) and over TFTP (tftp-hpa), and a SIGTERM that must end it cleanly.
func checkPackagedBinaryRuns(t *testing.T, root, emulator string) {
	t.Helper()
	tools := []string{"curl", "tftp"}
	if emulator != "" {
		tools = append(tools, emulator)
	}
	deploytest.NeedTools(t, tools...)
	bin := filepath.Join(root, "usr", "bin", "phoneprov")
	command := func(args ...string) (string, []string) {
		if emulator == "" {
			return bin, args
		}
		return emulator, append([]string{bin}, args...)
	}

	name, args := command("check", "-c", filepath.Join(root, "etc", "phoneprov", "phoneprov.toml"))
	if out := deploytest.Run(t, time.Minute, name, args...); !strings.Contains(out, "configuration is valid") {
		t.Errorf("phoneprov check on the packaged configuration:\n%s", out)
	}

	dir := t.TempDir()
	const content = "served from the packaged binary\n"
	if err := os.MkdirAll(filepath.Join(dir, "files"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "files", "hello.txt"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	httpPort, tftpPort := freePort(t, "tcp"), freePort(t, "udp")
	cfg := filepath.Join(dir, "phoneprov.toml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(loopbackConfig, dir, httpPort, tftpPort)), 0o644); err != nil {
		t.Fatal(err)
	}

	name, args = command("serve", "-c", cfg)
	srv := startProcess(t, name, args...)
	url := fmt.Sprintf("http://127.0.0.1:%d/hello.txt", httpPort)
	var got string
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, err := deploytest.Output(t.Context(), 10*time.Second, "curl", "-sSf", "--max-time", "5", url)
		if err == nil {
			got = out
			break
		}
		srv.failIfExited(t)
		if time.Now().After(deadline) {
			t.Fatalf("GET %s failed for 60s: %v\n%s", url, err, srv.log.String())
		}
		time.Sleep(250 * time.Millisecond)
	}
	if got != content {
		t.Errorf("GET %s = %q, want %q", url, got, content)
	}

	fetched := filepath.Join(dir, "fetched.txt")
	deploytest.Run(t, 30*time.Second, "tftp", "-m", "binary", "127.0.0.1", strconv.Itoa(tftpPort), "-c", "get", "hello.txt", fetched)
	if b, err := os.ReadFile(fetched); err != nil || string(b) != content {
		t.Errorf("TFTP get hello.txt = %q (%v), want %q", b, err, content)
	}

	srv.stop(t)
}

// freePort is a port on 127.0.0.1 that was free a moment ago for network
// ("tcp" or "udp").
func freePort(t *testing.T, network string) int {
	t.Helper()
	var addr net.Addr
	switch network {
	case "tcp":
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr = l.Addr()
		l.Close()
	default:
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr = c.LocalAddr()
		c.Close()
	}
	_, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// process is a started command whose output is kept for failure messages.
type process struct {
	cmd  *exec.Cmd
	log  *syncbuf.Buffer
	done chan struct{} // closed when it has exited
	err  error         // its exit, once done is closed
}

// startProcess starts name with args and kills it at the end of t if it
// is still running.
func startProcess(t *testing.T, name string, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(name, args...), log: &syncbuf.Buffer{}, done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			select {
			case <-p.done:
			case <-time.After(10 * time.Second):
				t.Errorf("%s did not exit after SIGKILL", name)
			}
		}
	})
	return p
}

// failIfExited fails t if the process has already ended.
func (p *process) failIfExited(t *testing.T) {
	t.Helper()
	select {
	case <-p.done:
		t.Fatalf("%s exited early (%v):\n%s", p.cmd.Path, p.err, p.log.String())
	default:
	}
}

// stop sends SIGTERM and waits, bounded, for an exit with status 0.
func (p *process) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	select {
	case <-p.done:
		if p.err != nil {
			t.Errorf("after SIGTERM: %v\n%s", p.err, p.log.String())
		}
	case <-ctx.Done():
		t.Fatalf("still running 60s after SIGTERM:\n%s", p.log.String())
	}
}
