#!/usr/bin/env bash
# The one way to start the SIP edge, used by the container (Dockerfile CMD) and the local stack
# (devstack/sip_edge.py): reads the environment, generates a self-signed TLS pair if none is given, and
# runs Kamailio in the foreground with kamailio.cfg and the KEMI routing script. See README.md for the variables.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

run_dir="${SIP_RUN_DIR:-${TMPDIR:-/tmp}/sip-edge-$(id -u)}"
mkdir -p "$run_dir"
run_dir="$(cd "$run_dir" && pwd)"

# On ECS each task names itself by its task id (from the task metadata endpoint) unless SIP_EDGE_ID is given
if [ -z "${SIP_EDGE_ID:-}" ] && [ -n "${ECS_CONTAINER_METADATA_URI_V4:-}" ]; then
  SIP_EDGE_ID="$(/usr/bin/python3 -c 'import json, os, urllib.request
task = json.load(urllib.request.urlopen(os.environ["ECS_CONTAINER_METADATA_URI_V4"] + "/task", timeout=5))
print("edge-" + task["TaskARN"].rsplit("/", 1)[-1])')" || { echo "sip-edge: no task id from $ECS_CONTAINER_METADATA_URI_V4" >&2; exit 1; }
  export SIP_EDGE_ID
fi

listen="${SIP_LISTEN_ADDRESS:-0.0.0.0}"
udp_port="${SIP_UDP_PORT:-5060}"
tcp_port="${SIP_TCP_PORT:-5060}"
tls_port="${SIP_TLS_PORT:-5061}"

# the disabled account's announcements, rendered by announcements/render.sh (the image renders them at build time)
export SIP_ANNOUNCEMENTS_DIR="${SIP_ANNOUNCEMENTS_DIR:-$here/.announcements}"

# Kamailio's embedded interpreter is Debian's /usr/bin/python3: the edge's package and its own dependencies
export PYTHONPATH="$here:${SIP_PYDEPS:-$here/.pydeps}${PYTHONPATH:+:$PYTHONPATH}"

# TLS: the pair in the secret SIP_TLS_CERTIFICATE_SECRET_ARN (kept current by sipedge.tls_certificate watch,
# below), or the files SIP_TLS_CERT/SIP_TLS_KEY, or a self-signed pair for SIP_TLS_NAME made once per run dir
cert="${SIP_TLS_CERT:-}"
key="${SIP_TLS_KEY:-}"
if [ -n "${SIP_TLS_CERTIFICATE_SECRET_ARN:-}" ]; then
  cert="$run_dir/tls-cert.pem"
  key="$run_dir/tls-key.pem"
  SIP_TLS_CERTIFICATE_VERSION="$(/usr/bin/python3 -m sipedge.tls_certificate fetch --cert "$cert" --key "$key")" \
    || { echo "sip-edge: no usable TLS certificate in $SIP_TLS_CERTIFICATE_SECRET_ARN" >&2; exit 1; }
  export SIP_TLS_CERTIFICATE_VERSION
elif [ -z "$cert" ] || [ -z "$key" ]; then
  cert="$run_dir/tls-cert.pem"
  key="$run_dir/tls-key.pem"
  if [ ! -s "$cert" ] || [ ! -s "$key" ]; then
    tls_name="${SIP_TLS_NAME:-sip-edge.local}"
    (umask 077 && openssl req -x509 -newkey rsa:2048 -nodes -days 825 -subj "/CN=$tls_name" \
      -addext "subjectAltName=DNS:$tls_name" -keyout "$key" -out "$cert" >/dev/null 2>&1)
  fi
fi
cert="$(realpath "$cert")"
key="$(realpath "$key")"
tls_config="$run_dir/tls.cfg"
sed -e "s|@CERTIFICATE@|$cert|" -e "s|@PRIVATE_KEY@|$key|" "$here/tls.cfg" >"$tls_config"

auth_secret="${SIP_AUTH_SECRET:-}"
if [ -z "$auth_secret" ]; then
  auth_secret="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
fi

