// Package facts reads the phone fact table in testdata/phones: one TOML file
// per vendor, one entry per phone model, every fact carrying the public
// source it comes from or an explicit unconfirmed mark.
//
// The table is test data. Tests and the simulator may read it; the product
// (phoneprov's server packages) must never import this package.
//
// File layout (see testdata/phones/README.md for the full schema):
//
//	vendor = "Avaya"
//	[sources.j100-admin]               # named sources, referred to by facts
//	title = "Installing and Administering Avaya J100 Series IP Phones R4.1"
//	url = "https://…"
//	[common]                           # facts true of every model in the file
//	ouis = [{value = "00:04:0d", source = "j100-admin", at = "Option 12"}]
//	[[model]]
//	model = "J179"
//	signalling = [{value = "SIP", source = "j100-admin"}]
//	option60 = [{text = "ccp.avaya.com", hex = "6363…", source = "recog"}]
//
// A fact is either sourced (source names an entry of [sources], at says
// where in it) or marked unconfirmed = true with a note saying why it is
// believed; a fact with neither, or with both, is a load error.
package facts

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
)

// Provenance says where a fact comes from.
type Provenance struct {
	// Source is the id of an entry in the file's [sources] table; empty
	// when the fact is unconfirmed.
	Source string `toml:"source"`
	// At locates the fact inside the source: a page, a section, a line.
	At string `toml:"at"`
	// Unconfirmed marks a fact no public source was found for.
	Unconfirmed bool `toml:"unconfirmed"`
	// Note explains the fact: required when Unconfirmed, optional otherwise.
	Note string `toml:"note"`
	// Ref is the source Source names, filled in by the loader.
	Ref Source `toml:"-"`
}

// Fact is one claim about a phone with its provenance.
type Fact[T any] struct {
	// Value is what is claimed.
	Value T `toml:"value"`
	Provenance
}

// Match says how a vendor class string relates to what the phone sends.
type Match string

// The ways a VendorClass may match.
const (
	// MatchExact: the phone sends exactly these bytes.
	MatchExact Match = "exact"
	// MatchPrefix: what the phone sends starts with these bytes.
	MatchPrefix Match = "prefix"
	// MatchSuffix: what the phone sends ends with these bytes (only the end
	// is confirmed).
	MatchSuffix Match = "suffix"
)

// VendorClass is a DHCP option 60 value. Hex holds the bytes and is
// authoritative; Text is the same bytes for people, printable ASCII as is,
// a backslash as `\\`, any other byte as `\xNN` (write it in a TOML literal
// string: 'Cisco … CP-7911G\x00').
type VendorClass struct {
	// Hex is the option's bytes in hexadecimal, spaces allowed.
	Hex string `toml:"hex"`
	// Text renders the bytes (optional); the loader checks it against Hex.
	Text string `toml:"text"`
	// Match is exact (the default), prefix or suffix.
	Match Match `toml:"match"`
	// Bytes is Hex decoded, filled in by the loader.
	Bytes []byte `toml:"-"`
	Provenance
}

// Source is a public document or repository file facts are taken from.
type Source struct {
	// ID is the key of the source in [sources], filled in by the loader.
	ID string `toml:"-"`
	// Title names the manual, page or project.
	Title string `toml:"title"`
	// URL is where the document can be read (manuals, web pages).
	URL string `toml:"url"`
	// Repo is a public repository as owner/name (with Path).
	Repo string `toml:"repo"`
	// Path is a file inside Repo.
	Path string `toml:"path"`
	// Commit pins Repo to the version read (optional).
	Commit string `toml:"commit"`
}

// Signalling protocols a fact may name.
const (
	SigH323    = "H.323"
	SigSIP     = "SIP"
	SigSCCP    = "SCCP"
	SigMiNet   = "MiNet"
	SigUNIStim = "UNIStim"
)

// Backup mechanisms a fact may name.
const (
	// BackupHTTPPut: user data is sent with HTTP PUT and read back with GET.
	BackupHTTPPut = "http-put"
	// BackupFTP: user data is stored on an FTP server.
	BackupFTP = "ftp"
	// BackupNone: the phone backs up nothing to the provisioning server.
	BackupNone = "none"
)

