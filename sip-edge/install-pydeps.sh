#!/usr/bin/env bash
# Installs sip-edge/requirements.txt for Kamailio's embedded interpreter (/usr/bin/python3) into a directory
# that start.sh puts on PYTHONPATH. Usage: install-pydeps.sh [target-dir] (default: sip-edge/.pydeps).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
target="${1:-$here/.pydeps}"
stamp="$target/.requirements.txt"
wanted="$(cat "$here/requirements.txt" "$here/constraints.txt")"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
  exit 0
fi
rm -rf "$target"
/usr/bin/python3 -m pip install --quiet --disable-pip-version-check --no-compile --target "$target" \
  -r "$here/requirements.txt" -c "$here/constraints.txt"
printf '%s\n' "$wanted" >"$stamp"
