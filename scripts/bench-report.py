#!/usr/bin/env python3
"""Turns what scripts/bench.sh measured into a markdown report on stdout.

    python3 scripts/bench-report.py WORK RUNS COMMIT

WORK holds manifest.tsv (the inputs, failures, peak RSS and output sizes) and json/, one
hyperfine export per input, invocation, linker and round (NAME.MODE.LINKER.ROUND.json).
"""

import collections
import datetime
import glob
import json
import os
import statistics
import sys

LINKERS = ["tether", "mold", "lld", "gold", "bfd"]
TITLES = {"tether": "ld.tether", "mold": "mold", "lld": "lld", "gold": "gold", "bfd": "GNU ld"}
MODES = {
    "direct": "direct",
    "direct-build-id": "direct, --build-id",
    "gcc-no-build-id": "gcc, --build-id=none",
    "gcc": "gcc (passes --build-id)",
}


def read_manifest(work):
    inputs, fails, rss, cpu, size = {}, {}, {}, {}, {}
    with open(os.path.join(work, "manifest.tsv")) as f:
        for line in f:
            kind, *rest = line.rstrip("\n").split("\t")
            if kind == "input":
                inputs[rest[0]] = rest[2]
            elif kind == "fail":
                fails[tuple(rest[:3])] = rest[3] if len(rest) > 3 else ""
            elif kind == "rss" and rest[2].isdigit():
                rss[(rest[0], rest[1])] = int(rest[2]) / 1024
                cpu[(rest[0], rest[1])] = float(rest[3]) + float(rest[4])
            elif kind == "size":
                size[(rest[0], rest[1])] = int(rest[2])
    return inputs, fails, rss, cpu, size


def read_runs(work):
    """(input, mode, linker) -> [(wall, user+sys)], one pair per timed round."""
    runs = collections.defaultdict(list)
    for path in glob.glob(os.path.join(work, "json", "*.json")):
        name, mode, linker, _round = os.path.basename(path)[: -len(".json")].split(".")
        with open(path) as f:
            result = json.load(f)["results"][0]
        runs[(name, mode, linker)].append((result["times"][0], result["user"] + result["system"]))
    return runs


def ms(seconds):
    v = seconds * 1000
    return f"{v:.0f}" if v >= 100 else f"{v:.1f}"


def one_run(seconds):
    if seconds is None:
        return "—"
    return "< 10" if seconds < 0.01 else ms(seconds)


def ratio(a, b):
    return f"{a / b:.2f}×" if a is not None and b else "—"


