// Package model describes the desk phones phonesim can pretend to be.
//
// What a phone sends and asks for (option 60 bytes, option 55, option 57,
// the host name pattern, the MAC prefix, the User-Agent, the first files
// and the firmware names) comes from the sourced phone fact table in
// testdata/phones, read with cmd/phonesim/facts; nothing of it is written
// here. This package only picks, for each simulated model, the table entry
// and the few choices the table cannot make (which of its MAC prefixes,
// the firmware the phone runs out of the box). Whatever the simulator
// assumes without a sourced fact is listed in Model.Unconfirmed, together
// with the table facts it uses that the table itself marks unconfirmed.
package model

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/phoneprov/phoneprov/cmd/phonesim/facts"
)

// tlsVersion is the crypto/tls constant of a tls_max fact's value (the
// facts loader admits only these).
func tlsVersion(v string) uint16 {
	switch v {
	case "1.0":
		return tls.VersionTLS10
	case "1.1":
		return tls.VersionTLS11
	case "1.3":
		return tls.VersionTLS13
	}
	return tls.VersionTLS12
}

// Family groups models that boot the same way.
type Family int

// The families phonesim knows.
const (
	// Avaya4600 are the 4600/5600 H.323 phones: option 176, scripts, TFTP too.
	Avaya4600 Family = iota + 1
	// Avaya1600 are the 1600 H.323 phones: option 242, scripts.
	Avaya1600
	// Avaya96x1 are the 9608/9611/9621/9641 phones: option 242, scripts.
	Avaya96x1
	// AvayaJ100 are the J100 SIP phones: option 242, scripts.
	AvayaJ100
	// CiscoSCCP are the Cisco 79xx enterprise phones: TFTP, SEP<MAC>.cnf.xml.
	CiscoSCCP
	// CiscoMPP are the Cisco MPP (3PCC) phones: option 66 as a URL.
	CiscoMPP
	// Polycom are the Polycom/Poly phones: option 66 or 160.
	Polycom
	// Yealink are the Yealink phones: option 66.
	Yealink
	// Snom are the snom phones: option 66.
	Snom
	// Grandstream are the Grandstream phones: option 66.
	Grandstream
	// MitelMiNet are the Mitel MiNet sets: the id:ipphone.mitel.com string in 43/125.
	MitelMiNet
	// MitelSIP are the Aastra/Mitel SIP phones: option 43 sub-option 2 or 66.
	MitelSIP
)

// IsAvaya reports whether the family speaks the Avaya script language.
func (f Family) IsAvaya() bool {
	return f == Avaya4600 || f == Avaya1600 || f == Avaya96x1 || f == AvayaJ100
}

// String names the family for reports.
func (f Family) String() string {
	switch f {
	case Avaya4600:
		return "avaya-4600"
	case Avaya1600:
		return "avaya-1600"
	case Avaya96x1:
		return "avaya-96x1"
	case AvayaJ100:
		return "avaya-j100"
	case CiscoSCCP:
		return "cisco-sccp"
	case CiscoMPP:
		return "cisco-mpp"
	case Polycom:
		return "polycom"
	case Yealink:
		return "yealink"
	case Snom:
		return "snom"
	case Grandstream:
		return "grandstream"
	case MitelMiNet:
		return "mitel-minet"
	case MitelSIP:
		return "mitel-sip"
	}
	return fmt.Sprintf("family(%d)", int(f))
}

// Signalling values of the Avaya SIG setting.
const (
	SigH323 = "1"
	SigSIP  = "2"
)

