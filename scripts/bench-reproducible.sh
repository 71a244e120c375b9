#!/usr/bin/env bash
# Measures what --reproducible costs per kernel set: airfoil-dp bench step on one rank, for every kernel set this
# CPU runs (AIRFOIL_DP_KERNEL), the linear model with sgd at global batches 10 and 100 and the 5-64-64-1 MLP with
# Adam at 10, 100 and 1000, the noise scale on as it runs by default. Each cell is the median over --runs runs of
# the reproducible step's median over the default step's median (bench step times both in the same run, one after
# the other). Prints a table; scripts/bench-report.sh puts it in docs/performance.md. About a minute on 2 cores.
#
# Usage: scripts/bench-reproducible.sh [--runs 3] [--steps 1000] [--help]
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

usage() { airfoil_dp_usage "$0"; }
runs=3
steps=1000
while [[ $# -gt 0 ]]; do
    case "$1" in
        --runs) runs="${2:?--runs needs a number}"; shift 2 ;;
        --steps) steps="${2:?--steps needs a number}"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "bench-reproducible.sh: unknown option '$1' (see --help)" >&2; exit 64 ;;
    esac
done
for value in "$runs" "$steps"; do
    [[ "$value" =~ ^[1-9][0-9]*$ ]] || { echo "bench-reproducible.sh: --runs and --steps take positive whole numbers" >&2; exit 64; }
done

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
binary="$(airfoil_dp_binary "$repo")" || exit 69
airfoil_dp_default_data "$repo" || { echo "bench-reproducible.sh: no data file: run 'airfoil-dp fetch-data'" >&2; exit 66; }
kernels="$("$binary" info | sed -n 's/.*this CPU supports //p' | tr -d ',')"
[[ -n "$kernels" ]] || { echo "bench-reproducible.sh: 'airfoil-dp info' names no kernel set" >&2; exit 70; }

# One configuration on one kernel set: prints "batch ratio default_us reproducible_us" per batch, medians of runs.
measure() {
    local kernel="$1"; shift
    local run
    for ((run = 0; run < runs; run++)); do
        AIRFOIL_DP_KERNEL="$kernel" "$binary" bench step --json --steps "$steps" "$@" \
            | python3 -c 'import json, sys
for b in json.load(sys.stdin)["batches"]:
    print(b["global_batch"], b["reproducible_ratio"], b["median_step_us"], b["reproducible_step_us"])'
    done | sort -k1,1n -k2,2g | awk -v runs="$runs" '
        { count[$1]++; if (count[$1] == int((runs + 1) / 2)) median[$1] = $0 }
        END { for (b in median) print median[b] }' | sort -k1,1n
}

table="$(
    printf '%-9s %-12s %6s %10s %16s %10s\n' "kernel" "model" "batch" "step us" "reproducible us" "ratio"
    for kernel in $kernels; do
        while read -r batch ratio step reproducible; do
            printf '%-9s %-12s %6s %10.3f %16.3f %10.2f\n' "$kernel" "linear sgd" "$batch" "$step" "$reproducible" "$ratio"
        done < <(measure "$kernel" --global-batch 10 --global-batch 100)
        while read -r batch ratio step reproducible; do
            printf '%-9s %-12s %6s %10.3f %16.3f %10.2f\n' "$kernel" "mlp adam" "$batch" "$step" "$reproducible" "$ratio"
        done < <(measure "$kernel" --model mlp --optimizer adam --global-batch 10 --global-batch 100 --global-batch 1000)
    done
)"
echo "$table"
echo "ratio = --reproducible median step / default median step (same bench run); the median of $runs runs; 1 rank"
