package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/phoneprov/phoneprov/cmd/internal/benchkit"
	"github.com/phoneprov/phoneprov/cmd/internal/config"
	"github.com/phoneprov/phoneprov/cmd/internal/phoneprovconf"
)

// tftpBlockSizeMax is the blksize cap both TFTP servers get: a 1500-byte
// MTU minus IP, UDP and TFTP headers.
const tftpBlockSizeMax = 1468

// server is one file server under test and where to reach it.
type server struct {
	Name  string
	proc  *benchkit.Proc
	HTTP  string // base URL, "" if not serving HTTP
	HTTPS string // base URL, "" if not serving HTTPS
	TFTP  string // host:port, "" if not serving TFTP
	Conf  string // configuration file text, if the server has one
}

// pid returns the process id of the server's main process.
func (s *server) pid() int { return s.proc.PID() }

// startPhoneprov starts phoneprov serving HTTP and HTTPS (with cert) and,
// when tftp is set, TFTP from ws.Files at log level warn with the admin
// listener off, its data in ws.path(name), and waits until all answer.
func startPhoneprov(ctx context.Context, cs *benchkit.Supervisor, ws *workspace, bin, name string, cert certFiles, tftp bool) (*server, error) {
	tcp, err := freePorts("tcp", 2)
	if err != nil {
		return nil, err
	}
	udp, err := freePort("udp")
	if err != nil {
		return nil, err
	}
	conf := ws.path(name + ".toml")
	cfg := filesConfig(ws, hostPort(tcp[0]), hostPort(tcp[1]), hostPort(udp))
	cfg.DataDir = ws.path(name)
	cfg.FileServe.HTTPS.CertFile, cfg.FileServe.HTTPS.KeyFile = cert.Cert, cert.Priv
	cfg.FileServe.TFTP.Enabled = tftp
	text, err := phoneprovconf.Write(cfg, conf, "phoneprov under phonebench: files on loopback, "+keyTitle(cert.Key)+" certificate")
	if err != nil {
		return nil, err
	}
	c, err := cs.Start(benchkit.Spec{Name: name, Log: ws.path(name + ".log"), Argv: []string{bin, "serve", "-c", conf}})
	if err != nil {
		return nil, err
	}
	s := &server{
		Name: name, proc: c,
		HTTP: "http://" + hostPort(tcp[0]), HTTPS: "https://" + hostPort(tcp[1]),
		Conf: text,
	}
	if tftp {
		s.TFTP = hostPort(udp)
	}
	return s, waitServer(ctx, s, ws.Small)
}

// filesConfig is phoneprov's configuration for the file benchmarks: the
// three file servers on the given addresses, serving ws.Files, with the
// TFTP block size cap both TFTP servers get; the admin listener off.
func filesConfig(ws *workspace, http, https, tftp string) config.Config {
	cfg := phoneprovconf.New(ws.path("phoneprov"), "", ws.Files)
	fs := &cfg.FileServe
	fs.HTTP.Enabled, fs.HTTP.Listen = true, []string{http}
	fs.HTTPS.Enabled, fs.HTTPS.Listen = true, []string{https}
	fs.TFTP.Enabled, fs.TFTP.Listen = true, []string{tftp}
	fs.TFTP.BlockSizeMax = tftpBlockSizeMax
	return cfg
}

