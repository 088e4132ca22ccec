#!/usr/bin/env bash
# Fuzzes every fuzz target of the module for FUZZTIME each (default 4s):
# `make fuzz` and CI run it.
#
#   deploy/dev/fuzz-all.sh [GO]
#
# Targets are read from the test files `go list` selects for this platform,
# so a new one is picked up without editing this file. go test -fuzz takes
# one target a run; FUZZJOBS runs (default: one per core) go at once, each
# with one fuzzing worker, so the compile and link of one overlaps the
# fuzzing of another. Go writes to testdata/fuzz/ only on a failure: the
# input that broke the target, to commit with the fix.
#
# Go 1.26 can fail a run that found nothing with a bare "context deadline
# exceeded" as FUZZTIME ends, under load (go.dev/issue/75804: in
# internal/fuzz, stop() compares the deadline only with the child
# context's error; fixed in Go 1.27). Such a run had its full time and
# wrote no input, so it is reported and not failed; any other failure is.
set -euo pipefail
cd "$(dirname "$0")/../.."
go=${1:-go}
fuzztime=${FUZZTIME:-4s}
jobs=${FUZZJOBS:-$(nproc)}

# fuzz_one PKG TARGET OUT: one target's run, its output in OUT; fails
# when the target failed.
fuzz_one() {
	local pkg=$1 target=$2 out=$3 rc=0 why
	"$go" test -run='^$' -fuzz="^$target\$" -fuzztime="$fuzztime" -parallel=1 "$pkg" >"$out" 2>&1 || rc=$?
	[[ $rc -ne 0 ]] || return 0
	why=$(sed -n '/^--- FAIL: /,/^FAIL$/{/^--- FAIL: /d;/^FAIL$/d;p;}' "$out")
	if [[ $why == "    context deadline exceeded" ]] && ! grep -q 'Failing input written' "$out"; then
		echo "fuzz: $target: Go's end-of-run deadline race (go.dev/issue/75804), no failing input: not a failure" >>"$out"
		return 0
	fi
	return 1
}

pkgs=$("$go" list -f '{{.ImportPath}}{{range .TestGoFiles}} {{$.Dir}}/{{.}}{{end}}{{range .XTestGoFiles}} {{$.Dir}}/{{.}}{{end}}' ./...)
targets=$(printf '%s\n' "$pkgs" | while read -r pkg files; do
	[[ -z $files ]] || sed -n "s|^func \(Fuzz[A-Za-z0-9_]*\)(.*\*testing\.F).*|$pkg \1|p" $files
done)
[[ -n $targets ]] || { echo "fuzz: no fuzz targets found" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
i=0 failed=0 pids=() outs=() names=()
# wait_one: waits for the oldest run, prints its output, counts a failure.
wait_one() {
	if ! wait "${pids[0]}"; then
		failed=$((failed + 1))
		echo "fuzz: ${names[0]} FAILED"
	fi
	cat "${outs[0]}"
	pids=("${pids[@]:1}") outs=("${outs[@]:1}") names=("${names[@]:1}")
}
while read -r pkg target; do
	[[ ${#pids[@]} -lt $jobs ]] || wait_one
	i=$((i + 1))
	echo "fuzz: $pkg $target for $fuzztime"
	fuzz_one "$pkg" "$target" "$work/$i.out" &
	pids+=($!) outs+=("$work/$i.out") names+=("$pkg $target")
done <<<"$targets"
while [[ ${#pids[@]} -gt 0 ]]; do wait_one; done
[[ $failed -eq 0 ]] || { echo "fuzz: $failed target(s) failed" >&2; exit 1; }
