#!/usr/bin/env bash
# Makes a Raspberry Pi OS image that boots into a working phoneprov box.
#
#   make-image.sh IMAGE.img[.xz] OUT.img --address 198.18.0.2/24 [options]
#
# IMAGE is an official Raspberry Pi OS (Lite) image, bookworm or newer
# (NetworkManager) or bullseye and older (dhcpcd); it is only read. OUT is a
# new copy with:
#   - the phoneprov package for the image's architecture (arm64 or armhf,
#     told by the image's dynamic loader), installed on the first boot by
#     phoneprov-firstboot.service, which then starts phoneprov;
#   - a static address on the DHCP interface (a NetworkManager keyfile, or a
#     block in /etc/dhcpcd.conf on older images);
#   - /etc/phoneprov/phoneprov.toml: the package's example with the DHCP
#     server on, one subnet on that interface and the Avaya phone class;
#   - with --ssh, SSH switched on; with --user, the first user.
# Run as root (it loop-mounts the copy). OUT appears only when complete.
#
# Options:
#   --address A/N         this box's address and prefix (required), like 198.18.0.2/24
#   --gateway G           default router, also handed to phones (option 3)
#   --dns A[,A...]        DNS servers for the box and the phones (option 6)
#   --ntp A[,A...]        NTP servers for the phones (option 42)
#   --dhcp-interface IF   the phones' interface (default eth0)
#   --pool START-END      addresses to lend (default: the half of the subnet
#                         that holds neither the box nor the gateway)
#   --call-server A[,A...]  call servers for the Avaya class (MCIPADD)
#   --hostname NAME       the box's host name
#   --ssh                 switch SSH on (off unless given)
#   --user NAME:HASH      create this user on first boot; HASH from
#                         `openssl passwd -6` (Raspberry Pi OS has no default user)
#   --deb FILE            the package (default: the newest dist/phoneprov_*_ARCH.deb)
#   --arch arm64|armhf    override the architecture found in the image
#   --force               replace OUT if it exists
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

die() {
	echo "make-image.sh: $*" >&2
	exit 1
}
note() { echo "make-image.sh: $*"; }
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }

# ---------------------------------------------------------------- IPv4

# ip2int A: A as a 32-bit number; fails on anything but a dotted quad.
ip2int() {
	local a b c d
	[[ $1 =~ ^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})$ ]] || return 1
	a=$((10#${BASH_REMATCH[1]})) b=$((10#${BASH_REMATCH[2]})) c=$((10#${BASH_REMATCH[3]})) d=$((10#${BASH_REMATCH[4]}))
	((a <= 255 && b <= 255 && c <= 255 && d <= 255)) || return 1
	echo $(((a << 24) | (b << 16) | (c << 8) | d))
}
int2ip() { echo "$((($1 >> 24) & 255)).$((($1 >> 16) & 255)).$((($1 >> 8) & 255)).$(($1 & 255))"; }

# addr_list OPTION LIST: checks a comma-separated list of addresses and
# prints it as a TOML array body ("a", "b").
addr_list() {
	local opt=$1 list=$2 out="" a
	local IFS=,
	for a in $list; do
		ip2int "$a" >/dev/null || die "$opt: '$a' is not an IPv4 address"
		out+="${out:+, }\"$a\""
	done
	[[ -n $out ]] || die "$opt needs at least one address"
	echo "$out"
}

# ---------------------------------------------------------------- arguments

image="" out="" address="" gateway="" dns="" ntp="" iface=eth0 pool="" callservers=""
hostname="" ssh=0 user="" deb="" arch="" force=0
positional=()
while [[ $# -gt 0 ]]; do
	case "$1" in
	-h | --help) usage; exit 0 ;;
	--ssh) ssh=1; shift; continue ;;
	--force) force=1; shift; continue ;;
	--address | --gateway | --dns | --ntp | --dhcp-interface | --pool | --call-server | --hostname | --user | --deb | --arch)
		[[ $# -ge 2 ]] || die "$1 needs a value"
		case "$1" in
		--address) address=$2 ;;
		--gateway) gateway=$2 ;;
		--dns) dns=$2 ;;
		--ntp) ntp=$2 ;;
		--dhcp-interface) iface=$2 ;;
		--pool) pool=$2 ;;
		--call-server) callservers=$2 ;;
		--hostname) hostname=$2 ;;
		--user) user=$2 ;;
		--deb) deb=$2 ;;
		--arch) arch=$2 ;;
		esac
		shift 2
		;;
	-*) die "unknown option '$1' (see --help)" ;;
	*) positional+=("$1"); shift ;;
	esac
