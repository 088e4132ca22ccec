package ha

import (
	"encoding/json"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/phoneprov/phoneprov/dhcpd/leases"
)

const second = time.Second

var epoch = time.Unix(1_800_000_000, 0)

// TestLeaseUpdateWireForm checks lease4-update as Kea's CommandCreator
// builds it: "expire" instead of "cltt", force-create, colon hex.
func TestLeaseUpdateWireForm(t *testing.T) {
	l := leases.Lease{
		Addr: netip.MustParseAddr("198.18.40.100"), HWAddr: net.HardwareAddr{2, 0, 0, 0x40, 0, 1},
		ClientID: []byte{1, 2, 0, 0, 0x40, 0, 1}, Hostname: "Phone1", Class: "avaya",
		Start: epoch, Expiry: epoch.Add(time.Hour), State: leases.Active,
	}
	kl := toLease4(l, 1, true)
	kl.ForceCreate = true
	cmd, err := newCommand("lease4-update", kl)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(cmd)
	for _, want := range []string{`"command":"lease4-update"`, `"service":["dhcp4"]`, `"ip-address":"198.18.40.100"`,
		`"hw-address":"02:00:00:40:00:01"`, `"client-id":"01:02:00:00:40:00:01"`, `"subnet-id":1`,
		`"expire":1800003600`, `"valid-lft":3600`, `"fqdn-fwd":false`, `"hostname":"phone1"`, `"state":0`,
		`"force-create":true`, `"user-context":{"phoneprov":{"class":"avaya"}}`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %s", b, want)
		}
	}
	if strings.Contains(string(b), "cltt") {
		t.Errorf("%s carries cltt; Kea sends expire instead", b)
	}
	back, err := kl.lease(epoch)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Start.Equal(l.Start) || !back.Expiry.Equal(l.Expiry) || back.HWAddr.String() != l.HWAddr.String() ||
		string(back.ClientID) != string(l.ClientID) || back.Class != "avaya" || back.State != leases.Active {
		t.Errorf("round trip: %+v, want %+v", back, l)
	}
}

// TestLeaseFromKea reads leases as Kea sends them and refuses bad ones.
func TestLeaseFromKea(t *testing.T) {
	var kl Lease4
	json.Unmarshal([]byte(`{"ip-address":"198.18.40.7","hw-address":"0a:0b:0c:0d:0e:0f","cltt":1800000000,"valid-lft":600,
		"subnet-id":1,"fqdn-fwd":false,"fqdn-rev":false,"hostname":"","state":1}`), &kl)
	l, err := kl.lease(epoch)
	if err != nil {
		t.Fatal(err)
	}
	if l.State != leases.Declined || !l.Expiry.Equal(epoch.Add(600*second)) {
		t.Errorf("got %+v", l)
	}
	for _, bad := range []string{
		`{"ip-address":"2001:db8::1","hw-address":"0a:0b:0c:0d:0e:0f","valid-lft":600}`,
		`{"ip-address":"198.18.40.7","hw-address":"zz","valid-lft":600}`,
		`{"ip-address":"198.18.40.7","hw-address":"0a:0b:0c:0d:0e:0f","valid-lft":600,"state":7}`,
		`{"ip-address":"198.18.40.7","hw-address":"0a:0b:0c:0d:0e:0f","valid-lft":600,"expire":5}`,
	} {
		var k Lease4
		json.Unmarshal([]byte(bad), &k)
		if _, err := k.lease(epoch); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

// TestDecodeAnswer takes the list Kea's agent sends and a bare map.
func TestDecodeAnswer(t *testing.T) {
	a, err := decodeAnswer([]byte(`[ { "result": 3, "text": "0 IPv4 lease(s) found." } ]`))
	if err != nil || a.Result != ResultEmpty {
		t.Errorf("list: %+v %v", a, err)
	}
	a, err = decodeAnswer([]byte(`{"result": 1, "text": "Unauthorized"}`))
	if err != nil || a.Result != ResultError {
		t.Errorf("map: %+v %v", a, err)
	}
	for _, bad := range []string{`[]`, `nonsense`, ``} {
		if _, err := decodeAnswer([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
