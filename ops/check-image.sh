#!/usr/bin/env bash
# The container's steps without Docker (no engine runs on CI machines): install from
# the lock into a fresh venv (ops/install.sh, as the Dockerfile does), then run the
# compose file's services in order against PostgreSQL: release (migrate), web
# (serve, until /readyz says ready) and worker (until it has run a job).
set -euo pipefail
cd "$(dirname "$0")/.."
PG_URL="${1:?usage: ops/check-image.sh POSTGRES_URL}"
work="$(mktemp -d)"
trap 'kill ${web_pid:-} ${worker_pid:-} 2>/dev/null || true; rm -rf "$work"' EXIT

echo "image: installing from requirements.lock into a fresh venv"
sh ops/install.sh "$work/venv" >/dev/null
steward="$work/venv/bin/steward"
db="steward_image_$$"
psql "$PG_URL" -q -c "CREATE DATABASE $db" >/dev/null
trap 'kill ${web_pid:-} ${worker_pid:-} 2>/dev/null || true; psql "$PG_URL" -q -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null; rm -rf "$work"' EXIT
export DATABASE_URL="${PG_URL%/*}/$db" STEWARD_API_TOKENS="image-check-token-0123456789"
cd "$work"

echo "image: release"
"$steward" migrate

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
echo "image: web on port $port"
"$steward" serve --host 127.0.0.1 --port "$port" >"$work/web.log" 2>&1 &
web_pid=$!
ready=""
for _ in $(seq 1 120); do
  if ready="$(curl -sf "http://127.0.0.1:$port/readyz" 2>/dev/null)"; then break; fi
  kill -0 "$web_pid" 2>/dev/null || { cat "$work/web.log"; exit 1; }
  sleep 0.5
done
[ "$ready" = '{"status":"ready"}' ] || { echo "image: web never became ready"; cat "$work/web.log"; exit 1; }

echo "image: worker"
"$steward" worker >"$work/worker.log" 2>&1 &
worker_pid=$!
for _ in $(seq 1 120); do
  if "$steward" outbox | grep -q "^job alerts: ok"; then break; fi
  kill -0 "$worker_pid" 2>/dev/null || { cat "$work/worker.log"; exit 1; }
  sleep 0.5
done
"$steward" outbox | grep -q "^job alerts: ok" || { echo "image: the worker ran no job"; cat "$work/worker.log"; exit 1; }
echo "image: release, web and worker ran from the locked install"
