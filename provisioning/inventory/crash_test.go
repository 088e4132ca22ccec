package inventory

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/phoneprov/phoneprov/dhcpd"
)

const childEnv = "PHONEPROV_INVENTORY_CHILD"

// TestChildProcess is the body of the child the kill -9 test starts; it
// does nothing in a normal run.
func TestChildProcess(t *testing.T) {
	if os.Getenv(childEnv) == "" {
		t.Skip("helper for TestKill9LosesAtMostTheLastFlush")
	}
	inv, err := Open(DefaultConfig(), Options{Path: os.Getenv("PHONEPROV_INVENTORY_PATH")})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	go inv.Run(context.Background())
	out := bufio.NewWriter(os.Stdout)
	for i := 0; ; i++ {
		inv.ObserveLease(dhcpd.LeaseEvent{MAC: childMAC(i), Kind: dhcpd.Offered})
		fmt.Fprintln(out, i)
		out.Flush()
		time.Sleep(5 * time.Millisecond)
	}
}

func childMAC(i int) net.HardwareAddr {
	return net.HardwareAddr{0x02, 0, 0, 0, byte(i >> 8), byte(i)}
}

func TestKill9LosesAtMostTheLastFlush(t *testing.T) {
	path := filepath.Join(t.TempDir(), "inventory.journal")
	cmd := exec.Command(os.Args[0], "-test.run=^TestChildProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"=1", "PHONEPROV_INVENTORY_PATH="+path)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()

	// Record when each fact was handed to the child's inventory.
	var mu sync.Mutex
	var fedAt []time.Time
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if _, err := strconv.Atoi(sc.Text()); err == nil {
				mu.Lock()
				fedAt = append(fedAt, time.Now())
				mu.Unlock()
			}
		}
	}()
	// Let the child run at least 3 s (several flushes) and feed at least
	// 200 facts; a loaded machine may need longer, up to 30 s.
	start := time.Now()
	for deadline := start.Add(30 * time.Second); time.Now().Before(deadline); {
		mu.Lock()
		n := len(fedAt)
		mu.Unlock()
		if n >= 200 && time.Since(start) >= 3*time.Second {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	killed := time.Now()
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	mu.Lock()
	fed := append([]time.Time(nil), fedAt...)
	mu.Unlock()
	if len(fed) < 100 {
		t.Fatalf("the child fed only %d facts", len(fed))
	}

	// The journal is whole: a process killed between writes leaves no
	// torn record (only a power cut can), so every record reads back.
	st, ld, err := openStore(path)
	if err != nil {
		t.Fatalf("open after kill -9: %v", err)
	}
	st.close()
	if rec := ld.recovery; rec.TornBytes > 0 || rec.Damaged > 0 || ld.unreadable > 0 {
		t.Fatalf("journal after kill -9: %+v, %d unreadable records", rec, ld.unreadable)
	}

	inv, err := Open(DefaultConfig(), Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer inv.Close()
	// Everything fed more than one flush interval (plus scheduling slack
	// on a busy test machine) before the kill is on disk.
	cutoff := killed.Add(-DefaultConfig().FlushInterval - 500*time.Millisecond)
	var mustHave, have int
	for i, at := range fed {
		if at.After(cutoff) {
			break
		}
		mustHave++
		m, _ := MACFrom(childMAC(i))
		if _, ok := inv.Get(m); ok {
			have++
		} else {
			t.Errorf("fact %d, fed %s before the kill, was lost", i, killed.Sub(at).Round(time.Millisecond))
			break
		}
	}
	t.Logf("fed %d facts; the %d fed over %s before the kill were all kept; %d phones on disk",
		len(fed), mustHave, killed.Sub(cutoff), len(inv.List(Filter{})))
}
