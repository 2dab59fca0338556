#!/usr/bin/env bash
# Benchmark the verifier three ways, each against a reference timed in the
# same run, and print the ratios:
#  1. in-process verifications on one core with a warm trusted root (a real
#     slsa-github-generator bundle under the public-good trusted root, and a
#     sandbox Rekor v2 + TSA bundle), each against its crypto floor: the
#     ECDSA checks the bundle needs, timed alone. ROUNDS rounds alternate
#     the four benchmarks; the ratio printed is the median of the rounds'
#     ratios, by CPU time (steady on a shared machine) and by wall time;
#  2. process start: `hallmark version` against a Go hello world
#     (BenchmarkStart in cmd/hallmark), CPU time per process;
#  3. command-line time per bundle: hallmark verify-artifact against
#     cosign verify-blob-attestation --new-bundle-format --trusted-root on the
#     same N sandbox bundles, in ROUNDS alternating rounds.
# SKIP_CLI=1 skips the third (it starts a sandbox and needs cosign).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${BUNDLES:-20}
rounds=${ROUNDS:-5}

# median reads numbers, one a line, and prints their median.
median() { sort -g | awk '{v[NR] = $1} END {print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

echo "== in-process (one core), against the crypto floor of the same bundles, $rounds rounds"
work=$(mktemp -d)
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
go test -c -o "$work/verifier.test" ./verifier
for r in $(seq "$rounds"); do
  (cd verifier && "$work/verifier.test" -test.run '^$' -test.bench 'BenchmarkVerify$|BenchmarkVerifySandbox$|BenchmarkCryptoFloor' \
    -test.benchtime "${BENCHTIME:-1s}" -test.cpu 1 -test.benchmem) |
    awk -v r="$r" '/^Benchmark/ {print r, $1, $3, $5}'
done >"$work/inproc"
awk '{print "  round " $1 ": " $2 " " $3 " ns/op, " $4 " cpu-ns/op"}' "$work/inproc"
for kind in public-good sandbox; do
  verify=BenchmarkVerify floor=BenchmarkCryptoFloorPublicGood
  if [ "$kind" = sandbox ]; then verify=BenchmarkVerifySandbox floor=BenchmarkCryptoFloorSandbox; fi
  for col in 4 3; do
    awk -v v="$verify" -v f="$floor" -v c="$col" '$2 == v {a[$1] = $c} $2 == f {b[$1] = $c} END {for (r in a) print a[r] / b[r]}' "$work/inproc" | median >"$work/ratio-$kind-$col"
  done
  printf 'ratio to the crypto floor (%s): %.2f by CPU time, %.2f by wall time (median of %d rounds)\n' "$kind" \
    "$(cat "$work/ratio-$kind-4")" "$(cat "$work/ratio-$kind-3")" "$rounds"
done

echo "== process start: hallmark version against a Go hello world, $rounds rounds of 100"
go test -run '^$' -bench BenchmarkStart -benchtime 100x -count "$rounds" ./cmd/hallmark >"$work/start"
grep '^BenchmarkStart' "$work/start" | sed 's/^/  /'
for metric in cpu-ratio wall-ratio; do
  awk -v m="$metric" '/^BenchmarkStart/ {for (i = 3; i < NF; i++) if ($(i + 1) == m) print $i}' "$work/start" | median >"$work/$metric"
done
printf 'hallmark version / hello world: %.1fx by CPU time, %.1fx by wall time (median of %d rounds)\n' \
  "$(cat "$work/cpu-ratio")" "$(cat "$work/wall-ratio")" "$rounds"

if [ "${SKIP_CLI:-}" = 1 ]; then exit 0; fi
echo "== command line, $n bundles, $rounds rounds"
go build -o bin/hallmark ./cmd/hallmark
hm=$PWD/bin/hallmark
cosign=$(go run ./cmd/hallmark sandbox install cosign | awk '{print $3}')
cleanup() { "$hm" sandbox down --dir "$work/sb" >/dev/null 2>&1 || true; rm -rf "$work"; }
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
cat >"$work/hallmark.sh" <<EOF
for i in \$(seq $n); do
  "$hm" verify-artifact "$work/a\$i" --provenance-path "$work/a\$i.sigstore.json" --trusted-root "$tr" \
    --cert-oidc-issuer "$issuer" --source-uri github.com/acme/app >/dev/null
done
EOF
cat >"$work/cosign.sh" <<EOF
for i in \$(seq $n); do
  "$cosign" verify-blob-attestation --new-bundle-format --bundle "$work/a\$i.sigstore.json" --trusted-root "$tr" \
    --certificate-identity "https://github.com/$job" --certificate-oidc-issuer "$issuer" \
    --type slsaprovenance1 --use-signed-timestamps --insecure-ignore-sct "$work/a\$i" >/dev/null 2>&1
done
EOF
# timed prints the wall and CPU seconds (user + system, the script's
# children included) bash takes to run a script.
timed() {
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -f '%e %U %S' bash "$1" 2>&1 >/dev/null | tail -1 | awk '{print $1, $2 + $3}'
  else
    local t0 t1
    t0=$(date +%s.%N)
    bash "$1"
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a, 0}'
  fi
}
for r in $(seq "$rounds"); do
  read -r hw hc < <(timed "$work/hallmark.sh")
  read -r cw cc < <(timed "$work/cosign.sh")
  awk -v hw="$hw" -v hc="$hc" -v cw="$cw" -v cc="$cc" -v n="$n" -v r="$r" 'BEGIN {
    printf "  round %d: hallmark %.1f ms wall, %.1f ms CPU; cosign %.1f ms wall, %.1f ms CPU per bundle\n", r, hw / n * 1000, hc / n * 1000, cw / n * 1000, cc / n * 1000
    if (cc > 0) printf "%f %f\n", hw / cw, hc / cc > "/dev/stderr"; else printf "%f 0\n", hw / cw > "/dev/stderr" }' 2>>"$work/cli"
done
printf 'ratio hallmark/cosign per bundle: %.2f by wall time, %.2f by CPU time (median of %d rounds)\n' \
  "$(awk '{print $1}' "$work/cli" | median)" "$(awk '{print $2}' "$work/cli" | median)" "$rounds"
