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
# The packages that share state between goroutines, again under the race
# detector (about 40 s): the executor's progress, the bounded loops, the
# read cache, storage's counters, the planner and the engine.
go test -race -count=1 ./internal/localexec ./internal/parallel ./internal/progress ./internal/runreport \
	./internal/storage ./internal/planner ./internal/engine
go test -race -count=1 -run 'Cache|ReadPlan|Prefetch' ./internal/render

# Short fuzz runs (every seed corpus ran above as ordinary tests): key
# mapping, manifest parsing, and rendering as the job renders (in render
# processes: a thumbnail or a data error for every mutated image, the run
# going on). FuzzRender, GDAL in the fuzz worker's own process, is in `make fuzz`.
# Budgets are counts of inputs, about 10 s each here: a duration budget
# races Go's fuzz coordinator at its deadline (go.dev/issue/75804, fixed in
# Go 1.27) and fails with "context deadline exceeded" and no input.
go test -run '^$' -fuzz '^FuzzOutputKeyAndURL$' -fuzztime "${QUICKLOOK_FUZZTIME:-300000x}" ./internal/naming
go test -run '^$' -fuzz '^FuzzParse$' -fuzztime "${QUICKLOOK_FUZZTIME:-100000x}" ./internal/manifest
# The child processes carry no coverage, so a new input is minimised briefly.
go test -run '^$' -fuzz '^FuzzRenderIsolated$' -fuzztime "${QUICKLOOK_FUZZTIME:-15000x}" -fuzzminimizetime 2s ./internal/renderproc
