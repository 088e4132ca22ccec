package tlsca

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	t0    = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	hosts = []string{"127.0.0.1", "::1", "phoneprov.example", "10.1.2.3"}

	// Seeds generated once in TestMain (key generation is the slow part)
	// and copied into each test's temp dir.
	seedA, seedB string
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	root, err := os.MkdirTemp("", "tlsca-seed-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(root)
	seedA, seedB = filepath.Join(root, "a"), filepath.Join(root, "b")
	for _, d := range []string{seedA, seedB} {
		if _, err := Ensure(context.Background(), opts(d)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return m.Run()
}

func opts(dir string, extra ...string) Options {
	return Options{Dir: dir, Hosts: append(slices.Clone(hosts), extra...), Now: func() time.Time { return t0 }}
}

// seeded copies seed into a fresh temp dir and returns it.
func seeded(t *testing.T, seed string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tls")
	if err := os.CopyFS(dir, os.DirFS(seed)); err != nil {
		t.Fatal(err)
	}
	return dir
}

func ensure(t *testing.T, o Options) *Bundle {
	t.Helper()
	b, err := Ensure(context.Background(), o)
	if err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	return b
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		m[e.Name()] = string(readFile(t, filepath.Join(dir, e.Name())))
	}
	return m
}

func TestCreate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "var", "tls")
	o := opts(dir, " PhoneProv.Example. ", "[::1]", "::ffff:10.1.2.3", "fe80::1%eth0", "*.phones.example")
	b := ensure(t, o)
	if !b.Generated || !b.CAGenerated || b.Reason == "" {
		t.Errorf("Generated=%v CAGenerated=%v Reason=%q; want both true with a reason", b.Generated, b.CAGenerated, b.Reason)
	}

	// Files and modes.
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("dir mode: %v %v", fi.Mode(), err)
	}
	wantModes := map[string]fs.FileMode{CAFileName: 0o644, CAKeyFileName: 0o600, ServerFileName: 0o644, ServerKeyFileName: 0o600}
	ents, _ := os.ReadDir(dir)
	if len(ents) != len(wantModes) {
		t.Errorf("dir has %d entries, want exactly %v (no temp files)", len(ents), wantModes)
	}
	for name, mode := range wantModes {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s mode %v, want %v", name, fi.Mode().Perm(), mode)
		}
	}
	for _, name := range []string{CAKeyFileName, ServerKeyFileName} {
		if !bytes.HasPrefix(readFile(t, filepath.Join(dir, name)), []byte("-----BEGIN PRIVATE KEY-----")) {
			t.Errorf("%s is not PKCS#8 PEM", name)
		}
	}
	if !bytes.Equal(readFile(t, b.CAFile), b.CACertPEM) {
		t.Error("ca.pem differs from CACertPEM")
	}
	if want := append(encodeCert(b.Leaf.Raw), b.CACertPEM...); !bytes.Equal(readFile(t, b.CertFile), want) {
		t.Error("server.pem is not leaf + CA")
	}

	// CA properties.
	ca := parseOne(t, b.CACertPEM)
	caKey := ca.PublicKey.(*rsa.PublicKey)
	switch {
	case !ca.IsCA || !ca.BasicConstraintsValid || ca.MaxPathLen != 0 || !ca.MaxPathLenZero:
		t.Errorf("CA basic constraints: IsCA=%v MaxPathLen=%d zero=%v", ca.IsCA, ca.MaxPathLen, ca.MaxPathLenZero)
	case ca.KeyUsage != x509.KeyUsageCertSign|x509.KeyUsageCRLSign:
		t.Errorf("CA key usage %v", ca.KeyUsage)
	case ca.SignatureAlgorithm != x509.SHA256WithRSA || caKey.N.BitLen() != 2048:
		t.Errorf("CA alg %v bits %d", ca.SignatureAlgorithm, caKey.N.BitLen())
	case !strings.HasPrefix(ca.Subject.CommonName, "phoneprov CA ") || len(ca.Subject.CommonName) != len("phoneprov CA ")+8:
		t.Errorf("CA CN %q", ca.Subject.CommonName)
	case ca.CheckSignatureFrom(ca) != nil:
		t.Error("CA not self-signed")
	case ca.SerialNumber.Sign() <= 0 || ca.SerialNumber.BitLen() > 128:
		t.Errorf("CA serial %v", ca.SerialNumber)
	}
	if y := ca.NotAfter.Sub(ca.NotBefore).Hours() / 24 / 365; y < 19.9 || y > 20.1 {
		t.Errorf("CA validity %.1f years", y)
	}
	if other := parseOne(t, readFile(t, filepath.Join(seedA, CAFileName))); other.Subject.CommonName == ca.Subject.CommonName {
		t.Error("two CAs have the same common name")
	}

	// Server certificate properties.
	l := b.Leaf
	if b.Certificate.Leaf != l || len(b.Certificate.Certificate) != 2 || !bytes.Equal(b.Certificate.Certificate[1], ca.Raw) {
		t.Error("tls.Certificate is not leaf + CA with Leaf set")
	}
	switch {
	case l.IsCA:
		t.Error("leaf is CA")
	case l.KeyUsage != x509.KeyUsageDigitalSignature|x509.KeyUsageKeyEncipherment:
		t.Errorf("leaf key usage %v", l.KeyUsage)
	case !slices.Equal(l.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}):
		t.Errorf("leaf EKU %v", l.ExtKeyUsage)
	case l.SignatureAlgorithm != x509.SHA256WithRSA || l.PublicKey.(*rsa.PublicKey).N.BitLen() != 2048:
		t.Errorf("leaf alg %v", l.SignatureAlgorithm)
	case l.Subject.CommonName != "phoneprov":
		t.Errorf("leaf CN %q", l.Subject.CommonName)
	case !l.NotBefore.Before(t0.Add(-time.Hour)):
		t.Errorf("leaf NotBefore %v not backdated from %v", l.NotBefore, t0)
	case l.NotAfter.Sub(l.NotBefore) != 825*24*time.Hour:
		t.Errorf("leaf validity %v", l.NotAfter.Sub(l.NotBefore))
	case l.SerialNumber.Sign() <= 0 || l.SerialNumber.BitLen() > 128:
		t.Errorf("leaf serial %v", l.SerialNumber)
	}
	if want := []string{"*.phones.example", "phoneprov.example"}; !slices.Equal(l.DNSNames, want) {
		t.Errorf("DNSNames %v, want %v", l.DNSNames, want)
	}
	var ips []string
	for _, ip := range l.IPAddresses {
		ips = append(ips, ip.String())
	}
	if want := []string{"10.1.2.3", "127.0.0.1", "::1", "fe80::1"}; !slices.Equal(ips, want) {
		t.Errorf("IPAddresses %v, want %v", ips, want)
	}
}

