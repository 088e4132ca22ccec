package raspberrypi_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/phoneprov/phoneprov/deploy/internal/deploytest"
)

func script(t *testing.T) string {
	return filepath.Join(deploytest.RepoRoot(t), "deploy", "raspberrypi", "make-image.sh")
}

// makeImage runs make-image.sh and returns its output and error.
func makeImage(t *testing.T, args ...string) (string, error) {
	t.Helper()
	return deploytest.Output(t.Context(), 3*time.Minute, "bash", append([]string{script(t)}, args...)...)
}

// TestMakeImageRefusesBadInput: every mistake is named before anything is
// copied or mounted, and no output image appears. Needs no root.
func TestMakeImageRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "in.img")
	if err := os.WriteFile(img, []byte("not an image"), 0o644); err != nil {
		t.Fatal(err)
	}
	zip := filepath.Join(dir, "in.zip")
	if err := os.WriteFile(zip, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.img")
	existing := filepath.Join(dir, "existing.img")
	if err := os.WriteFile(existing, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := []string{"--address", "198.18.0.2/24"}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no arguments", nil, "usage: make-image.sh"},
		{"unknown option", append([]string{img, out, "--wifi"}, addr...), "unknown option '--wifi'"},
		{"missing image", append([]string{filepath.Join(dir, "nope.img"), out}, addr...), "not found"},
		{"zip image", append([]string{zip, out}, addr...), "is not .img or .img.xz"},
		{"output not .img", append([]string{img, filepath.Join(dir, "out.raw")}, addr...), "must end in .img"},
		{"output folder missing", append([]string{img, filepath.Join(dir, "no", "out.img")}, addr...), "does not exist"},
		{"output exists", append([]string{img, existing}, addr...), "pass --force"},
		{"no address", []string{img, out}, "--address is required"},
		{"address without prefix", []string{img, out, "--address", "198.18.0.2"}, "not ADDRESS/PREFIX"},
		{"address not IPv4", []string{img, out, "--address", "198.18.0.300/24"}, "not an IPv4 address"},
		{"network address", []string{img, out, "--address", "198.18.0.0/24"}, "network or broadcast"},
		{"subnet too small", []string{img, out, "--address", "198.18.0.2/30"}, "outside /8../29"},
		{"gateway elsewhere", append([]string{img, out, "--gateway", "198.18.1.1"}, addr...), "not a host in 198.18.0.0/24"},
		{"gateway is the box", append([]string{img, out, "--gateway", "198.18.0.2"}, addr...), "this box's own address"},
		{"bad dns", append([]string{img, out, "--dns", "198.18.0.1,dns.example"}, addr...), "'dns.example' is not an IPv4 address"},
		{"pool holds the box", append([]string{img, out, "--pool", "198.18.0.1-198.18.0.50"}, addr...), "holds this box's address"},
		{"pool holds the gateway", append([]string{img, out, "--gateway", "198.18.0.100", "--pool", "198.18.0.99-198.18.0.120"}, addr...), "holds the gateway"},
		{"pool reversed", append([]string{img, out, "--pool", "198.18.0.60-198.18.0.50"}, addr...), "ends before it starts"},
		{"pool outside", append([]string{img, out, "--pool", "198.18.0.60-198.18.1.50"}, addr...), "not inside the hosts"},
		{"no default pool", []string{img, out, "--address", "198.18.0.2/24", "--gateway", "198.18.0.200"}, "give --pool"},
		{"plain password", append([]string{img, out, "--user", "pi:raspberry"}, addr...), "not a plain password"},
		{"bad host name", append([]string{img, out, "--hostname", "phone_prov"}, addr...), "not a host name"},
		{"bad interface", append([]string{img, out, "--dhcp-interface", "eth0; reboot"}, addr...), "not an interface name"},
		{"bad arch", append([]string{img, out, "--arch", "amd64"}, addr...), "not arm64 or armhf"},
		{"missing deb", append([]string{img, out, "--deb", filepath.Join(dir, "nope.deb")}, addr...), "not found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := makeImage(t, tc.args...)
			if err == nil {
				t.Fatalf("make-image.sh %v succeeded:\n%s", tc.args, got)
			}
			if !strings.Contains(got, tc.want) {
				t.Errorf("output %q does not say %q", got, tc.want)
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("%s was created", out)
			}
			if b, _ := os.ReadFile(existing); string(b) != "keep me" {
				t.Errorf("%s was changed", existing)
			}
		})
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "*.partial")); len(m) > 0 {
		t.Errorf("partial images left behind: %v", m)
	}
}

