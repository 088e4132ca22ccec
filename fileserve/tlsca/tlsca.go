package tlsca

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// File names inside [Options.Dir].
const (
	CAFileName        = "ca.pem"         // CA certificate; served as phoneprov-ca.pem
	CAKeyFileName     = "ca-key.pem"     // CA private key, PKCS#8, 0600
	ServerFileName    = "server.pem"     // server certificate + CA certificate
	ServerKeyFileName = "server-key.pem" // server private key, PKCS#8, 0600
)

// Defaults and lifetimes.
const (
	DefaultCommonName = "phoneprov" // server certificate common name when Options.CommonName is empty
	DefaultKeyBits    = 2048        // RSA key size when Options.KeyBits is 0

	caLifetime     = 20        // years
	serverLifetime = 825 * day // CA/Browser and Apple limit for server certificates
	renewBefore    = 30 * day  // reissue when the server certificate expires sooner
	backdate       = 1 * day   // NotBefore offset: tolerates phone clock skew and time-zone mistakes
	day            = 24 * time.Hour
)

// ErrCA is wrapped by errors about CA material that Ensure refuses to repair
// on its own (missing key, unparsable or mismatched files, expired CA),
// because replacing the CA would break every phone that trusts it.
var ErrCA = errors.New("tlsca: CA unusable")

// Options says where the material lives and what the server certificate must
// cover.
type Options struct {
	// Dir holds the files (e.g. /var/lib/phoneprov/tls); created 0700 if
	// missing.
	Dir string
	// Hosts are the IP addresses and DNS names the server certificate must
	// cover. IPs become IP SANs, names DNS SANs; both are deduplicated and
	// sorted. IPv6 may be bracketed; zones are dropped. At least one host
	// is required.
	Hosts []string
	// CommonName is the server certificate's subject CN; default
	// DefaultCommonName.
	CommonName string
	// KeyBits is the RSA key size for newly generated keys; default
	// DefaultKeyBits (2048, phones are slow at 4096). At least 2048.
	KeyBits int
	// Now returns the current time; default time.Now. For tests.
	Now func() time.Time
}

// Bundle is the TLS material in use.
type Bundle struct {
	// CACertPEM is the CA certificate served to phones as phoneprov-ca.pem.
	// Empty from LoadOperator when no CA is known.
	CACertPEM []byte
	// Certificate is the server chain (leaf, then CA) and private key,
	// ready for tls.Config.Certificates. Its Leaf field is set.
	Certificate tls.Certificate
	// Leaf is the parsed server certificate.
	Leaf *x509.Certificate
	// Generated is true when the server certificate was (re)issued by this
	// call.
	Generated bool
	// Reason says why the server certificate was (re)issued; empty when
	// Generated is false.
	Reason string
	// CAGenerated is true when this call wrote ca.pem: a new CA was created
	// (phones must be given the new phoneprov-ca.pem), or the certificate
	// was re-created for an existing ca-key.pem (see the package doc).
	CAGenerated bool
	// CertFile and KeyFile are the server certificate and key files;
	// CAFile the CA certificate file ("" if none) and CAKeyFile the CA key
	// file ("" for operator material). For logs.
	CertFile, KeyFile, CAFile, CAKeyFile string
}

// config is Options validated and with defaults applied.
type config struct {
	dir   string
	ips   []netip.Addr
	names []string
	cn    string
	bits  int
	now   time.Time
}

func (o Options) config() (*config, error) {
	if o.Dir == "" {
		return nil, errors.New("tlsca: Options.Dir is empty")
	}
	if len(o.Hosts) == 0 {
		return nil, errors.New("tlsca: Options.Hosts is empty; the server certificate must cover at least one address or name")
	}
	ips, names, err := normalizeHosts(o.Hosts)
	if err != nil {
		return nil, err
	}
	c := &config{dir: o.Dir, ips: ips, names: names, cn: o.CommonName, bits: o.KeyBits}
	if c.cn == "" {
		c.cn = DefaultCommonName
	}
	if c.bits == 0 {
		c.bits = DefaultKeyBits
	}
	if c.bits < 2048 {
		return nil, fmt.Errorf("tlsca: Options.KeyBits %d is below 2048", c.bits)
	}
	if o.Now != nil {
		c.now = o.Now()
	} else {
		c.now = time.Now()
	}
	return c, nil
}

func (c *config) path(name string) string { return filepath.Join(c.dir, name) }

