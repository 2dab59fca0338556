#!/usr/bin/env bash
# Builds the factory controller's image with ko (no Docker daemon),
# reproducibly, pushes it to REGISTRY/hallmark-factory and pins its digest in
# kubernetes/base/kustomization.yaml, which kubectl apply -k then installs.
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
exec go run ./internal/factory/imagebuild --repository "$registry/hallmark-factory" "$@"
