#!/usr/bin/env bash
# The README's main job: installs everything (scripts/setup.sh), then starts the node on the
# embedded defaults (SQLite, bundled demo model, CPU), sends it a synthetic multi-phase study
# over DICOM like a PACS would, waits for the results and shows them, and stops the node.
# Arguments are passed to `dicomnode demo` (e.g. --profile realistic, --seed 3).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
VENV="${DICOMNODE_VENV:-$HOME/.cache/dicomnode-venv}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
exec "$VENV/bin/dicomnode" demo "$@"
