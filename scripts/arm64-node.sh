#!/usr/bin/env bash
# An arm64 Node to run under qemu-user, from Debian's own packages: `dpkg --add-architecture
# arm64`, `apt-get download` of nodejs:arm64 and the libraries it needs, each unpacked with
# `dpkg-deb -x` into one folder used as the sysroot (qemu-aarch64 -L). Nothing is installed on the
# system but the architecture entry (and qemu-user, if missing). Prints the sysroot's path.
#
#   root=$(bash scripts/arm64-node.sh)            # build-arm64-node/root, reused when present
#   qemu-aarch64 -L "$root" "$root/usr/bin/node" --version
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$(pwd)/build-arm64-node
root=$dir/root
if [ -x "$root/usr/bin/node" ]; then
  echo "$root"
  exit 0
fi
if ! command -v apt-get > /dev/null || ! command -v dpkg-deb > /dev/null; then
  echo "arm64-node: needs Debian's apt-get and dpkg-deb" >&2
  exit 1
fi
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  as_root dpkg --add-architecture arm64
  as_root apt-get update -qq >&2
elif ! apt-cache show nodejs:arm64 > /dev/null 2>&1; then
  as_root apt-get update -qq >&2
fi
# nodejs and libnode's dependencies (apt-cache depends nodejs:arm64 libnode108:arm64), and the
# architecture-independent JavaScript packages libnode loads at run time.
packages=(nodejs libnode108 libc6 libgcc-s1 libstdc++6 libbrotli1 libc-ares2 libicu72 libnghttp2-14 libssl3 libuv1 zlib1g)
rm -rf "$dir/debs"
mkdir -p "$dir/debs" "$root"
(cd "$dir/debs" && apt-get download -qq "${packages[@]/%/:arm64}" node-acorn node-cjs-module-lexer node-undici >&2)
for deb in "$dir"/debs/*.deb; do dpkg-deb -x "$deb" "$root"; done
# The interpreter's path inside the sysroot, as the arm64 executables name it.
[ -e "$root/lib/ld-linux-aarch64.so.1" ] || ln -s ../usr/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1 "$root/lib/ld-linux-aarch64.so.1" 2> /dev/null || true
echo "$root"
