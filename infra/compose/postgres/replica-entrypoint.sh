#!/usr/bin/env bash
# Entrypoint of the postgres-replica container (official postgres image, started as root).
#
# On an empty data dir it waits for the primary, then clones it with `pg_basebackup -R`,
# which also writes standby.signal and primary_conninfo, so the server below starts as a
# hot standby streaming from the primary. The clone goes to a sibling `.partial` dir that
# is renamed only once complete: a container killed half-way through a base backup starts
# over instead of booting a torn copy.
#
# Replication connects to the primary directly (postgres:5432), not through Toxiproxy:
# experiments fault the application's connections, and a replica that silently stops
# streaming would make every other experiment harder to read.
set -euo pipefail

: "${PGDATA:?PGDATA must be set}"
: "${PRIMARY_HOST:?PRIMARY_HOST must be set}"
: "${PRIMARY_PORT:=5432}"
: "${REPLICATION_USER:?REPLICATION_USER must be set}"
: "${REPLICATION_PASSWORD:?REPLICATION_PASSWORD must be set}"

if [ "$(id -u)" = 0 ]; then
  # The volume is mounted on PGDATA's parent; postgres must own it to create PGDATA.
  parent="$(dirname "$PGDATA")"
  mkdir -p "$parent"
  chown postgres:postgres "$parent"
  chmod 0700 "$parent"
  exec gosu postgres bash "${BASH_SOURCE[0]}" "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  partial="${PGDATA}.partial"
  rm -rf "$partial"
  echo "replica: waiting for the primary at ${PRIMARY_HOST}:${PRIMARY_PORT}"
  until pg_isready --quiet --host "$PRIMARY_HOST" --port "$PRIMARY_PORT"; do
    sleep 1
  done
  echo "replica: cloning the primary with pg_basebackup"
  PGPASSWORD="$REPLICATION_PASSWORD" pg_basebackup \
    --host "$PRIMARY_HOST" --port "$PRIMARY_PORT" --username "$REPLICATION_USER" --no-password \
    --pgdata "$partial" --write-recovery-conf --wal-method stream --checkpoint fast
  chmod 0700 "$partial"
  mv "$partial" "$PGDATA"
  echo "replica: base backup complete"
fi

# The same settings the primary runs with, so a failover drill does not change behaviour.
exec postgres -D "$PGDATA" -c hot_standby=on -c max_connections=200 "$@"
