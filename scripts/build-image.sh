#!/usr/bin/env bash
# Builds the controllers' images with ko (no Docker daemon), reproducibly:
# the factory's, pushed to REGISTRY/hallmark-factory and pinned in
# kubernetes/base/kustomization.yaml, and the admission controller's, pushed
# to REGISTRY/hallmark-admission and pinned in
# kubernetes/admission/kustomization.yaml, which kubectl apply -k then
# installs.
#
#   scripts/build-image.sh REGISTRY [--platform linux/amd64,linux/arm64] [--insecure]
#
# ko is built into the tool cache on first use. Credentials for REGISTRY come
# from ~/.docker/config.json (docker login, crane auth login, ...).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 1 ] || [[ "$1" == -* ]]; then
  echo "usage: scripts/build-image.sh REGISTRY [--platform OS/ARCH,...] [--insecure]" >&2
  exit 2
fi
registry=${1%/}
shift
for component in factory admission; do
  go run ./internal/factory/imagebuild --component "$component" --repository "$registry/hallmark-$component" "$@"
done
