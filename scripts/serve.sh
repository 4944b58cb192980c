#!/usr/bin/env bash
# Start the Celery worker and the web server together; Ctrl-C (or `make stop`) stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
HOST=${SARAI_HOST:-127.0.0.1}
PORT=${SARAI_PORT:-8000}
RUN_DIR=var/run
LOG_DIR=var/log
mkdir -p "$RUN_DIR" "$LOG_DIR"

stop_all() {
  for name in web worker; do
    if [[ -f "$RUN_DIR/$name.pid" ]]; then
      pid=$(cat "$RUN_DIR/$name.pid")
      # The worker and the server run in their own process groups: end the whole group.
      kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
      rm -f "$RUN_DIR/$name.pid"
    fi
  done
}

if [[ "${1:-}" == "stop" ]]; then
  stop_all
  echo "Stopped."
  exit 0
fi

stop_all
trap 'echo; echo "Stopping…"; stop_all; exit 0' INT TERM

setsid $PY -m celery -A sarai_eval worker --loglevel=INFO --concurrency="${CELERY_WORKER_CONCURRENCY:-2}" \
  >"$LOG_DIR/worker.log" 2>&1 &
echo $! >"$RUN_DIR/worker.pid"
setsid $PY manage.py runserver --noreload "$HOST:$PORT" >"$LOG_DIR/web.log" 2>&1 &
echo $! >"$RUN_DIR/web.pid"

for _ in $(seq 1 60); do
  if $PY -c "import urllib.request,sys; urllib.request.urlopen('http://$HOST:$PORT/healthz', timeout=1)" 2>/dev/null; then
    break
  fi
  sleep 1
done

cat <<MSG

sarai-eval is running (web log: $LOG_DIR/web.log, worker log: $LOG_DIR/worker.log).

  Runs and results  http://$HOST:$PORT/
  Admin             http://$HOST:$PORT/admin/
  $($PY manage.py ensure_admin | tail -n 1)

Press Ctrl-C to stop both the web server and the worker (or run 'make stop' from another terminal).
MSG

wait
