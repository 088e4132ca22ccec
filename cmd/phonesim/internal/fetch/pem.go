package fetch

import (
	"crypto/x509"
	"encoding/pem"
)

// nextCert returns the first parseable CERTIFICATE block in b and the rest
// of b after it; nil when none is left. Other blocks are skipped.
func nextCert(b []byte) (*x509.Certificate, []byte) {
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			return nil, nil
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		if c, err := x509.ParseCertificate(block.Bytes); err == nil {
			return c, b
		}
	}
}
