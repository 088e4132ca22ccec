#!/usr/bin/env bash
# Builds the static phoneprov binaries and their .deb packages.
#
#   deploy/dist.sh [--arch amd64|arm64|armhf]... [--out DIR] [--version V]
#
# Without --arch: all three. Writes into DIR (default dist/):
#   phoneprov-linux-ARCH           the binary (CGO_ENABLED=0, -trimpath, -s -w)
#   phoneprov_VERSION_ARCH.deb     the package (deploy/nfpm.yaml)
#   SHA256SUMS                     of everything above
#
# armhf is built with GOARM=6: Raspberry Pi OS's 32-bit armhf is ARMv6 with
# hardware floating point (Pi Zero and Pi 1 run it), and an ARMv6 binary also
# runs on every ARMv7 board and on Debian's own armhf.
#
# The version is --version, else $PHONEPROV_VERSION, else from git: the
# newest tag vX.Y.Z (without the v) or, with no tag, 0.0.0~git<commit time>.<commit>,
# which sorts upwards commit by commit. File times in the packages are the
# commit time (SOURCE_DATE_EPOCH), so a rebuild of a commit gives the same
# package contents.
#
# nfpm is run with `go run github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2`, so
# it is not a dependency of the module; set NFPM=/path/to/nfpm to use another.
# Offline, with the module cache already filled:
#   GOPROXY=file://$(go env GOMODCACHE)/cache/download GOSUMDB=off deploy/dist.sh
set -euo pipefail

nfpm_module=github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2

die() {
	echo "dist.sh: $*" >&2
	exit 1
}

usage() {
	sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
}

repo=$(cd "$(dirname "$0")/.." && pwd)
out=
version=${PHONEPROV_VERSION:-}
arches=()
while [[ $# -gt 0 ]]; do
	case "$1" in
	--arch)
		[[ $# -ge 2 ]] || die "--arch needs a value (amd64, arm64 or armhf)"
		arches+=("$2")
		shift 2
		;;
	--arch=*) arches+=("${1#*=}"); shift ;;
	--out)
		[[ $# -ge 2 ]] || die "--out needs a folder"
		out=$2
		shift 2
		;;
	--out=*) out=${1#*=}; shift ;;
	--version)
		[[ $# -ge 2 ]] || die "--version needs a value"
		version=$2
		shift 2
		;;
	--version=*) version=${1#*=}; shift ;;
	-h | --help) usage; exit 0 ;;
	*) die "unknown argument '$1' (see --help)" ;;
	esac
done
[[ ${#arches[@]} -gt 0 ]] || arches=(amd64 arm64 armhf)
for a in "${arches[@]}"; do
	case "$a" in
	amd64 | arm64 | armhf) ;;
	*) die "unknown architecture '$a': use amd64, arm64 or armhf" ;;
	esac
done

# A relative --out is taken from where dist.sh was called.
[[ -z $out ]] || out=$(realpath -m -- "$out")
cd "$repo"
command -v go >/dev/null || die "go is not on PATH"

# A Debian version: starts with a digit; letters, digits and . + ~ - only.
if [[ -z $version ]]; then
	if tag=$(git describe --tags --abbrev=0 --match 'v[0-9]*' 2>/dev/null); then
		version=${tag#v}
		if [[ $(git rev-list -n1 "$tag" 2>/dev/null) != $(git rev-parse HEAD 2>/dev/null) ]]; then
			version+="+git$(git log -1 --format=%cd --date=format:%Y%m%d%H%M%S).$(git rev-parse --short=7 HEAD)"
		fi
	elif commit=$(git rev-parse --short=7 HEAD 2>/dev/null); then
		version="0.0.0~git$(git log -1 --format=%cd --date=format:%Y%m%d%H%M%S).$commit"
	else
		version="0.0.0~dev"
	fi
fi
[[ $version =~ ^[0-9][A-Za-z0-9.+~-]*$ ]] ||
	die "version '$version' is not a Debian version (a digit first, then letters, digits and . + ~ -)"

# The commit `phoneprov version` names, with the version (main.commit, main.version).
commit_id=$(git rev-parse HEAD 2>/dev/null || echo unknown)

if [[ -z ${SOURCE_DATE_EPOCH:-} ]]; then
	SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || date +%s)
fi
export SOURCE_DATE_EPOCH

out=${out:-$repo/dist}
mkdir -p "$out" || die "cannot create $out"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# licence_name FILE: the SPDX name of a common licence text, else "other".
licence_name() {
	local text
	text=$(tr -s '[:space:]' ' ' <"$1")
	case "$text" in
	*"Apache License"*"Version 2.0"*) echo Apache-2.0 ;;
	*"Mozilla Public License Version 2.0"*) echo MPL-2.0 ;;
	*"Permission is hereby granted, free of charge"*) echo MIT ;;
	*"Permission to use, copy, modify, and/or distribute"*) echo ISC ;;
	*"Redistribution and use"*"Neither the name"*) echo BSD-3-Clause ;;
	*"Redistribution and use"*) echo BSD-2-Clause ;;
	*) echo other ;;
	esac
}