func parseOne(t *testing.T, pemData []byte) *x509.Certificate {
	t.Helper()
	cs, err := parseCerts(pemData)
	if err != nil {
		t.Fatal(err)
	}
	return cs[0]
}

func TestReuse(t *testing.T) {
	dir := seeded(t, seedA)
	before := snapshot(t, dir)
	b := ensure(t, opts(dir))
	if b.Generated || b.CAGenerated || b.Reason != "" {
		t.Errorf("Generated=%v CAGenerated=%v Reason=%q; want reuse", b.Generated, b.CAGenerated, b.Reason)
	}
	if after := snapshot(t, dir); !maps(before, after) {
		t.Error("files changed on reuse")
	}
	if !bytes.Equal(b.CACertPEM, []byte(before[CAFileName])) || !bytes.HasPrefix([]byte(before[ServerFileName]), encodeCert(b.Leaf.Raw)) {
		t.Error("returned material differs from files")
	}
	// Hosts given in another order/spelling are the same set.
	b = ensure(t, Options{Dir: dir, Hosts: []string{"PHONEPROV.example", "10.1.2.3", "[::1]", "127.0.0.1", "10.1.2.3"}, Now: func() time.Time { return t0 }})
	if b.Generated {
		t.Errorf("reissued for equivalent hosts: %s", b.Reason)
	}
	// A subset of hosts is still covered.
	if b := ensure(t, Options{Dir: dir, Hosts: []string{"127.0.0.1"}, Now: func() time.Time { return t0 }}); b.Generated {
		t.Errorf("reissued for a subset of hosts: %s", b.Reason)
	}
}

