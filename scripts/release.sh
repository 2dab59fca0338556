#!/usr/bin/env bash
# Builds hallmark's release binaries and writes, or checks, the checksums
# the actions pin them by (.github/hallmark-checksums.txt).
#
#   scripts/release.sh TAG            build into dist/TAG/ and rewrite the
#                                     checksums file: commit it, then tag
#                                     that commit TAG
#   scripts/release.sh --check TAG    build into dist/TAG/ and fail unless
#                                     the binaries are exactly the ones the
#                                     committed checksums file lists (the
#                                     release workflow runs this before it
#                                     publishes anything) and every pin in
#                                     the docs and examples names TAG
#   scripts/release.sh --pin TAG      only rewrite the pins: every
#                                     hallmark-dev/hallmark[/PATH]@vX.Y.Z in
#                                     the docs, examples and workflow
#                                     comments names TAG (TAG runs this too)
#
# The builds are reproducible: CGO_ENABLED=0, -trimpath, no VCS stamp, no
# build ID, the version set from TAG. Only the Go version changes the bytes,
# so the file records it and --check refuses another one.
#
# Environment: PLATFORMS (default "linux/amd64 linux/arm64 darwin/amd64
# darwin/arm64 windows/amd64"); BINARIES (default "hallmark hallmark-sbom":
# the SBOM generator the actions install beside hallmark for sbom: true).
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { echo "usage: scripts/release.sh [--check|--pin] TAG   (TAG like v1.2.3)" >&2; exit 2; }
check=false pinonly=false
case "${1:-}" in
  --check) check=true; shift ;;
  --pin) pinonly=true; shift ;;
  -h|--help) sed -n '2,24s/^# \{0,1\}//p' "$0"; exit 0 ;;
esac
[ $# -eq 1 ] || usage
tag=$1
if ! [[ "$tag" =~ ^v[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?$ ]]; then
  echo "release: $tag is not a version tag: want vMAJOR.MINOR.PATCH, as install.sh expects" >&2
  exit 2
fi

# The files that tell callers which Hallmark to use. The reusable workflows
# themselves name no tag: they run the action of their own commit.
pinned_files() {
  ls README.md reusable-workflows/README.md reusable-workflows/examples/*.yml \
    reusable-workflows/testdata/callers/*.yml .github/workflows/*.yml 2>/dev/null
}
pin_re='(hallmark-dev/hallmark(/[A-Za-z0-9_./-]*)?@)v[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?'
if $pinonly; then
  for f in $(pinned_files); do
    tmp=$(mktemp "$f.XXXXXX")
    sed -E "s#$pin_re#\1$tag#g" "$f" >"$tmp"
    chmod --reference="$f" "$tmp"
    mv "$tmp" "$f"
  done
  echo "release: every pin in the docs and examples names $tag" >&2
  exit 0
fi
if $check; then
  stale=$(grep -EHno "$pin_re" $(pinned_files) | grep -v "@$tag\$" || true)
  if [ -n "$stale" ]; then
    echo "release: pins that do not name $tag (run scripts/release.sh --pin $tag and commit):" >&2
    echo "$stale" >&2
    exit 1
  fi
fi
platforms=${PLATFORMS:-linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64}
binaries=${BINARIES:-hallmark hallmark-sbom}
for b in $binaries; do
  case "$b" in hallmark|hallmark-sbom) ;; *) echo "release: BINARIES names $b: want hallmark and/or hallmark-sbom" >&2; exit 2 ;; esac
done
sums=.github/hallmark-checksums.txt
gover=$(go env GOVERSION)

if $check; then
  recorded=$(sed -n 's/^# built with \(go[0-9.]*\)$/\1/p' "$sums")
  if [ -z "$recorded" ]; then
    echo "release: $sums does not say which Go built the binaries: run scripts/release.sh $tag and commit it" >&2
    exit 1
  fi
  if [ "$recorded" != "$gover" ]; then
    echo "release: $sums was made with $recorded, this is $gover: build with $recorded (GOTOOLCHAIN=$recorded)" >&2
    exit 1
  fi
fi

out=dist/$tag
rm -rf "$out"
mkdir -p "$out"
lines=""
for b in $binaries; do
for p in $platforms; do
  os=${p%/*} arch=${p#*/}
  asset=${b}_${os}_${arch}
  echo "release: building $asset ($gover)" >&2
  CGO_ENABLED=0 GOOS=$os GOARCH=$arch GOFLAGS= go build -trimpath -buildvcs=false \
    -ldflags "-s -w -buildid= -X github.com/hallmark-dev/hallmark/internal/cli.Version=$tag" \
    -o "$out/$asset" "./cmd/$b"
  sum=$(sha256sum "$out/$asset" | cut -d' ' -f1)
  lines+="$sum  $tag/$asset"$'\n'
done
done

if $check; then
  want=$(grep -v '^#' "$sums" | grep -v '^$' | sort || true)
  got=$(printf '%s' "$lines" | sort)
  if [ "$want" != "$got" ]; then
    echo "release: the binaries built from this commit are not the ones $sums lists:" >&2
    diff <(echo "$want") <(echo "$got") | sed 's/^</  listed:/; s/^>/  built: /' | grep -v -e '^[0-9]' -e '^---$' >&2 || true
    exit 1
  fi
  echo "release: the binaries in $out are exactly the ones $sums lists" >&2
  exit 0
fi

# Keep the file's explanation, replace the Go version and the lines, and
# never leave a half-written file.
tmp=$(mktemp "$sums.XXXXXX")
trap 'rm -f "$tmp"' EXIT
{ grep '^#' "$sums" | grep -v '^# built with '; echo "# built with $gover"; printf '%s' "$lines"; } >"$tmp"
chmod 0644 "$tmp"
mv "$tmp" "$sums"
trap - EXIT
"$0" --pin "$tag"
echo "release: wrote $sums for $tag and pinned the docs to it; commit them, tag that commit $tag, and push the tag" >&2
