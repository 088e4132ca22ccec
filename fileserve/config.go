package fileserve

import (
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"time"
)

// Config is the [fileserve] section of the configuration file.
type Config struct {
	// Root is the operator's file tree; empty means "files" in the data directory.
	Root string `toml:"root"`
	// ServerNames are extra DNS names or addresses the HTTPS certificate must cover,
	// beyond the addresses found on the box's interfaces.
	ServerNames []string `toml:"server_names"`
	// DrainTimeout is how long a stop waits for transfers in flight.
	DrainTimeout time.Duration `toml:"drain_timeout"`

	HTTP  HTTPConfig  `toml:"http"`
	HTTPS HTTPSConfig `toml:"https"`
	TFTP  TFTPConfig  `toml:"tftp"`
}

// HTTPConfig is [fileserve.http].
type HTTPConfig struct {
	Enabled bool     `toml:"enabled"`
	Listen  []string `toml:"listen"`
	// ReadHeaderTimeout bounds how long a client may take to send its request head.
	ReadHeaderTimeout time.Duration `toml:"read_header_timeout"`
	// IdleTimeout closes keep-alive connections that stay silent this long.
	IdleTimeout time.Duration `toml:"idle_timeout"`
	// WriteTimeout bounds a whole response, so it must fit the largest firmware on the slowest link.
	WriteTimeout time.Duration `toml:"write_timeout"`
	// MaxHeaderBytes caps the request head.
	MaxHeaderBytes int `toml:"max_header_bytes"`
	// SendBuffer is the socket send buffer (SO_SNDBUF) of each HTTP and
	// HTTPS connection opened while another one is open; 0 leaves every
	// one to the kernel's autotuning. See DefaultSendBuffer for why it is
	// fixed by default.
	SendBuffer int `toml:"send_buffer"`
	// MaxConnections caps the HTTP and HTTPS connections served at once,
	// both protocols together; 0 means no cap. See DefaultMaxConnections.
	MaxConnections int `toml:"max_connections"`
}

// DefaultMaxConnections is how many HTTP and HTTPS connections are served
// at once. Past it, new connections wait in the kernel's listen queue
// until one ends, and keep-alive connections waiting for their next
// request are closed to make room, as nginx does when its
// worker_connections run out (Debian's nginx.conf: 768 per worker, one
// worker per core). Every connection costs memory (its goroutine's stack,
// TLS state, a read buffer): a 10,000-phone boot storm held about 2,200 at once
// with no cap. The CPU is the limit long before then: at the 1.36 ms an
// RSA-2048 signature took here (Go 1.26, idle), 1,024 handshakes sharing
// two cores would take about 0.7 s each (an estimate, not a measurement).
const DefaultMaxConnections = 1024

// DefaultSendBuffer is the socket send buffer of every HTTP and HTTPS
// connection (SO_SNDBUF; the kernel doubles it for its bookkeeping),
// instead of the kernel's autotuning up to net.ipv4.tcp_wmem's maximum
// (4 MiB by default).
//
// A fixed buffer bounds what each download holds in the kernel: a boot
// storm of a thousand phones could otherwise pin gigabytes. It also keeps
// big files flowing evenly: with megabytes queued at once, more of the
// kernel's TCP work falls on the client's side. Measured on loopback, wrk
// (one thread) spent 1.5 times the CPU per byte with autotuning, and 10
// MiB downloads ran 1.7 times as fast with 256 KiB. 512 KiB in flight is
// still four times what a gigabit LAN with a millisecond of round trip
// needs; over a 50 ms WAN link it caps one download at about 10 MB/s, so
// a box serving remote sites may want more (or 0).
//
// A connection opened while no other is open keeps the autotuning: a lone
// download (a technician's, one phone's over a WAN link) gets the whole
// pipe, and at most one connection per listener can be in that state. On
// loopback (wrk, a 10 MiB file, 3 s each) one connection ran at 2.87 GB/s
// autotuned against 1.96 GB/s fixed; from two connections on the fixed
// buffer was ahead, 3.66–4.34 GB/s against 2.25–2.60 GB/s.
const DefaultSendBuffer = 256 << 10

