package storm

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/phoneprov/phoneprov/cmd/phonesim/internal/dhcpc"
	"github.com/phoneprov/phoneprov/cmd/phonesim/internal/fetch"
	"github.com/phoneprov/phoneprov/cmd/phonesim/internal/model"
	"github.com/phoneprov/phoneprov/cmd/phonesim/internal/phone"
)

func TestParseMix(t *testing.T) {
	mix, err := ParseMix(catalog(t), " j179=40, 9608=30,CP-7941G=0,4621=10")
	if err != nil {
		t.Fatal(err)
	}
	if len(mix) != 4 || mix[0].Model.Name != "J179" || mix[2].Model.Key != "7941" || mix[3].Weight != 10 {
		t.Errorf("%+v", mix)
	}
	for _, bad := range []string{"j179", "j179=x", "j179=-1", "nokia=3", "j179=1,J179=2", "j179=0", ""} {
		if _, err := ParseMix(catalog(t), bad); err == nil {
			t.Errorf("ParseMix(%q): no error", bad)
		}
	}
	if _, err := ParseMix(catalog(t), DefaultMix); err != nil {
		t.Errorf("default mix: %v", err)
	}
}

func TestAllocate(t *testing.T) {
	mix, _ := ParseMix(catalog(t), "j179=40,9608=30,4621=10,vvx410=0")
	for _, n := range []int{1, 7, 50, 1000} {
		got := Allocate(mix, n, rand.New(rand.NewPCG(1, 2)))
		if len(got) != n {
			t.Fatalf("n=%d: %d phones", n, len(got))
		}
		counts := map[string]int{}
		for _, m := range got {
			counts[m.Key]++
		}
		if counts["vvx410"] != 0 {
			t.Errorf("a model of weight 0 got phones")
		}
		// Each share is within one phone of its exact value.
		for _, w := range mix {
			exact := float64(n) * float64(w.Weight) / 80
			if d := float64(counts[w.Model.Key]) - exact; d < -1 || d > 1 {
				t.Errorf("n=%d %s: %d phones, exact share %.1f", n, w.Model.Key, counts[w.Model.Key], exact)
			}
		}
	}
	// Shuffled: the first 20 of 1000 are not all one model.
	got := Allocate(mix, 1000, rand.New(rand.NewPCG(1, 2)))
	kinds := map[string]bool{}
	for _, m := range got[:20] {
		kinds[m.Key] = true
	}
	if len(kinds) < 2 {
		t.Error("boot order not mixed")
	}
}

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, time.Duration(i)*time.Second)
	}
	for p, want := range map[float64]time.Duration{50: 50 * time.Second, 95: 95 * time.Second, 100: 100 * time.Second, 1: time.Second, 0.1: time.Second} {
		if got := Percentile(ds, p); got != want {
			t.Errorf("p%v = %v, want %v", p, got, want)
		}
	}
	if Percentile(nil, 50) != 0 {
		t.Error("empty")
	}
	three := []time.Duration{1, 2, 3}
	if Percentile(three, 50) != 2 || Percentile(three, 95) != 3 {
		t.Error("nearest rank on 3 values")
	}
}

func TestBuildUniqueAndRepeatable(t *testing.T) {
	mix, _ := ParseMix(catalog(t), DefaultMix)
	a := Build(Config{Phones: 3000, Mix: mix, Seed: 7})
	b := Build(Config{Phones: 3000, Mix: mix, Seed: 7})
	seen := map[string]bool{}
	for i, p := range a {
		if seen[p.MAC.String()] {
			t.Fatalf("MAC %s twice", p.MAC)
		}
		seen[p.MAC.String()] = true
		if p.MAC.String() != b[i].MAC.String() || p.Model.Key != b[i].Model.Key {
			t.Fatal("the same seed drew different phones")
		}
		if [3]byte(p.MAC[:3]) != p.Model.OUI {
			t.Errorf("%s has a MAC outside its OUI: %s", p.Model.Name, p.MAC)
		}
	}
	if a[0].Ext != "2000" || a[2999].Ext != "4999" {
		t.Errorf("extensions %s … %s", a[0].Ext, a[2999].Ext)
	}
}

// stormDHCP leases loopback addresses; phones whose index is in fail get
// an error.
type stormDHCP struct {
	mu   sync.Mutex
	next int
	opts map[uint8][]byte
	fail map[string]bool
}

func (d *stormDHCP) Acquire(_ context.Context, id dhcpc.Identity, prev netip.Addr, _ dhcpc.Retry) (dhcpc.Lease, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fail[id.MAC.String()] {
		return dhcpc.Lease{}, errors.New("no OFFER")
	}
	if prev.IsValid() {
		return dhcpc.Lease{Prefix: netip.PrefixFrom(prev, 8), Options: d.opts}, nil
	}
	d.next++
	return dhcpc.Lease{Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{127, 0, 4, byte(d.next)}), 8), Options: d.opts}, nil
}

type noAddrs struct{}

func (noAddrs) Add(netip.Prefix, string) error { return nil }
func (noAddrs) Remove(netip.Addr) error        { return nil }

