package provisioning

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/phoneprov/phoneprov/provisioning/firmware"
	"github.com/phoneprov/phoneprov/provisioning/script"
)

// Config is the [provisioning] section: what the generated settings file,
// upgrade scripts and per-phone files say.
type Config struct {
	// GenerateSettings makes 46xxsettings.txt when the file tree has none.
	GenerateSettings bool `toml:"generate_settings"`
	// GenerateUpgrade makes each series' upgrade script when the tree has
	// none, naming the newest firmware present for each model.
	GenerateUpgrade bool `toml:"generate_upgrade"`
	// HTTPSPort is the port BRURI names; it must be one the file server's
	// HTTPS listens on.
	HTTPSPort int `toml:"https_port"`
	// BackupPath is the path of the backup service on HTTPS, for BRURI;
	// empty leaves BRURI out.
	BackupPath string `toml:"backup_path"`
	// SkipAuto names values the appliance fills in (HTTPSRVR, TLSSRVR,
	// TRUSTCERTS, BRURI) that should be left out altogether. Setting one in
	// Settings replaces it instead.
	SkipAuto []string `toml:"skip_auto"`
	// Settings are SETs for every phone.
	Settings Settings `toml:"settings"`
	// Groups are SETs for phones whose GROUP matches.
	Groups []GroupConfig `toml:"group"`
	// Models are SETs for phones whose MODEL4 matches.
	Models []ModelConfig `toml:"model"`
	// Phones are per-phone files, <mac>.txt.
	Phones []PhoneConfig `toml:"phone"`
	// Firmware describes firmware files whose names are not recognised.
	Firmware []FirmwareConfig `toml:"firmware"`
	// Pin chooses the firmware file for a model (by MODEL4) instead of
	// the newest present.
	Pin map[string]string `toml:"pin"`
}

// Settings are phone parameters by name.
type Settings map[string]Value

// Value is a setting's value. The configuration may write it as a string,
// a number, a boolean (true is 1, false 0), or an array (joined with
// commas, as TRUSTCERTS and other lists are written).
type Value string

// UnmarshalTOML implements toml.Unmarshaler.
func (v *Value) UnmarshalTOML(data any) error {
	s, err := valueString(data)
	if err != nil {
		return err
	}
	*v = Value(s)
	return nil
}

func valueString(data any) (string, error) {
	switch d := data.(type) {
	case string:
		return d, nil
	case int64:
		return strconv.FormatInt(d, 10), nil
	case float64:
		return strconv.FormatFloat(d, 'f', -1, 64), nil
	case bool:
		if d {
			return "1", nil
		}
		return "0", nil
	case []any:
		parts := make([]string, len(d))
		for i, e := range d {
			s, err := valueString(e)
			if err != nil {
				return "", err
			}
			if strings.Contains(s, ",") {
				return "", fmt.Errorf("list item %q holds a comma, which separates list items", s)
			}
			parts[i] = s
		}
		return strings.Join(parts, ","), nil
	}
	return "", fmt.Errorf("a setting is a string, number, boolean or list, not %T", data)
}

// GroupConfig is one [[provisioning.group]]: settings for GROUP n.
type GroupConfig struct {
	Group    int      `toml:"group"`
	Settings Settings `toml:"settings"`
}

// ModelConfig is one [[provisioning.model]]: settings for one MODEL4.
type ModelConfig struct {
	Model    Value    `toml:"model"`
	Settings Settings `toml:"settings"`
}

// PhoneConfig is one [[provisioning.phone]]: the file <mac>.txt.
type PhoneConfig struct {
	MAC string `toml:"mac"`
	// Name is a note for people; it appears as a comment in the file.
	Name     string   `toml:"name"`
	Settings Settings `toml:"settings"`
}

// FirmwareConfig is one [[provisioning.firmware]]: what a firmware file is,
// for names the built-in rules do not know.
type FirmwareConfig struct {
	File       string  `toml:"file"`
	Series     string  `toml:"series"`     // 46xx, 16xx, 96xx, 96x1H, 96x1S, J100, K100
	Models     []Value `toml:"models"`     // MODEL4 values; empty: every model of the series
	Version    string  `toml:"version"`    // for choosing the newest; may be empty
	Setting    string  `toml:"setting"`    // empty: APPNAME
	Signalling string  `toml:"signalling"` // h323 or sip; empty: the series' default
}