// TestMakeImage builds small Raspberry Pi OS look-alike disk images (a FAT
// boot partition and an ext4 root with just what make-image.sh inspects),
// runs make-image.sh on them with the real arm64 and armhf packages, and
// checks what it wrote by mounting the result.
func TestMakeImage(t *testing.T) {
	deploytest.NeedRoot(t)
	deploytest.NeedTools(t, "losetup", "partx", "blkid", "mount", "sfdisk", "mkfs.vfat", "mkfs.ext4",
		"xz", "mcopy", "mdir", "mtype", "dpkg-deb", "go")
	if out, err := deploytest.Output(t.Context(), 10*time.Second, "losetup", "--find"); err != nil {
		t.Skipf("no free loop device: %v %s", err, out)
	}
	dir := t.TempDir()
	debs := deploytest.BuildDebs(t, filepath.Join(dir, "dist"), "1.0.0~img1", "arm64", "armhf")
	checkPackagedBinary(t, debs["arm64"], elf.EM_AARCH64, "arm64", "")
	checkPackagedBinary(t, debs["armhf"], elf.EM_ARM, "arm", "6")
	phoneprov := filepath.Join(dir, "phoneprov")
	deploytest.Run(t, 3*time.Minute, "go", "build", "-o", phoneprov, filepath.Join(deploytest.RepoRoot(t), "cmd", "phoneprov"))

	t.Run("bookworm arm64 from .img.xz", func(t *testing.T) {
		work := t.TempDir()
		raw := fakeImage(t, work, bookwormRoot)
		deploytest.Run(t, time.Minute, "xz", "-T1", "-1", raw)
		in := raw + ".xz"
		before := sumFile(t, in)
		out := filepath.Join(work, "out.img")
		hash := "$6$salt$Q0n9u2a1hash"
		log := deploytest.Run(t, 3*time.Minute, "bash", script(t), in, out,
			"--address", "198.18.0.2/24", "--gateway", "198.18.0.1", "--dns", "198.18.0.1,198.18.0.3",
			"--ntp", "198.18.0.1", "--call-server", "198.18.0.10", "--hostname", "phoneprov-lab",
			"--ssh", "--user", "pi:"+hash, "--deb", debs["arm64"])
		t.Logf("make-image.sh:\n%s", log)
		if sumFile(t, in) != before {
			t.Error("the input image was changed")
		}
		wantMode(t, out, 0o644)
		img := attach(t, out)
		root := img.mountRoot(t)

		wantFirstBoot(t, root, debs["arm64"])
		conn := filepath.Join(root, "etc/NetworkManager/system-connections/eth0.nmconnection")
		wantMode(t, conn, 0o600)
		text := readFile(t, conn)
		for _, want := range []string{
			"\n[connection]\n", "\ntype=ethernet\n", "\ninterface-name=eth0\n", "\nautoconnect=true\n",
			"\n[ipv4]\nmethod=manual\naddress1=198.18.0.2/24,198.18.0.1\ndns=198.18.0.1;198.18.0.3;\n",
		} {
			if !strings.Contains(text, want) {
				t.Errorf("eth0.nmconnection lacks %q:\n%s", want, text)
			}
		}
		if !regexp.MustCompile(`\nuuid=[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\n`).MatchString(text) {
			t.Errorf("eth0.nmconnection has no uuid:\n%s", text)
		}
		if got := readFile(t, filepath.Join(root, "etc/hostname")); got != "phoneprov-lab\n" {
			t.Errorf("hostname %q", got)
		}
		if got := readFile(t, filepath.Join(root, "etc/hosts")); !strings.Contains(got, "127.0.1.1\tphoneprov-lab\n") || strings.Contains(got, "raspberrypi") {
			t.Errorf("hosts:\n%s", got)
		}

		cfg := wantConfig(t, root, debs["arm64"], phoneprov)
		wantSubnet(t, cfg, subnetWant{
			cidr: "198.18.0.0/24", iface: "eth0", routers: []string{"198.18.0.1"},
			dns: []string{"198.18.0.1", "198.18.0.3"}, ntp: []string{"198.18.0.1"},
			start: "198.18.0.128", end: "198.18.0.254",
		})
		if len(cfg.DHCP.Class) != 1 || cfg.DHCP.Class[0].Preset != "avaya" || !slices.Equal(cfg.DHCP.Class[0].CallServers, []string{"198.18.0.10"}) {
			t.Errorf("classes %+v, want the avaya preset with call server 198.18.0.10", cfg.DHCP.Class)
		}

		boot := img.bootFiles(t)
		if _, ok := boot["ssh"]; !ok {
			t.Errorf("--ssh: no ssh file on the boot partition: %v", boot)
		}
		if got := img.bootFile(t, "userconf.txt"); got != "pi:"+hash+"\n" {
			t.Errorf("userconf.txt = %q", got)
		}
	})

	t.Run("bullseye armhf with dhcpcd from .img", func(t *testing.T) {
		work := t.TempDir()
		in := fakeImage(t, work, bullseyeRoot)
		before := sumFile(t, in)
		out := filepath.Join(work, "out.img")
		deploytest.Run(t, 3*time.Minute, "bash", script(t), in, out,
			"--address", "198.18.2.10/24", "--dhcp-interface", "eth1", "--deb", debs["armhf"])
		if sumFile(t, in) != before {
			t.Error("the input image was changed")
		}
		img := attach(t, out)
		root := img.mountRoot(t)
		wantFirstBoot(t, root, debs["armhf"])
		dhcpcd := readFile(t, filepath.Join(root, "etc/dhcpcd.conf"))
		if want := bullseyeDhcpcd + "\n# phoneprov (make-image.sh): the DHCP server needs a fixed address.\ninterface eth1\nstatic ip_address=198.18.2.10/24\n"; dhcpcd != want {
			t.Errorf("dhcpcd.conf:\n%s\nwant:\n%s", dhcpcd, want)
		}
		if m, _ := filepath.Glob(filepath.Join(root, "etc/NetworkManager/system-connections/*")); len(m) > 0 {
			t.Errorf("NetworkManager files on a dhcpcd image: %v", m)
		}
		cfg := wantConfig(t, root, debs["armhf"], phoneprov)
		wantSubnet(t, cfg, subnetWant{cidr: "198.18.2.0/24", iface: "eth1", start: "198.18.2.128", end: "198.18.2.254"})
		if len(cfg.DHCP.Class) != 1 || len(cfg.DHCP.Class[0].CallServers) != 0 {
			t.Errorf("classes %+v, want the avaya preset without call servers", cfg.DHCP.Class)
		}
		if boot := img.bootFiles(t); len(boot) != 0 {
			t.Errorf("without --ssh/--user the boot partition got %v", boot)
		}
		if got := readFile(t, filepath.Join(root, "etc/hostname")); got != "raspberrypi\n" {
			t.Errorf("hostname changed without --hostname: %q", got)
		}
	})

	t.Run("wrong package leaves nothing behind", func(t *testing.T) {
		work := t.TempDir()
		in := fakeImage(t, work, bookwormRoot)
		out := filepath.Join(work, "out.img")
		got, err := makeImage(t, in, out, "--address", "198.18.0.2/24", "--deb", debs["armhf"])
		if err == nil || !strings.Contains(got, "is for armhf but the image is arm64") {
			t.Fatalf("err %v, output:\n%s", err, got)
		}
		if m, _ := filepath.Glob(filepath.Join(work, "out.img*")); len(m) > 0 {
			t.Errorf("left behind: %v", m)
		}
		// losetup --detach returns before the kernel has let go of a device
		// whose partitions were scanned; on a loaded machine that takes a
		// moment, so wait a bounded while for it to go.
		for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			loops := deploytest.Run(t, 10*time.Second, "losetup", "--list", "--noheadings", "--output", "BACK-FILE")
			if !strings.Contains(loops, work) {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("loop device still attached 15 s after the script ended:\n%s", loops)
				break
			}
		}
	})
}

func checkPackagedBinary(t *testing.T, deb string, machine elf.Machine, goarch, goarm string) {
	t.Helper()
	dir := t.TempDir()
	deploytest.Run(t, time.Minute, "dpkg-deb", "--extract", deb, dir)
	deploytest.CheckStaticBinary(t, filepath.Join(dir, "usr/bin/phoneprov"), machine, goarch, goarm)
}

// wantFirstBoot: the package and its first-boot installer are in place.
func wantFirstBoot(t *testing.T, root, deb string) {
	t.Helper()
	repo := deploytest.RepoRoot(t)
	same := map[string]string{
		"var/lib/phoneprov-firstboot/" + filepath.Base(deb): deb,
		"usr/local/sbin/phoneprov-firstboot":                filepath.Join(repo, "deploy/raspberrypi/phoneprov-firstboot"),
		"etc/systemd/system/phoneprov-firstboot.service":    filepath.Join(repo, "deploy/raspberrypi/phoneprov-firstboot.service"),
	}
	for inImage, src := range same {
		if readFile(t, filepath.Join(root, inImage)) != readFile(t, src) {
			t.Errorf("%s in the image differs from %s", inImage, src)
		}
	}
	wantMode(t, filepath.Join(root, "usr/local/sbin/phoneprov-firstboot"), 0o755)
	link := filepath.Join(root, "etc/systemd/system/multi-user.target.wants/phoneprov-firstboot.service")
	if target, err := os.Readlink(link); err != nil || target != "/etc/systemd/system/phoneprov-firstboot.service" {
		t.Errorf("phoneprov-firstboot.service is not enabled: %q %v", target, err)
	}
	if m, _ := filepath.Glob(filepath.Join(root, "var/lib/phoneprov-firstboot/*")); len(m) != 1 {
		t.Errorf("the drop folder holds %v, want the one package", m)
	}
}

