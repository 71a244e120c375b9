#!/usr/bin/env bash
# Times the chapter's sgd experiment (batch 1, lr 0.005, 2 epochs, training time only) in numpy, written the way
# d2l 11.5 writes its loop, and in airfoil-dp on one rank, three runs each, and prints both medians and the ratio.
#
# Usage: scripts/bench-vs-numpy.sh [--help]
# Needs python3 with numpy (Debian: python3-numpy) and a built airfoil-dp. Data: as scripts/run.sh finds it.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then airfoil_dp_usage "$0"; exit 0; fi

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
binary="$(airfoil_dp_binary "$repo")" || exit 69
airfoil_dp_default_data "$repo" || { echo "bench-vs-numpy.sh: no data file: run 'airfoil-dp fetch-data'" >&2; exit 66; }
data="${AIRFOIL_DP_DATA:-data/airfoil_self_noise.dat}"
python3 -c 'import numpy' 2>/dev/null || { echo "bench-vs-numpy.sh: python3 cannot import numpy (apt-get install python3-numpy)" >&2; exit 69; }

numpy_ms=()
ours_ms=()
for _ in 1 2 3; do
    numpy_ms+=("$(python3 - "$data" <<'PY'
import sys, time
import numpy as np
data = np.genfromtxt(sys.argv[1], dtype=np.float32, delimiter="\t")
data = (data - data.mean(axis=0)) / data.std(axis=0)
X, y = data[:1500, :-1], data[:1500, -1:]
rng = np.random.default_rng(0)
w = rng.normal(0, 0.01, (5, 1)).astype(np.float32)
b = np.zeros(1, np.float32)
lr, batch, seconds = 0.005, 1, 0.0
for epoch in range(2):
    order = rng.permutation(1500)
    start = time.perf_counter()
    for i in range(0, 1500, batch):
        rows = order[i:i + batch]
        xb, yb = X[rows], y[rows]
        residual = xb @ w + b - yb
        w -= lr * (xb.T @ residual) / len(rows)
        b -= lr * residual.sum(axis=0) / len(rows)
    seconds += time.perf_counter() - start
print(seconds / 2 * 1000)
PY
)")
    line="$("$binary" --data "$data" --preset sgd --quiet | sed -n "/^loss:/p")"
    ours_ms+=("$(sed -E 's/.*, ([0-9.]+) sec\/epoch/\1/' <<<"$line" | awk '{print $1 * 1000}')")
done
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
numpy_median="$(median "${numpy_ms[@]}")"
ours_median="$(median "${ours_ms[@]}")"
echo "sgd preset, one process, training ms per epoch (median of 3):"
echo "  numpy:      $numpy_median"
echo "  airfoil-dp: $ours_median"
awk -v a="$numpy_median" -v b="$ours_median" 'BEGIN { printf "  airfoil-dp is %.0f times faster\n", a / b }'
