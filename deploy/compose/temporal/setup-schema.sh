#!/bin/sh
# Creates Temporal's two PostgreSQL databases and brings their schemas up to
# the version of this admin-tools image. Safe to run on every start: creating
# an existing database is a no-op, setup-schema only adds the version tables
# when missing, and update-schema applies only the missing versions.
#
# Runs in temporalio/admin-tools (docker-compose.yml: temporal-schema) with
# SQL_PLUGIN, SQL_HOST, SQL_PORT, SQL_USER and SQL_PASSWORD set; the schemas
# are the ones embedded in temporal-sql-tool.
set -eu

: "${SQL_PLUGIN:?}" "${SQL_HOST:?}" "${SQL_PORT:?}" "${SQL_USER:?}" "${SQL_PASSWORD:?}"

for db in temporal temporal_visibility; do
	case $db in
	temporal) schema=postgresql/v12/temporal ;;
	*) schema=postgresql/v12/visibility ;;
	esac
	echo "database $db: schema $schema"
	temporal-sql-tool --db "$db" create-database
	temporal-sql-tool --db "$db" setup-schema -v 0.0
	temporal-sql-tool --db "$db" update-schema --schema-name "$schema"
done
echo "Temporal schemas are up to date"