// Model is one simulated phone model. Build a Catalog with Load to get them.
type Model struct {
	// Key is what -mix names the model by: "j179", "9608", "7941".
	Key string
	// Name is the model as the table writes it ($MODEL4 for Avaya).
	Name string
	// Vendor is the table's vendor.
	Vendor string
	// Family says how the phone boots.
	Family Family

	// From the table.

	// OUI is the first three bytes of the phones' MAC addresses.
	OUI [3]byte
	// VendorClass is DHCP option 60, byte for byte (trailing NULs
	// included); nil sends none.
	VendorClass []byte
	// ParamRequest is DHCP option 55.
	ParamRequest []byte
	// MaxMessageSize is DHCP option 57; 0 sends none.
	MaxMessageSize uint16
	// RequireLeaseTime rejects offers without option 51.
	RequireLeaseTime bool
	// HostNamePattern is option 12 as the table writes it ("AVohhhhhh",
	// "SEP<MAC>", "T<MAC>"); "" sends none.
	HostNamePattern string
	// UserAgentExample is a User-Agent the table quotes; the phone's own
	// is it with the phone's version and MAC put in. "" sends none.
	UserAgentExample string
	// FirstFiles are the files the phone asks for first, in the table's
	// order, as patterns (<MAC> upper-case, <mac> lower-case hex digits).
	FirstFiles []string
	// FirmwareFiles are the firmware names the table knows.
	FirmwareFiles []string
	// OptionsRead are the DHCP options the phone takes its servers or
	// settings from, in the table's order.
	OptionsRead []int
	// Backup is how user data is saved: facts.BackupHTTPPut,
	// facts.BackupFTP, facts.BackupNone or "" (unknown: none is done).
	Backup string
	// TLSMax is the highest TLS version its HTTPS client offers
	// (tls.VersionTLS12, …): the table's, else TLS 1.2 (unconfirmed).
	TLSMax uint16

	// Simulator choices and assumptions.

	// Sig is the Avaya signalling ($SIG): SigH323 or SigSIP; "" elsewhere.
	Sig string
	// TFTP lets an Avaya phone fall back to TFTPSRVR.
	TFTP bool
	// DefaultTLSPort is TLSPORT when the DHCP string names none.
	DefaultTLSPort int
	// BackupFile is the backup file name with %s for the extension.
	BackupFile string
	// Firmware is the version the phone runs out of the box.
	Firmware string
	// AppName is the firmware file that version came from; the phone
	// skips a download of the file it already runs.
	AppName string
	// Unconfirmed lists what the simulated phone does without a sourced
	// fact: the table's own unconfirmed facts it uses and the
	// simulator's assumptions.
	Unconfirmed []string
}

// spec is what the simulator decides for one model; everything else comes
// from the table entry it names.
type spec struct {
	key, vendor, name string
	family            Family
	// oui picks one of the table's MAC prefixes ("" takes the first);
	// when the table has none it is used and marked unconfirmed.
	oui string
	// first picks one of the table's first files for an Avaya phone (the
	// one of its load); "" takes the first.
	first      string
	sig        string
	tftp       bool
	tlsPort    int
	backupFile string
	// backupNote says where backupFile comes from, kept only when the
	// table says the model backs up.
	backupNote string
	// firmware is the version the phone runs out of the box; app, for
	// Avaya phones, the file it came from (named like the table's).
	firmware, app string
	assumed       []string
}

// Assumptions shared by families.
var (
	avayaAssumed = []string{
		"HTTPS (TLSSRVR) is tried before HTTP (HTTPSRVR): order from the reference file, not the table",
		"script commands SET, GET, IF … SEQ … GOTO, GOTO and labels as in the reference file; only ## comments are confirmed (CORRECTIONS 3a)",
		"TRUSTCERTS are fetched and trusted, APPNAME is fetched and installed with a restart: reference file, not the table",
		"out-of-the-box firmware is a scenario choice, not a phone fact",
	}
	filesAssumed = []string{
		"the first files are asked for in the table's order and a missing one is skipped (the table does not state the order)",
		"a bare host in the server option means TFTP (RFC 2132 option 66), a URL its own scheme",
		"no firmware is fetched: the table does not say what makes the phone ask for it",
		"out-of-the-box firmware version (for the User-Agent) is a scenario choice",
	}
)

