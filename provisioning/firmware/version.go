package firmware

import (
	"strconv"
	"strings"
)

// Version is a firmware version read from a file name: numbers and an
// optional trailing tag (R4_0_4_0_3b4033 is 4.0.4.0.3 tagged "b4033").
type Version struct {
	Parts []int
	Tag   string
}

// ParseVersion reads "4_1_4_0_5", "4.1.4.0.5" or "2_9_1" style versions, with
// an optional tag after the numbers ("3b4033", "_r", "_V474"). Leading zeros
// do not matter ("04" is 4). It returns false when s starts with no number.
func ParseVersion(s string) (Version, bool) {
	var v Version
	i := 0
	for i < len(s) {
		j := i
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j == i {
			break
		}
		n, err := strconv.Atoi(s[i:j])
		if err != nil { // absurdly long digit run
			return Version{}, false
		}
		v.Parts = append(v.Parts, n)
		i = j
		if i+1 < len(s) && (s[i] == '_' || s[i] == '.') && s[i+1] >= '0' && s[i+1] <= '9' {
			i++
			continue
		}
		break
	}
	if len(v.Parts) == 0 {
		return Version{}, false
	}
	v.Tag = strings.TrimLeft(s[i:], "_.-")
	return v, true
}

// String is the dotted form, with the tag after a '-' ("4.0.4.0.3-b4033").
func (v Version) String() string {
	if len(v.Parts) == 0 {
		return v.Tag
	}
	parts := make([]string, len(v.Parts))
	for i, p := range v.Parts {
		parts[i] = strconv.Itoa(p)
	}
	s := strings.Join(parts, ".")
	if v.Tag != "" {
		s += "-" + v.Tag
	}
	return s
}

// IsZero reports whether v holds no version.
func (v Version) IsZero() bool { return len(v.Parts) == 0 && v.Tag == "" }

// Compare orders versions numerically part by part (7.1.15 > 7.1.2); a
// version that is a prefix of another is the older (4.1 < 4.1.0.1). Equal
// numbers are ordered by tag, as text, so the order is total and stable.
func Compare(a, b Version) int {
	for i := 0; i < len(a.Parts) && i < len(b.Parts); i++ {
		if a.Parts[i] != b.Parts[i] {
			if a.Parts[i] < b.Parts[i] {
				return -1
			}
			return 1
		}
	}
	switch {
	case len(a.Parts) < len(b.Parts):
		return -1
	case len(a.Parts) > len(b.Parts):
		return 1
	}
	return strings.Compare(a.Tag, b.Tag)
}

// Canonical writes a firmware version the one way phoneprov shows and
// compares versions, whoever wrote it: the phone's User-Agent
// ("R7_1_15_0_4", "04.00.04.00"), a file name ("7_1_15_0_4_r") or a
// configuration entry ("2.9.1"). A leading R, S or V goes, parts are joined
// by dots without leading zeros, and a tag follows a '-' in lower case
// ("4.0.4.0.3-b4033"). A lone "r" tag, which the 96x1 file names carry
// after the version ("S96x1_SALBR7_1_15_0_4_r.tar"), is dropped: it is read
// as a release marker, not part of the version the phone reports
// (unconfirmed: no public source gives the meaning of the suffix). Text that
// holds no version comes back trimmed.
func Canonical(s string) string {
	t := strings.TrimSpace(s)
	if len(t) > 1 && strings.ContainsRune("rsvRSV", rune(t[0])) && t[1] >= '0' && t[1] <= '9' {
		t = t[1:]
	}
	v, ok := ParseVersion(t)
	if !ok {
		return strings.TrimSpace(s)
	}
	v.Tag = strings.ToLower(v.Tag)
	if v.Tag == "r" {
		v.Tag = ""
	}
	return v.String()
}
