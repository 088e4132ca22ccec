package tlsca

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/phoneprov/phoneprov/internal/durable"
)

// writeAtomic writes data to dir/name with durable.WriteFile, or with
// durable.CreateFile when noReplace (then an existing file is left alone and
// the error wraps fs.ErrExist).
func writeAtomic(dir, name string, data []byte, perm fs.FileMode, noReplace bool) error {
	write := durable.WriteFile
	if noReplace {
		write = durable.CreateFile
	}
	if err := write(filepath.Join(dir, name), data, perm); err != nil {
		return fmt.Errorf("tlsca: %w", err)
	}
	return nil
}

// readOptional reads path; a missing file gives (nil, false, nil).
func readOptional(path string) ([]byte, bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return b, true, nil
}

// encodeCert returns der as a PEM CERTIFICATE block.
func encodeCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// encodeKey returns key as a PEM PKCS#8 PRIVATE KEY block.
func encodeKey(key crypto.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// parseCerts returns every CERTIFICATE block in data, in order. Other block
// types are skipped; an empty result is an error.
func parseCerts(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM CERTIFICATE block found")
	}
	return certs, nil
}

// parseKey returns the first private key in data. It accepts PKCS#8
// ("PRIVATE KEY"), PKCS#1 ("RSA PRIVATE KEY") and SEC 1 ("EC PRIVATE KEY")
// and skips other blocks, so a combined certificate+key file works.
func parseKey(data []byte) (crypto.Signer, error) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, errors.New("no PEM private key block found")
		}
		if b.Type == "ENCRYPTED PRIVATE KEY" || (b.Headers["Proc-Type"] != "" && strings.HasSuffix(b.Type, "PRIVATE KEY")) {
			return nil, errors.New("private key is encrypted; provide an unencrypted key")
		}
		var (
			k   any
			err error
		)
		switch b.Type {
		case "PRIVATE KEY":
			k, err = x509.ParsePKCS8PrivateKey(b.Bytes)
		case "RSA PRIVATE KEY":
			k, err = x509.ParsePKCS1PrivateKey(b.Bytes)
		case "EC PRIVATE KEY":
			k, err = x509.ParseECPrivateKey(b.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s block: %w", b.Type, err)
		}
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("unsupported private key type %T", k)
		}
		return s, nil
	}
}

// publicKeysEqual reports whether a and b are the same public key.
func publicKeysEqual(a, b crypto.PublicKey) bool {
	e, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && e.Equal(b)
}
