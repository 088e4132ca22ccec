package appliance

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/phoneprov/phoneprov/cmd/internal/config"
	"github.com/phoneprov/phoneprov/cmd/phoneprov/internal/admin"
	"github.com/phoneprov/phoneprov/dhcpd"
	"github.com/phoneprov/phoneprov/fileserve"
	"github.com/phoneprov/phoneprov/provisioning/inventory"

	"github.com/phoneprov/phoneprov/internal/syncbuf"
)

// These tests run the appliance in this process on 127.0.0.1, composed the
// way cmdServe composes it, and read the admin listener over HTTP.

// j179Agent is what an Avaya J179 on 4.1.3.0.6 sends (see
// provisioning/inventory/identify.go).
const (
	j179Agent = "Mozilla/4.0 (compatible; MSIE 6.0) AVAYA/J179-4.1.3.0.6 (MAC:c81fea83e85a)"
	j179MAC   = "c8:1f:ea:83:e8:5a"
)

type testAppliance struct {
	app        *appliance
	admin      string // http://127.0.0.1:port of the admin listener
	http       string // http://127.0.0.1:port of the file server
	filesDir   string
	dataDir    string
	logs       *syncbuf.Buffer
	adminToken string
}

// startAppliance serves a file tree holding J179 firmware 4.1.3.0.6;
// adminKeys are further lines for the [admin] section.
func startAppliance(t *testing.T, adminKeys string) *testAppliance {
	t.Helper()
	ta := bindTestAppliance(t, adminKeys)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ta.app.run(ctx, ta.app.parts()) }()
	ta.waitAdmin(t)
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("appliance stopped with: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Errorf("appliance did not stop\n%s", ta.logs.String())
		}
	})
	return ta
}