done
[[ ${#positional[@]} -eq 2 ]] || die "usage: make-image.sh IMAGE.img[.xz] OUT.img --address A/N [options] (see --help)"
image=${positional[0]}
out=${positional[1]}

# Everything is checked before anything is copied or mounted.
[[ -f $image ]] || die "image '$image' not found"
case "$image" in
*.img | *.img.xz) ;;
*) die "image '$image' is not .img or .img.xz (unzip a .zip first)" ;;
esac
[[ $out == *.img ]] || die "output '$out' must end in .img"
[[ -d $(dirname "$out") ]] || die "folder of '$out' does not exist"
if [[ -e $out ]]; then
	[[ $force -eq 1 ]] || die "'$out' exists; pass --force to replace it"
	[[ $(realpath "$out") != $(realpath "$image") ]] || die "output and image are the same file"
fi

[[ -n $address ]] || die "--address is required, like --address 198.18.0.2/24: a DHCP server needs a fixed address"
[[ $address =~ ^([0-9.]+)/([0-9]{1,2})$ ]] || die "--address '$address' is not ADDRESS/PREFIX, like 198.18.0.2/24"
addr=${BASH_REMATCH[1]}
prefix=$((10#${BASH_REMATCH[2]}))
addr_n=$(ip2int "$addr") || die "--address: '$addr' is not an IPv4 address"
((prefix >= 8 && prefix <= 29)) || die "--address: prefix /$prefix is outside /8../29 (a DHCP subnet needs room for phones)"
mask=$(((0xffffffff << (32 - prefix)) & 0xffffffff))
net_n=$((addr_n & mask))
bcast_n=$((net_n | (~mask & 0xffffffff)))
((addr_n != net_n && addr_n != bcast_n)) || die "--address: $addr is the network or broadcast address of /$prefix"
cidr="$(int2ip "$net_n")/$prefix"

in_subnet() { (($1 > net_n && $1 < bcast_n)); }
gw_n=-1
if [[ -n $gateway ]]; then
	gw_n=$(ip2int "$gateway") || die "--gateway: '$gateway' is not an IPv4 address"
	in_subnet "$gw_n" || die "--gateway $gateway is not a host in $cidr"
	((gw_n != addr_n)) || die "--gateway $gateway is this box's own address"
fi
[[ -z $dns ]] || dns_toml=$(addr_list --dns "$dns")
[[ -z $ntp ]] || ntp_toml=$(addr_list --ntp "$ntp")
[[ -z $callservers ]] || cs_toml=$(addr_list --call-server "$callservers")

# holds START END N: N lies in START..END.
holds() { (($3 >= $1 && $3 <= $2)); }
if [[ -n $pool ]]; then
	[[ $pool =~ ^([0-9.]+)-([0-9.]+)$ ]] || die "--pool '$pool' is not START-END, like 198.18.0.100-198.18.0.199"
	ps=$(ip2int "${BASH_REMATCH[1]}") || die "--pool: '${BASH_REMATCH[1]}' is not an IPv4 address"
	pe=$(ip2int "${BASH_REMATCH[2]}") || die "--pool: '${BASH_REMATCH[2]}' is not an IPv4 address"
	if ! in_subnet "$ps" || ! in_subnet "$pe"; then die "--pool $pool is not inside the hosts of $cidr"; fi
	((ps <= pe)) || die "--pool $pool ends before it starts"
	! holds "$ps" "$pe" "$addr_n" || die "--pool $pool holds this box's address $addr"
	((gw_n < 0)) || ! holds "$ps" "$pe" "$gw_n" || die "--pool $pool holds the gateway $gateway"
else
	half=$(((bcast_n - net_n + 1) / 2))
	ps=$((net_n + half)) pe=$((bcast_n - 1))
	if holds "$ps" "$pe" "$addr_n" || { ((gw_n >= 0)) && holds "$ps" "$pe" "$gw_n"; }; then
		ps=$((net_n + 1)) pe=$((net_n + half - 1))
		if holds "$ps" "$pe" "$addr_n" || { ((gw_n >= 0)) && holds "$ps" "$pe" "$gw_n"; }; then
			die "this box and the gateway sit in different halves of $cidr: give --pool START-END"
		fi
	fi
fi
pool_start=$(int2ip "$ps") pool_end=$(int2ip "$pe")

[[ $iface =~ ^[A-Za-z0-9_.-]{1,15}$ ]] || die "--dhcp-interface '$iface' is not an interface name"
if [[ -n $hostname ]]; then
	[[ $hostname =~ ^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$ ]] || die "--hostname '$hostname' is not a host name (letters, digits, inner hyphens)"
fi
if [[ -n $user ]]; then
	[[ $user =~ ^([a-z_][a-z0-9_-]{0,31}):(\$.+)$ ]] ||
		die "--user must be NAME:HASH with HASH from 'openssl passwd -6' (starting with \$), not a plain password"
	[[ $user != *$'\n'* ]] || die "--user must be one line"
fi
case "$arch" in "" | arm64 | armhf) ;; *) die "--arch '$arch' is not arm64 or armhf" ;; esac
if [[ -n $deb ]]; then
	[[ -f $deb ]] || die "--deb '$deb' not found"
fi

[[ $(id -u) -eq 0 ]] || die "run as root: the image copy is loop-mounted"
for tool in losetup mount umount blkid partx dpkg-deb install; do
	command -v "$tool" >/dev/null || die "'$tool' is missing (packages: mount, util-linux, dpkg)"
done
[[ $image != *.xz ]] || command -v xz >/dev/null || die "'xz' is missing (package xz-utils)"
[[ $ssh -eq 0 && -z $user ]] || command -v mcopy >/dev/null || die "'mcopy' is missing (package mtools), needed for --ssh and --user"

# ---------------------------------------------------------------- cleanup

work=$(mktemp -d)
partial=""
loopdev=""
added_parts=0
mounted=()
cleanup() {
	local m i
	for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
		m=${mounted[i]}
		umount "$m" 2>/dev/null || { sleep 1; umount "$m"; } || echo "make-image.sh: could not unmount $m" >&2
	done
	if [[ -n $loopdev ]]; then
		[[ $added_parts -eq 0 ]] || partx --delete "$loopdev" 2>/dev/null || true
		losetup --detach "$loopdev" || echo "make-image.sh: could not detach $loopdev" >&2
	fi
	[[ -z $partial ]] || rm -f "$partial"
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- copy

partial=$(mktemp "$out.XXXXXX.partial")
if [[ $image == *.xz ]]; then
	note "decompressing $image"
	xz --decompress --stdout "$image" >"$partial" || die "cannot decompress '$image'"
else
	note "copying $image"
	cp --sparse=always "$image" "$partial" || die "cannot copy '$image'"
fi

# ---------------------------------------------------------------- mount

loopdev=$(losetup --find --show --partscan "$partial") || die "losetup failed: no free loop device?"
# wait_parts: the partition nodes appear (udev may take a moment).
wait_parts() {
	local i
	for ((i = 0; i < 50; i++)); do
		[[ -b ${loopdev}p1 ]] && return 0
		sleep 0.1
	done
	return 1
}
# The kernel scans the table while attaching; one without the MBR parser
# (some VMs) finds nothing, and the partitions are added by hand.
loopname=$(basename "$loopdev")
if [[ ! -e /sys/class/block/$loopname/${loopname}p1 ]]; then
	partx --add "$loopdev" 2>/dev/null && added_parts=1
fi
wait_parts || die "no partitions found in '$image': is it a Raspberry Pi OS image?"
rootdev="" bootdev=""
for p in "$loopdev"p*; do
	[[ -b $p ]] || continue
	case "$(blkid -o value -s TYPE "$p" 2>/dev/null || true)" in
	ext4) [[ -n $rootdev ]] || rootdev=$p ;;
	vfat) [[ -n $bootdev ]] || bootdev=$p ;;
	esac