// HTTPSConfig is [fileserve.https]; it shares the HTTP limits.
type HTTPSConfig struct {
	Enabled bool     `toml:"enabled"`
	Listen  []string `toml:"listen"`
	// MinVersion is "1.0", "1.1", "1.2" or "1.3".
	MinVersion string `toml:"min_version"`
	// CertFile and KeyFile, when both set, replace the appliance's own certificate.
	CertFile string `toml:"cert_file"`
	KeyFile  string `toml:"key_file"`
	// LegacyCiphers adds the RSA key-exchange CBC/GCM suites that older phone
	// firmware needs and Go leaves out by default.
	LegacyCiphers bool `toml:"legacy_ciphers"`
}

// TFTPConfig is [fileserve.tftp].
type TFTPConfig struct {
	Enabled bool     `toml:"enabled"`
	Listen  []string `toml:"listen"`
	// BlockSizeMax caps the negotiated blksize option (RFC 2348).
	BlockSizeMax int `toml:"blksize_max"`
	// WindowSizeMax caps the negotiated windowsize option (RFC 7440); 1 disables windows.
	WindowSizeMax int `toml:"windowsize_max"`
	// Timeout is the retransmission timeout unless the client asks for its own.
	Timeout time.Duration `toml:"timeout"`
	// Retries is how often one packet is resent before the transfer is given up.
	Retries int `toml:"retries"`
	// MaxTransfers caps concurrent transfers; requests beyond it get a TFTP error.
	MaxTransfers int `toml:"max_transfers"`
}

// DefaultConfig returns the built-in defaults: every protocol on, on its standard ports.
func DefaultConfig() Config {
	return Config{
		ServerNames:  []string{},
		DrainTimeout: 30 * time.Second,
		HTTP: HTTPConfig{
			Enabled:           true,
			Listen:            []string{":80"},
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       120 * time.Second,
			WriteTimeout:      30 * time.Minute,
			MaxHeaderBytes:    16 << 10,
			SendBuffer:        DefaultSendBuffer,
			MaxConnections:    DefaultMaxConnections,
		},
		HTTPS: HTTPSConfig{
			Enabled:       true,
			Listen:        []string{":443", ":411"},
			MinVersion:    "1.2",
			LegacyCiphers: true,
		},
		TFTP: TFTPConfig{
			Enabled:       true,
			Listen:        []string{":69"},
			BlockSizeMax:  1468,
			WindowSizeMax: 16,
			Timeout:       time.Second,
			Retries:       5,
			MaxTransfers:  1000,
		},
	}
}

