#!/usr/bin/env bash
# The README's first command: make a NAIP-like sample collection, then run
# the real pipeline over all of it on this machine (the local executor: one
# bin/job per state/year prefix, with the Batch retry policy), and say where
# the results are.
set -euo pipefail
cd "$(dirname "$0")/.."

data=${DEMO_DATA:-demo/data}
thumbs=${DEMO_THUMBS:-demo/thumbs}

echo "== sample collection in $data"
go run ./scripts/samples -out "$data"

echo
echo "== bin/submit plan --source $data --depth 2 --count"
bin/submit plan --source "$data" --depth 2 --count

echo
echo "== bin/submit run --executor local --source $data --dest $thumbs --depth 2"
set +e
bin/submit run --executor local --source "$data" --dest "$thumbs" --depth 2 --log-dir demo/logs
code=$?
set -e
echo
echo "Thumbnails: $thumbs/<state>/<year>/... (one .thumb.jpg beside each source key)"
echo "Manifests:  $thumbs/_quicklook/manifests/"
echo "Job logs:   demo/logs/"
echo "Contact sheet (open it in a browser): file://$(cd "$thumbs" && pwd)/_quicklook/index.html"
echo "Run it again: every job finds its thumbnails up to date."
exit $code