// specs are the simulated models. Each names a table entry.
var specs = []spec{
	{key: "4621", vendor: "Avaya", name: "4621", family: Avaya4600, oui: "00:04:0d",
		sig: SigH323, tftp: true, tlsPort: 411,
		// CORRECTIONS claim 4: the 4621SW uses "4620" in its backup file
		// name, stored by FTP on FTPSRVR.
		backupFile: "%s_4620data.txt",
		firmware:   "2.8.2", app: "a46xxua2_8_2.bin",
		assumed: []string{
			"TFTPSRVR is tried after HTTP (the table says the 4600 reads option 66, the TFTP server; the order is assumed)",
			"TLSPORT 411 when the DHCP string names none (reference file)",
			"firmware name a46xxua<version>.bin: not in the table",
		}},
	{key: "1608", vendor: "Avaya", name: "1608", family: Avaya1600, oui: "00:60:1d",
		sig: SigH323, tlsPort: 411, backupFile: "%s_16xxdata.txt",
		backupNote: "backup file <ext>_16xxdata.txt: the table's 1616 note, assumed for the 1608",
		firmware:   "1.3.12", app: "ha16xxua1_3_12.bin",
		assumed: []string{
			"TLSPORT 411 when the DHCP string names none (reference file)",
			"firmware name ha16xxua<version>.bin: not in the table",
		}},
	{key: "9608", vendor: "Avaya", name: "9608", family: Avaya96x1, oui: "00:1b:4f", first: "96x1Supgrade.txt",
		sig: SigSIP, tlsPort: 443, backupFile: "%s_96xxdata.txt",
		backupNote: "backup file <ext>_96xxdata.txt: reference file",
		firmware:   "7.1.13.0.4", app: "S96x1_SALBR7_1_13_0_4_r.tar",
		assumed: []string{"TLSPORT 443 when the DHCP string names none (IP Office's choice)"}},
	{key: "9641", vendor: "Avaya", name: "9641", family: Avaya96x1, oui: "24:d9:21", first: "96x1Supgrade.txt",
		sig: SigSIP, tlsPort: 443, backupFile: "%s_96xxdata.txt",
		backupNote: "backup file <ext>_96xxdata.txt: reference file",
		firmware:   "7.1.13.0.4", app: "S96x1_SALBR7_1_13_0_4_r.tar",
		assumed: []string{"TLSPORT 443 when the DHCP string names none (IP Office's choice)"}},
	{key: "j179", vendor: "Avaya", name: "J179", family: AvayaJ100, oui: "c8:1f:ea", first: "J100Supgrade.txt",
		sig: SigSIP, tlsPort: 443, backupFile: "%s_96xxdata.txt",
		backupNote: "backup file <ext>_96xxdata.txt: reference file",
		firmware:   "4.0.13.0.5", app: "FW_S_J179_R4_0_13_0_5.bin",
		assumed: []string{"TLSPORT 443 when the DHCP string names none (IP Office's choice)"}},
	{key: "7941", vendor: "Cisco", name: "CP-7941G", family: CiscoSCCP, oui: "00:21:55",
		firmware: "SCCP41.9-3-1SR1-1S",
		assumed: []string{
			"CTL and ITL files are optional: a missing one is skipped",
			"no firmware is fetched: the .loads file name of an SCCP load is not in the table",
			"a bare host in option 66 means TFTP; option 150 (unconfirmed in the table) wins when both come",
		}},
	{key: "7841", vendor: "Cisco", name: "CP-7841-3PCC", family: CiscoMPP, oui: "d0:ec:35", firmware: "11.3.1"},
	{key: "vvx410", vendor: "Polycom", name: "VVX 410", family: Polycom, oui: "00:04:f2", firmware: "5.9.5.0614"},
	{key: "t41p", vendor: "Yealink", name: "SIP-T41P", family: Yealink, oui: "00:15:65", firmware: "36.72.0.1"},
	{key: "snom710", vendor: "snom", name: "710", family: Snom, oui: "00:04:13", firmware: "8.7.5.35"},
	{key: "gxp1628", vendor: "Grandstream", name: "GXP1628", family: Grandstream, oui: "00:0b:82", firmware: "1.0.4.138",
		assumed: []string{"option 43 is listed as read but its format is not: only option 66 is used"}},
	{key: "5320", vendor: "Mitel", name: "5320", family: MitelMiNet, oui: "08:00:0f",
		assumed: []string{"no file is fetched: the table names none for MiNet sets; the phone is done when the id:ipphone.mitel.com string names sw_tftp"}},
	{key: "6731i", vendor: "Mitel", name: "6731i", family: MitelSIP, oui: "00:08:5d", firmware: "3.2.0.70",
		assumed: []string{"option 43 sub-option 2 (a URL) beats option 66"}},
	{key: "6920", vendor: "Mitel", name: "6920", family: MitelSIP, oui: "14:00:e9", firmware: "6.4.0.140"},
}