func TestRun(t *testing.T) {
	var requests, conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		switch r.URL.Path {
		case "/J100Supgrade.txt":
			fmt.Fprint(w, "SET APPNAME FW_S_J179_R4_1_3_0_6.bin\nGET 46xxsettings.txt\n")
		case "/46xxsettings.txt":
			fmt.Fprint(w, "SET X 1\n")
		case "/FW_S_J179_R4_1_3_0_6.bin":
			w.Write(make([]byte, 10000))
		default:
			http.NotFound(w, r)
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	port := srv.URL[strings.LastIndexByte(srv.URL, ':')+1:]
	mix, _ := ParseMix(catalog(t), "j179=1")
	cfg := Config{Phones: 40, Mix: mix, Seed: 3, Spread: 200 * time.Millisecond, PhoneTimeout: 10 * time.Second, ProgressEvery: 20 * time.Millisecond}
	phones := Build(cfg)
	d := &stormDHCP{opts: map[uint8][]byte{242: []byte("HTTPSRVR=127.0.0.1,HTTPPORT=" + port)}, fail: map[string]bool{phones[3].MAC.String(): true, phones[9].MAC.String(): true}}
	cfg.Env = phone.Env{DHCP: d, Addresses: noAddrs{}, FetchTries: 1}
	var snaps []Snapshot
	cfg.Progress = func(s Snapshot) { snaps = append(snaps, s) }
	s := Run(context.Background(), cfg, phones)
	if s.Phones != 40 || s.Provisioned != 38 || s.Failed != 2 || s.FailedSteps["dhcp"] != 2 || s.FirmwareUpdated != 38 {
		t.Fatalf("summary %+v", s)
	}
	if s.Time.P50 <= 0 || s.Time.P50 > s.Time.P95 || s.Time.P95 > s.Time.Max || s.Time.Max > s.Duration {
		t.Errorf("times %+v, storm %v", s.Time, s.Duration)
	}
	if st := s.Protocols["http"]; st.Requests != int(requests.Load()) || st.Bytes < 38*10000 || st.Connections != int(conns.Load()) || st.Connections < 38 {
		t.Errorf("http %+v, server saw %d requests on %d connections", st, requests.Load(), conns.Load())
	}
	last := snaps[len(snaps)-1]
	if last.Done() != 40 || last.Failed != 2 {
		t.Errorf("last snapshot %+v", last)
	}
	var text bytes.Buffer
	s.WriteText(&text, 1)
	out := text.String()
	for _, want := range []string{"40 phones", "provisioned 38", "failed 2", "p50", "http ", phones[3].MAC.String() + " J179     dhcp     no OFFER", "and 1 more"} {
		if !strings.Contains(out, want) && !strings.Contains(out, strings.Replace(want, phones[3].MAC.String(), phones[9].MAC.String(), 1)) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	var line bytes.Buffer
	Line(&line, Snapshot{Phones: 10, Provisioned: 3, Steps: map[string]int{"dhcp": 4, "firmware": 3}})
	if got := line.String(); !strings.Contains(got, "3/10 done") || !strings.Contains(got, "dhcp 4, firmware 3") {
		t.Errorf("line %q", got)
	}
}

// catalog builds the models from the repository's phone fact table.
func catalog(t *testing.T) model.Catalog {
	t.Helper()
	dir, err := model.FindTable(".")
	if err != nil {
		t.Fatal(err)
	}
	c, err := model.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestProtocolCounterSaysWhyHTTPSWasLeft: real fetches that end with the
// two errors after which an Avaya phone takes its files over HTTP (a
// certificate it does not trust, a server that cannot be reached), and
// with a handshake that timed out, are counted apart from other errors.
func TestProtocolCounterSaysWhyHTTPSWasLeft(t *testing.T) {
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	defer srv.Close()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := closed.Addr().String()
	closed.Close() // connecting is refused from now on
	// A server that accepts connections and never answers the handshake.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan []net.Conn, 1)
	go func() {
		var held []net.Conn // kept open, unanswered, until the test ends
		for {
			c, err := silent.Accept()
			if err != nil {
				accepted <- held
				return
			}
			held = append(held, c)
		}
	}()
	t.Cleanup(func() {
		silent.Close()
		for _, c := range <-accepted {
			c.Close()
		}
	})
	counter := newProtocolCounter()
	c := fetch.New(fetch.Config{Local: netip.MustParseAddr("127.0.0.1"), ConnectTimeout: 300 * time.Millisecond, RequestTimeout: 5 * time.Second, Observe: counter.observe})
	ctx := t.Context()
	untrusted := strings.TrimPrefix(srv.URL, "https://")
	for _, g := range []struct {
		server string
		want   error
	}{{untrusted, fetch.ErrUntrusted}, {untrusted, fetch.ErrUntrusted}, {deadAddr, fetch.ErrUnreachable}, {silent.Addr().String(), fetch.ErrTimedOut}} {
		if _, err := c.Get(ctx, fetch.HTTPS, g.server, "x.txt", io.Discard); !errors.Is(err, g.want) {
			t.Fatalf("GET https://%s/x.txt: %v, want %v", g.server, err, g.want)
		}
	}
	if err := c.Trust(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, fetch.HTTPS, untrusted, "x.txt", io.Discard); !errors.Is(err, fetch.ErrNotFound) {
		t.Fatalf("trusted GET: %v, want not found", err)
	}
	got := counter.totals()["https"]
	if got.Requests != 5 || got.Errors != 5 || got.Untrusted != 2 || got.Unreachable != 1 || got.TimedOut != 1 {
		t.Errorf("https %+v, want 5 requests, 5 errors, 2 not trusted, 1 unreachable, 1 timed out", got)
	}
}
