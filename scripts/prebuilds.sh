#!/usr/bin/env bash
# `npm run prebuilds`: the addons the package ships, for linux-x64 and linux-arm64 (glibc), both
# made on this machine through prebuildify and node-gyp (binding.gyp): x64 with g++, arm64
# cross-compiled with Debian's aarch64-linux-gnu-g++. NNE_GLIBC_FLOOR=1 links libstdc++ and libgcc
# statically and pins glibc symbols to their oldest versions (native/glibc_floor.cc), so each
# loads on every glibc Linux that Node 20 supports (glibc >= 2.28); the names carry the libc tag
# (nn-embedding.glibc.node), so a musl system never tries them. scripts/check-prebuilds.js then
# reads both ELF files and fails above the floor. The developer's build/ is left as it was.
#
#   npm run prebuilds                    both, into prebuilds/linux-{x64,arm64}/
#   npm run prebuilds -- x64             one architecture
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
arches=("$@")
[ ${#arches[@]} -eq 0 ] && arches=(x64 arm64)

host=$(node -p process.arch)
declare -A triple=([x64]=x86_64-linux-gnu [arm64]=aarch64-linux-gnu)
declare -A apt=([x64]=g++-x86-64-linux-gnu [arm64]=g++-aarch64-linux-gnu)
for arch in "${arches[@]}"; do
  [ -n "${triple[$arch]:-}" ] || { echo "prebuilds: unknown architecture '$arch' (x64 or arm64)" >&2; exit 2; }
  if [ "$arch" != "$host" ] && ! command -v "${triple[$arch]}-g++" > /dev/null; then
    echo "prebuilds: the $arch prebuild needs the cross compiler ${triple[$arch]}-g++: apt-get install ${apt[$arch]}" >&2
    exit 1
  fi
done

aside=$(mktemp -d)
restore() {
  rm -rf "$root/build"
  [ -d "$aside/build" ] && mv "$aside/build" "$root/build"
  rm -rf "$aside"
}
trap restore EXIT
[ -d build ] && mv build "$aside/build"

for arch in "${arches[@]}"; do
  rm -rf "prebuilds/linux-$arch"
  echo "== prebuild linux-$arch"
  if [ "$arch" = "$host" ]; then
    NNE_GLIBC_FLOOR=1 npx --no-install prebuildify --napi --strip --tag-libc > "$aside/$arch.log" 2>&1 ||
      { cat "$aside/$arch.log"; exit 1; }
  else
    t=${triple[$arch]}
    NNE_GLIBC_FLOOR=1 CC=$t-gcc CXX=$t-g++ LINK=$t-g++ AR=$t-ar PREBUILD_STRIP_BIN=$t-strip \
      npx --no-install prebuildify --napi --strip --tag-libc --arch "$arch" > "$aside/$arch.log" 2>&1 ||
      { cat "$aside/$arch.log"; exit 1; }
  fi
  ls -l "prebuilds/linux-$arch"
done
node scripts/check-prebuilds.js "${arches[@]/#/prebuilds/linux-}"
