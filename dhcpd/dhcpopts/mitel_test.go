package dhcpopts

import (
	"slices"
	"strings"
	"testing"
)

func TestMitelString(t *testing.T) {
	params := []MitelParam{{"sw_tftp", "198.18.0.1"}, {"call_srv", "198.18.0.2,198.18.0.3"}, {"vlan", "2"}, {"l2p", "6"}, {"dscp", "46"}}
	s, err := BuildMitel(params...)
	if err != nil {
		t.Fatal(err)
	}
	const want = "id:ipphone.mitel.com;sw_tftp=198.18.0.1;call_srv=198.18.0.2,198.18.0.3;vlan=2;l2p=6;dscp=46"
	if s != want {
		t.Fatalf("BuildMitel = %q", s)
	}
	back, err := ParseMitel(s + ";")
	if err != nil || !slices.Equal(back, params) {
		t.Fatalf("ParseMitel = %+v, %v", back, err)
	}
	if back, err := ParseMitel("ID:IPPHONE.MITEL.COM;VLAN=5"); err != nil || back[0] != (MitelParam{"vlan", "5"}) {
		t.Errorf("upper-case string: %+v, %v", back, err)
	}
	bad := map[string][]MitelParam{
		"not an IPv4":             {{"sw_tftp", "pbx.example"}},
		"want an integer 0..4095": {{"vlan", "4096"}},
		"call_srv":                {{"call_srv", "198.18.0.2,pbx.example"}},
		"want an integer 0..63":   {{"dscp", "64"}},
		"not allowed in a value":  {{"x", "a;b"}},
		"empty value":             {{"x", ""}},
		"lower-case letters":      {{"Vlan", "2"}},
	}
	for want, ps := range bad {
		if _, err := BuildMitel(ps...); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("BuildMitel(%+v) = %v, want %q", ps, err, want)
		}
	}
	if _, err := ParseMitel("sw_tftp=198.18.0.1"); err == nil {
		t.Error("string without id: accepted")
	}
	if _, err := ParseMitel(MitelID + ";vlan"); err == nil {
		t.Error("item without = accepted")
	}
}

// Mitel 3300 ICP Engineering Guidelines p.244 Table 74: sw_tftp is an
// "IP Address list" and vlan is 0 - 4095.
func TestMitelListAndVLANRange(t *testing.T) {
	for _, p := range []MitelParam{{"sw_tftp", "198.18.0.1,198.18.0.9"}, {"vlan", "0"}, {"vlan", "4095"}} {
		if _, err := BuildMitel(p); err != nil {
			t.Errorf("BuildMitel(%+v): %v", p, err)
		}
	}
	if _, err := ParseMitel(MitelID + ";sw_tftp=198.18.0.1,198.18.0.9;vlan=4095"); err != nil {
		t.Errorf("ParseMitel: %v", err)
	}
}
