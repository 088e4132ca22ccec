package phone

import (
	"bytes"
	"context"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pin/tftp/v3"

	"github.com/phoneprov/phoneprov/cmd/phonesim/internal/dhcpc"
	"github.com/phoneprov/phoneprov/cmd/phonesim/internal/model"
)

// fakeDHCP hands every phone a loopback address (all of 127/8 is local,
// so phones can bind to it without an interface) and the given options.
type fakeDHCP struct {
	mu       sync.Mutex
	options  map[uint8][]byte
	next     int
	acquired []netip.Addr // previous addresses asked for
	ids      []dhcpc.Identity
}

func (f *fakeDHCP) Acquire(_ context.Context, id dhcpc.Identity, previous netip.Addr, _ dhcpc.Retry) (dhcpc.Lease, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.acquired = append(f.acquired, previous)
	f.ids = append(f.ids, id)
	addr := previous
	if !addr.IsValid() {
		f.next++
		addr = netip.AddrFrom4([4]byte{127, 0, 3, byte(f.next)})
	}
	return dhcpc.Lease{Prefix: netip.PrefixFrom(addr, 8), ServerID: netip.MustParseAddr("127.0.0.1"), Options: f.options, Rebooted: previous.IsValid()}, nil
}

type fakeAddrs struct {
	mu    sync.Mutex
	added map[netip.Addr]string
}

func (f *fakeAddrs) Add(p netip.Prefix, owner string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.added == nil {
		f.added = map[netip.Addr]string{}
	}
	f.added[p.Addr()] = owner
	return nil
}

func (f *fakeAddrs) Remove(a netip.Addr) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.added, a)
	return nil
}

// fileServer is a small provisioning server on loopback: the same files
// over HTTPS and HTTP, PUT under /backup/, and a log of requests.
type fileServer struct {
	https, http *httptest.Server
	caPEM       []byte

	mu      sync.Mutex
	files   map[string][]byte
	short   map[string]bool // announce one byte more than sent
	backups map[string][]byte
	auth    map[string]string
	log     []string // "proto GET name UA"
}

func newFileServer(t *testing.T, files map[string]string) *fileServer {
	fs := &fileServer{files: map[string][]byte{}, short: map[string]bool{}, backups: map[string][]byte{}, auth: map[string]string{}}
	for k, v := range files {
		fs.files[k] = []byte(v)
	}
	handler := func(proto string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			name := strings.TrimPrefix(r.URL.Path, "/")
			fs.mu.Lock()
			fs.log = append(fs.log, proto+" "+r.Method+" "+name+" "+r.UserAgent())
			body, ok := fs.files[name]
			short := fs.short[name]
			fs.mu.Unlock()
			if r.Method == http.MethodPut {
				b, _ := io.ReadAll(r.Body)
				fs.mu.Lock()
				fs.backups[name] = b
				fs.auth[name] = r.Header.Get("Authorization")
				fs.mu.Unlock()
				w.WriteHeader(http.StatusCreated)
				return
			}
			if !ok {
				http.NotFound(w, r)
				return
			}
			if short {
				w.Header().Set("Content-Length", fmt.Sprint(len(body)+1))
				w.Write(body)
				w.(http.Flusher).Flush()
				panic(http.ErrAbortHandler)
			}
			w.Write(body)
		}
	}
	fs.https = httptest.NewUnstartedServer(handler("https"))
	fs.https.Config.ErrorLog = log.New(io.Discard, "", 0) // first boots fail the handshake
	fs.https.StartTLS()
	fs.http = httptest.NewServer(handler("http"))
	t.Cleanup(func() { fs.https.Close(); fs.http.Close() })
	fs.caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: fs.https.Certificate().Raw})
	fs.files["ca.pem"] = fs.caPEM
	return fs
}

func port(s *httptest.Server) string { return s.URL[strings.LastIndexByte(s.URL, ':')+1:] }

func (fs *fileServer) requests() []string {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return append([]string(nil), fs.log...)
}