// checkClock refuses to issue certificates from an obviously wrong clock.
func (c *config) checkClock() error {
	if earliest := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC); c.now.Before(earliest) {
		return fmt.Errorf("tlsca: system clock reads %s, before %s; refusing to issue certificates with wrong validity dates (set the clock or enable NTP)",
			c.now.UTC().Format(time.RFC3339), earliest.Format("2006-01-02"))
	}
	return nil
}

// Ensure loads the CA and server certificate from opts.Dir, creating or
// reissuing what is missing or unsuitable as described in the package doc,
// and returns the material to serve. It is safe to call concurrently, also
// from several processes sharing Dir. ctx is checked before each key
// generation and write.
func Ensure(ctx context.Context, opts Options) (*Bundle, error) {
	cfg, err := opts.config()
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.dir, 0o700); err != nil {
		return nil, fmt.Errorf("tlsca: create %s: %w", cfg.dir, err)
	}
	ca, err := loadOrCreateCA(ctx, cfg)
	if err != nil {
		return nil, err
	}
	srv, err := ensureServer(ctx, cfg, ca)
	if err != nil {
		return nil, err
	}
	return &Bundle{
		CACertPEM: encodeCert(ca.cert.Raw),
		Certificate: tls.Certificate{
			Certificate: [][]byte{srv.leaf.Raw, ca.cert.Raw},
			PrivateKey:  srv.key,
			Leaf:        srv.leaf,
		},
		Leaf:        srv.leaf,
		Generated:   srv.reason != "",
		Reason:      srv.reason,
		CAGenerated: ca.written,
		CertFile:    cfg.path(ServerFileName),
		KeyFile:     cfg.path(ServerKeyFileName),
		CAFile:      cfg.path(CAFileName),
		CAKeyFile:   cfg.path(CAKeyFileName),
	}, nil
}

type caMaterial struct {
	cert    *x509.Certificate
	key     *rsa.PrivateKey
	written bool // ca.pem written by this call
}

// loadOrCreateCA returns the CA in cfg.dir, creating it only when both files
// are absent (or the certificate alone is absent; see package doc).
func loadOrCreateCA(ctx context.Context, cfg *config) (*caMaterial, error) {
	certPath, keyPath := cfg.path(CAFileName), cfg.path(CAKeyFileName)
	startOver := fmt.Sprintf("restore %s and %s from a backup, or remove both to create a new CA (every phone must then be given the new phoneprov-ca.pem)",
		certPath, keyPath)
	// Retries happen only when a concurrent caller created a file first.
	for attempt := 0; attempt < 4; attempt++ {
		certPEM, haveCert, err := readOptional(certPath)
		if err != nil {
			return nil, fmt.Errorf("%w: read CA certificate: %w", ErrCA, err)
		}
		keyPEM, haveKey, err := readOptional(keyPath)
		if err != nil {
			return nil, fmt.Errorf("%w: read CA key: %w", ErrCA, err)
		}

		if haveCert && !haveKey {
			return nil, fmt.Errorf("%w: CA certificate %s exists but its private key %s is missing; restore %s from a backup, or remove %s to create a new CA (every phone must then be given the new phoneprov-ca.pem)",
				ErrCA, certPath, keyPath, keyPath, certPath)
		}

		var key *rsa.PrivateKey
		if haveKey {
			key, err = parseRSAKey(keyPEM)
			if err != nil {
				return nil, fmt.Errorf("%w: CA key %s: %w; %s", ErrCA, keyPath, err, startOver)
			}
		}

		if haveCert {
			cert, err := parseCACert(certPEM, key, cfg.now)
			if err != nil {
				return nil, fmt.Errorf("%w: CA certificate %s: %w; %s", ErrCA, certPath, err, startOver)
			}
			return &caMaterial{cert: cert, key: key}, nil
		}

		// ca.pem is absent: create the key if needed, then the certificate.
		if err := cfg.checkClock(); err != nil {
			return nil, err
		}
		if key == nil {
			var keyPEM []byte
			key, keyPEM, err = newKey(ctx, cfg.bits, "CA")
			if err != nil {
				return nil, err
			}
			if err := writeAtomic(cfg.dir, CAKeyFileName, keyPEM, 0o600, true); errors.Is(err, fs.ErrExist) {
				continue // another caller won; use its key
			} else if err != nil {
				return nil, err
			}
		}
		der, err := createCACert(key, cfg.now)
		if err != nil {
			return nil, fmt.Errorf("tlsca: create CA certificate: %w", err)
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := writeAtomic(cfg.dir, CAFileName, encodeCert(der), 0o644, true); errors.Is(err, fs.ErrExist) {
			continue // another caller won; use its certificate
		} else if err != nil {
			return nil, err
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("tlsca: parse new CA certificate: %w", err)
		}
		return &caMaterial{cert: cert, key: key, written: true}, nil
	}
	return nil, fmt.Errorf("tlsca: %s and %s keep changing underneath; is another process rewriting them?", certPath, keyPath)
}

// parseRSAKey parses a PEM RSA private key (PKCS#8 or PKCS#1).
func parseRSAKey(data []byte) (*rsa.PrivateKey, error) {
	k, err := parseKey(data)
	if err != nil {
		return nil, err
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("key is %T, not RSA", k)
	}
	return rk, nil
}

// parseCACert parses ca.pem and checks it against key.
func parseCACert(data []byte, key *rsa.PrivateKey, now time.Time) (*x509.Certificate, error) {
	certs, err := parseCerts(data)
	if err != nil {
		return nil, err
	}
	c := certs[0]
	switch {
	case !c.BasicConstraintsValid || !c.IsCA:
		return nil, errors.New("not a CA certificate")
	case c.KeyUsage != 0 && c.KeyUsage&x509.KeyUsageCertSign == 0:
		return nil, errors.New("lacks the certificate-signing key usage")
	case !key.PublicKey.Equal(c.PublicKey):
		return nil, fmt.Errorf("does not belong to the private key in %s", CAKeyFileName)
	case !now.Before(c.NotAfter):
		return nil, fmt.Errorf("expired on %s", c.NotAfter.UTC().Format(time.RFC3339))
	}
	return c, nil
}

// caName derives the CA common name from its key, so that two appliances'
// CAs are distinguishable and a re-created certificate keeps its name.
func caName(pub *rsa.PublicKey) (string, error) {
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(spki)
	return "phoneprov CA " + hex.EncodeToString(sum[:4]), nil
}

func createCACert(key *rsa.PrivateKey, now time.Time) ([]byte, error) {
	cn, err := caName(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	notBefore := now.Add(-backdate).UTC().Truncate(time.Second)
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"phoneprov"}},
		NotBefore:             notBefore,
		NotAfter:              notBefore.AddDate(caLifetime, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
		SignatureAlgorithm:    x509.SHA256WithRSA,
	}
	return x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
}

