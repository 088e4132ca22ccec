package appliance

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

// addBackupBox joins box-c, the namespace of a backup server, to the
// lab's bridge at haAddrC.
func (l *haLab) addBackupBox(t *testing.T) {
	t.Helper()
	ns, err := l.lab.Namespace("boxc")
	if err != nil {
		t.Fatal(err)
	}
	swEnd, nsEnd, err := l.lab.Veth(l.sw, ns)
	if err == nil {
		err = l.sw.Attach(swEnd, l.br)
	}
	if err == nil {
		err = ns.AddAddr(nsEnd, netip.MustParsePrefix(haAddrC+"/24"))
	}
	if err != nil {
		t.Fatal(err)
	}
	l.c, l.cBoxIf = ns, nsEnd
}

// waitLease waits up to 5 s for box to hold (want true) or not hold the
// lease of ip to mac; lease updates to a backup are asynchronous.
func (l *haLab) waitLease(t *testing.T, box *labBox, ip, mac string, want bool) {
	t.Helper()
	held := false
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if held = box.leases(t, l)[ip].hw == mac; held == want {
			return
		}
	}
	t.Errorf("%s (%s): holds the lease of %s to %s: %v, want %v", box.name, box.kind(), ip, mac, held, want)
}

// runBackupLab runs a hot-standby pair (box-a primary, box-b standby)
// with box-c as their backup server, each a phoneprov or a Kea 2.2: the
// backup stays in the backup state and answers no client; a udhcpc lease
// from the primary reaches the backup's table, its release removes it;
// with the primary killed the standby, in partner-down, goes on sending
// its leases to the backup.
func runBackupLab(t *testing.T, aKea, bKea, cKea bool) {
	needLabTools(t, aKea || bKea || cKea)
	l := newHALab(t)
	l.addBackupBox(t)
	bin := phoneprovBinary(t)
	ha := fastHA
	ha.backup = true
	ha.user, ha.pass = "pair", "s3cret pair"
	l.user, l.pass = ha.user, ha.pass
	a, b, c := l.box(t, "box-a", aKea, bin, ha), l.box(t, "box-b", bKea, bin, ha), l.box(t, "box-c", cKea, bin, ha)
	c.start(t)
	a.start(t)
	b.start(t)
	l.waitState(t, haAddrA, "hot-standby", 30*time.Second)
	l.waitState(t, haAddrB, "hot-standby", 30*time.Second)
	l.waitState(t, haAddrC, "backup", 10*time.Second)
	t.Logf("%s (%s), %s (%s) in hot-standby; %s (%s) in backup", a.name, a.kind(), b.name, b.kind(), c.name, c.kind())

	const mac1, mac2 = "02:00:00:40:00:01", "02:00:00:40:00:02"
	ip1, server1 := l.dhcp(t, mac1)
	if server1 != haAddrA {
		t.Errorf("%s answered by %s, want the primary %s", mac1, server1, haAddrA)
	}
	l.waitLease(t, b, ip1, mac1, true)
	l.waitLease(t, c, ip1, mac1, true)
	t.Logf("%s got %s from the primary; the standby and the backup hold it", mac1, ip1)
	rel := l.leaseAndRelease(t, "02:00:00:40:00:30")
	l.waitLease(t, c, rel.ip, "02:00:00:40:00:30", false)

	a.kill()
	l.waitState(t, haAddrB, "partner-down", 20*time.Second)
	ip2, server2 := l.dhcp(t, mac2)
	if server2 != haAddrB {
		t.Errorf("%s answered by %s, want the standby %s in partner-down", mac2, server2, haAddrB)
	}
	l.waitLease(t, c, ip2, mac2, true)
	if state := l.state(t, haAddrC); state != "backup" {
		t.Errorf("the backup is %q after the failover, not backup", state)
	}
	t.Logf("%s got %s from the standby in partner-down; the backup holds it; backup table %v", mac2, ip2, c.leases(t, l))
}

// TestHABackupLab runs a backup server beside a hot-standby pair: all
// phoneprov, a Kea 2.2 pair with a phoneprov backup, and a phoneprov
// pair with a Kea 2.2 backup.
func TestHABackupLab(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ aKea, bKea, cKea bool }{{false, false, false}, {true, true, false}, {false, false, true}} {
		kind := map[bool]string{false: "phoneprov", true: "kea"}
		t.Run(fmt.Sprintf("%s-pair+%s-backup", kind[tc.aKea], kind[tc.cKea]), func(t *testing.T) {
			t.Parallel()
			runBackupLab(t, tc.aKea, tc.bKea, tc.cKea)
		})
	}
}