// avayaOption is option 242 pointing at fs.
func (fs *fileServer) avayaOption() []byte {
	return []byte(fmt.Sprintf("MCIPADD=127.0.0.9,MCPORT=1719,HTTPSRVR=127.0.0.1,HTTPPORT=%s,TLSSRVR=127.0.0.1,TLSPORT=%s", port(fs.http), port(fs.https)))
}

const j100Upgrade = `IF $MODEL4 SEQ J179 GOTO J179
GOTO GETSETTINGS
# J179
SET APPNAME FW_S_J179_R4_1_3_0_6.bin
# GETSETTINGS
GET 46xxsettings.txt
`

func settingsFor(fs *fileServer) string {
	return fmt.Sprintf("SET TRUSTCERTS ca.pem\nSET BRURI https://127.0.0.1:%s/backup/\nIF $GROUP SEQ 0 GOTO END\nSET NEVER 1\n# END\n", port(fs.https))
}

func testEnv(d *fakeDHCP) Env {
	return Env{DHCP: d, Addresses: &fakeAddrs{}, FetchTries: 2, FetchBackoff: 10 * time.Millisecond,
		ConnectTimeout: 2 * time.Second, RequestTimeout: 5 * time.Second}
}

// lookup finds a model built from the repository's phone fact table.
func lookup(t *testing.T, key string) model.Model {
	t.Helper()
	dir, err := model.FindTable(".")
	if err != nil {
		t.Fatal(err)
	}
	cat, err := model.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, ok := cat.Lookup(key)
	if !ok {
		t.Fatalf("no model %s", key)
	}
	return m
}

func TestJ179FirstBootThenTrustedRestart(t *testing.T) {
	fs := newFileServer(t, map[string]string{"J100Supgrade.txt": j100Upgrade, "FW_S_J179_R4_1_3_0_6.bin": strings.Repeat("x", 50000)})
	fs.files["46xxsettings.txt"] = []byte(settingsFor(fs))
	d := &fakeDHCP{options: map[uint8][]byte{242: fs.avayaOption()}}
	m := lookup(t, "j179")
	p := New(m, m.MAC([3]byte{0x83, 0xe8, 0x5a}), "2001")
	res := p.Run(context.Background(), testEnv(d))
	if res.State != Provisioned {
		t.Fatalf("state %s at %s: %s", res.State, res.Step, res.Reason)
	}
	if res.Boots != 2 || res.Firmware != "4.1.3.0.6" || res.FirmwareBefore != "4.0.13.0.5" || res.TrustedCerts != 1 {
		t.Errorf("result %+v", res)
	}
	if len(d.acquired) != 2 || d.acquired[0].IsValid() || d.acquired[1].String() != res.Addr {
		t.Errorf("DHCP: the restart must ask for the same address again: %v", d.acquired)
	}
	reqs := strings.Join(fs.requests(), "\n")
	// First boot: HTTPS is not trusted, so the scripts come over HTTP with
	// the old firmware's User-Agent; the CA too. Then the firmware comes
	// over HTTPS, now verified.
	for _, want := range []string{
		"http GET J100Supgrade.txt Mozilla/4.0 (compatible; MSIE 6.0) AVAYA/J179-4.0.13.0.5 (MAC:c81fea83e85a)",
		"http GET 46xxsettings.txt",
		"http GET ca.pem",
		"https GET FW_S_J179_R4_1_3_0_6.bin",
		"https GET J100Supgrade.txt Mozilla/4.0 (compatible; MSIE 6.0) AVAYA/J179-4.1.3.0.6 (MAC:c81fea83e85a)",
	} {
		if !strings.Contains(reqs, want) {
			t.Errorf("no request %q in:\n%s", want, reqs)
		}
	}
	if strings.Count(reqs, "GET FW_S_J179") != 1 {
		t.Errorf("the firmware was fetched %d times, want once (the restarted phone runs it)", strings.Count(reqs, "GET FW_S_J179"))
	}
	if strings.Contains(reqs, "http GET ca.pem") && strings.Contains(reqs, "https GET ca.pem") {
		t.Error("the CA was fetched again after it was trusted")
	}
	// The table has no backup fact for the J179: BRURI is not used.
	if strings.Contains(reqs, "backup/") || res.Backup != "" {
		t.Errorf("a J179 backed up (backup %q):\n%s", res.Backup, reqs)
	}
	if res.Files[0].Protocol != "https" || !strings.Contains(res.Files[0].Error, "not trusted") {
		t.Errorf("first transfer %+v: want the failed HTTPS attempt", res.Files[0])
	}
}

