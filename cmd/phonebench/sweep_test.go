package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/phoneprov/phoneprov/fileserve/tlsca"
)

// TestBuildScenariosSweep: every connection count for both files, over
// HTTP once and over HTTPS once per key type, each with its own ID; the
// 10 MiB file compared on MiB/s.
func TestBuildScenariosSweep(t *testing.T) {
	o, err := parseOptions([]string{"-only", "http,https", "-conns", "1,64", "-keys", "rsa,ecdsa"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ws := &workspace{Small: testFile{Name: "s", Size: 2 << 10}, Big: testFile{Name: "b", Size: 10 << 20}}
	scs := buildScenarios(o, ws)
	var ids []string
	for _, sc := range scs {
		ids = append(ids, sc.ID)
		want := "req/s"
		if strings.Contains(sc.ID, "10MiB") {
			want = "MiB/s"
		}
		if sc.Unit != want {
			t.Errorf("%s: unit %s, want %s", sc.ID, sc.Unit, want)
		}
	}
	want := []string{
		"http-2KiB-c1", "http-2KiB-c64", "http-10MiB-c1", "http-10MiB-c64",
		"https-rsa-2KiB-c1", "https-rsa-2KiB-c64", "https-rsa-10MiB-c1", "https-rsa-10MiB-c64",
		"https-ecdsa-2KiB-c1", "https-ecdsa-2KiB-c64", "https-ecdsa-10MiB-c1", "https-ecdsa-10MiB-c64",
	}
	if !slices.Equal(ids, want) {
		t.Errorf("scenarios:\n got %q\nwant %q", ids, want)
	}
	if sc := scs[5]; sc.Title != "HTTPS RSA 2048, 2 KiB ×64" || sc.Key != keyRSA || sc.Conns != 64 || sc.Proto != "https" {
		t.Errorf("scenario %s: %+v", sc.ID, sc)
	}
}

// TestSweepTable lays the results out a row per case, a column per
// connection count: the ratios, with "w" where wrk was busy 90 % of the
// time against both servers, the servers' CPU and wrk's per unit of work.
func TestSweepTable(t *testing.T) {
	var results []scenarioResult
	for _, key := range []string{"", keyECDSA} {
		for _, n := range []int{1, 8} {
			r := webResult(key, 2<<10, n, float64(1000*n), 1000)
			r.Phoneprov[0].Usage.CPU = time.Duration(n) * 100 * time.Millisecond
			r.Other[0].Usage.CPU = 500 * time.Millisecond
			results = append(results, r)
		}
	}
	results[3].Err = fmt.Errorf("wrk failed")
	// wrk busy against phoneprov only at one point, against both at the next.
	results[0].Phoneprov[0].ClientCPU, results[0].Other[0].ClientCPU = 1900*time.Millisecond, time.Second
	results[1].Phoneprov[0].ClientCPU, results[1].Other[0].ClientCPU = 1920*time.Millisecond, 1840*time.Millisecond
	s := newSweep(results, 2*time.Second)
	if !slices.Equal(s.Conns, []int{1, 8}) || len(s.Rows) != 2 {
		t.Fatalf("sweep: conns %v, %d rows", s.Conns, len(s.Rows))
	}
	var b strings.Builder
	s.writeMarkdown(&b)
	for _, line := range []string{
		"| case | 1 conns | 8 conns |",
		"| HTTP, 2 KiB | 1.00× (1000/1000) | 8.00× (8000/1000) w |",
		"| HTTPS ECDSA P-256, 2 KiB | 1.00× (1000/1000) | ERROR |",
		"| HTTP, 2 KiB | 50.0 / 250.0 | 50.0 / 250.0 |", // 100 ms / 2000 requests; 800 ms / 16000
		"| HTTPS ECDSA P-256, 2 KiB | 50.0 / 250.0 | – |",
		"| HTTP, 2 KiB | 950.0 / 500.0 (95/50 %) | 120.0 / 920.0 (96/92 %) |", // wrk: 1.9 s / 2000 requests, 1 s / 2000; 1.92 s / 16000, 1.84 s / 2000
		"| HTTPS ECDSA P-256, 2 KiB | 0.0 / 0.0 (0/0 %) | – |",
		"| HTTP, 2 KiB | 1.00–1.00 | 8.00–8.00 |", // one round each
	} {
		if !strings.Contains(b.String(), line+"\n") {
			t.Errorf("sweep table lacks %q:\n%s", line, b.String())
		}
	}
}

// TestSweepSpread: with several rounds a cell's ratio is the median of
// the rounds' ratios, and the spread table gives their lowest and highest.
func TestSweepSpread(t *testing.T) {
	r := webResult("", 10<<20, 1, 341, 264) // round 1: 1.29
	r.Phoneprov = append(r.Phoneprov, figures{Throughput: 182}, figures{Throughput: 418})
	r.Other = append(r.Other, figures{Throughput: 259}, figures{Throughput: 744}) // rounds 2, 3: 0.70, 0.56
	var b strings.Builder
	newSweep([]scenarioResult{r}, time.Second).writeMarkdown(&b)
	for _, line := range []string{"| HTTP, 10 MiB | 0.70× (341/264) |", "| HTTP, 10 MiB | 0.56–1.29 |"} {
		if !strings.Contains(b.String(), line+"\n") {
			t.Errorf("sweep lacks %q:\n%s", line, b.String())
		}
	}
}

// TestTwinSweep: the A/A table gives each point the median of nginx's
// round ratios against its twin and their spread, under its own heading,
// and the report has no such section without -twin.
func TestTwinSweep(t *testing.T) {
	r := webResult("", 10<<20, 256, 100, 100) // round 1: 1.00
	r.Phoneprov = append(r.Phoneprov, figures{Throughput: 83}, figures{Throughput: 109})
	r.Other = append(r.Other, figures{Throughput: 100}, figures{Throughput: 100}) // rounds 2, 3: 0.83, 1.09
	rep := &report{Opts: options{Duration: time.Second}, Twins: []scenarioResult{r}}
	var b strings.Builder
	rep.WriteMarkdown(&b)
	for _, want := range []string{"## A/A: nginx against an identical nginx\n", "| HTTP, 10 MiB | 1.00× (0.83–1.09) |\n"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
	rep.Twins = nil
	b.Reset()
	rep.WriteMarkdown(&b)
	if strings.Contains(b.String(), "A/A") {
		t.Errorf("report without twins has an A/A section:\n%s", b.String())
	}
}

// TestTwinsFor: with -twin, an HTTP point runs between the nginx and twin
// of the first key type, an HTTPS point between those of its own key, and
// a TFTP scenario has none.
func TestTwinsFor(t *testing.T) {
	ng := map[string]*server{}
	s := servers{keyed: map[string]webPair{}}
	for _, key := range []string{keyECDSA, keyRSA} {
		ng[key], ng[key+"-twin"] = &server{Name: "nginx-" + key}, &server{Name: "nginx-" + key + "-twin"}
		s.keyed[key] = webPair{nginx: ng[key], twin: ng[key+"-twin"]}
	}
	s.nginx = ng[keyECDSA] // HTTP runs with the first key type's pair
	f := testFile{Name: "f", Size: 2 << 10}
	for _, c := range []struct {
		sc   scenario
		want string // the key whose pair runs; "" for none
	}{
		{httpScenario("wrk", "", f, 8), keyECDSA},
		{httpScenario("wrk", keyRSA, f, 8), keyRSA},
		{tftpScenario(f, 1), ""},
	} {
		a, b := s.twinsFor(c.sc)
		switch {
		case c.want == "" && (a != nil || b != nil):
			t.Errorf("%s: twins %v, %v; want none", c.sc.ID, a, b)
		case c.want != "" && (a != ng[c.want] || b != ng[c.want+"-twin"]):
			t.Errorf("%s: twins %v, %v; want nginx and twin of %s", c.sc.ID, a, b, c.want)
		}
	}
}

// TestMakeCert: each key type gives a certificate phoneprov loads as an
// operator's, with a key of that type, that nginx accepts as well.
func TestMakeCert(t *testing.T) {
	dir := t.TempDir()
	for _, key := range []string{keyECDSA, keyRSA} {
		cf, err := makeCert(dir, key)
		if err != nil {
			t.Fatal(err)
		}
		b, err := tlsca.LoadOperator(cf.Cert, cf.Priv, "")
		if err != nil {
			t.Fatalf("%s: phoneprov refuses the certificate: %v", key, err)
		}
		switch k := b.Certificate.PrivateKey.(type) {
		case *ecdsa.PrivateKey:
			if key != keyECDSA || k.Curve.Params().Name != "P-256" {
				t.Errorf("%s: got an ECDSA %s key", key, k.Curve.Params().Name)
			}
		case *rsa.PrivateKey:
			if key != keyRSA || k.N.BitLen() != 2048 {
				t.Errorf("%s: got an RSA %d key", key, k.N.BitLen())
			}
		default:
			t.Errorf("%s: key %T", key, k)
		}
	}
	if _, err := makeCert(dir, "dsa"); err == nil {
		t.Error("makeCert accepted a key type it does not know")
	}
}

// TestWriteCertIssuedByPhoneprovsCA: the storm's ECDSA certificate is
// issued by phoneprov's own CA and carries it, so phoneprov loads it as an
// operator's certificate, serves that CA to phones, and a client trusting
// the CA accepts the chain for the lab address.
func TestWriteCertIssuedByPhoneprovsCA(t *testing.T) {
	tlsDir, dir := t.TempDir(), t.TempDir()
	own, err := tlsca.Ensure(context.Background(), tlsca.Options{Dir: tlsDir, Hosts: []string{labServerIP}})
	if err != nil {
		t.Fatal(err)
	}
	ca, err := tlsca.LoadOperator(filepath.Join(tlsDir, tlsca.CAFileName), filepath.Join(tlsDir, tlsca.CAKeyFileName), "")
	if err != nil {
		t.Fatal(err)
	}
	cf, err := writeCert(dir, keyECDSA, []net.IP{net.ParseIP(labServerIP)}, ca)
	if err != nil {
		t.Fatal(err)
	}
	b, err := tlsca.LoadOperator(cf.Cert, cf.Priv, "")
	if err != nil {
		t.Fatalf("phoneprov refuses the certificate: %v", err)
	}
	if _, ok := b.Certificate.PrivateKey.(*ecdsa.PrivateKey); !ok {
		t.Errorf("key %T, want ECDSA", b.Certificate.PrivateKey)
	}
	if !bytes.Equal(b.CACertPEM, own.CACertPEM) {
		t.Error("the chain does not end in phoneprov's CA, so phoneprov would not serve it to phones")
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(own.CACertPEM)
	if _, err := b.Leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: labServerIP}); err != nil {
		t.Errorf("a phone trusting phoneprov's CA refuses the certificate: %v", err)
	}
}

// TestNginxConfIsValid has nginx itself check the configuration it runs
// with (nginx -t), with each certificate.
func TestNginxConfIsValid(t *testing.T) {
	bin, err := lookTool("", "nginx")
	if err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	for _, key := range []string{keyECDSA, keyRSA} {
		cf, err := makeCert(dir, key)
		if err != nil {
			t.Fatal(err)
		}
		prefix := filepath.Join(dir, key)
		if err := os.MkdirAll(filepath.Join(prefix, "tmp"), 0o755); err != nil {
			t.Fatal(err)
		}
		conf := filepath.Join(prefix, "nginx.conf")
		text := fmt.Sprintf(nginxConf, prefix, dir, "127.0.0.1:1", "127.0.0.1:2", cf.Cert, cf.Priv)
		for _, want := range []string{"worker_processes auto;", "worker_connections 768;", "sendfile on;", "keepalive_requests 100000;"} {
			if !strings.Contains(text, want) {
				t.Errorf("nginx.conf lacks %q", want)
			}
		}
		if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.CommandContext(t.Context(), bin, "-t", "-p", prefix, "-c", conf, "-e", filepath.Join(prefix, "error.log")).CombinedOutput()
		if err != nil {
			t.Errorf("%s: nginx -t: %v\n%s", key, err, out)
		}
	}
}
