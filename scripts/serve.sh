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

# Evaluators reach this server: DEBUG stays off (the settings' default: no technical error pages)
# and, without DJANGO_SECRET_KEY, the settings use the key generated once for this installation in
# var/secret-key. Plain HTTP on localhost needs cookies without the Secure flag.
export DJANGO_SECURE_COOKIES=${DJANGO_SECURE_COOKIES:-false}

stop_all() {
  for name in web worker; do
    if [[ -f "$RUN_DIR/$name.pid" ]]; then
      pid=$(cat "$RUN_DIR/$name.pid")
      # TERM to the main process only: Celery then shuts its pool down itself (a TERM to every
      # child at once can leave the main process waiting for ever). What is left after 30 s, in
      # the process group each was started in, is killed.
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 30); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 1
      done
      kill -KILL -- "-$pid" 2>/dev/null || true
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

# -B: this worker also runs the periodic check that re-sends items lost with a killed worker.
# -Q: the queues it takes; a machine without the models runs SARAI_WORKER_QUEUES=light.
setsid $PY -m celery -A sarai_eval worker -B -Q "${SARAI_WORKER_QUEUES:-inference,light}" \
  --loglevel=INFO --concurrency="${CELERY_WORKER_CONCURRENCY:-2}" >"$LOG_DIR/worker.log" 2>&1 &
echo $! >"$RUN_DIR/worker.pid"
# gunicorn (sarai_eval/gunicorn_conf.py: processes, threads, timeouts); its master's pid is noted,
# which on TERM lets its workers finish the requests they hold.
# It binds the address printed below and polled for /healthz, whatever SARAI_WEB_BIND says.
export SARAI_HOST="$HOST" SARAI_PORT="$PORT"
unset SARAI_WEB_BIND
setsid $PY -m gunicorn -c sarai_eval/gunicorn_conf.py sarai_eval.wsgi >"$LOG_DIR/web.log" 2>&1 &
echo $! >"$RUN_DIR/web.pid"

up=0
for _ in $(seq 1 60); do
  if $PY -c "import urllib.request; urllib.request.urlopen('http://$HOST:$PORT/healthz', timeout=1)" 2>/dev/null; then
    up=1
    break
  fi
  sleep 1
done
if [[ $up -ne 1 ]]; then
  echo "The web server did not answer on http://$HOST:$PORT/ within 60 s; see $LOG_DIR/web.log:" >&2
  tail -n 20 "$LOG_DIR/web.log" >&2
  stop_all
  exit 1
fi

cat <<MSG

sarai-eval is running (web log: $LOG_DIR/web.log, worker log: $LOG_DIR/worker.log).

  Runs and results  http://$HOST:$PORT/
  Admin             http://$HOST:$PORT/admin/
  $($PY manage.py ensure_admin | tail -n 1)

Press Ctrl-C to stop both the web server and the worker (or run 'make stop' from another terminal).
MSG

wait