// Catalog is the simulated models, built from the fact table.
type Catalog struct {
	models []Model
}

// Load builds every simulated model from its table entry. A model whose
// entry is missing, or lacks what the simulator cannot do without, is an
// error naming it.
func Load(t facts.Table) (Catalog, error) {
	var c Catalog
	var errs []error
	for _, s := range specs {
		m, err := build(t, s)
		if err != nil {
			errs = append(errs, fmt.Errorf("model %s: %w", s.key, err))
			continue
		}
		c.models = append(c.models, m)
	}
	if err := errors.Join(errs...); err != nil {
		return Catalog{}, err
	}
	return c, nil
}

// LoadDir reads the table in dir and builds the catalog.
func LoadDir(dir string) (Catalog, error) {
	t, err := facts.LoadDir(dir)
	if err != nil {
		return Catalog{}, err
	}
	return Load(t)
}

// FindTable finds testdata/phones in the module at or above one of the
// starting directories.
func FindTable(starts ...string) (string, error) {
	for _, s := range starts {
		if root, err := facts.ModuleRoot(s); err == nil {
			return facts.Dir(root), nil
		}
	}
	return "", fmt.Errorf("phone fact table: no go.mod at or above %s (give -facts DIR)", strings.Join(starts, " or "))
}

func unconfirmedNote(field string, p facts.Provenance) string {
	return "table: " + field + " is marked unconfirmed (" + p.Note + ")"
}

