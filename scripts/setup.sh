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
  libssl-dev                                       # libcrypto.a: the -r test of a real library
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
# programs) with ld.tether as its only linker. Fetched with apt-get's own state directory so
# the system's package lists stay as they are.
cache="${TETHER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tether}"
if ! ls "$cache"/zlib_*.orig.tar.* >/dev/null 2>&1; then
  echo "setup: fetching zlib's source package into $cache" >&2
  mkdir -p "$cache/apt/lists/partial" "$cache/apt/sources"
  # The release's own sources (the security archive publishes no source for old versions).
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -e "$f" ] || continue
    awk 'BEGIN { RS = ""; ORS = "\n\n" } !/security/ { sub(/Types: deb\n/, "Types: deb-src\n"); print }' \
      "$f" > "$cache/apt/sources/$(basename "$f")"
  done
  if [ -e /etc/apt/sources.list ]; then
    grep -v security /etc/apt/sources.list | sed -n 's/^deb /deb-src /p' > "$cache/apt/sources.list"
  else
    : > "$cache/apt/sources.list"
  fi
  apt_src=(-o "Dir::Etc::sourcelist=$cache/apt/sources.list"
           -o "Dir::Etc::sourceparts=$cache/apt/sources"
           -o "Dir::State::Lists=$cache/apt/lists")
  apt-get "${apt_src[@]}" update -q >&2
  (cd "$cache" && apt-get "${apt_src[@]}" source --download-only -q zlib >&2)
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo is not on PATH; install Rust (rustup) first" >&2
  exit 1
fi
