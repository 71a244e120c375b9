#!/usr/bin/env bash
# Sets up airfoil-dp on a Debian machine: installs OpenMPI, OpenSSL's libcrypto (SHA-1), xxHash's header (the
# binary data format's block checksums, compiled in: nothing to install on the nodes) and pkgconf through apt
# where missing, builds the release binary, and installs it into PREFIX/bin so that `mpirun ... airfoil-dp`
# finds it by name, with its manual page and shell completions under PREFIX/share.
#
# Usage: scripts/setup.sh [--prefix DIR] [--no-install] [--help]
#   --prefix DIR   install into DIR/bin (default: /usr/local as root, ~/.local otherwise)
#   --no-install   build only
# The binary runs on any x86-64 or aarch64 CPU and picks its GEMM kernels when it starts (AVX-512, AVX2 or
# portable; AIRFOIL_DP_KERNEL=avx512|avx2|portable forces one): no build-time CPU choice is needed.
# It changes neither OpenMPI's system configuration nor shell start-up files.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

usage() { airfoil_dp_usage "$0"; }

if [[ $EUID -eq 0 ]]; then prefix=/usr/local; else prefix="$HOME/.local"; fi
install_binary=1
while [[ $# -gt 0 ]]; do
    case "$1" in
        --prefix) prefix="${2:?--prefix needs a directory}"; shift 2 ;;
        --no-install) install_binary=0; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "setup.sh: unknown option '$1' (see --help)" >&2; exit 64 ;;
    esac
done

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

missing=()
command -v mpirun >/dev/null 2>&1 || missing+=(openmpi-bin)
pkg-config --exists ompi-c 2>/dev/null || missing+=(libopenmpi-dev)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkgconf)
pkg-config --exists libcrypto 2>/dev/null || missing+=(libssl-dev)
[[ -f /usr/include/xxhash.h ]] || missing+=(libxxhash-dev)
if ((${#missing[@]})); then
    echo "setup.sh: installing ${missing[*]} through apt" >&2
    airfoil_dp_apt_install libopenmpi-dev openmpi-bin pkgconf libssl-dev libxxhash-dev
fi
command -v swift >/dev/null 2>&1 || { echo "setup.sh: swift is not on the PATH (install Swift 6 from swift.org)" >&2; exit 69; }

cd "$repo"
swift build -c release --product airfoil-dp
binary="$(swift build -c release --show-bin-path)/airfoil-dp"

if ((install_binary)); then
    mkdir -p "$prefix/bin"
    install -m 0755 "$binary" "$prefix/bin/airfoil-dp"
    airfoil_dp_install_docs "$binary" "$(airfoil_dp_manual "$repo")" "$prefix/share"
    echo "setup.sh: installed $prefix/bin/airfoil-dp, its manual page and bash, zsh and fish completions" >&2
    case ":$PATH:" in
        *":$prefix/bin:"*) ;;
        *) echo "setup.sh: note: $prefix/bin is not on your PATH; scripts/run.sh adds it, or run: export PATH=\"$prefix/bin:\$PATH\"" >&2 ;;
    esac
fi
