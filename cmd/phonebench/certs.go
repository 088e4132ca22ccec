package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/phoneprov/phoneprov/fileserve/tlsca"
)

// Key types of the HTTPS certificate both servers of a pair get.
const (
	keyECDSA = "ecdsa" // ECDSA P-256
	keyRSA   = "rsa"   // RSA 2048
)

// keyList is the key types -keys can name, in the default order.
const keyList = keyECDSA + "," + keyRSA

// keyTitle spells a key type for the report.
func keyTitle(key string) string {
	return map[string]string{keyECDSA: "ECDSA P-256", keyRSA: "RSA 2048"}[key]
}

// certFiles is one self-signed server certificate and its key, as PEM files.
type certFiles struct {
	Key        string // keyECDSA or keyRSA
	Cert, Priv string // paths
}

// makeCert writes a self-signed certificate for 127.0.0.1 and localhost
// with a new key of the given type into dir, readable by its owner only
// (nginx's master reads it as root).
func makeCert(dir, key string) (certFiles, error) {
	return writeCert(dir, key, []net.IP{net.IPv4(127, 0, 0, 1)}, nil)
}

// writeCert writes a certificate for ips and localhost with a new key of
// the given type into dir, readable by its owner only (nginx's master
// reads it as root). The CA ca (its certificate and key, as
// tlsca.LoadOperator loads a pair) signs it, and the certificate file
// carries ca's certificate after it; a nil ca makes it self-signed.
func writeCert(dir, key string, ips []net.IP, ca *tlsca.Bundle) (certFiles, error) {
	var priv crypto.Signer
	var err error
	switch key {
	case keyECDSA:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case keyRSA:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		return certFiles{}, fmt.Errorf("certificate: unknown key type %q", key)
	}
	if err != nil {
		return certFiles{}, fmt.Errorf("certificate: %s key: %w", key, err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(now.UnixNano()),
		Subject:      pkix.Name{CommonName: "phonebench " + key},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  ips,
	}
	if key == keyRSA {
		tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
	}
	parent, signer := tmpl, any(priv)
	if ca != nil {
		parent, signer = ca.Leaf, ca.Certificate.PrivateKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, priv.Public(), signer)
	if err != nil {
		return certFiles{}, fmt.Errorf("certificate: %s: %w", key, err)
	}
	pk, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return certFiles{}, fmt.Errorf("certificate: %s key: %w", key, err)
	}
	chain := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if ca != nil {
		chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Leaf.Raw})...)
	}
	cf := certFiles{Key: key, Cert: dir + "/server-" + key + ".pem", Priv: dir + "/server-" + key + "-key.pem"}
	if err := os.WriteFile(cf.Cert, chain, 0o600); err != nil {
		return certFiles{}, fmt.Errorf("certificate: %w", err)
	}
	if err := os.WriteFile(cf.Priv, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk}), 0o600); err != nil {
		return certFiles{}, fmt.Errorf("certificate: %w", err)
	}
	return cf, nil
}

// parseKeys parses -keys: a comma-separated subset of keyList, in the
// order given, without repeats.
func parseKeys(s string) ([]string, error) {
	var out []string
	for p := range strings.SplitSeq(s, ",") {
		p = strings.TrimSpace(strings.ToLower(p))
		if p != keyECDSA && p != keyRSA {
			return nil, fmt.Errorf("%q is not one of %s", p, keyList)
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out, nil
}
