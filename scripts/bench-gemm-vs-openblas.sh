#!/usr/bin/env bash
# Measures airfoil-dp's blocked SGEMM and OpenBLAS's single-threaded cblas_sgemm on the same square sizes and on
# the MLP step's small shapes, one right after the other, and prints both with their ratio. Only ratios from one
# run mean much on a shared machine: with --rounds N the two alternate N times and every figure is the median of
# the N rounds (each ratio the median of the rounds' ratios, with their range). The small shapes' operands start on
# 64-byte cache lines on both sides, as the trainer allocates them; the square sizes' come from plain malloc on both.
#
# Usage: scripts/bench-gemm-vs-openblas.sh [--quick] [--rounds N] [--openblas debian|pypi[=VERSION]]
#                                          [--openblas-core NAME] [--help]
#   --quick               sizes 64, 128, 256 only, few repetitions (proves the script works)
#   --rounds N            N alternating rounds of both benchmarks (default 1), medians and ranges printed
#   --openblas debian     Debian's libopenblas (0.3.21 on bookworm; the default)
#   --openblas pypi[=V]   the OpenBLAS numpy and scipy ship, the PyPI wheel scipy-openblas32 (newest, or version V,
#                         for example 0.3.31.188.0), downloaded into a temporary folder: newer than Debian's, it
#                         knows newer CPUs
#   --openblas-core NAME  run OpenBLAS with OPENBLAS_CORETYPE=NAME (for example SkylakeX or Haswell): an OpenBLAS
#                         older than the CPU falls back to an old kernel (Debian's 0.3.21 picks Prescott on a
#                         5th-generation Xeon); compare AIRFOIL_DP_KERNEL=avx2 with Haswell
# Needs: libopenblas-dev and gcc (installed through apt when missing, as root), python3, and a built airfoil-dp
# (on the PATH, or this checkout's .build/release). airfoil-dp runs the kernel set it chooses (AIRFOIL_DP_KERNEL
# forces one). Without --openblas-core, OpenBLAS runs with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset (in its
# command only), so it picks its own kernel for this CPU; always with OPENBLAS_NUM_THREADS=1.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

usage() { airfoil_dp_usage "$0"; }
quick=0
rounds=1
core=""
openblas="debian"
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) quick=1 ;;
        --rounds)
            [[ $# -ge 2 && "$2" =~ ^[1-9][0-9]{0,2}$ ]] \
                || { echo "bench-gemm-vs-openblas.sh: --rounds needs a whole number from 1 to 999" >&2; exit 64; }
            rounds="$2"
            shift ;;
        --openblas)
            [ $# -ge 2 ] || { echo "bench-gemm-vs-openblas.sh: --openblas needs debian or pypi[=VERSION]" >&2; exit 64; }
            openblas="$2"
            shift ;;
        --openblas-core)
            [ $# -ge 2 ] || { echo "bench-gemm-vs-openblas.sh: --openblas-core needs a name" >&2; exit 64; }
            core="$2"
            shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "bench-gemm-vs-openblas.sh: unknown option '$1' (see --help)" >&2; exit 64 ;;
    esac
    shift
done

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
binary="$(airfoil_dp_binary "$repo")" || exit 69

case "$openblas" in
    debian|pypi|pypi=?*) ;;
    *) echo "bench-gemm-vs-openblas.sh: --openblas '$openblas' is neither debian nor pypi[=VERSION]" >&2; exit 64 ;;
esac

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
compile=(gcc -O2 -o "$work/openblas_bench" "$work/openblas_bench.c")
if [ "$openblas" = debian ]; then
    if ! command -v gcc >/dev/null || ! echo '#include <cblas.h>' | gcc -E - >/dev/null 2>&1; then
        airfoil_dp_apt_install libopenblas-dev gcc
    fi
    compile+=(-lopenblas)
