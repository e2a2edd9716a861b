#!/usr/bin/env bash
# Ensures the Debian packages Tripline builds against are installed.
# Quiet when everything is present; installs what is missing when it can
# (as root, or through passwordless sudo); otherwise says what to run and fails.
set -euo pipefail

required=(libcurl4-openssl-dev zlib1g-dev libsqlite3-dev libssl-dev)

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "tripline: dpkg-query not found (not Debian/Ubuntu); make sure curl, zlib, sqlite3 and openssl development files are installed" >&2
    exit 0
fi

installed() {
    local status
    status=$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)
    [[ "$status" == "install ok installed" ]]
}

missing=()
for pkg in "${required[@]}"; do
    installed "$pkg" || missing+=("$pkg")
done
# python3 is only needed by the benchmark generator; install it only if absent.
if ! command -v python3 >/dev/null 2>&1 && ! installed python3; then
    missing+=(python3)
fi

if [[ ${#missing[@]} -eq 0 ]]; then
    exit 0
fi

if [[ $(id -u) -eq 0 ]]; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo -n apt-get update
    sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
else
    echo "tripline: missing system packages: ${missing[*]} — run: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi
