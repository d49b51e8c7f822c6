#!/usr/bin/env bash
# Installs everything (scripts/setup.sh), makes sure the real peers the tests use are
# available (PostgreSQL on 127.0.0.1:5432; DCMTK and Orthanc are started by the tests
# themselves), then runs the linters and the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
VENV="${DICOMNODE_VENV:-$HOME/.cache/dicomnode-venv}"

if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    echo "test: starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
fi

"$VENV/bin/ruff" check dicomnode pipeline tests bench scripts
"$VENV/bin/mypy"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
exec "$VENV/bin/python" -m pytest -q -ra "$@"
