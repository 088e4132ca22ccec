package provisioning

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/phoneprov/phoneprov/fileserve"
	"github.com/phoneprov/phoneprov/provisioning/firmware"
	"github.com/phoneprov/phoneprov/provisioning/script"
)

var local = netip.MustParseAddr("198.18.0.1")

func client() fileserve.Client {
	return fileserve.Client{Addr: netip.MustParseAddr("198.18.1.20"), Local: local, Protocol: "http"}
}

func put(t *testing.T, dir, name, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func newGen(t *testing.T, cfg Config, files string) *Generator {
	t.Helper()
	g, err := New(cfg, Options{FilesDir: files, CACertName: fileserve.CAFileName})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func gen(t *testing.T, g *Generator, name string) string {
	t.Helper()
	out, err := g.Generate(context.Background(), name, client())
	if err != nil {
		t.Fatalf("Generate(%s): %v", name, err)
	}
	return string(out.Data)
}

func TestNewRefusesBadConfig(t *testing.T) {
	cfg := DefaultConfig()
	cfg.HTTPSPort = -1
	_, err := New(cfg, Options{FilesDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "provisioning.https_port") {
		t.Fatalf("err = %v", err)
	}
	g := newGen(t, DefaultConfig(), t.TempDir())
	if err := g.SetConfig(cfg); err == nil {
		t.Fatal("SetConfig accepted a bad configuration")
	}
	if gen(t, g, "46xxsettings.txt") == "" {
		t.Fatal("the running configuration did not stay")
	}
}

func TestNamesAreMatchedWithoutCase(t *testing.T) {
	files := t.TempDir()
	put(t, files, "FW_S_J179_R4_1_4_0_5.bin", "fw")
	cfg := DefaultConfig()
	cfg.Phones = []PhoneConfig{{MAC: "c8:1f:ea:83:e8:5a", Settings: Settings{"SIPUSERNAME": "2001"}}}
	g := newGen(t, cfg, files)
	for name, canonical := range map[string]string{
		"46XXSETTINGS.TXT":      "46xxsettings.txt",
		"j100supgrade.txt":      "J100Supgrade.txt",
		"46XXUPGRADE.SCR":       "46xxupgrade.scr",
		"46xxupgrade.txt":       "46xxupgrade.txt",
		"C81FEA83E85A.txt":      "c81fea83e85a.txt",
		"c8-1f-ea-83-e8-5a.TXT": "c81fea83e85a.txt",
		"c8:1f:ea:83:e8:5a.txt": "c81fea83e85a.txt",
	} {
		out, err := g.Generate(context.Background(), name, client())
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if out.Name != canonical {
			t.Errorf("%s served as %s, want %s", name, out.Name, canonical)
		}
	}
	for _, name := range []string{"001122334455.txt", "sub/46xxsettings.txt", "46xxsettings.scr", "readme.txt", "FW_S_J179_R4_1_4_0_5.bin"} {
		if _, err := g.Generate(context.Background(), name, client()); !errors.Is(err, fileserve.ErrNotFound) {
			t.Errorf("Generate(%s) = %v, want ErrNotFound", name, err)
		}
	}
}

func TestOperatorFileWinsThroughTheFileServer(t *testing.T) {
	files := t.TempDir()
	g := newGen(t, DefaultConfig(), files)
	ns, err := fileserve.NewNamespace(files, nil, g)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	read := func(name string) (string, fileserve.Source) {
		t.Helper()
		e, err := ns.Open(context.Background(), name, client())
		if err != nil {
			t.Fatalf("Open(%s): %v", name, err)
		}
		defer e.Close()
		b, err := io.ReadAll(io.NewSectionReader(e, 0, e.Size))
		if err != nil {
			t.Fatal(err)
		}
		return string(b), e.Source
	}
	body, src := read("/46xxsettings.txt")
	if src != fileserve.SourceGenerated || !strings.Contains(body, "SET HTTPSRVR 198.18.0.1") {
		t.Fatalf("generated settings: %s %q", src, body)
	}
	put(t, files, "46xxsettings.txt", "SET MINE 1\n")
	if body, src = read("46xxsettings.txt"); src != fileserve.SourceOperator || body != "SET MINE 1\n" {
		t.Errorf("operator file did not win: %s %q", src, body)
	}
	// The operator's specials file is fetched last by the generated file.
	os.Remove(filepath.Join(files, "46xxsettings.txt"))
	put(t, files, "46xxspecials.txt", "SET EXTRA 1\n")
	waitRescan(t, g, "46xxsettings.txt", "GET 46xxspecials.txt")
}

// waitRescan asks for name until it contains want. A change to the tree is
// seen at once when its modification time moves; within the same clock tick
// the racy-window recheck picks it up within racyRecheck.
func waitRescan(t *testing.T, g *Generator, name, want string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		if strings.Contains(gen(t, g, name), want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never showed %q:\n%s", name, want, gen(t, g, name))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestSettingsScrSuppressesGeneratedSettings(t *testing.T) {
	files := t.TempDir()
	put(t, files, "46xxsettings.scr", "SET MINE 1\n")
	g := newGen(t, DefaultConfig(), files)
	if _, err := g.Generate(context.Background(), "46xxsettings.txt", client()); !errors.Is(err, fileserve.ErrNotFound) {
		t.Fatalf("err = %v", err)
	}
	if s := gen(t, g, "J100Supgrade.txt"); !strings.HasSuffix(s, "GET 46xxsettings.scr\n") {
		t.Errorf("upgrade script does not fetch the operator's .scr:\n%s", s)
	}
}

func TestGenerateSwitches(t *testing.T) {
	cfg := DefaultConfig()
	cfg.GenerateSettings, cfg.GenerateUpgrade = false, false
	g := newGen(t, cfg, t.TempDir())
	for _, n := range []string{"46xxsettings.txt", "J100Supgrade.txt"} {
		if _, err := g.Generate(context.Background(), n, client()); !errors.Is(err, fileserve.ErrNotFound) {
			t.Errorf("%s generated although switched off: %v", n, err)
		}
	}
	if names, _ := g.Names(context.Background()); len(names) != 0 {
		t.Errorf("Names = %v", names)
	}
}

func TestAutoValuesFollowTheAddressAskedAt(t *testing.T) {
	g := newGen(t, DefaultConfig(), t.TempDir())
	for addr, want := range map[string][]string{
		"198.18.0.1":        {"SET HTTPSRVR 198.18.0.1", "SET BRURI https://198.18.0.1:443/backup/"},
		"::ffff:198.18.0.9": {"SET TLSSRVR 198.18.0.9", "SET BRURI https://198.18.0.9:443/backup/"},
		"2001:db8::7":       {"SET HTTPSRVR 2001:db8::7", "SET BRURI https://[2001:db8::7]:443/backup/"},
		"fe80::1%eth0":      {"SET HTTPSRVR fe80::1\n"},
	} {
		c := client()
		c.Local = netip.MustParseAddr(addr)
		out, err := g.Generate(context.Background(), "46xxsettings.txt", c)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range want {
			if !strings.Contains(string(out.Data), w) {
				t.Errorf("asked at %s: lacks %q:\n%s", addr, w, out.Data)
			}
		}
	}
	out, _ := g.Generate(context.Background(), "46xxsettings.txt", fileserve.Client{})
	s := string(out.Data)
	if strings.Contains(s, "SET HTTPSRVR") || strings.Contains(s, "SET BRURI") || !strings.Contains(s, "SET TRUSTCERTS phoneprov-ca.pem") {
		t.Errorf("without a server address:\n%s", s)
	}
	// HTTPS off: no TLSSRVR, no BRURI, HTTPSRVR still.
	g3, _ := New(DefaultConfig(), Options{FilesDir: t.TempDir(), NoHTTPS: true})
	if s := gen(t, g3, "46xxsettings.txt"); strings.Contains(s, "SET TLSSRVR") || strings.Contains(s, "SET BRURI") || !strings.Contains(s, "SET HTTPSRVR 198.18.0.1") {
		t.Errorf("with HTTPS off:\n%s", s)
	}
	// No CA served: no TRUSTCERTS.
	g2, _ := New(DefaultConfig(), Options{FilesDir: t.TempDir()})
	if s := gen(t, g2, "46xxsettings.txt"); strings.Contains(s, "TRUSTCERTS") {
		t.Errorf("TRUSTCERTS names a CA the server does not serve:\n%s", s)
	}
}

func TestUpgradeScriptsRunAsPhonesWould(t *testing.T) {
	files := t.TempDir()
	for _, n := range []string{
		"FW_S_J179_R4_1_4_0_5.bin", "FW_S_J179_R4_1_11_0_10.bin", "FW_S_J169_J179_R4_1_2_0_9.bin",
		"FW_JEM24_R1_0_1_0_26.bin", "hb96xxua3_2_8.bin", "S96x1_SALBR7_1_15_0_4_r.tar", "S96x1_SALBR7_1_2_0_14_r.tar",
	} {
		put(t, files, n, "fw")
	}
	cfg := DefaultConfig()
	cfg.Pin = map[string]string{"J169": "FW_S_J169_J179_R4_1_2_0_9.bin", "9608": "S96x1_SALBR7_1_2_0_14_r.tar", "J139": "FW_S_J139_R9_9_9_9_9.bin"}
	g := newGen(t, cfg, files)
	tests := []struct {
		script string
		vars   map[string]string
		want   map[string]string // settings expected ("" = must not be set)
	}{
		{"J100Supgrade.txt", map[string]string{"MODEL4": "J179"}, map[string]string{"APPNAME": "FW_S_J179_R4_1_11_0_10.bin", "JEM24_APPNAME": "FW_JEM24_R1_0_1_0_26.bin"}},
		{"J100Supgrade.txt", map[string]string{"MODEL4": "J169"}, map[string]string{"APPNAME": "FW_S_J169_J179_R4_1_2_0_9.bin"}},
		{"J100Supgrade.txt", map[string]string{"MODEL4": "J129"}, map[string]string{"APPNAME": "", "JEM24_APPNAME": ""}},
		{"J100Supgrade.txt", map[string]string{"MODEL4": "J139"}, map[string]string{"APPNAME": ""}}, // pinned to a missing file
		{"96x1Supgrade.txt", map[string]string{"MODEL4": "9608"}, map[string]string{"APPNAME": "S96x1_SALBR7_1_2_0_14_r.tar"}},
		{"96x1Supgrade.txt", map[string]string{"MODEL4": "9611"}, map[string]string{"APPNAME": "S96x1_SALBR7_1_15_0_4_r.tar"}},
		{"96x1Hupgrade.txt", map[string]string{"MODEL4": "9608"}, map[string]string{"APPNAME": ""}}, // only SIP firmware present
		{"96xxupgrade.txt", map[string]string{"MODEL4": "9620", "SIG": "1"}, map[string]string{"APPNAME": "hb96xxua3_2_8.bin"}},
		{"96xxupgrade.txt", map[string]string{"MODEL4": "9620"}, map[string]string{"APPNAME": "hb96xxua3_2_8.bin"}}, // SIG unknown: H.323, the default
		{"96xxupgrade.txt", map[string]string{"MODEL4": "9620", "SIG": "2"}, map[string]string{"APPNAME": ""}},      // no SIP firmware: never convert
	}
	for _, tt := range tests {
		s := script.Parse([]byte(gen(t, g, tt.script)))
		res, err := script.Run(s, script.RunOptions{File: tt.script, Vars: tt.vars})
		if err != nil {
			t.Fatal(err)
		}
		got := res.Settings()
		for k, v := range tt.want {
			if got[k] != v {
				t.Errorf("%s %v: %s = %q, want %q", tt.script, tt.vars, k, got[k], v)
			}
		}
		if got := gets(res); len(got) != 1 || got[0] != "46xxsettings.txt" {
			t.Errorf("%s %v: GETs %v", tt.script, tt.vars, got)
		}
		// Never a name that would 404.
		for _, op := range res.Ops {
			if op.Kind == script.Set && strings.HasSuffix(op.Name, "APPNAME") {
				if _, err := os.Stat(filepath.Join(files, op.Value)); err != nil {
					t.Errorf("%s names %s, which is not there", tt.script, op.Value)
				}
			}
		}
	}
	findings, err := g.Check(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	text := fmt.Sprint(findings)
	if !strings.Contains(text, `pin J139 = "FW_S_J139_R9_9_9_9_9.bin": the file is not in the file tree`) {
		t.Errorf("Check does not report the missing pin: %s", text)
	}
}

func TestSettingsRunAsPhonesWould(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Settings = Settings{"SCREENSAVERON": "240", "SNTPSRVR": "198.18.0.1"}
	cfg.Groups = []GroupConfig{{Group: 7, Settings: Settings{"SCREENSAVERON": "60"}}}
	cfg.Models = []ModelConfig{{Model: "J179", Settings: Settings{"SCREENSAVERON": "30", "X": "model"}}}
	g := newGen(t, cfg, t.TempDir())
	s := script.Parse([]byte(gen(t, g, "46xxsettings.txt")))
	run := func(vars map[string]string) map[string]string {
		res, err := script.Run(s, script.RunOptions{Vars: vars})
		if err != nil {
			t.Fatal(err)
		}
		return res.Settings()
	}
	if got := run(map[string]string{"GROUP": "0", "MODEL4": "9608"}); got["SCREENSAVERON"] != "240" || got["HTTPSRVR"] != "198.18.0.1" {
		t.Errorf("plain phone: %v", got)
	}
	if got := run(map[string]string{"GROUP": "7", "MODEL4": "9608"}); got["SCREENSAVERON"] != "60" {
		t.Errorf("group 7: %v", got)
	}
	if got := run(map[string]string{"GROUP": "7", "MODEL4": "J179"}); got["SCREENSAVERON"] != "30" || got["X"] != "model" {
		t.Errorf("group 7 J179 (model wins over group): %v", got)
	}
}

func TestCacheAndInvalidation(t *testing.T) {
	files := t.TempDir()
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewMetrics(reg); err == nil {
		t.Fatal("registering twice must fail (a reload must reuse the Metrics)")
	}
	g, err := New(DefaultConfig(), Options{FilesDir: files, Metrics: m, CACertName: fileserve.CAFileName})
	if err != nil {
		t.Fatal(err)
	}
	// Let the tree's modification time age past the racy window, so that
	// repeated requests are served from the cache without rescans.
	old := time.Now().Add(-time.Minute)
	os.Chtimes(files, old, old)
	a := gen(t, g, "J100Supgrade.txt")
	for i := 0; i < 50; i++ {
		gen(t, g, "J100Supgrade.txt")
	}
	if hits := testutil.ToFloat64(m.cache.WithLabelValues("hit")); hits != 50 {
		t.Errorf("cache hits = %v, want 50", hits)
	}
	if scans := testutil.ToFloat64(m.scans); scans != 1 {
		t.Errorf("scans = %v, want 1", scans)
	}
	// A per-address cache: another server address is another entry.
	c := client()
	c.Local = netip.MustParseAddr("198.18.0.2")
	out, _ := g.Generate(context.Background(), "46xxsettings.txt", c)
	if !strings.Contains(string(out.Data), "198.18.0.2") {
		t.Error("settings for the second address name the first")
	}

	// New firmware in the tree: the script changes.
	put(t, files, "FW_S_J179_R4_1_4_0_5.bin", "fw")
	waitRescan(t, g, "J100Supgrade.txt", "SET APPNAME FW_S_J179_R4_1_4_0_5.bin")
	if b := gen(t, g, "J100Supgrade.txt"); b == a {
		t.Error("script unchanged after new firmware")
	}
	// A new configuration: the cache is dropped at once.
	cfg := DefaultConfig()
	cfg.Settings = Settings{"SNTPSRVR": "198.18.0.1"}
	if err := g.SetConfig(cfg); err != nil {
		t.Fatal(err)
	}
	if s := gen(t, g, "46xxsettings.txt"); !strings.Contains(s, "SET SNTPSRVR 198.18.0.1") {
		t.Errorf("new configuration not applied:\n%s", s)
	}
	if n := testutil.ToFloat64(m.generated.WithLabelValues("upgrade")); n < 2 {
		t.Errorf("generated{upgrade} = %v", n)
	}
}

// A boot storm: many phones at once, while the tree changes under them.
func TestConcurrentStorm(t *testing.T) {
	files := t.TempDir()
	put(t, files, "FW_S_J179_R4_1_4_0_5.bin", "fw")
	cfg := DefaultConfig()
	cfg.Phones = []PhoneConfig{{MAC: "001b4f123456", Settings: Settings{"SIPUSERNAME": "2002"}}}
	g := newGen(t, cfg, files)
	names := []string{"J100Supgrade.txt", "46xxsettings.txt", "96x1Supgrade.txt", "001b4f123456.txt"}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				n := names[(w+i)%len(names)]
				out, err := g.Generate(context.Background(), n, client())
				if err != nil {
					errs <- err
					return
				}
				if len(out.Data) == 0 || syntaxErrors(script.Parse(out.Data)) != nil {
					errs <- fmt.Errorf("%s: bad output", n)
					return
				}
			}
		}(w)
	}
	for i := 0; i < 20; i++ {
		put(t, files, fmt.Sprintf("FW_S_J139_R4_1_%d_0_1.bin", i), "fw")
		time.Sleep(time.Millisecond)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	waitRescan(t, g, "J100Supgrade.txt", "FW_S_J139_R4_1_19_0_1.bin")
}

func TestRender(t *testing.T) {
	files := t.TempDir()
	put(t, files, "96X1SUPGRADE.TXT", "SET OPERATOR 1\n")
	g := newGen(t, DefaultConfig(), files)
	r, err := g.Render(context.Background(), "/96x1Supgrade.txt", client(), "")
	if err != nil {
		t.Fatal(err)
	}
	if r.Source != fileserve.SourceOperator || string(r.Data) != "SET OPERATOR 1\n" || r.Name != "96X1SUPGRADE.TXT" {
		t.Errorf("render of an operator file: %+v", r)
	}
	r, err = g.Render(context.Background(), "J100Supgrade.txt", client(), "")
	if err != nil || r.Source != fileserve.SourceGenerated || !strings.HasPrefix(string(r.Data), "## J100Supgrade.txt") {
		t.Errorf("render of a generated file: %+v %v", r, err)
	}
	if _, err := g.Render(context.Background(), "../etc/passwd", client(), ""); err == nil {
		t.Error("render escaped the tree")
	}
	if _, err := g.Render(context.Background(), "nothing.bin", client(), ""); !errors.Is(err, fileserve.ErrNotFound) {
		t.Errorf("err = %v", err)
	}
}

func TestNamesLeaveOutPlacedFiles(t *testing.T) {
	files := t.TempDir()
	put(t, files, "J100Supgrade.txt", "SET OPERATOR 1\n")
	g := newGen(t, DefaultConfig(), files)
	names, err := g.Names(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(names, " ")
	if strings.Contains(got, "J100Supgrade.txt") || !strings.Contains(got, "46xxsettings.txt") || !strings.Contains(got, "K1xxSupgrade.txt") {
		t.Errorf("Names = %v", names)
	}
}

func TestCheckLintsOperatorScripts(t *testing.T) {
	files := t.TempDir()
	put(t, files, "96x1Supgrade.txt", "IF $MODEL4 SEQ 9608 GOTO X\nSET APPNAME missing.tar\nGET 46xxsettings.txt\n")
	put(t, files, "46xxspecials.txt", "SET TRUSTCERTS phoneprov-ca.pem\n")
	cfg := DefaultConfig()
	cfg.Firmware = []FirmwareConfig{{File: "gone.bin", Series: "16xx"}}
	g := newGen(t, cfg, files)
	findings, err := g.Check(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, f := range findings {
		b.WriteString(f.String() + "\n")
	}
	text := b.String()
	for _, w := range []string{
		`96x1Supgrade.txt:1: error: IF to missing label "X"`,
		"96x1Supgrade.txt:2: error: APPNAME names missing.tar",
		"[provisioning]: warning: [[provisioning.firmware]] describes gone.bin",
	} {
		if !strings.Contains(text, w) {
			t.Errorf("findings lack %q:\n%s", w, text)
		}
	}
	// GET 46xxsettings.txt (generated) and TRUSTCERTS phoneprov-ca.pem
	// (built in) are present from a phone's point of view.
	if strings.Contains(text, "46xxsettings.txt, which") || strings.Contains(text, "GET 46xxsettings.txt:") || strings.Contains(text, "phoneprov-ca.pem, which") {
		t.Errorf("generated or built-in names reported missing:\n%s", text)
	}
}

func TestMissingTree(t *testing.T) {
	g := newGen(t, DefaultConfig(), filepath.Join(t.TempDir(), "gone"))
	if _, err := g.Generate(context.Background(), "46xxsettings.txt", client()); err == nil || errors.Is(err, fileserve.ErrNotFound) {
		t.Fatalf("err = %v, want a real error", err)
	}
	if _, err := New(DefaultConfig(), Options{}); err == nil {
		t.Fatal("New without a tree")
	}
}

// The generated scripts and the firmware package agree on what a series is.
func TestEverySeriesHasAScript(t *testing.T) {
	g := newGen(t, DefaultConfig(), t.TempDir())
	for _, info := range firmware.AllSeries() {
		for _, n := range append([]string{info.Script}, info.Aliases...) {
			if s := gen(t, g, n); !strings.HasSuffix(s, "GET 46xxsettings.txt\n") {
				t.Errorf("%s does not end with the settings GET:\n%s", n, s)
			}
		}
	}
}

// BenchmarkGenerateStorm measures cached answers under parallel load, the
// boot-storm case: a lock-free map lookup per request.
func BenchmarkGenerateStorm(b *testing.B) {
	files := b.TempDir()
	for i := 0; i < 50; i++ {
		os.WriteFile(filepath.Join(files, fmt.Sprintf("FW_S_J179_R4_1_%d_0_1.bin", i)), []byte("fw"), 0o644)
	}
	old := time.Now().Add(-time.Minute)
	os.Chtimes(files, old, old)
	g, err := New(DefaultConfig(), Options{FilesDir: files})
	if err != nil {
		b.Fatal(err)
	}
	names := []string{"J100Supgrade.txt", "46xxsettings.txt"}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := g.Generate(context.Background(), names[i%2], client()); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

// The J189 has two images, chosen by $HWVERS (Avaya's J100Supgrade.txt in
// wazo-provd-plugins, plugins/wazo_avaya/v4_1_3/var/tftpboot): hardware 1–3
// takes FW_S_J189_…, later hardware FW_S_J189A_…, and neither is ever sent
// the other's image.
func TestUpgradeBranchesOnJ189Hardware(t *testing.T) {
	run := func(g *Generator, vars map[string]string) map[string]string {
		t.Helper()
		res, err := script.Run(script.Parse([]byte(gen(t, g, "J100Supgrade.txt"))), script.RunOptions{Vars: vars})
		if err != nil {
			t.Fatal(err)
		}
		return res.Settings()
	}
	both := t.TempDir()
	for _, n := range []string{"FW_S_J189_R4_1_3_0_6.bin", "FW_S_J189A_R4_1_3_0_6.bin", "FW_JEM24_R1_0_1_0_26.bin"} {
		put(t, both, n, "fw")
	}
	g := newGen(t, DefaultConfig(), both)
	for _, tt := range []struct {
		hw, want string
	}{
		{"1", "FW_S_J189_R4_1_3_0_6.bin"}, {"2", "FW_S_J189_R4_1_3_0_6.bin"}, {"3", "FW_S_J189_R4_1_3_0_6.bin"},
		{"4", "FW_S_J189A_R4_1_3_0_6.bin"}, {"", "FW_S_J189A_R4_1_3_0_6.bin"},
	} {
		vars := map[string]string{"MODEL4": "J189"}
		if tt.hw != "" {
			vars["HWVERS"] = tt.hw
		}
		got := run(g, vars)
		if got["APPNAME"] != tt.want || got["JEM24_APPNAME"] != "FW_JEM24_R1_0_1_0_26.bin" {
			t.Errorf("HWVERS %q: %v, want APPNAME %s and the module firmware", tt.hw, got, tt.want)
		}
	}
	// Only the early image present: later hardware must not get it.
	early := t.TempDir()
	put(t, early, "FW_S_J189_R4_1_3_0_6.bin", "fw")
	g = newGen(t, DefaultConfig(), early)
	if got := run(g, map[string]string{"MODEL4": "J189", "HWVERS": "5"}); got["APPNAME"] != "" {
		t.Errorf("later hardware sent the early image: %v", got)
	}
	if got := run(g, map[string]string{"MODEL4": "J189", "HWVERS": "2"}); got["APPNAME"] != "FW_S_J189_R4_1_3_0_6.bin" {
		t.Errorf("early hardware: %v", got)
	}
	// Only the later image present: early hardware must not get it.
	late := t.TempDir()
	put(t, late, "FW_S_J189A_R4_1_3_0_6.bin", "fw")
	g = newGen(t, DefaultConfig(), late)
	if got := run(g, map[string]string{"MODEL4": "J189", "HWVERS": "1"}); got["APPNAME"] != "" {
		t.Errorf("early hardware sent the later image: %v", got)
	}
	if got := run(g, map[string]string{"MODEL4": "J189", "HWVERS": "4"}); got["APPNAME"] != "FW_S_J189A_R4_1_3_0_6.bin" {
		t.Errorf("later hardware: %v", got)
	}
}

// A per-phone file is fetched only because a script names it (wazo and
// fusionpbx J100Supgrade.txt: an explicit GET of $MACADDR); the settings
// file does so when phones are configured, and the phone's file carries on
// to 46xxspecials.txt.
func TestSettingsGetThePhoneFile(t *testing.T) {
	files := t.TempDir()
	put(t, files, "46xxspecials.txt", "SET SPECIAL 1\n")
	cfg := DefaultConfig()
	cfg.Settings = Settings{"SCREENSAVERON": "240"}
	cfg.Phones = []PhoneConfig{{MAC: "c8:1f:ea:83:e8:5a", Settings: Settings{"SCREENSAVERON": "30"}}}
	g := newGen(t, cfg, files)
	fetch := func(name string) (*script.Script, bool) {
		out, err := g.Render(context.Background(), name, client(), "")
		if err != nil {
			return nil, false
		}
		return script.Parse(out.Data), true
	}
	s := script.Parse([]byte(gen(t, g, "46xxsettings.txt")))
	for _, tt := range []struct {
		mac, screensaver string
		gets             []string
	}{
		{"c81fea83e85a", "30", []string{"$MACADDR.txt", "46xxspecials.txt"}},
		{"c81fea000001", "240", []string{"$MACADDR.txt", "46xxspecials.txt"}},
	} {
		res, err := script.Run(s, script.RunOptions{File: "46xxsettings.txt", Vars: map[string]string{"MACADDR": tt.mac}, Fetch: fetch})
		if err != nil {
			t.Fatal(err)
		}
		got := res.Settings()
		if got["SCREENSAVERON"] != tt.screensaver || got["SPECIAL"] != "1" {
			t.Errorf("%s: %v", tt.mac, got)
		}
		var fetched []bool
		for _, op := range res.Ops {
			if op.Kind == script.Get {
				fetched = append(fetched, op.Fetched)
			}
		}
		if len(fetched) != 2 || fetched[0] != (tt.mac == "c81fea83e85a") || !fetched[1] {
			t.Errorf("%s: GETs %v fetched %v", tt.mac, gets(res), fetched)
		}
	}
	if body := gen(t, g, "46xxsettings.txt"); !strings.Contains(body, "## unconfirmed: ") {
		t.Errorf("the GET of $MACADDR rests on an unconfirmed fact and must say so:\n%s", body)
	}
	// Without per-phone files, no such GET.
	g = newGen(t, DefaultConfig(), files)
	if body := gen(t, g, "46xxsettings.txt"); strings.Contains(body, "MACADDR") {
		t.Errorf("GET of a phone file without any configured:\n%s", body)
	}
}

func TestUnconfirmedFactsComeFromTheRules(t *testing.T) {
	facts := UnconfirmedFacts()
	ids := map[string]bool{}
	for _, f := range facts {
		if f.Confirmed || f.Statement == "" || f.ID == "" {
			t.Errorf("bad fact %+v", f)
		}
		ids[f.ID] = true
	}
	for _, r := range firmware.Rules() {
		if ids["firmware-name/"+r.ID] == r.Confirmed {
			t.Errorf("rule %s (confirmed %v) listed %v", r.ID, r.Confirmed, ids["firmware-name/"+r.ID])
		}
		if r.Confirmed && r.Source == "" {
			t.Errorf("rule %s is confirmed without a source", r.ID)
		}
	}
	if !ids[string(factMACADDRInGet)] {
		t.Error("the $MACADDR fact is missing")
	}
	// Every unconfirmed rule a generated script relies on is said in it.
	files := t.TempDir()
	put(t, files, "S96x1_SALBR7_1_15_0_4_r.tar", "fw")
	g := newGen(t, DefaultConfig(), files)
	f, _ := ruleFactByID("96x1-sip")
	if body := gen(t, g, "96x1Supgrade.txt"); !strings.Contains(body, "## unconfirmed: "+f.Statement+"\n") {
		t.Errorf("96x1Supgrade.txt does not say what it assumes:\n%s", body)
	}
}

// A cached generated file is served as it was made, with the ETag it got
// then: the request looks at neither the tree nor the bytes. The tree is
// looked at again once firmware.TreeRecheck has passed.
func TestCachedFilesAreServedWithoutTouchingTheTree(t *testing.T) {
	base := t.TempDir()
	files := filepath.Join(base, "files")
	if err := os.Mkdir(files, 0o755); err != nil {
		t.Fatal(err)
	}
	put(t, files, "FW_S_J179_R4_1_4_0_5.bin", "fw")
	var mu sync.Mutex
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	g, err := New(DefaultConfig(), Options{FilesDir: files, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	first, err := g.Generate(context.Background(), "J100Supgrade.txt", client())
	if err != nil {
		t.Fatal(err)
	}
	if first.ETag() == "" {
		t.Fatal("generated file without an ETag")
	}
	// The tree goes away; within firmware.TreeRecheck nobody looks.
	if err := os.Rename(files, files+".moved"); err != nil {
		t.Fatal(err)
	}
	again, err := g.Generate(context.Background(), "J100Supgrade.txt", client())
	if err != nil {
		t.Fatalf("a cached file looked at the tree: %v", err)
	}
	if again != first || again.ETag() != first.ETag() {
		t.Error("a cached file was made again")
	}
	mu.Lock()
	now = now.Add(firmware.TreeRecheck)
	mu.Unlock()
	if _, err := g.Generate(context.Background(), "J100Supgrade.txt", client()); err == nil {
		t.Error("the tree was not looked at again after firmware.TreeRecheck")
	}
}