// randomSerial returns a random positive 128-bit serial number.
func randomSerial() (*big.Int, error) {
	limit := new(big.Int).Lsh(big.NewInt(1), 128)
	for {
		n, err := rand.Int(rand.Reader, limit)
		if err != nil {
			return nil, fmt.Errorf("serial number: %w", err)
		}
		if n.Sign() > 0 {
			return n, nil
		}
	}
}

type serverMaterial struct {
	leaf   *x509.Certificate
	key    *rsa.PrivateKey
	reason string // why it was (re)issued; "" when reused
}

// ensureServer reuses server.pem/server-key.pem when they fit cfg and ca and
// reissues the certificate otherwise.
func ensureServer(ctx context.Context, cfg *config, ca *caMaterial) (*serverMaterial, error) {
	certPath, keyPath := cfg.path(ServerFileName), cfg.path(ServerKeyFileName)

	var key *rsa.PrivateKey
	var reason string
	keyPEM, haveKey, err := readOptional(keyPath)
	switch {
	case err != nil:
		return nil, fmt.Errorf("tlsca: read server key: %w", err)
	case !haveKey:
		reason = keyPath + " is missing"
	default:
		k, err := parseRSAKey(keyPEM)
		switch {
		case err != nil:
			reason = fmt.Sprintf("%s cannot be used: %v", keyPath, err)
		case k.N.BitLen() != cfg.bits:
			reason = fmt.Sprintf("%s is a %d-bit key, want %d", keyPath, k.N.BitLen(), cfg.bits)
		default:
			key = k
		}
	}

	var leaf *x509.Certificate
	certPEM, haveCert, err := readOptional(certPath)
	switch {
	case err != nil:
		return nil, fmt.Errorf("tlsca: read server certificate: %w", err)
	case !haveCert:
		if reason == "" {
			reason = certPath + " is missing"
		}
	default:
		certs, err := parseCerts(certPEM)
		if err != nil {
			if reason == "" {
				reason = fmt.Sprintf("%s cannot be parsed: %v", certPath, err)
			}
		} else if leaf = certs[0]; reason == "" {
			if problem := checkLeaf(leaf, key, ca.cert, cfg); problem != "" {
				reason = certPath + " " + problem
			}
		}
	}
	if reason == "" {
		return &serverMaterial{leaf: leaf, key: key}, nil
	}

	if err := cfg.checkClock(); err != nil {
		return nil, err
	}
	if key == nil {
		var keyPEM []byte
		key, keyPEM, err = newKey(ctx, cfg.bits, "server")
		if err != nil {
			return nil, err
		}
		// Written before the certificate: a crash in between leaves a
		// mismatched pair, which the next call reissues.
		if err := writeAtomic(cfg.dir, ServerKeyFileName, keyPEM, 0o600, false); err != nil {
			return nil, err
		}
	}
	der, err := createServerCert(key, ca, cfg)
	if err != nil {
		return nil, fmt.Errorf("tlsca: issue server certificate: %w", err)
	}
	leaf, err = x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("tlsca: parse new server certificate: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	chain := append(encodeCert(der), encodeCert(ca.cert.Raw)...)
	if err := writeAtomic(cfg.dir, ServerFileName, chain, 0o644, false); err != nil {
		return nil, err
	}
	return &serverMaterial{leaf: leaf, key: key, reason: reason}, nil
}

// checkLeaf returns why leaf cannot be reused, or "".
func checkLeaf(leaf *x509.Certificate, key *rsa.PrivateKey, ca *x509.Certificate, cfg *config) string {
	if !bytes.Equal(leaf.RawIssuer, ca.RawSubject) || leaf.CheckSignatureFrom(ca) != nil {
		return "is not signed by the CA in " + CAFileName
	}
	if !key.PublicKey.Equal(leaf.PublicKey) {
		return "does not match " + ServerKeyFileName
	}
	if leaf.SignatureAlgorithm != x509.SHA256WithRSA {
		return fmt.Sprintf("is signed with %v, want %v", leaf.SignatureAlgorithm, x509.SHA256WithRSA)
	}
	if leaf.IsCA {
		return "is a CA certificate"
	}
	if want := x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment; leaf.KeyUsage&want != want {
		return "lacks the digitalSignature or keyEncipherment key usage"
	}
	if !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageServerAuth) {
		return "lacks the serverAuth extended key usage"
	}
	if leaf.Subject.CommonName != cfg.cn {
		return fmt.Sprintf("has common name %q, want %q", leaf.Subject.CommonName, cfg.cn)
	}
	for _, ip := range cfg.ips {
		if !slices.ContainsFunc(leaf.IPAddresses, func(have net.IP) bool {
			a, ok := netip.AddrFromSlice(have)
			return ok && a.Unmap() == ip
		}) {
			return "does not cover " + ip.String()
		}
	}
	for _, name := range cfg.names {
		if !slices.ContainsFunc(leaf.DNSNames, func(have string) bool { return strings.EqualFold(have, name) }) {
			return "does not cover " + name
		}
	}
	if left := leaf.NotAfter.Sub(cfg.now); left < renewBefore {
		if left <= 0 {
			return "expired on " + leaf.NotAfter.UTC().Format(time.RFC3339)
		}
		return fmt.Sprintf("expires on %s, within %d days", leaf.NotAfter.UTC().Format(time.RFC3339), renewBefore/day)
	}
	return ""
}

func createServerCert(key *rsa.PrivateKey, ca *caMaterial, cfg *config) ([]byte, error) {
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	notBefore := cfg.now.Add(-backdate).UTC().Truncate(time.Second)
	notAfter := notBefore.Add(serverLifetime)
	if notAfter.After(ca.cert.NotAfter) {
		notAfter = ca.cert.NotAfter
	}
	ips := make([]net.IP, len(cfg.ips))
	for i, a := range cfg.ips {
		ips[i] = net.IP(a.AsSlice())
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cfg.cn, Organization: []string{"phoneprov"}},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              cfg.names,
		IPAddresses:           ips,
		SignatureAlgorithm:    x509.SHA256WithRSA,
	}
	return x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
}

// newKey generates an RSA key and its PEM form; what names it in errors.
// Key generation takes a while, so ctx is checked before and after.
func newKey(ctx context.Context, bits int, what string) (*rsa.PrivateKey, []byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	key, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return nil, nil, fmt.Errorf("tlsca: generate %s key: %w", what, err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("tlsca: encode %s key: %w", what, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	return key, keyPEM, nil
}
