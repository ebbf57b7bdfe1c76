#!/usr/bin/env bash
# Starts and stops the newsflow services in the background, one process each.
#
#   infra/services.sh up [SERVICE...]     start (idempotent)   SERVICE: fetch parse enrich index search samples
#   infra/services.sh down [SERVICE...]   stop (idempotent)
#   infra/services.sh status
#
# Logs: $NEWSFLOW_VAR/logs/SERVICE.log (JSON lines). `samples` serves samples/site/ on
# 127.0.0.1:$NEWSFLOW_SAMPLES_PORT (8765) so the demo has pages to fetch.
set -euo pipefail

INFRA_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(dirname "$INFRA_DIR")"
NEWSFLOW_VAR="${NEWSFLOW_VAR:-$REPO_DIR/.var}"
VENV="${VENV:-$REPO_DIR/.venv}"
SAMPLES_PORT="${NEWSFLOW_SAMPLES_PORT:-8765}"
RUN_DIR="$NEWSFLOW_VAR/run"
LOG_DIR="$NEWSFLOW_VAR/logs"
ALL=(fetch parse enrich index search samples)

say() { echo "services: $*"; }
pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

start() {
  local svc="$1" pidf="$RUN_DIR/$1.pid"
  if pid_alive "$pidf"; then say "$svc already running (pid $(cat "$pidf"))"; return 0; fi
  [ -x "$VENV/bin/newsflow" ] || { echo "services: $VENV/bin/newsflow missing: run 'make install'" >&2; exit 1; }
  mkdir -p "$RUN_DIR" "$LOG_DIR"
  if [ "$svc" = samples ]; then
    nohup "$VENV/bin/python" -m http.server "$SAMPLES_PORT" --bind 127.0.0.1 --directory "$REPO_DIR/samples/site" \
      >>"$LOG_DIR/samples.log" 2>&1 &
  else
    nohup "$VENV/bin/newsflow" serve "$svc" >>"$LOG_DIR/$svc.log" 2>&1 &
  fi
  echo $! > "$pidf"
  say "$svc started (pid $!, log $LOG_DIR/$svc.log)"
}

stop() {
  local svc="$1" pidf="$RUN_DIR/$1.pid"
  if ! pid_alive "$pidf"; then rm -f "$pidf"; return 0; fi
  local pid; pid=$(cat "$pidf")
  kill "$pid" 2>/dev/null || true
  # faust leaves the group cleanly on SIGTERM; give it time, then insist.
  for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$pidf"; say "$svc stopped"
}

cmd="${1:-status}"; shift || true
services=("$@"); [ ${#services[@]} -gt 0 ] || services=("${ALL[@]}")
case "$cmd" in
  up) for s in "${services[@]}"; do start "$s"; done ;;
  down) for s in "${services[@]}"; do stop "$s"; done ;;
  status)
    for s in "${ALL[@]}"; do
      if pid_alive "$RUN_DIR/$s.pid"; then printf '%-8s running  pid %s\n' "$s" "$(cat "$RUN_DIR/$s.pid")"
      else printf '%-8s stopped\n' "$s"; fi
    done ;;
  *) echo "usage: services.sh up|down|status [SERVICE...]" >&2; exit 2 ;;
esac
