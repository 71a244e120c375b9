# shellcheck shell=bash
# Sourced by the scripts in scripts/ (not run): where the airfoil-dp binary and the data file are, decided in
# one place so every script agrees.

# airfoil_dp_usage SCRIPT: prints SCRIPT's help: its first comment block after the shebang, up to the first line
# that is not a comment ("#SBATCH" directives end it too), so help never shows code.
airfoil_dp_usage() {
    awk 'NR > 1 && /^#( |$)/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$1"
}

# airfoil_dp_binary REPO: prints the binary to use: REPO's release build when there is one (in a checkout it is
# the freshest), else REPO/bin/airfoil-dp (an unpacked bundle), else airfoil-dp on the PATH (an installed copy);
# fails with a message when none exists.
airfoil_dp_binary() {
    local built="$1/.build/release/airfoil-dp"
    if [[ -x "$built" ]]; then
        echo "$built"
    elif [[ -x "$1/bin/airfoil-dp" ]]; then
        echo "$1/bin/airfoil-dp"
    elif command -v airfoil-dp >/dev/null 2>&1; then
        command -v airfoil-dp
    else
        echo "$(basename "$0"): airfoil-dp is not built: run scripts/setup.sh first" >&2
        return 69
    fi
}

# airfoil_dp_default_data REPO: when neither $AIRFOIL_DP_DATA nor ./data/airfoil_self_noise.dat names the data,
# exports AIRFOIL_DP_DATA as the checkout's sibling ../shared/data copy if it exists (as on this project's CI).
# Returns non-zero when no data file is known at all.
airfoil_dp_default_data() {
    [[ -n "${AIRFOIL_DP_DATA:-}" || -f data/airfoil_self_noise.dat ]] && return 0
    local shared
    shared="$(cd "$1/.." && pwd)/shared/data/airfoil_self_noise.dat"
    [[ -f "$shared" ]] || return 1
    export AIRFOIL_DP_DATA="$shared"
}

# airfoil_dp_install_docs BINARY MANUAL SHARE: installs BINARY's shell completions (bash, zsh, fish, from
# swift-argument-parser's generator) and the manual page MANUAL under SHARE (for example /usr/local/share).
airfoil_dp_install_docs() {
    local binary="$1" manual="$2" share="$3"
    mkdir -p "$share/bash-completion/completions" "$share/zsh/site-functions" "$share/fish/vendor_completions.d" \
        "$share/man/man1"
    "$binary" --generate-completion-script bash > "$share/bash-completion/completions/airfoil-dp"
    "$binary" --generate-completion-script zsh > "$share/zsh/site-functions/_airfoil-dp"
    "$binary" --generate-completion-script fish > "$share/fish/vendor_completions.d/airfoil-dp.fish"
    install -m 0644 "$manual" "$share/man/man1/airfoil-dp.1"
}

# airfoil_dp_manual REPO [SCRATCH]: generates the manual page with swift-argument-parser's generate-manual plugin
# (from a release build in SCRATCH, default REPO/.build) and prints its path. A separate SCRATCH lets it run while
# another SwiftPM command holds the default one (the test suite builds the bundle).
airfoil_dp_manual() {
    local scratch="${2:-$1/.build}"
    (cd "$1" && swift package --scratch-path "$scratch" --allow-writing-to-package-directory generate-manual >&2)
    echo "$scratch/plugins/GenerateManual/outputs/airfoil-dp/airfoil-dp.1"
}

# airfoil_dp_preset_for_batch BINARY BATCH ROWS: prints "LR EPOCHS" of the preset whose global batch is BATCH (a
# preset with all rows matches BATCH = ROWS), from `airfoil-dp presets`; "0.05 2" (minibatch10's) for any other.
airfoil_dp_preset_for_batch() {
    "$1" presets | awk -F'\t' -v batch="$2" -v rows="$3" '
        ($3 == batch || ($3 == 0 && batch == rows)) && !found { print $2, $4; found = 1 }
        $1 == "minibatch10" { fallback = $2 " " $4 }
        END { if (!found) print fallback }'
}

# airfoil_dp_training_rows BINARY [airfoil-dp options...]: the training rows a run with these options uses, from
# their --data, --rows and --val-rows (the others are ignored), as `airfoil-dp info --shape` counts them: the one
# source of "all rows" for the scripts.
airfoil_dp_training_rows() {
    local binary="$1" picked=()
    shift
    while [[ $# -gt 0 ]]; do
        case "$1" in
            --data|--rows|--val-rows) picked+=("$1" "${2:-}"); shift ;;
            --data=*|--rows=*|--val-rows=*) picked+=("$1") ;;
        esac
        shift
    done
    "$binary" info --shape "${picked[@]+"${picked[@]}"}" | sed -n 's/^rows: //p'
}