// The per-phone file is fetched only when a script says GET
// (CORRECTIONS claim 2); phonesim used to ask for <mac>.txt on its own.
func TestPerPhoneFileOnlyWhenTheScriptSaysGET(t *testing.T) {
	fs := newFileServer(t, map[string]string{"J100Supgrade.txt": "SET A 1\n", "c81fea010203.txt": "SET OWN 1\n"})
	d := &fakeDHCP{options: map[uint8][]byte{242: fs.avayaOption()}}
	m := lookup(t, "j179")
	res := New(m, m.MAC([3]byte{1, 2, 3}), "2001").Run(context.Background(), testEnv(d))
	if res.State != Provisioned {
		t.Fatalf("%+v", res)
	}
	if reqs := strings.Join(fs.requests(), "\n"); strings.Contains(reqs, "c81fea010203.txt") {
		t.Errorf("the phone asked for its own file although no script said so:\n%s", reqs)
	}
	fs.files["J100Supgrade.txt"] = []byte("SET A 1\nGET $MACADDR.txt\n")
	res = New(m, m.MAC([3]byte{1, 2, 3}), "2001").Run(context.Background(), testEnv(d))
	if res.State != Provisioned {
		t.Fatalf("%+v", res)
	}
	if reqs := strings.Join(fs.requests(), "\n"); !strings.Contains(reqs, "GET c81fea010203.txt") {
		t.Errorf("GET $MACADDR.txt did not fetch c81fea010203.txt:\n%s", reqs)
	}
}

// The J179 asks for what the table says (CORRECTIONS claim 8): no 242 in
// option 55, yet it reads 242 when the server sends it.
func TestJ179AsksWithoutOption242(t *testing.T) {
	fs := newFileServer(t, map[string]string{"J100Supgrade.txt": "SET A 1\n"})
	d := &fakeDHCP{options: map[uint8][]byte{242: fs.avayaOption()}}
	m := lookup(t, "j179")
	res := New(m, m.MAC([3]byte{1, 2, 4}), "2001").Run(context.Background(), testEnv(d))
	if res.State != Provisioned || !slices.Contains(res.OptionsRead, 242) {
		t.Fatalf("%+v", res)
	}
	if len(d.ids) != 1 || slices.Contains(d.ids[0].ParamRequest, 242) || string(d.ids[0].VendorClass) != "ccp.avaya.com" {
		t.Errorf("identity %+v", d.ids)
	}
}

func TestBackupAuth(t *testing.T) {
	fs := newFileServer(t, map[string]string{"16xxupgrade.txt": "GET 46xxsettings.txt\n"})
	// No TRUSTCERTS: the phone sends the Authorization header over TLS.
	fs.files["46xxsettings.txt"] = []byte(fmt.Sprintf("SET TLSSRVR 127.0.0.2\nSET BRURI https://127.0.0.1:%s/backup\n", port(fs.https)))
	d := &fakeDHCP{options: map[uint8][]byte{242: fs.avayaOption()}}
	m := lookup(t, "1608")
	p := New(m, m.MAC([3]byte{1, 2, 3}), "3001")
	res := p.Run(context.Background(), testEnv(d))
	// The backup over HTTPS fails verification: nothing to trust it with.
	if res.State != Failed || res.Step != StepBackup || !strings.Contains(res.Reason, "not trusted") {
		t.Fatalf("%+v", res)
	}
	fs.files["46xxsettings.txt"] = []byte(fmt.Sprintf("SET TRUSTCERTS ca.pem\nSET BRAUTH 1\nSET BRURI https://127.0.0.1:%s/backup\n", port(fs.https)))
	res = New(m, m.MAC([3]byte{1, 2, 4}), "3002").Run(context.Background(), testEnv(d))
	if res.State != Provisioned || res.Boots != 1 || res.Backup != BackupDone {
		t.Fatalf("%+v", res)
	}
	if body := fs.backups["backup/3002_16xxdata.txt"]; !bytes.Contains(body, []byte("EXT=3002")) {
		t.Errorf("1600 backup %q", body)
	}
	if fs.auth["backup/3002_16xxdata.txt"] != "Basic MTI3LjAuMC45OjMwMDI=" { // 127.0.0.9:3002
		t.Errorf("Authorization %q", fs.auth["backup/3002_16xxdata.txt"])
	}
}

