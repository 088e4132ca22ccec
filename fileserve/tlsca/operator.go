package tlsca

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"os"
)

// LoadOperator loads an operator-supplied server certificate chain (certFile,
// PEM, leaf first) and its private key (keyFile, PEM PKCS#8, PKCS#1 or SEC 1;
// may be the same file as certFile). They override the generated material.
//
// caFile is optional. When given, its certificates become CACertPEM and the
// leaf must chain to one of them (validity dates are not checked here; see
// Bundle.Leaf). When empty, CACertPEM is the last certificate of the chain
// if it is self-signed, and empty otherwise.
//
// Keys need not be RSA, but old phones may only accept RSA.
func LoadOperator(certFile, keyFile, caFile string) (*Bundle, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("tlsca: read operator certificate: %w", err)
	}
	chain, err := parseCerts(certPEM)
	if err != nil {
		return nil, fmt.Errorf("tlsca: operator certificate %s: %w", certFile, err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("tlsca: read operator key: %w", err)
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("tlsca: operator key %s: %w", keyFile, err)
	}
	leaf := chain[0]
	if !publicKeysEqual(key.Public(), leaf.PublicKey) {
		return nil, fmt.Errorf("tlsca: operator key %s does not match the certificate in %s (subject %q); the first certificate in %s must be the one issued for this key",
			keyFile, certFile, leaf.Subject.String(), certFile)
	}

	b := &Bundle{
		Leaf:     leaf,
		CertFile: certFile,
		KeyFile:  keyFile,
	}
	for _, c := range chain {
		b.Certificate.Certificate = append(b.Certificate.Certificate, c.Raw)
	}
	b.Certificate.PrivateKey = key
	b.Certificate.Leaf = leaf

	if caFile != "" {
		caPEM, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("tlsca: read operator CA: %w", err)
		}
		cas, err := parseCerts(caPEM)
		if err != nil {
			return nil, fmt.Errorf("tlsca: operator CA %s: %w", caFile, err)
		}
		roots, inter := x509.NewCertPool(), x509.NewCertPool()
		for _, c := range cas {
			roots.AddCert(c)
			b.CACertPEM = append(b.CACertPEM, encodeCert(c.Raw)...)
		}
		for _, c := range chain[1:] {
			inter.AddCert(c)
		}
		_, err = leaf.Verify(x509.VerifyOptions{
			Roots:         roots,
			Intermediates: inter,
			// Only the signatures are checked here, not the dates.
			CurrentTime: leaf.NotBefore.Add(leaf.NotAfter.Sub(leaf.NotBefore) / 2),
			KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
		})
		if err != nil {
			return nil, fmt.Errorf("tlsca: operator certificate %s does not chain to the CA in %s: %w", certFile, caFile, err)
		}
		b.CAFile = caFile
	} else if last := chain[len(chain)-1]; bytes.Equal(last.RawIssuer, last.RawSubject) &&
		last.CheckSignature(last.SignatureAlgorithm, last.RawTBSCertificate, last.Signature) == nil {
		b.CACertPEM = encodeCert(last.Raw)
	}
	return b, nil
}
