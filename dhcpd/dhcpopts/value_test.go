package dhcpopts

import (
	"bytes"
	"encoding/hex"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

// vars are the values tests fill templates with.
var testVars = Vars{
	ServerIP:   netip.MustParseAddr("198.18.0.1"),
	ServerName: "pp.example",
	HTTPPort:   8080, HTTPSPort: 8443, TLSPort: 411, TFTPPort: 69,
}

func spec(t Type) Spec { return Spec{Code: 224, Name: "option-224", Type: t} }

func hexb(t *testing.T, s string) []byte {
	t.Helper()
	b, err := ParseHex(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEncodeEveryType(t *testing.T) {
	cases := []struct {
		typ  Type
		raw  any
		want string // hex
	}{
		{TypeIP, "198.18.0.1", "c6 12 00 01"},
		{TypeIP, "${server}", "c6 12 00 01"},
		{TypeIPs, []any{"198.18.0.1", "198.19.255.254"}, "c6 12 00 01 c6 13 ff fe"},
		{TypeIPs, "198.18.0.1, 198.18.0.2 198.18.0.3", "c6120001 c6120002 c6120003"},
		{TypeIPs, []any{"${server}", "198.18.0.9"}, "c6120001 c6120009"},
		{TypeString, "ccp.avaya.com", "63 63 70 2e 61 76 61 79 61 2e 63 6f 6d"},
		{TypeString, "https://${server}:${https_port}/", hexOf("https://198.18.0.1:8443/")},
		{TypeString, "cost $$5 or $5", hexOf("cost $5 or $5")},
		{TypeString, "${server_name}", hexOf("pp.example")},
		{TypeU8, int64(64), "40"},
		{TypeU8, int64(255), "ff"},
		{TypeU8, "0x10", "10"},
		{TypeU16, int64(1500), "05 dc"},
		{TypeU16, "${tftp_port}", "00 45"},
		{TypeU16, 576, "02 40"},
		{TypeU32, int64(3628800), "00 37 5f 00"},
		{TypeU32, int64(0xffffffff), "ff ff ff ff"},
		{TypeI32, int64(-3600), "ff ff f1 f0"},
		{TypeI32, int64(3600), "00 00 0e 10"},
		{TypeBool, true, "01"},
		{TypeBool, false, "00"},
		{TypeBool, int64(1), "01"},
		{TypeBool, "off", "00"},
		{TypeHex, "01:02:0a:FF", "01 02 0a ff"},
		{TypeHex, "0x01020aff", "01 02 0a ff"},
		{TypeHex, "1-2-a", "01 02 0a"},
		// RFC 3397 §4's own example, byte for byte.
		{TypeDomains, []any{"eng.apple.com.", "marketing.apple.com."},
			"03 65 6e 67 05 61 70 70 6c 65 03 63 6f 6d 00 09 6d 61 72 6b 65 74 69 6e 67 c0 04"},
		{TypeDomains, "example, example", "07 65 78 61 6d 70 6c 65 00 c0 00"},
		// RFC 3442 §1's encoding examples.
		{TypeRoutes, []any{"0.0.0.0/0 198.18.0.1"}, "00 c6 12 00 01"},
		{TypeRoutes, "10.0.0.0/8 198.18.0.1, 10.17.0.0/16 via 198.18.0.2", "08 0a c6120001 10 0a 11 c6120002"},
		{TypeRoutes, []any{"10.229.0.128/25 ${server}"}, "19 0a e5 00 80 c6120001"},
		{TypeSubOptions, []any{"1=6889", "2=${server}"}, "01 04 36383839 02 0a " + hexOf("198.18.0.1")},
		{TypeSubOptions, []any{map[string]any{"code": int64(4), "type": "u16", "value": "${http_port}"},
			map[string]any{"code": int64(5), "type": "ip", "value": "${server}"}}, "04 02 1f 90 05 04 c6120001"},
		{TypeSubOptions, []any{map[string]any{"code": int64(9), "value": "x"}}, "09 01 78"},
		{TypeAvaya, "MCIPADD=${server},198.18.0.2,MCPORT=1719,HTTPSRVR=${server},HTTPPORT=${http_port}",
			hexOf("MCIPADD=198.18.0.1,198.18.0.2,MCPORT=1719,HTTPSRVR=198.18.0.1,HTTPPORT=8080")},
		{TypeAvaya43, "HTTPSRVR=${server},TLSPORT=${tls_port},SIG=2",
			"01 04 36383839 02 0a " + hexOf("198.18.0.1") + " 07 03 343131 0e 01 32"},
	}
	for _, c := range cases {
		v, err := Parse(spec(c.typ), c.raw)
		if err != nil {
			t.Errorf("Parse(%s, %#v): %v", c.typ, c.raw, err)
			continue
		}
		got, err := v.Encode(testVars)
		if err != nil {
			t.Errorf("Encode(%s, %#v): %v", c.typ, c.raw, err)
			continue
		}
		if want := hexb(t, strings.ReplaceAll(c.want, " ", "")); !bytes.Equal(got, want) {
			t.Errorf("%s %#v:\n got % x\nwant % x", c.typ, c.raw, got, want)
		}
	}
}

func hexOf(s string) string { return hex.EncodeToString([]byte(s)) }

func TestParseRefusesBadValues(t *testing.T) {
	cases := []struct {
		typ  Type
		raw  any
		want string // part of the error, which must name the value
	}{
		{TypeIP, "198.18.0.300", `"198.18.0.300" is not an IPv4 address`},
		{TypeIP, "2001:db8::1", `"2001:db8::1" is not an IPv4 address`},
		{TypeIP, "::ffff:198.18.0.1", "not an IPv4 address"},
		{TypeIP, int64(5), "got the number 5"},
		{TypeIP, []any{"198.18.0.1"}, "a list (this type takes a single value)"},
		{TypeIP, "${sever}", "unknown variable ${sever}"},
		{TypeIP, "${server", `unterminated "${"`},
		{TypeIP, "${server}.5", `"198.18.0.1.5" is not an IPv4 address`},
		{TypeIPs, []any{"198.18.0.1", int64(7)}, "item 2 is int64"},
		{TypeIPs, []any{}, "empty list"},
		{TypeIPs, "198.18.0.1,,", `"198.18.0.1,,": item 2 is empty`},
		{TypeIPs, []any{"198.18.0.1", ""}, "item 2 is empty"},
		{TypeString, "a\x00b", "contains a NUL byte at offset 1"},
		{TypeString, "", "empty string"},
		{TypeString, 3.5, "the number 3.5 (not an integer)"},
		{TypeString, true, "got the boolean true"},
		{TypeU8, int64(256), "256 is out of range for u8 (0..255)"},
		{TypeU8, int64(-1), "-1 is out of range for u8"},
		{TypeU8, "twelve", `"twelve" is not an integer`},
		{TypeU16, int64(70000), "70000 is out of range for u16"},
		{TypeU32, int64(1 << 32), "4294967296 is out of range for u32"},
		{TypeU32, "0xffffffffffffffffff", "out of range for u32"},
		{TypeI32, int64(1 << 31), "2147483648 is out of range for i32"},
		{TypeBool, int64(2), "got the number 2"},
		{TypeBool, "maybe", `"maybe" is not a boolean`},
		{TypeHex, "0g", `"0g" is not a hex byte`},
		{TypeHex, "abc", "odd number of digits"},
		{TypeHex, "01:123", "longer than one byte"},
		{TypeHex, "", "is empty"},
		{TypeDomains, []any{"bad..name"}, "label of 0 characters"},
		{TypeDomains, []any{"sp ace.example"}, `contains ' '`},
		{TypeDomains, []any{strings.Repeat("a", 64) + ".example"}, "label of 64 characters"},
		{TypeRoutes, []any{"198.18.0.1/15 198.18.0.1"}, "did you mean 198.18.0.0/15"},
		{TypeRoutes, []any{"198.18.0.0/15"}, `want "destination/len router"`},
		{TypeRoutes, []any{"198.18.0.0/15 gw"}, `router "gw" is not an IPv4 address`},
		{TypeSubOptions, "1=6889", "want a list"},
		{TypeSubOptions, []any{"0=x"}, "want 1..254"},
		{TypeSubOptions, []any{"1=a", "1=b"}, "sub-option 1 is given twice"},
		{TypeSubOptions, []any{"nothing"}, `want "code=text"`},
		{TypeSubOptions, []any{"2=" + strings.Repeat("x", 256)}, "sub-option 2 is 256 bytes long"},
		{TypeSubOptions, []any{map[string]any{"code": int64(3), "type": "u8", "value": int64(300)}}, "sub-option 3: 300 is out of range for u8"},
		{TypeSubOptions, []any{map[string]any{"code": int64(3), "colour": "red"}}, `unknown key "colour"`},
		{TypeSubOptions, []any{map[string]any{"value": "x"}}, "missing code"},
		{TypeAvaya, "MCPORT=1719,HTTPDIR=a,b", "HTTPDIR=\"a,b\" contains a comma"},
		{TypeAvaya, "L2QVLAN=5000", "want an integer 0..4094"},
		{TypeAvaya, "HTTPPORT=${tftp_port}x", `HTTPPORT="69x"`},
		{TypeAvaya, "198.18.0.1", "does not start with NAME=value"},
		{TypeAvaya43, "MCIPADD=${server}", "MCIPADD has no option 43 sub-option"},
	}
	for _, c := range cases {
		_, err := Parse(spec(c.typ), c.raw)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Parse(%s, %#v) error = %v\nwant it to contain %q", c.typ, c.raw, err, c.want)
		}
	}
	if _, err := Parse(Spec{Code: 5, Name: "x", Type: "float"}, "1"); err == nil {
		t.Error("Parse accepted an unknown type")
	}
	if _, err := Parse(Spec{Code: 255, Name: "end", Type: TypeHex}, "01"); err == nil {
		t.Error("Parse accepted option 255")
	}
}

func TestEncodeNeedsTheVariablesItUses(t *testing.T) {
	v, err := Parse(Spec{Code: 242, Name: "avaya-96xx", Type: TypeAvaya}, "TLSSRVR=${server},TLSPORT=${tls_port}")
	if err != nil {
		t.Fatal(err)
	}
	if !v.UsesVars() {
		t.Error("UsesVars() = false for a template with variables")
	}
	noTLS := testVars
	noTLS.TLSPort = 0
	_, err = v.Encode(noTLS)
	if err == nil || !strings.Contains(err.Error(), "avaya-96xx (242): ${tls_port} is not available") {
		t.Errorf("Encode without a TLS port: %v", err)
	}
	_, err = v.Encode(Vars{TLSPort: 411})
	if err == nil || !strings.Contains(err.Error(), "${server} is not available") {
		t.Errorf("Encode without a server address: %v", err)
	}
	// The same Value encodes per interface.
	other := testVars
	other.ServerIP = netip.MustParseAddr("198.19.0.1")
	a, _ := v.Encode(testVars)
	b, _ := v.Encode(other)
	if string(a) != "TLSSRVR=198.18.0.1,TLSPORT=411" || string(b) != "TLSSRVR=198.19.0.1,TLSPORT=411" {
		t.Errorf("per-interface encodings: %q, %q", a, b)
	}
}

func TestStaticValueEncodesWithoutVarsAndIsNotShared(t *testing.T) {
	v, err := Parse(spec(TypeIPs), []any{"198.18.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	if v.UsesVars() {
		t.Error("UsesVars() = true for a constant")
	}
	a, err := v.Encode(Vars{})
	if err != nil {
		t.Fatal(err)
	}
	a[0] = 0
	b, _ := v.Encode(Vars{})
	if b[0] != 198 {
		t.Error("Encode returns a shared buffer")
	}
	if _, err := (Value{}).Encode(testVars); err == nil {
		t.Error("zero Value encoded")
	}
}

func TestValueStringShowsTheConfiguredValue(t *testing.T) {
	cases := []struct {
		spec Spec
		raw  any
		want string
	}{
		{Spec{242, "avaya-96xx", TypeAvaya}, "MCIPADD=${server}", `avaya-96xx (242, avaya) = "MCIPADD=${server}"`},
		{Spec{6, "dns-servers", TypeIPs}, []any{"198.18.0.1", "${server}"}, `dns-servers (6, ips) = ["198.18.0.1", "${server}"]`},
		{Spec{51, "lease-time", TypeU32}, int64(3628800), `lease-time (51, u32) = 3628800`},
		{Spec{43, "vendor-specific", TypeSubOptions}, []any{"1=6889", map[string]any{"value": int64(80), "code": int64(4), "type": "u16"}},
			`vendor-specific (43, suboptions) = ["1=6889", {code = 4, type = "u16", value = 80}]`},
	}
	for _, c := range cases {
		v, err := Parse(c.spec, c.raw)
		if err != nil {
			t.Fatal(err)
		}
		if got := v.String(); got != c.want {
			t.Errorf("String() = %s\nwant       %s", got, c.want)
		}
	}
}

func TestVariableNamesAreDocumented(t *testing.T) {
	// Every variable must appear in the Vars doc comment's list: the doc is
	// the operator's reference.
	src, err := os.ReadFile("template.go")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(src[:bytes.Index(src, []byte("type Vars struct"))])
	for _, n := range VariableNames() {
		if !strings.Contains(doc, "//\t${"+n+"}") {
			t.Errorf("${%s} is missing from the Vars documentation", n)
		}
		if _, err := parseTemplate("${" + n + "}"); err != nil {
			t.Errorf("variable %s does not parse: %v", n, err)
		}
		got, err := Parse(spec(TypeString), "${"+n+"}")
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		if _, err := got.Encode(Vars{}); err == nil {
			t.Errorf("${%s} encoded with no Vars set", n)
		}
	}
}

func FuzzParseEncode(f *testing.F) {
	f.Add("ip", "198.18.0.1")
	f.Add("string", "https://${server}:${https_port}/")
	f.Add("hex", "01:02:ff")
	f.Add("u16", "${http_port}")
	f.Add("avaya", "MCIPADD=${server},198.18.0.2,HTTPPORT=80")
	f.Add("avaya43", "HTTPSRVR=${server},SIG=2")
	f.Add("domains", "a.example, b.example")
	f.Add("routes", "10.0.0.0/8 198.18.0.1")
	f.Add("ips", "198.18.0.1 198.18.0.2")
	f.Fuzz(func(t *testing.T, typ, raw string) {
		ty, err := ParseType(typ)
		if err != nil || ty == TypeSubOptions {
			return
		}
		v, err := Parse(spec(ty), raw)
		if err != nil {
			return
		}
		// What Parse accepted must encode with the variables it was checked
		// with; other variables may make it fail (a port too big for u8), but
		// never crash.
		if _, err := v.Encode(probeVars); err != nil {
			t.Fatalf("Parse(%s, %q) accepted a value that does not encode: %v", ty, raw, err)
		}
		_, _ = v.Encode(testVars)
		_, _ = v.Encode(Vars{})
		_ = v.String()
	})
}

// Sub-options written as an array of tables ([[...value]], the form the
// TOML encoder writes) decode as []map[string]any and must parse too.
func TestSubOptionsFromArrayOfTables(t *testing.T) {
	var doc struct{ Value any }
	const text = "[[value]]\ncode = 2\nvalue = \"http://x\"\n[[value]]\ncode = 3\ntype = \"bool\"\nvalue = false\n"
	if _, err := toml.Decode(text, &doc); err != nil {
		t.Fatal(err)
	}
	spec, err := Lookup("43")
	if err != nil {
		t.Fatal(err)
	}
	v, err := Parse(spec, doc.Value)
	if err != nil {
		t.Fatalf("Parse(%T): %v", doc.Value, err)
	}
	got, err := v.Encode(Vars{})
	if err != nil || string(got) != "\x02\x08http://x\x03\x01\x00" {
		t.Errorf("encoded %q, %v", got, err)
	}
}
