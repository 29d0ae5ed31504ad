#!/usr/bin/env bash
# One command to see the system work: environment, LFW, a quick model if none exists, the API on the embedded
# index, the webapp, the sample faces enrolled. Ctrl-C stops everything.
#   ./demo.sh            (or: make demo)      ports: API_PORT (8000), WEB_PORT (8501)
set -euo pipefail
cd "$(dirname "$0")"
export METAFLOW_USER="${METAFLOW_USER:-facerec}"
API_PORT="${API_PORT:-8000}"
WEB_PORT="${WEB_PORT:-8501}"
PY=.venv/bin/python

make -s setup
if ! "$PY" -c "from facerec.model.bundle import resolve_bundle; resolve_bundle('FacialRecognitionTrainFlow/latest')" 2>/dev/null; then
    echo "No trained model yet: training the demo model (all of LFW, 128 px, 5 minutes of training; about 8 minutes)."
    echo "For the real model run 'make train' (about 45 minutes)."
    # shellcheck disable=SC2046  # the arguments are words
    "$PY" metaflow_train.py --no-pylint run $("$PY" -m facerec.train.config demo)
fi

mkdir -p artifacts
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; }
trap cleanup EXIT INT TERM

INDEX_PATH="${INDEX_PATH:-artifacts/demo-faces.sqlite3}" "$PY" -m api --port "$API_PORT" >artifacts/api.log 2>&1 &
pids+=($!)
for _ in $(seq 120); do
    curl -fsS "http://127.0.0.1:$API_PORT/ready" >/dev/null 2>&1 && break
    kill -0 "${pids[0]}" 2>/dev/null || { echo "the API failed to start:"; tail -5 artifacts/api.log; exit 1; }
    sleep 1
done
API_URL="http://127.0.0.1:$API_PORT" "$PY" -m streamlit run streamlit_webapp.py --server.port "$WEB_PORT" \
    --server.headless true --browser.gatherUsageStats false >artifacts/webapp.log 2>&1 &
pids+=($!)

./index_people.sh sample-faces/index "http://127.0.0.1:$API_PORT" || true
cat <<MSG

  API      http://127.0.0.1:$API_PORT/docs
  webapp   http://127.0.0.1:$WEB_PORT      (try the photos in sample-faces/recognize)
  logs     artifacts/api.log, artifacts/webapp.log

Ctrl-C stops both.
MSG
wait
