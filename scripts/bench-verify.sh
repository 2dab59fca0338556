#!/usr/bin/env bash
# Benchmark the verifier two ways, in one run:
#  1. in-process verifications per second on one core with a warm trusted
#     root (a real slsa-github-generator bundle under the public-good trusted
#     root, and a sandbox Rekor v2 + TSA bundle), each against its crypto
#     floor: the ECDSA checks the bundle needs, timed alone;
#  2. command-line time per bundle: hallmark verify-artifact against
#     cosign verify-blob-attestation --new-bundle-format --trusted-root on the
#     same N sandbox bundles, printed as a ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${BUNDLES:-20}

echo "== in-process (one core), against the crypto floor of the same bundles in the same run"
go test -run '^$' -bench 'BenchmarkVerify|BenchmarkCryptoFloor' -benchtime 3s -cpu 1 ./verifier |
  awk '/^Benchmark/ {print; ns[$1] = $3}
    END {
      printf "verifications/s on one core: %.0f (public-good bundle), %.0f (sandbox bundle)\n", 1e9 / ns["BenchmarkVerify"], 1e9 / ns["BenchmarkVerifySandbox"]
      printf "ratio to the crypto floor: %.2f (public-good), %.2f (sandbox Rekor v2 + TSA)\n", ns["BenchmarkVerify"] / ns["BenchmarkCryptoFloorPublicGood"], ns["BenchmarkVerifySandbox"] / ns["BenchmarkCryptoFloorSandbox"]
    }'

echo "== command line, $n bundles"
go build -o bin/hallmark ./cmd/hallmark
hm=$PWD/bin/hallmark
cosign=$(go run ./cmd/hallmark sandbox install cosign | awk '{print $3}')
work=$(mktemp -d)
trap '"$hm" sandbox down --dir "$work/sb" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
"$hm" sandbox up --dir "$work/sb" >/dev/null 2>&1
issuer=$(sed -n 's/.*"issuerURL": "\(.*\)".*/\1/p' "$work/sb/sandbox.json")
job=hallmark-dev/hallmark/.github/workflows/generic.yml@refs/tags/v1.0.0
for i in $(seq "$n"); do
  printf 'artifact %d\n' "$i" >"$work/a$i"
  SIGSTORE_ID_TOKEN=$("$hm" sandbox token --dir "$work/sb" --claim repository=acme/app --claim job_workflow_ref=$job) \
    "$hm" attest --subject-path "$work/a$i" --facts-from-token --bundle-path "$work/a$i.sigstore.json" \
    --signing-config "$work/sb/signing_config.json" --trusted-root "$work/sb/trusted_root.json" >/dev/null
done
tr=$work/sb/trusted_root.json
t0=$(date +%s.%N)
for i in $(seq "$n"); do
  "$hm" verify-artifact "$work/a$i" --provenance-path "$work/a$i.sigstore.json" --trusted-root "$tr" \
    --cert-oidc-issuer "$issuer" --source-uri github.com/acme/app >/dev/null
done
t1=$(date +%s.%N)
for i in $(seq "$n"); do
  "$cosign" verify-blob-attestation --new-bundle-format --bundle "$work/a$i.sigstore.json" --trusted-root "$tr" \
    --certificate-identity "https://github.com/$job" --certificate-oidc-issuer "$issuer" \
    --type slsaprovenance1 --use-signed-timestamps --insecure-ignore-sct "$work/a$i" >/dev/null 2>&1
done
t2=$(date +%s.%N)
awk -v a="$t0" -v b="$t1" -v c="$t2" -v n="$n" 'BEGIN {
  h = (b - a) / n * 1000; k = (c - b) / n * 1000
  printf "hallmark verify-artifact: %.1f ms per bundle\ncosign verify-blob-attestation: %.1f ms per bundle\nratio hallmark/cosign: %.2f\n", h, k, h / k }'