done
[[ -n $rootdev ]] || die "no ext4 root partition in '$image'"

R=$work/root
mkdir -p "$R"
mount -o nosuid,nodev "$rootdev" "$R" || die "cannot mount the root partition $rootdev"
mounted+=("$R")

# ---------------------------------------------------------------- inspect

# osrel KEY: a value from the image's os-release, read as text (never
# sourced: the image is data, not code to run as root here).
osrel() {
	local f
	for f in "$R/usr/lib/os-release" "$R/etc/os-release"; do
		if [[ -f $f && ! -L $f ]]; then
			sed -n "s/^$1=//p" "$f" | head -n1 | tr -d "\"'"
			return 0
		fi
	done
	return 1
}
osrel ID >/dev/null || die "the root partition has no os-release: not a Raspberry Pi OS image"
os_id=$(osrel ID) codename=$(osrel VERSION_CODENAME)
note "image: ${os_id:-?} ${codename:-?}"

# exists_in_root PATH: PATH exists in the image, or is a symlink there (an
# absolute link target would point into this machine, so it is not followed).
exists_in_root() { [[ -e $R$1 || -L $R$1 ]]; }

# elf_machine FILE: aarch64 or arm from the ELF header.
elf_machine() {
	case "$(od -An -tx1 -j18 -N2 "$1" 2>/dev/null | tr -d ' \n')" in
	b700) echo arm64 ;;
	2800) echo armhf ;;
	esac
}
if [[ -z $arch ]]; then
	if exists_in_root /lib/ld-linux-aarch64.so.1 || exists_in_root /usr/lib/ld-linux-aarch64.so.1; then
		arch=arm64
	elif exists_in_root /lib/ld-linux-armhf.so.3 || exists_in_root /usr/lib/ld-linux-armhf.so.3; then
		arch=armhf
	else
		arch=$(elf_machine "$R/usr/bin/dpkg")
	fi
	[[ -n $arch ]] || die "cannot tell the image's architecture (no arm64 or armhf loader): pass --arch"
fi
note "architecture: $arch"

case "$codename" in
jessie | stretch | buster | bullseye) netstack=dhcpcd ;;
"") if [[ -d $R/etc/NetworkManager ]]; then netstack="nm"; elif [[ -f $R/etc/dhcpcd.conf ]]; then netstack=dhcpcd; else netstack=""; fi ;;
*) netstack="nm" ;;
esac
case "$netstack" in
nm) [[ -d $R/etc/NetworkManager ]] || die "$codename image without /etc/NetworkManager: cannot set the address" ;;
dhcpcd) [[ -f $R/etc/dhcpcd.conf ]] || die "$codename image without /etc/dhcpcd.conf: cannot set the address" ;;
*) die "neither NetworkManager nor dhcpcd found in the image: cannot set the address" ;;
esac

if [[ -z $deb ]]; then
	deb=$(find "$repo/dist" -maxdepth 1 -name "phoneprov_*_$arch.deb" -printf '%T@ %p\n' 2>/dev/null | sort -rn | head -n1 | cut -d' ' -f2-)
	[[ -n $deb ]] || die "no dist/phoneprov_*_$arch.deb: run 'make dist' (or deploy/dist.sh --arch $arch), or pass --deb"
fi
[[ $(dpkg-deb --field "$deb" Package 2>/dev/null) == phoneprov ]] || die "'$deb' is not a phoneprov package"
debarch=$(dpkg-deb --field "$deb" Architecture)
[[ $debarch == "$arch" ]] || die "'$deb' is for $debarch but the image is $arch"
note "package: $(basename "$deb")"

need=$(($(stat -c %s "$deb") * 2 + 4 * 1024 * 1024))
avail=$(df --output=avail -B1 "$R" | tail -n1 | tr -d ' ')
((avail >= need)) || die "the root partition has $avail bytes free, $need needed"

# ---------------------------------------------------------------- write

# The package and its first-boot installer.
install -d -m 0755 "$R/var/lib/phoneprov-firstboot" "$R/usr/local/sbin" "$R/etc/systemd/system/multi-user.target.wants"
install -m 0644 "$deb" "$R/var/lib/phoneprov-firstboot/$(basename "$deb")"
install -m 0755 "$here/phoneprov-firstboot" "$R/usr/local/sbin/phoneprov-firstboot"
install -m 0644 "$here/phoneprov-firstboot.service" "$R/etc/systemd/system/phoneprov-firstboot.service"
ln -sfn /etc/systemd/system/phoneprov-firstboot.service "$R/etc/systemd/system/multi-user.target.wants/phoneprov-firstboot.service"

# The configuration: the package's example, the DHCP server switched on, and
# this box's subnet and phone classes added at the end.
dpkg-deb --fsys-tarfile "$deb" | tar -xO ./etc/phoneprov/phoneprov.toml >"$work/example.toml" ||
	die "'$deb' has no /etc/phoneprov/phoneprov.toml"