// The 4600 backs up by FTP to FTPSRVR (CORRECTIONS claim 4), never by
// HTTP PUT under BRURI.
func Test4621BacksUpByFTPOnly(t *testing.T) {
	fs := newFileServer(t, map[string]string{"46xxupgrade.scr": "GET 46xxsettings.txt\n"})
	fs.files["46xxsettings.txt"] = []byte(fmt.Sprintf("SET BRURI http://127.0.0.1:%s/backup\nSET FTPSRVR 127.0.0.7\n", port(fs.http)))
	d := &fakeDHCP{options: map[uint8][]byte{176: fs.avayaOption()}}
	m := lookup(t, "4621")
	res := New(m, m.MAC([3]byte{4, 6, 2}), "4001").Run(context.Background(), testEnv(d))
	if res.State != Provisioned || res.Backup != BackupFTPSkipped {
		t.Fatalf("%+v", res)
	}
	if reqs := strings.Join(fs.requests(), "\n"); strings.Contains(reqs, "backup/") {
		t.Errorf("a 4621 used BRURI:\n%s", reqs)
	}
	if !slices.ContainsFunc(res.Notes, func(n string) bool { return strings.Contains(n, "4001_4620data.txt by FTP on 127.0.0.7") }) {
		t.Errorf("notes %q", res.Notes)
	}
}

// tftpServer serves files with pin/tftp on loopback.
func tftpServer(t *testing.T, files map[string]string) uint16 {
	srv := tftp.NewServer(func(name string, rf io.ReaderFrom) error {
		b, ok := files[name]
		if !ok {
			return fmt.Errorf("%s: %w", name, os.ErrNotExist)
		}
		rf.(tftp.OutgoingTransfer).SetSize(int64(len(b)))
		_, err := rf.ReadFrom(strings.NewReader(b))
		return err
	}, nil)
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(conn)
	t.Cleanup(srv.Shutdown)
	return uint16(conn.LocalAddr().(*net.UDPAddr).Port)
}

func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return fmt.Sprint(p)
}

func Test4621FallsBackToTFTP(t *testing.T) {
	tport := tftpServer(t, map[string]string{
		"46xxupgrade.scr":  "IF $MODEL4 SEQ 4621 GOTO X\nGOTO S\n# X\nSET APPNAME a46xxua2_8_3.bin\n# S\nGET 46xxsettings.txt\n",
		"46xxsettings.txt": "SET GMTOFFSET 0:00\n",
		"a46xxua2_8_3.bin": strings.Repeat("f", 3000),
	})
	dead := closedPort(t)
	opt := fmt.Sprintf("HTTPSRVR=127.0.0.1,HTTPPORT=%s,TLSSRVR=127.0.0.1,TLSPORT=%s,TFTPSRVR=127.0.0.1", dead, dead)
	d := &fakeDHCP{options: map[uint8][]byte{176: []byte(opt), 242: []byte("junk that a 4600 does not read")}}
	env := testEnv(d)
	env.TFTPPort = tport
	m := lookup(t, "4621")
	res := New(m, m.MAC([3]byte{9, 9, 9}), "4001").Run(context.Background(), env)
	if res.State != Provisioned || res.Firmware != "2.8.3" || res.Boots != 2 {
		t.Fatalf("%+v", res)
	}
	var tftpFiles []string
	for _, f := range res.Files {
		if f.Protocol == "tftp" && f.Error == "" {
			tftpFiles = append(tftpFiles, f.URL)
		}
	}
	if len(tftpFiles) != 5 { // boot 1: script, settings, firmware; boot 2: script, settings
		t.Errorf("TFTP transfers %v", tftpFiles)
	}
}