func maps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestNewHostReissues(t *testing.T) {
	dir := seeded(t, seedA)
	before := snapshot(t, dir)
	b := ensure(t, opts(dir, "192.0.2.7"))
	if !b.Generated || b.CAGenerated || !strings.Contains(b.Reason, "192.0.2.7") {
		t.Fatalf("Generated=%v CAGenerated=%v Reason=%q", b.Generated, b.CAGenerated, b.Reason)
	}
	after := snapshot(t, dir)
	for _, f := range []string{CAFileName, CAKeyFileName, ServerKeyFileName} {
		if before[f] != after[f] {
			t.Errorf("%s changed", f)
		}
	}
	if before[ServerFileName] == after[ServerFileName] {
		t.Error("server.pem not rewritten")
	}
	if err := b.Leaf.VerifyHostname("192.0.2.7"); err != nil {
		t.Error(err)
	}
	if b2 := ensure(t, opts(dir, "192.0.2.7")); b2.Generated || !bytes.Equal(b2.Leaf.Raw, b.Leaf.Raw) {
		t.Error("reissued certificate not reused on the next call")
	}
	// Other options that change the certificate.
	o := opts(dir, "192.0.2.7")
	o.CommonName = "prov.example"
	if b := ensure(t, o); !b.Generated || !strings.Contains(b.Reason, "common name") || b.Leaf.Subject.CommonName != "prov.example" {
		t.Errorf("CommonName change: Generated=%v Reason=%q", b.Generated, b.Reason)
	}
	o.KeyBits = 3072
	if b := ensure(t, o); !b.Generated || !strings.Contains(b.Reason, "2048-bit") || b.Leaf.PublicKey.(*rsa.PublicKey).N.BitLen() != 3072 {
		t.Errorf("KeyBits change: Generated=%v Reason=%q", b.Generated, b.Reason)
	}
}

func TestExpiryReissues(t *testing.T) {
	dir := seeded(t, seedA)
	leaf := parseOne(t, readFile(t, filepath.Join(dir, ServerFileName)))
	o := opts(dir)

	o.Now = func() time.Time { return leaf.NotAfter.Add(-31 * 24 * time.Hour) }
	if b := ensure(t, o); b.Generated {
		t.Fatalf("reissued 31 days before expiry: %s", b.Reason)
	}
	now := leaf.NotAfter.Add(-29 * 24 * time.Hour)
	o.Now = func() time.Time { return now }
	b := ensure(t, o)
	if !b.Generated || !strings.Contains(b.Reason, "within 30 days") {
		t.Fatalf("Generated=%v Reason=%q", b.Generated, b.Reason)
	}
	if !b.Leaf.NotAfter.After(now.Add(800*24*time.Hour)) || b.CAGenerated {
		t.Errorf("new NotAfter %v, CAGenerated=%v", b.Leaf.NotAfter, b.CAGenerated)
	}

	o.Now = func() time.Time { return leaf.NotAfter.Add(time.Hour) }
	if b := ensure(t, seededOpts(t, o)); !b.Generated || !strings.Contains(b.Reason, "expired") {
		t.Errorf("expired: Generated=%v Reason=%q", b.Generated, b.Reason)
	}
}

// seededOpts returns o with a fresh copy of seedA as Dir.
func seededOpts(t *testing.T, o Options) Options {
	o.Dir = seeded(t, seedA)
	return o
}

