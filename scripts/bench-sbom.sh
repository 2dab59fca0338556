#!/usr/bin/env bash
# Times SBOM generation of one image in a local registry (a Debian base
# image's files from this machine, with a Go binary and an npm lock file;
# see benchImage in internal/sbom/scanner/bench_test.go): hallmark-sbom
# against the syft CLI of the same version (built once into the tool cache),
# on the same input, interleaved, and prints the ratio (below 1: faster).
#
#   scripts/bench-sbom.sh [ROUNDS]   (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
out=$(go test ./internal/sbom/scanner -run '^$' -bench BenchmarkImageSBOM -benchtime "${rounds}x" -count 1)
echo "$out" | grep -E '^(goos|goarch|cpu|Benchmark)' || { echo "$out"; exit 1; }
echo "$out" | awk '/^BenchmarkImageSBOM/ {
  for (i = 3; i < NF; i += 2) m[$(i+1)] = $i
  printf "image of %d files, %.1f MB: hallmark-sbom %.0f ms, syft CLI %.0f ms, in-process %.0f ms per image; ratio hallmark-sbom/syft %.2f; packages %d vs %d\n",
    m["image-files"], m["image-MB"], m["hallmark-sbom-ms/op"], m["syft-ms/op"], m["in-process-ms/op"], m["ratio"], m["hallmark-sbom-packages"], m["syft-packages"]
}'
