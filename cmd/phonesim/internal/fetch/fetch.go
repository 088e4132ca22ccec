// Package fetch moves one simulated phone's files over HTTPS, HTTP and
// TFTP from the phone's own address, the way the phone would: with its
// User-Agent, trusting only the certificates it has loaded (none on a first
// boot), and checking that every byte announced (Content-Length, tsize)
// arrived. Every transfer, good or bad, is reported to an Observer.
package fetch

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/phoneprov/phoneprov/cmd/phonesim/internal/tftpc"
)

// Protocol is how a file is fetched.
type Protocol string

// The protocols a phone uses.
const (
	HTTPS Protocol = "https"
	HTTP  Protocol = "http"
	TFTP  Protocol = "tftp"
)

// Errors a transfer ends with, wrapped with details; test with errors.Is.
var (
	// ErrNotFound: the server answered that it has no such file (HTTP 404,
	// TFTP error 1).
	ErrNotFound = errors.New("not found")
	// ErrUntrusted: the HTTPS server's certificate is not signed by a
	// certificate the phone trusts.
	ErrUntrusted = errors.New("server certificate not trusted")
	// ErrUnreachable: no connection could be made (refused, no route,
	// connect timeout) or, for TFTP, the server never answered.
	ErrUnreachable = errors.New("server unreachable")
	// ErrTimedOut: a connection was made, but the TLS handshake or the
	// answer did not come within the phone's timeouts.
	ErrTimedOut = errors.New("timed out")
	// ErrSizeMismatch: fewer or more bytes arrived than announced.
	ErrSizeMismatch = errors.New("size differs from the announced size")
)

// Transfer describes one finished (or failed) request.
type Transfer struct {
	Protocol Protocol
	Method   string // GET or PUT
	URL      string // https://198.18.0.1:443/J100Supgrade.txt, tftp://198.18.0.1:69/x
	Status   int    // HTTP status; for TFTP 200, 404 or 0 on other errors
	Bytes    int64  // body bytes received (GET) or sent (PUT)
	Size     int64  // announced size (Content-Length, tsize), -1 if none
	Duration time.Duration
	Err      error
}

// Observer is told about every transfer. It must be safe for concurrent use.
type Observer func(Transfer)

// Config is one phone's network identity and patience.
type Config struct {
	// Local is the phone's own address; every connection starts there.
	Local netip.Addr
	// UserAgent is sent with every HTTP request ("" sends none).
	UserAgent string
	// ConnectTimeout bounds a TCP connect and a TLS handshake.
	ConnectTimeout time.Duration
	// RequestTimeout bounds one whole request, body included.
	RequestTimeout time.Duration
	// TFTP tunes TFTP transfers.
	TFTP tftpc.Options
	// Observe, if set, is told about every transfer.
	Observe Observer
	// Dialed, if set, is told about every TCP connection the client
	// opens for HTTP or HTTPS (for HTTPS, every TLS handshake begun),
	// also one that ends up unused. It must be safe for concurrent use.
	Dialed func(Protocol)
	// TLSMax is the highest TLS version offered (tls.VersionTLS12, …);
	// 0 means TLS 1.2.
	TLSMax uint16
}

// Client fetches for one phone. It is safe for concurrent use.
type Client struct {
	cfg Config

	mu      sync.Mutex
	trust   *x509.CertPool
	trusted int // certificates loaded
	ua      string
	plain   *http.Client
	secure  *http.Client
}

// New returns a client for a phone with no trusted certificates.
func New(cfg Config) *Client {
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 5 * time.Second
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 60 * time.Second
	}
	c := &Client{cfg: cfg, trust: x509.NewCertPool(), ua: cfg.UserAgent}
	c.plain = &http.Client{Transport: c.transport(HTTP, nil), CheckRedirect: noRedirects}
	c.secure = &http.Client{Transport: c.transport(HTTPS, c.trust), CheckRedirect: noRedirects}
	return c
}

// noRedirects: phones follow no redirects (unconfirmed; the provisioning
// servers they talk to send none).
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