func TestBrokenServerReissues(t *testing.T) {
	otherKey := readFile(t, filepath.Join(seedB, ServerKeyFileName))
	otherCert := readFile(t, filepath.Join(seedB, ServerFileName))
	cases := []struct {
		name   string
		mutate func(dir string)
		reason string
		newKey bool
	}{
		{"cert garbage", func(d string) { writeFile(t, filepath.Join(d, ServerFileName), []byte("garbage")) }, "cannot be parsed", false},
		{"cert truncated", func(d string) {
			p := filepath.Join(d, ServerFileName)
			b := readFile(t, p)
			writeFile(t, p, b[:len(b)/4])
		}, "cannot be parsed", false},
		{"cert missing", func(d string) { os.Remove(filepath.Join(d, ServerFileName)) }, "missing", false},
		{"other CA", func(d string) {
			writeFile(t, filepath.Join(d, ServerFileName), otherCert)
			writeFile(t, filepath.Join(d, ServerKeyFileName), otherKey)
		}, "not signed by the CA", false},
		{"key mismatch", func(d string) { writeFile(t, filepath.Join(d, ServerKeyFileName), otherKey) }, "does not match", false},
		{"key garbage", func(d string) { writeFile(t, filepath.Join(d, ServerKeyFileName), []byte("garbage")) }, "cannot be used", true},
		{"key missing", func(d string) { os.Remove(filepath.Join(d, ServerKeyFileName)) }, "missing", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := seeded(t, seedA)
			caBefore := readFile(t, filepath.Join(dir, CAFileName))
			tc.mutate(dir)
			keyBefore, _ := os.ReadFile(filepath.Join(dir, ServerKeyFileName))
			b := ensure(t, opts(dir))
			if !b.Generated || !strings.Contains(b.Reason, tc.reason) {
				t.Fatalf("Generated=%v Reason=%q, want reason containing %q", b.Generated, b.Reason, tc.reason)
			}
			if b.CAGenerated || !bytes.Equal(b.CACertPEM, caBefore) {
				t.Error("CA changed")
			}
			keyAfter := readFile(t, filepath.Join(dir, ServerKeyFileName))
			if newKey := !bytes.Equal(keyBefore, keyAfter); newKey != tc.newKey {
				t.Errorf("new key written = %v, want %v", newKey, tc.newKey)
			}
			if fi, _ := os.Stat(filepath.Join(dir, ServerKeyFileName)); tc.newKey && fi.Mode().Perm() != 0o600 {
				t.Errorf("key mode %v", fi.Mode().Perm())
			}
			verifyAll(t, b)
			if b := ensure(t, opts(dir)); b.Generated {
				t.Errorf("not stable after repair: %s", b.Reason)
			}
		})
	}
}

func TestCAKeyMissing(t *testing.T) {
	dir := seeded(t, seedA)
	keyPath := filepath.Join(dir, CAKeyFileName)
	os.Remove(keyPath)
	before := snapshot(t, dir)
	_, err := Ensure(context.Background(), opts(dir))
	if !errors.Is(err, ErrCA) || !strings.Contains(err.Error(), keyPath) || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("err = %v; want ErrCA naming %s", err, keyPath)
	}
	t.Log(err)
	if !maps(before, snapshot(t, dir)) {
		t.Error("files changed")
	}
}

