#!/usr/bin/env python3
"""Generates the large-link benchmark input of issue 11 and compiles it.

FILES C files of FUNCS functions each. Every function calls three functions of other files
(PLT calls under -fPIC), reads a global variable defined in another file (a GOT load) and
indexes a string constant of its own (a mergeable .rodata.str1.1 string); the random choices
come from a fixed seed, so the same arguments always give the same sources.

    python3 scripts/bench-gen.py VARIANT [--files N] [--funcs M] [--out DIR] [--main]
                                 [--cflags FLAGS] [--jobs J]

VARIANT is x86_64, arm, x86_64-g or arm-g (-g: with debug information). The sources go to
DIR/src and the objects to DIR/obj; the object directory is printed on stdout. DIR defaults
to ~/.cache/tether/bench/VARIANT (TETHER_CACHE or XDG_CACHE_HOME move it), and a directory
whose key (this script, the arguments and the compiler's version) matches is reused as it
is, so reruns compile nothing. --main adds main.c, whose main calls a few functions and
prints their sum, so the objects also link into a program.
"""

import argparse
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys

COMPILERS = {"x86_64": "gcc", "arm": "arm-linux-gnueabihf-gcc"}
SEED = 11


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("variant", choices=["x86_64", "arm", "x86_64-g", "arm-g"])
    p.add_argument("--files", type=int, default=400)
    p.add_argument("--funcs", type=int, default=250)
    p.add_argument("--out", help="directory for src/ and obj/ (default: the cache)")
    p.add_argument("--main", action="store_true", help="also write main.c")
    p.add_argument("--cflags", default="", help="extra compiler flags, space separated")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = p.parse_args()
    if args.files < 2 or args.funcs < 1:
        p.error("need at least 2 files (calls go to other files) and 1 function")
    return args


def cache_root():
    if os.environ.get("TETHER_CACHE"):
        return os.environ["TETHER_CACHE"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.environ["HOME"], ".cache")
    return os.path.join(base, "tether")


def globals_per_file(funcs):
    return max(1, funcs // 10)


def other_file(rng, files, own):
    # Uniform over the files other than `own`.
    f = rng.randrange(files - 1)
    return f + 1 if f >= own else f


def source(f, files, funcs, rng):
    """The text of file `f`: its globals, the declarations it uses and its functions."""
    nglob = globals_per_file(funcs)
    bodies, callees, reads = [], set(), set()
    for i in range(funcs):
        calls = []
        for _ in range(3):
            g = other_file(rng, files, f)
            calls.append(f"f{g}_{rng.randrange(funcs)}")
        glob = f"g{other_file(rng, files, f)}_{rng.randrange(nglob)}"
        callees.update(calls)
        reads.add(glob)
        bodies.append(
            f"int f{f}_{i}(int x)\n{{\n"
            f'    if (x <= 0)\n        return "string f{f}_{i}"[-x & 7];\n'
            f"    return {calls[0]}(x - 1) + {calls[1]}(x - 1) + {calls[2]}(x - 1) + {glob};\n}}\n"
        )
    head = [f"int g{f}_{k} = {f * 31 + k};" for k in range(nglob)]
    head += [f"extern int {name}(int);" for name in sorted(callees)]
    head += [f"extern int {name};" for name in sorted(reads)]
    return "\n".join(head) + "\n\n" + "\n".join(bodies)


def main_source(files, funcs):
    picks = [(f * 7 % files, f * 13 % funcs) for f in range(1, 4)]
    total = " + ".join(f"f{f}_{i}(4)" for f, i in picks)
    decls = "".join(f"extern int f{f}_{i}(int);\n" for f, i in picks)
    return f'#include <stdio.h>\n{decls}int main(void)\n{{\n    printf("%d\\n", {total});\n    return 0;\n}}\n'


def key(args, compiler):
    version = subprocess.run([compiler, "--version"], capture_output=True, text=True, check=True)
    with open(__file__, "rb") as script:
        h = hashlib.sha256(script.read())
    params = [args.variant, args.files, args.funcs, args.main, args.cflags, SEED]
    h.update(json.dumps(params).encode())
    h.update(version.stdout.encode())
    return h.hexdigest()


def write_sources(src, args):
    rng = random.Random(SEED)
    os.makedirs(src)
    for f in range(args.files):
        with open(os.path.join(src, f"m{f}.c"), "w") as out:
            out.write(source(f, args.files, args.funcs, rng))
    if args.main:
        with open(os.path.join(src, "main.c"), "w") as out:
            out.write(main_source(args.files, args.funcs))


def compile_all(src, obj, compiler, args):
    """Compiles every source in `src` into `obj`, several files per driver, `jobs` at once."""
    os.makedirs(obj)
    flags = ["-O1", "-fPIC", "-c"] + (["-g"] if args.variant.endswith("-g") else [])
    flags += args.cflags.split()
    names = sorted(os.listdir(src))
    listing = "".join(os.path.join(src, n) + "\n" for n in names)
    cmd = ["xargs", "-P", str(args.jobs), "-n", "10", compiler] + flags
    subprocess.run(cmd, input=listing, text=True, cwd=obj, check=True)
    made = sorted(os.listdir(obj))
    if len(made) != len(names):
        sys.exit(f"bench-gen: {len(made)} objects from {len(names)} sources in {obj}")


def main():
    args = parse_args()
    compiler = COMPILERS[args.variant.removesuffix("-g")]
    out = args.out or os.path.join(cache_root(), "bench", args.variant)
    want = key(args, compiler)
    key_file = os.path.join(out, "key")
    obj = os.path.join(out, "obj")
    try:
        with open(key_file) as k:
            if k.read().strip() == want:
                print(obj)
                return
    except FileNotFoundError:
        pass
    # A directory without a matching key is a stale or half-made one: start it again.
    shutil.rmtree(out, ignore_errors=True)
    print(f"bench-gen: generating {args.variant} ({args.files} x {args.funcs}) in {out}", file=sys.stderr)
    write_sources(os.path.join(out, "src"), args)
    compile_all(os.path.join(out, "src"), obj, compiler, args)
    with open(key_file, "w") as k:
        k.write(want + "\n")
    print(obj)


if __name__ == "__main__":
    main()
