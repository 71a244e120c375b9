#!/usr/bin/env bash
# Times loading a large text table: airfoil-dp at 1, 2 and 4 ranks (summary.seconds.load of a one-epoch run: reading,
# validating, the exact column statistics and standardising, all it does before training) against pandas' read_csv
# (C engine) and pyarrow's CSV reader with one thread and with threads, where the Python has them, and the same
# table converted to airfoil-dp's binary format (float64 and float32) at 1 and 2 ranks. Trials take turns (one of
# each reader, then again), the files already in the page cache; the table gives each reader's median, and the
# bytes each rank read per second. Then memory: the peak resident memory of each of 4 ranks training on the table
# five times over (about 1 GB of text; as text, float64 and float32), the linear model and an MLP, against the
# rank's share of the data as float32 (GNU time's maximum resident set size; left out without /usr/bin/time).
#
# Usage: scripts/bench-load.sh [--table FILE] [--trials N] [--python PATH] [--out FILE] [--no-memory]
#   --table FILE   the table (default: generated once into ~/.cache/airfoil-dp/bench-load.tsv: 3,550,000 rows of
#                  five uniform features and y = 2 x0 - x1 + 0.5 x2 x3 + 0.1 N(0,1), six decimals, tab separated,
#                  Python's random.Random(1); 192,396,357 bytes; about 20 s to write)
#   --trials N     trials per reader (default 3)
#   --no-memory    leave out the memory table (it writes about 2.3 GB of temporary files and takes a minute)
#   --python PATH  the Python with pandas and pyarrow (default python3; a reader it lacks is left out, said so)
#   --out FILE     also write the table, with the machine and the command, to FILE (a Markdown page, such as
#                  docs/loading.md)
# Needs a built airfoil-dp (scripts/setup.sh) and mpirun.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

table=""
trials=3
python=python3
out=""
memory=1
while [[ $# -gt 0 ]]; do
    case "$1" in
        -h|--help) airfoil_dp_usage "$0"; exit 0 ;;
        --no-memory) memory=0; shift ;;
        --table|--trials|--python|--out)
            [[ $# -ge 2 ]] || { echo "bench-load.sh: $1 needs a value" >&2; exit 64; }
            case "$1" in --table) table="$2" ;; --trials) trials="$2" ;; --python) python="$2" ;; --out) out="$2" ;; esac
            shift 2 ;;
        *) echo "bench-load.sh: unknown option '$1' (see --help)" >&2; exit 64 ;;
    esac
done
[[ "$trials" =~ ^[1-9][0-9]*$ ]] || { echo "bench-load.sh: --trials must be a positive whole number" >&2; exit 64; }
command -v "$python" >/dev/null 2>&1 || { echo "bench-load.sh: no Python at '$python'" >&2; exit 69; }

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
binary="$(airfoil_dp_binary "$repo")" || exit 69
if [[ -z "$table" ]]; then
    table="${XDG_CACHE_HOME:-$HOME/.cache}/airfoil-dp/bench-load.tsv"
    if [[ ! -s "$table" ]]; then
        mkdir -p "$(dirname "$table")"
        echo "bench-load.sh: writing the table to $table (once)" >&2
        "$python" - "$table.tmp" <<'PY'
import random, sys
r = random.Random(1)
with open(sys.argv[1], "w") as f:
    lines = []
    for _ in range(3_550_000):
        x = [r.random() for _ in range(5)]
        y = 2 * x[0] - x[1] + 0.5 * x[2] * x[3] + 0.1 * r.gauss(0, 1)
        lines.append("\t".join("%.6f" % v for v in x + [y]))
        if len(lines) == 100_000:
            f.write("\n".join(lines) + "\n")
            lines = []
    if lines:
        f.write("\n".join(lines) + "\n")
PY
        mv "$table.tmp" "$table"
    fi
fi
[[ -s "$table" ]] || { echo "bench-load.sh: no table at '$table'" >&2; exit 66; }
bytes=$(stat -c %s "$table")
rows=$(wc -l < "$table")
cat "$table" > /dev/null  # into the page cache

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export OMPI_MCA_mpi_yield_when_idle=1

"$binary" convert "$table" --out "$work/table.f64" >/dev/null
"$binary" convert "$table" --out "$work/table.f32" --float32 >/dev/null
cat "$work/table.f64" "$work/table.f32" > /dev/null

