#!/usr/bin/env bash
# Links the same inputs with ld.tether and its peers (mold, lld, gold, GNU ld) side by side and
# prints a markdown table of median wall time, user+sys time and peak RSS, also written to
# target/bench/report.md. Not a test: timings depend on the machine and its load.
#
#   bash scripts/bench.sh [--quick] [--runs N] [--only NAME,...] [--phases]
#
# --runs N   timed runs per command (default 7); the runs alternate between the linkers, one
#            hyperfine run each per round, after one untimed warm-up round
# --quick    3 runs, the direct and gcc invocations only, on the generated x86-64 and ARM
#            inputs and libcrypto (unless --only names others)
# --only     these inputs alone: x86_64-gen, arm-gen, x86_64-gen-g, arm-gen-g,
#            x86_64-libcrypto, x86_64-sqlite, arm-sqlite, arm-small
# --phases   no timing: runs the release ld.tether once per input with TETHER_TIME_TRACE=1 and
#            shows what it prints on stderr (its per-phase times)
#
# Inputs (compiled once, cached under ~/.cache/tether/bench): the generated input of issue 11
# (scripts/bench-gen.py: 400 files x 250 functions) for x86-64 and ARM (Thumb-2), each with and
# without -g; libcrypto.a (libssl-dev) --whole-archive; sqlite's amalgamation (Debian's source
# package) for both; and 400 small generated ARM objects. Each is linked into a shared library
# by every linker in four ways: directly (`ld -shared -o out.so ...`) and through the compiler
# driver (`gcc -B dir -shared`, dir holding the linker as `ld`), each with and without
# --build-id (Debian's gcc always passes it; -Wl,--build-id=none takes it away). A linker that
# fails on an input is reported as FAILED and left out.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

runs=7
quick=0
phases=0
only=""
while (($#)); do
    case "$1" in
        --quick) quick=1; runs=3 ;;
        --phases) phases=1 ;;
        --runs) runs="$2"; shift ;;
        --runs=*) runs="${1#--runs=}" ;;
        --only) only="$2"; shift ;;
        --only=*) only="${1#--only=}" ;;
        *) echo "usage: bash scripts/bench.sh [--quick] [--runs N] [--only NAME,...] [--phases]" >&2
           exit 2 ;;
    esac
    shift
done

bash scripts/setup.sh
cargo build --release -p tether-linker
tether="$root/target/release/ld-tether"
cache="${TETHER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tether}"
out="$root/target/bench"
work="$out/work"
rm -rf "$work"
mkdir -p "$work/tmp" "$work/json" "$work/so"
# The drivers' temporary files stay under target/ too.
export TMPDIR="$work/tmp"
manifest="$work/manifest.tsv"
: >"$manifest"

# --- inputs -------------------------------------------------------------------------------
# Each input is a name, an architecture, a description and its arguments in the form the
# linkers take them directly (object and archive paths, --whole-archive and the like).
inputs=()
declare -A arch_of desc_of args_of

add_input() {
    local name="$1" arch="$2" desc="$3"
    shift 3
    inputs+=("$name")
    arch_of[$name]="$arch"
    args_of[$name]="$*"
    local a bytes=0
    for a in "$@"; do
        [ -f "$a" ] && bytes=$((bytes + $(stat -L -c %s "$a")))
    done
    desc_of[$name]="$desc, $(numfmt --to=iec-i --suffix=B "$bytes") of input"
    printf 'input\t%s\t%s\t%s\n' "$name" "$arch" "${desc_of[$name]}" >>"$manifest"
}

