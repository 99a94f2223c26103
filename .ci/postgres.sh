# Sourced by .ci/run: starts a throw-away PostgreSQL cluster in a temporary
# directory on a loopback port, as an unprivileged user (PostgreSQL refuses
# root), exports ARCA_TEST_POSTGRES_URL for the tests, and stops and
# removes the cluster when .ci/run exits.

pg_bin() {
	local found
	found="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)"
	if [ -z "$found" ] && command -v initdb >/dev/null 2>&1; then
		found="$(dirname "$(command -v initdb)")"
	fi
	echo "$found"
}

PG_BIN="$(pg_bin)"
if [ -z "$PG_BIN" ]; then
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
	PG_BIN="$(pg_bin)"
fi

PG_DIR="$(mktemp -d /tmp/arca-ci-pg.XXXXXX)"
PG_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 55432)"
PG_PASSWORD="$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')"
printf '%s\n' "$PG_PASSWORD" >"$PG_DIR/pwfile"

as_pg() { "$@"; }
if [ "$(id -u)" = 0 ]; then
	id arca-ci-pg >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin arca-ci-pg
	chown -R arca-ci-pg: "$PG_DIR"
	as_pg() { runuser -u arca-ci-pg -- "$@"; }
fi

as_pg "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --auth=scram-sha-256 --pwfile="$PG_DIR/pwfile" -E UTF8 --no-sync >"$PG_DIR/initdb.log" 2>&1 ||
	{ cat "$PG_DIR/initdb.log" >&2; exit 1; }
rm -f "$PG_DIR/pwfile"
as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/postgres.log" -w -t 60 \
	-o "-p $PG_PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories= -c fsync=off -c max_connections=300" start >/dev/null

stop_postgres() {
	as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
	rm -rf "$PG_DIR"
}
trap stop_postgres EXIT

export ARCA_TEST_POSTGRES_URL="postgres://postgres:${PG_PASSWORD}@127.0.0.1:${PG_PORT}/postgres?sslmode=disable"
echo "PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:${PG_PORT} for the tests"
