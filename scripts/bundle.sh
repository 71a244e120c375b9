#!/usr/bin/env bash
# Builds a Swift-free airfoil-dp for clusters: the Swift runtime and Foundation linked statically, packed with the
# scripts a cluster user runs, the hostfiles, the user docs and a short README into DIR/airfoil-dp-<version>-linux-<arch>.tar.gz.
# The binary then needs only the C and C++ runtime, OpenMPI 4.x (libmpi.so.40) with what it needs, and OpenSSL's
# libcrypto.so.3: no Swift toolchain on the nodes.
#
# Usage: scripts/bundle.sh [--out DIR] [--help]
#   --out DIR   where the archive goes (default: dist)
# Builds into .build-static, and the manual page in .build-manual (separate scratch folders, so the ordinary build
# stays as it is and the script can run while another SwiftPM command holds .build).
set -euo pipefail

usage() {
    cat <<'HELP'
Usage: scripts/bundle.sh [--out DIR] [--help]
Builds a Swift-free airfoil-dp (Swift runtime and Foundation linked statically) and packs it with the run, sweep,
Slurm and plot scripts, the hostfiles, the user docs and a short README into DIR/airfoil-dp-<version>-linux-<arch>.tar.gz.
  --out DIR   where the archive goes (default: dist)
HELP
}

out=dist
while [[ $# -gt 0 ]]; do
    case "$1" in
        --out) out="${2:?--out needs a folder}"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "bundle.sh: unknown option '$1' (see --help)" >&2; exit 64 ;;
    esac
done

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
swift build -c release --product airfoil-dp --static-swift-stdlib --scratch-path .build-static >&2
binary="$(swift build -c release --static-swift-stdlib --scratch-path .build-static --show-bin-path)/airfoil-dp"
version="$("$binary" --version)"
name="airfoil-dp-$version-linux-$(uname -m)"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/$name/bin" "$stage/$name/scripts/lib" "$stage/$name/scripts/slurm"
cp "$binary" "$stage/$name/bin/airfoil-dp"
strip "$stage/$name/bin/airfoil-dp"
cp scripts/run.sh scripts/sweep.sh scripts/plot-runs "$stage/$name/scripts/"
cp scripts/lib/common.sh "$stage/$name/scripts/lib/"
cp scripts/slurm/*.sbatch "$stage/$name/scripts/slurm/"
cp -r hostfiles "$stage/$name/"
# The user's pages (their links between each other and to the CHANGELOG hold inside the bundle).
mkdir -p "$stage/$name/docs"
cp docs/*.md docs/*.png "$stage/$name/docs/"
cp CHANGELOG.md "$stage/$name/"
source "$repo/scripts/lib/common.sh"
airfoil_dp_install_docs "$stage/$name/bin/airfoil-dp" "$(airfoil_dp_manual "$repo" "$repo/.build-manual")" \
    "$stage/$name/share"
if libraries="$(ldd "$stage/$name/bin/airfoil-dp")" && grep -Eq 'libswift|libFoundation|libdispatch' <<<"$libraries"; then
    echo "bundle.sh: the binary still links a Swift library:" >&2
    grep -E 'libswift|libFoundation|libdispatch' <<<"$libraries" >&2
    exit 70
fi
cat > "$stage/$name/README.md" <<README
# airfoil-dp $version for Linux $(uname -m), without Swift

\`bin/airfoil-dp\` links the Swift runtime and Foundation statically. It needs on every node:
the C and C++ runtime (glibc 2.36 or newer, libstdc++, libgcc_s), OpenMPI 4.x (\`libmpi.so.40\`, with the
libraries it loads itself) and OpenSSL 3's \`libcrypto.so.3\`. Check with \`ldd bin/airfoil-dp\`.

    export PATH="\$PWD/bin:\$PATH" MANPATH="\$PWD/share/man:"
    source share/bash-completion/completions/airfoil-dp   # tab completion in bash
    airfoil-dp info                              # ranks, hosts, MPI, CPU
    mpirun -np 16 airfoil-dp --data /path/to/airfoil_self_noise.dat
    srun --mpi=pmix -n 64 airfoil-dp --data /shared/airfoil_self_noise.dat --log runs/run.jsonl
    scripts/run.sh -np 16 --hostfile hostfiles/cluster.example -- --preset gd
    sbatch scripts/slurm/train.sbatch --preset minibatch100

Every node needs the binary and the data at the same paths. The bundle was built against OpenMPI 4.1; OpenMPI 5
keeps the library name \`libmpi.so.40\` but replaced its runtime (PRRTE) and was not tested: on a 5.x cluster,
build from source against the cluster's own OpenMPI.
The documentation: docs/guide.md (every option), docs/scaling-studies.md (sweeps, Slurm, compare, plots),
docs/batch-size.md, docs/failures.md, and the project's README.
README
mkdir -p "$out"
archive="$out/$name.tar.gz"
tar -C "$stage" -czf "$archive" "$name"
echo "$archive"