func (c *Client) transport(proto Protocol, roots *x509.CertPool) *http.Transport {
	d := &net.Dialer{Timeout: c.cfg.ConnectTimeout, LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(c.cfg.Local, 0))}
	dial := d.DialContext
	if c.cfg.Dialed != nil {
		dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c.cfg.Dialed(proto)
			return d.DialContext(ctx, network, addr)
		}
	}
	t := &http.Transport{
		DialContext:         dial,
		TLSHandshakeTimeout: c.cfg.ConnectTimeout,
		MaxIdleConnsPerHost: 2,
		// One connection to a server at a time: a phone fetches one file
		// after another, and Go's Transport would otherwise dial a spare
		// when the last response's connection is not back in its idle
		// pool yet, a handshake the phone would not make. Whether phones
		// keep connections alive between files at all is unconfirmed (no
		// source describes it); this client does, as browsers and curl do.
		MaxConnsPerHost:    1,
		IdleConnTimeout:    30 * time.Second,
		DisableCompression: true,
		ForceAttemptHTTP2:  false,
	}
	if roots != nil {
		// An empty pool, not nil: a phone trusts nothing until TRUSTCERTS
		// are loaded, never the host's system roots.
		//
		// The highest version is the phone's (the fact table's tls_max, see
		// model.Model.TLSMax): Go's client would otherwise offer TLS 1.3 and
		// a post-quantum key share (X25519MLKEM768) no phone sends.
		maxVersion := c.cfg.TLSMax
		if maxVersion == 0 {
			maxVersion = tls.VersionTLS12
		}
		t.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: min(tls.VersionTLS12, maxVersion), MaxVersion: maxVersion}
	}
	return t
}

// Trust adds the PEM certificates in pem to the phone's trusted set, as
// loading a TRUSTCERTS file does. It fails when pem holds no certificate.
func (c *Client) Trust(pem []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	pool := c.trust.Clone()
	n := 0
	for rest := pem; len(rest) > 0; {
		var one *x509.Certificate
		one, rest = nextCert(rest)
		if one == nil {
			break
		}
		pool.AddCert(one)
		n++
	}
	if n == 0 {
		return errors.New("no PEM certificate in the file")
	}
	c.trust, c.trusted = pool, c.trusted+n
	c.secure.CloseIdleConnections()
	c.secure = &http.Client{Transport: c.transport(HTTPS, pool), CheckRedirect: noRedirects}
	return nil
}

// Trusted is the number of certificates loaded.
func (c *Client) Trusted() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.trusted
}

// Close drops idle connections.
func (c *Client) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.plain.CloseIdleConnections()
	c.secure.CloseIdleConnections()
}

// Get fetches path from server ("host:port") over proto into w.
func (c *Client) Get(ctx context.Context, proto Protocol, server, path string, w io.Writer) (Transfer, error) {
	if proto == TFTP {
		return c.getTFTP(ctx, server, path, w)
	}
	u := url.URL{Scheme: string(proto), Host: server, Path: "/" + trimSlashes(path)}
	return c.do(ctx, http.MethodGet, u.String(), nil, nil, w)
}

// GetURL fetches an absolute http(s) URL into w (a BRURI restore).
func (c *Client) GetURL(ctx context.Context, rawURL string, header http.Header, w io.Writer) (Transfer, error) {
	return c.do(ctx, http.MethodGet, rawURL, nil, header, w)
}

// Put uploads body to an absolute http(s) URL (a BRURI backup); any 2xx
// answer is success.
func (c *Client) Put(ctx context.Context, rawURL string, header http.Header, body []byte) (Transfer, error) {
	return c.do(ctx, http.MethodPut, rawURL, body, header, io.Discard)
}

func trimSlashes(p string) string {
	for len(p) > 0 && p[0] == '/' {
		p = p[1:]
	}
	return p
}