else
    wheel="scipy-openblas32"
    [ "$openblas" != pypi ] && wheel="scipy-openblas32==${openblas#pypi=}"
    python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$work/wheel" "$wheel" >&2 \
        || { echo "bench-gemm-vs-openblas.sh: pip could not download $wheel" >&2; exit 69; }
    python3 -m zipfile -e "$work"/wheel/*.whl "$work/wheel"
    prefix="$work/wheel/scipy_openblas32"
    # The wheel's symbols carry a scipy_ prefix so that they never clash with a system BLAS.
    compile+=(-I"$prefix/include" -Dcblas_sgemm=scipy_cblas_sgemm -Dopenblas_get_config=scipy_openblas_get_config
              -Dopenblas_get_corename=scipy_openblas_get_corename -L"$prefix/lib" -lscipy_openblas
              -Wl,-rpath,"$prefix/lib")
fi
cat > "$work/openblas_bench.c" <<'C'
/* Median seconds of cblas_sgemm on n x n row-major matrices, after a warm-up; one JSON line per size. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Zeroed storage for `count` floats starting on a 64-byte cache line. */
static float *line_aligned(size_t count) {
    size_t bytes = (count * sizeof(float) + 63) / 64 * 64;
    float *p = aligned_alloc(64, bytes > 0 ? bytes : 64);
    if (!p) { perror("aligned_alloc"); exit(70); }
    memset(p, 0, bytes);
    return p;
}

/* With "shapes" as its argument: reads "m n k transA transB" lines (the MLP's small shapes, from airfoil-dp bench
 * gemm --json) and prints the median seconds of one call of each, row-major like the trainer. */
static int small_shapes(void) {
    int m, n, k, ta, tb;
    while (scanf("%d %d %d %d %d", &m, &n, &k, &ta, &tb) == 5) {
        /* On cache lines, as the trainer stores them and airfoil-dp's benchmark aligns them. */
        float *a = line_aligned((size_t)m * k), *b = line_aligned((size_t)k * n), *c = line_aligned((size_t)m * n);
        for (int i = 0; i < m * k; i++) a[i] = (float)(i % 7) * 0.25f - 0.75f;
        for (int i = 0; i < k * n; i++) b[i] = (float)(i % 5) * 0.5f - 1.0f;
        int lda = ta ? m : k, ldb = tb ? k : n;
        double flops = 2.0 * m * n * k;
        int calls = flops > 0 ? (int)(2e6 / flops) : 1;
        if (calls < 1) calls = 1;
        double times[15];
        for (int r = -1; r < 15; r++) {
            double start = now();
            for (int i = 0; i < calls; i++)
                cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k,
                            1, a, lda, b, ldb, 0, c, n);
            if (r >= 0) times[r] = (now() - start) / calls;
        }
        qsort(times, 15, sizeof(double), compare);
        printf("{\"m\":%d,\"n\":%d,\"k\":%d,\"trans_a\":%d,\"trans_b\":%d,\"seconds\":%.9g}\n", m, n, k, ta, tb,
               times[7]);
        free(a); free(b); free(c);
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 1 && argv[1][0] == 's') return small_shapes();
    if (argc > 1 && argv[1][0] == 'c') {
        printf("%s, kernel for %s\n", openblas_get_config(), openblas_get_corename());
        return 0;
    }
    int quick = argc > 1;
    int sizes[] = {64, 128, 256, 512, 1024, 2048};
    int count = quick ? 3 : 6;
    for (int s = 0; s < count; s++) {
        int n = sizes[s];
        float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n), *c = malloc(sizeof(float) * n * n);
        for (int i = 0; i < n * n; i++) { a[i] = (float)rand() / RAND_MAX * 2 - 1; b[i] = (float)rand() / RAND_MAX * 2 - 1; c[i] = 0; }
        double flops = 2.0 * n * n * n;
        int repetitions = flops > 0 ? (int)(2e9 / flops) : 3;
        if (repetitions < 3) repetitions = 3;
        if (repetitions > 50) repetitions = 50;
        if (quick) repetitions = 2;
        double times[64];
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
        for (int r = 0; r < repetitions; r++) {
            double start = now();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
            times[r] = now() - start;
        }
        qsort(times, repetitions, sizeof(double), compare);
        double median = repetitions % 2 ? times[repetitions / 2] : (times[repetitions / 2 - 1] + times[repetitions / 2]) / 2;
        printf("{\"n\":%d,\"gflops\":%.3f}\n", n, flops / median / 1e9);
        free(a); free(b); free(c);
    }
    return 0;
}
C
"${compile[@]}"

