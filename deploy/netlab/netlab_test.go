package netlab

import (
	"net"
	"net/netip"
	"os"
	"testing"
	"time"
)

func TestLabBuildsAndRemovesNamespaces(t *testing.T) {
	if err := Available(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	lab := New()
	a, err := lab.Namespace("a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := lab.Namespace("b")
	if err != nil {
		lab.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { lab.Close() })
	ea, eb, err := lab.Veth(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.AddAddr(ea, netip.MustParsePrefix("198.18.200.1/30")); err != nil {
		t.Fatal(err)
	}
	if err := b.AddAddr(eb, netip.MustParsePrefix("198.18.200.2/30")); err != nil {
		t.Fatal(err)
	}
	if err := a.AddAddr(ea, netip.MustParsePrefix("10.0.0.1/24")); err == nil {
		t.Error("an address outside 198.18.0.0/15 was accepted")
	}
	// A TCP connection across the veth, each end opened inside its namespace.
	var ln net.Listener
	if err := b.Do(func() (err error) { ln, err = net.Listen("tcp", "198.18.200.2:0"); return err }); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Write([]byte("hi"))
			c.Close()
		}
	}()
	err = a.Do(func() error {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 2)
		_, err = c.Read(buf)
		return err
	})
	if err != nil {
		t.Fatalf("no connection across the veth: %v", err)
	}
	// Do runs in the namespace: the interface is visible there only.
	err = a.Do(func() error {
		_, err := net.InterfaceByName(ea)
		return err
	})
	if err != nil {
		t.Errorf("interface not found inside the namespace: %v", err)
	}
	if _, err := net.InterfaceByName(ea); err == nil {
		t.Errorf("lab interface %s visible in the test's own namespace", ea)
	}
	if err := lab.Close(); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir("/run/netns")
	for _, e := range entries {
		if e.Name() == a.Name || e.Name() == b.Name {
			t.Errorf("namespace %s left after Close", e.Name())
		}
	}
}

func TestSysctlIsPerNamespace(t *testing.T) {
	if err := Available(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	lab := New()
	t.Cleanup(func() { lab.Close() })
	a, err := lab.Namespace("a")
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	if err := a.Sysctl("net.ipv4.ip_forward", "1"); err != nil {
		t.Fatal(err)
	}
	var inside []byte
	if err := a.Do(func() (err error) { inside, err = os.ReadFile("/proc/sys/net/ipv4/ip_forward"); return err }); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	if string(inside) != "1\n" || string(after) != string(host) {
		t.Errorf("inside %q; the host's %q before, %q after", inside, host, after)
	}
	if err := a.Sysctl("kernel.hostname", "x"); err == nil {
		t.Error("a non-net setting was accepted")
	}
}