// imageConfig is the part of phoneprov.toml the recipe writes.
type imageConfig struct {
	DHCP struct {
		Enabled bool `toml:"enabled"`
		Subnet  []struct {
			CIDR       string   `toml:"cidr"`
			Interface  string   `toml:"interface"`
			Routers    []string `toml:"routers"`
			DNSServers []string `toml:"dns_servers"`
			NTPServers []string `toml:"ntp_servers"`
			Pool       []struct {
				Start string `toml:"start"`
				End   string `toml:"end"`
			} `toml:"pool"`
		} `toml:"subnet"`
		Class []struct {
			Preset      string   `toml:"preset"`
			CallServers []string `toml:"call_servers"`
		} `toml:"class"`
	} `toml:"dhcp"`
}

// wantConfig: /etc/phoneprov/phoneprov.toml is the package's example with
// one line changed (dhcp.enabled) and the box's block added at the end, and
// phoneprov itself accepts it.
func wantConfig(t *testing.T, root, deb, phoneprov string) imageConfig {
	t.Helper()
	path := filepath.Join(root, "etc/phoneprov/phoneprov.toml")
	text := readFile(t, path)
	example, err := exec.CommandContext(t.Context(), "sh", "-c", `dpkg-deb --fsys-tarfile "$1" | tar -xO ./etc/phoneprov/phoneprov.toml`, "sh", deb).Output()
	if err != nil {
		t.Fatalf("example from %s: %v", deb, err)
	}
	exLines, lines := strings.Split(string(example), "\n"), strings.Split(text, "\n")
	if len(lines) < len(exLines) {
		t.Fatalf("the configuration is shorter than the example")
	}
	var changed []string
	for i, l := range exLines {
		if lines[i] != l {
			changed = append(changed, fmt.Sprintf("%q → %q", l, lines[i]))
		}
	}
	if len(changed) != 1 || !strings.Contains(changed[0], `→ "enabled = true`) {
		t.Errorf("the example's lines changed: %v; want only [dhcp] enabled switched on", changed)
	}
	var cfg imageConfig
	if _, err := toml.Decode(text, &cfg); err != nil {
		t.Fatalf("phoneprov.toml: %v\n%s", err, text)
	}
	if !cfg.DHCP.Enabled {
		t.Error("dhcp.enabled is not true")
	}
	copyPath := filepath.Join(t.TempDir(), "phoneprov.toml")
	if err := os.WriteFile(copyPath, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	deploytest.Run(t, time.Minute, phoneprov, "check", "-c", copyPath)
	return cfg
}

type subnetWant struct {
	cidr, iface       string
	routers, dns, ntp []string
	start, end        string
}

func wantSubnet(t *testing.T, cfg imageConfig, w subnetWant) {
	t.Helper()
	if len(cfg.DHCP.Subnet) != 1 {
		t.Fatalf("%d subnets, want 1", len(cfg.DHCP.Subnet))
	}
	s := cfg.DHCP.Subnet[0]
	if s.CIDR != w.cidr || s.Interface != w.iface || !slices.Equal(s.Routers, w.routers) ||
		!slices.Equal(s.DNSServers, w.dns) || !slices.Equal(s.NTPServers, w.ntp) {
		t.Errorf("subnet %+v, want %+v", s, w)
	}
	if len(s.Pool) != 1 || s.Pool[0].Start != w.start || s.Pool[0].End != w.end {
		t.Errorf("pool %+v, want %s-%s", s.Pool, w.start, w.end)
	}
}

// ---------------------------------------------------------------- images

// Partition layout of the fake images, in 512-byte sectors: like Raspberry
// Pi OS, a FAT boot partition at 4 MiB and the ext4 root after it.
const (
	bootStart   = 8192
	bootSectors = 32768 // 16 MiB
	rootStart   = bootStart + bootSectors
	rootSize    = "56M"
	imageSize   = 4<<20 + 16<<20 + 56<<20
)

// fakeImage makes work/in.img from a root tree that populate fills.
func fakeImage(t *testing.T, work string, populate func(t *testing.T, root string)) string {
	t.Helper()
	tree := filepath.Join(work, "tree")
	populate(t, tree)
	boot, rootfs, img := filepath.Join(work, "boot.vfat"), filepath.Join(work, "root.ext4"), filepath.Join(work, "in.img")
	deploytest.Run(t, time.Minute, "mkfs.vfat", "-n", "BOOTFS", "-C", boot, fmt.Sprint(bootSectors/2))
	deploytest.Run(t, time.Minute, "mkfs.ext4", "-q", "-L", "rootfs", "-d", tree, rootfs, rootSize)
	if err := os.Truncate(img, 0); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(imageSize); err != nil {
		t.Fatal(err)
	}
	f.Close()
	table := fmt.Sprintf("label: dos\nstart=%d, size=%d, type=c\nstart=%d, type=83\n", bootStart, bootSectors, rootStart)
	cmd := exec.CommandContext(t.Context(), "sfdisk", "--quiet", img)
	cmd.Stdin = strings.NewReader(table)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sfdisk: %v\n%s", err, out)
	}
	for _, p := range []struct {
		file  string
		start int
	}{{boot, bootStart}, {rootfs, rootStart}} {
		deploytest.Run(t, time.Minute, "dd", "if="+p.file, "of="+img, "bs=512", fmt.Sprintf("seek=%d", p.start), "conv=notrunc,sparse", "status=none")
		if err := os.Remove(p.file); err != nil {
			t.Fatal(err)
		}
	}
	return img
}

