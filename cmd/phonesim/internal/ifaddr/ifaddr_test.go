package ifaddr

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/vishvananda/netns"
)

// inNamespace creates a namespace with a veth pair d0-d1, runs open
// with the calling thread inside it (a netlink socket stays in the
// namespace it was made in), and removes the namespace afterwards.
func inNamespace(t *testing.T, open func() (*Keeper, error)) (*Keeper, string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs the ip command (iproute2)")
	}
	name := fmt.Sprintf("pp-ifaddr-test-%d", os.Getpid())
	ip := func(args ...string) string {
		out, err := exec.Command("ip", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	ip("netns", "add", name)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	ip("-n", name, "link", "add", "d0", "type", "veth", "peer", "name", "d1")
	ip("-n", name, "link", "set", "d1", "up")
	ip("-n", name, "link", "set", "d0", "up")

	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	target, err := netns.GetFromName(name)
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		t.Fatal(err)
	}
	k, openErr := open()
	if err := netns.Set(orig); err != nil {
		t.Fatalf("cannot return to the original namespace: %v", err)
	}
	if openErr != nil {
		t.Fatal(openErr)
	}
	return k, name
}

func addrs(t *testing.T, ns string) string {
	out, err := exec.Command("ip", "-n", ns, "-4", "-o", "addr", "show", "dev", "d0").CombinedOutput()
	if err != nil {
		t.Fatalf("ip addr: %v: %s", err, out)
	}
	return string(out)
}

func TestAddAndClose(t *testing.T) {
	k, ns := inNamespace(t, func() (*Keeper, error) { return Open("d0") })
	defer k.Close()
	for i := 1; i <= 20; i++ {
		p := netip.MustParsePrefix(fmt.Sprintf("198.18.1.%d/16", i))
		if err := k.Add(p, fmt.Sprintf("phone%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := k.Add(netip.MustParsePrefix("198.18.1.5/16"), "phone5"); err != nil {
		t.Errorf("the same phone keeping its address: %v", err)
	}
	if err := k.Add(netip.MustParsePrefix("198.18.1.5/16"), "phone99"); err == nil || !strings.Contains(err.Error(), "already leased to phone phone5") {
		t.Errorf("a duplicate lease: %v", err)
	}
	if got := strings.Count(addrs(t, ns), "inet 198.18.1."); got != 20 {
		t.Fatalf("%d addresses on d0, want 20", got)
	}
	if err := k.Remove(netip.MustParseAddr("198.18.1.20")); err != nil {
		t.Fatal(err)
	}
	if k.Len() != 19 || strings.Contains(addrs(t, ns), "198.18.1.20/") {
		t.Error("Remove left the address")
	}
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	if got := addrs(t, ns); strings.Contains(got, "inet ") {
		t.Errorf("addresses left after Close: %s", got)
	}
	if err := k.Add(netip.MustParsePrefix("198.18.1.1/16"), "x"); err == nil {
		t.Error("Add after Close succeeded")
	}
}

func TestForeignAddressRefused(t *testing.T) {
	k, ns := inNamespace(t, func() (*Keeper, error) { return Open("d0") })
	defer k.Close()
	if out, err := exec.Command("ip", "-n", ns, "addr", "add", "198.18.2.2/16", "dev", "d0").CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if err := k.Add(netip.MustParsePrefix("198.18.2.2/16"), "p"); err == nil || !strings.Contains(err.Error(), "not put there by phonesim") {
		t.Errorf("err = %v", err)
	}
	k.Close()
	if !strings.Contains(addrs(t, ns), "198.18.2.2/16") {
		t.Error("Close removed an address phonesim did not add")
	}
}

func TestMissingInterface(t *testing.T) {
	_, _ = inNamespace(t, func() (*Keeper, error) {
		if _, err := Open("nosuch0"); err == nil || !strings.Contains(err.Error(), "nosuch0") {
			return nil, fmt.Errorf("Open of a missing interface: %v", err)
		}
		return nil, nil
	})
}
