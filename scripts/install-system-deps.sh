#!/usr/bin/env bash
# System packages the tests need, from Debian: chromium for the console's browser tests; Kamailio (with its
# Python 3 and TLS modules) for the SIP edge, sipp (sip-tester) and stunnel4 for its SIP tests; then the edge's
# own Python packages for Debian's /usr/bin/python3 (Kamailio's embedded interpreter), into sip-edge/.pydeps; and
# the edge's announcements, spoken by espeak-ng, into sip-edge/.announcements.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v sipp >/dev/null 2>&1 || missing+=(sip-tester)
command -v stunnel4 >/dev/null 2>&1 || missing+=(stunnel4)
command -v baresip >/dev/null 2>&1 || missing+=(baresip-core)
command -v npm >/dev/null 2>&1 || missing+=(npm)
while read -r pkg; do
  case "$pkg" in ''|'#'*) continue ;; esac
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
done < sip-edge/debian-packages.txt
sudo=""
[ "$(id -u)" = 0 ] || sudo=sudo
if [ ${#missing[@]} -gt 0 ]; then
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# Debian starts a kamailio service on install; the edge runs its own instances, never the system one.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet kamailio 2>/dev/null; then
  $sudo systemctl disable --now kamailio || true
fi
bash sip-edge/install-pydeps.sh
# axe-core for the console's accessibility tests, pinned by tests/console/axe/package-lock.json
[ -f tests/console/axe/node_modules/axe-core/axe.min.js ] || npm ci --prefix tests/console/axe --no-audit --no-fund --ignore-scripts
bash sip-edge/announcements/render.sh