func TestCABroken(t *testing.T) {
	cases := []struct {
		name, file string
		data       []byte
		want       string
	}{
		{"cert garbage", CAFileName, []byte("not pem"), "no PEM CERTIFICATE"},
		{"key garbage", CAKeyFileName, []byte("not pem"), "no PEM private key"},
		{"other CA key", CAKeyFileName, readFile(t, filepath.Join(seedB, CAKeyFileName)), "does not belong"},
		{"cert is not a CA", CAFileName, readFile(t, filepath.Join(seedA, ServerFileName)), "not a CA"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := seeded(t, seedA)
			writeFile(t, filepath.Join(dir, tc.file), tc.data)
			before := snapshot(t, dir)
			_, err := Ensure(context.Background(), opts(dir))
			if !errors.Is(err, ErrCA) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), filepath.Join(dir, tc.file)) {
				t.Fatalf("err = %v; want ErrCA naming %s with %q", err, tc.file, tc.want)
			}
			if !maps(before, snapshot(t, dir)) {
				t.Error("files changed")
			}
		})
	}
	t.Run("expired", func(t *testing.T) {
		dir := seeded(t, seedA)
		o := opts(dir)
		o.Now = func() time.Time { return t0.AddDate(21, 0, 0) }
		if _, err := Ensure(context.Background(), o); !errors.Is(err, ErrCA) || !strings.Contains(err.Error(), "expired") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestCACertMissingRecreated(t *testing.T) {
	dir := seeded(t, seedA)
	old := parseOne(t, readFile(t, filepath.Join(dir, CAFileName)))
	os.Remove(filepath.Join(dir, CAFileName))
	b := ensure(t, opts(dir))
	ca := parseOne(t, b.CACertPEM)
	if !b.CAGenerated || b.Generated {
		t.Errorf("CAGenerated=%v Generated=%v (%s)", b.CAGenerated, b.Generated, b.Reason)
	}
	if !bytes.Equal(ca.RawSubject, old.RawSubject) || !bytes.Equal(ca.RawSubjectPublicKeyInfo, old.RawSubjectPublicKeyInfo) || bytes.Equal(ca.Raw, old.Raw) {
		t.Error("re-created CA must have the old subject and key")
	}
	// Phones that trust the old CA certificate accept the chain.
	roots := x509.NewCertPool()
	roots.AddCert(old)
	if _, err := b.Leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "127.0.0.1", CurrentTime: t0}); err != nil {
		t.Error(err)
	}
}

// verifyAll checks the leaf against CACertPEM for every host.
func verifyAll(t *testing.T, b *Bundle) {
	t.Helper()
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(b.CACertPEM) {
		t.Fatal("CACertPEM has no certificate")
	}
	inter := x509.NewCertPool()
	for _, der := range b.Certificate.Certificate[1:] {
		c, _ := x509.ParseCertificate(der)
		inter.AddCert(c)
	}
	for _, h := range hosts {
		_, err := b.Leaf.Verify(x509.VerifyOptions{
			Roots: roots, Intermediates: inter, DNSName: h, CurrentTime: t0,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		})
		if err != nil {
			t.Errorf("verify %s: %v", h, err)
		}
	}
}

func TestVerify(t *testing.T) {
	b := ensure(t, opts(seeded(t, seedA)))
	verifyAll(t, b)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(b.CACertPEM)
	if _, err := b.Leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "192.0.2.99", CurrentTime: t0}); err == nil {
		t.Error("verified for a host not in the certificate")
	}
	other := x509.NewCertPool()
	other.AppendCertsFromPEM(readFile(t, filepath.Join(seedB, CAFileName)))
	if _, err := b.Leaf.Verify(x509.VerifyOptions{Roots: other, DNSName: "127.0.0.1", CurrentTime: t0}); err == nil {
		t.Error("verified against another CA")
	}
}

// handshake runs a TLS handshake over 127.0.0.1 and returns the client's view.
func handshake(t *testing.T, cert tls.Certificate, caPEM []byte, serverName string, maxVersion uint16, suites []uint16) (tls.ConnectionState, error) {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{cert},
		MaxVersion:   maxVersion,
		CipherSuites: suites,
		Time:         func() time.Time { return t0 },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	srvErr := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			srvErr <- err
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if err := c.(*tls.Conn).Handshake(); err != nil {
			srvErr <- err
			return
		}
		_, err = io.WriteString(c, "ok")
		srvErr <- err
	}()

	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		t.Fatal("no CA certificate")
	}
	d := &net.Dialer{Timeout: 10 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", ln.Addr().String(), &tls.Config{
		RootCAs:      roots,
		ServerName:   serverName,
		MaxVersion:   maxVersion,
		CipherSuites: suites,
		Time:         func() time.Time { return t0 },
	})
	if err != nil {
		<-srvErr
		return tls.ConnectionState{}, err
	}
	defer c.Close()
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "ok" {
		t.Errorf("read %q, %v", got, err)
	}
	if err := <-srvErr; err != nil {
		t.Errorf("server: %v", err)
	}
	return c.ConnectionState(), nil
}

