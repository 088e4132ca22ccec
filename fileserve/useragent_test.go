package fileserve

import (
	"bufio"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestAvaya1200AgentGetsItsFile: an Avaya 1200-series SIP phone's
// User-Agent carries a control byte ("AVAYA/SIP12x0\x17/04.00.04.00",
// testdata/phones/avaya.toml from wazo-provd-plugins), which net/http
// answers with 400; the phone gets its file, and the access event keeps
// the agent as sent.
func TestAvaya1200AgentGetsItsFile(t *testing.T) {
	ts := startServer(t, nil)
	ts.put(t, "1220SIP.cfg", []byte("[APP]\n"))
	const agent = "AVAYA/SIP12x0\x17/04.00.04.00"
	c, err := net.DialTimeout("tcp", ts.http, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte("GET /1220SIP.cfg HTTP/1.1\r\nHost: 198.18.0.1\r\nUser-Agent: " + agent + "\r\nConnection: close\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200", resp.StatusCode)
	}
	ev, ok := ts.events.find("http", "/1220SIP.cfg")
	if !ok || ev.UserAgent != agent || ev.Status != http.StatusOK {
		t.Errorf("access event %+v, want the agent as sent and 200", ev)
	}
}
