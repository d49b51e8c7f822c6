#!/usr/bin/env bash
# Installs everything dicomnode needs on a Debian machine: system packages (DCMTK, Orthanc,
# Chromium for the dashboard tests, poppler for PDF checks, the RabbitMQ and Redis brokers the
# Celery backend's tests start when they are not running), the PostgreSQL server the tests
# use, running on 127.0.0.1:5432 (scripts/setup-postgres.sh), and a Python virtual
# environment with the project and its pinned dependencies. Idempotent: a second run only
# checks.
#
# Environment:
#   DICOMNODE_VENV   where the virtual environment lives (default: ~/.cache/dicomnode-venv)
#   DICOMNODE_NO_APT set to 1 to skip system packages and PostgreSQL (e.g. no root)
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${DICOMNODE_VENV:-$HOME/.cache/dicomnode-venv}"
APT_PACKAGES=(dcmtk orthanc orthanc-dicomweb chromium chromium-driver poppler-utils
  rabbitmq-server redis-server)

need_apt=0
for tool in /usr/bin/storescu /usr/sbin/Orthanc /usr/share/orthanc/plugins/libOrthancDicomWeb.so \
  /usr/bin/chromium /usr/bin/pdftoppm /usr/sbin/rabbitmq-server /usr/bin/redis-server; do
  [ -e "$tool" ] || need_apt=1  # -e: the DICOMweb plugin is a library, not executable
done
if [ "$need_apt" = 1 ] && [ "${DICOMNODE_NO_APT:-0}" != 1 ]; then
  echo "setup: installing system packages: ${APT_PACKAGES[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${APT_PACKAGES[@]}" >/dev/null
  # Debian starts Orthanc, RabbitMQ and Redis as services where it can; the node's tests run
  # their own Orthanc instances and start the brokers' services when they are not running.
fi
if [ "${DICOMNODE_NO_APT:-0}" != 1 ]; then
  bash scripts/setup-postgres.sh
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating virtual environment $VENV"
  python3.11 -m venv "$VENV" 2>/dev/null || python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
fi

stamp="$VENV/.dicomnode-$(sha256sum pyproject.toml | cut -c1-16)-$(pwd | sha256sum | cut -c1-8)"
if [ ! -f "$stamp" ]; then
  echo "setup: installing Python packages into $VENV (torch is large; first run takes minutes)"
  "$VENV/bin/pip" install -q torch==2.14.1 torchvision==0.29.1
  "$VENV/bin/pip" install -q -e '.[dev,celery]'
  rm -f "$VENV"/.dicomnode-*
  touch "$stamp"
fi
echo "setup: ready ($VENV)"
