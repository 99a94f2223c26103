#!/usr/bin/env bash
# Forms a 3-node Arca cluster and a 3-node OpenBao cluster (both on
# integrated Raft, joined with retry_join, on loopback), drives each with
# the same `arca bench` runs, round after round, and prints the median of
# each figure with its range over the rounds and the Arca/OpenBao ratio
# (the BENCHMARKS.md cluster table). Then, unless SINGLE=0, one Arca node
# on raft against one on bbolt: what the log costs.
#
#   ARCA=./arca BAO=/path/to/bao bench/compare-openbao-cluster.sh
#
# The rows (ROWS, comma list; default all four of the issue):
#   kv-write          KV v2 writes through the active node
#   token-create      child tokens created through the active node
#   kv-read-standby   KV v2 reads through a standby
#   kv-read-active    KV v2 reads through the active node
#   kv-write-standby  KV v2 writes through a standby (forwarded)
#
# All three nodes of a cluster run on SERVER_CPUS and the generator on
# LOAD_CPUS (taskset; defaults 0 and 1), as bench/compare-openbao.sh
# pins its one server. Each row runs against a cluster formed for it
# alone (a row must not pay for what the rows before it stored), and Arca
# and OpenBao take turns row by row, so that the two runs a ratio compares
# are close in time. Besides ops/s and latency, each run reports the CPU
# time of the cluster's three processes per operation (`arca bench
# -server-pids`), the steadier figure on a machine whose other load comes
# and goes, and the load average as the run ended.
#
# Both clusters run with the same performance_multiplier (RAFT_MULTIPLIER,
# default 5: OpenBao's own default, which scales hashicorp/raft's 1 s
# timeouts; Arca scales its 300 ms ones). Three nodes sharing one core on
# a loaded machine miss Arca's unscaled 200 ms leader lease now and then,
# and a run that loses its leader mid-way measures an election, not the
# write path. The timeouts govern failover only, not a write's path.
#
# Environment: ROWS, ROUNDS (3), DUR (5s), CONC (16), KV_KEYS (1000),
# SERVER_CPUS (0), LOAD_CPUS (1), SINGLE (1), RAFT_MULTIPLIER (5), OUT
# (results file, JSON lines; default a temporary file), BAO unset runs
# Arca only, KEEP=1 keeps the nodes' directories and logs.
set -euo pipefail