func TestNoTFTPFor96x1(t *testing.T) {
	tport := tftpServer(t, map[string]string{"96x1Supgrade.txt": "SET A 1\n"})
	dead := closedPort(t)
	d := &fakeDHCP{options: map[uint8][]byte{242: []byte(fmt.Sprintf("HTTPSRVR=127.0.0.1,HTTPPORT=%s,TFTPSRVR=127.0.0.1", dead))}}
	env := testEnv(d)
	env.TFTPPort = tport
	m := lookup(t, "9608")
	res := New(m, m.MAC([3]byte{1, 1, 1}), "1").Run(context.Background(), env)
	if res.State != Failed || res.Step != StepScript || !strings.Contains(res.Reason, "unreachable") {
		t.Fatalf("%+v", res)
	}
	for _, f := range res.Files {
		if f.Protocol == "tftp" {
			t.Fatal("a 96x1 used TFTP")
		}
	}
	if got := len(res.Files); got != 2 { // one HTTP try per round, two rounds
		t.Errorf("%d transfers, want 2", got)
	}
}

func TestFailures(t *testing.T) {
	tests := []struct {
		name, step, reason string
		files              map[string]string
		short              string
		options            func(fs *fileServer) map[uint8][]byte
	}{
		{name: "no upgrade script", step: StepScript, reason: "404", files: map[string]string{}},
		{name: "firmware missing", step: StepFirmware, reason: "404", files: map[string]string{"J100Supgrade.txt": j100Upgrade}},
		{name: "firmware cut short", step: StepFirmware, reason: "size differs", short: "FW_S_J179_R4_1_3_0_6.bin",
			files: map[string]string{"J100Supgrade.txt": j100Upgrade, "FW_S_J179_R4_1_3_0_6.bin": "abc"}},
		{name: "no option 242", step: StepDHCP, reason: "no file server", files: map[string]string{},
			options: func(*fileServer) map[uint8][]byte { return map[uint8][]byte{176: []byte("HTTPSRVR=127.0.0.1")} }},
		{name: "broken option string", step: StepDHCP, reason: "option 242", files: map[string]string{},
			options: func(*fileServer) map[uint8][]byte { return map[uint8][]byte{242: []byte("127.0.0.1")} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := newFileServer(t, tt.files)
			if tt.short != "" {
				fs.short[tt.short] = true
			}
			opts := map[uint8][]byte{242: fs.avayaOption()}
			if tt.options != nil {
				opts = tt.options(fs)
			}
			m := lookup(t, "j179")
			res := New(m, m.MAC([3]byte{5, 5, 5}), "1").Run(context.Background(), testEnv(&fakeDHCP{options: opts}))
			if res.State != Failed || res.Step != tt.step || !strings.Contains(res.Reason, tt.reason) {
				t.Fatalf("got %s at %s: %s; want failed at %s with %q", res.State, res.Step, res.Reason, tt.step, tt.reason)
			}
		})
	}
}

func TestFirmwareLoopBounded(t *testing.T) {
	// A script that always names a file other than the one installed.
	fs := newFileServer(t, map[string]string{
		"J100Supgrade.txt": "IF $BOOTNAME SEQ FW_A.bin GOTO B\nSET APPNAME FW_A.bin\nGOTO E\n# B\nSET APPNAME FW_B.bin\n# E\n",
		"FW_A.bin":         "a", "FW_B.bin": "b",
	})
	m := lookup(t, "j179")
	res := New(m, m.MAC([3]byte{6, 6, 6}), "1").Run(context.Background(), testEnv(&fakeDHCP{options: map[uint8][]byte{242: fs.avayaOption()}}))
	if res.State != Failed || res.Step != StepFirmware || res.Boots != 3 || !strings.Contains(res.Reason, "restarts") {
		t.Fatalf("%+v", res)
	}
}

