package downloads

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/phoneprov/phoneprov/fileserve"
)

var (
	httpClient = fileserve.Client{Protocol: "http"}
	tftpClient = fileserve.Client{Protocol: "tftp"}
)

const image = "96x1/FW_S_J179_R4_1_3_0_6.bin" // recognised by the J100 SIP rule

func newLimiter(t *testing.T, max int) (*Limiter, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	l, err := New(Config{MaxConcurrent: max, RetryAfter: 45 * time.Second}, reg)
	if err != nil {
		t.Fatal(err)
	}
	return l, reg
}

func TestCapRefusesTheThirdAndReleaseAdmitsAgain(t *testing.T) {
	l, reg := newLimiter(t, 2)
	r1, _, ok1 := l.Admit(image, httpClient)
	r2, _, ok2 := l.Admit("S96x1_SIPV7_1_15.tar", httpClient) // any recognised image counts
	if !ok1 || !ok2 || r1 == nil || r2 == nil {
		t.Fatalf("first two: ok %v %v, release %v %v", ok1, ok2, r1 != nil, r2 != nil)
	}
	if rel, retry, ok := l.Admit(image, tftpClient); ok || rel != nil || retry != 45*time.Second {
		t.Fatalf("third: ok=%v release=%v retry=%s; want refused, 45s", ok, rel != nil, retry)
	}
	if _, _, ok := l.Admit(image, httpClient); ok {
		t.Fatal("fourth admitted over the cap")
	}
	if got := testutil.ToFloat64(l.refused.WithLabelValues("tftp")); got != 1 {
		t.Errorf("refused tftp = %v, want 1", got)
	}
	if got := testutil.ToFloat64(l.refused.WithLabelValues("http")); got != 1 {
		t.Errorf("refused http = %v, want 1", got)
	}
	want := `
# HELP phoneprov_firmware_downloads_active Firmware downloads in flight over HTTP, HTTPS and TFTP.
# TYPE phoneprov_firmware_downloads_active gauge
phoneprov_firmware_downloads_active 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "phoneprov_firmware_downloads_active"); err != nil {
		t.Error(err)
	}
	r1()
	if l.Active() != 1 {
		t.Fatalf("active after a release = %d, want 1", l.Active())
	}
	r3, _, ok := l.Admit(image, httpClient)
	if !ok {
		t.Fatal("refused after a release")
	}
	r2()
	r3()
	if l.Active() != 0 {
		t.Fatalf("active after all released = %d", l.Active())
	}
	if l.Peak() != 2 {
		t.Errorf("peak = %d, want 2 (the cap held)", l.Peak())
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP phoneprov_firmware_downloads_peak The most firmware downloads in flight at once since phoneprov started.
# TYPE phoneprov_firmware_downloads_peak gauge
phoneprov_firmware_downloads_peak 2
`), "phoneprov_firmware_downloads_peak"); err != nil {
		t.Error(err)
	}
}

func TestOtherFilesAreNeitherCountedNorRefused(t *testing.T) {
	l, _ := newLimiter(t, 1)
	rel, _, ok := l.Admit(image, httpClient)
	if !ok {
		t.Fatal("first image refused")
	}
	defer rel()
	for _, name := range []string{"46xxsettings.txt", "96x1Supgrade.txt", "J100Supgrade.txt", "c81fea83e85a.txt", "phoneprov-ca.pem", "logo.jpg"} {
		for range 3 {
			if rel, _, ok := l.Admit(name, httpClient); !ok || rel != nil {
				t.Errorf("%s: ok=%v release=%v; want admitted, uncounted", name, ok, rel != nil)
			}
		}
	}
	// An image the rules do not know, named by [[provisioning.firmware]], still counts.
	if _, _, ok := l.Admit("custom_9641_sip.tar", httpClient); ok {
		t.Error("an unrecognised .tar over the cap was admitted")
	}
	if l.Active() != 1 {
		t.Errorf("active = %d, want 1", l.Active())
	}
}

func TestNoCapCountsButAdmitsAll(t *testing.T) {
	l, _ := newLimiter(t, 0)
	var rels []func()
	for range 100 {
		rel, _, ok := l.Admit(image, httpClient)
		if !ok {
			t.Fatal("refused with no cap")
		}
		rels = append(rels, rel)
	}
	if l.Active() != 100 {
		t.Fatalf("active = %d", l.Active())
	}
	for _, r := range rels {
		r()
	}
	if l.Active() != 0 {
		t.Fatalf("active = %d after releases", l.Active())
	}
}

func TestAdmitAllocatesNothingForKnownNames(t *testing.T) {
	l, _ := newLimiter(t, 10)
	for _, name := range []string{"46xxsettings.txt", image} {
		l.Admit(name, httpClient) // remembered from now on
		allocs := testing.AllocsPerRun(100, func() {
			if rel, _, _ := l.Admit(name, httpClient); rel != nil {
				rel()
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per Admit", name, allocs)
		}
	}
}

func TestConcurrentAdmitsNeverExceedTheCap(t *testing.T) {
	l, _ := newLimiter(t, 3)
	done := make(chan struct{})
	over := make(chan int, 1)
	for range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			for range 2000 {
				rel, _, ok := l.Admit(image, httpClient)
				if !ok {
					continue
				}
				if n := l.Active(); n > 3 {
					select {
					case over <- n:
					default:
					}
				}
				rel()
			}
		}()
	}
	for range 8 {
		<-done
	}
	select {
	case n := <-over:
		t.Fatalf("%d in flight with a cap of 3", n)
	default:
	}
}