: "${ARCA:?set ARCA to the arca binary}"
BAO="${BAO:-}"
ROWS="${ROWS:-kv-write,token-create,kv-read-standby,kv-read-active}"
ROUNDS="${ROUNDS:-3}" DUR="${DUR:-5s}" CONC="${CONC:-16}" KV_KEYS="${KV_KEYS:-1000}"
SERVER_CPUS="${SERVER_CPUS:-0}" LOAD_CPUS="${LOAD_CPUS:-1}" SINGLE="${SINGLE:-1}"
RAFT_MULTIPLIER="${RAFT_MULTIPLIER:-5}"
OUT="${OUT:-$(mktemp --suffix=.jsonl)}"
work="$(mktemp -d)"
echo "work: $work" >&2
pids=()
cleanup() {
	stop_all
	[ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

stop_all() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	pids=()
}

# wait_for <what> <command...>: retries the command for up to 60 s.
wait_for() {
	local what="$1"
	shift
	for _ in $(seq 600); do
		if "$@" >/dev/null 2>&1; then return 0; fi
		sleep 0.1
	done
	echo "gave up waiting for $what" >&2
	return 1
}

port() { # port <arca|bao> <node 1-3> [cluster]
	local base=18500 c=0
	[ "$1" = bao ] && base=18600
	[ -n "${3:-}" ] && c=1
	echo $((base + 10 * $2 + c))
}

# conf <arca|bao> <node>: the node's configuration; nodes 2 and 3 join
# node 1 with retry_join, as each project's documentation forms a cluster.
conf() {
	local sys="$1" n="$2" api cl
	api="$(port "$sys" "$n")" cl="$(port "$sys" "$n" c)"
	{
		printf 'storage "raft" {\n  path = "%s/%s-n%s"\n  node_id = "%s%s"\n' "$work" "$sys" "$n" "$sys" "$n"
		printf '  performance_multiplier = %s\n' "$RAFT_MULTIPLIER"
		if [ "$n" != 1 ]; then printf '  retry_join {\n    leader_api_addr = "http://127.0.0.1:%s"\n  }\n' "$(port "$sys" 1)"; fi
		printf '}\nlistener "tcp" {\n  address = "127.0.0.1:%s"\n' "$api"
		# OpenBao's cluster listener is the API listener's companion.
		[ "$sys" = bao ] && printf '  cluster_address = "127.0.0.1:%s"\n' "$cl"
		printf '  tls_disable = true\n}\napi_addr = "http://127.0.0.1:%s"\ncluster_addr = "https://127.0.0.1:%s"\ndisable_mlock = true\n' "$api" "$cl"
	} >"$work/$sys-n$n.hcl"
	mkdir -p "$work/$sys-n$n"
}

health() { curl -s -o /dev/null "http://127.0.0.1:$1/v1/sys/seal-status"; }
initialized() { curl -s "http://127.0.0.1:$1/v1/sys/seal-status" | grep -q '"initialized":true'; }
unsealed() { curl -s "http://127.0.0.1:$1/v1/sys/seal-status" | grep -q '"sealed":false'; }
# voters: node 1 sees three voters (OpenBao's autopilot adds a node as a
# non-voter first; a cluster whose writes need one node's fsync is not the
# one measured here).
voters() {
	curl -sf -H "X-Vault-Token: $token" "http://127.0.0.1:$(port "$1" 1)/v1/sys/storage/raft/configuration" |
		python3 -c 'import json,sys; s=json.load(sys.stdin)["data"]["config"]["servers"]; sys.exit(0 if len(s)==3 and all(x["voter"] for x in s) else 1)'
}
# knows_leader <port>: the node names an active node (a standby that does
# not would forward nothing).
knows_leader() {
	curl -sf "http://127.0.0.1:$1/v1/sys/leader" | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["leader_address"] else 1)'
}
writable() { curl -sf -H "X-Vault-Token: $token" "http://127.0.0.1:$(port "$1" 1)/v1/sys/mounts" >/dev/null; }

# cluster_up <arca|bao>: forms the cluster; sets pids and token.
cluster_up() {
	local sys="$1" bin="$ARCA" n init key
	[ "$sys" = bao ] && bin="$BAO"
	rm -rf "$work/$sys"-n*
	for n in 1 2 3; do
		conf "$sys" "$n"
		taskset -c "$SERVER_CPUS" "$bin" server -config "$work/$sys-n$n.hcl" >"$work/$sys-n$n.log" 2>&1 &
		pids+=($!)
	done
	for n in 1 2 3; do wait_for "$sys node $n" health "$(port "$sys" "$n")" || return 1; done
	init="$(curl -sf -X PUT -d '{"secret_shares":1,"secret_threshold":1}' "http://127.0.0.1:$(port "$sys" 1)/v1/sys/init")" || return 1
	key="$(echo "$init" | json '["keys_base64"][0]')" || return 1
	token="$(echo "$init" | json '["root_token"]')" || return 1
	curl -sf -X PUT -d "{\"key\":\"$key\"}" "http://127.0.0.1:$(port "$sys" 1)/v1/sys/unseal" >/dev/null || return 1
	wait_for "$sys node 1 unsealed" unsealed "$(port "$sys" 1)" || return 1
	wait_for "$sys node 1 active" writable "$sys" || return 1
	for n in 2 3; do
		# Arca's joining node takes the key once it has joined; OpenBao's
		# uses it to finish joining. Either way it is sent until the node
		# is unsealed.
		for _ in $(seq 600); do
			curl -s -X PUT -d "{\"key\":\"$key\"}" "http://127.0.0.1:$(port "$sys" "$n")/v1/sys/unseal" >/dev/null || true
			if unsealed "$(port "$sys" "$n")"; then break; fi
			sleep 0.1
		done
		wait_for "$sys node $n unsealed" unsealed "$(port "$sys" "$n")" || return 1
	done
	wait_for "$sys: three voters" voters "$sys" || return 1
	for n in 2 3; do wait_for "$sys node $n knowing the leader" knows_leader "$(port "$sys" "$n")" || return 1; done
}