// nginxConf is Debian's packaged nginx.conf (worker_processes auto,
// worker_connections 768, sendfile and tcp_nopush on, TLS protocols and
// ssl_prefer_server_ciphers as packaged) for static files, with keep-alive
// left on for the whole run (keepalive_requests 100000: the packaged 1000
// would close a wrk connection every 1000 requests, a reconnect and TLS
// handshake phoneprov does not make) and without the access log (phoneprov
// at log level warn writes no per-request line either). gzip is on as
// packaged; it compresses text/html only, not these files. The %[n]s verbs
// are the prefix, files root, HTTP and HTTPS addresses, certificate and key.
const nginxConf = `worker_processes auto;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;

events {
    worker_connections 768;
}

http {
    sendfile on;
    tcp_nopush on;
    types_hash_max_size 2048;
    types { application/octet-stream bin; }
    default_type application/octet-stream;
    ssl_protocols TLSv1 TLSv1.1 TLSv1.2 TLSv1.3;
    ssl_prefer_server_ciphers on;
    access_log off;
    gzip on;

    keepalive_timeout 65s;
    keepalive_requests 100000;

    client_body_temp_path %[1]s/tmp/body;
    proxy_temp_path %[1]s/tmp/proxy;
    fastcgi_temp_path %[1]s/tmp/fastcgi;
    uwsgi_temp_path %[1]s/tmp/uwsgi;
    scgi_temp_path %[1]s/tmp/scgi;

    server {
        listen %[3]s;
        listen %[4]s ssl;
        ssl_certificate %[5]s;
        ssl_certificate_key %[6]s;
        root %[2]s;
    }
}
`

// startNginx starts nginx on HTTP and HTTPS with cert, serving ws.Files
// from the prefix ws.path(name), and waits until both answer.
func startNginx(ctx context.Context, cs *benchkit.Supervisor, ws *workspace, bin, name string, cert certFiles) (*server, error) {
	prefix := ws.path(name)
	if err := os.MkdirAll(filepath.Join(prefix, "tmp"), 0o755); err != nil {
		return nil, fmt.Errorf("nginx: %w", err)
	}
	tcp, err := freePorts("tcp", 2)
	if err != nil {
		return nil, err
	}
	conf := filepath.Join(prefix, "nginx.conf")
	text := fmt.Sprintf(nginxConf, prefix, ws.Files, hostPort(tcp[0]), hostPort(tcp[1]), cert.Cert, cert.Priv)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		return nil, fmt.Errorf("nginx: write config: %w", err)
	}
	c, err := cs.Start(benchkit.Spec{Name: name, Log: filepath.Join(prefix, "stderr.log"), Argv: []string{bin,
		"-p", prefix, "-c", conf, "-e", filepath.Join(prefix, "error.log"), "-g", "daemon off;"}})
	if err != nil {
		return nil, err
	}
	s := &server{Name: name, proc: c, HTTP: "http://" + hostPort(tcp[0]), HTTPS: "https://" + hostPort(tcp[1]), Conf: text}
	return s, waitServer(ctx, s, ws.Small)
}

// startTFTPD starts tftpd-hpa in the foreground, chrooted to ws.Files
// (it then runs as nobody, which can read the world-readable tree), and
// waits until it serves a file.
func startTFTPD(ctx context.Context, cs *benchkit.Supervisor, ws *workspace, bin string) (*server, error) {
	udp, err := freePort("udp")
	if err != nil {
		return nil, err
	}
	c, err := cs.Start(benchkit.Spec{Name: "tftpd-hpa", Log: ws.path("tftpd.log"), Argv: []string{bin,
		"--foreground", "--address", hostPort(udp), "--secure",
		"--blocksize", strconv.Itoa(tftpBlockSizeMax), ws.Files}})
	if err != nil {
		return nil, err
	}
	s := &server{Name: "tftpd-hpa", proc: c, TFTP: hostPort(udp)}
	err = waitServer(ctx, s, ws.Small)
	if err != nil && os.Geteuid() != 0 {
		err = fmt.Errorf("%w (in.tftpd --secure chroots and drops to nobody, which needs root; it logs to syslog)", err)
	}
	return s, err
}

// waitServer waits until each of the server's listeners serves probe.
func waitServer(ctx context.Context, s *server, probe testFile) error {
	for _, base := range []string{s.HTTP, s.HTTPS} {
		if base == "" {
			continue
		}
		addr := strings.TrimPrefix(strings.TrimPrefix(base, "http://"), "https://")
		if err := waitUntil(ctx, s.proc, base, dialProbe(addr)); err != nil {
			return err
		}
	}
	if s.TFTP != "" {
		err := waitUntil(ctx, s.proc, "tftp://"+s.TFTP, func(context.Context) error {
			return tftpProbe(s.TFTP, probe)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// copyFile copies src to dst, readable by its owner only.
func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o600)
}