# copyright ARCH FILE: phoneprov's own notice, then the licence of Go and of
# every module linked into the ARCH binary, as shipped in the module.
write_copyright() {
	local goarch=$1 goarm=$2 file=$3 path ver dir lic
	{
		cat <<-'EOF'
			Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
			Upstream-Name: phoneprov
			Comment: /usr/bin/phoneprov is one statically linked Go program. This
			 file gives the licence of phoneprov itself and, below it, the licence
			 of the Go standard library and of every Go module linked into the
			 program, as each ships it.

			Files: *
			Copyright: the phoneprov authors
			License: not yet chosen
			 phoneprov's authors have not yet published a licence for it; until
			 they do, no rights beyond those of the law are granted.
		EOF
		printf '\nFiles: go/*\nComment: the Go standard library and runtime (%s)\nLicense: BSD-3-Clause\n' "$(go env GOVERSION)"
		sed 's/^$/./; s/^/ /' "$(go env GOROOT)/LICENSE"
	} >"$file"
	while read -r path ver dir; do
		# LICENSE, licence.md, COPYING, … in the module's top folder.
		lic=$(find "$dir" -maxdepth 1 -type f -regextype posix-extended \
			-iregex '.*/(licen[cs]e|copying)(\.(md|txt))?' | sort | head -n1)
		[[ -n $lic ]] || die "module $path@$ver has no licence file in $dir"
		{
			printf '\nFiles: %s/*\nComment: Go module %s %s\nLicense: %s\n' "$path" "$path" "$ver" "$(licence_name "$lic")"
			sed 's/^[[:space:]]*$/./; s/^/ /' "$lic"
		} >>"$file"
	done < <(GOOS=linux GOARCH=$goarch GOARM=$goarm CGO_ENABLED=0 go list -deps \
		-f '{{with .Module}}{{if not .Main}}{{.Path}} {{.Version}} {{.Dir}}{{end}}{{end}}' ./cmd/phoneprov | sort -u)
}

nfpm() {
	if [[ -n ${NFPM:-} ]]; then
		"$NFPM" "$@"
	else
		go run "$nfpm_module" "$@"
	fi
}

# The man page, compressed as Debian wants it: -n leaves out the name and
# time, so the same page always gives the same bytes.
gzip -9 -n -c docs/phoneprov.8 >"$work/phoneprov.8.gz" || die "cannot compress docs/phoneprov.8"

built=()
for arch in "${arches[@]}"; do
	goarm=
	case "$arch" in
	amd64) goarch=amd64 ;;
	arm64) goarch=arm64 ;;
	armhf) goarch=arm goarm=6 ;;
	esac
	bin="phoneprov-linux-$arch"
	deb="phoneprov_${version}_${arch}.deb"
	echo "dist.sh: building $bin (GOARCH=$goarch${goarm:+ GOARM=$goarm})"
	CGO_ENABLED=0 GOOS=linux GOARCH=$goarch GOARM=$goarm \
		go build -trimpath -ldflags="-s -w -X main.version=$version -X main.commit=$commit_id" -o "$work/$bin" ./cmd/phoneprov ||
		die "go build for $arch failed"
	write_copyright "$goarch" "$goarm" "$work/copyright-$arch"

	echo "dist.sh: packaging $deb"
	PHONEPROV_DEB_ARCH=$arch PHONEPROV_VERSION=$version PHONEPROV_BINARY=$work/$bin \
		PHONEPROV_COPYRIGHT=$work/copyright-$arch PHONEPROV_MANPAGE=$work/phoneprov.8.gz \
		PHONEPROV_MAINTAINER=${PHONEPROV_MAINTAINER:-phoneprov developers <phoneprov@invalid>} \
		nfpm package --packager deb --config deploy/nfpm.yaml --target "$work/$deb" >"$work/nfpm.log" 2>&1 ||
		{
			cat "$work/nfpm.log" >&2
			die "nfpm failed for $arch"
		}
	# Into place only when both are whole, so DIR never holds half a build.
	mv -f "$work/$bin" "$out/$bin"
	mv -f "$work/$deb" "$out/$deb"
	built+=("$bin" "$deb")
done

(cd "$out" && sha256sum -- "${built[@]}" >SHA256SUMS)
echo "dist.sh: in $out:"
for f in "${built[@]}"; do printf "  %10d  %s\n" "$(stat -c %s "$out/$f")" "$f"; done
