#!/usr/bin/env bash
# Runs airfoil-dp over a grid of global batch sizes and rank counts, one log per run, into a run folder with a
# manifest, then prints the comparison table and draws the plots.
#
# Usage: scripts/sweep.sh [options] [-- airfoil-dp options...]
#   --batches "1 10 100 1500"  global batch sizes (default: the chapter's); with --weak, per-rank batch sizes
#   --ranks "1 2 4 8 16"       rank counts (default)
#   --weak                     weak scaling: the global batch is the per-rank batch x ranks (default: strong,
#                              a fixed global batch at every rank count)
#   --epochs N                 epochs of every run (default: the matching preset's, else 2)
#   --lr X                     one learning rate for all (default: the matching preset's: 1 -> 0.005,
#                              10 -> 0.05, 100 -> 0.4, all rows -> 1; else 0.05)
#   --out DIR                  the run folder (default runs/<date>-<strong|weak>-B<batches>-P<ranks>); rerunning
#                              with the same folder skips runs whose logs are complete
#   --hostfile FILE            passed to scripts/run.sh (multi-host)
#   --dry-run                  list the runs and their commands, run nothing
# Anything after -- goes to every airfoil-dp run (e.g. -- --optimizer adam --scale-lr linear --max-lr 0.9).
# Combinations that cannot run (global batch < ranks, or > the 1500 training rows) are skipped with a note. A
# failed run does not stop the sweep; failures are listed at the end and in manifest.tsv, and the exit code is 1.
set -euo pipefail

usage() { sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; }

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
batches="1 10 100 1500"
rank_counts="1 2 4 8 16"
mode=strong
epochs=""
lr=""
out=""
hostfile=()
dry_run=0
extra=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --batches) batches="${2:?--batches needs a list}"; shift 2 ;;
        --ranks) rank_counts="${2:?--ranks needs a list}"; shift 2 ;;
        --weak) mode=weak; shift ;;
        --strong) mode=strong; shift ;;
        --epochs) epochs="${2:?--epochs needs a number}"; shift 2 ;;
        --lr) lr="${2:?--lr needs a number}"; shift 2 ;;
        --out) out="${2:?--out needs a folder}"; shift 2 ;;
        --hostfile) hostfile=(--hostfile "${2:?--hostfile needs a file}"); shift 2 ;;
        --dry-run) dry_run=1; shift ;;
        -h|--help) usage; exit 0 ;;
        --) shift; extra=("$@"); break ;;
        *) echo "sweep.sh: unknown option '$1' (see --help)" >&2; exit 64 ;;
    esac
done
for value in $batches $rank_counts ${epochs:-1}; do
    [[ "$value" =~ ^[1-9][0-9]*$ ]] || { echo "sweep.sh: '$value' is not a positive whole number" >&2; exit 64; }
done
training_rows=1500

if [[ -z "$out" ]]; then
    out="runs/$(date +%Y-%m-%dT%H%M)-$mode-B${batches// /,}-P${rank_counts// /,}"
fi
manifest="$out/manifest.tsv"
if ((dry_run == 0)); then
    mkdir -p "$out"
    [[ -f "$manifest" ]] || printf 'log\tranks\tglobal_batch\tlr\tepochs\tstatus\texit_code\tseconds\n' > "$manifest"
fi

source "$repo/scripts/lib/common.sh"
binary="$(airfoil_dp_binary "$repo")" || exit 69

plan=()
for batch in $batches; do
    for ranks in $rank_counts; do
        global=$batch
        [[ $mode == weak ]] && global=$((batch * ranks))
        if ((global < ranks)); then
            echo "sweep.sh: note: skipping global batch $global at $ranks ranks (every rank needs an example)" >&2
            continue
        fi
        if ((global > training_rows)); then
            echo "sweep.sh: note: skipping global batch $global at $ranks ranks (more than $training_rows rows)" >&2
            continue
        fi
        plan+=("$global:$ranks")
    done
done
total=${#plan[@]}
((total > 0)) || { echo "sweep.sh: nothing to run" >&2; exit 64; }

started=$(date +%s)
done_runs=0
failed=()
index=0
for entry in "${plan[@]}"; do
    index=$((index + 1))
    global=${entry%%:*}
    ranks=${entry##*:}
    read -r preset_lr preset_epochs <<<"$(airfoil_dp_preset_for_batch "$binary" "$global" "$training_rows")"
    run_lr=${lr:-$preset_lr}
    run_epochs=${epochs:-$preset_epochs}
    log="$out/B$global-P$ranks.jsonl"
    command=("$repo/scripts/run.sh" -np "$ranks" "${hostfile[@]+"${hostfile[@]}"}" --global-batch "$global"
             --lr "$run_lr" --epochs "$run_epochs" --log "$log" --quiet "${extra[@]+"${extra[@]}"}")
    elapsed=$(($(date +%s) - started))
    eta="?"
    ((done_runs > 0)) && eta="$((elapsed * (total - index + 1) / done_runs))s"
    if ((dry_run)); then
        echo "[$index/$total] ${command[*]}"
        continue
    fi
    if [[ -f "$log" ]] && tail -n 1 "$log" | grep -q '"type":"summary"'; then
        echo "[$index/$total] B=$global P=$ranks: complete log found, skipped" >&2
        continue
    fi
    echo "[$index/$total] B=$global P=$ranks lr=$run_lr epochs=$run_epochs (elapsed ${elapsed}s, about $eta left)" >&2
    run_start=$(date +%s.%N)
    status=ok
    code=0
    "${command[@]}" > "$out/B$global-P$ranks.out" 2>&1 || { code=$?; status=failed; failed+=("B=$global P=$ranks (exit $code)"); }
    seconds=$(awk -v a="$run_start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(basename "$log")" "$ranks" "$global" "$run_lr" "$run_epochs" \
        "$status" "$code" "$seconds" >> "$manifest"
    done_runs=$((done_runs + 1))
done
((dry_run)) && exit 0
echo >&2
"$binary" compare "$out" | tee "$out/compare.txt"
"$binary" compare "$out" --format csv > "$out/compare.csv" 2>/dev/null
if /usr/bin/python3 -c 'import matplotlib' 2>/dev/null; then
    "$repo/scripts/plot-runs" "$out" >&2
else
    echo "sweep.sh: no plots: /usr/bin/python3 cannot import matplotlib (apt-get install python3-matplotlib)" >&2
fi
echo "sweep.sh: logs, manifest.tsv, compare.txt/csv and plots/ are in $out" >&2
if ((${#failed[@]})); then
    echo "sweep.sh: ${#failed[@]} run(s) failed: ${failed[*]} (their output: $out/B*-P*.out)" >&2
    exit 1
fi