func TestCisco(t *testing.T) {
	m := lookup(t, "7941")
	mac := m.MAC([3]byte{0x58, 0x7c, 0xff})
	// Nothing on the server: the phone keeps its configuration, after
	// asking for the table's three files (two rounds for none: "not
	// found" ends a file's search at once).
	tport := tftpServer(t, map[string]string{})
	env := testEnv(&fakeDHCP{options: map[uint8][]byte{150: {127, 0, 0, 1}}})
	env.TFTPPort = tport
	res := New(m, mac, "1").Run(context.Background(), env)
	if res.State != Kept || len(res.Files) != 3 {
		t.Fatalf("%+v", res)
	}
	for i, want := range []string{"CTLSEP002155587CFF.tlv", "ITLSEP002155587CFF.tlv", "SEP002155587CFF.cnf.xml"} {
		if !strings.HasSuffix(res.Files[i].URL, "/"+want) {
			t.Errorf("file %d %s, want %s", i, res.Files[i].URL, want)
		}
	}
	// Its configuration, through option 66: provisioned; no firmware
	// file is asked for (the table names no .loads file for SCCP).
	tport = tftpServer(t, map[string]string{
		"SEP002155587CFF.cnf.xml": "<device><loadInformation>SCCP41.9-4-2SR1-1S</loadInformation></device>",
	})
	env = testEnv(&fakeDHCP{options: map[uint8][]byte{66: []byte("127.0.0.1")}})
	env.TFTPPort = tport
	res = New(m, mac, "1").Run(context.Background(), env)
	if res.State != Provisioned || res.Boots != 1 || len(res.Files) != 3 || !slices.Equal(res.OptionsRead, []int{66}) {
		t.Fatalf("%+v", res)
	}
}

func TestPolycom(t *testing.T) {
	fs := newFileServer(t, map[string]string{"000000000000.cfg": `<?xml version="1.0"?><APPLICATION/>`})
	m := lookup(t, "vvx410")
	env := testEnv(&fakeDHCP{options: map[uint8][]byte{160: []byte("http://127.0.0.1:" + port(fs.http) + "/")}})
	res := New(m, m.MAC([3]byte{0, 0, 1}), "1").Run(context.Background(), env)
	if res.State != Provisioned || !slices.Equal(res.OptionsRead, []int{160}) {
		t.Fatalf("%+v", res)
	}
	reqs := fs.requests()
	if len(reqs) != 2 || !strings.HasPrefix(reqs[0], "http GET 0004f2000001.cfg") || !strings.HasPrefix(reqs[1], "http GET 000000000000.cfg") {
		t.Errorf("requests %q", reqs)
	}
	// Nothing there: kept.
	delete(fs.files, "000000000000.cfg")
	if res := New(m, m.MAC([3]byte{0, 0, 2}), "1").Run(context.Background(), env); res.State != Kept {
		t.Errorf("%+v", res)
	}
}