class Report:
    def __init__(self, work):
        self.inputs, self.fails, self.rss, self.one_cpu, self.size = read_manifest(work)
        runs = read_runs(work)
        self.wall = {k: statistics.median(w for w, _ in v) for k, v in runs.items()}
        self.cpu = {k: statistics.median(c for _, c in v) for k, v in runs.items()}
        self.modes = [m for m in MODES if any(k[1] == m for k in runs)]

    def cell(self, name, mode, linker, with_cpu=True):
        key = (name, mode, linker)
        if key in self.fails:
            return "FAILED"
        if key not in self.wall:
            return "—"
        text = ms(self.wall[key])
        return f"{text} (cpu {ms(self.cpu[key])})" if with_cpu else text

    def summary(self):
        head = ["input"] + [TITLES[l] for l in LINKERS] + ["tether/mold", "tether/lld"]
        rows = []
        for name in self.inputs:
            w = lambda l: self.wall.get((name, "direct", l))
            cells = [self.cell(name, "direct", l, with_cpu=False) for l in LINKERS]
            rows.append([name] + cells + [ratio(w("tether"), w("mold")), ratio(w("tether"), w("lld"))])
        return table(head, rows)

    def memory(self):
        head = ["input"] + [TITLES[l] for l in LINKERS] + ["tether/mold", "tether/lld"]
        rows = []
        for name in self.inputs:
            m = lambda l: self.rss.get((name, l))
            cells = [
                "FAILED" if (name, "direct", l) in self.fails else (f"{m(l):.0f}" if m(l) else "—")
                for l in LINKERS
            ]
            rows.append([name] + cells + [ratio(m("tether"), m("mold")), ratio(m("tether"), m("lld"))])
        return table(head, rows)

    def coarse(self, name, linker):
        """The one-run cpu, in /usr/bin/time's 10 ms steps: None where too coarse to compare."""
        c = self.one_cpu.get((name, linker))
        return c if c is not None and c >= 0.1 else None

    def cpu_summary(self):
        head = ["input"] + [TITLES[l] for l in LINKERS] + ["tether/mold", "tether/lld"]
        rows = []
        for name in self.inputs:
            c = lambda l: self.coarse(name, l)
            cells = [
                "FAILED" if (name, "direct", l) in self.fails else one_run(self.one_cpu.get((name, l)))
                for l in LINKERS
            ]
            rows.append([name] + cells + [ratio(c("tether"), c("mold")), ratio(c("tether"), c("lld"))])
        return table(head, rows)

    def detail(self, name):
        head = ["linker"] + [MODES[m] for m in self.modes] + ["cpu, one run", "peak RSS", "output"]
        rows = []
        for l in LINKERS:
            rss = self.rss.get((name, l))
            cpu = self.one_cpu.get((name, l))
            size = self.size.get((name, l))
            rows.append(
                [TITLES[l]]
                + [self.cell(name, m, l) for m in self.modes]
                + [one_run(cpu)]
                + [f"{rss:.0f} MiB" if rss else "—", f"{size / 2**20:.1f} MiB" if size else "—"]
            )
        for peer in ("mold", "lld"):
            rows.append(
                [f"tether/{peer}"]
                + [ratio(self.wall.get((name, m, "tether")), self.wall.get((name, m, peer))) for m in self.modes]
                + [ratio(self.coarse(name, "tether"), self.coarse(name, peer))]
                + [ratio(self.rss.get((name, "tether")), self.rss.get((name, peer))), ""]
            )
        return table(head, rows)


def table(head, rows):
    lines = ["| " + " | ".join(head) + " |", "| --- |" + " ---: |" * (len(head) - 1)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def main():
    work, runs, commit = sys.argv[1], sys.argv[2], sys.argv[3]
    r = Report(work)
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    load = open("/proc/loadavg").read().split()[:3] if os.path.exists("/proc/loadavg") else []
    print(f"# Link benchmark, {now}, commit {commit}\n")
    print(
        f"Medians of {runs} runs per command, the linkers alternating run by run, after one "
        f"warm-up round; {os.cpu_count()} cores, load average at the end {' '.join(load)}. "
        "Times in ms; cpu is user+sys. *cpu, one run* and *peak RSS* come from "
        "`/usr/bin/time -f '%M %U %S'` in a separate direct run. mold and ld.tether fork: "
        "the process timed is the parent, which exits as soon as the output is complete (the "
        "wait a user sees) and leaves the work and the clean-up to its child, so their cpu in "
        "the timed columns is the parent's alone; their one-run cpu and peak RSS are measured "
        "with `--no-fork`.\n"
    )
    print("## Linked directly: `ld -shared -o out.so INPUTS`, median wall time (ms)\n")
    print(r.summary() + "\n")
    print(
        "## CPU time (user+sys, ms), linked directly, one run each "
        "(mold and ld.tether with --no-fork)\n"
    )
    print(r.cpu_summary() + "\n")
    print("## Peak RSS, linked directly (MiB)\n")
    print(r.memory() + "\n")
    for name, desc in r.inputs.items():
        print(f"## {name}: {desc}\n")
        print(r.detail(name) + "\n")
    if r.fails:
        print("## Failures\n")
        for (name, mode, linker), msg in sorted(r.fails.items()):
            print(f"- {TITLES[linker]}, {name}, {MODES[mode]}: `{msg.strip().replace('`', chr(39))}`")
        print()


if __name__ == "__main__":
    main()
