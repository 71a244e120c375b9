#!/usr/bin/env bash
# Kill-and-resume chaos test: a 16-rank training job with frequent checkpoints is interrupted at random moments,
# alternately by SIGKILL to a random rank and by the graceful stop (SIGUSR1 to mpirun, as a cluster's time-limit
# warning), is resumed from its checkpoint after each (--resume auto, the command a requeued job runs), and must
# end with exactly the parameters of an uninterrupted run of the same configuration.
#
# Usage: scripts/chaos.sh [--quick] [--kills N] [--seed S] [--ranks P] [--rank-change]
#   --quick        3 interruptions on a shorter run (what CI runs; a few minutes at most)
#   --kills N      interruptions before the run may finish (default 20): the 1st, 3rd, ... a SIGKILL, the 2nd,
#                  4th, ... the graceful signal
#   --seed S       seeds the moments, victims and rank counts (default 1); the same seed repeats the same test
#   --ranks P      ranks per job (default 16)
#   --rank-change  every launch takes a random rank count from 1 to P (the job a scheduler gives back at another
#                  size), with --reproducible, which makes the bits independent of the rank count (and a small MLP)
# Checks, each a failure when it does not hold: every job ends within its bound (120 s, and 15 s after an
# interruption); after every kill the checkpoint on disk is whole (its header's SHA-1 matches its payload); every
# graceful stop exits 75 with a `preempted` record whose step is the checkpoint's (no work lost); the final
# summary's params and params_digest equal the uninterrupted run's, bit for bit. Prints PASSED and exits 0 only then.
# Needs: a built airfoil-dp (scripts/setup.sh) and the data (as for scripts/run.sh).
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

usage() { airfoil_dp_usage "$0"; }
kills=20
seed=1
ranks=16
epochs=1200
rank_change=0
while [ $# -gt 0 ]; do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        --quick) kills=3; epochs=400 ;;
        --rank-change) rank_change=1 ;;
        --kills|--seed|--ranks)
            [ $# -ge 2 ] && [[ "$2" =~ ^[0-9]+$ ]] || { echo "chaos.sh: $1 needs a whole number" >&2; exit 64; }
            case "$1" in --kills) kills="$2" ;; --seed) seed="$2" ;; --ranks) ranks="$2" ;; esac
            shift ;;
        *) echo "chaos.sh: unknown option '$1' (see --help)" >&2; exit 64 ;;
    esac
    shift
done
((ranks >= 2)) || { echo "chaos.sh: --ranks must be at least 2" >&2; exit 64; }
((ranks <= 16 || ! rank_change)) || { echo "chaos.sh: --rank-change takes rank counts up to 16" >&2; exit 64; }

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
binary="$(airfoil_dp_binary "$repo")" || exit 69
airfoil_dp_default_data "$repo" || true
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
RANDOM="$seed"

# Adam keeps optimizer state that a resume must restore; batch 2P gives every rank two rows per step.
run=(--optimizer adam --lr 0.002 --global-batch $((2 * ranks)) --epochs "$epochs" --eval-every 100000 --quiet)
# With --rank-change, a small MLP: its steps cost compute at every rank count, where the linear model's run at one
# or two ranks could finish between two looks at its checkpoint.
((rank_change)) && run+=(--reproducible --model mlp --hidden 16)
# job COUNT OPTIONS...: the training job at COUNT ranks.
job() {
    local count="$1" flags
    shift
    mapfile -t flags < <(airfoil_dp_mpirun_flags "$count")
    timeout -s KILL 120 mpirun -np "$count" "${flags[@]}" "$binary" "${run[@]}" "$@"
}

fail() { echo "chaos.sh: FAILED: $*" >&2; exit 1; }

# The checkpoint's first line is "airfoil-dp checkpoint <version> <sha1 of the rest>".
check_checkpoint() {
    [ -f "$work/state.ckpt" ] || return 0
    local expected actual
    expected="$(head -n 1 "$work/state.ckpt" | awk '{ print $4 }')"
    actual="$(tail -n +2 "$work/state.ckpt" | sha1sum | awk '{ print $1 }')"
    [ "$expected" = "$actual" ] || fail "the checkpoint is damaged after interruption $1 (digest $actual, header $expected)"
}

# The last job's own error line (mpirun's report after it says less).
job_error() { grep -m 1 "airfoil-dp" "$work/job.err" || tail -n 3 "$work/job.err"; }

# Under a launch, the ranks are its airfoil-dp descendants and mpirun the one named mpirun (Debian's: orterun).
# descendants PID NAME...: the processes under PID with one of these names, in pid order.
descendants() {
    local root="$1"
    shift
    ps -e -o pid=,ppid=,comm= | awk -v root="$root" -v names="$*" '
        BEGIN { split(names, list, " "); for (i in list) wanted[list[i]] = 1 }
        { parent[$1] = $2; name[$1] = $3 }
        END {
            for (pid in parent) {
                if (!(name[pid] in wanted)) continue
                for (up = parent[pid]; up > 1; up = parent[up]) if (up == root) { print pid; break }
            }
        }' | sort -n
}

# The graceful stop's step in the chaos log's last record (empty when it is not a preempted end).
preempted_step() {
    tail -n 1 "$work/chaos.jsonl" | python3 -c 'import json, sys
record = json.loads(sys.stdin.read())
print(record["step"] if record.get("type") == "end" and record.get("reason") == "preempted" else "")'
}

# The step a checkpoint was written at (0 when there is none yet).
checkpoint_step() {
    [ -f "$work/state.ckpt" ] || { echo 0; return; }
    tail -n +2 "$work/state.ckpt" | grep -o '"step":[0-9]*' | head -n 1 | cut -d : -f 2
}

