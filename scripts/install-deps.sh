#!/usr/bin/env bash
# Installs what the tests need beyond Go modules: Debian packages (when
# missing, and only as root) and tools built through the Go module proxy into
# the tool cache. Safe to run again: installed things are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests use, one per line: "package:command-it-provides".
apt_packages=(
  "docker-registry:docker-registry"
  "etcd-server:etcd"
  "mariadb-server:mariadb-install-db"
)

missing=()
for entry in "${apt_packages[@]}"; do
  pkg=${entry%%:*} cmd=${entry#*:}
  command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing Debian packages (run as root, or install them): ${missing[*]}" >&2
    exit 1
  fi
  echo "install-deps: apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Tools built once into the tool cache, by four installers run side by side:
# a cold machine spends most of this downloading modules and linking, which
# overlap; each tool is built under its own lock, so installers that share
# one (cosign) build it once. Each installer's output is shown when it ends.
installers=(
  # The sandbox's servers and cosign.
  "sandbox:go run ./cmd/hallmark sandbox install fulcio rekor-tiles timestamp-authority cosign act actionlint"
  # Factory mode's SPIRE server and agent, kube-apiserver, Tekton Chains'
  # controller (to run beside the factory) and ko (the controller's image).
  "factory:go run ./internal/factory/testtools"
  # A Rekor v1 log (rekor-server on Trillian; MariaDB above) for
  # verify-artifact --rekor-url.
  "rekorv1:go run ./internal/rekorv1/testtools"
  # The Sigstore clients the interop suite runs: cosign, gh, oras,
  # sigstore-go's verifier, sigstore-js (npm).
  "interop:go run ./internal/interop/testtools"
)
echo "install-deps: tools into the tool cache (first run on a machine: many minutes; then seconds)"
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
pids=()
for entry in "${installers[@]}"; do
  name=${entry%%:*} cmd=${entry#*:}
  (
    start=$SECONDS
    if $cmd >"$logs/$name" 2>&1; then
      echo "install-deps: $name tools ready in $((SECONDS - start)) s"
    else
      echo "install-deps: $name tools FAILED after $((SECONDS - start)) s:" >&2
      cat "$logs/$name" >&2
      exit 1
    fi
  ) &
  pids+=($!)
done
failed=0
for pid in "${pids[@]}"; do
  wait "$pid" || failed=1
done
exit $failed
