#!/bin/sh
# One-shot job (temporalio/admin-tools): create Temporal's two PostgreSQL databases and bring
# their schemas up to the version the pinned server needs. Safe to run on every `up`.
# Reads POSTGRES_SEEDS, DB_PORT, POSTGRES_USER and SQL_PASSWORD (temporal-sql-tool reads the
# password from SQL_PASSWORD itself, which keeps it out of the process list).
set -eu

sql() { # sql <database> <command...>
  db="$1"; shift
  temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "${DB_PORT:-5432}" \
    -u "$POSTGRES_USER" --db "$db" "$@"
}

for pair in temporal:temporal temporal_visibility:visibility; do
  db="${pair%%:*}"
  dir="${pair##*:}"
  # setup-schema stamps version 0.0, which on an existing database would make update-schema
  # replay every migration; so it runs only right after the database was created.
  if sql "$db" create-database; then
    sql "$db" setup-schema -v 0.0
  else
    echo "database $db exists; applying missing migrations only"
  fi
  # The versioned/ directory itself: pointed at its parent, update-schema finds nothing and
  # still exits 0.
  sql "$db" update-schema -d "/etc/temporal/schema/postgresql/v12/$dir/versioned"
done
echo "temporal schemas are current"
