#!/usr/bin/env bash
# Runs once, from /docker-entrypoint-initdb.d, when the primary's data dir is first created.
# It adds the role the replica streams WAL with and lets that role connect for replication
# from anywhere on the compose network (the image's own pg_hba line, `host all all all`,
# does not cover the `replication` pseudo-database).
set -euo pipefail

: "${REPLICATION_USER:?REPLICATION_USER must be set}"
: "${REPLICATION_PASSWORD:?REPLICATION_PASSWORD must be set}"

psql --no-psqlrc -v ON_ERROR_STOP=1 \
  --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v repl_user="$REPLICATION_USER" -v repl_password="$REPLICATION_PASSWORD" <<'SQL'
CREATE ROLE :"repl_user" WITH REPLICATION LOGIN PASSWORD :'repl_password';
SQL

echo "host replication ${REPLICATION_USER} all scram-sha-256" >>"$PGDATA/pg_hba.conf"
