#!/usr/bin/env bash
# Regenerates testdata/chains/inputs and expected with Tekton Chains' own
# slsa/v2alpha4 formatter, built in a throwaway module (Chains needs other
# versions of Tekton and Sigstore than Hallmark's module pins). The first
# run downloads and builds Chains' dependencies (a few minutes).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
chains_version=v0.26.3
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cat > "$work/go.mod" <<MOD
module hallmark.local/chains-oracle

go 1.26

require github.com/tektoncd/chains $chains_version
MOD
cp "$here/main.go" "$work/main.go"
cd "$work"
export GOFLAGS=-mod=mod GOTOOLCHAIN=local GOSUMDB=off
go mod tidy -e >/dev/null 2>&1 || go mod tidy -e
chains_dir="$(go list -m -f '{{.Dir}}' github.com/tektoncd/chains)"
go run . "$chains_dir" "$here/.."
echo "regenerated $(cd "$here/.." && pwd)/{inputs,expected} with tektoncd/chains $chains_version"
