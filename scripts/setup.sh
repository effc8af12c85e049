#!/usr/bin/env bash
# Installs what quicklook needs on Debian (idempotent): GDAL's library and
# tools, pkg-config for cgo, and checks Go. Run as root, or with sudo.
set -euo pipefail

packages=(libgdal-dev gdal-bin pkg-config ca-certificates "$@")

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
	echo "setup: installing ${missing[*]}"
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v go >/dev/null 2>&1 && [ ! -x /usr/local/go/bin/go ]; then
	echo "setup: Go is not installed (expected at /usr/local/go or on PATH); see https://go.dev/doc/install" >&2
	exit 1
fi