# via <arca|bao> <active|standby>: the API port of the active node or of a
# standby, as node 1 sees the leader now.
via() {
	local leader n
	leader="$(curl -sf "http://127.0.0.1:$(port "$1" 1)/v1/sys/leader" | json '["leader_address"]')"
	for n in 1 2 3; do
		if [ "$leader" = "http://127.0.0.1:$(port "$1" "$n")" ]; then
			[ "$2" = active ] && { port "$1" "$n"; return; }
		elif [ "$2" = standby ]; then
			port "$1" "$n"
			return
		fi
	done
	echo "no $2 node of $1 (leader: $leader)" >&2
	return 1
}

# measure <server> <row> <workload> <port> <round> [set-up port]: one
# generator run, appended to OUT with the row, server, round and load
# average. Through a standby, the set-up goes to the active node (an
# OpenBao standby answers 404 for a mount it has not applied yet, where
# a write should have been forwarded) and the run starts once the
# standby reads what was set up.
measure() {
	local joined setup=()
	joined="$(IFS=,; echo "${pids[*]}")"
	[ -n "${6:-}" ] && setup=(-server="http://127.0.0.1:$6")
	taskset -c "$LOAD_CPUS" "$ARCA" bench -addr="http://127.0.0.1:$4" "${setup[@]}" -token="$token" -duration="$DUR" -concurrency="$CONC" \
		-kv-keys="$KV_KEYS" -workload="$3" -server-pids="$joined" -format=json -quiet |
		python3 -c "
import json, sys
load = float(open('/proc/loadavg').read().split()[0])
for r in json.load(sys.stdin):
    r.update(server='$1', row='$2', round=$5, load=load)
    print(json.dumps(r))" >>"$OUT"
}

row_workload() { case "$1" in kv-read-*) echo kv-read ;; kv-write*) echo kv-write ;; *) echo "$1" ;; esac; }
row_via() { case "$1" in *-standby) echo standby ;; *) echo active ;; esac; }

