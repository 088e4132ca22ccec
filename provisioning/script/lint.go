package script

import (
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"
)

// Severity says how bad a finding is.
type Severity uint8

// Severities. An Error is something a phone would get wrong; a Warning may be
// intended but is worth a look.
const (
	Error Severity = iota
	Warning
)

// String is "error" or "warning".
func (s Severity) String() string {
	if s == Error {
		return "error"
	}
	return "warning"
}

// Finding is one problem in one script.
type Finding struct {
	File     string
	Line     int // 1-based; 0 for the file as a whole
	Severity Severity
	Message  string
}

// String is "file:line: severity: message", as compilers write it.
func (f Finding) String() string {
	if f.Line > 0 {
		return fmt.Sprintf("%s:%d: %s: %s", f.File, f.Line, f.Severity, f.Message)
	}
	return fmt.Sprintf("%s: %s: %s", f.File, f.Severity, f.Message)
}

// SortFindings orders findings by file, then line, then message.
func SortFindings(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Message < b.Message
	})
}

// LintOptions say what to check a script against.
type LintOptions struct {
	// File names the script in findings.
	File string
	// Exists says whether the file server has a name (for APPNAME, GET and
	// the like). Nil skips those checks.
	Exists func(name string) bool
}

// knownVariables are the variables phones are documented, or seen in field
// scripts, to offer to IF. Sources: 4600 and 9600 admin guides (GROUP,
// MACADDR, MODEL, MODEL4; before 6.0 BOOTNAME and SIG; VPNACTIVE from 3.1);
// J100 admin guide R4.1, "Contents of the settings file" (GROUP, MACADDR,
// MODEL, MODEL4); Avaya's J100Supgrade.txt in wazo-provd-plugins
// (plugins/wazo_avaya/v4_1_3/var/tftpboot/J100Supgrade.txt: HWVERS); the
// project reference (SERIALNO). Unconfirmed, seen in field scripts and
// accepted leniently: SIG_IN_USE and APPNAME_IN_USE (96x1 from 6.0), HWVER.
// An IF on any other variable is valid: the phone ignores the line, which
// Lint points out as a warning since it is usually a typing mistake.
var knownVariables = map[string]bool{
	"GROUP": true, "MACADDR": true, "MODEL": true, "MODEL4": true, "SIG": true,
	"BOOTNAME": true, "HWVERS": true, "HWVER": true, "SERIALNO": true,
	"VPNACTIVE": true, "SIG_IN_USE": true, "APPNAME_IN_USE": true,
}

// knownParameters are settings-file parameter names Lint knows, so that a
// near miss (the same letters with underscores left out or added) can be
// pointed out. Sources: the project reference ("Key settings": SIG,
// HTTPSRVR, HTTPDIR, TLSSRVR, TLSDIR, TRUSTCERTS, BRURI, BRAUTH, GROUP,
// APPNAME, SCREENSAVER, AUTOMATIC_UPDATE_POLICY); Avaya's J100Supgrade.txt
// in wazo-provd-plugins (JEM24_APPNAME) and its settings template
// plugins/wazo_avaya/common/templates/base-J100series.tpl (SNTPSRVR,
// SIP_CONTROLLER_LIST, ENABLE_WEBSERVER, FORCE_WEB_ADMIN_PASSWORD). ADMIN_PASSWORD
// and AADS_URL are named in issue 11 as J100 settings: unconfirmed, known
// so that no near-miss warning ever fires on them.
var knownParameters = []string{
	"SIG", "HTTPSRVR", "HTTPDIR", "HTTPPORT", "TLSSRVR", "TLSDIR", "TLSPORT", "TRUSTCERTS", "BRURI", "BRAUTH",
	"GROUP", "APPNAME", "JEM24_APPNAME", "SCREENSAVER", "SCREENSAVERON", "AUTOMATIC_UPDATE_POLICY", "SNTPSRVR",
	"SIP_CONTROLLER_LIST", "ENABLE_WEBSERVER", "FORCE_WEB_ADMIN_PASSWORD", "ADMIN_PASSWORD", "AADS_URL",
}

// nearMiss returns the known parameter a name seems meant as: the same
// letters and digits when underscores and case are ignored.
func nearMiss(name string) (string, bool) {
	squash := func(s string) string { return strings.ToUpper(strings.ReplaceAll(s, "_", "")) }
	for _, k := range knownParameters {
		if k != strings.ToUpper(name) && squash(k) == squash(name) {
			return k, true
		}
	}
	return "", false
}