awk '
	# table LINE: the table header LINE opens, without spaces or comment.
	function table(line) { sub(/[[:space:]]*#.*/, "", line); gsub(/[[:space:]]/, "", line); return line }
	function on() { print "enabled = true              # switched on by make-image.sh"; done = 1 }
	# First pass: does [dhcp] already have an enabled key?
	NR == FNR { if (/^[[:space:]]*\[/) t = table($0); if (t == "[dhcp]" && /^[[:space:]]*enabled[[:space:]]*=/) has = 1; next }
	/^[[:space:]]*\[/ { t = table($0) }
	t == "[dhcp]" && /^[[:space:]]*enabled[[:space:]]*=/ { on(); next }
	{ print }
	t == "[dhcp]" && !has && !done && /^[[:space:]]*\[/ { on() }
	END { if (!done) { print "\n[dhcp]"; on() } }
' "$work/example.toml" "$work/example.toml" >"$work/phoneprov.toml"
{
	echo
	echo "# ---------------------------------------------------------------------------"
	echo "# This box's DHCP service, written by deploy/raspberrypi/make-image.sh."
	echo "# The box itself is $addr/$prefix on $iface (static: see the network settings)."
	echo "[[dhcp.subnet]]"
	echo "cidr = \"$cidr\""
	echo "interface = \"$iface\""
	[[ -z $gateway ]] || echo "routers = [\"$gateway\"]"
	[[ -z $dns ]] || echo "dns_servers = [$dns_toml]"
	[[ -z $ntp ]] || echo "ntp_servers = [$ntp_toml]"
	echo "[[dhcp.subnet.pool]]"
	echo "start = \"$pool_start\""
	echo "end = \"$pool_end\""
	echo
	echo "# Phone classes, first match wins; a phone in none gets the subnet's options."
	echo "# Avaya phones (option 60 ccp.avaya.com or an Avaya MAC): option 242/176"
	echo "# with this box as HTTP, HTTPS and TFTP server."
	echo "[[dhcp.class]]"
	echo "preset = \"avaya\""
	if [[ -n $callservers ]]; then
		echo "call_servers = [$cs_toml]"
	else
		echo "# call_servers = [\"198.18.0.10\"]   # your call server (MCIPADD)"
	fi
	echo "# More phone families, each pointed at this box:"
	echo "# [[dhcp.class]]"
	echo "# preset = \"yealink\"       # also polycom, cisco, snom, grandstream, mitel"
}  >>"$work/phoneprov.toml"
install -d -m 0755 "$R/etc/phoneprov"
install -m 0644 "$work/phoneprov.toml" "$R/etc/phoneprov/phoneprov.toml"

# The static address.
if [[ $netstack == nm ]]; then
	install -d -m 0700 "$R/etc/NetworkManager/system-connections"
	conn="$R/etc/NetworkManager/system-connections/$iface.nmconnection"
	{
		echo "# Written by phoneprov's make-image.sh: the DHCP server needs a fixed address."
		echo "[connection]"
		echo "id=$iface"
		echo "uuid=$(cat /proc/sys/kernel/random/uuid)"
		echo "type=ethernet"
		echo "interface-name=$iface"
		echo "autoconnect=true"
		echo "autoconnect-priority=100"
		echo
		echo "[ethernet]"
		echo
		echo "[ipv4]"
		echo "method=manual"
		echo "address1=$addr/$prefix${gateway:+,$gateway}"
		[[ -z $dns ]] || echo "dns=${dns//,/;};"
		echo
		echo "[ipv6]"
		echo "method=auto"
	} >"$work/conn"
	install -m 0600 "$work/conn" "$conn"
	note "network: NetworkManager keyfile ${conn#"$R"}"
else
	{
		echo
		echo "# phoneprov (make-image.sh): the DHCP server needs a fixed address."
		echo "interface $iface"
		echo "static ip_address=$addr/$prefix"
		[[ -z $gateway ]] || echo "static routers=$gateway"
		[[ -z $dns ]] || echo "static domain_name_servers=${dns//,/ }"
	} >>"$R/etc/dhcpcd.conf"
	note "network: /etc/dhcpcd.conf"
fi

if [[ -n $hostname ]]; then
	echo "$hostname" >"$R/etc/hostname"
	if [[ -f $R/etc/hosts ]] && grep -q '^127\.0\.1\.1' "$R/etc/hosts"; then
		sed -i "s/^127\.0\.1\.1.*/127.0.1.1\t$hostname/" "$R/etc/hosts"
	else
		printf '127.0.1.1\t%s\n' "$hostname" >>"$R/etc/hosts"
	fi
fi

# SSH and the first user live on the boot partition, read by Raspberry Pi
# OS's own first-boot services. It is written with mtools, so no FAT driver
# is needed in this machine's kernel.
# fat_copy FILE NAME: FILE into the boot partition's top folder as NAME.
fat_copy() {
	local msg
	# mtools complains that a partition has no disk geometry; only a failure matters.
	msg=$(MTOOLS_SKIP_CHECK=1 mcopy -o -i "$bootdev" "$1" "::$2" 2>&1) || die "cannot write $2 to the boot partition: $msg"
}
if [[ $ssh -eq 1 || -n $user ]]; then
	[[ -n $bootdev ]] || die "no FAT boot partition in '$image' for --ssh/--user"
	if [[ $ssh -eq 1 ]]; then
		: >"$work/ssh"
		fat_copy "$work/ssh" ssh
		note "ssh: on"
	fi
	if [[ -n $user ]]; then
		printf '%s\n' "$user" >"$work/userconf.txt"
		fat_copy "$work/userconf.txt" userconf.txt
		note "user: ${user%%:*}"
	fi
fi
if [[ $ssh -eq 1 && -z $user ]]; then
	echo "make-image.sh: warning: --ssh without --user: Raspberry Pi OS has no default user; set one with --user or Raspberry Pi Imager" >&2
fi

# ---------------------------------------------------------------- finish

sync
cleanup_ok() {
	local i
	for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
		umount "${mounted[i]}" || die "cannot unmount ${mounted[i]}"
	done
	mounted=()
	[[ $added_parts -eq 0 ]] || partx --delete "$loopdev" 2>/dev/null || true
	losetup --detach "$loopdev" || die "cannot detach $loopdev"
	loopdev=""
}
cleanup_ok
chmod 0644 "$partial"
mv -f "$partial" "$out"
partial=""
note "wrote $out: DHCP on $iface for $cidr (pool $pool_start-$pool_end), box at $addr"