# airfoil_dp_mpirun_flags RANKS [HOSTFILE]: the mpirun flags this project launches with, one per line: more
# ranks than cores (--oversubscribe), root allowed, shared memory and loopback only on one host, ranks that yield
# with a hostfile (which hides oversubscription from OpenMPI), and the Rabenseifner allreduce when one host runs
# more than twice as many ranks as it has cores (docs/scaling-studies.md).
airfoil_dp_mpirun_flags() {
    local ranks="$1" hostfile="${2:-}"
    local flags=(--oversubscribe)
    [[ $EUID -eq 0 ]] && flags+=(--allow-run-as-root)
    if [[ -n "$hostfile" ]]; then
        flags+=(--hostfile "$hostfile" --mca mpi_yield_when_idle 1)
    else
        flags+=(--mca btl self,vader --mca oob_tcp_if_include lo)
        if ((ranks > 2 * $(nproc))); then
            flags+=(--mca coll_tuned_use_dynamic_rules 1 --mca coll_tuned_allreduce_algorithm 6)
        fi
    fi
    printf '%s\n' "${flags[@]}"
}

# airfoil_dp_apt_install PACKAGE...: installs Debian packages, through sudo when not root.
airfoil_dp_apt_install() {
    local sudo=()
    if [[ $EUID -ne 0 ]]; then
        command -v sudo >/dev/null 2>&1 || { echo "$(basename "$0"): install $* (as root: apt-get install $*)" >&2; return 69; }
        sudo=(sudo)
    fi
    "${sudo[@]}" apt-get update -q
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q "$@"
}

# airfoil_dp_slurm_launcher MODE: prints, one word per line, the command that starts one rank per task of a Slurm
# allocation. MODE auto takes srun with the PMIx plugin where `srun --mpi=list` offers it, else PMI-2, else mpirun
# (which reads the allocation itself); srun insists on srun, mpirun on mpirun.
airfoil_dp_slurm_launcher() {
    local mode="$1" plugins="" plugin
    case "$mode" in
        auto|srun) if command -v srun >/dev/null 2>&1; then plugins="$(srun --mpi=list 2>&1 || true)"; fi ;;
        mpirun) ;;
        *) echo "$(basename "$0"): AIRFOIL_DP_LAUNCHER must be auto, srun or mpirun, not '$mode'" >&2; return 64 ;;
    esac
    if [[ "$mode" != mpirun ]]; then
        for plugin in pmix pmi2; do
            if grep -qw -- "$plugin" <<<"$plugins"; then
                printf '%s\n' srun "--mpi=$plugin" --kill-on-bad-exit=1
                return 0
            fi
        done
        if [[ "$mode" == srun ]]; then
            echo "$(basename "$0"): srun offers neither the pmix nor the pmi2 plugin (srun --mpi=list)" >&2
            return 69
        fi
    fi
    echo mpirun
}

# airfoil_dp_slurm_environment: prints, as NAME=VALUE lines, what both Slurm launch paths set for the ranks:
# waiting ranks yield their CPU (under load, busy-polling ranks made epochs 100x slower), and as root OpenMPI's
# consent to run.
airfoil_dp_slurm_environment() {
    echo OMPI_MCA_mpi_yield_when_idle=1
    if [[ $EUID -eq 0 ]]; then
        printf '%s\n' OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
    fi
}

# airfoil_dp_slurm_allocated_tasks LAYOUT: the task count of an allocation from its SLURM_TASKS_PER_NODE layout
# ("2(x3),1" is 2 tasks on each of 3 nodes and 1 on another: 7). A requeued batch job keeps the SLURM_NTASKS of
# its submission even when `scontrol update NumTasks=` gave it another size; its layout is the allocation's.
airfoil_dp_slurm_allocated_tasks() {
    local total=0 part
    local -a parts
    IFS=, read -ra parts <<<"$1"
    for part in "${parts[@]}"; do
        if [[ "$part" =~ ^([0-9]+)\(x([0-9]+)\)$ ]]; then
            total=$((total + BASH_REMATCH[1] * BASH_REMATCH[2]))
        elif [[ "$part" =~ ^[0-9]+$ ]]; then
            total=$((total + part))
        else
            echo "$(basename "$0"): cannot read the task layout SLURM_TASKS_PER_NODE='$1'" >&2
            return 65
        fi
    done
    echo "$total"
}

# airfoil_dp_machine: this machine's name for a measured table: the CPU's model string with its family and model
# numbers (virtual machines often say only "Intel(R) Xeon(R) Processor") and the core count.
airfoil_dp_machine() {
    awk -F'[ \t]*: ' -v cores="$(nproc)" '
        !($1 in cpu) { cpu[$1] = $2 }
        END { printf "%s (family %s, model %s, %s cores)\n", cpu["model name"], cpu["cpu family"], cpu["model"], cores }
    ' /proc/cpuinfo
}

# airfoil_dp_quoted WORD...: the words as a shell needs them typed (a word with spaces in double quotes), for
# printing a command that a reader can paste.
airfoil_dp_quoted() {
    local words=() word
    for word in "$@"; do
        [[ "$word" == *" "* ]] && word="\"$word\""
        words+=("$word")
    done
    echo "${words[*]}"
}
