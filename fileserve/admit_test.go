package fileserve

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// capAdmitter admits at most max concurrent downloads of names ending in
// ".bin" and ignores the rest: a test double of the appliance's cap
// (provisioning/downloads has the real one and its own tests).
type capAdmitter struct {
	mu     sync.Mutex
	max    int
	active int
	asked  []string // names seen, in order
}

func (a *capAdmitter) Admit(name string, c Client) (func(), time.Duration, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.asked = append(a.asked, c.Protocol+" "+name)
	if !strings.HasSuffix(name, ".bin") {
		return nil, 0, true
	}
	if a.active >= a.max {
		return nil, 30 * time.Second, false
	}
	a.active++
	var once sync.Once
	return func() {
		once.Do(func() {
			a.mu.Lock()
			a.active--
			a.mu.Unlock()
		})
	}, 0, true
}

// slowGet sends a GET and reads only the status line and headers, leaving
// the body unread so the download stays in flight until conn is closed.
func slowGet(t *testing.T, addr, name, extra string) (net.Conn, *http.Response) {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.(*net.TCPConn).SetReadBuffer(16 << 10)
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(conn, "GET /%s HTTP/1.1\r\nHost: phoneprov\r\n%s\r\n", name, extra); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("GET %s: %v", name, err)
	}
	return conn, resp
}

// TestAdmitterCapsDownloads holds two firmware downloads open on a cap of
// two: a third gets 503 with Retry-After on the fast path and on net/http
// (a Range request goes there), and TFTP busy; a settings file still goes
// through, and once one download ends a new one is admitted.
func TestAdmitterCapsDownloads(t *testing.T) {
	adm := &capAdmitter{max: 2}
	ts := startServer(t, nil, func(o *Options) { o.Admitter = adm })
	const fw = "FW_S_J179_R4_1_3.bin"
	ts.put(t, fw, make([]byte, 32<<20))
	ts.put(t, "46xxsettings.txt", []byte("SET SIG 2\n"))

	first, resp := slowGet(t, ts.http, fw, "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("first download: %s", resp.Status)
	}
	_, resp = slowGet(t, ts.http, fw, "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("second download: %s", resp.Status)
	}
	for _, extra := range []string{"", "Range: bytes=0-\r\n"} {
		_, resp = slowGet(t, ts.http, fw, extra)
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "30" {
			t.Errorf("third download (%q): %s, Retry-After %q; want 503 and 30", extra, resp.Status, resp.Header.Get("Retry-After"))
		}
	}
	if ev, ok := ts.events.find("http", "/"+fw); !ok || ev.Status != http.StatusServiceUnavailable || ev.Detail != refusedBusy {
		t.Errorf("refused access event: %+v", ev)
	}
	// tftp-hpa exits 0 on a TFTP error; it prints the code and message.
	if log, err := tftpHPA(t, ts.tftp, "get "+fw); !strings.Contains(log, "Error code 0: server busy") {
		t.Errorf("tftp-hpa over the cap: err=%v %s", err, log)
	}
	if ev, ok := ts.events.find("tftp", fw); !ok || ev.Status != http.StatusServiceUnavailable || ev.Detail != refusedBusy {
		t.Errorf("tftp access event: %+v", ev)
	}
	if status, _ := curl(t, "http://"+ts.http+"/46xxsettings.txt"); status != http.StatusOK {
		t.Errorf("settings under a full cap: %d", status)
	}

	first.Close() // the server's write fails, and the download ends
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, resp := slowGet(t, ts.http, fw, "")
		conn.Close()
		if resp.StatusCode == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after one download ended: still %s", resp.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
