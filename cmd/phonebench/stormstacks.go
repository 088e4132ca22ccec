package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/phoneprov/phoneprov/cmd/internal/benchkit"
	"github.com/phoneprov/phoneprov/cmd/internal/config"
	"github.com/phoneprov/phoneprov/cmd/internal/phoneprovconf"
	"github.com/phoneprov/phoneprov/dhcpd"
	"github.com/phoneprov/phoneprov/fileserve"
	"github.com/phoneprov/phoneprov/fileserve/tlsca"
	"github.com/phoneprov/phoneprov/provisioning"
)

// generatedNames are the files phoneprov generates that phones ask for
// (the names of testdata/golden/provisioning/defaults/out). The baseline
// serves them as static files, rendered by phoneprov itself.
var generatedNames = []string{
	"46xxsettings.txt", "46xxupgrade.scr", "46xxupgrade.txt", "16xxupgrade.txt", "96xxupgrade.txt",
	"96x1Hupgrade.txt", "96x1Supgrade.txt", "J100Supgrade.txt", "K1xxSupgrade.txt",
}

// stormWorkspace is the temporary folder of a storm benchmark.
type stormWorkspace struct {
	Dir    string
	Files  string // the sample tree phoneprov serves
	Static string // the baseline's tree: the sample tree plus rendered files
	TLS    string // phoneprov's CA and server certificate
	// Server is the HTTPS certificate both stacks serve: phoneprov's own
	// (in TLS), or one its CA issued (-server-key), given to phoneprov as
	// the operator's (cert_file).
	Server certFiles
	// Rendered lists the generated files written out for the baseline.
	Rendered []string
}

func (ws *stormWorkspace) path(elem ...string) string {
	return filepath.Join(append([]string{ws.Dir}, elem...)...)
}

func (ws *stormWorkspace) remove() { _ = os.RemoveAll(ws.Dir) }

// phoneprovConf is the appliance's configuration in the lab: every part on
// the lab address, DHCP with a class for every vendor phonesim boots when
// dhcp is set. The data directory starts with the shared certificates.
func phoneprovConf(ws *stormWorkspace, lab *stormLab, dataDir string, dhcp bool) config.Config {
	cfg := phoneprovconf.New(dataDir, "127.0.0.1:9167", ws.Files)
	fs := &cfg.FileServe
	fs.DrainTimeout = time.Second
	fs.HTTP.Enabled, fs.HTTP.Listen = true, []string{labServerIP + ":80"}
	fs.HTTPS.Enabled, fs.HTTPS.Listen = true, []string{labServerIP + ":443", labServerIP + ":411"}
	fs.TFTP.Enabled, fs.TFTP.Listen = true, []string{labServerIP + ":69"}
	fs.TFTP.BlockSizeMax = tftpBlockSizeMax
	cfg.Provisioning.Settings = provisioning.Settings{"SNTPSRVR": labServerIP, "GMTOFFSET": "0:00"}
	if ws.Server.Key == keyECDSA {
		fs.HTTPS.CertFile, fs.HTTPS.KeyFile = ws.Server.Cert, ws.Server.Priv
		// With the operator's certificate phoneprov serves the chain's CA
		// as phoneprov-ca.pem but leaves TRUSTCERTS to the operator.
		cfg.Provisioning.Settings["TRUSTCERTS"] = fileserve.CAFileName
	}
	if dhcp {
		d := &cfg.DHCP
		d.Enabled = true
		d.LockDir = ws.path("run")
		d.LeaseTime = time.Hour
		d.Subnets = []dhcpd.SubnetConfig{{
			CIDR: "198.18.0.0/16", Interface: lab.SrvIf, Routers: []string{labServerIP},
			Pools: []dhcpd.PoolConfig{{Start: labPoolStart, End: lab.PoolEnd}},
		}}
		// The same classes as deploy/lab/lab.sh, for phonesim's default mix:
		// mitel-sip before mitel, whose MAC prefixes the SIP phones share.
		d.Classes = []dhcpd.ClassConfig{
			{Preset: dhcpd.PresetMitelSIP}, {Preset: dhcpd.PresetCiscoMPP},
			{Preset: dhcpd.PresetAvaya, CallServers: []string{labCallSrv}}, {Preset: dhcpd.PresetCisco}, {Preset: dhcpd.PresetPolycom},
			{Preset: dhcpd.PresetYealink}, {Preset: dhcpd.PresetSnom}, {Preset: dhcpd.PresetGrandstream},
			{Preset: dhcpd.PresetMitel, CallServers: []string{labCallSrv}},
		}
	}
	return cfg
}