quick_flag=()
((quick)) && quick_flag=(--quick)
openblas_env=(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1)
[ -n "$core" ] && openblas_env+=(OPENBLAS_CORETYPE="$core")
for round in $(seq "$rounds"); do
    "$binary" bench gemm --json "${quick_flag[@]+"${quick_flag[@]}"}" > "$work/airfoil-$round.json"
    "${openblas_env[@]}" "$work/openblas_bench" "${quick_flag[@]+"${quick_flag[@]}"}" > "$work/openblas-$round.jsonl"
    python3 -c 'import json, sys
for s in json.load(open(sys.argv[1]))["small_shapes"]:
    print(s["m"], s["n"], s["k"], int(s["trans_a"]), int(s["trans_b"]))' "$work/airfoil-$round.json" \
        | "${openblas_env[@]}" "$work/openblas_bench" shapes > "$work/openblas-small-$round.jsonl"
done
openblas_core="$("${openblas_env[@]}" "$work/openblas_bench" config)"

/usr/bin/env python3 - "$work" "$rounds" "$openblas_core" <<'PY'
import json, statistics, sys
work, rounds, core = sys.argv[1], int(sys.argv[2]), sys.argv[3].strip()
ours = [json.load(open(f"{work}/airfoil-{r}.json")) for r in range(1, rounds + 1)]
theirs = [{row["n"]: row["gflops"] for row in map(json.loads, open(f"{work}/openblas-{r}.jsonl"))}
          for r in range(1, rounds + 1)]
small = [{(row["m"], row["n"], row["k"], bool(row["trans_a"]), bool(row["trans_b"])): row["seconds"]
          for row in map(json.loads, open(f"{work}/openblas-small-{r}.jsonl"))} for r in range(1, rounds + 1)]

def summary(values, digits, unit=""):
    """The median, and the range when there are several rounds."""
    if not values:
        return "-"
    median = f"{statistics.median(values):.{digits}f}{unit}"
    return median if len(values) == 1 else f"{median} ({min(values):.{digits}f}-{max(values):.{digits}f})"

peaks = [o["peak_gflops"] for o in ours]
rounds_note = "" if rounds == 1 else f" (medians of {rounds} rounds, ranges in brackets)"
print(f"single-core peak (measured): {summary(peaks, 1)} GFLOP/s; airfoil-dp kernel: {ours[0]['kernel']}; "
      f"OpenBLAS {core}{rounds_note}")
width = 7 if rounds == 1 else 17
print(f"{'n':>6} {'airfoil-dp':>11} {'OpenBLAS':>9} {'ratio':>{width}} {'% of peak':>{width + 3}}")
for index, row in enumerate(ours[0]["sizes"]):
    n = row["n"]
    mine = [o["sizes"][index]["gflops"] for o in ours]
    other = [t[n] for t in theirs if n in t]
    ratios = [m / t[n] for m, t in zip(mine, theirs) if n in t]
    percent = [100 * m / o["peak_gflops"] for m, o in zip(mine, ours)]
    other_median = f"{statistics.median(other):.1f}" if other else "-"
    print(f"{n:>6} {statistics.median(mine):>11.1f} {other_median:>9} {summary(ratios, 2):>{width}} "
          f"{summary(percent, 1, '%'):>{width + 3}}")
print()
print("The MLP step's small shapes (ns per call; ratio = OpenBLAS time / airfoil-dp time):")
print(f"{'role':<8} {'m':>4} {'n':>4} {'k':>4} {'ops':<7} {'airfoil-dp':>11} {'OpenBLAS':>9} {'ratio':>{width}}")
for index, row in enumerate(ours[0]["small_shapes"]):
    key = (row["m"], row["n"], row["k"], row["trans_a"], row["trans_b"])
    mine = [o["small_shapes"][index]["seconds"] for o in ours]
    other = [s[key] for s in small if key in s]
    ratios = [s[key] / m for m, s in zip(mine, small) if key in s]
    ops = ("A^T" if row["trans_a"] else "A") + "," + ("B^T" if row["trans_b"] else "B")
    print(f"{row['role']:<8} {row['m']:>4} {row['n']:>4} {row['k']:>4} {ops:<7} {statistics.median(mine) * 1e9:>11.0f} "
          f"{statistics.median(other) * 1e9 if other else 0:>9.0f} {summary(ratios, 2):>{width}}")
PY