keepalive_timeout="${SIP_KEEPALIVE_TIMEOUT_SECONDS:-10}"
# limits (README, "Limits"): per-account lockout and per-source cost, kept in Kamailio's htables
lockout_window="${SIP_LOCKOUT_WINDOW_SECONDS:-600}"
lockout_seconds="${SIP_LOCKOUT_SECONDS:-900}"
flood_window="${SIP_FLOOD_WINDOW_SECONDS:-10}"
flood_ban="${SIP_FLOOD_BAN_SECONDS:-60}"
export SIP_LOCKOUT_WINDOW_SECONDS="$lockout_window" SIP_LOCKOUT_SECONDS="$lockout_seconds"
export SIP_FLOOD_WINDOW_SECONDS="$flood_window" SIP_FLOOD_BAN_SECONDS="$flood_ban"
# the fleet's DMQ bus (README, "Fleet"): this task's internal address, and any other task (SIP_DMQ_PEERS: a
# sip: URI; with SIP_DMQ_MULTI_NOTIFY=1 a DNS name that resolves to every task); alone (no peer, or the peer named
# is this task's own bus), the edge has no notification peer: Kamailio 5.6 would list its own address a second time,
# as a remote node, and send every replicated contact and lockout to itself
dmq_port="${SIP_DMQ_PORT:-5090}"
dmq_ip="${SIP_DMQ_ADDRESS:-}"
if [ -z "$dmq_ip" ]; then
  dmq_ip="$listen"
  [ "$dmq_ip" = "0.0.0.0" ] && dmq_ip="$(hostname -i 2>/dev/null | awk '{print $1}')"
  dmq_ip="${dmq_ip:-127.0.0.1}"
fi
dmq_server="sip:$dmq_ip:$dmq_port"
export SIP_DMQ_PORT="$dmq_port" SIP_DMQ_ADDRESS="$dmq_ip"
dmq_notify=()
if [ -n "${SIP_DMQ_PEERS:-}" ] && [ "$SIP_DMQ_PEERS" != "$dmq_server" ]; then
  dmq_notify=(-A "DMQ_NOTIFY=\"$SIP_DMQ_PEERS\"")
fi
fr_timer_ms="$(awk -v t="$keepalive_timeout" 'BEGIN { t = (t > 30 ? 30 : t); printf "%d", (t < 1 ? 1 : t) * 1000 }')"

export SIP_MIN_EXPIRES="${SIP_MIN_EXPIRES:-60}" SIP_MAX_EXPIRES="${SIP_MAX_EXPIRES:-3600}"
export SIP_DEFAULT_EXPIRES="${SIP_DEFAULT_EXPIRES:-3600}" SIP_KEEPALIVE_TIMEOUT_SECONDS="$keepalive_timeout"

ulimit -n "${SIP_MAX_OPEN_FILES:-65536}" 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# the sidecar: DynamoDB reads and SQS sends for the Kamailio processes (see sipedge/sidecar.py for why)
export SIP_SIDECAR_SOCKET="$run_dir/sidecar.sock"
rm -f "$SIP_SIDECAR_SOCKET"
cd "$here"
/usr/bin/python3 -m sipedge.sidecar "$SIP_SIDECAR_SOCKET" &
sidecar=$!
for _ in $(seq 1 100); do
  [ -S "$SIP_SIDECAR_SOCKET" ] && break
  kill -0 "$sidecar" 2>/dev/null || { echo "sip-edge: the sidecar did not start" >&2; exit 1; }
  sleep 0.1
done

# rtpengine: the media relay (userspace, no kernel module), controlled by Kamailio's rtpengine module over the ng
# protocol on a loopback UDP port; SIP_MEDIA_RELAY=none runs the edge without it (the benchmark's baseline)
# (--config-file=none: Debian's /etc/rtpengine/rtpengine.conf, with its fixed ports, is not read)
media_relay="${SIP_MEDIA_RELAY:-rtpengine}"
ng_port="${SIP_RTPENGINE_NG_PORT:-2223}"
rtp_interface="${SIP_RTP_INTERFACE:-}"
if [ -z "$rtp_interface" ]; then
  rtp_interface="$listen"
  [ "$rtp_interface" = "0.0.0.0" ] && rtp_interface="$(hostname -I 2>/dev/null | awk '{print $1}')"
  [ -n "$rtp_interface" ] || rtp_interface="127.0.0.1"
fi
[ -n "${SIP_RTP_ADVERTISED_ADDRESS:-}" ] && rtp_interface="$rtp_interface!$SIP_RTP_ADVERTISED_ADDRESS"
cli_port="${SIP_RTPENGINE_CLI_PORT:-$((ng_port + 1))}"
rtpengine_pid=""
if [ "$media_relay" = "rtpengine" ]; then
  # --config-file=none: not Debian's /etc/rtpengine/rtpengine.conf (fixed CLI and HTTP ports: two edges on one
  # machine would collide)
  "${RTPENGINE:-rtpengine}" --config-file=none --foreground --log-stderr --table=-1 \
    --interface="$rtp_interface" --listen-ng="127.0.0.1:$ng_port" --listen-cli="127.0.0.1:$cli_port" \
    --port-min="${SIP_RTP_PORT_MIN:-30000}" --port-max="${SIP_RTP_PORT_MAX:-40000}" \
    --num-threads="${SIP_RTPENGINE_THREADS:-2}" --timeout="${SIP_RTP_TIMEOUT_SECONDS:-60}" \
    --silent-timeout=3600 --final-timeout="${SIP_MAX_CALL_SECONDS:-14400}" --delete-delay=0 \
    --log-level="${SIP_RTPENGINE_LOG_LEVEL:-5}" --pidfile="$run_dir/rtpengine.pid" &
  rtpengine_pid=$!