generated() {
    local name="$1" variant="$2" desc="$3"
    shift 3
    local dir
    dir="$(python3 scripts/bench-gen.py "$variant" "$@")"
    local objs=("$dir"/*.o)
    add_input "$name" "${variant%-g}" "$desc" "${objs[@]}"
}

# sqlite's amalgamation, made from Debian's source package (its tarball has the sources the
# amalgamation is assembled from, by a Tcl script) and compiled like the generated input.
sqlite_object() {
    local arch="$1" cc="$2"
    local src="$cache/bench/sqlite-src"
    if [ ! -f "$src/sqlite3.c" ]; then
        bash scripts/fetch-source.sh sqlite3
        rm -rf "$src" && mkdir -p "$src"
        tar -xf "$(ls "$cache"/sqlite3_*.orig.tar.* | head -n 1)" -C "$src" --strip-components=1
        echo "bench: assembling sqlite3.c" >&2
        (cd "$src" && ./configure --disable-tcl >/dev/null && make sqlite3.c >/dev/null)
    fi
    local dir="$cache/bench/sqlite-$arch"
    local key
    key="$(sha256sum "$src/sqlite3.c" | cut -c 1-16) $($cc --version | head -n 1)"
    if [ "$(cat "$dir/key" 2>/dev/null)" != "$key" ]; then
        echo "bench: compiling sqlite3.c for $arch" >&2
        rm -rf "$dir" && mkdir -p "$dir"
        $cc -O1 -fPIC -c "$src/sqlite3.c" -o "$dir/sqlite3.o"
        echo "$key" >"$dir/key"
    fi
    echo "$dir/sqlite3.o"
}

((quick)) && [ -z "$only" ] && only=x86_64-gen,arm-gen,x86_64-libcrypto
wanted() {
    [ -z "$only" ] || [[ ",$only," == *",$1,"* ]]
}
wanted x86_64-gen && generated x86_64-gen x86_64 "x86-64, 400 generated files x 250 functions"
wanted arm-gen && generated arm-gen arm "ARM (Thumb-2), 400 generated files x 250 functions"
wanted x86_64-gen-g && generated x86_64-gen-g x86_64-g "x86-64, the generated input with -g"
wanted arm-gen-g && generated arm-gen-g arm-g "ARM, the generated input with -g"
wanted x86_64-libcrypto && add_input x86_64-libcrypto x86_64 "x86-64, libcrypto.a --whole-archive" \
    --whole-archive /usr/lib/x86_64-linux-gnu/libcrypto.a --no-whole-archive
wanted x86_64-sqlite && add_input x86_64-sqlite x86_64 "x86-64, sqlite's amalgamation" \
    "$(sqlite_object x86_64 gcc)"
wanted arm-sqlite && add_input arm-sqlite arm "ARM, sqlite's amalgamation" \
    "$(sqlite_object arm arm-linux-gnueabihf-gcc)"
wanted arm-small && generated arm-small arm "ARM, 400 small generated files x 25 functions" \
    --files 400 --funcs 25 --out "$cache/bench/arm-small"
if [ ${#inputs[@]} -eq 0 ]; then
    echo "bench: no input is called $only" >&2
    exit 2
fi

if ((phases)); then
    for name in "${inputs[@]}"; do
        # shellcheck disable=SC2086 # the arguments are paths without spaces and options
        TETHER_TIME_TRACE=1 "$tether" -shared --build-id -o "$work/so/$name.so" ${args_of[$name]} \
            2>"$work/phases.txt"
        if [ -s "$work/phases.txt" ]; then
            echo "== $name: ${desc_of[$name]}"
            cat "$work/phases.txt"
        fi
    done
    exit 0
fi

# --- linkers and invocations ----------------------------------------------------------------
linkers=(tether mold lld gold bfd)
if ((quick)); then
    modes=(direct gcc)
else
    modes=(direct direct-build-id gcc-no-build-id gcc)
fi

# The program to run for `linker` on `arch`, directly.
linker_path() {
    local linker="$1" arch="$2" prefix=""
    [ "$arch" = arm ] && prefix=arm-linux-gnueabihf-
    case "$linker" in
        tether) echo "$tether" ;;
        mold) command -v mold ;;
        lld) command -v ld.lld ;;
        gold | bfd) command -v "${prefix}ld.$linker" ;;
    esac
}

# gcc finds `ld` in a -B directory: one directory per linker, holding it as `ld`.
for arch in x86_64 arm; do
    for l in "${linkers[@]}"; do
        mkdir -p "$work/bin/$arch-$l"
        ln -s "$(linker_path "$l" "$arch")" "$work/bin/$arch-$l/ld"
    done
done

# The command line (words without spaces) of one link.
command_for() {
    local name="$1" linker="$2" mode="$3"
    local arch="${arch_of[$name]}" so="$work/so/$name.$linker.so"
    local cc=gcc
    [ "$arch" = arm ] && cc=arm-linux-gnueabihf-gcc
    case "$mode" in
        direct) echo "$(linker_path "$linker" "$arch") -shared -o $so ${args_of[$name]}" ;;
        direct-build-id)
            echo "$(linker_path "$linker" "$arch") -shared --build-id -o $so ${args_of[$name]}" ;;
        gcc | gcc-no-build-id)
            local extra="" a gcc_args=()
            [ "$mode" = gcc-no-build-id ] && extra="-Wl,--build-id=none"
            for a in ${args_of[$name]}; do
                case "$a" in
                    -*) gcc_args+=("-Wl,$a") ;;
                    *) gcc_args+=("$a") ;;
                esac
            done
            echo "$cc -B$work/bin/$arch-$linker/ -shared $extra -o $so ${gcc_args[*]}" ;;
    esac
}

# --- measuring ----------------------------------------------------------------------------
log="$out/hyperfine.log"
: >"$log"
for name in "${inputs[@]}"; do
    for mode in "${modes[@]}"; do
        echo "bench: $name, $mode" >&2
        ok=()
        for l in "${linkers[@]}"; do
            cmd="$(command_for "$name" "$l" "$mode")"
            # One untimed run decides whether the linker takes part; its failure is reported.
            # It runs under sh, so that an abort is reported by sh into the error file.
            if sh -c '"$@"; exit $?' sh $cmd >/dev/null 2>"$work/err"; then
                ok+=("$l")
            else
                msg="$(grep -v '^collect2' "$work/err" | head -n 2 | tr '\t\n' '  ' | cut -c 1-160)"
                printf 'fail\t%s\t%s\t%s\t%s\n' "$name" "$mode" "$l" "$msg" >>"$manifest"
            fi
        done
        # Rounds alternate between the linkers, each starting one further along, so a burst of
        # load from the machine's other users falls on all of them alike. Round 0 warms up.
        n=${#ok[@]}
        for ((r = 0; r <= runs; r++)); do
            for ((i = 0; i < n; i++)); do
                l="${ok[$(((i + r) % n))]}"
                hyperfine -N --runs 1 --style basic -n "$l" \
                    --export-json "$work/json/$name.$mode.$l.$r.json" \
                    "$(command_for "$name" "$l" "$mode")" >>"$log" 2>&1
            done
        done
        rm -f "$work/json/$name.$mode".*.0.json
        if [ "$mode" = direct ]; then
            for l in "${ok[@]}"; do
                cmd="$(command_for "$name" "$l" "$mode")"
                # mold and ld.tether link in a forked child whose parent exits when the output
                # is ready: the time of the parent is what a user waits for, but the memory and
                # CPU are the child's, so this run keeps them in one process.
                case "$l" in
                    mold | tether) cmd="${cmd/ -shared / --no-fork -shared }" ;;
                esac
                /usr/bin/time -f '%M %U %S' -o "$work/rss" $cmd >/dev/null 2>&1
                printf 'rss\t%s\t%s\t%s\n' "$name" "$l" "$(tail -n 1 "$work/rss" | tr ' ' '\t')" \
                    >>"$manifest"
                printf 'size\t%s\t%s\t%s\n' "$name" "$l" \
                    "$(stat -c %s "$work/so/$name.$l.so")" >>"$manifest"
            done
        fi
    done
done

tip="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- linker || echo '+changes')"
python3 scripts/bench-report.py "$work" "$runs" "$tip" >"$out/report.md"
rm -rf "$work/so" "$work/tmp"
cat "$out/report.md"
