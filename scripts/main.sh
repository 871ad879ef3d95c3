#!/usr/bin/env bash
# The main job: build tether and run the built-in scenario corpus on both architectures.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release --workspace --bins
exec target/release/tether check "$@"