func build(t facts.Table, s spec) (Model, error) {
	e, ok := t.Find(s.vendor, s.name)
	if !ok {
		return Model{}, fmt.Errorf("no %s %s in the phone fact table", s.vendor, s.name)
	}
	m := Model{
		Key: s.key, Name: e.Name, Vendor: e.Vendor, Family: s.family,
		Sig: s.sig, TFTP: s.tftp, DefaultTLSPort: s.tlsPort, BackupFile: s.backupFile,
		Firmware: s.firmware, AppName: s.app,
	}
	uncon := func(field string, p facts.Provenance) {
		if p.Unconfirmed {
			m.Unconfirmed = append(m.Unconfirmed, unconfirmedNote(field, p))
		}
	}

	// MAC prefix.
	oui := s.oui
	switch idx := slices.IndexFunc(e.OUIs, func(f facts.Fact[string]) bool { return f.Value == s.oui || s.oui == "" }); {
	case idx >= 0:
		oui = e.OUIs[idx].Value
		uncon("ouis", e.OUIs[idx].Provenance)
	case len(e.OUIs) > 0:
		return Model{}, fmt.Errorf("MAC prefix %s is not among the table's", s.oui)
	case oui == "":
		return Model{}, errors.New("the table gives no MAC prefix")
	default:
		m.Unconfirmed = append(m.Unconfirmed, "MAC prefix "+oui+": the table gives this model none")
	}
	hw, err := net.ParseMAC(oui + ":00:00:00")
	if err != nil {
		return Model{}, fmt.Errorf("MAC prefix %s: %w", oui, err)
	}
	m.OUI = [3]byte(hw[:3])

	// Option 60.
	vc, notes := vendorClass(e.VendorClasses)
	m.VendorClass = vc
	m.Unconfirmed = append(m.Unconfirmed, notes...)

	// Options read, then option 55.
	for _, f := range e.OptionsRead {
		m.OptionsRead = append(m.OptionsRead, f.Value)
		uncon("options_read "+strconv.Itoa(f.Value), f.Provenance)
	}
	if len(e.ParamRequest) > 0 {
		for _, n := range e.ParamRequest[0].Value {
			m.ParamRequest = append(m.ParamRequest, byte(n))
		}
		uncon("option55", e.ParamRequest[0].Provenance)
	} else {
		m.ParamRequest = []byte{1, 3}
		for _, n := range m.OptionsRead {
			if !slices.Contains(m.ParamRequest, byte(n)) {
				m.ParamRequest = append(m.ParamRequest, byte(n))
			}
		}
		m.Unconfirmed = append(m.Unconfirmed, "option 55 "+codes(m.ParamRequest)+": the table has none; built from 1, 3 and the options the phone reads")
	}
	if len(e.MaxMessageSize) > 0 {
		m.MaxMessageSize = uint16(e.MaxMessageSize[0].Value)
		uncon("option57", e.MaxMessageSize[0].Provenance)
	}
	for _, f := range e.RequiresLeaseTime {
		m.RequireLeaseTime = m.RequireLeaseTime || f.Value
		uncon("requires_option51", f.Provenance)
	}
	if len(e.HostName) > 0 {
		m.HostNamePattern = e.HostName[0].Value
		if _, err := hostName(m.HostNamePattern, net.HardwareAddr{0, 0, 0, 0, 0, 0}); err != nil {
			return Model{}, err
		}
		uncon("hostname", e.HostName[0].Provenance)
	}
	if len(e.UserAgents) > 0 {
		m.UserAgentExample = e.UserAgents[0].Value
		uncon("user_agent", e.UserAgents[0].Provenance)
	} else if m.Family != CiscoSCCP && m.Family != MitelMiNet {
		m.Unconfirmed = append(m.Unconfirmed, "no User-Agent is sent: the table quotes none for this model")
	}
	if len(m.VendorClass) == 0 {
		m.Unconfirmed = append(m.Unconfirmed, "no option 60 is sent: the table has none for this model (the server can know it by its MAC prefix only)")
	}
	for _, f := range e.FirstFiles {
		m.FirstFiles = append(m.FirstFiles, f.Value)
	}
	if len(m.FirstFiles) == 0 && s.family != MitelMiNet {
		return Model{}, errors.New("the table names no first file")
	}
	if m.Family.IsAvaya() {
		i := 0
		if s.first != "" {
			i = slices.Index(m.FirstFiles, s.first)
			if i < 0 {
				return Model{}, fmt.Errorf("first file %s is not among the table's %v", s.first, m.FirstFiles)
			}
		}
		uncon("first_file "+m.FirstFiles[i], e.FirstFiles[i].Provenance)
		// The rest of an Avaya phone's files come from its scripts.
		m.FirstFiles = m.FirstFiles[i : i+1]
	} else {
		for _, f := range e.FirstFiles {
			uncon("first_file "+f.Value, f.Provenance)
		}
	}
	for _, f := range e.FirmwareFiles {
		m.FirmwareFiles = append(m.FirmwareFiles, f.Value)
	}
	if len(e.Backup) > 0 {
		m.Backup = e.Backup[0].Value
		uncon("backup", e.Backup[0].Provenance)
	}
	m.TLSMax = tls.VersionTLS12
	if len(e.TLSMax) > 0 {
		m.TLSMax = tlsVersion(e.TLSMax[0].Value)
		uncon("tls_max", e.TLSMax[0].Provenance)
	} else {
		// Go's client would offer TLS 1.3 and a post-quantum key share
		// (X25519MLKEM768) that no phone of these generations sends.
		m.Unconfirmed = append(m.Unconfirmed, "TLS 1.2 at most: the table has no tls_max fact for this model")
	}
	switch {
	case m.Backup == "" && m.BackupFile != "":
		m.Unconfirmed = append(m.Unconfirmed, "no backup is made: the table has no backup fact for this model")
		m.BackupFile = ""
	case m.Backup == "" || m.Backup == facts.BackupNone:
		m.BackupFile = ""
	case s.backupNote != "":
		m.Unconfirmed = append(m.Unconfirmed, s.backupNote)
	}
	if m.Family.IsAvaya() {
		if m.avayaOption() == 0 {
			return Model{}, errors.New("the table says the phone reads neither option 176 nor 242")
		}
		if m.Sig == "" || m.DefaultTLSPort == 0 {
			return Model{}, errors.New("Avaya model without SIG or TLS port")
		}
	}
	if len(m.FirmwareFiles) > 0 && m.AppName != "" && !slices.ContainsFunc(m.FirmwareFiles, func(f string) bool { return sameShape(f, m.AppName) }) {
		return Model{}, fmt.Errorf("out-of-the-box firmware %s is not named like the table's %v", m.AppName, m.FirmwareFiles)
	}
	if !m.Family.IsAvaya() && m.Family != CiscoSCCP && m.Family != MitelMiNet {
		m.Unconfirmed = append(m.Unconfirmed, filesAssumed...)
	}
	if m.Family.IsAvaya() {
		m.Unconfirmed = append(m.Unconfirmed, avayaAssumed...)
	}
	m.Unconfirmed = append(m.Unconfirmed, s.assumed...)
	return m, nil
}

