#!/usr/bin/env bash
# A real Slurm test on this host: installs slurm-wlm and munge through apt where missing, writes a single-node
# cluster configuration for this host in a temporary folder (state, spool, logs; its own ports, so a cluster
# already on the host is left alone), starts munged (unless one answers already), slurmctld and slurmd, submits:
#   - train.sbatch from the checkout, through srun (the launcher it picks is checked)
#   - sweep-array.sbatch twice, at 1 rank and at 2 (four array tasks each, one global batch each) into one runs
#     folder: the rank-count scaling study of docs/scaling-studies.md, then compared (strong scaling groups) and plotted
#   - train.sbatch from another folder by its absolute path, with AIRFOIL_DP_LAUNCHER=mpirun and --overcommit
#   - a job asking for more CPUs than the cluster has, which sbatch must refuse at once (EnforcePartLimits=ALL)
# waits for them (at most --timeout seconds), checks every job's state and exit code (scontrol), its log (a summary
# record, the host list) and output. Then the time-limit path, one job after another, each sent the warning
# mid-run as Slurm's --signal=B:USR1 sends it (scancel --signal=USR1 --batch):
#   - train.sbatch at 2 ranks: it must checkpoint, requeue itself, resume and complete with the params_digest of an
#     uninterrupted run
#   - train.sbatch with AIRFOIL_DP_MAX_REQUEUES=0: it must end FAILED with exit 75, not requeued
#   - train.sbatch --reproducible at 2 ranks with AIRFOIL_DP_REQUEUE=hold, given 1 task while held (scontrol
#     update NumTasks=1 NumCPUs=1, then release): it must resume at 1 rank, bit-identical to a 1-rank run
# and stops exactly the daemons it started. The cluster holds a requeued job for cred_expire + 1 s (set to 5 s
# here; Slurm's default of 120 s would make the test wait minutes).
#
# Usage: scripts/test-slurm.sh [--timeout SECONDS] [--keep]
#   --timeout SECONDS  how long to wait for the jobs (default 300)
#   --keep             keep the temporary folder (configuration, daemon logs, job output) even when it passes
# Prints PASSED (exit 0), FAILED with the reason (exit 1), or SKIPPED with the reason when it cannot run at all
# (not root and no sudo). Needs a release build (scripts/setup.sh) and the data ($AIRFOIL_DP_DATA or ../shared).
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

usage() { airfoil_dp_usage "$0"; }
timeout=300
keep=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --timeout) timeout="${2:?--timeout needs seconds}"; shift 2 ;;
        --keep) keep=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "test-slurm.sh: unknown option '$1' (see --help)" >&2; exit 64 ;;
    esac
done
[[ "$timeout" =~ ^[1-9][0-9]*$ ]] || { echo "test-slurm.sh: --timeout must be a positive whole number" >&2; exit 64; }

