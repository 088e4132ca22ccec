// Package netlab builds throwaway network labs for tests: network namespaces
// joined by veth pairs, addressed only from 198.18.0.0/15 (the range RFC 2544
// sets aside for benchmarking), so a test never touches the host's own
// interfaces or real networks. It drives iproute2's ip command and needs
// root. Everything a Lab creates goes away with Close, and namespaces left
// by a crashed run are removed by the next one (see RemoveStale).
package netlab

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vishvananda/netns"
)

// Allowed is the only address range a Lab configures.
var Allowed = netip.MustParsePrefix("198.18.0.0/15")

// namePrefix starts every namespace a Lab creates; the process id follows,
// so stale ones can be told from live ones.
const namePrefix = "pplab"

// Lab is a set of namespaces and links torn down together.
type Lab struct {
	mu  sync.Mutex
	nss []*Namespace
}

// Namespace is one network namespace of a Lab.
type Namespace struct {
	// Name is the namespace's name under /run/netns.
	Name string
	lab  *Lab
}

// Available reports why labs cannot be built here, or nil: root and the ip
// command are needed.
func Available() error {
	if os.Geteuid() != 0 {
		return errors.New("network namespaces need root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return errors.New("the ip command (iproute2) is not installed")
	}
	return nil
}

// New returns an empty Lab after removing namespaces left by dead runs.
func New() *Lab {
	RemoveStale()
	return &Lab{}
}

// ip runs the ip command with a timeout.
func ip(args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Namespace creates a new namespace with its loopback up. role is a short
// word for the name ("server", "phones").
func (l *Lab) Namespace(role string) (*Namespace, error) {
	name := fmt.Sprintf("%s-%d-%08x-%s", namePrefix, os.Getpid(), rand.Uint32(), role)
	if err := ip("netns", "add", name); err != nil {
		return nil, err
	}
	ns := &Namespace{Name: name, lab: l}
	l.mu.Lock()
	l.nss = append(l.nss, ns)
	l.mu.Unlock()
	if err := ip("-n", name, "link", "set", "lo", "up"); err != nil {
		return nil, err
	}
	return ns, nil
}

// Close deletes every namespace of the Lab (and with them their links and
// the processes' view of them). It returns the first error but tries all.
func (l *Lab) Close() error {
	l.mu.Lock()
	nss := l.nss
	l.nss = nil
	l.mu.Unlock()
	var first error
	for i := len(nss) - 1; i >= 0; i-- {
		if err := ip("netns", "del", nss[i].Name); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// RemoveStale deletes lab namespaces whose creating process is gone.
func RemoveStale() {
	entries, err := os.ReadDir("/run/netns")
	if err != nil {
		return
	}
	for _, e := range entries {
		parts := strings.SplitN(e.Name(), "-", 3)
		if len(parts) < 3 || parts[0] != namePrefix {
			continue
		}
		pid, err := strconv.Atoi(parts[1])
		if err != nil || pid == os.Getpid() || processAlive(pid) {
			continue
		}
		_ = ip("netns", "del", e.Name())
	}
}

func processAlive(pid int) bool {
	return syscall.Kill(pid, 0) == nil
}

// linkName makes an interface name (at most 15 bytes) that will not
// collide: a two-letter role and 32 random bits.
func linkName(role string) string {
	return fmt.Sprintf("%.2s%08x", role, rand.Uint32())
}

// Veth joins two namespaces with a veth pair, brings both ends up, and
// returns the names of the ends in a and in b.
func (l *Lab) Veth(a *Namespace, b *Namespace) (aEnd, bEnd string, err error) {
	aEnd, bEnd = linkName("va"), linkName("vb")
	if err := ip("-n", a.Name, "link", "add", aEnd, "type", "veth", "peer", "name", bEnd, "netns", b.Name); err != nil {
		return "", "", err
	}
	if err := ip("-n", a.Name, "link", "set", aEnd, "up"); err != nil {
		return "", "", err
	}
	if err := ip("-n", b.Name, "link", "set", bEnd, "up"); err != nil {
		return "", "", err
	}
	return aEnd, bEnd, nil
}

// checkAllowed refuses addresses outside Allowed.
func checkAllowed(a netip.Addr) error {
	if !Allowed.Contains(a) {
		return fmt.Errorf("netlab: %s is outside %s; labs use only that range", a, Allowed)
	}
	return nil
}

// AddAddr puts an address (with its prefix length) on an interface.
func (n *Namespace) AddAddr(ifname string, p netip.Prefix) error {
	if err := checkAllowed(p.Addr()); err != nil {
		return err
	}
	if !Allowed.Contains(p.Masked().Addr()) || p.Bits() < Allowed.Bits() {
		return fmt.Errorf("netlab: %s reaches outside %s", p, Allowed)
	}
	return ip("-n", n.Name, "addr", "add", p.String(), "dev", ifname)
}

// AddRoute routes dst via a gateway.
func (n *Namespace) AddRoute(dst netip.Prefix, via netip.Addr) error {
	if err := checkAllowed(dst.Addr()); err != nil {
		return err
	}
	if err := checkAllowed(via); err != nil {
		return err
	}
	return ip("-n", n.Name, "route", "add", dst.String(), "via", via.String())
}

// Command prepares a command that runs inside the namespace.
func (n *Namespace) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", n.Name, name}, args...)...)
}

// Do runs fn on a thread switched into the namespace, so sockets fn opens
// live there (goroutines fn starts do not inherit the namespace). The thread
// is switched back before Do returns; if that fails the thread is retired.
func (n *Namespace) Do(fn func() error) error {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("netlab: current namespace: %w", err)
	}
	defer orig.Close()
	target, err := netns.GetFromName(n.Name)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("netlab: namespace %s: %w", n.Name, err)
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("netlab: enter %s: %w", n.Name, err)
	}
	ferr := fn()
	if err := netns.Set(orig); err != nil {
		// Leave the thread locked: it dies with this goroutine instead of
		// running other goroutines in the wrong namespace.
		return errors.Join(ferr, fmt.Errorf("netlab: return from %s: %w", n.Name, err))
	}
	runtime.UnlockOSThread()
	return ferr
}

// Bridge creates a bridge in the namespace and brings it up.
func (n *Namespace) Bridge() (string, error) {
	name := linkName("br")
	if err := ip("-n", n.Name, "link", "add", name, "type", "bridge"); err != nil {
		return "", err
	}
	if err := ip("-n", n.Name, "link", "set", name, "up"); err != nil {
		return "", err
	}
	return name, nil
}

// Attach makes a link of the namespace a port of a bridge there.
func (n *Namespace) Attach(link, bridge string) error {
	return ip("-n", n.Name, "link", "set", link, "master", bridge)
}

// SetMAC sets an interface's hardware address.
func (n *Namespace) SetMAC(link string, mac net.HardwareAddr) error {
	return ip("-n", n.Name, "link", "set", link, "address", mac.String())
}

// Sysctl sets a kernel setting inside the namespace, like
// "net.ipv4.ip_forward" to "1" for a router. Only net.* settings are
// namespaced, so only those are accepted.
func (n *Namespace) Sysctl(key, value string) error {
	if !strings.HasPrefix(key, "net.") || strings.Contains(key, "..") || strings.Contains(key, "/") {
		return fmt.Errorf("netlab: %q is not a per-namespace net.* setting", key)
	}
	path := "/proc/sys/" + strings.ReplaceAll(key, ".", "/")
	return n.Do(func() error {
		if err := os.WriteFile(path, []byte(value+"\n"), 0o644); err != nil {
			return fmt.Errorf("netlab: sysctl %s=%s in %s: %w", key, value, n.Name, err)
		}
		return nil
	})
}
