package dhcpopts

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

func TestParseAvayaReadsListsLikeThePhones(t *testing.T) {
	s := "MCIPADD=198.18.0.1,198.18.0.2,MCPORT=1719,HTTPSRVR=198.18.0.1,TLSSRVR=pp.example,L2Q=0,VLANTEST=0"
	p, err := ParseAvaya(s)
	if err != nil {
		t.Fatal(err)
	}
	want := AvayaParams{
		{"MCIPADD", "198.18.0.1,198.18.0.2"}, {"MCPORT", "1719"}, {"HTTPSRVR", "198.18.0.1"},
		{"TLSSRVR", "pp.example"}, {"L2Q", "0"}, {"VLANTEST", "0"},
	}
	if !slices.Equal(p, want) {
		t.Fatalf("ParseAvaya = %+v", p)
	}
	if p.String() != s {
		t.Errorf("String() = %q, want the input back", p.String())
	}
	if err := p.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	// A list item that contains '=' but is no NAME (a SIP controller with
	// ";transport=tls") continues the list.
	p, err = ParseAvaya("SIP_CONTROLLER_LIST=198.18.0.1:5061;transport=tls,198.18.0.2:5061;transport=tls,SIG=2")
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := p.Get("sip_controller_list"); v != "198.18.0.1:5061;transport=tls,198.18.0.2:5061;transport=tls" || len(p) != 2 {
		t.Errorf("SIP_CONTROLLER_LIST = %q (%d params)", v, len(p))
	}
}

func TestAvayaValidate(t *testing.T) {
	cases := map[string]string{
		"HTTPDIR=a,b":                         "contains a comma",
		"MCIPADD=198.18.0.1,,198.18.0.2":      "item 2 is empty",
		"MCPORT=1719,mcport=1720":             "MCPORT is given twice",
		"TFTPSRVR=198.18.0.1,TFTPDIR=/phones": "TFTPDIR must come before TFTPSRVR",
		"L2Q=3":                               "L2Q=\"3\": want an integer 0..2",
		"HTTPPORT=http":                       "want an integer 1..65535",
		"HTTPDIR= x":                          "spaces at its ends",
		"HTTPDIR=caf\xc3\xa9":                 "not printable ASCII",
		"MCIPADD=198.18.0.1,HTTPSRVR=a,,b":    "item 3 is empty",
		",MCIPADD=198.18.0.1":                 "item 1 is empty",
		"":                                    "empty",
	}
	for s, want := range cases {
		p, err := ParseAvaya(s)
		if err == nil {
			err = p.Validate()
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", s, err, want)
		}
	}
	ok := "TFTPDIR=/phones,TFTPSRVR=198.18.0.1,MCIPADD=198.18.0.1,198.18.0.2,HTTPSRVR=198.18.0.1,198.18.0.2,L2Q=1,L2QVLAN=100,SIG=2"
	p, err := ParseAvaya(ok)
	if err != nil || p.Validate() != nil {
		t.Errorf("%q refused: %v, %v", ok, err, p.Validate())
	}
}

func TestAvayaOption43(t *testing.T) {
	p, _ := ParseAvaya("HTTPSRVR=198.18.0.1,HTTPDIR=phones,TLSPORT=411,L2Q=1,L2QVLAN=100,SIG=2")
	got, err := AvayaOption43(p)
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{1, 4, '6', '8', '8', '9', 2, 10}
	want = append(want, "198.18.0.1"...)
	want = append(want, 3, 6)
	want = append(want, "phones"...)
	want = append(want, 7, 3, '4', '1', '1', 9, 1, '1', 10, 3, '1', '0', '0', 14, 1, '2')
	if !bytes.Equal(got, want) {
		t.Fatalf("AvayaOption43:\n got % x\nwant % x", got, want)
	}
	back, err := ParseAvayaOption43(got)
	if err != nil {
		t.Fatal(err)
	}
	if back.String() != p.String() {
		t.Errorf("round trip: %q", back.String())
	}
	// The phones accept values with a trailing NUL; so does the parser.
	nul := []byte{1, 5, '6', '8', '8', '9', 0, 14, 2, '2', 0}
	if back, err := ParseAvayaOption43(nul); err != nil || back.String() != "SIG=2" {
		t.Errorf("NUL-terminated values: %v, %v", back, err)
	}
	if _, err := ParseAvayaOption43([]byte{2, 1, 'x'}); err == nil {
		t.Error("option 43 without 6889 accepted")
	}
	if _, err := AvayaOption43(AvayaParams{{"MCPORT", "1719"}}); err == nil {
		t.Error("MCPORT has no option 43 code but was encoded")
	}
}

func TestSubOptions(t *testing.T) {
	b, err := AppendSubOptions(nil, SubOption{1, []byte("6889")}, SubOption{2, nil})
	if err != nil || !bytes.Equal(b, []byte{1, 4, '6', '8', '8', '9', 2, 0}) {
		t.Fatalf("AppendSubOptions = % x, %v", b, err)
	}
	subs, err := ParseSubOptions(append([]byte{0, 0}, append(b, 255, 9, 9)...))
	if err != nil || len(subs) != 2 || string(subs[0].Data) != "6889" || len(subs[1].Data) != 0 {
		t.Fatalf("ParseSubOptions = %+v, %v", subs, err)
	}
	for _, bad := range [][]byte{{1}, {1, 5, 'a'}} {
		if _, err := ParseSubOptions(bad); err == nil {
			t.Errorf("ParseSubOptions(% x) accepted", bad)
		}
	}
	if _, err := AppendSubOptions(nil, SubOption{0, []byte{1}}); err == nil {
		t.Error("sub-option code 0 accepted")
	}
}

func FuzzParseAvaya(f *testing.F) {
	f.Add("MCIPADD=198.18.0.1,198.18.0.2,MCPORT=1719,HTTPSRVR=198.18.0.1")
	f.Add("SIP_CONTROLLER_LIST=198.18.0.1:5061;transport=tls,SIG=2")
	f.Add("L2Q=1,L2QVLAN=100,VLANTEST=60")
	f.Add("=,=")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseAvaya(s)
		if err != nil {
			return
		}
		// The parse loses nothing: it writes back to the same string.
		if p.String() != s {
			t.Fatalf("ParseAvaya(%q).String() = %q", s, p.String())
		}
		if p.Validate() == nil {
			// Valid parameters survive option 43 and back, when they have codes.
			if b, err := AvayaOption43(p); err == nil {
				back, err := ParseAvayaOption43(b)
				if err != nil || len(back) != len(p) {
					t.Fatalf("option 43 round trip of %q: %v, %v", s, back, err)
				}
			}
		}
	})
}