func TestSetConfigChangesTheCap(t *testing.T) {
	l, reg := newLimiter(t, 1)
	rel, _, _ := l.Admit(image, httpClient)
	defer rel()
	if _, _, ok := l.Admit(image, httpClient); ok {
		t.Fatal("admitted over a cap of 1")
	}
	l.SetConfig(Config{MaxConcurrent: 2, RetryAfter: time.Minute})
	rel2, _, ok := l.Admit(image, httpClient)
	if !ok {
		t.Fatal("refused under the new cap of 2")
	}
	defer rel2()
	if _, retry, ok := l.Admit(image, httpClient); ok || retry != time.Minute {
		t.Fatalf("over the new cap: ok=%v retry=%s", ok, retry)
	}
	want := `
# HELP phoneprov_firmware_downloads_max The cap on concurrent firmware downloads in use; 0 means none.
# TYPE phoneprov_firmware_downloads_max gauge
phoneprov_firmware_downloads_max 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "phoneprov_firmware_downloads_max"); err != nil {
		t.Error(err)
	}
}

func TestValidate(t *testing.T) {
	var keys []string
	Config{MaxConcurrent: -1, MaxPerLink: -1, RetryAfter: 0}.Validate(func(key string, err error) { keys = append(keys, key) })
	Config{MaxConcurrent: 5, MaxPerLink: 6, RetryAfter: time.Second}.Validate(func(key string, err error) { keys = append(keys, key) })
	if strings.Join(keys, ",") != "max_concurrent,max_per_link,retry_after,max_per_link" {
		t.Errorf("reported %v", keys)
	}
	DefaultConfig().Validate(func(key string, err error) { t.Errorf("defaults: %s: %v", key, err) })
}

func client(addr string) fileserve.Client {
	return fileserve.Client{Protocol: "https", Addr: netip.MustParseAddr(addr)}
}

// TestCapPerLink: with max_per_link 2, a third phone of one DHCP subnet
// is refused while a phone of another subnet, or of an unconfigured /24,
// is admitted; a release frees a place on its own link only.
func TestCapPerLink(t *testing.T) {
	reg := prometheus.NewRegistry()
	l, err := New(Config{MaxConcurrent: 10, MaxPerLink: 2, RetryAfter: 20 * time.Second}, reg)
	if err != nil {
		t.Fatal(err)
	}
	l.SetLinks([]netip.Prefix{netip.MustParsePrefix("198.18.0.0/16"), netip.MustParsePrefix("198.18.4.0/22"), netip.MustParsePrefix("198.19.0.0/16")})
	admit := func(addr string) func() {
		t.Helper()
		rel, _, ok := l.Admit(image, client(addr))
		if !ok || rel == nil {
			t.Fatalf("%s refused", addr)
		}
		return rel
	}
	a1 := admit("198.18.1.1")
	admit("198.18.200.7") // the same /16 subnet, another /24
	if _, retry, ok := l.Admit(image, client("198.18.9.9")); ok || retry != 20*time.Second {
		t.Fatalf("third on 198.18.0.0/16: ok=%v retry=%s", ok, retry)
	}
	// The /22 is a link of its own (the longest configured prefix wins).
	admit("198.18.5.1")
	admit("198.18.6.1")
	if _, _, ok := l.Admit(image, client("198.18.7.1")); ok {
		t.Fatal("third on 198.18.4.0/22 admitted")
	}
	// Outside every subnet: the /24 is the link.
	admit("198.19.0.1")
	admit("::ffff:198.19.0.2")
	if _, _, ok := l.Admit(image, client("198.19.0.3")); ok {
		t.Fatal("third on 198.19.0.0/16 admitted")
	}
	// Settings are never held back by it.
	if _, _, ok := l.Admit("46xxsettings.txt", client("198.18.9.9")); !ok {
		t.Fatal("settings refused")
	}
	a1()
	admit("198.18.9.9")
	u := l.Use(2)
	if u.Active != 6 || u.Refused != 3 || u.MaxOnLink != 2 || len(u.Busiest) != 2 || u.Busiest[0].Active != 2 {
		t.Errorf("use = %+v", u)
	}
	if got := testutil.ToFloat64(l.linkRefused); got != 3 {
		t.Errorf("refused on a link = %v, want 3", got)
	}
	if got := testutil.ToFloat64(l.refused.WithLabelValues("https")); got != 3 {
		t.Errorf("refused = %v, want 3", got)
	}
}

// TestCapPerLinkUnderTheGlobalCap: the global cap still binds.
func TestCapPerLinkUnderTheGlobalCap(t *testing.T) {
	l, err := New(Config{MaxConcurrent: 2, MaxPerLink: 2, RetryAfter: time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"198.18.1.1", "198.18.2.1"} {
		if _, _, ok := l.Admit(image, client(a)); !ok {
			t.Fatalf("%s refused", a)
		}
	}
	if _, _, ok := l.Admit(image, client("198.18.3.1")); ok {
		t.Fatal("a third link's phone admitted over the global cap of 2")
	}
	if l.Use(10).Busiest[0].Active != 1 {
		t.Errorf("the refused download was counted on its link: %+v", l.Use(10))
	}
}
