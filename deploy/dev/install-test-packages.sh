#!/usr/bin/env bash
# Installs the Debian packages the tests (and, with --bench, the benchmarks)
# use as real peers. Idempotent: it installs only what is missing, and only
# runs apt-get when something is.
set -euo pipefail

# --demo: only what `make demo` (deploy/lab/lab.sh) uses: ip for the
# namespaces, jq for its closing agreement line, dnsmasq for --dhcp dnsmasq.
if [[ "${1:-}" == "--demo" ]]; then
  packages=(iproute2 jq dnsmasq-base)
else
  packages=(curl jq tftp-hpa atftp iproute2 nftables busybox udhcpc isc-dhcp-client isc-dhcp-relay
    dnsmasq-base nginx tftpd-hpa chromium fonts-dejavu-core
    debootstrap fdisk dosfstools e2fsprogs mtools xz-utils strace systemd
    qemu-user-static groff-base man-db prometheus kea-dhcp4-server)
fi
if [[ "${1:-}" == "--bench" ]]; then
  packages+=(wrk kea-admin)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -ne 0 ]]; then
  echo "missing packages: ${missing[*]}" >&2
  echo "install them as root: apt-get install ${missing[*]}  (tests that need them will skip)" >&2
  exit 0
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Keep package scripts from starting daemons (tftpd-hpa, nginx) on this host:
# the benchmarks start their own copies on their own ports.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created_policy=1
fi
trap '[[ $created_policy -eq 1 ]] && rm -f "$policy"' EXIT
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The tests want only programs from these packages (Kea for the HA lab tests
# and the benchmarks, promtool from prometheus): keep their packaged services from starting at boot.
if command -v systemctl >/dev/null; then
  for unit in kea-dhcp4-server prometheus; do
    if [[ " ${missing[*]} " == *" $unit "* ]]; then
      systemctl disable --now "$unit.service" >/dev/null 2>&1 || true
    fi
  done
fi