if [[ $EUID -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        exec sudo -n --preserve-env=AIRFOIL_DP_DATA,PATH bash "$0" "$@"
    fi
    echo "test-slurm.sh: SKIPPED: starting slurmd needs root, and sudo is not available without a password"
    exit 0
fi

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
binary="$(airfoil_dp_binary "$repo")" || exit 69
airfoil_dp_default_data "$repo" || { echo "test-slurm.sh: no data file: set AIRFOIL_DP_DATA" >&2; exit 66; }
export AIRFOIL_DP_DATA
missing=()
for command in slurmctld slurmd sbatch munged; do
    command -v "$command" >/dev/null 2>&1 || [[ -x "/usr/sbin/$command" ]] || missing+=("$command")
done
((${#missing[@]} == 0)) || airfoil_dp_apt_install slurm-wlm munge >/dev/null

scratch="$(mktemp -d /tmp/airfoil-dp-slurm.XXXXXX)"
mkdir -p "$scratch/state" "$scratch/spool" "$scratch/log" "$scratch/runs" "$scratch/elsewhere"
started=()
fail() {
    echo "test-slurm.sh: FAILED: $*"
    keep=1
    exit 1
}
stop_daemons() {
    local pid
    for pid in "${started[@]+"${started[@]}"}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${started[@]+"${started[@]}"}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        kill -9 "$pid" 2>/dev/null || true
    done
    if ((keep)); then echo "test-slurm.sh: configuration, daemon logs and job output are in $scratch"; else rm -rf "$scratch"; fi
}
trap stop_daemons EXIT

# munge: use a daemon that already answers; otherwise start one (the package leaves it stopped in containers).
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    [[ -f /etc/munge/munge.key ]] || /usr/sbin/mungekey --create >/dev/null 2>&1 || fail "no munge key and mungekey failed"
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    chown munge:munge /run/munge /var/log/munge /var/lib/munge
    runuser -u munge -- /usr/sbin/munged --pid-file="/run/munge/munged.pid" || fail "munged did not start"
    started+=("$(cat /run/munge/munged.pid)")
    munge -n | unmunge >/dev/null 2>&1 || fail "munge does not answer after starting munged"
fi

host="$(hostname -s)"
node="$(slurmd -C | head -n 1)"
[[ "$node" == NodeName=* ]] || fail "slurmd -C printed no node line: $node"
node="$(sed "s/^NodeName=[^ ]*/NodeName=$host NodeAddr=127.0.0.1/" <<<"$node")"
cpus="$(sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' <<<"$node")"
export SLURM_CONF="$scratch/slurm.conf"
cat > "$SLURM_CONF" <<CONF
ClusterName=airfoil-dp-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=6917
SlurmdPort=6918
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MinJobAge=3600
EnforcePartLimits=ALL
AuthInfo=cred_expire=5
SchedulerParameters=bf_interval=1,sched_interval=2
StateSaveLocation=$scratch/state
SlurmdSpoolDir=$scratch/spool
SlurmctldPidFile=$scratch/slurmctld.pid
SlurmdPidFile=$scratch/slurmd.pid
SlurmctldLogFile=$scratch/log/slurmctld.log
SlurmdLogFile=$scratch/log/slurmd.log
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
SchedulerType=sched/backfill
$node State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
/usr/sbin/slurmctld -f "$SLURM_CONF" || fail "slurmctld did not start (see $scratch/log/slurmctld.log)"
for _ in $(seq 50); do [[ -s "$scratch/slurmctld.pid" ]] && break; sleep 0.1; done
started+=("$(cat "$scratch/slurmctld.pid")")
/usr/sbin/slurmd -f "$SLURM_CONF" || fail "slurmd did not start (see $scratch/log/slurmd.log)"
for _ in $(seq 50); do [[ -s "$scratch/slurmd.pid" ]] && break; sleep 0.1; done
started+=("$(cat "$scratch/slurmd.pid")")
for _ in $(seq 120); do
    [[ "$(sinfo -h -o %T 2>/dev/null)" == idle ]] && break
    sleep 0.5
done
[[ "$(sinfo -h -o %T 2>/dev/null)" == idle ]] || fail "the node did not become idle: $(sinfo 2>&1 | tr '\n' ' ')"
echo "test-slurm.sh: cluster up: $cpus CPUs on $host, $(srun --mpi=list 2>&1 | tr -s '\n\t ' ' ')"

ranks=$((cpus < 2 ? cpus : 2))
train=$(cd "$repo" && AIRFOIL_DP_LOG="$scratch/runs/train.jsonl" sbatch --parsable --ntasks="$ranks" \
    --output="$scratch/train-%j.out" --error="$scratch/train-%j.err" scripts/slurm/train.sbatch --epochs 4) \
    || fail "sbatch train.sbatch was refused"
# A rank-count scaling study as docs/scaling-studies.md shows it: one array per rank count into one runs folder.
sweeps=()
for count in 1 "$ranks"; do
    sweeps+=("$(cd "$repo" && AIRFOIL_DP_RUNS="$scratch/runs/study" sbatch --parsable --ntasks="$count" \
        --output="$scratch/sweep-%A_%a.out" --error="$scratch/sweep-%A_%a.err" scripts/slurm/sweep-array.sbatch)") \
        || fail "sbatch sweep-array.sbatch was refused"
done
sweep="${sweeps[*]}"
sweep="${sweep// /,}"
oversized=$((cpus * 32))
elsewhere=$(cd "$scratch/elsewhere" && AIRFOIL_DP_LAUNCHER=mpirun sbatch --parsable --ntasks=$((cpus * 2)) \
    --overcommit "$repo/scripts/slurm/train.sbatch" --preset minibatch10) || fail "sbatch from another folder was refused"
if refused=$(sbatch --parsable --ntasks="$oversized" "$repo/scripts/slurm/train.sbatch" 2>&1); then
    fail "a job of $oversized tasks on $cpus CPUs was accepted (job $refused) instead of refused"
fi
echo "test-slurm.sh: submitted train $train, sweep arrays $sweep, from another folder $elsewhere; refused $oversized tasks: $refused"

deadline=$(($(date +%s) + timeout))
while [[ -n "$(squeue -h -j "$train,$sweep,$elsewhere" 2>/dev/null)" ]]; do
    (($(date +%s) < deadline)) || fail "jobs still queued or running after $timeout s: $(squeue -h -j "$train,$sweep,$elsewhere" | tr '\n' ';')"
    sleep 1
done

# check_job ID LOG OUTPUT LAUNCHER: the job completed with exit 0, its log ends in a summary and names this host,
# and its error output says which launcher it used.
check_job() {
    local id="$1" log="$2" errors="$3" launcher="$4" state
    state="$(scontrol show job "$id" | tr ' ' '\n' | grep -E '^(JobState|ExitCode)=' | tr '\n' ' ')"
    [[ "$state" == "JobState=COMPLETED ExitCode=0:0 " ]] || fail "job $id: $state($(cat "$errors" 2>/dev/null))"
    [[ -f "$log" ]] || fail "job $id wrote no log $log"
    tail -n 1 "$log" | grep -q '"type":"summary"' || fail "job $id: $log has no summary record"
    head -n 1 "$log" | grep -q "\"hosts\":\[{\"name\":\"$host\"" || fail "job $id: $log does not list host $host"
    grep -q "launching .* with $launcher" "$errors" || fail "job $id did not launch with $launcher: $(cat "$errors")"
}
srun_launcher="$(airfoil_dp_slurm_launcher auto | tr '\n' ' ')"
check_job "$train" "$scratch/runs/train.jsonl" "$scratch/train-$train.err" "${srun_launcher% }"
# The array task's batch (its preset's, raised to one example per rank) names its log.
all_rows="$(airfoil_dp_training_rows "$binary")" || fail "airfoil-dp info --shape could not count the data's rows"
mapfile -t batches < <("$binary" presets | awk -F'\t' -v all="$all_rows" '{ print ($3 == 0 ? all : $3) }' | sort -n)
index=0
for count in 1 "$ranks"; do
    array="${sweeps[$index]}"
    index=$((index + 1))
    for task in 0 1 2 3; do
        batch=${batches[$task]}
        ((batch < count)) && batch=$count
        check_job "${array}_$task" "$scratch/runs/study/B$batch-P$count.jsonl" "$scratch/sweep-${array}_$task.err" \
            "${srun_launcher% }"
    done
done
check_job "$elsewhere" "$scratch/elsewhere/runs/airfoil-dp-$elsewhere.jsonl" \
    "$scratch/elsewhere/airfoil-dp-$elsewhere.err" mpirun
ranks_elsewhere=$(head -n 1 "$scratch/elsewhere/runs/airfoil-dp-$elsewhere.jsonl" | sed -n 's/.*"ranks":\([0-9]*\),"schema".*/\1/p')
[[ "$ranks_elsewhere" == $((cpus * 2)) ]] || fail "the overcommitted job ran $ranks_elsewhere ranks, not $((cpus * 2))"
"$binary" compare "$scratch/runs/study" --scaling strong > "$scratch/compare.txt" \
    || fail "compare could not read the study's logs"
groups=$(grep -c ' strong ' "$scratch/compare.txt" || true)
((groups >= 4)) || fail "compare found $groups runs in strong-scaling groups, not the study's: $(cat "$scratch/compare.txt")"
if /usr/bin/python3 -c 'import matplotlib' 2>/dev/null; then
    "$repo/scripts/plot-runs" --scaling strong -o "$scratch/plots" "$scratch/runs/study" 2>/dev/null \
        || fail "plot-runs could not draw the study"
fi

# The time-limit path. Each job runs long enough that the warning lands mid-run: the signal goes once its log has
# a second eval record (the first is written before the first step).
# signal_when_training JOB LOG: waits for the job to train, then sends SIGUSR1 to its batch shell only.
signal_when_training() {
    local job="$1" log="$2"
    until [[ -f "$log" ]] && (($(grep -c '"type":"eval"' "$log") >= 2)); do
        (($(date +%s) < deadline)) || fail "job $job did not start training within $timeout s: $(squeue -h -j "$job")"
        [[ -n "$(squeue -h -j "$job" 2>/dev/null)" ]] || fail "job $job ended before its warning: $(job_state "$job")"
        sleep 0.2
    done
    scancel --signal=USR1 --batch "$job" || fail "scancel --signal=USR1 --batch $job failed"
}
# wait_for_end JOB: waits until the job has left the queue.
wait_for_end() {
    while [[ -n "$(squeue -h -j "$1" 2>/dev/null)" ]]; do
        (($(date +%s) < deadline)) || fail "job $1 still queued or running after $timeout s: $(squeue -h -j "$1")"
        sleep 0.5
    done
}
job_state() { scontrol show job "$1" | tr ' ' '\n' | grep -E '^(JobState|ExitCode|Restarts)=' | tr '\n' ' '; }
# final_digest LOG: the params_digest of the log's summary record.
final_digest() { tail -n 1 "$1" | sed -n 's/.*"params_digest":"\([0-9a-f]*\)".*/\1/p'; }
# check_requeued JOB LOG ERRORS RANKS REFERENCE: the job was stopped once, requeued once and completed; its log
# holds the preempted record and a resume at RANKS ranks, and ends with the reference run's params_digest.
check_requeued() {
    local job="$1" log="$2" errors="$3" resumed_ranks="$4" reference="$5" digest
    [[ "$(job_state "$job")" == "JobState=COMPLETED Restarts=1 ExitCode=0:0 " ]] \
        || fail "job $job: $(job_state "$job")($(cat "$errors"))"
    grep -q '"reason":"preempted","signal":"SIGUSR1"' "$log" || fail "job $job: no preempted record in $log"
    grep -q "\"ranks\":$resumed_ranks,\"start_time\":\"[^\"]*\",\"step\":[0-9]*,\"type\":\"resume\"" "$log" \
        || fail "job $job: no resume at $resumed_ranks ranks in $log: $(grep '"resume"' "$log")"
    digest="$(final_digest "$log")"
    [[ -n "$digest" && "$digest" == "$reference" ]] \
        || fail "job $job ended with params_digest '$digest', the uninterrupted run with '$reference'"
}
mapfile -t mpirun_flags < <(airfoil_dp_mpirun_flags 2)
deadline=$(($(date +%s) + timeout))
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

if ((cpus >= 2)); then
    long=(--preset minibatch10 --epochs 20000 --eval-every 15000 --quiet)
    mpirun -np 2 "${mpirun_flags[@]}" "$binary" "${long[@]}" --log "$scratch/runs/reference.jsonl" >/dev/null \
        || fail "the uninterrupted reference run failed"
    requeued=$(cd "$repo" && AIRFOIL_DP_LOG="$scratch/runs/requeued.jsonl" sbatch --parsable --ntasks=2 \
        --output="$scratch/requeued-%j.out" --error="$scratch/requeued-%j.err" scripts/slurm/train.sbatch "${long[@]}") \
        || fail "sbatch of the job to requeue was refused"
    signal_when_training "$requeued" "$scratch/runs/requeued.jsonl"
    wait_for_end "$requeued"
    check_requeued "$requeued" "$scratch/runs/requeued.jsonl" "$scratch/requeued-$requeued.err" 2 \
        "$(final_digest "$scratch/runs/reference.jsonl")"
    grep -q "scontrol requeue $requeued (requeue 1 of at most 5)" "$scratch/requeued-$requeued.err" \
        || fail "job $requeued did not say it requeued itself: $(cat "$scratch/requeued-$requeued.err")"
fi

limited=$(cd "$repo" && AIRFOIL_DP_MAX_REQUEUES=0 AIRFOIL_DP_LOG="$scratch/runs/limited.jsonl" sbatch --parsable \
    --output="$scratch/limited-%j.out" --error="$scratch/limited-%j.err" scripts/slurm/train.sbatch \
    --preset minibatch10 --epochs 200000 --eval-every 15000 --quiet) || fail "sbatch of the job not to requeue was refused"
signal_when_training "$limited" "$scratch/runs/limited.jsonl"
wait_for_end "$limited"
[[ "$(job_state "$limited")" == "JobState=FAILED Restarts=0 ExitCode=75:0 " ]] \
    || fail "job $limited, allowed no requeue: $(job_state "$limited")"
grep -q "requeued 0 times already (AIRFOIL_DP_MAX_REQUEUES=0): not requeued" "$scratch/limited-$limited.err" \
    || fail "job $limited did not say why it was not requeued: $(cat "$scratch/limited-$limited.err")"
[[ -s "$scratch/runs/limited.ckpt" ]] || fail "job $limited left no checkpoint to resubmit from"

if ((cpus >= 2)); then
    exact=(--preset minibatch10 --epochs 4000 --eval-every 15000 --quiet --reproducible)
    "$binary" "${exact[@]}" --log "$scratch/runs/reference-1.jsonl" >/dev/null || fail "the 1-rank reference run failed"
    resized=$(cd "$repo" && AIRFOIL_DP_REQUEUE=hold AIRFOIL_DP_LOG="$scratch/runs/resized.jsonl" sbatch --parsable \
        --ntasks=2 --output="$scratch/resized-%j.out" --error="$scratch/resized-%j.err" scripts/slurm/train.sbatch \
        "${exact[@]}") || fail "sbatch of the job to resize was refused"
    signal_when_training "$resized" "$scratch/runs/resized.jsonl"
    until [[ "$(squeue -h -j "$resized" -o '%T %r')" == "PENDING job requeued in held state" ]]; do
        (($(date +%s) < deadline)) || fail "job $resized was not held after its warning: $(job_state "$resized")"
        sleep 0.2
    done
    scontrol update JobId="$resized" NumTasks=1 NumCPUs=1 || fail "scontrol update of held job $resized failed"
    scontrol release "$resized" || fail "scontrol release $resized failed"
    wait_for_end "$resized"
    check_requeued "$resized" "$scratch/runs/resized.jsonl" "$scratch/resized-$resized.err" 1 \
        "$(final_digest "$scratch/runs/reference-1.jsonl")"
fi
echo "test-slurm.sh: PASSED (train, two sweep arrays of a rank-count study and the job from another folder completed; the oversized one was refused; the warned jobs checkpointed, requeued and resumed bit-identically, at 2 ranks and from 2 ranks to 1, and the one allowed no requeue ended with 75)"