# The summary's params_digest and params (the MLP's summary has only the digest), as one line.
final_parameters() {
    python3 -c 'import json, sys
summary = [r for r in map(json.loads, open(sys.argv[1])) if r["type"] == "summary"][-1]
print(summary["params_digest"], json.dumps(summary.get("params")))' "$1"
}

echo "chaos: uninterrupted reference run ($ranks ranks, $epochs epochs)" >&2
start_ms=$(($(date +%s%N) / 1000000))
job "$ranks" --log "$work/reference.jsonl" >/dev/null || fail "the uninterrupted run failed"
reference_ms=$(($(date +%s%N) / 1000000 - start_ms))
echo "chaos: reference took ${reference_ms} ms" >&2
every=40
total_steps="$(python3 -c 'import json, sys
print([r for r in map(json.loads, open(sys.argv[1])) if r["type"] == "summary"][-1]["steps"])' "$work/reference.jsonl")"
# Each resumed run may advance at most 3/4 of its share of the checkpoints before its kill, so all the kills land
# before the run can finish, whatever the machine's speed.
most_checkpoints=$((3 * total_steps / (4 * kills * every)))
((most_checkpoints >= 1)) || fail "the run has too few checkpoints for $kills kills"

done_kills=0
graceful_stops=0
launches=0
counts=()
while :; do
    launches=$((launches + 1))
    count=$ranks
    ((rank_change)) && count=$((1 + RANDOM % ranks))
    counts+=("$count")
    launch_step="$(checkpoint_step)"
    job "$count" --log "$work/chaos.jsonl" --checkpoint "$work/state.ckpt" --checkpoint-every "$every" \
        --resume auto >"$work/job.out" 2>"$work/job.err" &
    launcher=$!
    interruptions=$((done_kills + graceful_stops))
    if ((interruptions >= kills)); then
        wait "$launcher" || fail "the last run (after $interruptions interruptions) failed: $(job_error)"
        break
    fi
    graceful=$((interruptions % 2))
    # One kill in four lands in start-up (MPI_Init, loading, the checkpoint's broadcast), 0.2 to 1 s after the
    # launch; the others, and every graceful stop, once the run has written 1 to most_checkpoints new checkpoints.
    if ((!graceful && RANDOM % 4 == 0)); then
        moment="in start-up"
        delay_ms=$((200 + RANDOM % 800))
        sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
    else
        target=$((launch_step + every * (1 + RANDOM % most_checkpoints)))
        moment="at step $target"
        while kill -0 "$launcher" 2>/dev/null && (($(checkpoint_step) < target)); do sleep 0.02; done
    fi
    mapfile -t rank_pids < <(descendants "$launcher" airfoil-dp)
    if ! kill -0 "$launcher" 2>/dev/null || ((${#rank_pids[@]} == 0)); then
        wait "$launcher" || fail "a run ended on its own with an error: $(job_error)"
        break
    fi
    if ((graceful)); then
        # mpirun passes SIGUSR1 on to every rank; timeout, between it and this shell, would not.
        mpirun_pid="$(descendants "$launcher" mpirun orterun | head -n 1)"
        [[ -n "$mpirun_pid" ]] || fail "found no mpirun under the launch (pid $launcher) to signal"
        kill -USR1 "$mpirun_pid" 2>/dev/null || true
    else
        victim_index=$((RANDOM % ${#rank_pids[@]}))
        kill -KILL "${rank_pids[$victim_index]}" 2>/dev/null || true
    fi
    stopped_at=$SECONDS
    status=0
    wait "$launcher" || status=$?
    # The run finished in the instant before the signal landed.
    ((status == 0)) && break
    ((SECONDS - stopped_at <= 15)) || fail "the job took $((SECONDS - stopped_at)) s to end after interruption $((interruptions + 1))"
    if ((graceful)); then
        ((status == 75)) || fail "the graceful stop at $count ranks exited $status, not 75: $(job_error)"
        stop_step="$(preempted_step)"
        [[ -n "$stop_step" && "$stop_step" == "$(checkpoint_step)" ]] \
            || fail "the graceful stop logged step '$stop_step' but checkpointed step $(checkpoint_step)"
        graceful_stops=$((graceful_stops + 1))
        check_checkpoint "$((interruptions + 1))"
        echo "chaos: interruption $((interruptions + 1))/$kills, SIGUSR1 $moment at $count ranks:" \
            "stopped and checkpointed at step $stop_step of $total_steps" >&2
    else
        done_kills=$((done_kills + 1))
        check_checkpoint "$((interruptions + 1))"
        echo "chaos: interruption $((interruptions + 1))/$kills, SIGKILL $moment: rank process $((victim_index + 1))" \
            "of ${#rank_pids[@]}; checkpoint at step $(checkpoint_step) of $total_steps" >&2
    fi
done

interruptions=$((done_kills + graceful_stops))
((interruptions >= kills)) || fail "the run finished after only $interruptions of $kills interruptions: use a longer run"
reference="$(final_parameters "$work/reference.jsonl")"
chaos="$(final_parameters "$work/chaos.jsonl")"
[ "$reference" = "$chaos" ] || fail "final parameters differ: reference $reference, after interruptions $chaos"
leftovers="$(find "$work" -name 'state.ckpt.tmp-*' | wc -l)"
echo "chaos: $done_kills kills and $graceful_stops graceful stops, $launches launches at ranks ${counts[*]}," \
    "final parameters identical to the $ranks-rank run (${reference%% *})"
echo "chaos: temporary checkpoint files left by killed writers: $leftovers"
echo PASSED
