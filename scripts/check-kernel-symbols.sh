#!/usr/bin/env bash
# Checks that the three instruction-set modules (KernelsAVX512, KernelsAVX2, KernelsPortable) of a release build
# define no Swift symbol in common. Each compiles the same generic kernel bodies for its own CPU; a function the
# optimiser emits under the same name in two of them (a specialisation for a shared type, a closure that does not
# depend on the generic type) is kept once by the linker, so one instruction set's code could run another's copy,
# with another calling convention for SIMD values. Prints the shared symbols and exits 1 if there are any.
#
# Usage: scripts/check-kernel-symbols.sh [--help]     (after swift build -c release; needs nm from binutils)
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then airfoil_dp_usage "$0"; exit 0; fi
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="$(cd "$repo" && swift build -c release --show-bin-path)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for module in KernelsAVX512 KernelsAVX2 KernelsPortable; do
    objects=("$bin/$module.build/"*.o)
    [[ -e "${objects[0]}" ]] || { echo "check-kernel-symbols.sh: no objects of $module in $bin: build first" >&2; exit 66; }
    nm --defined-only "${objects[@]}" | awk '$3 ~ /^\$s/ { print $3 }' | sort -u > "$work/$module"
done
shared="$(sort "$work"/* | uniq -d)"
if [[ -n "$shared" ]]; then
    echo "check-kernel-symbols.sh: Swift symbols defined by more than one instruction-set module:" >&2
    echo "$shared" >&2
    exit 1
fi
echo "kernel modules: no Swift symbol in common ($(cat "$work"/* | wc -l) symbols)"
