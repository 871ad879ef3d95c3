#!/usr/bin/env bash
# Downloads Debian's source package PKG (its .dsc and tarballs, unpacked by nobody) into the
# cache, ~/.cache/tether (TETHER_CACHE or XDG_CACHE_HOME move it), unless it is there already.
# apt-get runs with a state directory of its own in the cache so the system's package lists
# stay as they are.
#
#   bash scripts/fetch-source.sh PKG
set -euo pipefail
pkg="$1"
cache="${TETHER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tether}"
if ls "$cache/${pkg}"_*.orig.tar.* >/dev/null 2>&1; then
  exit 0
fi
echo "fetch-source: fetching $pkg's source package into $cache" >&2
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
(cd "$cache" && apt-get "${apt_src[@]}" source --download-only -q "$pkg" >&2)
