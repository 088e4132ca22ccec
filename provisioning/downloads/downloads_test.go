package downloads

import (
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
	Config{MaxConcurrent: -1, RetryAfter: 0}.Validate(func(key string, err error) { keys = append(keys, key) })
	if strings.Join(keys, ",") != "max_concurrent,retry_after" {
		t.Errorf("reported %v", keys)
	}
	DefaultConfig().Validate(func(key string, err error) { t.Errorf("defaults: %s: %v", key, err) })
}
