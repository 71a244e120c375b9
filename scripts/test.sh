#!/usr/bin/env bash
# Sets up what the tests need (OpenMPI, pkgconf, python3 and strace through apt where missing) and runs the whole
# suite in release mode: unit tests, GEMM correctness, and the end-to-end runs under mpirun.
#
# Usage: scripts/test.sh [--help] [--quick] [extra swift test arguments, e.g. --filter MPIRunTests]
#   --quick   only the unit suites, in one process, no mpirun (what to run after every change; about a
#             minute after a build); the full run is what CI and a release need
# The tests read the data from $AIRFOIL_DP_DATA, else ../shared/data/airfoil_self_noise.dat beside the checkout.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
    airfoil_dp_usage "$0"
    exit 0
fi
quick=()
if [[ "${1:-}" == "--quick" ]]; then
    # Every end-to-end suite is nested in EndToEnd: skipping it leaves the unit suites.
    quick=(--skip EndToEnd)
    shift
fi

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$repo/scripts/setup.sh" --no-install
missing=()
command -v python3 >/dev/null 2>&1 || missing+=(python3)
command -v strace >/dev/null 2>&1 || missing+=(strace)
((${#missing[@]} == 0)) || airfoil_dp_apt_install "${missing[@]}"

cd "$repo"
# Root may launch mpirun in the end-to-end tests (they set these too; exported here for manual reruns).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# No @testable imports: the tests use public API only, and without testability the test build shares its compiled
# modules with setup.sh's release build instead of rebuilding them each time.
swift test -c release --disable-testable-imports "${quick[@]}" "$@"
