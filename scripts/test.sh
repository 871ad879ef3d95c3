#!/usr/bin/env bash
# Every test: unit, fixture, scenario and property tests of the whole workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The tests drive the real binaries (ld.tether as gcc's ld, tether run); build them first.
cargo build --workspace --bins
# Cargo forbids '.' in a binary's name; ld.tether is the name users and issue texts use.
ln -sf ld-tether target/debug/ld.tether
# --show-output prints what passing tests report: the corpus matrix, fuzzing case counts.
exec cargo test --workspace "$@" -- --show-output