// DefaultConfig generates everything, with BRURI on the standard HTTPS port.
func DefaultConfig() Config {
	return Config{
		GenerateSettings: true,
		GenerateUpgrade:  true,
		HTTPSPort:        443,
		BackupPath:       "/backup/",
		SkipAuto:         []string{},
		Settings:         Settings{},
		Pin:              map[string]string{},
	}
}

// The values the appliance fills in.
const (
	autoHTTPSRVR   = "HTTPSRVR"
	autoTLSSRVR    = "TLSSRVR"
	autoTRUSTCERTS = "TRUSTCERTS"
	autoBRURI      = "BRURI"
)

var autoNames = []string{autoHTTPSRVR, autoTLSSRVR, autoTRUSTCERTS, autoBRURI}

// maxValueLen bounds one value; the longest real ones (language lists) are
// a few hundred characters, so more is a mistake such as a pasted file.
const maxValueLen = 2000

// Validate reports every problem with c, keyed relative to [provisioning].
func (c Config) Validate(report func(key string, err error)) {
	if c.HTTPSPort < 1 || c.HTTPSPort > 65535 {
		report("https_port", fmt.Errorf("%d is not a port (1..65535)", c.HTTPSPort))
	}
	if c.BackupPath != "" {
		if !strings.HasPrefix(c.BackupPath, "/") {
			report("backup_path", fmt.Errorf("%q must start with /", c.BackupPath))
		} else if strings.ContainsAny(c.BackupPath, " \t\"?#") || script.CheckValue(c.BackupPath) != nil {
			report("backup_path", fmt.Errorf("%q must be a plain URL path (no spaces, quotes, ? or #)", c.BackupPath))
		}
	}
	for i, n := range c.SkipAuto {
		if !slices.Contains(autoNames, n) {
			report(fmt.Sprintf("skip_auto[%d]", i), fmt.Errorf("%q is not one of %s", n, strings.Join(autoNames, ", ")))
		}
	}
	validateSettings("settings", c.Settings, false, report)
	groups := map[int]int{}
	for i, g := range c.Groups {
		key := fmt.Sprintf("group[%d]", i)
		if g.Group < 0 || g.Group > 999 {
			report(key+".group", fmt.Errorf("%d is not a GROUP (0..999)", g.Group))
		}
		if j, dup := groups[g.Group]; dup {
			report(key+".group", fmt.Errorf("group %d is also group[%d]; merge their settings", g.Group, j))
		}
		groups[g.Group] = i
		validateSettings(key+".settings", g.Settings, false, report)
	}
	models := map[string]int{}
	for i, m := range c.Models {
		key := fmt.Sprintf("model[%d]", i)
		name := strings.ToUpper(string(m.Model))
		if !validModel(name) {
			report(key+".model", fmt.Errorf("%q is not a MODEL4 value like 9608 or J179", m.Model))
		}
		if j, dup := models[name]; dup {
			report(key+".model", fmt.Errorf("model %s is also model[%d]; merge their settings", name, j))
		}
		models[name] = i
		validateSettings(key+".settings", m.Settings, false, report)
	}
	macs := map[string]int{}
	for i, p := range c.Phones {
		key := fmt.Sprintf("phone[%d]", i)
		mac, err := NormalizeMAC(p.MAC)
		if err != nil {
			report(key+".mac", err)
		} else if j, dup := macs[mac]; dup {
			report(key+".mac", fmt.Errorf("%s is also phone[%d]", p.MAC, j))
		} else {
			macs[mac] = i
		}
		if err := script.CheckValue(p.Name); err != nil {
			report(key+".name", err)
		}
		validateSettings(key+".settings", p.Settings, true, report)
	}
	for i, f := range c.Firmware {
		validateFirmware(fmt.Sprintf("firmware[%d]", i), f, report)
	}
	for _, model := range slices.Sorted(maps.Keys(c.Pin)) {
		file := c.Pin[model]
		if !validModel(strings.ToUpper(model)) {
			report("pin."+model, fmt.Errorf("%q is not a MODEL4 value like 9608 or J179", model))
		}
		if !plainFileName(file) {
			report("pin."+model, fmt.Errorf("%q is not a file name at the top of the file tree", file))
		}
	}
}

func validModel(m string) bool {
	return len(m) >= 2 && len(m) <= 8 && script.ValidName(m) && !strings.Contains(m, "_")
}

// plainFileName is a name phones can be told in APPNAME: one path segment,
// no spaces or quotes, not hidden.
func plainFileName(s string) bool {
	return s != "" && !strings.ContainsAny(s, "/\\ \t\"") && !strings.HasPrefix(s, ".") && script.CheckValue(s) == nil
}