// avayaString is what phoneprov's avaya preset sends in the lab (HTTPS
// listens on 411 too, so TLSPORT is 411); the baseline sends the same.
const avayaString = "MCIPADD=" + labCallSrv + ",MCPORT=1719,HTTPSRVR=" + labServerIP + ",HTTPPORT=80,TLSSRVR=" + labServerIP +
	",TLSPORT=411,TFTPSRVR=" + labServerIP

// dnsmasqConf gives the same classes and options as phoneprov's presets.
// dnsmasq matches vendor classes as substrings, and a comma ends the value.
func dnsmasqConf(lab *stormLab, leases string, ping bool) string {
	c := fmt.Sprintf(`port=0
interface=%s
bind-interfaces
dhcp-authoritative
dhcp-range=%s,%s,255.255.0.0,1h
dhcp-lease-max=70000
dhcp-leasefile=%s
dhcp-option=option:router,%[5]s
dhcp-vendorclass=set:avaya,ccp.avaya.com
dhcp-option-force=tag:avaya,242,"%[6]s"
dhcp-option=tag:avaya,176,"%[6]s"
dhcp-vendorclass=set:cisco,Cisco Systems
dhcp-option=tag:cisco,150,%[5]s
dhcp-option=tag:cisco,66,"%[5]s"
dhcp-vendorclass=set:polycom,Polycom
dhcp-option-force=tag:polycom,66,"http://%[5]s:80/"
dhcp-option-force=tag:polycom,160,"http://%[5]s:80/"
dhcp-vendorclass=set:web,yealink
dhcp-vendorclass=set:web,snom
dhcp-vendorclass=set:web,AastraIPPhone
dhcp-vendorclass=set:web,MitelIPPhone
dhcp-vendorclass=set:web,-3PCC
dhcp-mac=set:web,00:0b:82:*:*:*
dhcp-option-force=tag:web,66,"http://%[5]s:80/"
dhcp-vendorclass=set:minet,ipphone.mitel.com
dhcp-option-force=tag:minet,43,"id:ipphone.mitel.com;sw_tftp=%[5]s;call_srv=%[7]s"
`, lab.SrvIf, labPoolStart, lab.PoolEnd, leases, labServerIP, avayaString, labCallSrv)
	if !ping {
		// dnsmasq pings every address before offering it and waits for the
		// answer, one client at a time: in a storm of new phones that alone
		// takes seconds per phone. An operator facing storms turns it off.
		c += "no-ping\n"
	}
	return c
}

// stormNginxConf serves the static tree over HTTP and HTTPS (443 and 411)
// with the certificate phoneprov serves, and takes backups by PUT under /backup/.
const stormNginxConf = `worker_processes auto;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;

events {
    worker_connections 8192;
}

http {
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 65s;

    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:SSL:10m;

    client_body_temp_path %[1]s/tmp/body;
    proxy_temp_path %[1]s/tmp/proxy;
    fastcgi_temp_path %[1]s/tmp/fastcgi;
    uwsgi_temp_path %[1]s/tmp/uwsgi;
    scgi_temp_path %[1]s/tmp/scgi;

    server {
        listen %[3]s:80;
        listen %[3]s:443 ssl;
        listen %[3]s:411 ssl;
        ssl_certificate %[1]s/server.pem;
        ssl_certificate_key %[1]s/server-key.pem;
        root %[2]s;
        location /backup/ {
            dav_methods PUT;
            create_full_put_path on;
            client_max_body_size 128k;
        }
    }
}
`

