#!/usr/bin/env bash
# Multi-host test on one machine: three network namespaces (afdp-h1..3, addresses 10.77.0.1-3) joined by veth
# links to a bridge in a fourth (afdp-br), mpirun started in afdp-h1 with hostfiles/netns, scripts/netns-agent.sh
# in place of ssh, and the TCP transport restricted to that subnet. A full-batch (gd) run across the three hosts
# must reach the single-host final loss (to 1e-5 relative) and its log header must list three distinct hosts; a
# --reproducible minibatch10 run across them must log the single-host run's losses and parameters bit for bit.
#
# Usage: scripts/test-multihost.sh [--help]
# Needs root, `ip netns` (iproute2) and `unshare` (util-linux); without them it prints SKIPPED and exits 0.
# The namespaces are removed on every exit path. Exit code 0 on success or skip, 1 on failure.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then airfoil_dp_usage "$0"; exit 0; fi

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
skip() { echo "multi-host test: SKIPPED: $*"; exit 0; }
[[ $EUID -eq 0 ]] || skip "needs root to create network namespaces"
command -v ip >/dev/null && ip netns list >/dev/null 2>&1 || skip "no 'ip netns' (apt-get install iproute2)"
command -v unshare >/dev/null || skip "no unshare (util-linux)"
binary="$(airfoil_dp_binary "$repo")" || exit 1
airfoil_dp_default_data "$repo" || { echo "multi-host test: no data file (set AIRFOIL_DP_DATA)" >&2; exit 1; }
data="${AIRFOIL_DP_DATA:-data/airfoil_self_noise.dat}"
data="$(cd "$(dirname "$data")" && pwd)/$(basename "$data")"

bridge=afdp-br
hosts=(afdp-h1 afdp-h2 afdp-h3)
work="$(mktemp -d)"
cleanup() {
    for namespace in "${hosts[@]}" "$bridge"; do ip netns delete "$namespace" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT INT TERM
cleanup
work="$(mktemp -d)"

ip netns add "$bridge" || skip "cannot create network namespaces here"
ip netns exec "$bridge" ip link add br0 type bridge
ip netns exec "$bridge" ip link set br0 up
for index in 1 2 3; do
    namespace="afdp-h$index"
    ip netns add "$namespace"
    ip link add "afdp-v$index" type veth peer name "afdp-b$index"
    ip link set "afdp-v$index" netns "$namespace"
    ip link set "afdp-b$index" netns "$bridge"
    ip netns exec "$bridge" ip link set "afdp-b$index" master br0
    ip netns exec "$bridge" ip link set "afdp-b$index" up
    ip netns exec "$namespace" ip addr add "10.77.0.$index/24" dev "afdp-v$index"
    ip netns exec "$namespace" ip link set "afdp-v$index" up
    ip netns exec "$namespace" ip link set lo up
done

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

# Trains with the given options across the three hosts (6 ranks): mpirun runs in afdp-h1 under its own host name;
# ranks on afdp-h2 and afdp-h3 are started by the agent.
across_hosts() {
    timeout 120 ip netns exec afdp-h1 unshare --uts sh -c 'hostname afdp-h1 && exec "$@"' sh \
        mpirun -np 6 --hostfile "$repo/hostfiles/netns" --allow-run-as-root \
        --mca plm_rsh_agent "$repo/scripts/netns-agent.sh" \
        --mca btl tcp,self --mca btl_tcp_if_include 10.77.0.0/24 --mca oob_tcp_if_include 10.77.0.0/24 \
        --mca mpi_yield_when_idle 1 -x PATH \
        "$binary" --data "$data" --quiet "$@" > "$work/multi.out" 2>&1 \
        || { echo "multi-host test: FAILED: the 3-host run failed:" >&2; cat "$work/multi.out" >&2; exit 1; }
}
reproducible=(--reproducible --preset minibatch10 --epochs 1)
"$binary" --data "$data" --preset gd --quiet --log "$work/single.jsonl" > /dev/null
"$binary" --data "$data" "${reproducible[@]}" --quiet --log "$work/single-reproducible.jsonl" > /dev/null
across_hosts --preset gd --log "$work/multi.jsonl"
across_hosts "${reproducible[@]}" --log "$work/multi-reproducible.jsonl"

/usr/bin/env python3 - "$work" <<'PY'
import json, os, sys
def records(name):
    return [json.loads(line) for line in open(os.path.join(sys.argv[1], name))]
single, multi = records("single.jsonl"), records("multi.jsonl")
hosts = multi[0]["hosts"]
a, b = single[-1]["final_loss"], multi[-1]["final_loss"]
print(f"multi-host test: {multi[0]['ranks']} ranks on hosts {', '.join(h['name'] + ' ' + str(h['ranks']) for h in hosts)}")
print(f"multi-host test: gd final loss {b!r} across 3 hosts, {a!r} on one rank")
def fingerprint(log):
    return [r["loss"] for r in log if r["type"] == "eval"] + [log[-1]["params_digest"]]
same = fingerprint(records("single-reproducible.jsonl")) == fingerprint(records("multi-reproducible.jsonl"))
print(f"multi-host test: --reproducible losses and parameters across 3 hosts and on one rank: "
      + ("bit-identical" if same else "DIFFERENT"))
ok = len({h["name"] for h in hosts}) == 3 and abs(a - b) <= 1e-5 * a and same
print("multi-host test: PASSED" if ok else "multi-host test: FAILED")
sys.exit(0 if ok else 1)
PY
