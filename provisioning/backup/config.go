package backup

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/phoneprov/phoneprov/internal/configcheck"
)

// Config is the [provisioning.backup] section of the configuration file.
type Config struct {
	// Enabled mounts the backup folder on the HTTP and HTTPS servers.
	Enabled bool `toml:"enabled"`
	// Path is the URL folder the phones' BRURI points to, like "/backup/".
	Path string `toml:"path"`
	// MaxBytes caps one uploaded file; larger uploads get 413. Phones'
	// backups are a few kilobytes (a 96xx file with a full contact list
	// stays well under 64 KiB).
	MaxBytes int64 `toml:"max_bytes"`
	// Versions is how many earlier versions of each file are kept besides the current one.
	Versions int `toml:"versions"`
	// MaxFiles caps how many different names may be stored; a new name
	// beyond it gets 507. With MaxBytes and Versions it bounds the disk the
	// folder can take: MaxFiles × MaxBytes × (Versions+1). 0, the default,
	// scales it with the fleet (FilesFor).
	MaxFiles int `toml:"max_files"`
	// NamePattern is the regular expression every file name must match. Names
	// starting with a dot, or holding a slash, are refused whatever it says.
	NamePattern string `toml:"name_pattern"`
	// RequireTLS refuses requests that did not come over HTTPS.
	RequireTLS bool `toml:"require_tls"`
	// RequireAvayaUserAgent refuses requests whose User-Agent does not contain
	// "AVAYA", like Avaya's own backup server.
	RequireAvayaUserAgent bool `toml:"require_avaya_user_agent"`
	// Users, when not empty, are the HTTP Basic credentials accepted. Avaya
	// phones send the call server's address as the user and the
	// registration password as the password, so one user may be listed with
	// several passwords.
	Users []User `toml:"users"`
	// ReplicateTo is the partner box's backup folder, like
	// "http://198.18.0.2/backup/": every phone's upload stored here is
	// copied there in the background, and stored there as a phone's
	// upload is (atomically, versioned). Empty: with [dhcp.ha] on, the
	// partner's peer address over HTTP at this box's HTTP port and path
	// (when HTTP is on and require_tls is off); else no copies.
	ReplicateTo string `toml:"replicate_to,omitempty"`
}

// User is one accepted pair of HTTP Basic credentials.
type User struct {
	Name     string `toml:"name"`
	Password string `toml:"password"`
}

// DefaultNamePattern admits the names phones use (1234_96xxdata.txt,
// 1234_16xxdata.txt, 1234_9610data.txt): letters, digits, dot, underscore
// and dash, at most 128 characters, not starting with a dot.
const DefaultNamePattern = `^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$`

// maxNameBytes bounds every name whatever the pattern says, so the
// temporary and version names built from it stay under the file system's
// 255-byte limit.
const maxNameBytes = 200

// MinFiles is the least max_files = 0 allows: a fixed cap of 5000 made a
// 6,000-phone site's backups fail, so the cap follows the fleet above it.
const MinFiles = 5000

// FilesFor returns the cap on stored names for a fleet of phones:
// configcheck.FleetCap (a phone replaced, or moved to another extension,
// leaves its old file).
func (c Config) FilesFor(fleet int) int { return configcheck.FleetCap(c.MaxFiles, MinFiles, fleet) }

// DefaultConfig returns the built-in defaults: enabled at /backup/, 128 KiB
// per file, as many files as FilesFor allows, three earlier versions kept
// (for 5000 files at most 2.5 GiB of disk), no credentials required.
func DefaultConfig() Config {
	return Config{
		Enabled:     true,
		Path:        "/backup/",
		MaxBytes:    128 << 10,
		Versions:    3,
		NamePattern: DefaultNamePattern,
		Users:       []User{},
	}
}

// Validate reports every problem with c, keyed relative to [provisioning.backup].
func (c Config) Validate(report func(key string, err error)) {
	if err := validPath(c.Path); err != nil {
		report("path", err)
	}
	if c.MaxBytes < 1 || c.MaxBytes > 1<<30 {
		report("max_bytes", fmt.Errorf("%d is outside 1..1073741824", c.MaxBytes))
	}
	if c.Versions < 0 || c.Versions > 100 {
		report("versions", fmt.Errorf("%d is outside 0..100", c.Versions))
	}
	if c.MaxFiles < 0 {
		report("max_files", fmt.Errorf("%d is negative (0 scales it with the DHCP pools)", c.MaxFiles))
	}
	if c.NamePattern == "" {
		report("name_pattern", errors.New("must not be empty (the default is "+DefaultNamePattern+")"))
	} else if _, err := regexp.Compile(c.NamePattern); err != nil {
		report("name_pattern", fmt.Errorf("not a regular expression: %w", err))
	}
	if c.ReplicateTo != "" {
		if err := validReplicaURL(c.ReplicateTo); err != nil {
			report("replicate_to", err)
		}
	}
	seen := map[User]bool{}
	for i, u := range c.Users {
		key := fmt.Sprintf("users[%d]", i)
		switch {
		case u.Name == "":
			report(key+".name", errors.New("must not be empty"))
		case strings.Contains(u.Name, ":"):
			report(key+".name", fmt.Errorf("%q holds a colon, which HTTP Basic credentials cannot carry in a user name", u.Name))
		}
		if u.Password == "" {
			report(key+".password", errors.New("must not be empty"))
		}
		if seen[u] {
			report(key, fmt.Errorf("user %q with this password is listed twice", u.Name))
		}
		seen[u] = true
	}
}

func validPath(p string) error {
	switch {
	case !strings.HasPrefix(p, "/") || !strings.HasSuffix(p, "/") || len(p) < 3:
		return fmt.Errorf("%q must be a folder like \"/backup/\": start and end with a slash", p)
	case strings.Contains(p, "//") || strings.Contains(p, "/./") || strings.Contains(p, "/../"):
		return fmt.Errorf("%q must be a clean path (no //, /./ or /../)", p)
	case strings.ContainsAny(p, "?#% \\"):
		return fmt.Errorf("%q must not hold ?, #, %%, spaces or backslashes", p)
	}
	return nil
}

func validReplicaURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return fmt.Errorf("%q is not a URL: %w", s, err)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("%q: the scheme must be http or https", s)
	case u.Host == "":
		return fmt.Errorf("%q: give the partner's address, like http://198.18.0.2/backup/", s)
	case !strings.HasSuffix(u.Path, "/") || u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("%q must be a folder ending in a slash, like http://198.18.0.2/backup/", s)
	}
	return nil
}