// vendorClass picks option 60 from the table's classes: an exact one if
// there is one; else a prefix and a suffix joined where they overlap;
// else the only part known, with a note saying so.
func vendorClass(vcs []facts.VendorClass) ([]byte, []string) {
	var prefix, suffix *facts.VendorClass
	for i := range vcs {
		vc := &vcs[i]
		switch vc.Match {
		case facts.MatchExact:
			var notes []string
			if vc.Unconfirmed {
				notes = append(notes, unconfirmedNote("option60", vc.Provenance))
			}
			return slices.Clone(vc.Bytes), notes
		case facts.MatchPrefix:
			if prefix == nil {
				prefix = vc
			}
		case facts.MatchSuffix:
			if suffix == nil {
				suffix = vc
			}
		}
	}
	switch {
	case prefix != nil && suffix != nil:
		p, s := prefix.Bytes, suffix.Bytes
		for k := min(len(p), len(s)); k >= 0; k-- {
			if string(p[len(p)-k:]) == string(s[:k]) {
				out := append(slices.Clone(p), s[k:]...)
				return out, []string{fmt.Sprintf("option 60 '%s' joins the table's prefix '%s' and suffix '%s': the whole string is not quoted by one source", facts.Render(out), facts.Render(p), facts.Render(s))}
			}
		}
	case prefix != nil:
		return slices.Clone(prefix.Bytes), []string{fmt.Sprintf("option 60 '%s': the table confirms only how it starts", facts.Render(prefix.Bytes))}
	case suffix != nil:
		return slices.Clone(suffix.Bytes), []string{fmt.Sprintf("option 60 '%s': the table confirms only how it ends", facts.Render(suffix.Bytes))}
	}
	return nil, nil
}

func codes(b []byte) string {
	s := make([]string, len(b))
	for i, c := range b {
		s[i] = strconv.Itoa(int(c))
	}
	return strings.Join(s, ",")
}