func validateSettings(prefix string, s Settings, perPhone bool, report func(string, error)) {
	for _, name := range slices.Sorted(maps.Keys(s)) {
		key := prefix + "." + name
		if !validSettingName(name) {
			report(key, fmt.Errorf("setting names are upper-case letters, digits and _ (like SNTPSRVR)"))
			continue
		}
		if !perPhone && strings.HasSuffix(name, "APPNAME") {
			report(key, errors.New("firmware is chosen per model by the upgrade scripts; use [provisioning.pin] to choose a file"))
			continue
		}
		v := string(s[name])
		if err := script.CheckValue(v); err != nil {
			report(key, err)
		} else if len(v) > maxValueLen {
			report(key, fmt.Errorf("value is %d characters long, more than %d", len(v), maxValueLen))
		}
	}
}

func validSettingName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

func validateFirmware(key string, f FirmwareConfig, report func(string, error)) {
	if !plainFileName(f.File) {
		report(key+".file", fmt.Errorf("%q is not a file name at the top of the file tree", f.File))
	}
	s, ok := firmware.ParseSeries(f.Series)
	if !ok {
		report(key+".series", fmt.Errorf("%q is not one of %s", f.Series, strings.Join(firmware.SeriesNames(), ", ")))
		return
	}
	info, _ := firmware.Lookup(s)
	for j, m := range f.Models {
		if !slices.Contains(info.Models, strings.ToUpper(string(m))) {
			report(fmt.Sprintf("%s.models[%d]", key, j), fmt.Errorf("%q is not a %s model (%s)", m, info.Series, strings.Join(info.Models, ", ")))
		}
	}
	if f.Version != "" {
		if _, ok := firmware.ParseVersion(f.Version); !ok {
			report(key+".version", fmt.Errorf("%q is not a version like 2.9.1", f.Version))
		}
	}
	if f.Setting != "" && (!validSettingName(f.Setting) || !strings.HasSuffix(f.Setting, "APPNAME")) {
		report(key+".setting", fmt.Errorf("%q is not an APPNAME-style setting (APPNAME, JEM24_APPNAME)", f.Setting))
	}
	switch firmware.Signalling(strings.ToLower(f.Signalling)) {
	case "":
	case firmware.H323, firmware.SIP:
		if sig := firmware.Signalling(strings.ToLower(f.Signalling)); !info.Dual && sig != info.Default {
			report(key+".signalling", fmt.Errorf("%s phones run %s firmware only", info.Series, info.Default))
		}
	default:
		report(key+".signalling", fmt.Errorf("%q is not h323 or sip", f.Signalling))
	}
}

// mappings turns the [[provisioning.firmware]] entries into firmware
// mappings. The configuration must have passed Validate.
func (c Config) mappings() []firmware.Mapping {
	var out []firmware.Mapping
	for _, f := range c.Firmware {
		s, _ := firmware.ParseSeries(f.Series)
		m := firmware.Mapping{File: f.File, Series: s, Setting: f.Setting, Signalling: firmware.Signalling(strings.ToLower(f.Signalling))}
		for _, model := range f.Models {
			m.Models = append(m.Models, strings.ToUpper(string(model)))
		}
		m.Version, _ = firmware.ParseVersion(f.Version)
		out = append(out, m)
	}
	return out
}

// NormalizeMAC reads a MAC address in any usual spelling (00:1b:4f:12:34:56,
// 00-1B-4F-12-34-56, 001b.4f12.3456, 001b4f123456) and returns it as J100
// phones name their file: 12 lower-case hex digits.
func NormalizeMAC(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f':
			b.WriteByte(c)
		case c >= 'A' && c <= 'F':
			b.WriteByte(c + 'a' - 'A')
		case c == ':' || c == '-' || c == '.':
		default:
			return "", fmt.Errorf("%q is not a MAC address (like 00:1b:4f:12:34:56)", s)
		}
	}
	if b.Len() != 12 {
		return "", fmt.Errorf("%q is not a MAC address: it has %d hex digits, not 12", s, b.Len())
	}
	return b.String(), nil
}

// PhoneFileName is the name of a phone's own file: <12 hex digits>.txt.
func PhoneFileName(mac string) (string, error) {
	m, err := NormalizeMAC(mac)
	if err != nil {
		return "", err
	}
	return m + ".txt", nil
}
