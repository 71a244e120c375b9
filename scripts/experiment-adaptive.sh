#!/usr/bin/env bash
# The adaptive batch experiment of docs/batch-size.md: on a synthetic MLP whose gradient noise scale grows by an
# order of magnitude while it trains, the steps, examples and training time to a target loss for
#   (a) a fixed batch: a sweep of batches 16 to 256, each at the rates of a small sweep,
#   (b) the ramp --batch-schedule warmup:16:256:STEPS, and
#   (c) --batch-schedule noise from batch 16,
# (b) and (c) with the rate scaled by the square root of the batch (Adam); each at 1 and 2 ranks. The best fixed
# batch is the fixed run that reached the target in the least training time (the batch a sweep would pick); for (b)
# and (c) the rate whose run reached the target in the fewest steps. Then one LAMB-against-Adam pair at batch 1024.
# Prints a table per rank count and ends with two lines for one rank: steps_ratio (steps of (c) over (a)) and
# examples_ratio (examples of (c) over (a)). A few minutes on 2 cores.
#
# Usage: scripts/experiment-adaptive.sh [--out DIR] [--target LOSS] [--help]
#   --out     keep the run logs and plot them there (scripts/plot-runs); default a temporary folder, removed
#   --target  the target training loss (default 0.03)
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

usage() { airfoil_dp_usage "$0"; }
out=""
target=0.03
while [[ $# -gt 0 ]]; do
    case "$1" in
        --out) out="${2:?--out needs a folder}"; shift 2 ;;
        --target) target="${2:?--target needs a loss}"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "experiment-adaptive.sh: unknown option '$1' (see --help)" >&2; exit 64 ;;
    esac
done
[[ "$target" =~ ^[0-9]*\.?[0-9]+$ ]] || { echo "experiment-adaptive.sh: --target takes a positive number" >&2; exit 64; }

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
binary="$(airfoil_dp_binary "$repo")" || exit 69
if [[ -z "$out" ]]; then
    out="$(mktemp -d)"
    temporary=1
fi
mkdir -p "$out"

common=(--data synthetic:rows=20000,features=8,seed=1 --model mlp --hidden 32 --epochs 4 --eval-every 1000
        --eval-rows 4000 --quiet --overwrite)
rates=(0.003 0.01 0.02)
train() {
    local ranks="$1" name="$2"; shift 2
    local flags
    mapfile -t flags < <(airfoil_dp_mpirun_flags "$ranks")
    # A rate that diverges is a result of the sweep (its log ends in an 'end' record), not a failure.
    mpirun -np "$ranks" "${flags[@]}" "$binary" train "${common[@]}" --log "$out/$name.jsonl" "$@" > /dev/null 2>&1 \
        || true
}
for ranks in 1 2; do
    for lr in "${rates[@]}"; do
        for batch in 16 32 64 128 256; do
            train "$ranks" "fixed-r$ranks-b$batch-lr$lr" --optimizer adam --lr "$lr" --global-batch "$batch"
        done
        train "$ranks" "warmup-r$ranks-lr$lr" --optimizer adam --lr "$lr" --batch-schedule warmup:16:256:600 \
            --scale-lr sqrt --base-batch 16
        train "$ranks" "noise-r$ranks-lr$lr" --optimizer adam --lr "$lr" --global-batch 16 --batch-schedule noise \
            --scale-lr sqrt --base-batch 16 --max-batch 1024
    done
done
train 1 "large-adam" --optimizer adam --lr 0.01 --global-batch 1024
train 1 "large-lamb" --optimizer lamb --lr 0.01 --global-batch 1024

table="$(mktemp)"
trap 'rm -f "$table"; [[ -n "${temporary:-}" ]] && rm -rf "$out"' EXIT
"$binary" compare "$out" --format csv --target "$target" > "$table" 2>/dev/null
python3 - "$table" "$target" <<'PY'
import csv, os, sys
table, target = sys.argv[1], sys.argv[2]
runs = []
for row in csv.DictReader(open(table)):
    number = lambda key: float(row[key]) if row.get(key) else None
    runs.append(dict(name=os.path.basename(row["log"])[:-len(".jsonl")], steps=number("steps_to_target"),
                     examples=number("examples_to_target"), seconds=number("time_to_target"),
                     final=number("final_loss")))

def best(prefix, key):
    reached = [run for run in runs if run["name"].startswith(prefix) and run[key] is not None]
    return min(reached, key=lambda run: run[key]) if reached else None

ratios = None
for ranks in (1, 2):
    print(f"\n{ranks} rank{'s' if ranks > 1 else ''}, target loss {target}:\n")
    print("| schedule | run | steps | examples | training s |")
    print("|---|---|---|---|---|")
    chosen = {"(a) best fixed batch (least time)": best(f"fixed-r{ranks}-", "seconds"),
              "(a') fixed, fewest steps": best(f"fixed-r{ranks}-", "steps"),
              "(b) warmup ramp": best(f"warmup-r{ranks}-", "steps"),
              "(c) noise": best(f"noise-r{ranks}-", "steps")}
    for label, run in chosen.items():
        if run is None:
            print(f"| {label} | none reached the target | | | |")
        else:
            print(f"| {label} | {run['name']} | {run['steps']:.0f} | {run['examples']:.0f} | {run['seconds']:.3f} |")
    fixed, noise = chosen["(a) best fixed batch (least time)"], chosen["(c) noise"]
    if ranks == 1 and fixed and noise:
        ratios = (noise["steps"] / fixed["steps"], noise["examples"] / fixed["examples"])
print("\nLAMB against Adam at batch 1024, lr 0.01, 4 epochs, final training loss:")
for name in ("large-adam", "large-lamb"):
    run = next((run for run in runs if run["name"] == name), None)
    print(f"  {name[len('large-'):]}: {run['final'] if run else 'no log'}")
print()
print(f"steps_ratio: {ratios[0]:.3f}" if ratios else "steps_ratio: none (a run did not reach the target)")
print(f"examples_ratio: {ratios[1]:.3f}" if ratios else "examples_ratio: none")
PY
if [[ -z "${temporary:-}" ]]; then
    "$repo/scripts/plot-runs" "$out" --target "$target" > /dev/null 2>&1 \
        || echo "experiment-adaptive.sh: no plots (see scripts/plot-runs)" >&2
fi
