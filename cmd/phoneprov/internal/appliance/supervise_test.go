package appliance

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/phoneprov/phoneprov/cmd/phoneprov/internal/supervise"
)

// Each of the appliance's real parts, failing after the start, stops all
// the others: the file listeners close, and the result names the part.
// The parts that have no way to fail from outside (the inventory, the
// reload loop, the memory trimmer) fail here by returning an error after
// they have run, as a bug in them would.
func TestAnyPartFailingStopsTheAppliance(t *testing.T) {
	for _, failing := range []string{"fileserve", "inventory", "memory", "reload", "admin"} {
		t.Run(failing, func(t *testing.T) {
			ta := bindTestAppliance(t, "")
			reload := supervise.Part{Name: "reload", Run: func(ctx context.Context) error { <-ctx.Done(); return nil }}
			parts := ta.app.parts(reload)
			fail := make(chan struct{})
			found := false
			for i, p := range parts {
				if p.Name != failing {
					continue
				}
				found = true
				real := p.Run
				parts[i].Run = func(ctx context.Context) error {
					ctx, cancel := context.WithCancel(ctx)
					defer cancel()
					done := make(chan error, 1)
					go func() { done <- real(ctx) }()
					select {
					case <-fail:
					case err := <-done:
						return err
					}
					cancel()
					<-done
					return errors.New("injected failure")
				}
			}
			if !found {
				t.Fatalf("the appliance has no part %q", failing)
			}
			done := make(chan error, 1)
			go func() { done <- ta.app.run(context.Background(), parts) }()
			ta.waitAdmin(t)
			if code := ta.fetch(t, "FW_S_J179_R4_1_3_0_6.bin", "test"); code != 200 {
				t.Fatalf("the appliance does not serve: %d", code)
			}
			close(fail)
			select {
			case err := <-done:
				if err == nil || err.Error() != failing+": injected failure" {
					t.Fatalf("run returned %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("the appliance kept running after %s failed:\n%s", failing, ta.logs.String())
			}
			for _, addr := range []string{strings.TrimPrefix(ta.http, "http://"), strings.TrimPrefix(ta.admin, "http://")} {
				if c, err := net.DialTimeout("tcp", addr, 2*time.Second); err == nil {
					c.Close()
					t.Errorf("%s still accepts after %s failed", addr, failing)
				}
			}
		})
	}
}

func requireTestTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not installed", name)
		}
		t.Skipf("%s is not installed", name)
	}
	return p
}

// openFiles lists what this process's file descriptors point to.
func openFiles(t *testing.T) map[string]string {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	out := map[string]string{}
	for _, fd := range fds {
		out[fd.Name()], _ = os.Readlink("/proc/self/fd/" + fd.Name())
	}
	return out
}

// A stopped appliance holds no socket and no file of its data directory:
// the listeners, the neighbour table's netlink socket, the journals close
// with it. (The file server keeps its file tree and its inotify watch
// open: it has no Close.)
func TestAStoppedApplianceHoldsNothingOpen(t *testing.T) {
	// The runtime's network poller keeps its own descriptors from the
	// first socket on: open one first.
	if ln, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
		ln.Close()
	}
	before := openFiles(t)
	ta := bindTestAppliance(t, "")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ta.app.run(ctx, ta.app.parts()) }()
	ta.waitAdmin(t)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the appliance did not stop")
	}
	for fd, target := range openFiles(t) {
		if _, ok := before[fd]; !ok && (strings.HasPrefix(target, "socket:") || strings.HasPrefix(target, ta.dataDir)) {
			t.Errorf("descriptor %s (%s) is still open after the appliance stopped", fd, target)
		}
	}
}
