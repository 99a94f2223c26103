# Sourced by scripts/test: starts a throw-away PostgreSQL cluster in a
# temporary directory on a free loopback port, exports
# ARCA_TEST_POSTGRES_URL for the tests, and stops and removes the cluster
# when the sourcing script exits. PostgreSQL refuses to run as root, so as
# root the cluster runs as the system user arca-test-pg (created if absent).
#
# Needs PG_BIN: the directory holding initdb, pg_ctl and postgres.

PG_USER=arca-test-pg
PG_DIR="$(mktemp -d /tmp/arca-test-pg.XXXXXX)"
PG_PASSWORD="$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')"

as_pg() { "$@"; }
if [ "$(id -u)" = 0 ]; then
	id "$PG_USER" >/dev/null 2>&1 ||
		useradd --system --no-create-home --shell /usr/sbin/nologin "$PG_USER"
	chown "$PG_USER": "$PG_DIR"
	as_pg() { runuser -u "$PG_USER" -- "$@"; }
fi

stop_postgres() {
	if [ -f "$PG_DIR/data/postmaster.pid" ]; then
		as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
	fi
	rm -rf "$PG_DIR"
}
trap stop_postgres EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# port_in_use succeeds when something on 127.0.0.1 accepts on port $1.
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

(umask 077 && printf '%s\n' "$PG_PASSWORD" >"$PG_DIR/pwfile")
if [ "$(id -u)" = 0 ]; then chown "$PG_USER": "$PG_DIR/pwfile"; fi
if ! as_pg "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --auth=scram-sha-256 \
	--pwfile="$PG_DIR/pwfile" -E UTF8 --no-sync >"$PG_DIR/initdb.log" 2>&1; then
	cat "$PG_DIR/initdb.log" >&2
	echo "scripts/test: initdb failed (above)" >&2
	exit 1
fi
rm -f "$PG_DIR/pwfile"

# Pick a port nothing listens on; another process may take it between the
# check and the start, so try a few.
pg_started=""
for _ in 1 2 3 4 5; do
	PG_PORT=$((20000 + RANDOM % 30000))
	port_in_use "$PG_PORT" && continue
	if as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/postgres.log" -w -t 60 \
		-o "-p $PG_PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories= -c fsync=off -c max_connections=300" \
		start >/dev/null 2>&1; then
		pg_started=1
		break
	fi
done
if [ -z "$pg_started" ]; then
	cat "$PG_DIR/postgres.log" >&2 2>/dev/null || true
	echo "scripts/test: PostgreSQL did not start on a loopback port (log above)" >&2
	exit 1
fi

export ARCA_TEST_POSTGRES_URL="postgres://postgres:${PG_PASSWORD}@127.0.0.1:${PG_PORT}/postgres?sslmode=disable"
echo "scripts/test: PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:${PG_PORT} for the tests"
