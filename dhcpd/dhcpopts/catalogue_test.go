package dhcpopts

import (
	"strings"
	"testing"
)

func TestLookupByNameAliasAndCode(t *testing.T) {
	cases := []struct {
		in   string
		want Spec
	}{
		{"subnet-mask", Spec{1, "subnet-mask", TypeIP}},
		{"routers", Spec{3, "routers", TypeIPs}},
		{"DNS_Servers", Spec{6, "dns-servers", TypeIPs}},
		{"domain-name-servers", Spec{6, "dns-servers", TypeIPs}},
		{" host-name ", Spec{12, "host-name", TypeString}},
		{"broadcast", Spec{28, "broadcast", TypeIP}},
		{"42", Spec{42, "ntp-servers", TypeIPs}},
		{"vendor-specific", Spec{43, "vendor-specific", TypeSubOptions}},
		{"lease-time", Spec{51, "lease-time", TypeU32}},
		{"server-id", Spec{54, "server-id", TypeIP}},
		{"vendor-class", Spec{60, "vendor-class", TypeString}},
		{"tftp-server-name", Spec{66, "tftp-server-name", TypeString}},
		{"bootfile-name", Spec{67, "bootfile-name", TypeString}},
		{"user-class", Spec{77, "user-class", TypeHex}},
		{"relay-agent-info", Spec{82, "relay-agent-info", TypeHex}},
		{"domain-search", Spec{119, "domain-search", TypeDomains}},
		{"classless-routes", Spec{121, "classless-routes", TypeRoutes}},
		{"125", Spec{125, "vivso", TypeHex}},
		{"150", Spec{150, "tftp-servers", TypeIPs}},
		{"option-150", Spec{150, "tftp-servers", TypeIPs}},
		{"tftp-servers", Spec{150, "tftp-servers", TypeIPs}},
		{"160", Spec{160, "polycom-provisioning", TypeString}},
		{"avaya-46xx", Spec{176, "avaya-46xx", TypeAvaya}},
		{"242", Spec{242, "avaya-96xx", TypeAvaya}},
		{"Option-224", Spec{224, "option-224", TypeHex}},
		{"254", Spec{254, "option-254", TypeHex}},
		{"1", Spec{1, "subnet-mask", TypeIP}},
	}
	for _, c := range cases {
		got, err := Lookup(c.in)
		if err != nil || got != c.want {
			t.Errorf("Lookup(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
}

func TestLookupErrors(t *testing.T) {
	cases := map[string]string{
		"0":                    "pad option",
		"option-0":             "pad option",
		"255":                  "end option",
		"256":                  "out of range",
		"option-x":             "unknown DHCP option",
		"option-":              "unknown DHCP option",
		"99999999999999999999": "out of range",
		"":                     "empty",
		"dns-server":           "did you mean dns-servers",
		"ntp-server":           "did you mean ntp-servers",
		"avaya96xx":            "did you mean avaya-96xx",
		"tftp-srv-name":        "did you mean tftp-server-name",
		"frobnicate":           `unknown DHCP option "frobnicate" (give its number`,
		"-5":                   "unknown DHCP option",
	}
	for in, want := range cases {
		_, err := Lookup(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Lookup(%q) error = %v, want it to mention %q", in, err, want)
		}
	}
}

func TestCatalogueIsConsistent(t *testing.T) {
	codes := map[uint8]bool{}
	names := map[string]bool{}
	for _, s := range Catalogue() {
		if codes[s.Code] || names[s.Name] {
			t.Errorf("catalogue repeats %v", s)
		}
		codes[s.Code], names[s.Name] = true, true
		if !s.Type.Valid() {
			t.Errorf("%v has invalid type %q", s, s.Type)
		}
		if got, err := Lookup(s.Name); err != nil || got != s {
			t.Errorf("Lookup(%q) = %v, %v", s.Name, got, err)
		}
	}
	for _, e := range catalogue {
		for _, a := range e.aliases {
			if names[a] {
				t.Errorf("alias %q of %s is another option's name", a, e.name)
			}
		}
	}
}

func TestParseType(t *testing.T) {
	for _, ty := range allTypes {
		if got, err := ParseType(strings.ToUpper(string(ty))); err != nil || got != ty {
			t.Errorf("ParseType(%q) = %q, %v", ty, got, err)
		}
	}
	if _, err := ParseType("ipv4"); err == nil || !strings.Contains(err.Error(), "known: ip, ips,") {
		t.Errorf("ParseType(ipv4) error = %v", err)
	}
}