// Each vendor asks for the first files the table names, from the server
// the option it reads names.
func TestOtherVendors(t *testing.T) {
	fs := newFileServer(t, map[string]string{})
	url := "http://127.0.0.1:" + port(fs.http) + "/p/"
	sub2 := append([]byte{2, byte(len(url))}, url...)
	tests := []struct {
		key     string
		low     [3]byte
		options map[uint8][]byte
		want    []string
		read    []int
	}{
		{"t41p", [3]byte{1, 2, 3}, map[uint8][]byte{66: []byte(url)}, []string{"http GET p/001565010203.cfg Yealink SIP-T41P 36.72.0.1 00:15:65:01:02:03"}, []int{66}},
		{"snom710", [3]byte{1, 2, 3}, map[uint8][]byte{66: []byte(url), 67: []byte("snom.htm")},
			[]string{"http GET p/snom710.htm Mozilla/4.0 (compatible; snom710-SIP 8.7.5.35", "http GET p/snom710-000413010203.htm", "http GET p/000413010203.xml"}, []int{66}},
		{"gxp1628", [3]byte{1, 2, 3}, map[uint8][]byte{66: []byte(url)}, []string{"http GET p/cfg000b82010203.xml Grandstream Model HW GXP1628 SW 1.0.4.138 DevId 000b82010203"}, []int{66}},
		{"6731i", [3]byte{1, 2, 3}, map[uint8][]byte{43: sub2, 66: []byte("127.0.0.99")}, []string{"http GET p/00085D010203.cfg Aastra6731i MAC:00-08-5D-01-02-03 V:3.2.0.70-SIP"}, []int{43, 66}},
		{"7841", [3]byte{1, 2, 3}, map[uint8][]byte{66: []byte(url)}, []string{"http GET p/7841-3PCC.xml", "http GET p/Cisco/CP-7841-3PCC/d0ec35010203.cfg"}, []int{66}},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			fs.mu.Lock()
			fs.log = nil
			fs.mu.Unlock()
			m := lookup(t, tt.key)
			res := New(m, m.MAC(tt.low), "1").Run(context.Background(), testEnv(&fakeDHCP{options: tt.options}))
			if res.State != Kept || !slices.Equal(res.OptionsRead, tt.read) {
				t.Fatalf("%+v", res)
			}
			reqs := fs.requests()
			if len(reqs) != len(tt.want) {
				t.Fatalf("requests %q, want %q", reqs, tt.want)
			}
			for i, w := range tt.want {
				if !strings.HasPrefix(reqs[i], w) {
					t.Errorf("request %q, want %q", reqs[i], w)
				}
			}
		})
	}
	// A file there: provisioned.
	fs.files["p/001565010204.cfg"] = []byte("#!version:1.0.0.1\n")
	m := lookup(t, "t41p")
	if res := New(m, m.MAC([3]byte{1, 2, 4}), "1").Run(context.Background(), testEnv(&fakeDHCP{options: map[uint8][]byte{66: []byte(url)}})); res.State != Provisioned {
		t.Errorf("%+v", res)
	}
}

// A MiNet set reads the id:ipphone.mitel.com string and asks for no file.
func TestMiNet(t *testing.T) {
	m := lookup(t, "5320")
	d := &fakeDHCP{options: map[uint8][]byte{43: []byte("id:ipphone.mitel.com;sw_tftp=127.0.0.1;call_srv=127.0.0.9")}}
	res := New(m, m.MAC([3]byte{1, 2, 3}), "1").Run(context.Background(), testEnv(d))
	if res.State != Provisioned || len(res.Files) != 0 || !slices.Equal(res.OptionsRead, []int{43}) {
		t.Fatalf("%+v", res)
	}
	if string(d.ids[0].VendorClass) != "ipphone.mitel.com" {
		t.Errorf("option 60 %q", d.ids[0].VendorClass)
	}
	d = &fakeDHCP{options: map[uint8][]byte{43: []byte("id:ipphone.mitel.com;call_srv=127.0.0.9")}}
	if res := New(m, m.MAC([3]byte{1, 2, 4}), "1").Run(context.Background(), testEnv(d)); res.State != Failed || !strings.Contains(res.Reason, "sw_tftp") {
		t.Errorf("%+v", res)
	}
}

func TestCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	m := lookup(t, "j179")
	dead := closedPort(t)
	d := &fakeDHCP{options: map[uint8][]byte{242: []byte("HTTPSRVR=127.0.0.1,HTTPPORT=" + dead)}}
	start := time.Now()
	res := New(m, m.MAC([3]byte{7, 7, 7}), "1").Run(ctx, testEnv(d))
	if res.State != Failed || time.Since(start) > 2*time.Second {
		t.Fatalf("%+v after %v", res, time.Since(start))
	}
}
