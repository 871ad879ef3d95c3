#!/usr/bin/env bash
# Links the same inputs with tether and its peers (GNU ld, gold, lld, mold) side by side and
# prints hyperfine's table for each input. Not a test: timings depend on the machine.
#
#   bash scripts/bench.sh [RUNS]
#
# Inputs: x86-64 libcrypto.a (libssl-dev) linked --whole-archive into a shared library, and a
# generated ARM (Thumb-2) corpus of many small PIC objects that call and reference each other.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-10}"

need=()
command -v hyperfine >/dev/null || need+=(hyperfine)
[ -f /usr/lib/x86_64-linux-gnu/libcrypto.a ] || need+=(libssl-dev)
if [ ${#need[@]} -gt 0 ]; then
    bash scripts/setup.sh
    apt-get install -y --no-install-recommends "${need[@]}"
fi

cargo build --release -p tether-linker
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Each linker is reached the same way, as `ld` in a directory given to the driver with -B, so
# the cross driver can use lld and mold too. Peers that are missing are left out, loudly.
linker_dirs() {
    local arch="$1" prefix=""
    [ "$arch" = arm ] && prefix=arm-linux-gnueabihf-
    local name path
    for name in bfd gold lld mold tether; do
        case "$name" in
            bfd | gold) path="$(command -v "${prefix}ld.$name" || true)" ;;
            lld) path="$(command -v ld.lld || true)" ;;
            mold) path="$(command -v mold || true)" ;;
            tether) path="$PWD/target/release/ld-tether" ;;
        esac
        if [ -z "$path" ]; then
            echo "bench: no $name linker for $arch; left out" >&2
            continue
        fi
        mkdir -p "$work/$arch-$name"
        ln -sf "$path" "$work/$arch-$name/ld"
        echo "$name"
    done
}

bench() {
    local name="$1" arch="$2" cc="$3"
    shift 3
    local cmds=()
    echo "== $name"
    for l in $(linker_dirs "$arch"); do
        local cmd="$cc -B$work/$arch-$l/ -shared -o $work/$name-$l.so $*"
        # A peer that fails on this input is reported and left out of the timing.
        if ! $cmd 2>"$work/err"; then
            echo "   $l FAILED: $(grep -v '^collect2' "$work/err" | head -n 2 | tr '\n' ' ')"
            continue
        fi
        cmds+=(-n "$l" "$cmd")
    done
    hyperfine --warmup 2 --runs "$runs" --style basic "${cmds[@]}"
    ls -l "$work/$name"-*.so | awk '{print "   " $5 "  " $9}'
}

bench x86_64-libcrypto x86_64 gcc \
    -Wl,--whole-archive /usr/lib/x86_64-linux-gnu/libcrypto.a -Wl,--no-whole-archive

# A generated ARM corpus: 400 files of 25 functions, each calling into the next file and
# reading a global from another, so every object has PLT calls, GOT loads and data relocations.
src="$work/arm-src"
mkdir -p "$src"
files=400
per=25
for ((f = 0; f < files; f++)); do
    next=$(((f + 1) % files))
    {
        echo "extern int g_$next; int g_$f = $f;"
        for ((i = 0; i < per; i++)); do
            echo "int f${next}_$i(int);"
        done
        for ((i = 0; i < per; i++)); do
            echo "int f${f}_$i(int x) { return x > 0 ? f${next}_$i(x - 1) + g_$next : $i; }"
        done
    } >"$src/m$f.c"
done
(cd "$src" && ls ./*.c | xargs -P "$(nproc)" -n 20 arm-linux-gnueabihf-gcc -O2 -fPIC -c)
bench arm-generated arm arm-linux-gnueabihf-gcc "$src"/*.o
