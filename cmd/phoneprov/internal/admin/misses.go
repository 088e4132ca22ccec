package admin

import (
	"net/http"
	"path"
	"regexp"
	"slices"
	"strings"
)

// ExpectedMiss is a kind of file that phones ask for by design and that a
// healthy appliance may well not have: a per-phone file the operator did
// not place, the restore a phone tries before its first backup. Answered
// 404, such a request is information, not an error.
type ExpectedMiss struct {
	ID string `json:"id"`
	// Pattern is matched against the base name of what was asked for,
	// without its folders.
	Pattern string `json:"pattern"`
	What    string `json:"what"`
	// Sources are where the fact that phones ask for such names comes
	// from (repository and path, or manual and page); Unconfirmed, when
	// set, says why the pattern is believed without one.
	Sources     []string `json:"sources,omitempty"`
	Unconfirmed string   `json:"unconfirmed,omitempty"`

	re *regexp.Regexp
}

// wazo is the public project most per-phone file names come from.
const wazo = "wazo-platform/wazo-provd-plugins "

// expectedMisses is the documented list, first match wins. Most facts
// are the first_file and backup facts of testdata/phones/*.toml, which
// cite the same sources.
func expectedMisses() []ExpectedMiss {
	list := []ExpectedMiss{
		{ID: "polycom-master", Pattern: `^0{12}\.cfg$`,
			What:    "Polycom's master configuration file 000000000000.cfg",
			Sources: []string{wazo + "dhcp/dhcp/dhcpd_update/polycom.conf (option 66 points at it)"}},
		{ID: "mac-cfg", Pattern: `(?i)^[0-9a-f]{12}\.cfg$`,
			What: "a per-phone <mac>.cfg not placed (Polycom, Yealink, Aastra/Mitel, Cisco MPP under /Cisco/CP-<model>-3PCC/)",
			Sources: []string{
				wazo + "plugins/wazo_polycom/common/common.py (_PATH_REGEX)",
				wazo + "plugins/wazo_yealink/common/common.py (_dev_specific_filename)",
				wazo + "plugins/wazo_aastra/common/common.py (_SENSITIVE_FILENAME_REGEX)",
				wazo + "plugins/wazo_cisco_sip/v11_3_1/common.py (_MACFILE_REGEX)",
			}},
		{ID: "cisco-sep", Pattern: `(?i)^(SEP|ITLSEP|CTLSEP)[0-9a-f]{12}\.(cnf\.xml|tlv)$`,
			What:    "Cisco's SEP<MAC>.cnf.xml, ITLSEP<MAC>.tlv and CTLSEP<MAC>.tlv",
			Sources: []string{wazo + "plugins/wazo_cisco_sccp/common/common.py (TFTP _FILENAME_REGEXES)"}},
		{ID: "cisco-itl-ctl", Pattern: `(?i)^(ITL|CTL)File\.tlv$`,
			What:        "Cisco's trust lists ITLFile.tlv and CTLFile.tlv",
			Unconfirmed: "widely seen in Cisco phones' TFTP requests; no source read here names them"},
		{ID: "cisco-mpp-model", Pattern: `(?i)^[0-9]{4}-3PCC\.xml$`,
			What:    "Cisco MPP's model file <model>-3PCC.xml",
			Sources: []string{wazo + "plugins/wazo_cisco_sip/v11_3_1/entry.py (_COMMON_FILENAMES)"}},
		{ID: "grandstream", Pattern: `(?i)^cfg[0-9a-f]{12}(\.xml)?$`,
			What:    "Grandstream's per-phone cfg<mac>.xml",
			Sources: []string{wazo + "plugins/wazo_grandstream/common/common.py (_dev_specific_filename)"}},
		{ID: "snom", Pattern: `(?i)^(snom[0-9a-z]+-)?[0-9a-f]{12}\.(xml|htm)$|^snom[0-9a-z]+\.htm$`,
			What:    "snom's <MAC>.xml, snom<model>-<MAC>.htm and snom<model>.htm",
			Sources: []string{wazo + "plugins/wazo_snom/common/common.py (_dev_specific_filenames, common templates)"}},
		{ID: "avaya-phone-file", Pattern: `(?i)^[0-9a-f]{12}\.txt$`,
			What: "Avaya's per-phone <mac>.txt, which the generated settings GET for every phone",
			Sources: []string{
				"phoneprov provisioning/settings.go (GET $MACADDR.txt), after " + wazo + "plugins/wazo_avaya/v4_1_3/var/tftpboot/J100Supgrade.txt",
				"fusionpbx/fusionpbx resources/templates/provision/avaya/J100Supgrade.txt",
			}},
		{ID: "avaya-macaddr-literal", Pattern: `(?i)^\$MACADDR\.txt$`,
			What:        "$MACADDR.txt asked for literally, by a phone that does not expand $MACADDR in a GET",
			Unconfirmed: "phoneprov's fact generator/macaddr-in-get: only the J100 is documented to expand it"},
		{ID: "avaya-backup", Pattern: `(?i)^[0-9]+_[0-9a-z]+data(_sip)?\.txt$`,
			What: "an Avaya phone's first restore of <ext>_<type>data.txt, before its first backup",
			Sources: []string{
				"Avaya 1600 Series IP Deskphones Administrator Guide Issue 5, p.107 (<ext>_16xxdata.txt under BRURI)",
				"4600 Series IP Telephone LAN Administrator Guide R2.7, Backup/Restore (<ext>_4610data.txt, _sip.txt)",
			}},
	}
	for i := range list {
		list[i].re = regexp.MustCompile(list[i].Pattern)
	}
	return list
}

// matches reports whether name, without its folders, is of the kind.
func (m ExpectedMiss) matches(name string) bool {
	return m.re != nil && m.re.MatchString(path.Base(strings.ReplaceAll(name, "\\", "/")))
}

// missNamed is the entry of list with the ID, or a zero ExpectedMiss
// that matches nothing.
func missNamed(list []ExpectedMiss, id string) ExpectedMiss {
	if i := slices.IndexFunc(list, func(m ExpectedMiss) bool { return m.ID == id }); i >= 0 {
		return list[i]
	}
	return ExpectedMiss{}
}

// classify says what a finished request was: expected names the expected
// miss it is (a 404 on a name of the list); problem marks a request that
// needs the operator: answered 400 or worse and not an expected miss, or
// a transfer cut short (answered 200 with part of the file sent).
func classify(misses []ExpectedMiss, name string, status int, bytes, size int64) (expected string, problem bool) {
	if status == http.StatusNotFound {
		for _, m := range misses {
			if m.matches(name) {
				return m.ID, false
			}
		}
	}
	if status >= 400 {
		return "", true
	}
	// A HEAD answers 200 with no body: only a body begun and not ended
	// is a cut transfer.
	return "", status == http.StatusOK && bytes > 0 && size > 0 && bytes < size
}