servers=arca
[ -n "$BAO" ] && servers="arca bao"
echo "load before: $(uptime)" >&2
for round in $(seq "$ROUNDS"); do
	for row in ${ROWS//,/ }; do
		for sys in $servers; do
			setup=""
			if cluster_up "$sys" && p="$(via "$sys" "$(row_via "$row")")" &&
				{ [ "$(row_via "$row")" = active ] || setup="$(via "$sys" active)"; } &&
				measure "$sys" "$row" "$(row_workload "$row")" "$p" "$round" "$setup"; then
				echo "round $round $row $sys: done" >&2
			else
				echo "no figure for $sys $row in round $round; logs in $work (KEEP=1 keeps them)" >&2
			fi
			stop_all
		done
	done
done

# One Arca node on raft, one on bbolt, taking turns workload by workload.
single_up() { # single_up <raft|bolt>
	local api=18700 init key
	if [ "$1" = raft ]; then
		rm -rf "$work/single-raft"
		printf 'storage "raft" {\n  path = "%s/single-raft"\n  node_id = "s"\n}\n' "$work" >"$work/single.hcl"
	else
		rm -f "$work/single.db"
		printf 'storage "bolt" {\n  path = "%s/single.db"\n}\n' "$work" >"$work/single.hcl"
	fi
	printf 'listener "tcp" {\n  address = "127.0.0.1:%s"\n  tls_disable = true\n}\napi_addr = "http://127.0.0.1:%s"\ncluster_addr = "https://127.0.0.1:%s"\ndisable_mlock = true\n' \
		"$api" "$api" "$((api + 1))" >>"$work/single.hcl"
	taskset -c "$SERVER_CPUS" "$ARCA" server -config "$work/single.hcl" >"$work/single-$1.log" 2>&1 &
	pids+=($!)
	wait_for "single $1 node" health "$api" || return 1
	init="$(curl -sf -X PUT -d '{"secret_shares":1,"secret_threshold":1}' "http://127.0.0.1:$api/v1/sys/init")" || return 1
	key="$(echo "$init" | json '["keys_base64"][0]')" || return 1
	token="$(echo "$init" | json '["root_token"]')" || return 1
	curl -sf -X PUT -d "{\"key\":\"$key\"}" "http://127.0.0.1:$api/v1/sys/unseal" >/dev/null || return 1
	wait_for "single $1 node unsealed" unsealed "$api" || return 1
	wait_for "single $1 node active" curl -sf -H "X-Vault-Token: $token" "http://127.0.0.1:$api/v1/sys/mounts" || return 1
}
if [ "$SINGLE" = 1 ]; then
	for round in $(seq "$ROUNDS"); do
		for w in kv-write token-create kv-read; do
			for st in raft bolt; do
				if single_up "$st" && measure "single-$st" "$w" "$w" 18700 "$round"; then
					echo "round $round single $st $w: done" >&2
				else
					echo "no figure for single $st $w in round $round" >&2
				fi
				stop_all
			done
		done
	done
fi
echo "load after: $(uptime)" >&2

echo "results: $OUT" >&2
python3 - "$OUT" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
by = {}
for r in rows:
    by.setdefault((r["row"], r["server"]), {})[r["round"]] = r

def spread(vals, fmt):
    if not vals:
        return "—"
    return f"{fmt(statistics.median(vals))} [{fmt(min(vals))}–{fmt(max(vals))}]"

ops = lambda v: f"{v:,.0f}"
ms = lambda v: f"{v:.1f}"
us = lambda v: f"{v:,.0f}"
ratio = lambda v: f"{v:.2f}×"
col = lambda rs, k, f: spread([r[k] for r in rs.values()], f)

def per_round(a, b, k):
    return [a[n][k] / b[n][k] for n in a if n in b and b[n][k] > 0]

def table(left, right, names, title):
    print(title)
    print()
    print(f"| row | {names[0]} ops/s | {names[1]} ops/s | ratio | {names[0]} p99 ms | {names[1]} p99 ms | {names[0]} CPU µs/op | {names[1]} CPU µs/op |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in dict.fromkeys(r["row"] for r in rows if r["server"] == left):
        a, b = by.get((row, left), {}), by.get((row, right), {})
        errs = sum(sum((x.get("errors") or {}).values()) for x in list(a.values()) + list(b.values()))
        cells = [col(a, "ops_per_sec", ops), col(b, "ops_per_sec", ops), spread(per_round(a, b, "ops_per_sec"), ratio),
                 col(a, "p99_ms", ms), col(b, "p99_ms", ms), col(a, "server_cpu_us_per_op", us), col(b, "server_cpu_us_per_op", us)]
        print(f"| {row} | " + " | ".join(cells) + " |" + (f" errors: {errs}" if errs else ""))
    loads = [r["load"] for r in rows if r["server"] in (left, right)]
    if loads:
        print()
        print(f"load average (1 min) as each run ended: {spread(loads, lambda v: f'{v:.1f}')}")
    print()

print("Median of the rounds, [min–max] over them; a ratio is taken per round. CPU: the servers' processes' user+system time over the run per operation (all three nodes of a cluster).")
print()
if any(r["server"] == "arca" for r in rows):
    table("arca", "bao", ("Arca", "OpenBao"), "3 nodes, Arca and OpenBao:")
if any(r["server"] == "single-raft" for r in rows):
    table("single-raft", "single-bolt", ("raft", "bbolt"), "One Arca node, on raft and on bbolt:")
PY
