#!/usr/bin/env bash
# Runs airfoil-dp's benchmarks on this machine and writes their tables into docs/performance.md, under a heading
# that names the CPU, the kernel set, the date and the commit, each table with the exact command that made it.
# A run on another machine adds its own dated section; a new run on the same CPU replaces that CPU's section.
# Nothing in the page is copied by hand: every figure there comes from a run of this script.
#
# Usage: scripts/bench-report.sh [--quick] [--out FILE] [--predictions] [--help]
#   --quick        every benchmark in its few-seconds form (proves the script works; its numbers mean little)
#   --out FILE     the page to write (default docs/performance.md of this checkout)
#   --predictions  also run scripts/prediction-study.sh (about 7 more minutes), whose table of predicted against
#                  measured time to a target goes into docs/batch-size.md, the page it belongs to
# Runs: airfoil-dp bench gemm; scripts/bench-gemm-vs-openblas.sh (libopenblas-dev and gcc, installed when
# missing); airfoil-dp bench step at 1, 4 and 16 ranks, linear and MLP; scripts/bench-reproducible.sh (every kernel
# set); bench allreduce at 16 ranks;
# scripts/bench-presets.sh; scripts/bench-allocations.sh (valgrind); scripts/chapter-losses.sh; and, when python3
# can import numpy, scripts/bench-vs-numpy.sh. About 15 minutes on 2 cores; --quick about 3.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
usage() { airfoil_dp_usage "$0"; }
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
quick=0
predictions=0
out="$repo/docs/performance.md"
while [[ $# -gt 0 ]]; do
    case "$1" in
        --quick) quick=1; shift ;;
        --out) out="${2:?--out needs a file}"; shift 2 ;;
        --predictions) predictions=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "bench-report.sh: unknown option '$1' (see --help)" >&2; exit 64 ;;
    esac
