#!/usr/bin/env bash
# Measures sec/epoch (training time, evaluation excluded) of the chapter's four presets at 1, 2, 4 and 16 ranks,
# the median of three runs each, through scripts/run.sh (so with its mpirun settings). A preset whose batch is
# smaller than the rank count (sgd's batch of 1) runs there with one example per rank instead, as noted.
#
# Usage: scripts/bench-presets.sh [--ranks "1 2 4 16"] [--runs 3] [--help]
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

usage() { airfoil_dp_usage "$0"; }
rank_counts="1 2 4 16"
runs=3
while [[ $# -gt 0 ]]; do
    case "$1" in
        --ranks) rank_counts="${2:?--ranks needs a list}"; shift 2 ;;
        --runs) runs="${2:?--runs needs a number}"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "bench-presets.sh: unknown option '$1' (see --help)" >&2; exit 64 ;;
    esac
done
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "bench-presets.sh: --runs must be a positive whole number" >&2; exit 64; }

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
binary="$(airfoil_dp_binary "$repo")" || exit 69
# Each preset's global batch, from the binary (the one source); all rows (0) counts as the training rows.
airfoil_dp_default_data "$repo" || true
all_rows="$(airfoil_dp_training_rows "$binary")" || exit $?
declare -A batch=()
presets=()
while IFS=$'\t' read -r name _ global _; do
    presets+=("$name")
    batch[$name]=$((global == 0 ? all_rows : global))
done < <("$binary" presets)

printf '%-14s' "preset"
for ranks in $rank_counts; do
    if ((ranks == 1)); then printf '%16s' "1 rank"; else printf '%16s' "$ranks ranks"; fi
done
echo
for preset in "${presets[@]}"; do
    printf '%-14s' "$preset"
    for ranks in $rank_counts; do
        extra=()
        note=""
        if ((ranks > batch[$preset])); then extra=(--global-batch "$ranks"); note="*"; fi
        times=()
        for ((run = 0; run < runs; run++)); do
            line="$("$repo/scripts/run.sh" -np "$ranks" --preset "$preset" --quiet "${extra[@]+"${extra[@]}"}" | head -1)"
            times+=("$(sed -E 's/.*, ([0-9.]+) sec\/epoch/\1/' <<<"$line")")
        done
        median="$(printf '%s\n' "${times[@]}" | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}')"
        printf '%16s' "$median$note"
    done
    echo
done
echo "sec/epoch, median of $runs runs; * = batch raised to one example per rank"
