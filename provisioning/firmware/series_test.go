package firmware

import "testing"

// The class the inventory records for a phone known by its series reads
// back as that series.
func TestSeriesModelClassRoundTrip(t *testing.T) {
	for _, info := range AllSeries() {
		class, ok := ParseModelClass(info.ModelClass())
		if !ok || class.Series != info.Series {
			t.Errorf("%s: class %q reads back as %+v (%v)", info.Series, info.ModelClass(), class, ok)
		}
	}
	for name, want := range map[string]string{"a46xxua2_8_3.bin": "46xx", "S96x1_SALBR7_1_15_0_4_r.tar": "96x1 SIP",
		"S96x1_HALBR6_8_5_04.tar": "96x1 H.323", "FW_S_J179_R4_1_3_0_6.bin": "J179", "ha1600ua1_3_2.bin": "16xx"} {
		im, ok := Recognise(name)
		if !ok || im.ModelClass() != want {
			t.Errorf("%s: class %q, want %q", name, im.ModelClass(), want)
		}
	}
}