# The readers: a name, what it runs (airfoil-dp:FILE:RANKS or python:READER) and the bytes of the file it reads.
names=()
runs=()
sizes=()
add_reader() { names+=("$1"); runs+=("$2"); sizes+=("$(stat -c %s "$3")"); }
for ranks in 1 2 4; do add_reader "airfoil-dp text, $ranks rank$([[ $ranks == 1 ]] || echo s)" "airfoil-dp:$table:$ranks" "$table"; done
airfoil_dp() {
    local file="$1" ranks="$2" flags
    mapfile -t flags < <(airfoil_dp_mpirun_flags "$ranks")
    mpirun -np "$ranks" "${flags[@]}" "$binary" --data "$file" --rows "$rows" --epochs 1 --global-batch 10000 \
        --eval-every 100000000000 --quiet --log "$work/run.jsonl" --overwrite >/dev/null
    "$python" -c 'import json, sys; print(json.loads(open(sys.argv[1]).readlines()[-1])["seconds"]["load"])' \
        "$work/run.jsonl"
}
python_reader() {
    "$python" - "$table" "$1" <<'PY'
import sys, time
path, reader = sys.argv[1], sys.argv[2]
start = time.perf_counter()
if reader == "pandas":
    import pandas
    pandas.read_csv(path, sep="\t", header=None, engine="c", dtype="float64")
else:
    import pyarrow.csv as csv
    csv.read_csv(path, read_options=csv.ReadOptions(autogenerate_column_names=True, use_threads=reader == "threads"),
                 parse_options=csv.ParseOptions(delimiter="\t"))
print(time.perf_counter() - start)
PY
}
if "$python" -c 'import pandas' 2>/dev/null; then
    add_reader "pandas $("$python" -c 'import pandas; print(pandas.__version__)') read_csv, C engine" python:pandas "$table"
else
    echo "bench-load.sh: $python has no pandas: left out" >&2
fi
if "$python" -c 'import pyarrow' 2>/dev/null; then
    version="$("$python" -c 'import pyarrow; print(pyarrow.__version__)')"
    add_reader "pyarrow $version csv.read_csv, one thread" python:single "$table"
    add_reader "pyarrow $version csv.read_csv, threads ($(nproc) cores)" python:threads "$table"
else
    echo "bench-load.sh: $python has no pyarrow: left out" >&2
fi
for element in f64 f32; do
    for ranks in 1 2; do
        add_reader "airfoil-dp binary ${element/f/float}, $ranks rank$([[ $ranks == 1 ]] || echo s)" \
            "airfoil-dp:$work/table.$element:$ranks" "$work/table.$element"
    done
done

declare -A seconds
for trial in $(seq "$trials"); do
    for index in "${!names[@]}"; do
        IFS=: read -r kind first second <<<"${runs[$index]}"
        if [[ "$kind" == airfoil-dp ]]; then
            value="$(airfoil_dp "$first" "$second")"
        else
            value="$(python_reader "$first")"
        fi
        seconds[$index]+="$value "
        echo "bench-load.sh: trial $trial, ${names[$index]}: $value s" >&2
    done
done

median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# Memory: the largest rank's peak resident set (GNU time's %M, KiB) of a one-epoch run on 4 ranks.
memory_report=""
if ((memory)) && [[ ! -x /usr/bin/time ]]; then
    echo "bench-load.sh: no /usr/bin/time (Debian: apt-get install time): the memory table is left out" >&2
    memory=0