// bindTestAppliance is startAppliance up to the run: every part built
// and every socket bound, the admin listener's too.
func bindTestAppliance(t *testing.T, adminKeys string) *testAppliance {
	t.Helper()
	base := t.TempDir()
	data, files := filepath.Join(base, "data"), filepath.Join(base, "files")
	if err := os.MkdirAll(files, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{
		"FW_S_J179_R4_1_3_0_6.bin": strings.Repeat("J179 firmware ", 512),
		"lang/Mlf_J179_German.xml": "<language/>",
	} {
		p := filepath.Join(files, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Port 0 everywhere: the kernel picks free ports at bind, so parallel
	// test processes cannot take them in between.
	cfgPath := filepath.Join(base, "phoneprov.toml")
	if err := os.WriteFile(cfgPath, []byte(fmt.Sprintf(`data_dir = %q
[admin]
listen = "127.0.0.1:0"
%s
[fileserve]
root = %q
drain_timeout = "5s"
[fileserve.http]
listen = ["127.0.0.1:0"]
[fileserve.https]
listen = ["127.0.0.1:0"]
[fileserve.tftp]
listen = ["127.0.0.1:0"]
`, data, adminKeys, files)), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := prepareDataDir(cfg); err != nil {
		t.Fatal(err)
	}
	logs := &syncbuf.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	app, err := start(context.Background(), cfg, log, prometheus.NewRegistry(), "test")
	if err != nil {
		t.Fatal(err)
	}
	httpAddr := app.files.Addrs()["http"][0].String()
	return &testAppliance{
		app: app, http: "http://" + httpAddr,
		filesDir: files, dataDir: data, logs: logs, adminToken: string(cfg.Admin.Token),
	}
}

// adminReady is the admin listener's line once it serves, with the
// address the kernel gave it.
var adminReady = regexp.MustCompile(`msg="admin listener ready".* listen=(\S+)`)

// waitAdmin waits until the running appliance's admin listener serves,
// and learns its address from its log line.
func (ta *testAppliance) waitAdmin(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m := adminReady.FindStringSubmatch(ta.logs.String()); m != nil {
			ta.admin = "http://" + m[1]
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the admin listener did not start:\n%s", ta.logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// fetch asks the file server for name with a User-Agent, as a phone does.
func (ta *testAppliance) fetch(t *testing.T, name, userAgent string) int {
	t.Helper()
	return ta.send(t, http.MethodGet, name, userAgent, nil)
}

// send makes one request to the file server as a phone would and returns
// its status, the body read and dropped.
func (ta *testAppliance) send(t *testing.T, method, name, userAgent string, body io.Reader) int {
	t.Helper()
	req, err := http.NewRequest(method, ta.http+"/"+name, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("User-Agent", userAgent)
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, name, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// get reads an admin path; it returns the status and the body.
func (ta *testAppliance) get(t *testing.T, path string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, ta.admin+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ta.adminToken != "" {
		req.Header.Set("Authorization", "Bearer "+ta.adminToken)
	}
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitPhone waits until the inventory has folded in the phone with mac.
func (ta *testAppliance) waitPhone(t *testing.T, mac string) inventory.Phone {
	t.Helper()
	m, err := inventory.ParseMAC(mac)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if p, ok := ta.app.inventory.Get(m); ok {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("the inventory never showed %s\n%s", mac, ta.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestStatusPageShowsThePhoneAndSearches(t *testing.T) {
	ta := startAppliance(t, "")
	if code := ta.fetch(t, "J100Supgrade.txt", j179Agent); code != http.StatusOK {
		t.Fatalf("J100Supgrade.txt: %d", code)
	}
	p := ta.waitPhone(t, j179MAC)
	if p.State != inventory.StateUpToDate {
		t.Fatalf("the J179 is %s (%s), want up_to_date", p.State, p.StateReason)
	}

	code, page := ta.get(t, "/")
	if code != http.StatusOK {
		t.Fatalf("/: %d\n%s", code, page)
	}
	for _, want := range []string{j179MAC, "J179", "4.1.3.0.6", "up to date", "127.0.0.1", "http J100Supgrade.txt 200", "Phones by model"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if code, page := ta.get(t, "/?q=83E85A"); code != http.StatusOK || !strings.Contains(page, j179MAC) {
		t.Errorf("a search for part of the MAC does not find the phone (%d)", code)
	}
	if code, page := ta.get(t, "/?model=j179&state=up_to_date"); code != http.StatusOK || !strings.Contains(page, j179MAC) {
		t.Errorf("model and state filters do not find the phone (%d)", code)
	}
	code, page = ta.get(t, "/?q=no-such-phone")
	if code != http.StatusOK || strings.Contains(page, j179MAC) || !strings.Contains(page, "No phone matches “no-such-phone”") {
		t.Errorf("a search matching nothing: %d, lists the phone: %v", code, strings.Contains(page, j179MAC))
	}
	if code, _ := ta.get(t, "/nothing-here"); code != http.StatusNotFound {
		t.Errorf("/nothing-here: %d, want 404", code)
	}
}

// Phones choose their User-Agent and DHCP host name: the page must show
// them as text, never as markup.
func TestStatusPageEscapesWhatPhonesSend(t *testing.T) {
	ta := startAppliance(t, "")
	hostile := `AVAYA/J179-4.1.3.0.6 (MAC:c81fea000bad) "><script>document.title='owned'</script><img src=x onerror=alert(1)>`
	ta.fetch(t, "J100Supgrade.txt", hostile)
	ta.waitPhone(t, "c8:1f:ea:00:0b:ad")

	events := admin.NewEvents()
	events.ObserveAccess(fileserve.AccessEvent{Time: time.Now(), Protocol: "http", Name: "<script>x</script>.bin", Status: 404,
		Client: netip.MustParseAddrPort("127.0.0.1:5000"), UserAgent: hostile})
	events.ObserveLease(dhcpd.LeaseEvent{Kind: dhcpd.Declined, Time: time.Now(), Addr: netip.MustParseAddr("198.18.0.7"),
		Hostname: `<svg onload=alert(1)>`})
	page := admin.NewSite(ta.app.siteParts(events)).Routes()["GET /{$}"]
	rec := httptest.NewRecorder()
	page.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, `/?q=<script>alert(2)</script>`, nil))
	body := rec.Body.String()
	for _, raw := range []string{"<script>", "<img src=x", "<svg onload", `"><script`} {
		if strings.Contains(body, raw) {
			t.Errorf("the page carries %q unescaped", raw)
		}
	}
	for _, escaped := range []string{"&#34;&gt;&lt;script&gt;document.title=", "&lt;script&gt;x&lt;/script&gt;.bin", "&lt;svg onload=alert(1)&gt;", "&lt;script&gt;alert(2)&lt;/script&gt;"} {
		if !strings.Contains(body, escaped) {
			t.Errorf("the page does not show %q as text", escaped)
		}
	}
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script-src") {
		t.Errorf("Content-Security-Policy %q lets scripts run", csp)
	}
}

func TestRecentErrorsAndEventsAPI(t *testing.T) {
	ta := startAppliance(t, "")
	events := admin.NewEvents()
	site := admin.NewSite(ta.app.siteParts(events))
	h := admin.Handler(config.DefaultAdmin(), prometheus.NewRegistry(), site.Routes())
	now := time.Now()
	client := netip.MustParseAddrPort("198.18.0.20:3333")
	events.ObserveAccess(fileserve.AccessEvent{Time: now.Add(-3 * time.Second), Protocol: "https", Name: "J100Supgrade.txt", Status: 200, Client: client})
	events.ObserveAccess(fileserve.AccessEvent{Time: now.Add(-2 * time.Second), Protocol: "tftp", Name: "FW_S_J179_R9.bin", Status: 404, Client: client})
	events.ObserveLease(dhcpd.LeaseEvent{Kind: dhcpd.Acked, Time: now.Add(-time.Second), Addr: netip.MustParseAddr("198.18.0.20"),
		MAC: net.HardwareAddr{0xc8, 0x1f, 0xea, 0x83, 0xe8, 0x5a}})
	events.ObserveLease(dhcpd.LeaseEvent{Kind: dhcpd.Declined, Time: now, Addr: netip.MustParseAddr("198.18.0.21")})

	get := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Host = "127.0.0.1"
		h.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	code, page := get("/")
	if code != http.StatusOK {
		t.Fatalf("/: %d", code)
	}
	section := page[strings.Index(page, `id="errors"`):strings.Index(page, `id="phones"`)]
	for _, want := range []string{"tftp FW_S_J179_R9.bin → 404", "decline 198.18.0.21", "198.18.0.20"} {
		if !strings.Contains(section, want) {
			t.Errorf("recent errors lack %q:\n%s", want, section)
		}
	}
	if strings.Contains(section, "J100Supgrade.txt") || strings.Contains(section, "ack 198.18.0.20") {
		t.Errorf("recent errors show a success:\n%s", section)
	}

	var all, problems admin.EventsView
	for path, into := range map[string]*admin.EventsView{"/api/events": &all, "/api/events?problems=1": &problems} {
		code, body := get(path)
		if code != http.StatusOK {
			t.Fatalf("%s: %d %s", path, code, body)
		}
		if err := json.Unmarshal([]byte(body), into); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	if all.Seen != 4 || len(all.Events) != 4 || all.Events[0].Lease != "decline" || all.Events[3].Name != "J100Supgrade.txt" {
		t.Errorf("/api/events: %+v", all)
	}
	if problems.Seen != 2 || len(problems.Events) != 2 || problems.Events[0].Address != "198.18.0.21" || problems.Events[1].Status != 404 {
		t.Errorf("/api/events?problems=1: %+v", problems)
	}
	if code, body := get("/api/events?limit=1"); code != http.StatusOK || strings.Count(body, `"kind"`) != 1 {
		t.Errorf("limit=1: %d %s", code, body)
	}
	if code, _ := get("/api/events?limit=-1"); code != http.StatusBadRequest {
		t.Errorf("limit=-1: %d, want 400", code)
	}

	// Without recorded events the API says so, and the page too.
	bare := admin.Handler(config.DefaultAdmin(), prometheus.NewRegistry(), admin.NewSite(ta.app.siteParts(nil)).Routes())
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/api/events", nil)
	req.Host = "localhost"
	bare.ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "does not record") {
		t.Errorf("/api/events without a recorder: %d %s", rec.Code, rec.Body.String())
	}
	rec = httptest.NewRecorder()
	req = httptest.NewRequest(http.MethodGet, "/", nil)
	req.Host = "localhost"
	bare.ServeHTTP(rec, req)
	if !strings.Contains(rec.Body.String(), "This appliance does not record recent events.") {
		t.Error("the page without a recorder does not say so")
	}
}

// fileJSON, filesJSON and summaryJSON read /api/files and /api/status as
// a client does.
type fileJSON struct {
	Name   string           `json:"name"`
	Source fileserve.Source `json:"source"`
	Size   *int64           `json:"size"`
}

type filesJSON struct {
	Files    []fileJSON `json:"files"`
	Complete bool       `json:"complete"`
	Relay    string     `json:"relay"`
}

type summaryJSON struct {
	Phones   int               `json:"phones"`
	UpToDate int               `json:"up_to_date"`
	Subnets  []json.RawMessage `json:"subnets"`
	States   map[string]int    `json:"states"`
	Models   []struct {
		Model    string         `json:"model"`
		Phones   int            `json:"phones"`
		UpToDate int            `json:"up_to_date"`
		Newest   string         `json:"newest_present"`
		Firmware map[string]int `json:"firmware"`
	} `json:"models"`
}

func TestAPIFilesListsEverySource(t *testing.T) {
	ta := startAppliance(t, "")
	if err := os.WriteFile(filepath.Join(ta.filesDir, "46xxsettings.txt"), []byte("SET SNTPSRVR 198.18.0.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ta.filesDir, ".partial-upload"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, body := ta.get(t, "/api/files")
	if code != http.StatusOK {
		t.Fatalf("/api/files: %d %s", code, body)
	}
	var v filesJSON
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatal(err)
	}
	bySource := map[string]fileJSON{}
	for _, f := range v.Files {
		bySource[f.Name] = f
	}
	want := map[string]fileserve.Source{
		"FW_S_J179_R4_1_3_0_6.bin": fileserve.SourceOperator,
		"lang/Mlf_J179_German.xml": fileserve.SourceOperator,
		"46xxsettings.txt":         fileserve.SourceOperator, // the operator's, so not generated
		fileserve.CAFileName:       fileserve.SourceBuiltin,
		"J100Supgrade.txt":         fileserve.SourceGenerated,
	}
	for name, src := range want {
		f, ok := bySource[name]
		switch {
		case !ok:
			t.Errorf("%s is not listed", name)
		case f.Source != src:
			t.Errorf("%s: source %s, want %s", name, f.Source, src)
		case src == fileserve.SourceGenerated && f.Size != nil:
			t.Errorf("%s: a generated file with a size", name)
		case src != fileserve.SourceGenerated && (f.Size == nil || *f.Size == 0):
			t.Errorf("%s: no size", name)
		}
	}
	if _, ok := bySource[".partial-upload"]; ok {
		t.Error("a hidden file is listed")
	}
	if strings.Count(body, `"name": "46xxsettings.txt"`) != 1 {
		t.Error("46xxsettings.txt is listed twice")
	}
	if !v.Complete || v.Relay != "off" {
		t.Errorf("complete %v, relay %q", v.Complete, v.Relay)
	}
	// Every listed name is what a phone gets.
	for _, f := range v.Files {
		if code := ta.fetch(t, f.Name, "test"); code != http.StatusOK {
			t.Errorf("listed %s answers %d", f.Name, code)
		}
	}
}

func TestAPIStatusSummarizesTheFleet(t *testing.T) {
	ta := startAppliance(t, "")
	ta.fetch(t, "J100Supgrade.txt", j179Agent)
	ta.fetch(t, "J100Supgrade.txt", "Mozilla/4.0 (compatible; MSIE 6.0) AVAYA/J179-4.0.0.0.9 (MAC:c81fea000002)")
	ta.waitPhone(t, j179MAC)
	ta.waitPhone(t, "c8:1f:ea:00:00:02")
	code, body := ta.get(t, "/api/status")
	if code != http.StatusOK {
		t.Fatalf("/api/status: %d %s", code, body)
	}
	var v summaryJSON
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatal(err)
	}
	if v.Phones != 2 || v.UpToDate != 1 || len(v.Models) != 1 {
		t.Fatalf("/api/status: %s", body)
	}
	m := v.Models[0]
	if m.Model != "J179" || m.Phones != 2 || m.UpToDate != 1 || m.Newest != "4.1.3.0.6" ||
		m.Firmware["4.1.3.0.6"] != 1 || m.Firmware["4.0.0.0.9"] != 1 {
		t.Errorf("J179 summary: %+v", m)
	}
	if v.States["up_to_date"] != 1 || v.Subnets != nil {
		t.Errorf("states %v, subnets %v", v.States, v.Subnets)
	}
	if code, _ := ta.get(t, "/api/leases"); code != http.StatusNotFound {
		t.Errorf("/api/leases with DHCP off: %d, want 404", code)
	}
}

func TestReadinessFollowsTheFileTree(t *testing.T) {
	ta := startAppliance(t, "")
	code, body := ta.get(t, "/readyz")
	if code != http.StatusOK || body != "ok   files\nready\n" {
		t.Fatalf("/readyz: %d %q", code, body)
	}
	moved := ta.filesDir + ".away"
	if err := os.Rename(ta.filesDir, moved); err != nil {
		t.Fatal(err)
	}
	code, body = ta.get(t, "/readyz")
	if code != http.StatusServiceUnavailable || !strings.HasPrefix(body, "FAIL files: file tree: ") {
		t.Errorf("/readyz without the tree: %d %q", code, body)
	}
	if err := os.Rename(moved, ta.filesDir); err != nil {
		t.Fatal(err)
	}
	if code, _ := ta.get(t, "/readyz"); code != http.StatusOK {
		t.Errorf("/readyz with the tree back: %d", code)
	}
}

// With a token set, the page and the API want it; the probes do not.
func TestAdminTokenGuardsTheAppliance(t *testing.T) {
	ta := startAppliance(t, `token = "test-token-0123456789"`)
	c := http.Client{Timeout: 5 * time.Second}
	for path, want := range map[string]int{"/": 401, "/api/phones": 401, "/metrics": 401, "/healthz": 200, "/readyz": 200} {
		resp, err := c.Get(ta.admin + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s without the token: %d, want %d", path, resp.StatusCode, want)
		}
	}
	if code, body := ta.get(t, "/api/phones"); code != http.StatusOK || !strings.HasPrefix(body, "[") {
		t.Errorf("/api/phones with the token: %d %s", code, body)
	}
}
