#!/usr/bin/env bash
# The main job: build tether and run the built-in scenario corpus on both architectures.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release --workspace --bins
# Cargo forbids '.' in a binary's name; ld.tether is the name users and issue texts use.
ln -sf ld-tether target/release/ld.tether
exec target/release/tether check "$@"