var digitRun = regexp.MustCompile(`[0-9]+`)

// sameShape says whether two file names differ only in their digits.
func sameShape(a, b string) bool {
	return digitRun.ReplaceAllString(a, "#") == digitRun.ReplaceAllString(b, "#")
}

// avayaOption is the site-specific option the phone reads: 242 or 176,
// whichever the table lists first; 0 for none.
func (m Model) avayaOption() uint8 {
	for _, n := range m.OptionsRead {
		if n == 242 || n == 176 {
			return uint8(n)
		}
	}
	return 0
}

// AvayaOption is the option (242 or 176) an Avaya phone reads its
// NAME=value string from; 0 for other phones.
func (m Model) AvayaOption() uint8 {
	if !m.Family.IsAvaya() {
		return 0
	}
	return m.avayaOption()
}

// Reads says whether the table lists option code among those the phone reads.
func (m Model) Reads(code int) bool { return slices.Contains(m.OptionsRead, code) }

// All returns every model, in the catalog's order.
func (c Catalog) All() []Model { return slices.Clone(c.models) }

// Lookup finds a model by key or name, ignoring case ("J179", "cp-7941g").
func (c Catalog) Lookup(name string) (Model, bool) {
	for _, m := range c.models {
		if strings.EqualFold(m.Key, name) || strings.EqualFold(m.Name, name) {
			return m, true
		}
	}
	return Model{}, false
}

// Keys returns the keys of all models, for messages.
func (c Catalog) Keys() []string {
	keys := make([]string, len(c.models))
	for i, m := range c.models {
		keys[i] = m.Key
	}
	return keys
}

// MAC builds a phone's hardware address from the model's OUI and three
// low bytes.
func (m Model) MAC(low [3]byte) net.HardwareAddr {
	return net.HardwareAddr{m.OUI[0], m.OUI[1], m.OUI[2], low[0], low[1], low[2]}
}

// avayaOUILetters encodes the OUI in an Avaya host name (the J100 DHCP
// page, option 12, letters A, B, E, L, T); any other OUI is X.
var avayaOUILetters = []struct {
	oui    [3]byte
	letter byte
}{
	{[3]byte{0x00, 0x04, 0x0d}, 'A'},
	{[3]byte{0x00, 0x1b, 0x4f}, 'B'},
	{[3]byte{0x00, 0x09, 0x6e}, 'E'},
	{[3]byte{0x00, 0x60, 0x1d}, 'L'},
	{[3]byte{0x00, 0x07, 0x3b}, 'T'},
}

// AvayaHostName is the DHCP host name (option 12) an Avaya phone sends:
// "AV", a letter for the OUI, and the last six hex digits of the MAC in
// upper case, like "AVA123456" for 00:04:0d:12:34:56.
func AvayaHostName(mac net.HardwareAddr) string {
	if len(mac) != 6 {
		return ""
	}
	letter := byte('X')
	for _, o := range avayaOUILetters {
		if [3]byte(mac[:3]) == o.oui {
			letter = o.letter
		}
	}
	return fmt.Sprintf("AV%c%02X%02X%02X", letter, mac[3], mac[4], mac[5])
}

// hostName renders a host name pattern of the table for mac.
func hostName(pattern string, mac net.HardwareAddr) (string, error) {
	switch {
	case pattern == "":
		return "", nil
	case pattern == "AVohhhhhh":
		return AvayaHostName(mac), nil
	case strings.Count(pattern, "<MAC>") == 1:
		return strings.Replace(pattern, "<MAC>", strings.ToUpper(MACHex(mac)), 1), nil
	}
	return "", fmt.Errorf("host name pattern %q not understood (AVohhhhhh or …<MAC>…)", pattern)
}

// HostName is option 12 for a phone of model m with this MAC, "" for none.
func (m Model) HostName(mac net.HardwareAddr) string {
	h, _ := hostName(m.HostNamePattern, mac) // checked by Load
	return h
}

