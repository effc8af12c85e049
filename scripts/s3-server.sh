#!/usr/bin/env bash
# A real S3-compatible server on 127.0.0.1 for tests and benchmarks:
# versitygw (posix backend) built from the Go module proxy into .tools/.
#
#   scripts/s3-server.sh install   build versitygw once (later builds are cached)
#   scripts/s3-server.sh start     start it, empty, and wait until it answers (if it
#                                  is already running, leave it as it is)
#   scripts/s3-server.sh stop      stop it
#   scripts/s3-server.sh env       print the environment for the SDK and GDAL
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=v1.8.0
TOOLS=$PWD/.tools
BIN=$TOOLS/bin/versitygw
STATE=${QUICKLOOK_S3_STATE:-$TOOLS/s3}
PORT=${QUICKLOOK_S3_PORT:-9766}
ACCESS=quicklook-test
SECRET=quicklook-test-secret

install() {
	if [ ! -x "$BIN" ]; then
		echo "s3-server: building versitygw $VERSION into $TOOLS/bin" >&2
		GOBIN=$TOOLS/bin go install "github.com/versity/versitygw/cmd/versitygw@$VERSION"
	fi
}

answers() { curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$PORT/" ; }

start() {
	install
	if [ -f "$STATE/pid" ] && kill -0 "$(cat "$STATE/pid")" 2>/dev/null && answers; then
		return 0
	fi
	# Scratch storage for tests and benchmarks: what a previous run left
	# (gigabytes after a benchmark) goes.
	rm -rf "$STATE/data" "$STATE/meta"
	mkdir -p "$STATE/data" "$STATE/meta"
	ROOT_ACCESS_KEY=$ACCESS ROOT_SECRET_KEY=$SECRET nohup "$BIN" --port "127.0.0.1:$PORT" \
		posix --sidecar "$STATE/meta" "$STATE/data" >"$STATE/log" 2>&1 &
	echo $! >"$STATE/pid"
	for _ in $(seq 1 100); do
		sleep 0.1
		# Ours must be alive: something else answering on the port is not our server.
		kill -0 "$(cat "$STATE/pid")" 2>/dev/null || break
		answers && return 0
	done
	echo "s3-server: versitygw did not start on 127.0.0.1:$PORT (set QUICKLOOK_S3_PORT to use another port); its log:" >&2
	cat "$STATE/log" >&2
	exit 1
}

stop() {
	if [ -f "$STATE/pid" ]; then
		kill "$(cat "$STATE/pid")" 2>/dev/null || true
		rm -f "$STATE/pid"
	fi
}

env() {
	cat <<EOT
export AWS_ACCESS_KEY_ID=$ACCESS
export AWS_SECRET_ACCESS_KEY=$SECRET
export AWS_REGION=us-east-1
export AWS_ENDPOINT_URL_S3=http://127.0.0.1:$PORT
export AWS_EC2_METADATA_DISABLED=true
export AWS_S3_ENDPOINT=127.0.0.1:$PORT
export AWS_HTTPS=NO
export AWS_VIRTUAL_HOSTING=FALSE
EOT
}

case "${1:-}" in
install) install ;;
start) start ;;
stop) stop ;;
env) env ;;
*) echo "usage: $0 install|start|stop|env" >&2; exit 2 ;;
esac
