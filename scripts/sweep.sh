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
#   --lr X                     one learning rate for all (default: the preset's for the batch: 1 -> 0.005,
#                              10 -> 0.05, 100 -> 0.4, all rows -> 1, else 0.05; with --weak, the preset's for
#                              the per-rank batch, so each weak series keeps one rate at every rank count)
#   --lrs "0.05,0.1,0.2,0.4"   run every batch and rank count at each of these learning rates (commas or spaces),
#                              for steps-to-target with each batch's best rate (compare --fit, plot-runs' time to
#                              target); logs are then named B<global batch>-P<ranks>-lr<rate>.jsonl
#   --out DIR                  the run folder (default runs/<date and time>-<strong|weak>-B<batches>-P<ranks>)
#   --hostfile FILE            passed to scripts/run.sh (multi-host)
#   --repeats N                run every point N times, repeat k with --seed k-1 (logs named ...-r<k>.jsonl):
#                              compare --validate then knows the measurements' own spread (default 1)
#   --checkpoint-every N       each run checkpoints every N steps to <log name>.ckpt beside its log, so a run
#                              that was interrupted or preempted continues from there when the sweep is rerun
#                              (--resume auto); the file is removed once the run is complete (default 10000;
#                              0: no checkpoints, an interrupted run starts again)
#   --dry-run                  list the runs and their commands, run nothing
# Anything after -- goes to every airfoil-dp run (e.g. -- --optimizer adam --rows 1000); the batches are checked
# against the training rows those runs will use (their --data, --rows and --val-rows, as `airfoil-dp info --shape`
# counts them). Combinations that cannot run (global batch < ranks, or > the training rows) are skipped with a note. Logs are named B<global batch>-P<ranks>.jsonl (with
# --lrs, -lr<rate> added).
# A run that diverges (airfoil-dp's exit code 3, at a learning rate too large for its batch) is a result, not a
# failure: its log ends with the step and the last finite loss, compare lists it as diverged, and it is not rerun.
# Rerunning with the same --out skips each run whose complete (finished or diverged) log was written by the same
# configuration (the log's header, checked by airfoil-dp --same-run-as), reruns incomplete ones, and refuses,
# naming the difference, when a complete log there was made by other options. A failed run does not stop the
# sweep; Ctrl-C or SIGTERM stops it within seconds: the current run is recorded as interrupted and no further run
# starts. SIGUSR1 (a batch system's time-limit warning) is passed to the current run, which stops at a step
# boundary with its checkpoint (exit 75): it is recorded as preempted, no further run starts, and the sweep exits 75.
# Every run is a line of manifest.tsv (status ok, diverged, failed, interrupted or preempted, and the checkpoint
# interval); the exit code is 0 when every run finished or diverged, 1 after failures, 130/143 when interrupted,
# 75 when preempted.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

usage() { airfoil_dp_usage "$0"; }

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
batches="1 10 100 1500"
rank_counts="1 2 4 8 16"
mode=strong
epochs=""
lr=""
lrs=""
out=""
hostfile=()
dry_run=0
repeats=1
checkpoint_every=10000
extra=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --batches) batches="${2:?--batches needs a list}"; shift 2 ;;
        --ranks) rank_counts="${2:?--ranks needs a list}"; shift 2 ;;
        --weak) mode=weak; shift ;;
        --strong) mode=strong; shift ;;
        --epochs) epochs="${2:?--epochs needs a number}"; shift 2 ;;
        --lr) lr="${2:?--lr needs a number}"; shift 2 ;;
        --lrs) lrs="${2:?--lrs needs a list of numbers}"; lrs="${lrs//,/ }"; shift 2 ;;
        --out) out="${2:?--out needs a folder}"; shift 2 ;;
        --hostfile) hostfile=(--hostfile "${2:?--hostfile needs a file}"); shift 2 ;;
        --dry-run) dry_run=1; shift ;;
        --repeats) repeats="${2:?--repeats needs a number}"; shift 2 ;;
        --checkpoint-every) checkpoint_every="${2:?--checkpoint-every needs a number}"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        --) shift; extra=("$@"); break ;;
        *) echo "sweep.sh: unknown option '$1' (see --help)" >&2; exit 64 ;;
    esac
done
for value in $batches $rank_counts ${epochs:-1} $repeats; do
    [[ "$value" =~ ^[1-9][0-9]*$ ]] || { echo "sweep.sh: '$value' is not a positive whole number" >&2; exit 64; }