// Model is one phone model and what is known of how it boots. Facts listed
// in a file's [common] table are appended to every model of that file.
type Model struct {
	// Vendor is the file's vendor, filled in by the loader.
	Vendor string `toml:"-"`
	// File is the base name of the file the model came from.
	File string `toml:"-"`
	// Name is the model as the vendor writes it: "J179", "CP-7841-3PCC".
	Name string `toml:"model"`
	// Series groups models that boot alike: "J100", "96x1", "79xx".
	Series string `toml:"series"`
	// Signalling lists the call-control protocols the model's loads speak.
	Signalling []Fact[string] `toml:"signalling"`
	// OUIs are MAC prefixes ("00:04:0d") of the vendor's or model's phones.
	OUIs []Fact[string] `toml:"ouis"`
	// VendorClasses are the option 60 values seen from the model.
	VendorClasses []VendorClass `toml:"option60"`
	// ParamRequest are option 55 lists the model sends.
	ParamRequest []Fact[[]int] `toml:"option55"`
	// MaxMessageSize is option 57 as the model sends it.
	MaxMessageSize []Fact[int] `toml:"option57"`
	// HostName describes option 12: a pattern such as "AVohhhhhh" or
	// "SEP<MAC>".
	HostName []Fact[string] `toml:"hostname"`
	// UserAgents are HTTP User-Agent examples; control bytes are written
	// as \xNN in TOML literal strings and kept as written.
	UserAgents []Fact[string] `toml:"user_agent"`
	// FirmwareFiles are example firmware file names.
	FirmwareFiles []Fact[string] `toml:"firmware_file"`
	// FirstFiles are the files the model asks for first, in order.
	FirstFiles []Fact[string] `toml:"first_file"`
	// OptionsRead are DHCP options the model takes its file server or
	// settings from (66, 150, 176, 242, 43, 160, …).
	OptionsRead []Fact[int] `toml:"options_read"`
	// RequiresLeaseTime says whether an offer without option 51 is refused.
	RequiresLeaseTime []Fact[bool] `toml:"requires_option51"`
	// Backup is how user data is saved: http-put, ftp or none.
	Backup []Fact[string] `toml:"backup"`
	// VoiceVLAN says how DHCP can move the model to a voice VLAN.
	VoiceVLAN []Fact[string] `toml:"voice_vlan"`
	// TLSMax is the highest TLS version the model's HTTPS client offers:
	// "1.0", "1.1", "1.2" or "1.3".
	TLSMax []Fact[string] `toml:"tls_max"`
}

// file is one vendor file as written.
type file struct {
	Vendor  string            `toml:"vendor"`
	Sources map[string]Source `toml:"sources"`
	Common  Model             `toml:"common"`
	Models  []Model           `toml:"model"`
}

// Table is every model of every vendor file, in file then entry order.
type Table struct {
	// Models lists the entries.
	Models []Model
}

// Find returns the model of that vendor and name, ignoring case.
func (t Table) Find(vendor, name string) (Model, bool) {
	for _, m := range t.Models {
		if strings.EqualFold(m.Vendor, vendor) && strings.EqualFold(m.Name, name) {
			return m, true
		}
	}
	return Model{}, false
}

// ModuleRoot finds the directory holding go.mod at or above start.
func ModuleRoot(start string) (string, error) {
	dir, err := filepath.Abs(start)
	if err != nil {
		return "", fmt.Errorf("module root from %s: %w", start, err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("module root: no go.mod at or above %s", start)
		}
		dir = parent
	}
}

// Dir is the table's directory inside the module rooted at root.
func Dir(root string) string { return filepath.Join(root, "testdata", "phones") }

