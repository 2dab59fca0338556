#!/usr/bin/env bash
# Every test, against the real servers. The servers and cosign are built once
# into the tool cache ($HOME/.cache/hallmark/tools); later runs reuse them.
set -euo pipefail
cd "$(dirname "$0")/.."

go run ./cmd/hallmark sandbox install fulcio rekor-tiles timestamp-authority cosign
go vet ./...
go test -count=1 -timeout 60m ./...