done
[[ "$checkpoint_every" =~ ^(0|[1-9][0-9]*)$ ]] || { echo "sweep.sh: --checkpoint-every '$checkpoint_every' is not a whole number of steps" >&2; exit 64; }
[[ -n "$lr" && -n "$lrs" ]] && { echo "sweep.sh: give --lr or --lrs, not both" >&2; exit 64; }
for rate in $lr $lrs; do
    [[ "$rate" =~ ^([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$ ]] && awk -v r="$rate" 'BEGIN { exit !(r > 0) }' \
        || { echo "sweep.sh: learning rate '$rate' is not a positive number" >&2; exit 64; }
done

if [[ -z "$out" ]]; then
    # A folder of its own even when another sweep starts in the same second: mkdir claims a name atomically.
    base="runs/$(date +%Y-%m-%dT%H%M%S)-$mode-B${batches// /,}-P${rank_counts// /,}"
    [[ -n "$lrs" ]] && base+="-lr${lrs// /,}"
    out="$base"
    if ((dry_run == 0)); then
        mkdir -p runs
        for ((n = 2; n <= 100; n++)); do mkdir "$out" 2>/dev/null && break; out="$base-$n"; done
        [[ -d "$out" ]] || { echo "sweep.sh: cannot create a run folder $base-N under runs/" >&2; exit 73; }
    fi
fi
manifest="$out/manifest.tsv"
binary="$(airfoil_dp_binary "$repo")" || exit 69
airfoil_dp_default_data "$repo" || true
# The training rows the batches must fit, as the runs will count them from the options passed through.
training_rows="$(airfoil_dp_training_rows "$binary" "${extra[@]+"${extra[@]}"}")" || exit $?

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
        # Each entry: per-rank or global batch, global batch, ranks, the learning rate of --lrs (else empty) and
        # the repeat.
        for rate in ${lrs:-"-"}; do
            for ((repeat = 1; repeat <= repeats; repeat++)); do
                plan+=("$batch:$global:$ranks:${rate#-}:$repeat")
            done
        done
    done
done
total=${#plan[@]}
((total > 0)) || { echo "sweep.sh: nothing to run" >&2; exit 64; }
if [[ $mode == weak && -z "$lr" ]]; then
    echo "sweep.sh: note: weak scaling: each per-rank batch's series keeps one learning rate, its preset's (else 0.05)" >&2
fi

# run_options BATCH GLOBAL RANKS RATE REPEAT: sets run_lr, run_epochs, the run's log name and the airfoil-dp
# options of one run (without --log). With --repeats, repeat k runs with --seed k-1 (after any passed through).
run_options() {
    local lr_batch=$2
    [[ $mode == weak ]] && lr_batch=$1
    read -r preset_lr _ <<<"$(airfoil_dp_preset_for_batch "$binary" "$lr_batch" "$training_rows")"
    run_lr=${4:-${lr:-$preset_lr}}
    name="B$2-P$3${4:+-lr$4}"
    ((repeats > 1)) && name+="-r$5"
    run_epochs=${epochs:-$(airfoil_dp_preset_for_batch "$binary" "$2" "$training_rows" | cut -d' ' -f2)}
    options=(--global-batch "$2" --lr "$run_lr" --epochs "$run_epochs" --quiet "${extra[@]+"${extra[@]}"}")
    ((repeats > 1)) && options+=(--seed "$(($5 - 1))")
    return 0
}

# log_is_complete LOG: true when LOG holds a result: its run finished (a summary record last) or diverged (an end
# record of reason diverged last: at a large learning rate that is the sweep's finding, so it is not rerun).
log_is_complete() {
    [[ -f "$1" ]] || return 1
    local last
    last="$(tail -n 1 "$1")"
    [[ "$last" == *'"type":"summary"'* || ("$last" == *'"type":"end"'* && "$last" == *'"reason":"diverged"'*) ]]
}

# Before anything runs: a complete log in the folder must come from the run this sweep would make.
if [[ -d "$out" ]]; then
    for entry in "${plan[@]}"; do
        IFS=: read -r batch global ranks rate repeat <<<"$entry"
        run_options "$batch" "$global" "$ranks" "$rate" "$repeat"
        log="$out/$name.jsonl"
        log_is_complete "$log" || continue
        if ! verdict="$("$binary" "${options[@]}" --same-run-as "$log" 2>&1)"; then
            echo "sweep.sh: $log was made by another configuration (${verdict#differs: }): give another --out" >&2
            exit 65
        fi
    done
fi
if ((dry_run == 0)); then
    mkdir -p "$out"
    [[ -f "$manifest" ]] \
        || printf 'log\tranks\tglobal_batch\tlr\tepochs\tstatus\texit_code\tseconds\tcheckpoint_every\n' > "$manifest"
fi

# Ctrl-C reaches the whole process group; SIGTERM (from kill or a batch system) only this script: either way the
# current run is stopped and recorded as interrupted, and no further run starts.
interrupted=0
trap 'interrupted=130' INT
trap 'interrupted=143' TERM
child=""
trap '[[ -n "$child" ]] && kill -USR1 "$child" 2>/dev/null || true' USR1

started=$(date +%s)
done_runs=0
failed=()
diverged=0
index=0
for entry in "${plan[@]}"; do
    index=$((index + 1))
    IFS=: read -r batch global ranks rate repeat <<<"$entry"
    run_options "$batch" "$global" "$ranks" "$rate" "$repeat"
    log="$out/$name.jsonl"
    checkpoint="$out/$name.ckpt"
    command=("$repo/scripts/run.sh" -np "$ranks" "${hostfile[@]+"${hostfile[@]}"}" "${options[@]}" --log "$log")
    if ((checkpoint_every > 0)); then
        command+=(--checkpoint "$checkpoint" --checkpoint-every "$checkpoint_every" --resume auto)
    fi
    elapsed=$(($(date +%s) - started))
    eta="?"
    ((done_runs > 0)) && eta="$((elapsed * (total - index + 1) / done_runs))s"
    if ((dry_run)); then
        echo "[$index/$total] ${command[*]}"
        continue
    fi
    if log_is_complete "$log"; then
        echo "[$index/$total] B=$global P=$ranks${rate:+ lr=$rate}: complete log of the same run found, skipped" >&2
        continue
    fi
    # An incomplete log is a run that failed, or was interrupted or preempted: it continues from its checkpoint
    # when there is one, else starts again.
    if [[ -s "$log" && ! -e "$checkpoint" ]]; then command+=(--overwrite); fi
    echo "[$index/$total] B=$global P=$ranks lr=$run_lr epochs=$run_epochs (elapsed ${elapsed}s, about $eta left)" >&2
    run_start=$(date +%s.%N)
    status=ok
    code=0
    # In the background, so that a signal to this script ends the wait at once. Ctrl-C reaches mpirun too, which
    # stops the ranks (each logs an end record); a second signal would make it kill them unlogged, so SIGTERM is
    # passed on only if the run is still going two seconds later (a signal sent to this script alone).
    "${command[@]}" > "$out/$name.out" 2>&1 &
    child=$!
    forwarded=0
    while true; do
        wait "$child" && code=0 || code=$?
        kill -0 "$child" 2>/dev/null || break
        if ((interrupted && !forwarded)); then
            for _ in $(seq 20); do kill -0 "$child" 2>/dev/null && sleep 0.1; done
            kill -TERM "$child" 2>/dev/null || true
            forwarded=1
        fi
    done
    if ((interrupted)); then
        status=interrupted
    elif ((code == 75)); then
        # airfoil-dp's "resume me": a graceful signal stopped the run at a step boundary.
        status=preempted
    elif ((code == 3)) && log_is_complete "$log"; then
        # airfoil-dp's exit code for a diverged run, whose log ends with the step and the last finite loss.
        status=diverged
        diverged=$((diverged + 1))
    elif ((code != 0)); then
        status=failed
        failed+=("B=$global P=$ranks${rate:+ lr=$rate} (exit $code)")
    fi
    seconds=$(awk -v a="$run_start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
    # A manifest begun before the checkpoint interval was recorded keeps its eight columns.
    row=("$(basename "$log")" "$ranks" "$global" "$run_lr" "$run_epochs" "$status" "$code" "$seconds")
    [[ "$(head -n 1 "$manifest")" == *checkpoint_every ]] && row+=("$checkpoint_every")
    (IFS=$'\t'; echo "${row[*]}") >> "$manifest"
    if [[ $status == ok || $status == diverged ]]; then rm -f "$checkpoint"; fi
    done_runs=$((done_runs + 1))
    if ((interrupted)); then
        echo "sweep.sh: interrupted during B=$global P=$ranks${rate:+ lr=$rate} (recorded in $manifest); rerun the same command to go on from there" >&2
        exit "$interrupted"
    fi
    if [[ $status == preempted ]]; then
        echo "sweep.sh: preempted during B=$global P=$ranks${rate:+ lr=$rate} (recorded in $manifest); rerun the same command to go on from there" >&2
        exit 75
    fi
done
((dry_run)) && exit 0
echo >&2
"$binary" compare "$out" --scaling "$mode" | tee "$out/compare.txt"
"$binary" compare "$out" --scaling "$mode" --format csv > "$out/compare.csv" 2>/dev/null
if /usr/bin/python3 -c 'import matplotlib' 2>/dev/null; then
    "$repo/scripts/plot-runs" --scaling "$mode" "$out" >&2
else
    echo "sweep.sh: no plots: /usr/bin/python3 cannot import matplotlib (apt-get install python3-matplotlib)" >&2
fi
echo "sweep.sh: logs, manifest.tsv, compare.txt/csv and plots/ are in $out" >&2
if ((diverged)); then
    echo "sweep.sh: $diverged run(s) diverged: kept as results (status diverged in compare and the manifest)" >&2
fi
if ((${#failed[@]})); then
    echo "sweep.sh: ${#failed[@]} run(s) failed: ${failed[*]} (their output: $out/B*-P*.out)" >&2
    exit 1
fi
