#!/usr/bin/env bash
# A throwaway phone lab: two network namespaces joined by a veth pair,
# phoneprov (DHCP + files) in one, simulated phones (phonesim) in the other,
# then the appliance's table of the phones it saw. Everything it creates —
# namespaces, links, processes, the temporary folder — is removed when it
# ends, also on Ctrl-C or a failure.
#
#   bash deploy/lab/lab.sh --phones 50              (as root; make demo does this)
#   bash deploy/lab/lab.sh --dhcp dnsmasq --phones 200 --spread 0s -- -json
#
# Addresses come from 198.18.0.0/15 (RFC 2544's benchmarking range) only:
# the server is 198.18.0.1/16, phones lease from 198.18.1.1-198.18.254.254.
# Nothing touches the host's own interfaces.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

phones=50
mix=""
spread=10s
reboot_delay=2s
dhcp=phoneprov
phoneprov_bin="$repo/bin/phoneprov"
phonesim_bin="$repo/bin/phonesim"
keep_log=""
keep=0
phonesim_args=()

usage() {
  cat <<EOF
usage: lab.sh [options] [-- phonesim options]

  --phones N         simulated phones (default $phones)
  --mix SPEC         phone models, like j179=40,9608=30,4621=10 (default: phonesim's)
  --spread D         power-on spread, like 5s or 0s (default $spread)
  --reboot-delay D   how long a phone takes to restart after a firmware update (default $reboot_delay)
  --dhcp WHICH       phoneprov (default) or dnsmasq (dnsmasq serves the same options)
  --phoneprov PATH   the appliance binary (default bin/phoneprov)
  --phonesim PATH    the simulator binary (default bin/phonesim)
  --log FILE         keep the appliance's log here
  --keep             leave the lab running after the phones are done, until
                     Ctrl-C (at most a day), to look at the status page
Anything after -- goes to phonesim (see bin/phonesim -h). Needs root.
EOF
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    --phones) phones=${2:?--phones needs a number}; shift 2 ;;
    --mix) mix=${2:?--mix needs a value}; shift 2 ;;
    --spread) spread=${2:?--spread needs a duration}; shift 2 ;;
    --reboot-delay) reboot_delay=${2:?--reboot-delay needs a duration}; shift 2 ;;
    --dhcp) dhcp=${2:?--dhcp needs phoneprov or dnsmasq}; shift 2 ;;
    --phoneprov) phoneprov_bin=${2:?}; shift 2 ;;
    --phonesim) phonesim_bin=${2:?}; shift 2 ;;
    --log) keep_log=${2:?}; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) usage; exit 0 ;;
    --) shift; phonesim_args=("$@"); break ;;
    *) echo "lab.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done