// LoadDir reads and validates every *.toml file in dir. Every problem found
// is reported, each with its file and model.
func LoadDir(dir string) (Table, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.toml"))
	if err != nil {
		return Table{}, fmt.Errorf("phone facts in %s: %w", dir, err)
	}
	if len(names) == 0 {
		return Table{}, fmt.Errorf("phone facts: no *.toml file in %s", dir)
	}
	sort.Strings(names)
	var t Table
	var errs []error
	seen := map[string]string{}
	for _, name := range names {
		models, err := loadFile(name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, m := range models {
			key := strings.ToLower(m.Vendor + "/" + m.Name)
			if prev, dup := seen[key]; dup {
				errs = append(errs, fmt.Errorf("%s: model %s %s already defined in %s", m.File, m.Vendor, m.Name, prev))
				continue
			}
			seen[key] = m.File
			t.Models = append(t.Models, m)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Table{}, err
	}
	return t, nil
}

// loadFile decodes and validates one vendor file.
func loadFile(path string) ([]Model, error) {
	base := filepath.Base(path)
	var f file
	md, err := toml.DecodeFile(path, &f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", base, err)
	}
	var errs []error
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		errs = append(errs, fmt.Errorf("%s: unknown keys: %s", base, strings.Join(keys, ", ")))
	}
	if strings.TrimSpace(f.Vendor) == "" {
		errs = append(errs, fmt.Errorf("%s: vendor is missing", base))
	}
	if len(f.Models) == 0 {
		errs = append(errs, fmt.Errorf("%s: no [[model]] entry", base))
	}
	for id, s := range f.Sources {
		s.ID = id
		f.Sources[id] = s
		if err := checkSource(s); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", base, err))
		}
	}
	v := validator{sources: f.Sources}
	if f.Common.Name != "" || f.Common.Series != "" {
		errs = append(errs, fmt.Errorf("%s: [common] holds facts only, not model or series", base))
	}
	v.model(&f.Common)
	for _, err := range v.errs {
		errs = append(errs, fmt.Errorf("%s: [common]: %w", base, err))
	}
	models := make([]Model, 0, len(f.Models))
	for i := range f.Models {
		m := f.Models[i]
		v.errs = nil
		if strings.TrimSpace(m.Name) == "" {
			v.errs = append(v.errs, fmt.Errorf("model name is missing"))
		}
		v.model(&m)
		if m.facts() == 0 {
			v.errs = append(v.errs, fmt.Errorf("no facts"))
		}
		for _, err := range v.errs {
			errs = append(errs, fmt.Errorf("%s: model %d (%s): %w", base, i+1, m.Name, err))
		}
		m.Vendor, m.File = f.Vendor, base
		m.merge(f.Common)
		models = append(models, m)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return models, nil
}

// facts counts the model's facts.
func (m Model) facts() int {
	return len(m.Signalling) + len(m.OUIs) + len(m.VendorClasses) + len(m.ParamRequest) +
		len(m.MaxMessageSize) + len(m.HostName) + len(m.UserAgents) + len(m.FirmwareFiles) +
		len(m.FirstFiles) + len(m.OptionsRead) + len(m.RequiresLeaseTime) + len(m.Backup) + len(m.VoiceVLAN) +
		len(m.TLSMax)
}

// merge appends the file's common facts.
func (m *Model) merge(c Model) {
	m.Signalling = append(m.Signalling, c.Signalling...)
	m.OUIs = append(m.OUIs, c.OUIs...)
	m.VendorClasses = append(m.VendorClasses, c.VendorClasses...)
	m.ParamRequest = append(m.ParamRequest, c.ParamRequest...)
	m.MaxMessageSize = append(m.MaxMessageSize, c.MaxMessageSize...)
	m.HostName = append(m.HostName, c.HostName...)
	m.UserAgents = append(m.UserAgents, c.UserAgents...)
	m.FirmwareFiles = append(m.FirmwareFiles, c.FirmwareFiles...)
	m.FirstFiles = append(m.FirstFiles, c.FirstFiles...)
	m.OptionsRead = append(m.OptionsRead, c.OptionsRead...)
	m.RequiresLeaseTime = append(m.RequiresLeaseTime, c.RequiresLeaseTime...)
	m.Backup = append(m.Backup, c.Backup...)
	m.VoiceVLAN = append(m.VoiceVLAN, c.VoiceVLAN...)
	m.TLSMax = append(m.TLSMax, c.TLSMax...)
}

func checkSource(s Source) error {
	if strings.TrimSpace(s.Title) == "" {
		return fmt.Errorf("source %s: title is missing", s.ID)
	}
	if s.URL == "" && (s.Repo == "" || s.Path == "") {
		return fmt.Errorf("source %s: needs url, or repo and path", s.ID)
	}
	if s.URL != "" && !strings.HasPrefix(s.URL, "http://") && !strings.HasPrefix(s.URL, "https://") {
		return fmt.Errorf("source %s: url %q is not http(s)", s.ID, s.URL)
	}
	if s.Repo != "" && strings.Count(s.Repo, "/") != 1 {
		return fmt.Errorf("source %s: repo %q is not owner/name", s.ID, s.Repo)
	}
	if s.Commit != "" && !commitRE.MatchString(s.Commit) {
		return fmt.Errorf("source %s: commit %q is not 40 hex digits", s.ID, s.Commit)
	}
	return nil
}

var (
	commitRE = regexp.MustCompile(`^[0-9a-f]{40}$`)
	ouiRE    = regexp.MustCompile(`^[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}$`)
)

// validator checks facts and resolves their sources, collecting errors.
type validator struct {
	sources map[string]Source
	errs    []error
}

func (v *validator) fail(field string, i int, format string, args ...any) {
	v.errs = append(v.errs, fmt.Errorf("%s[%d]: %s", field, i, fmt.Sprintf(format, args...)))
}

// provenance checks that p is sourced xor unconfirmed and resolves it.
func (v *validator) provenance(field string, i int, p *Provenance) {
	switch {
	case p.Source != "" && p.Unconfirmed:
		v.fail(field, i, "has a source and is marked unconfirmed: choose one")
	case p.Source == "" && !p.Unconfirmed:
		v.fail(field, i, "has no source and is not marked unconfirmed = true")
	case p.Unconfirmed && strings.TrimSpace(p.Note) == "":
		v.fail(field, i, "is unconfirmed without a note saying why it is believed")
	case p.Source != "":
		s, ok := v.sources[p.Source]
		if !ok {
			v.fail(field, i, "source %q is not in [sources]", p.Source)
			return
		}
		p.Ref = s
	}
}

func checkFacts[T any](v *validator, field string, fs []Fact[T], check func(T) error) {
	for i := range fs {
		v.provenance(field, i, &fs[i].Provenance)
		if err := check(fs[i].Value); err != nil {
			v.fail(field, i, "%v", err)
		}
	}
}

func nonEmpty(s string) error {
	if strings.TrimSpace(s) == "" {
		return errors.New("value is missing")
	}
	return nil
}

func oneOf(allowed ...string) func(string) error {
	return func(s string) error {
		if !slices.Contains(allowed, s) {
			return fmt.Errorf("value %q is not one of %s", s, strings.Join(allowed, ", "))
		}
		return nil
	}
}

func optionCode(n int) error {
	if n < 1 || n > 254 {
		return fmt.Errorf("option %d is outside 1..254", n)
	}
	return nil
}

// model checks every fact of m in place.
func (v *validator) model(m *Model) {
	checkFacts(v, "signalling", m.Signalling, oneOf(SigH323, SigSIP, SigSCCP, SigMiNet, SigUNIStim))
	checkFacts(v, "ouis", m.OUIs, func(s string) error {
		if !ouiRE.MatchString(s) {
			return fmt.Errorf("MAC prefix %q is not three lower-case hex bytes joined by ':'", s)
		}
		return nil
	})
	for i := range m.VendorClasses {
		vc := &m.VendorClasses[i]
		v.provenance("option60", i, &vc.Provenance)
		b, err := hex.DecodeString(strings.ReplaceAll(vc.Hex, " ", ""))
		switch {
		case err != nil:
			v.fail("option60", i, "hex: %v", err)
		case len(b) == 0 || len(b) > 255:
			v.fail("option60", i, "%d bytes: an option holds 1..255", len(b))
		case vc.Text != "" && vc.Text != Render(b):
			v.fail("option60", i, "text %q does not match hex, which reads %q", vc.Text, Render(b))
		}
		vc.Bytes = b
		if vc.Match == "" {
			vc.Match = MatchExact
		}
		if err := oneOf(string(MatchExact), string(MatchPrefix), string(MatchSuffix))(string(vc.Match)); err != nil {
			v.fail("option60", i, "match: %v", err)
		}
	}
	checkFacts(v, "option55", m.ParamRequest, func(l []int) error {
		if len(l) == 0 {
			return errors.New("empty list")
		}
		for _, n := range l {
			if err := optionCode(n); err != nil {
				return err
			}
		}
		return nil
	})
	checkFacts(v, "option57", m.MaxMessageSize, func(n int) error {
		if n < 576 || n > 65535 {
			return fmt.Errorf("size %d is outside 576..65535", n)
		}
		return nil
	})
	checkFacts(v, "hostname", m.HostName, nonEmpty)
	checkFacts(v, "user_agent", m.UserAgents, nonEmpty)
	checkFacts(v, "firmware_file", m.FirmwareFiles, nonEmpty)
	checkFacts(v, "first_file", m.FirstFiles, nonEmpty)
	checkFacts(v, "options_read", m.OptionsRead, optionCode)
	checkFacts(v, "requires_option51", m.RequiresLeaseTime, func(bool) error { return nil })
	checkFacts(v, "backup", m.Backup, oneOf(BackupHTTPPut, BackupFTP, BackupNone))
	checkFacts(v, "voice_vlan", m.VoiceVLAN, nonEmpty)
	checkFacts(v, "tls_max", m.TLSMax, oneOf("1.0", "1.1", "1.2", "1.3"))
}

// Render writes bytes as VendorClass.Text does: printable ASCII as is, a
// backslash doubled, anything else as \xNN.
func Render(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		switch {
		case c == '\\':
			sb.WriteString(`\\`)
		case c >= 0x20 && c < 0x7f:
			sb.WriteByte(c)
		default:
			fmt.Fprintf(&sb, `\x%02x`, c)
		}
	}
	return sb.String()
}