elif [ "$media_relay" != "none" ]; then
  echo "sip-edge: SIP_MEDIA_RELAY must be rtpengine or none (got $media_relay)" >&2
  exit 1
fi

# -x tlsf: Kamailio's O(1) allocator for shared memory (its default, qm, searches its free lists and was the
# edge's costliest function under load: 6 % of the machine's CPU with two edges, docs/decisions.md 84)
"${KAMAILIO:-kamailio}" -f "$here/kamailio.cfg" -DD -E -x tlsf \
  -m "${SIP_SHM_MB:-256}" -M "${SIP_PKG_MB:-16}" \
  -l "udp:$listen:$udp_port" -l "tcp:$listen:$tcp_port" -l "tls:$listen:$tls_port" -l "udp:$dmq_ip:$dmq_port" \
  -P "$run_dir/kamailio.pid" \
  -A "LOG_LEVEL=${SIP_LOG_LEVEL:-2}" \
  -A "CHILDREN=${SIP_CHILDREN:-4}" \
  -A "TCP_CHILDREN=${SIP_TCP_CHILDREN:-4}" \
  -A "TCP_IDLE=${SIP_TCP_IDLE_SECONDS:-60}" \
  -A "TLS_HANDSHAKE=${SIP_TLS_HANDSHAKE_SECONDS:-30}" \
  -A "HT_AUTHFAIL=\"authfail=>size=12;autoexpire=$lockout_window;\"" \
  -A "HT_LOCKOUT=\"lockout=>size=10;autoexpire=$lockout_seconds;dmqreplicate=1;\"" \
  -A "DMQ_SERVER=\"$dmq_server\"" "${dmq_notify[@]}" \
  -A "DMQ_MULTI_NOTIFY=${SIP_DMQ_MULTI_NOTIFY:-0}" \
  -A "HT_COST=\"cost=>size=12;autoexpire=$((flood_window * 2));\"" \
  -A "HT_BANNED=\"banned=>size=10;autoexpire=$flood_ban;\"" \
  -A "HT_CONNS=\"conns=>size=12;autoexpire=$((SIP_MAX_EXPIRES + 120));\"" \
  -A "HT_CONNSEEN=\"connseen=>size=14;autoexpire=$((SIP_MAX_EXPIRES + 120));\"" \
  -A "TCP_MAX_CONNECTIONS=${SIP_MAX_CONNECTIONS:-16384}" \
  -A "CTL_SOCKET=\"unix:$run_dir/kamailio.ctl\"" \
  -A "FR_TIMER_MS=$fr_timer_ms" \
  -A "PIKE_DENSITY=${SIP_PIKE_DENSITY:-1000}" \
  -A "AUTH_SECRET=\"$auth_secret\"" \
  -A "USRLOC_TIMER=${SIP_USRLOC_TIMER_SECONDS:-10}" \
  -A "MIN_EXPIRES=$SIP_MIN_EXPIRES" \
  -A "MAX_EXPIRES=$SIP_MAX_EXPIRES" \
  -A "DEFAULT_EXPIRES=$SIP_DEFAULT_EXPIRES" \
  -A "TLS_CONFIG=\"$tls_config\"" \
  -A "RTPENGINE_SOCKET=\"udp:127.0.0.1:$ng_port\"" \
  -A "NO_ANSWER_MS=$(( ${SIP_NO_ANSWER_SECONDS:-60} * 1000 ))" \
  -A "DIALOG_TIMEOUT=${SIP_MAX_CALL_SECONDS:-14400}" \
  "$@" &
kamailio=$!

# the certificate watcher is not waited for: if it ends, the edge goes on with the certificate it has
watcher=""
if [ -n "${SIP_TLS_CERTIFICATE_SECRET_ARN:-}" ]; then
  /usr/bin/python3 -m sipedge.tls_certificate watch --cert "$cert" --key "$key" \
    --ctl "unix:$run_dir/kamailio.ctl" --interval "${SIP_TLS_CERTIFICATE_POLL_SECONDS:-300}" &
  watcher=$!
fi

# Kamailio or the sidecar stops: all stop; TERM/INT (docker stop, Ctrl-C, the test launcher) are passed on to
# all. rtpengine is not waited for: without it the edge stays up and answers new calls 503 (docs/calls.md).
stop() { kill -TERM "$kamailio" "$sidecar" $rtpengine_pid $watcher 2>/dev/null || true; }
trap 'stop' TERM INT
status=0
wait -n "$kamailio" "$sidecar" || status=$?
stop
for pid in "$kamailio" "$sidecar" $rtpengine_pid; do wait "$pid" 2>/dev/null || true; done
exit "$status"
