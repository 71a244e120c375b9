#!/usr/bin/env bash
# OpenMPI launch agent for the multi-host test, used as `--mca plm_rsh_agent scripts/netns-agent.sh` in place of
# ssh: OpenMPI calls it as `netns-agent.sh HOST COMMAND...`; it runs COMMAND in the network namespace of HOST
# (10.77.0.N -> afdp-hN) under its own UTS namespace named like the host, so each "host" reports its own name.
#
# Usage: scripts/netns-agent.sh HOST COMMAND...   (as OpenMPI calls it; --help prints this)
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then airfoil_dp_usage "$0"; exit 0; fi
host="${1:?netns-agent.sh: no host}"
shift
[[ "$host" =~ ^10\.77\.0\.([1-9])$ ]] || { echo "netns-agent.sh: unknown host '$host'" >&2; exit 255; }
name="afdp-h${BASH_REMATCH[1]}"
# Like ssh, hand the command line to a shell on the "remote" side.
exec ip netns exec "$name" unshare --uts sh -c 'hostname "$0" && exec sh -c "$1"' "$name" "$*"