func (c *Client) do(ctx context.Context, method, rawURL string, body []byte, header http.Header, w io.Writer) (Transfer, error) {
	tr := Transfer{Method: method, URL: rawURL, Size: -1}
	start := time.Now()
	finish := func(err error) (Transfer, error) {
		tr.Duration, tr.Err = time.Since(start), err
		if c.cfg.Observe != nil {
			c.cfg.Observe(tr)
		}
		return tr, err
	}
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return finish(fmt.Errorf("%s %s: not an http(s) URL", method, rawURL))
	}
	tr.Protocol = Protocol(u.Scheme)
	ctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, rawURL, rd)
	if err != nil {
		return finish(fmt.Errorf("%s %s: %w", method, rawURL, err))
	}
	for k, v := range header {
		req.Header[k] = v
	}
	c.mu.Lock()
	client := c.plain
	if u.Scheme == "https" {
		client = c.secure
	}
	if c.ua != "" {
		req.Header.Set("User-Agent", c.ua)
	} else {
		req.Header["User-Agent"] = nil // Go's own would lie about the client
	}
	c.mu.Unlock()

	resp, err := client.Do(req)
	if err != nil {
		return finish(fmt.Errorf("%s %s: %w", method, rawURL, classify(err)))
	}
	defer resp.Body.Close()
	tr.Status, tr.Size = resp.StatusCode, resp.ContentLength
	if method == http.MethodPut {
		tr.Bytes = int64(len(body))
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return finish(fmt.Errorf("PUT %s: %s", rawURL, resp.Status))
		}
		return finish(nil)
	}
	if resp.StatusCode == http.StatusNotFound {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return finish(fmt.Errorf("GET %s: %w (HTTP 404)", rawURL, ErrNotFound))
	}
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return finish(fmt.Errorf("GET %s: %s", rawURL, resp.Status))
	}
	n, err := io.Copy(w, resp.Body)
	tr.Bytes = n
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) && resp.ContentLength >= 0 {
			return finish(fmt.Errorf("GET %s: %w: %d of %d bytes", rawURL, ErrSizeMismatch, n, resp.ContentLength))
		}
		return finish(fmt.Errorf("GET %s: after %d bytes: %w", rawURL, n, classify(err)))
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return finish(fmt.Errorf("GET %s: %w: %d of %d bytes", rawURL, ErrSizeMismatch, n, resp.ContentLength))
	}
	return finish(nil)
}

func (c *Client) getTFTP(ctx context.Context, server, path string, w io.Writer) (Transfer, error) {
	tr := Transfer{Protocol: TFTP, Method: "GET", URL: "tftp://" + server + "/" + trimSlashes(path), Size: -1}
	start := time.Now()
	finish := func(err error) (Transfer, error) {
		tr.Duration, tr.Err = time.Since(start), err
		if c.cfg.Observe != nil {
			c.cfg.Observe(tr)
		}
		return tr, err
	}
	addr, err := resolve(ctx, server)
	if err != nil {
		return finish(err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	info, err := tftpc.Get(ctx, c.cfg.Local, addr, trimSlashes(path), w, c.cfg.TFTP)
	tr.Bytes, tr.Size = info.Bytes, info.TSize
	switch {
	case err == nil:
		tr.Status = http.StatusOK
		return finish(nil)
	case errors.Is(err, tftpc.ErrNotFound):
		tr.Status = http.StatusNotFound
		return finish(fmt.Errorf("%w: %w", ErrNotFound, err))
	case errors.Is(err, tftpc.ErrSizeMismatch):
		return finish(fmt.Errorf("%w: %w", ErrSizeMismatch, err))
	case errors.Is(err, tftpc.ErrTimeout) && info.Bytes == 0:
		return finish(fmt.Errorf("%w: %w", ErrUnreachable, err))
	}
	return finish(err)
}

// resolve turns "host:port" into an address; phones are given addresses,
// a name is looked up once.
func resolve(ctx context.Context, hostport string) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(hostport); err == nil {
		return ap, nil
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("server %q: %w", hostport, err)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("server %q: bad port", hostport)
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip4", host)
	if err != nil || len(addrs) == 0 {
		return netip.AddrPort{}, fmt.Errorf("server %q: %w: cannot resolve %s", hostport, ErrUnreachable, host)
	}
	return netip.AddrPortFrom(addrs[0].Unmap(), uint16(p)), nil
}

// classify marks certificate, connection and timeout errors with
// ErrUntrusted, ErrUnreachable and ErrTimedOut.
func classify(err error) error {
	var unknown x509.UnknownAuthorityError
	var verify *tls.CertificateVerificationError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	switch {
	case errors.As(err, &unknown), errors.As(err, &verify), errors.As(err, &hostname), errors.As(err, &invalid):
		return fmt.Errorf("%w: %w", ErrUntrusted, err)
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	var timeout interface{ Timeout() bool }
	if errors.As(err, &timeout) && timeout.Timeout() {
		return fmt.Errorf("%w: %w", ErrTimedOut, err)
	}
	return err
}