done
binary="$(airfoil_dp_binary "$repo")" || exit 69
airfoil_dp_default_data "$repo" || { echo "bench-report.sh: no data file: run 'airfoil-dp fetch-data'" >&2; exit 66; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

machine="$(airfoil_dp_machine)"
kernel="$("$binary" info | sed -n 's/^kernel: //p')"
commit="$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo "not a git checkout")"
if [[ -n "$(git -C "$repo" status --porcelain --untracked-files=no 2>/dev/null)" ]]; then
    commit+=" with uncommitted changes"
fi
today="$(date -u +%Y-%m-%d)"
quick_flag=()
((quick)) && quick_flag=(--quick)
section="$work/section.md"

# shown COMMAND...: the command as a user would type it from the checkout: the binary as airfoil-dp,
# environment assignments first (`env` is dropped), quoted where a word has spaces.
shown() {
    local words=() word
    for word in "$@"; do
        [[ "$word" == env ]] && continue
        [[ "$word" == "$binary" ]] && word=airfoil-dp
        words+=("$word")
    done
    airfoil_dp_quoted "${words[@]}"
}

# measure TITLE WHY COMMAND...: runs COMMAND from the checkout, and appends to the section a subsection with TITLE,
# WHY (what the table shows), the command as typed, and its output (a Markdown table is kept as Markdown, any
# other output as a code block). A command that fails is reported in the page, not hidden.
measure() {
    local title="$1" why="$2"
    shift 2
    echo "bench-report.sh: $title: $*" >&2
    local output status=0
    output="$(cd "$repo" && "$@" </dev/null 2>"$work/stderr")" || status=$?
    {
        echo "### $title"
        echo
        echo "$why"
        echo
        echo "\`\`\`sh"
        shown "$@"
        echo "\`\`\`"
        echo
        if ((status != 0)); then
            echo "Failed with exit code $status: $(tail -n 1 "$work/stderr")"
        elif grep -q '^|' <<<"$output"; then
            echo "$output"
        else
            echo "\`\`\`"
            echo "$output"
            echo "\`\`\`"
        fi
        echo
    } >>"$section"
}

run=(scripts/run.sh)
{
    echo "## $machine · $today"
    echo
    echo "airfoil-dp $("$binary" --version), commit $commit, kernel set \`$kernel\`$( ((quick)) && echo ", **--quick: the numbers mean little**")."
    echo "$(nproc) cores: multi-rank figures share them, so they measure communication and scheduling, not speed-up."
    echo
} >"$section"

measure "The chapter's losses" \
    "Final losses of d2l 11.5's experiments and 11.6-11.10's optimizers at the chapter's settings, beside what the chapter printed: the evidence that airfoil-dp reproduces it." \
    scripts/chapter-losses.sh --ranks "1 4"
measure "GEMM: the chapter's four ways, sizes, small shapes, peak" \
    "Single core, the kernel set above; GFLOP/s are 2 n^3 / t." \
    "$binary" bench gemm "${quick_flag[@]}"
# Debian's OpenBLAS may not know this CPU and fall back to an old kernel (it names the kernel it runs), so each
# of our kernel sets is also measured against the OpenBLAS kernel written for the same instruction set.
gemm_rounds=(--rounds 3)
((quick)) && gemm_rounds=(--quick)
gemm_why="Alternating runs on the same shapes; ratio > 1 means airfoil-dp is faster."
measure "GEMM against OpenBLAS, each choosing its own kernel" "$gemm_why" \
    scripts/bench-gemm-vs-openblas.sh "${gemm_rounds[@]}"
if grep -qw avx512f /proc/cpuinfo; then
    measure "GEMM against OpenBLAS's AVX-512 kernel (SkylakeX)" "$gemm_why" \
        scripts/bench-gemm-vs-openblas.sh "${gemm_rounds[@]}" --openblas-core SkylakeX
fi
if grep -qw avx2 /proc/cpuinfo; then
    measure "Our AVX2 kernels against OpenBLAS's AVX2 kernel (Haswell)" "$gemm_why" \
        env AIRFOIL_DP_KERNEL=avx2 scripts/bench-gemm-vs-openblas.sh "${gemm_rounds[@]}" --openblas-core Haswell
fi
for ranks in 1 4 16; do
    measure "The linear step at $ranks rank(s) against the raw allreduce" \
        "The trainer's median step beside the median MPI_Allreduce of the same buffer in the same job, then the reproducible mode's step and the noise scale's cost." \
        "${run[@]}" -np "$ranks" bench step "${quick_flag[@]}"
done
for ranks in 1 4; do
    measure "The MLP step (5-64-64-1, Adam) at $ranks rank(s)" \
        "As above, for the MLP whose layers run through the GEMM." \
        "${run[@]}" -np "$ranks" bench step --model mlp --optimizer adam "${quick_flag[@]}"
done
reproducible_flags=(--runs 5)
((quick)) && reproducible_flags=(--runs 1 --steps 100)
measure "The reproducible mode's cost per kernel set" \
    "--reproducible's median step over the default's, one rank, on every kernel set this CPU runs (medians of runs)." \
    scripts/bench-reproducible.sh "${reproducible_flags[@]}"
measure "Raw allreduce at 16 ranks" "The floor a 16-rank step cannot go below on this machine." \
    "${run[@]}" -np 16 bench allreduce "${quick_flag[@]}"
if ((quick)); then
    measure "Sec/epoch by preset and rank count" "Training time per epoch, evaluation excluded." \
        scripts/bench-presets.sh --runs 1 --ranks "1 2"
else
    measure "Sec/epoch by preset and rank count" "Training time per epoch, evaluation excluded; medians." \
        scripts/bench-presets.sh --runs 5
    measure "Heap allocations per step" "A step should allocate nothing; what MPI allocates is counted apart." \
        scripts/bench-allocations.sh
fi
if python3 -c 'import numpy' 2>/dev/null; then
    measure "Against numpy, as the chapter writes the loop" "The chapter's sgd experiment, training time only." \
        scripts/bench-vs-numpy.sh
else
    echo "bench-report.sh: python3 cannot import numpy: the numpy comparison is left out" >&2
fi

if ((predictions)); then
    echo "bench-report.sh: the prediction study: scripts/prediction-study.sh --write docs/batch-size.md" >&2
    prediction_flags=(--write "$repo/docs/batch-size.md")
    ((quick)) && prediction_flags=(--quick)
    "$repo/scripts/prediction-study.sh" "${prediction_flags[@]}" >/dev/null
fi

# Splice: the page's introduction, then this section, then every other machine's section (this CPU's old one goes).
if [[ ! -f "$out" ]]; then
    cat >"$out" <<'INTRO'
# Performance

Generated by `scripts/bench-report.sh`: do not edit by hand. Each section is one machine's run of it, newest
first, with the CPU, the kernel set, the date, the commit and each table's command; a run on another machine adds
a section, a new run on the same CPU replaces its own. Compare ratios within one section: machines differ, and a
shared machine's phases move single timings by a third. What the figures mean and how the code gets them:
[architecture.md](architecture.md); how to measure a change of your own: [development.md](development.md).

INTRO
fi
awk -v section="$section" -v key="## $machine" '
    /^## / && !inserted { while ((getline line < section) > 0) print line; inserted = 1 }
    /^## / { skipping = (index($0, key " · ") == 1) }
    !skipping { print }
    END { if (!inserted) while ((getline line < section) > 0) print line }
' "$out" >"$work/page.md"
mv "$work/page.md" "$out"
echo "bench-report.sh: wrote $machine's section to $out" >&2
