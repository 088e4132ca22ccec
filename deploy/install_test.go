package deploy_test

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/phoneprov/phoneprov/deploy/internal/deploytest"
)

// Where the Debian root for the install test is kept between runs, and
// where it comes from. The mirror is the one apt uses on these machines;
// PHONEPROV_DEBIAN_MIRROR overrides it. Delete the cache folder to start
// from a new debootstrap.
const (
	rootCacheDir  = "/var/cache/phoneprov-test"
	rootSuite     = "bookworm"
	defaultMirror = "http://deb.debian.org/debian"
)

// TestDebInstallInDebianRoot installs the amd64 package into a minimal
// Debian bookworm (debootstrap --variant=minbase) with chroot and dpkg, no
// systemd running, and follows its life: install, check, the service user
// and its folders, an upgrade that keeps the administrator's configuration,
// data and choice to disable the service, remove, purge; then the Raspberry
// Pi first-boot installer on a root with a configuration written before the
// package came.
func TestDebInstallInDebianRoot(t *testing.T) {
	deploytest.NeedRoot(t)
	deploytest.NeedSlow(t)
	deploytest.NeedTools(t, "debootstrap", "chroot", "tar", "dpkg-deb")
	start := time.Now()
	dir := t.TempDir()
	debs := map[string]string{
		"1.0.0~test1": deploytest.BuildDebs(t, filepath.Join(dir, "v1"), "1.0.0~test1", "amd64")["amd64"],
		"1.0.0~test2": deploytest.BuildDebs(t, filepath.Join(dir, "v2"), "1.0.0~test2", "amd64")["amd64"],
	}
	root := debianRoot(t, filepath.Join(dir, "root"))
	r := &chrootRoot{t: t, dir: root}
	for v, deb := range debs {
		b, err := os.ReadFile(deb)
		if err != nil {
			t.Fatal(err)
		}
		r.write("/tmp/phoneprov_"+v+".deb", b, 0o644)
	}

	// A first install: no systemd here, so enabled by symlink, not started.
	r.run("dpkg", "-i", "/tmp/phoneprov_1.0.0~test1.deb")
	r.run("phoneprov", "check", "-c", "/etc/phoneprov/phoneprov.toml")
	uid, gid := r.serviceUser()
	r.wantOwnerMode("/var/lib/phoneprov", uid, gid, fs.ModeDir|0o750)
	r.wantOwnerMode("/etc/phoneprov/phoneprov.toml", 0, gid, 0o640)
	r.wantEnabled(true)
	// The service user reads the configuration and writes its data; others
	// read neither.
	r.runAs("phoneprov:phoneprov", "phoneprov", "check", "-c", "/etc/phoneprov/phoneprov.toml")
	r.runAs("phoneprov:phoneprov", "sh", "-c", "mkdir -p /var/lib/phoneprov/files && echo fw > /var/lib/phoneprov/files/fw.bin")
	if out, err := r.output("nobody:nogroup", "cat", "/etc/phoneprov/phoneprov.toml"); err == nil {
		t.Errorf("nobody can read the configuration:\n%s", out)
	}

	// The administrator edits the configuration and disables the service.
	edited := append(r.read("/etc/phoneprov/phoneprov.toml"), []byte("\n# local change\n")...)
	edited = bytes.Replace(edited, []byte(`level = "info"`), []byte(`level = "debug"`), 1)
	r.write("/etc/phoneprov/phoneprov.toml", edited, 0o640)
	r.run("phoneprov", "check", "-c", "/etc/phoneprov/phoneprov.toml")
	// What `systemctl disable phoneprov` does; systemctl is not in minbase.
	if err := os.Remove(r.path("/etc/systemd/system/multi-user.target.wants/phoneprov.service")); err != nil {
		t.Fatal(err)
	}

	// The upgrade keeps all three.
	r.run("dpkg", "-i", "/tmp/phoneprov_1.0.0~test2.deb")
	if v := strings.TrimSpace(r.run("dpkg-query", "-W", "-f", "${Version}", "phoneprov")); v != "1.0.0~test2" {
		t.Errorf("after the upgrade dpkg has version %q", v)
	}
	if got := r.read("/etc/phoneprov/phoneprov.toml"); !bytes.Equal(got, edited) {
		t.Errorf("the upgrade replaced the edited configuration:\n%s", got)
	}
	if got := r.read("/var/lib/phoneprov/files/fw.bin"); string(got) != "fw\n" {
		t.Errorf("the upgrade lost data: fw.bin = %q", got)
	}
	r.wantOwnerMode("/var/lib/phoneprov", uid, gid, fs.ModeDir|0o750)
	r.wantEnabled(false)
	r.run("phoneprov", "check", "-c", "/etc/phoneprov/phoneprov.toml")

	// Remove keeps data and configuration; purge deletes them, keeps the user.
	r.run("dpkg", "--remove", "phoneprov")
	r.wantExists("/var/lib/phoneprov/files/fw.bin", true)
	r.wantExists("/etc/phoneprov/phoneprov.toml", true)
	r.wantExists("/usr/bin/phoneprov", false)
	r.run("dpkg", "--purge", "phoneprov")
	r.wantExists("/var/lib/phoneprov", false)
	r.wantExists("/etc/phoneprov", false)
	r.wantExists("/etc/systemd/system/multi-user.target.wants/phoneprov.service", false)
	r.run("getent", "passwd", "phoneprov")

	// The Raspberry Pi first boot: a configuration from make-image.sh that
	// no package owns yet, the package in the drop folder.
	repo := deploytest.RepoRoot(t)
	mine := []byte("data_dir = \"/var/lib/phoneprov\"\n[log]\nlevel = \"warn\"\n")
	r.write("/etc/phoneprov/phoneprov.toml", mine, 0o644)
	r.write("/var/lib/phoneprov-firstboot/phoneprov_1.0.0~test2_amd64.deb", readFile(t, debs["1.0.0~test2"]), 0o644)
	r.write("/usr/local/sbin/phoneprov-firstboot", readFile(t, filepath.Join(repo, "deploy", "raspberrypi", "phoneprov-firstboot")), 0o755)
	wants := "/etc/systemd/system/multi-user.target.wants/phoneprov-firstboot.service"
	if err := os.Symlink("/etc/systemd/system/phoneprov-firstboot.service", r.path(wants)); err != nil {
		t.Fatal(err)
	}
	r.run("/usr/local/sbin/phoneprov-firstboot")
	if s := r.run("dpkg-query", "-W", "-f", "${Status}", "phoneprov"); s != "install ok installed" {
		t.Errorf("after the first boot phoneprov is %q", s)
	}
	if got := r.read("/etc/phoneprov/phoneprov.toml"); !bytes.Equal(got, mine) {
		t.Errorf("the first boot replaced make-image.sh's configuration:\n%s", got)
	}
	r.wantOwnerMode("/etc/phoneprov/phoneprov.toml", 0, gid, 0o640)
	r.wantExists("/etc/phoneprov/phoneprov.toml.dpkg-dist", true)
	r.wantExists("/var/lib/phoneprov-firstboot", false)
	r.wantExists(wants, false)
	r.wantEnabled(true)
	r.run("phoneprov", "check", "-c", "/etc/phoneprov/phoneprov.toml")
	if out, err := r.output("", "/usr/local/sbin/phoneprov-firstboot"); err == nil || !strings.Contains(out, "no phoneprov_*.deb") {
		t.Errorf("a second first-boot run: err %v, output %q; want a clear failure", err, out)
	}
	t.Logf("install test: %s", time.Since(start).Round(100*time.Millisecond))
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// debianRoot unpacks the cached minimal Debian root into dir, making the
// cache with debootstrap first if there is none. A lock keeps two test runs
// from building it at once.
func debianRoot(t *testing.T, dir string) string {
	t.Helper()
	if err := os.MkdirAll(rootCacheDir, 0o755); err != nil {
		t.Fatal(err)
	}
	lock, err := os.OpenFile(filepath.Join(rootCacheDir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)

	tarball := filepath.Join(rootCacheDir, fmt.Sprintf("debian-%s-minbase-amd64.tar", rootSuite))
	if _, err := os.Stat(tarball); errors.Is(err, fs.ErrNotExist) {
		mirror := os.Getenv("PHONEPROV_DEBIAN_MIRROR")
		if mirror == "" {
			mirror = defaultMirror
		}
		fresh := filepath.Join(t.TempDir(), "debootstrap")
		start := time.Now()
		deploytest.Run(t, 10*time.Minute, "debootstrap", "--variant=minbase", "--arch=amd64", rootSuite, fresh, mirror)
		t.Logf("debootstrap %s from %s: %s", rootSuite, mirror, time.Since(start).Round(time.Second))
		tmp := tarball + ".partial"
		deploytest.Run(t, 5*time.Minute, "tar", "--numeric-owner", "--xattrs", "-C", fresh, "-cf", tmp, ".")
		if err := os.Rename(tmp, tarball); err != nil {
			t.Fatal(err)
		}
	} else if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	deploytest.Run(t, 5*time.Minute, "tar", "--numeric-owner", "--xattrs", "-C", dir, "-xf", tarball)
	return dir
}

// chrootRoot runs commands in an unpacked Debian root and inspects it.
type chrootRoot struct {
	t   *testing.T
	dir string
}

func (r *chrootRoot) path(p string) string { return filepath.Join(r.dir, p) }

// output runs a command in the root as user ("" for root) and returns its
// output and error.
func (r *chrootRoot) output(user string, args ...string) (string, error) {
	chrootArgs := []string{}
	if user != "" {
		chrootArgs = append(chrootArgs, "--userspec="+user)
	}
	chrootArgs = append(chrootArgs, r.dir, "env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND=noninteractive")
	return deploytest.Output(r.t.Context(), 3*time.Minute, "chroot", append(chrootArgs, args...)...)
}

func (r *chrootRoot) run(args ...string) string {
	r.t.Helper()
	return r.runAs("", args...)
}

func (r *chrootRoot) runAs(user string, args ...string) string {
	r.t.Helper()
	out, err := r.output(user, args...)
	if err != nil {
		r.t.Fatal(err)
	}
	return out
}

func (r *chrootRoot) read(p string) []byte {
	r.t.Helper()
	return readFile(r.t, r.path(p))
}

func (r *chrootRoot) write(p string, b []byte, mode os.FileMode) {
	r.t.Helper()
	if err := os.MkdirAll(filepath.Dir(r.path(p)), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(r.path(p), b, mode); err != nil {
		r.t.Fatal(err)
	}
}

// serviceUser checks the account postinst made and returns its ids.
func (r *chrootRoot) serviceUser() (uid, gid int) {
	r.t.Helper()
	// name:x:uid:gid:comment:home:shell
	f := strings.Split(strings.TrimSpace(r.run("getent", "passwd", "phoneprov")), ":")
	if len(f) != 7 {
		r.t.Fatalf("getent passwd phoneprov: %q", f)
	}
	uid, _ = strconv.Atoi(f[2])
	gid, _ = strconv.Atoi(f[3])
	if uid == 0 || uid >= 1000 {
		r.t.Errorf("phoneprov has uid %d, want a system uid (1..999)", uid)
	}
	if f[5] != "/var/lib/phoneprov" || f[6] != "/usr/sbin/nologin" {
		r.t.Errorf("phoneprov has home %s and shell %s", f[5], f[6])
	}
	if g := strings.Split(strings.TrimSpace(r.run("getent", "group", "phoneprov")), ":"); len(g) < 3 || g[2] != strconv.Itoa(gid) {
		r.t.Errorf("group phoneprov %q is not the user's group %d", g, gid)
	}
	return uid, gid
}

func (r *chrootRoot) wantOwnerMode(p string, uid, gid int, mode fs.FileMode) {
	r.t.Helper()
	st, err := os.Lstat(r.path(p))
	if err != nil {
		r.t.Fatal(err)
	}
	sys := st.Sys().(*syscall.Stat_t)
	if int(sys.Uid) != uid || int(sys.Gid) != gid || st.Mode() != mode {
		r.t.Errorf("%s: %d:%d %v, want %d:%d %v", p, sys.Uid, sys.Gid, st.Mode(), uid, gid, mode)
	}
}

func (r *chrootRoot) wantExists(p string, want bool) {
	r.t.Helper()
	_, err := os.Lstat(r.path(p))
	if got := err == nil; got != want {
		r.t.Errorf("%s exists: %v, want %v (%v)", p, got, want, err)
	}
}

// wantEnabled: the multi-user.target.wants link deb-systemd-helper makes.
func (r *chrootRoot) wantEnabled(want bool) {
	r.t.Helper()
	link := "/etc/systemd/system/multi-user.target.wants/phoneprov.service"
	target, err := os.Readlink(r.path(link))
	got := err == nil
	if got != want {
		r.t.Errorf("phoneprov.service enabled: %v, want %v", got, want)
	}
	if got && target != "/lib/systemd/system/phoneprov.service" {
		r.t.Errorf("%s points to %s", link, target)
	}
}
