#!/usr/bin/env bash
# Installs the hallmark binary for the Hallmark actions (action.yml,
# verifier/action.yml) and prints its path on stdout. With the argument
# hallmark-sbom it installs the SBOM generator instead, into the same folder
# (hallmark looks for it beside itself).
#
# The binary is the one the action's own ref pins: the release binary for the
# runner's OS and architecture when .github/hallmark-checksums.txt, as
# committed at that ref, lists one, checked against that checksum; otherwise a
# build from the source at that ref. Pinning the action by commit SHA thus
# pins the binary. A checksum mismatch is fatal: it never falls back.
#
# Environment: ACTION_ROOT (the action repository's folder at its ref),
# RUNNER_OS, RUNNER_ARCH, RUNNER_TEMP; HALLMARK_RELEASE_BASE_URL replaces
# https://github.com/hallmark-dev/hallmark/releases/download (a mirror, or a
# local server in tests; the checksum check applies the same).
set -euo pipefail

root=${ACTION_ROOT:?ACTION_ROOT is not set}
name=${1:-hallmark}
case "$name" in
  hallmark|hallmark-sbom) ;;
  *) echo "hallmark: install.sh installs hallmark or hallmark-sbom, not $name" >&2; exit 1 ;;
esac
base=${HALLMARK_RELEASE_BASE_URL:-https://github.com/hallmark-dev/hallmark/releases/download}
dest=${RUNNER_TEMP:-/tmp}/hallmark-action-bin
mkdir -p "$dest"

case "${RUNNER_OS:-Linux}" in
  Linux) os=linux ;;
  macOS) os=darwin ;;
  Windows) os=windows ;;
  *) echo "hallmark: unsupported runner OS ${RUNNER_OS}" >&2; exit 1 ;;
esac
case "${RUNNER_ARCH:-X64}" in
  X64) arch=amd64 ;;
  ARM64) arch=arm64 ;;
  *) echo "hallmark: unsupported runner architecture ${RUNNER_ARCH}" >&2; exit 1 ;;
esac
asset=${name}_${os}_${arch}
exe=""
[ "$os" = windows ] && exe=.exe

sha256() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1" | cut -d' ' -f1
  else shasum -a 256 "$1" | cut -d' ' -f1; fi
}

# A line "HEX  TAG/NAME_OS_ARCH" names the release binary of this ref.
want="" path=""
sums="$root/.github/hallmark-checksums.txt"
if [ -f "$sums" ]; then
  while read -r h p; do
    case "$h" in ''|'#'*) continue ;; esac
    if [ "${p##*/}" = "$asset" ]; then want=$h path=$p; fi
  done <"$sums"
fi

if [ -n "$want" ]; then
  if ! [[ "$want" =~ ^[0-9a-f]{64}$ && "$path" =~ ^v[0-9A-Za-z.+-]+/${name}_[a-z0-9]+_[a-z0-9]+$ ]]; then
    echo "hallmark: malformed line in .github/hallmark-checksums.txt for $asset" >&2
    exit 1
  fi
  bin=$dest/$name$exe
  echo "hallmark: downloading $base/$path" >&2
  if curl -fsSL --retry 3 -o "$bin.part" "$base/$path"; then
    got=$(sha256 "$bin.part")
    if [ "$got" != "$want" ]; then
      rm -f "$bin.part"
      echo "hallmark: $path has sha256 $got, but the action's ref pins $want: refusing to run it" >&2
      exit 1
    fi
    chmod +x "$bin.part"
    mv "$bin.part" "$bin"
    echo "hallmark: release binary $path, sha256 $got" >&2
    echo "$bin"
    exit 0
  fi
  rm -f "$bin.part"
  echo "hallmark: $path could not be downloaded; building from the action's source instead" >&2
else
  echo "hallmark: no release binary for $asset at this ref; building from the action's source" >&2
fi

if ! command -v go >/dev/null 2>&1; then
  echo "hallmark: building from source needs Go on the runner (add actions/setup-go before this action)" >&2
  exit 1
fi
bin=$dest/hallmark-src$exe
[ "$name" = hallmark-sbom ] && bin=$dest/hallmark-sbom$exe
(cd "$root" && CGO_ENABLED=0 GOFLAGS=-mod=readonly go build -trimpath -o "$bin" "./cmd/$name") >&2
echo "$bin"
