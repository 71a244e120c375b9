#!/usr/bin/env bash
# Kill-and-resume chaos test: a 16-rank training job with frequent checkpoints loses a random rank (SIGKILL) at
# random moments, is resumed from its checkpoint after each kill, and must end with exactly the parameters of an
# uninterrupted run of the same configuration.
#
# Usage: scripts/chaos.sh [--quick] [--kills N] [--seed S] [--ranks P]
#   --quick    3 kills on a shorter run (what CI runs; a few minutes at most)
#   --kills N  kills before the run may finish (default 20)
#   --seed S   seeds the kill moments and victims (default 1); the same seed repeats the same test
#   --ranks P  ranks per job (default 16)
# Checks, each a failure when it does not hold: every job ends within its bound (120 s, and 15 s after a kill);
# after every kill the checkpoint on disk is whole (its header's SHA-1 matches its payload); the final summary's
# params and params_digest equal the uninterrupted run's, bit for bit. Prints PASSED and exits 0 only then.
# Needs: a built airfoil-dp (scripts/setup.sh) and the data (as for scripts/run.sh).
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

usage() { airfoil_dp_usage "$0"; }
kills=20
seed=1
ranks=16
epochs=1200
while [ $# -gt 0 ]; do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        --quick) kills=3; epochs=400 ;;
        --kills|--seed|--ranks)
            [ $# -ge 2 ] && [[ "$2" =~ ^[0-9]+$ ]] || { echo "chaos.sh: $1 needs a whole number" >&2; exit 64; }
            case "$1" in --kills) kills="$2" ;; --seed) seed="$2" ;; --ranks) ranks="$2" ;; esac
            shift ;;
        *) echo "chaos.sh: unknown option '$1' (see --help)" >&2; exit 64 ;;
    esac
    shift
done
((ranks >= 2)) || { echo "chaos.sh: --ranks must be at least 2" >&2; exit 64; }

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
binary="$(airfoil_dp_binary "$repo")" || exit 69
airfoil_dp_default_data "$repo" || true
mapfile -t mpirun_flags < <(airfoil_dp_mpirun_flags "$ranks")
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
RANDOM="$seed"

# Adam keeps optimizer state that a resume must restore; batch 2P gives every rank two rows per step.
run=(--optimizer adam --lr 0.002 --global-batch $((2 * ranks)) --epochs "$epochs" --eval-every 100000 --quiet)
job() { timeout -s KILL 120 mpirun -np "$ranks" "${mpirun_flags[@]}" "$binary" "${run[@]}" "$@"; }

fail() { echo "chaos.sh: FAILED: $*" >&2; exit 1; }

# The checkpoint's first line is "airfoil-dp checkpoint <version> <sha1 of the rest>".
check_checkpoint() {
    [ -f "$work/state.ckpt" ] || return 0
    local expected actual
    expected="$(head -n 1 "$work/state.ckpt" | awk '{ print $4 }')"
    actual="$(tail -n +2 "$work/state.ckpt" | sha1sum | awk '{ print $1 }')"
    [ "$expected" = "$actual" ] || fail "the checkpoint is damaged after kill $1 (digest $actual, header $expected)"
}

# The last job's own error line (mpirun's report after it says less).
job_error() { grep -m 1 "airfoil-dp" "$work/job.err" || tail -n 3 "$work/job.err"; }

# The rank processes launched under PID: its airfoil-dp descendants, in pid order.
rank_processes() {
    ps -e -o pid=,ppid=,comm= | awk -v root="$1" '
        { parent[$1] = $2; name[$1] = $3 }
        END {
            for (pid in parent) {
                if (name[pid] != "airfoil-dp") continue
                for (up = parent[pid]; up > 1; up = parent[up]) if (up == root) { print pid; break }
            }
        }' | sort -n
}

# The step a checkpoint was written at (0 when there is none yet).
checkpoint_step() {
    [ -f "$work/state.ckpt" ] || { echo 0; return; }
    tail -n +2 "$work/state.ckpt" | python3 -c 'import json, sys; print(json.load(sys.stdin)["state"]["step"])'
}

# The summary's params and params_digest, as one line.
final_parameters() {
    python3 -c 'import json, sys
summary = [r for r in map(json.loads, open(sys.argv[1])) if r["type"] == "summary"][-1]
print(summary["params_digest"], json.dumps(summary["params"]))' "$1"
}

echo "chaos: uninterrupted reference run ($ranks ranks, $epochs epochs)" >&2
start_ms=$(($(date +%s%N) / 1000000))
job --log "$work/reference.jsonl" >/dev/null || fail "the uninterrupted run failed"
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
launches=0
while :; do
    launches=$((launches + 1))
    resume=()
    [ -f "$work/state.ckpt" ] && resume=(--resume "$work/state.ckpt")
    launch_step="$(checkpoint_step)"
    job --log "$work/chaos.jsonl" --checkpoint "$work/state.ckpt" --checkpoint-every "$every" "${resume[@]}" \
        >"$work/job.out" 2>"$work/job.err" &
    launcher=$!
    if ((done_kills >= kills)); then
        wait "$launcher" || fail "the last run (after $done_kills kills) failed: $(job_error)"
        break
    fi
    # One kill in four lands in start-up (MPI_Init, loading, the checkpoint's broadcast), 0.2 to 1 s after the
    # launch; the others once the run has written 1 to most_checkpoints new checkpoints.
    if ((RANDOM % 4 == 0)); then
        moment="in start-up"
        delay_ms=$((200 + RANDOM % 800))
        sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
    else
        target=$((launch_step + every * (1 + RANDOM % most_checkpoints)))
        moment="at step $target"
        while kill -0 "$launcher" 2>/dev/null && (($(checkpoint_step) < target)); do sleep 0.1; done
    fi
    mapfile -t rank_pids < <(rank_processes "$launcher")
    if ! kill -0 "$launcher" 2>/dev/null || ((${#rank_pids[@]} == 0)); then
        wait "$launcher" || fail "a run ended on its own with an error: $(job_error)"
        break
    fi
    victim_index=$((RANDOM % ${#rank_pids[@]}))
    kill -KILL "${rank_pids[$victim_index]}" 2>/dev/null || true
    killed_at=$SECONDS
    if wait "$launcher"; then
        # The run finished in the instant before the kill landed.
        break
    fi
    ((SECONDS - killed_at <= 15)) || fail "the job took $((SECONDS - killed_at)) s to end after kill $((done_kills + 1))"
    done_kills=$((done_kills + 1))
    check_checkpoint "$done_kills"
    echo "chaos: kill $done_kills/$kills $moment: rank process $((victim_index + 1)) of ${#rank_pids[@]};" \
        "checkpoint at step $(checkpoint_step) of $total_steps" >&2
done

((done_kills >= kills)) || fail "the run finished after only $done_kills of $kills kills: use a longer run"
reference="$(final_parameters "$work/reference.jsonl")"
chaos="$(final_parameters "$work/chaos.jsonl")"
[ "$reference" = "$chaos" ] || fail "final parameters differ: reference $reference, after kills $chaos"
leftovers="$(find "$work" -name 'state.ckpt.tmp-*' | wc -l)"
echo "chaos: $done_kills kills, $launches launches, final parameters identical (${reference%% *})"
echo "chaos: temporary checkpoint files left by killed writers: $leftovers"
echo PASSED