// writeTree creates files (path → content; a content starting with "->"
// makes a symlink to the rest) and folders (path ending in /) under root.
func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for path, content := range files {
		p := filepath.Join(root, path)
		if strings.HasSuffix(path, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		if target, ok := strings.CutPrefix(content, "->"); ok {
			err = os.Symlink(target, p)
		} else {
			err = os.WriteFile(p, []byte(content), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// bookwormRoot is a 64-bit Raspberry Pi OS bookworm as far as make-image.sh
// looks: merged /usr, os-release, the aarch64 loader (an absolute link, as
// in the real image, dangling here), NetworkManager's folder.
func bookwormRoot(t *testing.T, root string) {
	writeTree(t, root, map[string]string{
		"lib":                                    "->usr/lib",
		"usr/lib/os-release":                     "PRETTY_NAME=\"Raspbian GNU/Linux 12 (bookworm)\"\nNAME=\"Raspbian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\nID=debian\n",
		"etc/os-release":                         "->../usr/lib/os-release",
		"usr/lib/ld-linux-aarch64.so.1":          "->/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1",
		"etc/NetworkManager/system-connections/": "",
		"etc/systemd/system/":                    "",
		"etc/hostname":                           "raspberrypi\n",
		"etc/hosts":                              "127.0.0.1\tlocalhost\n127.0.1.1\traspberrypi\n",
	})
}

// bullseyeDhcpcd is the start of the bullseye image's dhcpcd.conf.
const bullseyeDhcpcd = "# A sample configuration for dhcpcd.\nhostname\nclientid\npersistent\n"

// bullseyeRoot is a 32-bit Raspberry Pi OS bullseye: no merged /usr, the
// armhf loader, dhcpcd.
func bullseyeRoot(t *testing.T, root string) {
	writeTree(t, root, map[string]string{
		"etc/os-release":          "PRETTY_NAME=\"Raspbian GNU/Linux 11 (bullseye)\"\nVERSION_CODENAME=bullseye\nID=raspbian\n",
		"lib/ld-linux-armhf.so.3": "->/lib/arm-linux-gnueabihf/ld-linux-armhf.so.3",
		"etc/dhcpcd.conf":         bullseyeDhcpcd,
		"etc/systemd/system/":     "",
		"etc/hostname":            "raspberrypi\n",
	})
}

// ---------------------------------------------------------------- mounting

type attached struct{ dev string }

// attach puts img on a loop device with its partitions, like make-image.sh,
// and detaches it when the test ends.
func attach(t *testing.T, img string) *attached {
	t.Helper()
	dev := strings.TrimSpace(deploytest.Run(t, 10*time.Second, "losetup", "--find", "--show", "--partscan", img))
	a := &attached{dev: dev}
	added := false
	t.Cleanup(func() {
		if added {
			_, _ = deploytest.Output(context.Background(), 10*time.Second, "partx", "--delete", dev)
		}
		if out, err := deploytest.Output(context.Background(), 10*time.Second, "losetup", "--detach", dev); err != nil {
			t.Errorf("detach %s: %v %s", dev, err, out)
		}
	})
	// As in make-image.sh: a kernel without the MBR parser scans nothing.
	name := filepath.Base(dev)
	if _, err := os.Stat(filepath.Join("/sys/class/block", name, name+"p2")); err != nil {
		deploytest.Run(t, 10*time.Second, "partx", "--add", dev)
		added = true
	}
	if !waitFor(dev + "p2") {
		t.Fatalf("no partitions appeared on %s", dev)
	}
	return a
}

func waitFor(path string) bool {
	for range 50 {
		if _, err := os.Stat(path); err == nil {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}

// mountRoot mounts the root partition read-only until the test ends.
func (a *attached) mountRoot(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	deploytest.Run(t, 10*time.Second, "mount", "-o", "ro,noload", a.dev+"p2", dir)
	t.Cleanup(func() {
		if out, err := deploytest.Output(context.Background(), 10*time.Second, "umount", dir); err != nil {
			t.Errorf("unmount %s: %v %s", dir, err, out)
		}
	})
	return dir
}

// mtools runs an mtools command on the boot partition (no FAT driver
// needed) and returns its standard output; mtools' warning that a partition
// has no disk geometry goes to standard error and is dropped.
func (a *attached) mtools(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), args[0], append([]string{"-i", a.dev + "p1"}, args[1:]...)...)
	cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %v\n%s", args, err, stderr.String())
	}
	return string(out)
}

// bootFiles lists the boot partition's top folder.
func (a *attached) bootFiles(t *testing.T) map[string]bool {
	t.Helper()
	files := map[string]bool{}
	for _, line := range strings.Split(a.mtools(t, "mdir", "-b", "::"), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			files[strings.TrimPrefix(line, "::/")] = true
		}
	}
	return files
}

func (a *attached) bootFile(t *testing.T, name string) string {
	t.Helper()
	return a.mtools(t, "mtype", "::"+name)
}

// ---------------------------------------------------------------- files

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func wantMode(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != mode {
		t.Errorf("%s has mode %v, want %v", path, st.Mode().Perm(), mode)
	}
}

func sumFile(t *testing.T, path string) [32]byte {
	t.Helper()
	return sha256.Sum256([]byte(readFile(t, path)))
}
