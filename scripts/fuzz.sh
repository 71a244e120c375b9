#!/usr/bin/env bash
# Coverage-guided fuzzing of airfoil-dp's untrusted inputs with libFuzzer and AddressSanitizer.
#
# Usage: scripts/fuzz.sh [--runs N] [--record] TARGET SECONDS
#        scripts/fuzz.sh --list
#   TARGET    DataParser, BinaryData, CheckpointPayload, RunLog, ModelFile, ResumedLog, CommandLine, ParsedOptions,
#             NetworkProfile, or all (each in turn)
#   SECONDS   how long to fuzz each target (libFuzzer's -max_total_time)
#   --runs N  stop each target after N executions instead (SECONDS still bounds it)
#   --record  append each target's run to docs/fuzz-runs.tsv (target, executions, seconds, commit, date, result);
#             the commit is marked -modified when the fuzzed code differs from it (Sources, Fuzz, Package.swift)
#   --list    print the targets and exit
# The targets live in Fuzz/<TARGET>, their seed corpus in Fuzz/Corpus/<TARGET> (never changed by a run); new inputs
# go to .build-fuzz/corpus/<TARGET> and crashes to .build-fuzz/artifacts/. Prints each target's executions and exits
# 0 only when no target crashed, leaked, ran out of memory or hung on an input (10 s per input).
# Needs: swift (the toolchain links libFuzzer).
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

usage() { airfoil_dp_usage "$0"; }
targets=(DataParser BinaryData CheckpointPayload RunLog ModelFile ResumedLog CommandLine ParsedOptions NetworkProfile)
runs=-1
record=0
positional=()
while [ $# -gt 0 ]; do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        --list) printf '%s\n' "${targets[@]}"; exit 0 ;;
        --runs) [ $# -ge 2 ] || { echo "fuzz.sh: --runs needs a number" >&2; exit 64; }; runs="$2"; shift ;;
        --record) record=1 ;;
        -*) echo "fuzz.sh: unknown option '$1' (see --help)" >&2; exit 64 ;;
        *) positional+=("$1") ;;
    esac
    shift
done
[ ${#positional[@]} -eq 2 ] || { echo "fuzz.sh: give TARGET and SECONDS (see --help)" >&2; exit 64; }
target="${positional[0]}"
seconds="${positional[1]}"
[[ "$seconds" =~ ^[1-9][0-9]*$ ]] || { echo "fuzz.sh: SECONDS must be a positive whole number, not '$seconds'" >&2; exit 64; }
[[ "$runs" =~ ^(-1|[1-9][0-9]*)$ ]] || { echo "fuzz.sh: --runs must be a positive whole number, not '$runs'" >&2; exit 64; }
if [ "$target" = all ]; then
    selected=("${targets[@]}")
elif printf '%s\n' "${targets[@]}" | grep -qx -- "$target"; then
    selected=("$target")
else
    echo "fuzz.sh: unknown target '$target' (one of: ${targets[*]}, all)" >&2
    exit 64
fi

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
scratch=.build-fuzz
# --sanitize fuzzer tells SwiftPM to leave main to libFuzzer; -sanitize=fuzzer,address as one flag gives the compiler
# both (of two separate -sanitize flags the driver keeps the last, and coverage instrumentation would be lost).
build() {
    AIRFOIL_DP_FUZZ=1 swift build -c release --scratch-path "$scratch" --sanitize fuzzer -Xswiftc -sanitize=fuzzer,address "$@"
}

# The commit the fuzzed code is, for --record: marked when the working tree's code differs from it.
commit="$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)"
if [ -n "$(git status --porcelain -- Sources Fuzz Package.swift 2>/dev/null)" ]; then commit="$commit-modified"; fi

failed=0
for name in "${selected[@]}"; do
    echo "== fuzz-$name: building" >&2
    # The gold linker warns about ASan's local symbols; only a failed build matters.
    mkdir -p "$scratch"
    if ! build --product "fuzz-$name" >"$scratch/build.log" 2>&1; then
        grep -E "error" "$scratch/build.log" >&2 || cat "$scratch/build.log" >&2
        exit 70
    fi
    binary="$(build --show-bin-path 2>/dev/null)/fuzz-$name"
    corpus="$scratch/corpus/$name"
    artifacts="$scratch/artifacts"
    mkdir -p "$corpus" "$artifacts"
    output="$scratch/fuzz-$name.log"
    echo "== fuzz-$name: $seconds s" >&2
    status=0
    started="$(date +%s)"
    # SWIFT_BACKTRACE=enable=no: Swift's backtracer would hold the output open for minutes after a crash.
    SWIFT_BACKTRACE=enable=no "$binary" -max_total_time="$seconds" -runs="$runs" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$artifacts/$name-" "$corpus" "Fuzz/Corpus/$name" >"$output" 2>&1 \
        || status=$?
    elapsed=$(($(date +%s) - started))
    executions="$(sed -n 's/^stat::number_of_executed_units: *//p' "$output")"
    rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$output")"
    if ! grep -q "inline 8-bit counters" "$output"; then
        echo "fuzz-$name: FAILED: the target is not instrumented for coverage (see $output)" >&2
        failed=1
        result="not instrumented"
    elif [ "$status" -eq 0 ]; then
        echo "fuzz-$name: ${executions:-?} executions (${rate:-?}/s), no crash, leak or hang"
        result="no crash, leak or hang"
    else
        failed=1
        echo "fuzz-$name: FAILED (exit $status) after ${executions:-?} executions; log: $output" >&2
        grep -E "^==[0-9]+==ERROR|^SUMMARY|Fatal error|Test unit written|ALARM" "$output" | head -5 >&2 || true
        result="failed (exit $status)"
    fi
    if [ "$record" -eq 1 ]; then
        table=docs/fuzz-runs.tsv
        [ -s "$table" ] || printf 'target\texecutions\tseconds\tcommit\tdate\tresult\n' > "$table"
        printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "${executions:-0}" "$elapsed" "$commit" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
            "$result" >> "$table"
    fi
done
exit "$failed"