// prepareStorm makes the workspace: phoneprov's certificates (from a
// first start in the lab, so they cover the lab address) and the
// baseline's static tree with phoneprov's generated files rendered into it.
func prepareStorm(ctx context.Context, cs *benchkit.Supervisor, lab *stormLab, opts stormOptions) (*stormWorkspace, error) {
	dir, err := os.MkdirTemp("", "phonebench-storm-")
	if err != nil {
		return nil, fmt.Errorf("storm workspace: %w", err)
	}
	ws := &stormWorkspace{Dir: dir}
	fail := func(err error) (*stormWorkspace, error) { ws.remove(); return nil, err }
	if err := os.Chmod(dir, 0o755); err != nil {
		return fail(err)
	}
	files, err := filepath.Abs(opts.Files)
	if err != nil {
		return fail(err)
	}
	ws.Files = ws.path("files")
	if err := copyTree(files, ws.Files); err != nil {
		return fail(fmt.Errorf("copy %s: %w", opts.Files, err))
	}
	for _, d := range []string{"run", "seed"} {
		if err := os.MkdirAll(ws.path(d), 0o755); err != nil {
			return fail(err)
		}
	}

	// First start: phoneprov makes its CA and server certificate for the
	// addresses of the server namespace.
	conf := ws.path("seed.toml")
	if _, err := phoneprovconf.Write(phoneprovConf(ws, lab, ws.path("seed"), false), conf, "phoneprov under phonebench -storm: first start, for the certificates"); err != nil {
		return fail(err)
	}
	c, err := cs.Start(benchkit.Spec{Name: "phoneprov-seed", Log: ws.path("seed.log"), Argv: inNS(lab.SrvNS, opts.Phoneprov, "serve", "-c", conf)})
	if err != nil {
		return fail(err)
	}
	err = lab.waitTCP(ctx, c, 443)
	stopErr := c.Stop()
	if err = errors.Join(err, stopErr); err != nil {
		return fail(fmt.Errorf("phoneprov first start: %w", err))
	}
	ws.TLS = ws.path("seed", "tls")
	ws.Server = certFiles{Key: keyRSA, Cert: filepath.Join(ws.TLS, tlsca.ServerFileName), Priv: filepath.Join(ws.TLS, tlsca.ServerKeyFileName)}
	if opts.ServerKey == keyECDSA {
		ca, err := tlsca.LoadOperator(filepath.Join(ws.TLS, tlsca.CAFileName), filepath.Join(ws.TLS, tlsca.CAKeyFileName), "")
		if err != nil {
			return fail(fmt.Errorf("phoneprov's CA: %w", err))
		}
		if ws.Server, err = writeCert(ws.Dir, keyECDSA, []net.IP{net.ParseIP(labServerIP)}, ca); err != nil {
			return fail(err)
		}
	}

	// The baseline's tree: the same files, phoneprov's generated files as
	// it serves them to a phone talking to the lab address, its CA under
	// the name the settings give (TRUSTCERTS), and a writable backup/.
	ws.Static = ws.path("static")
	if err := copyTree(files, ws.Static); err != nil {
		return fail(err)
	}
	for _, name := range generatedNames {
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		out, err := exec.CommandContext(rctx, opts.Phoneprov, "render", "-c", conf, "--ip", labServerIP, name).Output()
		cancel()
		if err != nil {
			return fail(fmt.Errorf("phoneprov render %s: %w", name, err))
		}
		if err := os.WriteFile(filepath.Join(ws.Static, name), out, 0o644); err != nil {
			return fail(err)
		}
		ws.Rendered = append(ws.Rendered, name)
	}
	if err := copyFileMode(filepath.Join(ws.TLS, "ca.pem"), filepath.Join(ws.Static, "phoneprov-ca.pem"), 0o644); err != nil {
		return fail(fmt.Errorf("phoneprov's CA: %w", err))
	}
	// nginx workers run as nobody: the backup folder must be theirs to write.
	if err := os.Mkdir(filepath.Join(ws.Static, "backup"), 0o777); err != nil {
		return fail(err)
	}
	if err := os.Chmod(filepath.Join(ws.Static, "backup"), 0o777); err != nil {
		return fail(err)
	}
	return ws, nil
}

// stack is one set of servers under test.
type stack struct {
	Name  string
	procs []*benchkit.Proc
}

// stop stops the stack's servers.
func (s *stack) stop() error {
	var errs []error
	for i := len(s.procs) - 1; i >= 0; i-- {
		errs = append(errs, s.procs[i].Stop())
	}
	return errors.Join(errs...)
}

// startPhoneprovStack starts phoneprov with DHCP, a fresh data directory
// (no leases, no inventory) holding the shared certificates.
func startPhoneprovStack(ctx context.Context, cs *benchkit.Supervisor, lab *stormLab, ws *stormWorkspace, opts stormOptions, run int) (*stack, error) {
	data := ws.path(fmt.Sprintf("pp-%d", run))
	if err := copyTree(ws.TLS, filepath.Join(data, "tls")); err != nil {
		return nil, fmt.Errorf("phoneprov: %w", err)
	}
	conf := ws.path(fmt.Sprintf("pp-%d.toml", run))
	if _, err := phoneprovconf.Write(phoneprovConf(ws, lab, data, true), conf, "phoneprov under phonebench -storm"); err != nil {
		return nil, err
	}
	c, err := cs.Start(benchkit.Spec{Name: "phoneprov", Log: ws.path(fmt.Sprintf("pp-%d.log", run)), Argv: inNS(lab.SrvNS, opts.Phoneprov, "serve", "-c", conf)})
	if err != nil {
		return nil, err
	}
	s := &stack{Name: "phoneprov", procs: []*benchkit.Proc{c}}
	if err := lab.waitTCP(ctx, c, 80); err != nil {
		return nil, errors.Join(err, s.stop())
	}
	return s, nil
}