fi
if ((memory)); then
    rm -f "$work/table.f64" "$work/table.f32"
    for _ in 1 2 3 4 5; do cat "$table"; done > "$work/big.tsv"
    "$binary" convert "$work/big.tsv" --out "$work/big.f64" >/dev/null
    "$binary" convert "$work/big.tsv" --out "$work/big.f32" --float32 >/dev/null
    big_rows=$((5 * rows))
    peak_kib() {
        local data="$1" flags
        shift
        mapfile -t flags < <(airfoil_dp_mpirun_flags 4)
        mpirun -np 4 "${flags[@]}" /usr/bin/time -f 'peak_kib %M' "$binary" --data "$data" --epochs 1 --quiet \
            --log "$work/memory.jsonl" --overwrite "$@" 2>&1 >/dev/null | awk '/^peak_kib/ { if ($2 > m) m = $2 } END { print m }'
    }
    own="$(peak_kib synthetic:rows=1500,features=5 --model mlp --hidden 16)"
    echo "bench-load.sh: memory, 1500 synthetic rows (the process's own): $own KiB" >&2
    # The rank's share of the data as float32: its rows' six values, 4 bytes each.
    share=$(awk -v r="$big_rows" 'BEGIN { printf "%.0f", r / 4 * 6 * 4 / 1024 }')
    memory_report="$(
        echo "Peak resident memory per rank, 4 ranks, one epoch (global batch 100,000) on the table five times over:"
        echo "$(stat -c %s "$work/big.tsv") bytes of text, $big_rows rows; a rank's share as float32 is $((share / 1024)) MiB. The"
        echo "same job on 1500 rows (synthetic) peaks at $((own / 1024)) MiB a rank: the process's own memory (the"
        echo "Swift runtime, OpenMPI and its shared-memory transport)."
        echo
        echo "| data | model | peak MiB (largest rank) | peak / share | (peak - own) / share |"
        echo "|---|---|---|---|---|"
        for data in tsv f64 f32; do
            for model in linear mlp; do
                model_flags=(--model "$model")
                [[ "$model" == mlp ]] && model_flags+=(--hidden 16)
                peak="$(peak_kib "$work/big.$data" --rows "$big_rows" --global-batch 100000 "${model_flags[@]}")"
                echo "bench-load.sh: memory, $data, $model: $peak KiB" >&2
                name="$(case "$data" in tsv) echo text ;; f64) echo "binary float64" ;; f32) echo "binary float32" ;; esac)"
                awk -v d="$name" -v m="$model" -v p="$peak" -v s="$share" -v o="$own" \
                    'BEGIN { printf "| %s | %s | %.0f | %.2f | %.2f |\n", d, m, p / 1024, p / s, (p - o) / s }'
            done
        done
    )"
    echo "$memory_report"
fi
report="$(
    echo "Loading a ${bytes}-byte table ($rows rows, 6 columns, six decimals, tab separated) from the page cache;"
    echo "$(airfoil_dp_machine); median of $trials trials, $(date -u +%Y-%m-%d)."
    echo
    echo "| reader | file bytes | seconds | MB/s | MB/s per rank |"
    echo "|---|---|---|---|---|"
    for index in "${!names[@]}"; do
        value="$(median <<<"${seconds[$index]}")"
        ranks="${runs[$index]##*:}"
        [[ "$ranks" =~ ^[0-9]+$ ]] || ranks=1
        awk -v name="${names[$index]}" -v s="$value" -v b="${sizes[$index]}" -v r="$ranks" \
            'BEGIN { printf "| %s | %d | %.3f | %.0f | %.0f |\n", name, b, s, b / s / 1e6, b / r / s / 1e6 }'
    done
)"
echo "$report"
if [[ -n "$out" ]]; then
    {
        echo "# Loading a large table"
        echo
        echo "Generated by \`scripts/bench-load.sh --trials $trials --out FILE\` (the Python given with \`--python\`): do not"
        echo "edit by hand. airfoil-dp's figure is \`summary.seconds.load\` of a one-epoch run: reading, validating every"
        echo "field, the exact column statistics and standardising; pandas and pyarrow only parse into memory. The binary"
        echo "files are the same table after \`airfoil-dp convert\` (float64: the parsed values; float32: the standardised"
        echo "values, half the size): each rank reads its rows, verifies every block's checksum and that every value is"
        echo "finite, and standardises them. A rank's MB/s is its share of the file read per second (python: one process,"
        echo "pyarrow's threads counted as one). Compare readers within one run: on a shared virtual machine a whole run can"
        echo "move by a third from one hour to the next."
        echo
        echo "$report"
        if [[ -n "$memory_report" ]]; then
            echo
            echo "## Memory per rank"
            echo
            echo "$memory_report"
            echo
            echo "Where a rank's memory goes, as a multiple of its share as float32 (s): the trainer keeps its shard as"
            echo "inputs with the bias column and targets (7/6 s), the epoch's rows gathered in their shuffled order (7/6 s)"
            echo "and, for the linear model, the shard's inputs column by column (s), which its gradient reads; loading text"
            echo "holds each row's parsed float64 values (2 s) until they are standardised into the shard, plus each row's"
            echo "byte offset (8 bytes a row), never the text itself (read 4 MiB at a time). A binary file is read a block"
            echo "(about 1 MiB) at a time straight into the shard. The peak is the larger of loading and training."
        fi
    } > "$out"
fi
