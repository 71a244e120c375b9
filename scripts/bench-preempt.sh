#!/usr/bin/env bash
# Measures how long a graceful stop takes: starts a long linear run with a checkpoint at each rank count, sends
# SIGUSR1 to mpirun once the ranks are training, and times the signal to mpirun's exit (the stop at the next step
# boundary, rank 0's checkpoint, the `preempted` record, every rank's exit 75). Prints a Markdown table: the
# median, fastest and slowest of the trials, and whether every trial exited 75 with a checkpoint at its stop step.
#
# Usage: scripts/bench-preempt.sh [--ranks "2 16"] [--trials 5] [--help]
#   --ranks   the rank counts (default "2 16"; more ranks than cores are oversubscribed)
#   --trials  trials per rank count (default 5)
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
usage() { airfoil_dp_usage "$0"; }
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
rank_counts="2 16"
trials=5
while [[ $# -gt 0 ]]; do
    case "$1" in
        --ranks) rank_counts="${2:?--ranks needs rank counts}"; shift 2 ;;
        --trials) trials="${2:?--trials needs a number}"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "bench-preempt.sh: unknown option '$1' (see --help)" >&2; exit 64 ;;
    esac
done
for value in $rank_counts $trials; do
    [[ "$value" =~ ^[1-9][0-9]*$ ]] || { echo "bench-preempt.sh: '$value' is not a positive whole number" >&2; exit 64; }
done
binary="$(airfoil_dp_binary "$repo")" || exit 69
airfoil_dp_default_data "$repo" || true
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "| ranks | trials | median s | fastest s | slowest s | every trial exited 75 at a checkpointed step |"
echo "|---|---|---|---|---|---|"
for ranks in $rank_counts; do
    mapfile -t launch < <(airfoil_dp_mpirun_flags "$ranks")
    times=()
    clean=yes
    for ((trial = 1; trial <= trials; trial++)); do
        rm -f "$work"/run.*
        mpirun -np "$ranks" "${launch[@]}" "$binary" --preset sgd --global-batch "$ranks" --epochs 100000 --quiet \
            --eval-every 1000000000 --log "$work/run.jsonl" --checkpoint "$work/run.ckpt" \
            --checkpoint-every 1000000000 </dev/null >/dev/null 2>"$work/run.err" &
        job=$!
        # Training has begun once the log holds its first evaluation.
        for _ in $(seq 200); do grep -q '"type":"eval"' "$work/run.jsonl" 2>/dev/null && break; sleep 0.05; done
        sleep 0.5
        start=$(date +%s.%N)
        kill -USR1 "$job"
        status=0
        wait "$job" || status=$?
        times+=("$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }')")
        # The end record's step, and the step the checkpoint holds (its JSON payload follows the header line).
        step="$(tail -n 1 "$work/run.jsonl" | sed -n 's/.*"reason":"preempted".*"step":\([0-9]*\).*/\1/p')"
        saved="$(/usr/bin/python3 -c 'import json, sys
print(json.loads(open(sys.argv[1]).read().split("\n", 1)[1])["state"]["step"])' "$work/run.ckpt" 2>/dev/null || true)"
        if [[ $status -ne 75 || -z "$step" || "$saved" != "$step" ]]; then clean=no; fi
    done
    sorted="$(printf '%s\n' "${times[@]}" | sort -n)"
    median="$(sed -n "$(((trials + 1) / 2))p" <<<"$sorted")"
    echo "| $ranks | $trials | $median | $(head -n 1 <<<"$sorted") | $(tail -n 1 <<<"$sorted") | $clean |"
done
