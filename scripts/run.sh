#!/usr/bin/env bash
# Launches an airfoil-dp training job under mpirun with the flags this kind of machine needs, and passes every
# other argument to airfoil-dp.
#
# Usage: scripts/run.sh [-np N] [--hostfile FILE] [--] [airfoil-dp options...]
#   -np N            ranks (default 16)
#   --hostfile FILE  launch on the hosts of an OpenMPI hostfile (see hostfiles/)
#   --dry-run        print the mpirun command instead of running it
# Examples:
#   scripts/run.sh -np 16                               # the default job (minibatch100) on 16 ranks
#   scripts/run.sh -np 4 --preset gd --log runs/gd.jsonl
# Flags added: --oversubscribe (more ranks than cores; waiting ranks then yield the CPU); as root,
# --allow-run-as-root; without a hostfile, shared-memory and loopback transports only; with a hostfile,
# --mca mpi_yield_when_idle 1, because a hostfile that declares more slots than cores hides oversubscription
# from OpenMPI and its ranks would busy-poll (about 1000x slower allreduces on 2 cores).
# Oversubscribed on one host (more than twice as many ranks as cores, no hostfile), it also picks OpenMPI's Rabenseifner allreduce,
# which halved the gradient allreduce's latency at 8 and 16 ranks on 2 cores (docs/scaling-studies.md).
# The data file is found as airfoil-dp finds it (--data, $AIRFOIL_DP_DATA, data/); failing those, a checkout's
# sibling ../shared/data is used, and otherwise `airfoil-dp fetch-data` downloads it. The binary is this
# checkout's release build when there is one, else airfoil-dp on the PATH (scripts/lib/common.sh).
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

usage() { airfoil_dp_usage "$0"; }

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ranks=16
hostfile=""
dry_run=0
passthrough=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        -np|-n) ranks="${2:?-np needs a number}"; shift 2 ;;
        --hostfile) hostfile="${2:?--hostfile needs a file}"; shift 2 ;;
        --dry-run) dry_run=1; shift ;;
        -h|--help) usage; exit 0 ;;
        --) shift; passthrough+=("$@"); break ;;
        *) passthrough+=("$1"); shift ;;
    esac
done
[[ "$ranks" =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: -np must be a positive whole number, got '$ranks'" >&2; exit 64; }

# mpirun finds airfoil-dp by name: put the chosen binary's folder first on the PATH it exports to the ranks.
export PATH="$PATH:/usr/local/bin:$HOME/.local/bin"
binary="$(airfoil_dp_binary "$repo")" || exit 69
binary_folder="$(dirname "$binary")"
export PATH="$binary_folder:$PATH"

has_data_flag=0
for argument in "${passthrough[@]+"${passthrough[@]}"}"; do
    [[ "$argument" == --data || "$argument" == --data=* ]] && has_data_flag=1
done
if ((has_data_flag == 0)) && ! airfoil_dp_default_data "$repo"; then
    airfoil-dp fetch-data
fi

mapfile -t flags < <(airfoil_dp_mpirun_flags "$ranks" "$hostfile")
command=(mpirun -np "$ranks" "${flags[@]}" -x PATH)
[[ -n "${AIRFOIL_DP_DATA:-}" ]] && command+=(-x AIRFOIL_DP_DATA)
command+=(airfoil-dp "${passthrough[@]+"${passthrough[@]}"}")

if ((dry_run)); then
    printf '%q ' "${command[@]}"; echo
else
    exec "${command[@]}"
fi
