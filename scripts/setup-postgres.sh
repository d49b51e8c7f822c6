#!/usr/bin/env bash
# Makes the PostgreSQL server the tests use available on a Debian machine: installs the
# server (Debian `postgresql`) if missing, creates a cluster on the port if there is none,
# lets user postgres in from 127.0.0.1 without a password (one `trust` line in pg_hba.conf,
# added once) and starts the cluster. Idempotent: a second run only checks (no apt-get).
# Called by scripts/setup.sh; needs root or sudo. For test machines only: the trust line
# lets any local process connect as postgres.
#
# Environment:
#   DICOMNODE_PG_PORT  port of the cluster (default 5432, the one the tests connect to)
set -euo pipefail

PORT="${DICOMNODE_PG_PORT:-5432}"
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"

if ! compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null || ! command -v pg_ctlcluster >/dev/null; then
  echo "setup: installing the PostgreSQL server"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
fi

# The cluster on PORT (version and name), created with the newest installed server if none.
read -r version cluster < <(pg_lsclusters -h | awk -v port="$PORT" '$3 == port {print $1, $2; exit}') || true
if [ -z "${version:-}" ]; then
  version="$(ls /usr/lib/postgresql | sort -V | tail -n1)"
  cluster=main n=0
  while [ -d "/etc/postgresql/$version/$cluster" ]; do cluster="dicomnode$((++n))"; done
  echo "setup: creating PostgreSQL cluster $version/$cluster on port $PORT"
  $SUDO pg_createcluster --port "$PORT" "$version" "$cluster" >/dev/null
fi

# pg_hba.conf is read top down and the first matching line wins: the trust line goes first.
hba="/etc/postgresql/$version/$cluster/pg_hba.conf"
changed=0
if ! $SUDO grep -qE '^host[[:space:]]+all[[:space:]]+(all|postgres)[[:space:]]+127\.0\.0\.1/32[[:space:]]+trust' "$hba"; then
  echo "setup: letting user postgres connect from 127.0.0.1 without a password ($hba)"
  $SUDO sed -i '1i host all postgres 127.0.0.1/32 trust  # added by dicomnode scripts/setup-postgres.sh' "$hba"
  changed=1
fi

if ! pg_isready -q -h 127.0.0.1 -p "$PORT"; then
  echo "setup: starting PostgreSQL $version/$cluster"
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" "$cluster" start
elif [ "$changed" = 1 ]; then
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" "$cluster" reload
fi
