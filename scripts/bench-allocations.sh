#!/usr/bin/env bash
# Counts heap allocations per training step with valgrind: the same job at 1,000 and 2,000 steps, so the
# difference divided by 1,000 is what one step allocates (set-up and evaluation allocate the same in both).
# Runs on one rank (airfoil-dp alone) and on two ranks under mpirun, where it also counts what the raw
# MPI_Allreduce of the same buffer allocates per call, to tell the trainer's allocations from the MPI library's.
#
# Valgrind runs no AVX-512 code (the binary then picks its AVX2 kernels), so the one-rank steps are counted a
# second time natively, by a small allocation counter preloaded into the process, with the kernels this CPU gets.
#
# Usage: scripts/bench-allocations.sh [--help]
# Needs valgrind (installed through apt when missing, as root), gcc, mpirun and a built airfoil-dp. Valgrind 3.19
# cannot read Swift 6's DWARF 5 debug info, so a stripped copy of the binary is measured.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then airfoil_dp_usage "$0"; exit 0; fi

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
binary="$(airfoil_dp_binary "$repo")" || exit 69
command -v valgrind >/dev/null || airfoil_dp_apt_install valgrind
airfoil_dp_default_data "$repo" || { echo "bench-allocations.sh: no data file: run 'airfoil-dp fetch-data'" >&2; exit 66; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$binary" "$work/airfoil-dp"
strip "$work/airfoil-dp"
mapfile -t mpirun_flags < <(airfoil_dp_mpirun_flags 2)

# allocs LAUNCH... : the "total heap usage" allocation count of the first (rank 0's) valgrind report.
allocs() {
    local output
    output="$("$@" 2>&1)" || { echo "bench-allocations.sh: failed: $*" >&2; echo "$output" | tail -5 >&2; exit 70; }
    grep -m1 'total heap usage' <<<"$output" | sed -E 's/.*usage: ([0-9,]+) allocs.*/\1/' | tr -d ,
}
train=(--preset sgd --rows 1000 --eval-every 1000000000000 --quiet)
vg=(valgrind --tool=memcheck "$work/airfoil-dp")

one_a=$(allocs "${vg[@]}" "${train[@]}" --epochs 1)
one_b=$(allocs "${vg[@]}" "${train[@]}" --epochs 2)
# The MLP (5-64-64-1, Adam), batch 10: 100 steps per epoch.
mlp=(--model mlp --optimizer adam --global-batch 10)
mlp_a=$(allocs "${vg[@]}" "${train[@]}" "${mlp[@]}" --epochs 10)
mlp_b=$(allocs "${vg[@]}" "${train[@]}" "${mlp[@]}" --epochs 20)
two_a=$(allocs mpirun -np 2 "${mpirun_flags[@]}" "${vg[@]}" "${train[@]}" --global-batch 2 --epochs 2)
two_b=$(allocs mpirun -np 2 "${mpirun_flags[@]}" "${vg[@]}" "${train[@]}" --global-batch 2 --epochs 4)
raw_a=$(allocs mpirun -np 2 "${mpirun_flags[@]}" "${vg[@]}" bench allreduce --floats 7 --iterations 1000)
raw_b=$(allocs mpirun -np 2 "${mpirun_flags[@]}" "${vg[@]}" bench allreduce --floats 7 --iterations 2000)

# The native count: malloc, calloc, realloc and the aligned allocations, through glibc's own entry points.
cat > "$work/count.c" <<'C'
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <unistd.h>
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
static long allocations;
static void counted(void) { __atomic_add_fetch(&allocations, 1, __ATOMIC_RELAXED); }
void *malloc(size_t size) { counted(); return __libc_malloc(size); }
void *calloc(size_t count, size_t size) { counted(); return __libc_calloc(count, size); }
void *realloc(void *pointer, size_t size) { counted(); return __libc_realloc(pointer, size); }
void *memalign(size_t alignment, size_t size) { counted(); return __libc_memalign(alignment, size); }
void *aligned_alloc(size_t alignment, size_t size) { return memalign(alignment, size); }
int posix_memalign(void **result, size_t alignment, size_t size) {
    void *pointer = memalign(alignment, size);
    if (!pointer) return ENOMEM;
    *result = pointer;
    return 0;
}
__attribute__((destructor)) static void report(void) {
    char line[64];
    int length = snprintf(line, sizeof line, "total heap usage: %ld allocs\n", allocations);
    if (write(2, line, (size_t)length) < 0) return;
}
C
command -v gcc >/dev/null || airfoil_dp_apt_install gcc
gcc -O2 -shared -fPIC -o "$work/count.so" "$work/count.c"
native=(env LD_PRELOAD="$work/count.so" "$work/airfoil-dp")
kernel="$("$work/airfoil-dp" info | sed -n 's/^kernel: //p')"
native_one_a=$(allocs "${native[@]}" "${train[@]}" --epochs 1)
native_one_b=$(allocs "${native[@]}" "${train[@]}" --epochs 2)
native_mlp_a=$(allocs "${native[@]}" "${train[@]}" "${mlp[@]}" --epochs 10)
native_mlp_b=$(allocs "${native[@]}" "${train[@]}" "${mlp[@]}" --epochs 20)

/usr/bin/env python3 - "$one_a" "$one_b" "$two_a" "$two_b" "$raw_a" "$raw_b" "$mlp_a" "$mlp_b" \
    "$native_one_a" "$native_one_b" "$native_mlp_a" "$native_mlp_b" "$kernel" <<'PY'
import sys
(one_a, one_b, two_a, two_b, raw_a, raw_b, mlp_a, mlp_b,
 native_one_a, native_one_b, native_mlp_a, native_mlp_b) = map(int, sys.argv[1:13])
kernel = sys.argv[13]
print("heap allocations (valgrind, rank 0):")
print(f"  1 rank, sgd step:             {(one_b - one_a) / 1000:.3f} per step  ({one_a} at 1000 steps, {one_b} at 2000)")
print(f"  1 rank, MLP step (Adam, 10):  {(mlp_b - mlp_a) / 1000:.3f} per step  ({mlp_a} at 1000 steps, {mlp_b} at 2000)")
print(f"  2 ranks, one example per rank: {(two_b - two_a) / 1000:.3f} per step  ({two_a} at 1000 steps, {two_b} at 2000)")
# bench allreduce makes N timed calls after N/10 warm-up calls: 1,100 more calls at N = 2,000 than at 1,000.
print(f"  2 ranks, raw MPI_Allreduce:   {(raw_b - raw_a) / 1100:.3f} per call of the same 7 floats (OpenMPI's own)")
print(f"heap allocations (counted natively, kernel {kernel}):")
print(f"  1 rank, sgd step:             {(native_one_b - native_one_a) / 1000:.3f} per step  "
      f"({native_one_a} at 1000 steps, {native_one_b} at 2000)")
print(f"  1 rank, MLP step (Adam, 10):  {(native_mlp_b - native_mlp_a) / 1000:.3f} per step  "
      f"({native_mlp_a} at 1000 steps, {native_mlp_b} at 2000)")
PY
