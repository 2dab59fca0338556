#!/usr/bin/env bash
# The main job, end to end, on this machine: start a private Sigstore (the
# sandbox), make signed SLSA provenance for two build outputs the way a GitHub
# Actions job would, verify it offline, and stop the sandbox.
set -euo pipefail
cd "$(dirname "$0")/.."

go build -o bin/hallmark ./cmd/hallmark
hm=bin/hallmark
work=$(mktemp -d)
trap '"$hm" sandbox down --dir "$work/sandbox" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

echo "== sandbox up"
"$hm" sandbox up --dir "$work/sandbox"

# A job of acme/app's release workflow, calling Hallmark's generic reusable
# workflow; its ID tokens come from the sandbox through the Actions protocol.
eval "$("$hm" sandbox env --dir "$work/sandbox" \
  --claim repository=acme/app \
  --claim ref=refs/tags/v1.0.0 \
  --claim job_workflow_ref=hallmark-dev/hallmark/.github/workflows/generic.yml@refs/tags/v1.0.0)"

echo "== build"
mkdir -p "$work/dist"
printf 'app for linux\n' >"$work/dist/app-linux-amd64"
printf 'app for darwin\n' >"$work/dist/app-darwin-arm64"

echo "== attest"
"$hm" attest --subject-path "$work/dist/app-*" --facts-from-token \
  --bundle-path "$work/dist/provenance.sigstore.json"

echo "== verify"
issuer=$(sed -n 's/.*"issuerURL": "\(.*\)".*/\1/p' "$work/sandbox/sandbox.json")
"$hm" verify-artifact "$work/dist/app-linux-amd64" "$work/dist/app-darwin-arm64" \
  --provenance-path "$work/dist/provenance.sigstore.json" \
  --source-uri github.com/acme/app --source-tag v1.0.0 \
  --cert-oidc-issuer "$issuer" --trusted-root "$HALLMARK_TRUSTED_ROOT" \
  --vsa-out "$work/dist/app.vsa.sigstore.json" --vsa-resource-uri pkg:generic/app@1.0.0

echo "== verify the verification summary"
"$hm" verify-vsa "$work/dist/app-linux-amd64" --vsa-path "$work/dist/app.vsa.sigstore.json" \
  --trusted-root "$HALLMARK_TRUSTED_ROOT" --verifier-issuer "$issuer" \
  --verifier-identity https://github.com/hallmark-dev/hallmark/.github/workflows/generic.yml@refs/tags/v1.0.0

echo "== a tampered artifact must fail"
printf 'tampered\n' >"$work/dist/app-linux-amd64"
if "$hm" verify-artifact "$work/dist/app-linux-amd64" \
  --provenance-path "$work/dist/provenance.sigstore.json" \
  --source-uri github.com/acme/app --source-tag v1.0.0 \
  --cert-oidc-issuer "$issuer" --trusted-root "$HALLMARK_TRUSTED_ROOT"; then
  echo "demo: a tampered artifact verified" >&2
  exit 1
fi

echo "== sandbox down"
"$hm" sandbox down --dir "$work/sandbox"
