#!/usr/bin/env bash
# The README's first command: make a NAIP-like sample collection, render one
# prefix with the real job, and say where the results are.
set -euo pipefail
cd "$(dirname "$0")/.."

data=${DEMO_DATA:-demo/data}
thumbs=${DEMO_THUMBS:-demo/thumbs}
prefix=${DEMO_PREFIX:-al/2013/}

echo "== sample collection in $data"
go run ./scripts/samples -out "$data"

echo "== bin/job run --source $data --prefix $prefix --dest $thumbs"
set +e
bin/job run --source "$data" --prefix "$prefix" --dest "$thumbs" --log-format text
code=$?
set -e
echo
echo "Thumbnails are in $thumbs/$prefix (one .thumb.jpg beside each source key)."
echo "Run the same command again: nothing is re-rendered."
exit $code
