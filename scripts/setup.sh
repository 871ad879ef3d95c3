#!/usr/bin/env bash
# Installs what tether's build, main job and tests use, if it is missing.
# Safe to run repeatedly: it only calls apt-get when a package is absent.
set -euo pipefail

packages=(
  build-essential cmake pkg-config libclang-dev   # unicorn's bundled build and bindgen
  clang lld llvm elfutils mold binutils            # compilers and the reference linkers
  llvm-14-linker-tools                             # LLVMgold.so: clang -flto through a plugin
  qemu-user                                        # the ground-truth backend
  file bzip2                                       # the real-project test (zlib's source package)
  gcc-arm-linux-gnueabihf g++-arm-linux-gnueabihf binutils-arm-linux-gnueabihf
  libc6-dev-armhf-cross                            # the armhf sysroot under /usr/arm-linux-gnueabihf
  strace                                           # static programs: the system calls made natively
  gdb-multiarch                                    # drives `tether run --gdb` in the tests
  libssl-dev                                       # libcrypto.a: the -r test of a real library, the benchmark
  hyperfine time tcl                               # scripts/bench.sh: timing, peak RSS, sqlite's amalgamation
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -q >&2
  $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
fi

# zlib's source package, for the test that builds a real project (configure probes, test
# programs) with ld.tether as its only linker.
bash "$(dirname "$0")/fetch-source.sh" zlib

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo is not on PATH; install Rust (rustup) first" >&2
  exit 1
fi
