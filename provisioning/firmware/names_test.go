package firmware

import (
	"reflect"
	"testing"
)

func TestParseVersionAndCompare(t *testing.T) {
	tests := []struct {
		in    string
		parts []int
		tag   string
		str   string
	}{
		{"4_1_4_0_5", []int{4, 1, 4, 0, 5}, "", "4.1.4.0.5"},
		{"4_0_4_0_3b4033", []int{4, 0, 4, 0, 3}, "b4033", "4.0.4.0.3-b4033"},
		{"7_1_15_0_4_r", []int{7, 1, 15, 0, 4}, "r", "7.1.15.0.4-r"},
		{"6_8_5_04_V474", []int{6, 8, 5, 4}, "V474", "6.8.5.4-V474"},
		{"2.9.1", []int{2, 9, 1}, "", "2.9.1"},
		{"3", []int{3}, "", "3"},
	}
	for _, tt := range tests {
		v, ok := ParseVersion(tt.in)
		if !ok || !reflect.DeepEqual(v.Parts, tt.parts) || v.Tag != tt.tag || v.String() != tt.str {
			t.Errorf("ParseVersion(%q) = %+v %v (%s)", tt.in, v, ok, v.String())
		}
	}
	if _, ok := ParseVersion("r4"); ok {
		t.Error("ParseVersion accepted a version without a leading number")
	}
	order := []string{"2_9", "2_9_1", "4_0_4_0_3", "4_0_4_0_3b4033", "4_1_2_0_9", "4_1_4_0_5", "4_1_11_0_10", "7_1_2_0_14", "7_1_15_0_4"}
	for i := 1; i < len(order); i++ {
		a, _ := ParseVersion(order[i-1])
		b, _ := ParseVersion(order[i])
		if Compare(a, b) >= 0 || Compare(b, a) <= 0 {
			t.Errorf("want %s < %s", order[i-1], order[i])
		}
	}
	a, _ := ParseVersion("4_1_4_0_5")
	b, _ := ParseVersion("4.1.04.0.5")
	if Compare(a, b) != 0 {
		t.Error("leading zeros changed the order")
	}
}

