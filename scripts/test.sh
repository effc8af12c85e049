#!/usr/bin/env bash
# The README's second command: format and vet checks, then every test, with
# the local S3 server running (stopped again however the tests end).
set -euo pipefail
cd "$(dirname "$0")/.."

unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.tools/*'))
if [ -n "$unformatted" ]; then
	echo "gofmt needed on:" $unformatted >&2
	exit 1
fi
go vet ./...

scripts/s3-server.sh start
trap 'scripts/s3-server.sh stop' EXIT
eval "$(scripts/s3-server.sh env)"

go test -count=1 -timeout 15m ./...

# Short fuzz runs of the pure-Go targets (every seed corpus, FuzzRender's
# included, ran above as ordinary tests). Fuzzing the renderer drives GDAL's
# C decoders with random bytes, so it is not a pass/fail gate here: `make fuzz`.
FUZZTIME=${QUICKLOOK_FUZZTIME:-10s}
go test -run '^$' -fuzz '^FuzzOutputKeyAndURL$' -fuzztime "$FUZZTIME" ./internal/naming
go test -run '^$' -fuzz '^FuzzParse$' -fuzztime "$FUZZTIME" ./internal/manifest