func TestHandshake(t *testing.T) {
	b := ensure(t, opts(seeded(t, seedA)))
	for _, name := range []string{"127.0.0.1", "::1", "phoneprov.example"} {
		t.Run(name+"/default", func(t *testing.T) {
			st, err := handshake(t, b.Certificate, b.CACertPEM, name, 0, nil)
			if err != nil {
				t.Fatal(err)
			}
			if st.Version != tls.VersionTLS13 {
				t.Errorf("version %x", st.Version)
			}
		})
		t.Run(name+"/TLS1.2-RSA-kex", func(t *testing.T) {
			st, err := handshake(t, b.Certificate, b.CACertPEM, name, tls.VersionTLS12, []uint16{tls.TLS_RSA_WITH_AES_128_CBC_SHA})
			if err != nil {
				t.Fatal(err)
			}
			if st.Version != tls.VersionTLS12 || st.CipherSuite != tls.TLS_RSA_WITH_AES_128_CBC_SHA {
				t.Errorf("version %x suite %s", st.Version, tls.CipherSuiteName(st.CipherSuite))
			}
		})
	}
	t.Run("wrong name", func(t *testing.T) {
		if _, err := handshake(t, b.Certificate, b.CACertPEM, "other.example", 0, nil); err == nil {
			t.Error("handshake succeeded for a name not in the certificate")
		}
	})
}

