package fileserve

import (
	"bytes"
	"io"
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/pin/tftp/v3"
)

// Each finished request adds its duration, as its access event says, to
// the request-duration histogram of its protocol.
func TestRequestDurationByProtocol(t *testing.T) {
	ts := startServer(t, nil)
	ts.put(t, "a.txt", bytes.Repeat([]byte("phone "), 2000))

	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + ts.http + "/a.txt")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	c, err := tftp.NewClient(ts.tftp)
	if err != nil {
		t.Fatal(err)
	}
	c.SetTimeout(2 * time.Second)
	c.SetRetries(3)
	wt, err := c.Receive("a.txt", "octet")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wt.WriteTo(io.Discard); err != nil {
		t.Fatal(err)
	}

	want := map[string]float64{}
	for p, name := range map[string]string{"http": "/a.txt", "tftp": "a.txt"} {
		ev, ok := ts.events.find(p, name)
		if !ok {
			t.Fatalf("no %s access event", p)
		}
		want[p] = ev.Duration.Seconds()
	}
	mfs, err := ts.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, mf := range mfs {
		if mf.GetName() != "phoneprov_fileserve_request_duration_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			p := m.GetLabel()[0].GetValue()
			seen[p] = true
			h := m.GetHistogram()
			if b := h.GetBucket(); len(b) == 0 || b[0].GetUpperBound() != 0.001 || b[len(b)-1].GetUpperBound() != 60 {
				t.Errorf("%s buckets %v, want 1 ms to 60 s", p, b)
			}
			n, sum := uint64(0), 0.0
			if d, ok := want[p]; ok {
				n, sum = 1, d
			}
			if h.GetSampleCount() != n || math.Abs(h.GetSampleSum()-sum) > 1e-9 {
				t.Errorf("%s: %d requests taking %v s, want %d taking %v s", p, h.GetSampleCount(), h.GetSampleSum(), n, sum)
			}
		}
	}
	for _, p := range protocols {
		if !seen[p] {
			t.Errorf("no request-duration histogram for %s", p)
		}
	}
}