// Validate reports every problem with c, keyed relative to [fileserve].
func (c Config) Validate(report func(key string, err error)) {
	if c.DrainTimeout < 0 {
		report("drain_timeout", fmt.Errorf("%s is negative", c.DrainTimeout))
	}
	for i, n := range c.ServerNames {
		if strings.TrimSpace(n) == "" || strings.ContainsAny(n, " /\\") {
			report(fmt.Sprintf("server_names[%d]", i), fmt.Errorf("%q is not a host name or address", n))
		}
	}
	validateListen("http", c.HTTP.Enabled, c.HTTP.Listen, report)
	validateListen("https", c.HTTPS.Enabled, c.HTTPS.Listen, report)
	validateListen("tftp", c.TFTP.Enabled, c.TFTP.Listen, report)
	if c.HTTP.ReadHeaderTimeout <= 0 {
		report("http.read_header_timeout", fmt.Errorf("%s must be positive", c.HTTP.ReadHeaderTimeout))
	}
	if c.HTTP.IdleTimeout <= 0 {
		report("http.idle_timeout", fmt.Errorf("%s must be positive", c.HTTP.IdleTimeout))
	}
	if c.HTTP.WriteTimeout < 0 {
		report("http.write_timeout", fmt.Errorf("%s is negative (0 means no limit)", c.HTTP.WriteTimeout))
	}
	if c.HTTP.MaxHeaderBytes < 1024 || c.HTTP.MaxHeaderBytes > 1<<20 {
		report("http.max_header_bytes", fmt.Errorf("%d is outside 1024..1048576", c.HTTP.MaxHeaderBytes))
	}
	if b := c.HTTP.SendBuffer; b != 0 && (b < 4096 || b > 64<<20) {
		report("http.send_buffer", fmt.Errorf("%d is outside 4096..67108864 (0: the kernel's autotuning)", b))
	}
	if m := c.HTTP.MaxConnections; m < 0 || m > 1<<20 {
		report("http.max_connections", fmt.Errorf("%d is outside 0..1048576 (0: no cap)", m))
	}
	if _, err := ParseTLSVersion(c.HTTPS.MinVersion); err != nil {
		report("https.min_version", err)
	}
	if (c.HTTPS.CertFile == "") != (c.HTTPS.KeyFile == "") {
		report("https.cert_file", fmt.Errorf("cert_file and key_file go together: set both or neither"))
	}
	t := c.TFTP
	if t.BlockSizeMax < 512 || t.BlockSizeMax > 65464 {
		report("tftp.blksize_max", fmt.Errorf("%d is %s", t.BlockSizeMax, outside(t.BlockSizeMax, 512, 65464)))
	}
	if t.WindowSizeMax < 1 || t.WindowSizeMax > 64 {
		report("tftp.windowsize_max", fmt.Errorf("%d is %s", t.WindowSizeMax, outside(t.WindowSizeMax, 1, 64)))
	}
	if t.Timeout < 100*time.Millisecond || t.Timeout > 255*time.Second {
		report("tftp.timeout", fmt.Errorf("%s is outside 100ms..255s (write durations with a unit, like \"1s\")", t.Timeout))
	}
	if t.Retries < 1 || t.Retries > 50 {
		report("tftp.retries", fmt.Errorf("%d is %s", t.Retries, outside(t.Retries, 1, 50)))
	}
	if t.MaxTransfers < 1 || t.MaxTransfers > 100000 {
		report("tftp.max_transfers", fmt.Errorf("%d is %s", t.MaxTransfers, outside(t.MaxTransfers, 1, 100000)))
	}
}

func outside(v, lo, hi int) string {
	if v < lo {
		return fmt.Sprintf("below %d", lo)
	}
	if v > hi {
		return fmt.Sprintf("above %d", hi)
	}
	return fmt.Sprintf("outside %d..%d", lo, hi)
}

func validateListen(proto string, enabled bool, addrs []string, report func(string, error)) {
	if enabled && len(addrs) == 0 {
		report(proto+".listen", fmt.Errorf("%s is enabled but has no listen address; add one or set enabled = false", proto))
	}
	seen := map[string]bool{}
	for i, a := range addrs {
		key := fmt.Sprintf("%s.listen[%d]", proto, i)
		host, port, err := net.SplitHostPort(a)
		if err != nil {
			report(key, fmt.Errorf("%q is not host:port (use \":80\" for every address)", a))
			continue
		}
		if host != "" && net.ParseIP(host) == nil {
			report(key, fmt.Errorf("%q: listen on an IP address, not a name", a))
		}
		if _, err := net.LookupPort("tcp", port); err != nil {
			report(key, fmt.Errorf("%q: port must be 0..65535 (0: any free port)", a))
		}
		if seen[a] {
			report(key, fmt.Errorf("%q is listed twice", a))
		}
		seen[a] = true
	}
}

// ParseTLSVersion turns "1.0".."1.3" into a crypto/tls version.
func ParseTLSVersion(s string) (uint16, error) {
	switch s {
	case "1.0":
		return tls.VersionTLS10, nil
	case "1.1":
		return tls.VersionTLS11, nil
	case "1.2":
		return tls.VersionTLS12, nil
	case "1.3":
		return tls.VersionTLS13, nil
	}
	return 0, fmt.Errorf("%q is not one of 1.0, 1.1, 1.2, 1.3", s)
}