// fileSettings are parameters whose value names files the phone fetches
// from the same server (comma-separated lists allowed).
var fileSettings = regexp.MustCompile(`^(?:[A-Z0-9_]*APPNAME|TRUSTCERTS|LANG[0-9]FILE|LANGUAGES)$`)

// Lint checks one script and returns its findings in line order.
func Lint(s *Script, opts LintOptions) []Finding {
	var out []Finding
	add := func(line int, sev Severity, format string, args ...any) {
		out = append(out, Finding{File: opts.File, Line: line, Severity: sev, Message: fmt.Sprintf(format, args...)})
	}
	labels := s.Labels()
	folded := map[string]string{} // upper-case tag → tag as written
	for tag := range labels {
		folded[strings.ToUpper(tag)] = tag
	}
	seen := map[string]int{}
	for _, l := range s.Lines {
		if l.Kind != Label {
			continue
		}
		if first, dup := seen[l.Name]; dup {
			add(l.Num, Warning, "label %q is also on line %d; GOTO goes to the first", l.Name, first)
			continue
		}
		seen[l.Name] = l.Num
	}
	for i, l := range s.Lines {
		switch l.Kind {
		case Invalid:
			add(l.Num, Error, "%s", l.Err)
		case Goto, If:
			checkTarget(s, l, i, labels, folded, add)
			if l.Kind == If && !knownVariables[strings.ToUpper(l.Name)] {
				add(l.Num, Warning, "$%s is not a variable phones are documented to have; they ignore IF lines on unknown variables", l.Name)
			}
		case Set, Add:
			if l.Name != strings.ToUpper(l.Name) {
				add(l.Num, Warning, "parameter %s is not in upper case; phone parameter names are", l.Name)
			}
			if k, ok := nearMiss(l.Name); ok {
				add(l.Num, Warning, "parameter %s is not one phones know; did you mean %s?", l.Name, k)
			}
			if fileSettings.MatchString(strings.ToUpper(l.Name)) {
				checkFiles(l, opts.Exists, add)
			}
		case Get:
			checkGet(l, opts, add)
		}
	}
	SortFindings(out)
	return out
}

func checkTarget(s *Script, l Line, i int, labels map[string]int, folded map[string]string, add func(int, Severity, string, ...any)) {
	target, ok := labels[l.Target]
	if !ok {
		if other, ok := folded[strings.ToUpper(l.Target)]; ok {
			add(l.Num, Warning, "label %q only matches %q when case is ignored; write it as in the label", l.Target, other)
			return
		}
		hint := ""
		if n := lookalikeLabel(s, l.Target); n > 0 {
			hint = fmt.Sprintf(" (line %d looks like it, but a label is exactly \"# %s\")", n, l.Target)
		}
		add(l.Num, Error, "%s to missing label %q: a phone ignores the rest of the file%s", l.Kind, l.Target, hint)
		return
	}
	if l.Kind == Goto && target < i {
		add(l.Num, Warning, "GOTO back to line %d: a phone may loop", s.Lines[target].Num)
	}
}

// lookalikeLabel finds a comment that was probably meant as the label tag.
func lookalikeLabel(s *Script, tag string) int {
	for _, l := range s.Lines {
		if l.Kind != Comment {
			continue
		}
		t := strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(l.Text), "#"))
		if strings.EqualFold(t, tag) {
			return l.Num
		}
	}
	return 0
}

// external reports names the linter cannot check: URLs and names built
// from $VARIABLES at run time.
func external(name string) bool {
	return strings.Contains(name, "://") || strings.Contains(name, "$")
}

func checkFiles(l Line, exists func(string) bool, add func(int, Severity, string, ...any)) {
	if exists == nil {
		return
	}
	sev := Warning
	what := "the phone will fail to fetch it"
	if strings.HasSuffix(strings.ToUpper(l.Name), "APPNAME") {
		sev, what = Error, "phones will ask for firmware that is not there"
	}
	for _, name := range strings.Split(l.Value, ",") {
		name = strings.TrimSpace(name)
		if name == "" || external(name) {
			continue
		}
		if !exists(name) {
			add(l.Num, sev, "%s names %s, which the server does not have: %s", l.Name, name, what)
		}
	}
}

func checkGet(l Line, opts LintOptions, add func(int, Severity, string, ...any)) {
	if external(l.Value) {
		return
	}
	if opts.File != "" && strings.EqualFold(path.Base(l.Value), path.Base(opts.File)) {
		add(l.Num, Error, "GET of the file itself: a phone would read it again and again")
		return
	}
	if opts.Exists != nil && !opts.Exists(l.Value) {
		add(l.Num, Warning, "GET %s: the server does not have it (phones then read on here)", l.Value)
	}
}