func TestLoadOperator(t *testing.T) {
	dir := seeded(t, seedA)
	certFile, keyFile, caFile := filepath.Join(dir, ServerFileName), filepath.Join(dir, ServerKeyFileName), filepath.Join(dir, CAFileName)
	caPEM := readFile(t, caFile)

	t.Run("generated pair", func(t *testing.T) {
		b, err := LoadOperator(certFile, keyFile, "")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b.CACertPEM, caPEM) {
			t.Error("CACertPEM is not the self-signed last certificate of the chain")
		}
		if b.Generated || b.CertFile != certFile || b.KeyFile != keyFile || b.CAFile != "" || len(b.Certificate.Certificate) != 2 || b.Certificate.Leaf != b.Leaf {
			t.Errorf("bundle fields: %+v", b)
		}
		if _, err := handshake(t, b.Certificate, b.CACertPEM, "phoneprov.example", tls.VersionTLS12, []uint16{tls.TLS_RSA_WITH_AES_128_CBC_SHA}); err != nil {
			t.Error(err)
		}
	})
	t.Run("with CA file", func(t *testing.T) {
		b, err := LoadOperator(certFile, keyFile, caFile)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b.CACertPEM, caPEM) || b.CAFile != caFile {
			t.Error("CACertPEM/CAFile not from caFile")
		}
	})
	t.Run("leaf only, combined file, PKCS#1", func(t *testing.T) {
		leaf := parseOne(t, readFile(t, certFile))
		key, err := parseRSAKey(readFile(t, keyFile))
		if err != nil {
			t.Fatal(err)
		}
		combined := filepath.Join(t.TempDir(), "combined.pem")
		writeFile(t, combined, append(encodeCert(leaf.Raw), pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})...))
		b, err := LoadOperator(combined, combined, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(b.CACertPEM) != 0 || len(b.Certificate.Certificate) != 1 {
			t.Errorf("CACertPEM %q, chain %d", b.CACertPEM, len(b.Certificate.Certificate))
		}
	})
	t.Run("mismatched pair", func(t *testing.T) {
		otherKey := filepath.Join(seedB, ServerKeyFileName)
		_, err := LoadOperator(certFile, otherKey, "")
		if err == nil || !strings.Contains(err.Error(), "does not match") || !strings.Contains(err.Error(), otherKey) || !strings.Contains(err.Error(), certFile) {
			t.Fatalf("err = %v", err)
		}
		t.Log(err)
	})
	t.Run("other CA", func(t *testing.T) {
		_, err := LoadOperator(certFile, keyFile, filepath.Join(seedB, CAFileName))
		if err == nil || !strings.Contains(err.Error(), "does not chain") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("bad files", func(t *testing.T) {
		garbage := filepath.Join(t.TempDir(), "garbage.pem")
		writeFile(t, garbage, []byte("garbage"))
		for _, args := range [][3]string{
			{garbage, keyFile, ""},
			{certFile, garbage, ""},
			{certFile, keyFile, garbage},
			{filepath.Join(dir, "nope.pem"), keyFile, ""},
		} {
			if _, err := LoadOperator(args[0], args[1], args[2]); err == nil || !strings.Contains(err.Error(), filepath.Base(pick(args))) {
				t.Errorf("LoadOperator%q: err = %v", args, err)
			}
		}
	})
}

// pick returns the first argument that names a broken file.
func pick(args [3]string) string {
	for _, a := range args {
		if strings.Contains(a, "garbage") || strings.Contains(a, "nope") {
			return a
		}
	}
	return ""
}

func TestHosts(t *testing.T) {
	ips, names, err := normalizeHosts([]string{"B.example", "a.example.", "10.0.0.2", "10.0.0.10", "[2001:db8::1]", "::ffff:10.0.0.2", "a.example", "*.c.example", "fe80::1%eth0"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ip := range ips {
		got = append(got, ip.String())
	}
	if want := []string{"10.0.0.2", "10.0.0.10", "2001:db8::1", "fe80::1"}; !slices.Equal(got, want) {
		t.Errorf("ips %v, want %v", got, want)
	}
	if want := []string{"*.c.example", "a.example", "b.example"}; !slices.Equal(names, want) {
		t.Errorf("names %v, want %v", names, want)
	}
	for _, bad := range []string{"", "  ", "host:443", "bad name", "a..b", "-a.example", "a.*.example", "*", strings.Repeat("a", 64) + ".example"} {
		if _, _, err := normalizeHosts([]string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestOptionsErrors(t *testing.T) {
	dir := t.TempDir()
	for _, o := range []Options{
		{Hosts: hosts},
		{Dir: dir},
		{Dir: dir, Hosts: hosts, KeyBits: 1024},
		{Dir: dir, Hosts: []string{"x:1"}},
	} {
		if _, err := Ensure(context.Background(), o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Error("files written despite invalid options")
	}
}

func TestClockGuard(t *testing.T) {
	o := opts(filepath.Join(t.TempDir(), "tls"))
	o.Now = func() time.Time { return time.Date(1970, 1, 1, 0, 0, 10, 0, time.UTC) }
	if _, err := Ensure(context.Background(), o); err == nil || !strings.Contains(err.Error(), "clock") {
		t.Fatalf("err = %v", err)
	}
	// Existing material is still reused with a wrong clock.
	o.Dir = seeded(t, seedA)
	if b := ensure(t, o); b.Generated {
		t.Errorf("reissued: %s", b.Reason)
	}
}

func TestContextCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dir := filepath.Join(t.TempDir(), "tls")
	if _, err := Ensure(ctx, opts(dir)); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

func TestConcurrentFirstStart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	const n = 4
	var wg sync.WaitGroup
	results := make([]*Bundle, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { results[i], errs[i] = Ensure(context.Background(), opts(dir)) })
	}
	wg.Wait()
	final := ensure(t, opts(dir))
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		if !bytes.Equal(results[i].CACertPEM, final.CACertPEM) {
			t.Errorf("caller %d got a different CA", i)
		}
		verifyAll(t, results[i])
	}
	verifyAll(t, final)
	if ents, _ := os.ReadDir(dir); len(ents) != 4 {
		t.Errorf("%d files in dir", len(ents))
	}
}
