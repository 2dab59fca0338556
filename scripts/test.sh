#!/usr/bin/env bash
# Every test, against the real servers. What the tests need is installed
# first by install-deps.sh (Debian packages, and tools built once into the
# tool cache, $HOME/.cache/hallmark/tools); later runs reuse them.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
go vet ./...
go test -count=1 -timeout 60m $(go list ./... | grep -v '/internal/interop$')
# The interop matrix, verbose so the log shows every cell (client × case →
# works / fails + the client's error).
go test -count=1 -timeout 20m -v ./internal/interop
