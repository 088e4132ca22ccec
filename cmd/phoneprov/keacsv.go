package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/phoneprov/phoneprov/cmd/internal/config"
)

// keaCSVHeader is the header of Kea's DHCPv4 memfile lease file, schema
// 3.0 (Kea 3.0 and later): isc-projects/kea,
// src/lib/dhcpsrv/csv_lease_file4.cc, CSVLeaseFile4::initColumns.
const keaCSVHeader = "address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context,pool_id"

// keaState is a lease state as Kea's lease file numbers it (Lease::STATE_*
// in isc-projects/kea src/lib/dhcpsrv/lease.h): 0 default (assigned),
// 1 declined, 2 expired-reclaimed, 3 released.
func keaState(state string) int {
	switch state {
	case "declined":
		return 1
	case "expired":
		return 2
	case "released":
		return 3
	}
	return 0
}

// writeKeaCSV writes the leases as Kea's memfile writes its lease file
// (CSVLeaseFile4::append): hardware address and client id in lower-case
// hex with colons; expire = cltt + valid_lifetime in Unix seconds; the
// host name and user context escaped as Kea escapes them; no DNS updates
// (fqdn_fwd, fqdn_rev 0) and no pool ids (0). subnet_id is the subnet's
// place in the configuration, from 1. The user context holds what Kea's
// columns have no room for: the phoneprov class and the vendor class.
func writeKeaCSV(w io.Writer, rows []leaseRow, cfg config.Config) error {
	var b strings.Builder
	b.WriteString(keaCSVHeader + "\n")
	for _, r := range rows {
		clientID := ""
		for i, c := range r.ClientID {
			if i > 0 {
				clientID += ":"
			}
			clientID += fmt.Sprintf("%02x", c)
		}
		valid := max(int64(r.Expiry.Sub(r.Start).Seconds()), 0)
		expire := r.Expiry.Unix()
		fmt.Fprintf(&b, "%s,%s,%s,%d,%d,%d,0,0,%s,%d,%s,0\n", r.Address, r.MAC, clientID, valid, expire,
			subnetID(cfg, r.Subnet), keaEscape(r.Hostname), keaState(r.State), keaEscape(userContext(r)))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// userContext is the lease's user_context: a JSON map, or "" for none.
func userContext(r leaseRow) string {
	ctx := map[string]string{}
	if r.Class != "" {
		ctx["phoneprov-class"] = r.Class
	}
	if r.VendorClass != "" {
		ctx["vendor-class"] = r.VendorClass
	}
	if len(ctx) == 0 {
		return ""
	}
	b, _ := json.Marshal(ctx) // a map of strings always encodes
	return string(b)
}

// keaEscape escapes a value as Kea's CSVRow::escapeCharacters does: every
// byte below 0x20 or above 0x7e, the separator and '&' become "&#x" and
// two lower-case hex digits.
func keaEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == ',' || c == '&' {
			b.WriteString("&#x" + strconv.FormatUint(uint64(c)|0x100, 16)[1:])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