func TestRecognise(t *testing.T) {
	tests := []struct {
		name      string
		series    Series
		sig       Signalling
		setting   string
		models    []string
		version   string
		confirmed bool
	}{
		{"FW_S_J179_R4_1_4_0_5.bin", SeriesJ100, SIP, "APPNAME", []string{"J179"}, "4.1.4.0.5", true},
		{"FW_S_J129_R4_1_11_0_10.bin", SeriesJ100, SIP, "APPNAME", []string{"J129"}, "4.1.11.0.10", true},
		{"FW_S_J179_R4_0_4_0_3b4033.bin", SeriesJ100, SIP, "APPNAME", []string{"J179"}, "4.0.4.0.3-b4033", true},
		{"fw_s_j169_j179_r4_0_10_0_7.bin", SeriesJ100, SIP, "APPNAME", []string{"J169", "J179"}, "4.0.10.0.7", true},
		{"FW_JEM24_R1_0_1_0_26.bin", SeriesJ100, SIP, "JEM24_APPNAME", []string{"J169", "J179", "J189"}, "1.0.1.0.26", true},
		// wazo-provd-plugins plugins/wazo_avaya/v4_1_3/var/tftpboot/J100Supgrade.txt
		{"FW_S_J189A_R4_1_3_0_6.bin", SeriesJ100, SIP, "APPNAME", []string{"J189"}, "4.1.3.0.6", true},
		{"FW_S_J189_R4_1_3_0_6.bin", SeriesJ100, SIP, "APPNAME", []string{"J189"}, "4.1.3.0.6", true},
		{"FW_S_K175_R2_0_0_0_1.bin", SeriesK100, SIP, "APPNAME", []string{"K175"}, "2.0.0.0.1", false},
		{"S96x1_SALBR7_1_15_0_4_r.tar", Series96x1S, SIP, "APPNAME", []string{"9601", "9608", "9611", "9621", "9641"}, "7.1.15.0.4-r", false},
		{"S96x1_HALBR6_8_5_04_V474.tar", Series96x1H, H323, "APPNAME", []string{"9608", "9611", "9621", "9641"}, "6.8.5.4-V474", false},
		{"S96x1_UKR_V26r54_V26r54.tar", Series96x1S, SIP, "", []string{"9601", "9608", "9611", "9621", "9641"}, "26.54", false},
		{"hb96xxua3_2_8.bin", Series96xx, H323, "APPNAME", []string{"9610", "9620", "9630", "9640", "9650"}, "3.2.8", false},
		{"ha1600ua1_3_12.bin", Series16xx, H323, "APPNAME", []string{"1603", "1608", "1616"}, "1.3.12", false},
		{"hb1603ua1_3_12.bin", Series16xx, H323, "APPNAME", []string{"1603"}, "1.3.12", false},
		{"a46xxua2_8_3.bin", Series46xx, H323, "APPNAME", nil, "2.8.3", false},
		{"a20d01b2_9_1.bin", Series46xx, H323, "APPNAME", []string{"4620", "4621"}, "2.9.1", false},
	}
	for _, tt := range tests {
		im, ok := Recognise(tt.name)
		if !ok {
			t.Errorf("%s not recognised", tt.name)
			continue
		}
		if im.Series != tt.series || im.Signalling != tt.sig || im.Setting != tt.setting || im.Version.String() != tt.version || im.Confirmed != tt.confirmed || im.File != tt.name {
			t.Errorf("%s: got %+v (version %s)", tt.name, im, im.Version)
		}
		if tt.models != nil && !reflect.DeepEqual(im.Models, tt.models) {
			t.Errorf("%s: models %v, want %v", tt.name, im.Models, tt.models)
		}
	}
	// The J189 images tell hardware apart: FW_S_J189A_… is for hardware after
	// version 3, FW_S_J189_… for hardware 1–3.
	late, _ := Recognise("FW_S_J189A_R4_1_3_0_6.bin")
	early, _ := Recognise("FW_S_J189_R4_1_3_0_6.bin")
	j179, _ := Recognise("FW_S_J179_R4_1_3_0_6.bin")
	if !late.FitsHardware("J189", "A") || late.FitsHardware("J189", "") {
		t.Errorf("FW_S_J189A_… fits %v", late.Variants)
	}
	if early.FitsHardware("J189", "A") || !early.FitsHardware("J189", "") {
		t.Errorf("FW_S_J189_… fits %v", early.Variants)
	}
	if !j179.FitsHardware("J179", "") {
		t.Error("a model without a hardware split takes its image on any hardware")
	}
	for _, no := range []string{"FW_S_J179A_R4_1_3_0_6.bin", "46xxsettings.txt", "FW_S_J179.bin", "FW_S_J179_R4_1.tar", "S96x1_SALBR7_1.bin", "readme.pdf", "FW_S_X179_R4_1_4.bin"} {
		if im, ok := Recognise(no); ok {
			t.Errorf("%s recognised as %+v", no, im)
		}
	}
}

func TestSeriesTable(t *testing.T) {
	for _, name := range []string{"46xxupgrade.scr", "46XXUPGRADE.TXT", "16xxupgrade.txt", "96xxupgrade.txt", "96x1Hupgrade.txt", "96x1Supgrade.txt", "J100Supgrade.txt", "K1xxSupgrade.txt"} {
		if _, ok := ByScript(name); !ok {
			t.Errorf("ByScript(%q) found nothing", name)
		}
	}
	if _, ok := ByScript("46xxsettings.txt"); ok {
		t.Error("a settings file is no upgrade script")
	}
	if s, ok := ParseSeries("j100"); !ok || s != SeriesJ100 {
		t.Errorf("ParseSeries(j100) = %v %v", s, ok)
	}
	// AllSeries hands out copies: changing one must not change the table.
	all := AllSeries()
	all[0].Models[0] = "XXXX"
	if info, _ := Lookup(all[0].Series); info.Models[0] == "XXXX" {
		t.Error("AllSeries exposed the table")
	}
	// Every rule's models belong to its series.
	for _, r := range rules {
		info, _ := Lookup(r.series)
		for _, m := range r.models([]string{"", "16xx", "20"}) {
			if r.id == "j100" || r.id == "k100" {
				continue
			}
			found := false
			for _, sm := range info.Models {
				found = found || sm == m
			}
			if !found {
				t.Errorf("rule %s names model %s outside series %s", r.id, m, r.series)
			}
		}
	}
}
