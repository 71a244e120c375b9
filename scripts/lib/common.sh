# shellcheck shell=bash
# Sourced by the scripts in scripts/ (not run): where the airfoil-dp binary and the data file are, decided in
# one place so every script agrees.

# airfoil_dp_binary REPO: prints the binary to use: REPO's release build when there is one (in a checkout it is
# the freshest), else REPO/bin/airfoil-dp (an unpacked bundle), else airfoil-dp on the PATH (an installed copy);
# fails with a message when none exists.
airfoil_dp_binary() {
    local built="$1/.build/release/airfoil-dp"
    if [[ -x "$built" ]]; then
        echo "$built"
    elif [[ -x "$1/bin/airfoil-dp" ]]; then
        echo "$1/bin/airfoil-dp"
    elif command -v airfoil-dp >/dev/null 2>&1; then
        command -v airfoil-dp
    else
        echo "$(basename "$0"): airfoil-dp is not built: run scripts/setup.sh first" >&2
        return 69
    fi
}

# airfoil_dp_default_data REPO: when neither $AIRFOIL_DP_DATA nor ./data/airfoil_self_noise.dat names the data,
# exports AIRFOIL_DP_DATA as the checkout's sibling ../shared/data copy if it exists (as on this project's CI).
# Returns non-zero when no data file is known at all.
airfoil_dp_default_data() {
    [[ -n "${AIRFOIL_DP_DATA:-}" || -f data/airfoil_self_noise.dat ]] && return 0
    local shared
    shared="$(cd "$1/.." && pwd)/shared/data/airfoil_self_noise.dat"
    [[ -f "$shared" ]] || return 1
    export AIRFOIL_DP_DATA="$shared"
}
