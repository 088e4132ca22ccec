package firmware

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/phoneprov/phoneprov/provisioning/script"
)

func touch(t *testing.T, dir string, names ...string) {
	t.Helper()
	for _, n := range names {
		p := filepath.Join(dir, filepath.FromSlash(n))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestScanAndNewest(t *testing.T) {
	dir := t.TempDir()
	touch(t, dir,
		"FW_S_J179_R4_0_4_0_3b4033.bin",
		"FW_S_J179_R4_1_4_0_5.bin",
		"FW_S_J169_J179_R4_1_2_0_9.bin",
		"FW_S_J179_R4_1_11_0_10.bin", // numerically newest: 11 > 4
		"S96x1_SALBR7_1_15_0_4_r.tar",
		"S96x1_SALBR7_1_2_0_14_r.tar",
		"custom-4620.bin",
		"mystery.bin",
		"notes.txt",
		".FW_S_J179_R9_9_9_9_9.bin", // hidden: never served, never offered
		"sub/FW_S_J139_R4_1_4_0_5.bin",
	)
	if err := os.Symlink("FW_S_J179_R4_1_4_0_5.bin", filepath.Join(dir, "FW_S_J189_R4_1_4_0_5.bin")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/hostname", filepath.Join(dir, "FW_S_J159_R4_1_4_0_5.bin")); err != nil {
		t.Fatal(err)
	}
	v, _ := ParseVersion("2.9.1")
	c, err := Scan(context.Background(), dir, []Mapping{{File: "CUSTOM-4620.BIN", Series: Series46xx, Models: []string{"4620"}, Version: v}})
	if err != nil {
		t.Fatal(err)
	}
	if im, ok := c.Newest(SeriesJ100, SIP, "J179", "", "APPNAME"); !ok || im.File != "FW_S_J179_R4_1_11_0_10.bin" {
		t.Errorf("newest J179 = %+v", im)
	}
	if im, ok := c.Newest(SeriesJ100, SIP, "J169", "", "APPNAME"); !ok || im.File != "FW_S_J169_J179_R4_1_2_0_9.bin" {
		t.Errorf("newest J169 = %+v", im)
	}
	if im, ok := c.Newest(SeriesJ100, SIP, "J189", "", "APPNAME"); !ok || im.File != "FW_S_J189_R4_1_4_0_5.bin" {
		t.Errorf("a link inside the tree is served, so it counts: %+v", im)
	}
	for _, model := range []string{"J159", "J139"} {
		if im, ok := c.Newest(SeriesJ100, SIP, model, "", "APPNAME"); ok {
			t.Errorf("%s offered %s (escaping link or subfolder)", model, im.File)
		}
	}
	if im, ok := c.Newest(Series96x1S, SIP, "9608", "", "APPNAME"); !ok || im.File != "S96x1_SALBR7_1_15_0_4_r.tar" {
		t.Errorf("newest 9608 SIP = %+v", im)
	}
	if _, ok := c.Newest(Series96x1H, H323, "9608", "", "APPNAME"); ok {
		t.Error("H.323 firmware offered where only SIP firmware is present")
	}
	if im, ok := c.Newest(Series46xx, H323, "4620", "", "APPNAME"); !ok || im.File != "custom-4620.bin" || im.Rule != "config" {
		t.Errorf("mapped 4620 = %+v", im)
	}
	if !reflect.DeepEqual(c.Unrecognised, []string{"mystery.bin"}) {
		t.Errorf("unrecognised = %v", c.Unrecognised)
	}
	if n, ok := c.Has("notes.TXT"); !ok || n != "notes.txt" {
		t.Errorf("Has(notes.TXT) = %q %v", n, ok)
	}
	if _, ok := c.Has(".FW_S_J179_R9_9_9_9_9.bin"); ok {
		t.Error("hidden file listed")
	}
	if got := c.Settings(SeriesJ100); !reflect.DeepEqual(got, []string{"APPNAME"}) {
		t.Errorf("settings = %v", got)
	}
	cands := c.Candidates(SeriesJ100, SIP, "J179", "", "APPNAME")
	if len(cands) != 4 || cands[3].File != "FW_S_J179_R4_0_4_0_3b4033.bin" {
		t.Errorf("candidates newest first: %v", cands)
	}
}

func TestScanMissingDir(t *testing.T) {
	if _, err := Scan(context.Background(), filepath.Join(t.TempDir(), "nope"), nil); err == nil {
		t.Fatal("no error")
	}
}

func TestScriptCoverage(t *testing.T) {
	s := script.Parse([]byte(`IF $SIG SEQ 2 GOTO SIP
IF $MODEL4 SEQ 9620 GOTO H9620
GOTO END
# H9620
SET APPNAME hb96xxua3_2_8.bin
GOTO END
# SIP
SET APPNAME S96xx_SIP_2_6.bin
# END
GET 46xxsettings.txt
`))
	info, _ := Lookup(Series96xx)
	got := ScriptCoverage("96xxupgrade.txt", s, info)
	var h323, sip int
	for _, c := range got {
		switch {
		case c.Signalling == H323:
			h323++
			if c.Model != "9620" || c.File != "hb96xxua3_2_8.bin" || c.Version.String() != "3.2.8" {
				t.Errorf("H.323 coverage %+v", c)
			}
		case c.Signalling == SIP:
			sip++
			if c.File != "S96xx_SIP_2_6.bin" || !c.Version.IsZero() || c.Source != "script 96xxupgrade.txt" {
				t.Errorf("SIP coverage %+v", c)
			}
		}
	}
	if h323 != 1 || sip != len(info.Models) {
		t.Errorf("got %d H.323 and %d SIP entries: %+v", h323, sip, got)
	}
}

// Avaya's J100Supgrade.txt (wazo-provd-plugins, v4_1_3) gives a J189 one of
// two images by $HWVERS; coverage lists both.
func TestScriptCoverageListsBothJ189Images(t *testing.T) {
	s := script.Parse([]byte(`IF $MODEL4 SEQ J189 GOTO J189_SW
GOTO GETSET
# J189_SW
IF $HWVERS SEQ 1 GOTO J189_SW_OLD
IF $HWVERS SEQ 2 GOTO J189_SW_OLD
IF $HWVERS SEQ 3 GOTO J189_SW_OLD
SET APPNAME FW_S_J189A_R4_1_3_0_6.bin
GOTO GETSET
# J189_SW_OLD
SET APPNAME FW_S_J189_R4_1_3_0_6.bin
# GETSET
`))
	info, _ := Lookup(SeriesJ100)
	var files []string
	for _, c := range ScriptCoverage("J100Supgrade.txt", s, info) {
		files = append(files, c.Model+" "+c.File)
	}
	want := []string{"J189 FW_S_J189A_R4_1_3_0_6.bin", "J189 FW_S_J189_R4_1_3_0_6.bin"}
	if !reflect.DeepEqual(files, want) {
		t.Errorf("coverage %v, want %v", files, want)
	}
}