// startBaselineStack starts dnsmasq, nginx and tftpd-hpa, with a fresh
// lease file.
func startBaselineStack(ctx context.Context, cs *benchkit.Supervisor, lab *stormLab, ws *stormWorkspace, opts stormOptions, run int) (*stack, error) {
	s := &stack{Name: "baseline"}
	fail := func(err error) (*stack, error) { return nil, errors.Join(err, s.stop()) }

	dconf := ws.path(fmt.Sprintf("dnsmasq-%d.conf", run))
	if err := os.WriteFile(dconf, []byte(dnsmasqConf(lab, ws.path(fmt.Sprintf("dnsmasq-%d.leases", run)), opts.DnsmasqPing)), 0o644); err != nil {
		return fail(err)
	}
	d, err := cs.Start(benchkit.Spec{Name: "dnsmasq", Log: ws.path(fmt.Sprintf("dnsmasq-%d.log", run)),
		Argv: inNS(lab.SrvNS, opts.Dnsmasq, "--keep-in-foreground", "--log-facility=-", "--conf-file="+dconf, "--pid-file=")})
	if err != nil {
		return fail(err)
	}
	s.procs = append(s.procs, d)

	prefix := ws.path(fmt.Sprintf("nginx-%d", run))
	if err := os.MkdirAll(filepath.Join(prefix, "tmp"), 0o755); err != nil {
		return fail(err)
	}
	for src, dst := range map[string]string{ws.Server.Cert: "server.pem", ws.Server.Priv: "server-key.pem"} {
		if err := copyFile(src, filepath.Join(prefix, dst)); err != nil {
			return fail(fmt.Errorf("nginx: %w", err))
		}
	}
	nconf := filepath.Join(prefix, "nginx.conf")
	if err := os.WriteFile(nconf, []byte(fmt.Sprintf(stormNginxConf, prefix, ws.Static, labServerIP)), 0o644); err != nil {
		return fail(err)
	}
	n, err := cs.Start(benchkit.Spec{Name: "nginx", Log: filepath.Join(prefix, "stderr.log"),
		Argv: inNS(lab.SrvNS, opts.Nginx, "-p", prefix, "-c", nconf, "-e", filepath.Join(prefix, "error.log"), "-g", "daemon off;")})
	if err != nil {
		return fail(err)
	}
	s.procs = append(s.procs, n)

	t, err := cs.Start(benchkit.Spec{Name: "tftpd-hpa", Log: ws.path(fmt.Sprintf("tftpd-%d.log", run)),
		Argv: inNS(lab.SrvNS, opts.TFTPD, "--foreground", "--address", labServerIP+":69", "--secure",
			"--blocksize", strconv.Itoa(tftpBlockSizeMax), ws.Static)})
	if err != nil {
		return fail(err)
	}
	s.procs = append(s.procs, t)

	for _, port := range []int{80, 443, 411} {
		if err := lab.waitTCP(ctx, n, port); err != nil {
			return fail(err)
		}
	}
	// dnsmasq and tftpd-hpa bind at start; give them a moment and check
	// they are still there.
	time.Sleep(300 * time.Millisecond)
	for _, c := range []*benchkit.Proc{d, t} {
		if c.Exited() {
			return fail(c.Failure())
		}
	}
	return s, nil
}

// copyTree copies a folder of regular files (and sub-folders), keeping
// permission bits and making everything readable by all.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil // symlinks and the like stay out of the copy
		}
		mode := os.FileMode(0o644)
		if strings.HasSuffix(p, "key.pem") {
			mode = 0o600
		}
		return copyFileMode(p, target, mode)
	})
}

func copyFileMode(src, dst string, mode os.FileMode) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.WriteFile(dst, b, mode); err != nil {
		return err
	}
	return os.Chmod(dst, mode)
}
