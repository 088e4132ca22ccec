// Package hatest makes TLS material for tests of the HA peer channel: a CA
// and, for each peer, a certificate good both for answering and for
// sending (server and client authentication), as Kea's HA hook uses one
// cert-file for both roles.
package hatest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"time"
)

// PeerFiles are one peer's certificate and key files (PEM).
type PeerFiles struct {
	Cert, Key string
}

// WriteCerts writes into dir a CA (ca.pem) and, for each peer name, a
// certificate for its address (<name>.pem, <name>-key.pem), valid from an
// hour ago for a day. It returns the CA file and the peers' files.
func WriteCerts(dir string, peers map[string]netip.Addr) (ca string, files map[string]PeerFiles, err error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", nil, fmt.Errorf("hatest: CA key: %w", err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "phoneprov HA test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, IsCA: true, BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return "", nil, fmt.Errorf("hatest: CA certificate: %w", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return "", nil, fmt.Errorf("hatest: CA certificate: %w", err)
	}
	ca = filepath.Join(dir, "ca.pem")
	if err := writePEM(ca, "CERTIFICATE", caDER); err != nil {
		return "", nil, err
	}
	files = map[string]PeerFiles{}
	serial := int64(2)
	for name, addr := range peers {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return "", nil, fmt.Errorf("hatest: key of %s: %w", name, err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
			KeyUsage:    x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
			IPAddresses: []net.IP{net.IP(addr.AsSlice())},
		}
		serial++
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			return "", nil, fmt.Errorf("hatest: certificate of %s: %w", name, err)
		}
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return "", nil, fmt.Errorf("hatest: key of %s: %w", name, err)
		}
		f := PeerFiles{Cert: filepath.Join(dir, name+".pem"), Key: filepath.Join(dir, name+"-key.pem")}
		if err := writePEM(f.Cert, "CERTIFICATE", der); err != nil {
			return "", nil, err
		}
		if err := writePEM(f.Key, "PRIVATE KEY", keyDER); err != nil {
			return "", nil, err
		}
		files[name] = f
	}
	return ca, files, nil
}

func writePEM(path, typ string, der []byte) error {
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		return fmt.Errorf("hatest: %w", err)
	}
	return nil
}
