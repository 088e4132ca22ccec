package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// These tests run the built binary as an operator would: real signals,
// real sockets on 127.0.0.1.

func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "phoneprov")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// freePorts returns n TCP and UDP ports free on 127.0.0.1 right now.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	for len(ports) < n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", p))
		l.Close()
		if err != nil {
			continue
		}
		u.Close()
		ports = append(ports, p)
	}
	return ports
}

type runningAppliance struct {
	cmd    *exec.Cmd
	http   string
	admin  string
	mu     sync.Mutex
	stderr bytes.Buffer
	lines  chan string
}

func (a *runningAppliance) log() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.stderr.String()
}

// waitLog waits until a log line contains s.
func (a *runningAppliance) waitLog(t *testing.T, s string) {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		select {
		case line, ok := <-a.lines:
			if !ok {
				t.Fatalf("phoneprov exited before logging %q:\n%s", s, a.log())
			}
			if strings.Contains(line, s) {
				return
			}
		case <-deadline:
			t.Fatalf("no log line with %q:\n%s", s, a.log())
		}
	}
}

func configFor(data, root string, ports []int) string {
	return fmt.Sprintf(`data_dir = %q
[admin]
listen = "127.0.0.1:%d"
[fileserve]
root = %q
drain_timeout = "20s"
[fileserve.http]
listen = ["127.0.0.1:%d"]
[fileserve.https]
listen = ["127.0.0.1:%d"]
[fileserve.tftp]
listen = ["127.0.0.1:%d"]
`, data, ports[0], root, ports[1], ports[2], ports[3])
}

func startRunning(t *testing.T, bin, cfgPath string, ports []int) *runningAppliance {
	t.Helper()
	a := &runningAppliance{
		http:  fmt.Sprintf("http://127.0.0.1:%d", ports[1]),
		admin: fmt.Sprintf("http://127.0.0.1:%d", ports[0]),
		lines: make(chan string, 1000),
	}
	a.cmd = exec.Command(bin, "serve", "-c", cfgPath)
	pipe, err := a.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			a.mu.Lock()
			a.stderr.WriteString(sc.Text() + "\n")
			a.mu.Unlock()
			select {
			case a.lines <- sc.Text():
			default:
			}
		}
		close(a.lines)
	}()
	t.Cleanup(func() {
		if a.cmd.ProcessState == nil {
			a.cmd.Process.Kill()
			a.cmd.Wait()
		}
	})
	a.waitLog(t, "file server ready")
	return a
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServeReloadAndDrain(t *testing.T) {
	bin := buildBinary(t)
	base := t.TempDir()
	data := filepath.Join(base, "data")
	rootA, rootB := filepath.Join(base, "a"), filepath.Join(base, "b")
	for _, d := range []string{rootA, rootB} {
		os.MkdirAll(d, 0o755)
	}
	os.WriteFile(filepath.Join(rootA, "46xxsettings.txt"), []byte("from A\n"), 0o644)
	os.WriteFile(filepath.Join(rootB, "46xxsettings.txt"), []byte("from B\n"), 0o644)
	big := make([]byte, 8<<20)
	rand.Read(big)
	os.WriteFile(filepath.Join(rootA, "big.bin"), big, 0o644)

	ports := freePorts(t, 4)
	cfgPath := filepath.Join(base, "phoneprov.toml")
	os.WriteFile(cfgPath, []byte(configFor(data, rootA, ports)), 0o644)
	a := startRunning(t, bin, cfgPath, ports)

	if code, body := get(t, a.http+"/46xxsettings.txt"); code != 200 || body != "from A\n" {
		t.Fatalf("before reload: %d %q", code, body)
	}
	// The request is counted when its handler returns, which may be just
	// after the client has the whole response: wait a bounded while.
	wantCount := `phoneprov_fileserve_requests_total{protocol="http",status="200"} 1`
	for deadline := time.Now().Add(5 * time.Second); ; {
		code, body := get(t, a.admin+"/metrics")
		if code == 200 && strings.Contains(body, wantCount) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics: %d\n%s", code, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code, body := get(t, a.admin+"/healthz"); code != 200 || body != "ok\n" {
		t.Fatalf("healthz: %d %q", code, body)
	}

	// A bad file is refused and the running configuration stays.
	os.WriteFile(cfgPath, []byte(configFor(data, rootB, ports)+"\n[fileserve.tftp]\nretries = 0\n"), 0o644)
	a.cmd.Process.Signal(syscall.SIGHUP)
	a.waitLog(t, "reload refused")
	if code, body := get(t, a.http+"/46xxsettings.txt"); code != 200 || body != "from A\n" {
		t.Fatalf("after refused reload: %d %q", code, body)
	}
	// A good file is applied at once.
	os.WriteFile(cfgPath, []byte(configFor(data, rootB, ports)), 0o644)
	a.cmd.Process.Signal(syscall.SIGHUP)
	a.waitLog(t, "configuration reloaded")
	if code, body := get(t, a.http+"/46xxsettings.txt"); code != 200 || body != "from B\n" {
		t.Fatalf("after reload: %d %q", code, body)
	}
	os.WriteFile(filepath.Join(rootB, "big.bin"), big, 0o644)

	// SIGTERM lets a slow download in flight finish.
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl not installed")
	}
	out := filepath.Join(base, "big.out")
	dl := exec.Command(curl, "-sS", "--fail", "--limit-rate", "4M", "-o", out, a.http+"/big.bin")
	if err := dl.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	a.cmd.Process.Signal(syscall.SIGTERM)
	if err := dl.Wait(); err != nil {
		t.Fatalf("download cut by the stop: %v\n%s", err, a.log())
	}
	if got, _ := os.ReadFile(out); !bytes.Equal(got, big) {
		t.Fatalf("drained download: %d bytes, want %d", len(got), len(big))
	}
	if err := a.cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, a.log())
	}
	if !strings.Contains(a.log(), "phoneprov stopped") {
		t.Errorf("no stop line:\n%s", a.log())
	}
}

func TestServeRefusesAPortInUse(t *testing.T) {
	bin := buildBinary(t)
	base := t.TempDir()
	ports := freePorts(t, 4)
	busy, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", ports[2]))
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cfgPath := filepath.Join(base, "phoneprov.toml")
	os.WriteFile(cfgPath, []byte(configFor(filepath.Join(base, "data"), "", ports)), 0o644)
	out, err := exec.Command(bin, "serve", "-c", cfgPath).CombinedOutput()
	if err == nil {
		t.Fatal("started on a port in use")
	}
	want := fmt.Sprintf("https: cannot listen on 127.0.0.1:%d: address already in use", ports[2])
	if !strings.Contains(string(out), want) {
		t.Fatalf("message %q lacks %q", out, want)
	}
	// Nothing else was left bound: the HTTP port is free again.
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", ports[1]))
	if err != nil {
		t.Fatalf("HTTP port still held after the failed start: %v", err)
	}
	l.Close()
}
