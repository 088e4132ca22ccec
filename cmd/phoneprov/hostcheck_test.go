package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/phoneprov/phoneprov/internal/syncbuf"
)

// writeCert writes a self-signed certificate and its key as PEM files.
func writeCert(t *testing.T, dir, name string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{name}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
	return certFile, keyFile
}

func TestCheckLooksAtTheBox(t *testing.T) {
	dir := t.TempDir()
	certA, keyA := writeCert(t, dir, "a")
	_, keyB := writeCert(t, dir, "b")
	base := func(https, listen string) string {
		return `data_dir = "data"
[admin]
listen = "127.0.0.1:9167"
[fileserve.http]
listen = [` + listen + `]
[fileserve.https]
listen = ["127.0.0.1:8443"]
` + https + `
[fileserve.tftp]
listen = ["[::]:6969"]
`
	}
	for _, tc := range []struct {
		name, https, listen string
		want                []string // "" for a valid configuration
	}{
		{"own certificate", `cert_file = "` + certA + `"` + "\n" + `key_file = "` + keyA + `"`, `":8080", "0.0.0.0:8081", "127.0.0.1:8082"`, nil},
		{"missing certificate", `cert_file = "missing.pem"` + "\n" + `key_file = "` + keyA + `"`, `":8080"`,
			[]string{"fileserve.https.cert_file", "missing.pem", "no such file"}},
		{"missing key", `cert_file = "` + certA + `"` + "\n" + `key_file = "missing.key"`, `":8080"`,
			[]string{"fileserve.https.cert_file", "operator key", "no such file"}},
		{"key of another certificate", `cert_file = "` + certA + `"` + "\n" + `key_file = "` + keyB + `"`, `":8080"`,
			[]string{"fileserve.https.cert_file", "does not match"}},
		// 198.18.255.254 is a benchmarking address no interface of a test box has.
		{"address not on the box", "", `":8080", "198.18.255.254:8081"`,
			[]string{"fileserve.http.listen[1]", "198.18.255.254:8081 is not an address of this box", `":8081"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfgPath := filepath.Join(t.TempDir(), "phoneprov.toml")
			os.WriteFile(cfgPath, []byte(base(tc.https, tc.listen)), 0o644)
			var stdout, stderr syncbuf.Buffer
			code := run(context.Background(), []string{"check", "-c", cfgPath}, &stdout, &stderr)
			if tc.want == nil {
				if code != 0 {
					t.Fatalf("check: %d\n%s", code, stderr.String())
				}
				return
			}
			if code != 1 {
				t.Fatalf("check passed (%d), want a problem:\n%s", code, stdout.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("the message lacks %q:\n%s", w, stderr.String())
				}
			}
		})
	}
}