// MACHex is the MAC as twelve lower-case hex digits, as $MACADDR and the
// per-phone file names use it.
func MACHex(mac net.HardwareAddr) string {
	return strings.ReplaceAll(mac.String(), ":", "")
}

// FileName renders a first-file pattern of the table for mac: <MAC> is the
// MAC in upper-case hex digits, <mac> in lower case.
func FileName(pattern string, mac net.HardwareAddr) string {
	h := MACHex(mac)
	return strings.NewReplacer("<MAC>", strings.ToUpper(h), "<mac>", h).Replace(pattern)
}

var (
	uaVersion = regexp.MustCompile(`[0-9]+(?:[._][0-9]+){2,}`)
	uaMAC     = []*regexp.Regexp{
		regexp.MustCompile(`[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}`),
		regexp.MustCompile(`[0-9A-Fa-f]{2}(?:-[0-9A-Fa-f]{2}){5}`),
		regexp.MustCompile(`\b[0-9A-Fa-f]{12}\b`),
	}
)

// UserAgent is the HTTP User-Agent of a phone of model m running firmware:
// the table's example with its first version (three or more numbers) put
// as firmware, written with the example's separator, and its MAC as mac,
// written in the example's form. "" when the table quotes none.
func (m Model) UserAgent(firmware string, mac net.HardwareAddr) string {
	ua := m.UserAgentExample
	if ua == "" {
		return ""
	}
	if loc := uaVersion.FindStringIndex(ua); loc != nil && firmware != "" {
		v := firmware
		if strings.Contains(ua[loc[0]:loc[1]], "_") {
			v = strings.ReplaceAll(v, ".", "_")
		}
		ua = ua[:loc[0]] + v + ua[loc[1]:]
	}
	for _, re := range uaMAC {
		loc := re.FindStringIndex(ua)
		if loc == nil || len(mac) != 6 {
			continue
		}
		old := ua[loc[0]:loc[1]]
		h := MACHex(mac)
		var parts []string
		for i := 0; i < 12; i += 2 {
			parts = append(parts, h[i:i+2])
		}
		sep := ""
		if len(old) > 12 {
			sep = old[2:3]
		}
		s := strings.Join(parts, sep)
		if strings.ToUpper(old) == old && strings.ToLower(old) != old {
			s = strings.ToUpper(s)
		}
		ua = ua[:loc[0]] + s + ua[loc[1]:]
		break
	}
	return ua
}

// FirmwareVersion reads the version out of a firmware file name the way
// the phone would report it after installing it: "FW_S_J179_R4_1_3_0_6.bin"
// → "4.1.3.0.6", "S96x1_SALBR7_1_15_0_4_r.tar" → "7.1.15.0.4",
// "a46xxua2_8_3.bin" → "2.8.3". A name without a recognisable version
// comes back whole, without its extension.
func FirmwareVersion(appName string) string {
	base := appName
	if i := strings.LastIndexByte(base, '.'); i > 0 && !strings.ContainsAny(base[i+1:], "_-") && len(base)-i <= 5 {
		base = base[:i]
	}
	// The version is the last run of digit groups joined by '_'.
	fields := strings.FieldsFunc(base, func(r rune) bool { return r == '_' })
	end := len(fields)
	for end > 0 && !isDigits(fields[end-1]) {
		end--
	}
	start := end
	for start > 0 && isDigits(fields[start-1]) {
		start--
	}
	if end == start {
		return base
	}
	// The first group may carry a letter prefix: R4, SALBR7, ua2.
	if start > 0 {
		prev := fields[start-1]
		i := len(prev)
		for i > 0 && prev[i-1] >= '0' && prev[i-1] <= '9' {
			i--
		}
		if i < len(prev) {
			return prev[i:] + "." + strings.Join(fields[start:end], ".")
		}
	}
	return strings.Join(fields[start:end], ".")
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