die() { echo "lab.sh: $*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || die "needs root (network namespaces); try: sudo bash $0 $*"
[[ $phones =~ ^[0-9]+$ && $phones -ge 1 && $phones -le 60000 ]] || die "--phones must be 1..60000"
[[ $dhcp == phoneprov || $dhcp == dnsmasq ]] || die "--dhcp must be phoneprov or dnsmasq"
command -v ip >/dev/null || die "the ip command is missing (apt-get install iproute2)"
[[ -x $phoneprov_bin ]] || die "$phoneprov_bin is missing: go build -o bin/phoneprov ./cmd/phoneprov"
[[ -x $phonesim_bin ]] || die "$phonesim_bin is missing: go build -o bin/phonesim ./cmd/phonesim"
if [[ $dhcp == dnsmasq ]]; then
  dnsmasq_bin=$(command -v dnsmasq || true)
  [[ -n $dnsmasq_bin ]] || die "dnsmasq is missing (apt-get install dnsmasq-base)"
fi

# Names unique to this run: the PID keeps two labs (or a crashed one) apart.
id=$$
srv_ns="pp-lab-srv-$id"
phones_ns="pp-lab-phones-$id"
srv_if="pps$id"     # interface names: at most 15 characters
phones_if="ppp$id"
server_ip=198.18.0.1
pool_start=198.18.1.1
pool_end=198.18.254.254
call_server=198.18.0.2

tmp=$(mktemp -d "${TMPDIR:-/tmp}/pp-lab.XXXXXX")
pids=()

# shellcheck disable=SC2317  # called by the traps
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [[ -n $keep_log && -f $tmp/server.log ]]; then cp "$tmp/server.log" "$keep_log" || true; fi
  # Deleting a namespace deletes the veth end in it, and with it the pair.
  ip netns del "$phones_ns" 2>/dev/null || true
  ip netns del "$srv_ns" 2>/dev/null || true
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'echo >&2; echo "lab.sh: interrupted, cleaning up" >&2; exit 130' INT TERM

say() { echo "lab.sh: $*" >&2; }
say "namespaces $srv_ns and $phones_ns, server $server_ip, DHCP by $dhcp, temporary folder $tmp"
ip netns add "$srv_ns"
ip netns add "$phones_ns"
ip link add "$srv_if" type veth peer name "$phones_if"
ip link set "$srv_if" netns "$srv_ns"
ip link set "$phones_if" netns "$phones_ns"
ip -n "$srv_ns" link set lo up
ip -n "$phones_ns" link set lo up
ip -n "$srv_ns" addr add "$server_ip/16" dev "$srv_if"
ip -n "$srv_ns" link set "$srv_if" up
ip -n "$phones_ns" link set "$phones_if" up

# The appliance's configuration: the sample tree, state in the temp folder,
# the admin API on loopback inside the server namespace.
mkdir -p "$tmp/data" "$tmp/run"
cat >"$tmp/phoneprov.toml" <<EOF
# Written by deploy/lab/lab.sh for one lab run.
data_dir = "$tmp/data"

[log]
level = "warn"

[admin]
listen = "127.0.0.1:9167"

[fileserve]
root = "$repo/testdata/files"
drain_timeout = "2s"

[fileserve.http]
listen = ["$server_ip:80"]

[fileserve.https]
listen = ["$server_ip:443", "$server_ip:411"]

[fileserve.tftp]
listen = ["$server_ip:69"]

[provisioning]
https_port = 443

[provisioning.settings]
SNTPSRVR = "$server_ip"
GMTOFFSET = "0:00"
EOF
if [[ $dhcp == phoneprov ]]; then
  cat >>"$tmp/phoneprov.toml" <<EOF

[dhcp]
enabled = true
lock_dir = "$tmp/run"
lease_time = "1h"

[[dhcp.subnet]]
cidr = "198.18.0.0/16"
interface = "$srv_if"
routers = ["$server_ip"]

[[dhcp.subnet.pool]]
start = "$pool_start"
end = "$pool_end"

# mitel-sip first, so the mitel preset's MAC prefixes do not catch the
# Aastra/Mitel SIP phones that share them.
[[dhcp.class]]
preset = "mitel-sip"

[[dhcp.class]]
preset = "cisco-mpp"

[[dhcp.class]]
preset = "avaya"
call_servers = ["$call_server"]

[[dhcp.class]]
preset = "cisco"

[[dhcp.class]]
preset = "polycom"

[[dhcp.class]]
preset = "yealink"

[[dhcp.class]]
preset = "snom"

[[dhcp.class]]
preset = "grandstream"

[[dhcp.class]]
preset = "mitel"
call_servers = ["$call_server"]
EOF
else
  # The same classes and strings as phoneprov's presets give, for dnsmasq.
  # dnsmasq matches vendor classes as substrings, and a comma would end the
  # value: "Cisco Systems" stands for "Cisco Systems, Inc. IP Phone …".
  avaya="MCIPADD=$call_server,MCPORT=1719,HTTPSRVR=$server_ip,HTTPPORT=80,TLSSRVR=$server_ip,TLSPORT=411,TFTPSRVR=$server_ip"
  cat >"$tmp/dnsmasq.conf" <<EOF
port=0
interface=$srv_if
bind-interfaces
dhcp-authoritative
no-ping
dhcp-range=$pool_start,$pool_end,255.255.0.0,1h
dhcp-lease-max=70000
dhcp-leasefile=$tmp/dnsmasq.leases
dhcp-option=option:router,$server_ip
dhcp-vendorclass=set:avaya,ccp.avaya.com
# Forced: the J100 reads 242 without asking for it (CORRECTIONS claim 8).
dhcp-option-force=tag:avaya,242,"$avaya"
dhcp-option=tag:avaya,176,"$avaya"
dhcp-vendorclass=set:cisco,Cisco Systems
dhcp-option=tag:cisco,150,$server_ip
dhcp-option=tag:cisco,66,"$server_ip"
dhcp-vendorclass=set:polycom,Polycom
dhcp-option-force=tag:polycom,66,"http://$server_ip:80/"
dhcp-option-force=tag:polycom,160,"http://$server_ip:80/"
dhcp-vendorclass=set:web,yealink
dhcp-vendorclass=set:web,snom
dhcp-vendorclass=set:web,AastraIPPhone
dhcp-vendorclass=set:web,MitelIPPhone
dhcp-vendorclass=set:web,-3PCC
dhcp-mac=set:web,00:0b:82:*:*:*
dhcp-option-force=tag:web,66,"http://$server_ip:80/"
dhcp-vendorclass=set:minet,ipphone.mitel.com
dhcp-option-force=tag:minet,43,"id:ipphone.mitel.com;sw_tftp=$server_ip;call_srv=$call_server"
EOF
fi

ip netns exec "$srv_ns" "$phoneprov_bin" serve -c "$tmp/phoneprov.toml" >"$tmp/server.log" 2>&1 &
pids+=($!)
pp_pid=$!
if [[ $dhcp == dnsmasq ]]; then
  "$dnsmasq_bin" --test --conf-file="$tmp/dnsmasq.conf" >/dev/null 2>"$tmp/dnsmasq.log" ||
    { cat "$tmp/dnsmasq.log" >&2; die "dnsmasq refused the lab's configuration"; }
  ip netns exec "$srv_ns" "$dnsmasq_bin" --keep-in-foreground --log-facility=- --conf-file="$tmp/dnsmasq.conf" \
    --pid-file="$tmp/dnsmasq.pid" >"$tmp/dnsmasq.log" 2>&1 &
  pids+=($!)
fi

# Wait until the appliance answers (bounded).
ready=0
for _ in $(seq 100); do
  kill -0 "$pp_pid" 2>/dev/null || break
  if ip netns exec "$srv_ns" bash -c "exec 3<>/dev/tcp/$server_ip/80" 2>/dev/null; then ready=1; break; fi
  sleep 0.1
done
if [[ $ready -ne 1 ]]; then
  say "phoneprov did not start; its log:"
  cat "$tmp/server.log" >&2
  exit 1
fi
if [[ $dhcp == dnsmasq ]] && ! kill -0 "${pids[1]}" 2>/dev/null; then
  say "dnsmasq did not start; its log:"
  cat "$tmp/dnsmasq.log" >&2
  exit 1
fi

# The phones are the models of the sourced fact table in testdata/phones.
# -list: a line per phone before the summary, kept apart (not printed) for
# the agreement check at the end.
args=(-i "$phones_if" -phones "$phones" -spread "$spread" -reboot-delay "$reboot_delay" -facts "$repo/testdata/phones" -list)
[[ -n $mix ]] && args+=(-mix "$mix")
# In the background so that a signal to this script is handled at once
# (bash runs traps only between commands, and wait is interruptible); the
# cleanup stops it. Its summary is printed once it is done.
ip netns exec "$phones_ns" "$phonesim_bin" "${args[@]}" "${phonesim_args[@]}" >"$tmp/phonesim.out" &
sim_pid=$!
pids+=("$sim_pid")
set +e
wait "$sim_pid"
sim_rc=$?
set -e
awk -v list="$tmp/phonesim.list" '/^MAC +MODEL +ADDRESS +STATE/ {inlist = 1; next}
  inlist && NF == 0 {inlist = 0; next}
  inlist {print > list; next}
  {print}' "$tmp/phonesim.out"

echo
echo "What phoneprov saw (phoneprov phones):"
ip netns exec "$srv_ns" "$phoneprov_bin" phones -c "$tmp/phoneprov.toml" || say "phoneprov phones failed"
# Next to it, what the phones themselves say (not with -json).
if grep -q '^  provisioned' "$tmp/phonesim.out"; then
  echo
  echo "What the phones saw (phonesim):"
  grep -E '^  (provisioned|backups|by model)' "$tmp/phonesim.out"
fi
# One line: does phoneprov's inventory agree with what each phone says of
# itself? Every phone phonesim ran is known; every Avaya phone phonesim
# counts as provisioned has a decided state (not fetching, discovered,
# failed or stale); phoneprov says "upgraded" exactly for the phones whose
# firmware phonesim changed.
if [[ -s $tmp/phonesim.list ]] && command -v jq >/dev/null &&
  ip netns exec "$srv_ns" "$phoneprov_bin" phones --json -c "$tmp/phoneprov.toml" >"$tmp/phones.json" 2>/dev/null; then
  jq -r '.[] | [.mac, (.vendor // "-"), .state, (if .upgraded then "upgraded" else "-" end)] | @tsv' "$tmp/phones.json" >"$tmp/phones.tsv"
  echo
  awk -F'\t' 'FNR == NR {vendor[$1] = $2; state[$1] = $3; up[$1] = $4; next}
    {
      total++; n = split($0, f, " "); mac = f[1]; st = ""
      for (i = 2; i <= n; i++) if (f[i] ~ /^(provisioned|kept|failed)$/) { st = f[i]; break }
      updated = index($0, "\342\206\222") > 0
      if (!(mac in state)) { bad[++nbad] = mac " unknown to phoneprov"; next }
      known++
      if (vendor[mac] != "Avaya") { others++; next }
      avaya++
      if (updated) simup++
      if (up[mac] == "upgraded") ppup++
      if (st == "provisioned") {
        prov++
        if (state[mac] ~ /^(fetching|discovered|failed|stale)$/) bad[++nbad] = mac " " state[mac]
        else { decided++; states[state[mac]]++ }
      }
      if (updated != (up[mac] == "upgraded")) bad[++nbad] = mac (updated ? " updated by phonesim, not upgraded in phoneprov" : " upgraded in phoneprov, not by phonesim")
    }
    END {
      s = ""; for (k in states) s = s (s == "" ? "" : ", ") k " " states[k]
      printf "Agreement: %s. %d of %d phones known to phoneprov; Avaya %d: %d of %d provisioned decided (%s); firmware updated %d (phonesim), upgraded %d (phoneprov); others %d", \
        (nbad ? "NO" : "yes"), known, total, avaya, decided, prov, s, simup, ppup, others
      for (i = 1; i <= nbad && i <= 5; i++) printf "%s%s", (i == 1 ? "; mismatches: " : ", "), bad[i]
      if (nbad > 5) printf " and %d more", nbad - 5
      printf "\n"
    }' "$tmp/phones.tsv" "$tmp/phonesim.list" || say "the agreement check did not run"
fi
if ! kill -0 "$pp_pid" 2>/dev/null; then
  say "phoneprov stopped during the run; its log:"
  cat "$tmp/server.log" >&2
  exit 1
fi
if [[ $keep -eq 1 ]]; then
  say "the lab stays up until Ctrl-C. The status page listens inside the server namespace:"
  say "  ip netns exec $srv_ns curl -s http://127.0.0.1:9167/api/phones"
  say "  ip netns exec $srv_ns chromium --no-sandbox --user-data-dir=\$(mktemp -d) http://127.0.0.1:9167/"
  say "  ip netns exec $srv_ns $phoneprov_bin phones -c $tmp/phoneprov.toml"
  for ((i = 0; i < 86400; i++)); do
    kill -0 "$pp_pid" 2>/dev/null || { say "phoneprov stopped; its log:"; cat "$tmp/server.log" >&2; exit 1; }
    sleep 1
  done
fi
exit "$sim_rc"
