#!/usr/bin/env bash
# Runs Arca and OpenBao one after the other on the same loopback port, with
# the same `arca bench` runs against each, round after round, and prints the
# median of each figure with the range over the rounds and the Arca/OpenBao
# ratio (the BENCHMARKS.md table).
#
#   ARCA=./arca BAO=/path/to/bao bench/compare-openbao.sh durable|dev
#
# Each round also measures the ceiling: `arca bench -ceiling`, a Go HTTP
# handler that does no work, driven by the same generator on the same cores,
# so that every server's figure can be read against what the machine gives.
#
# The server (Arca, OpenBao or the ceiling) runs on SERVER_CPUS and the
# generator on LOAD_CPUS (taskset; defaults 0 and 1), so that neither takes
# the other's core; Go sizes GOMAXPROCS to the CPUs it may use.
#
# Each workload runs against a server started for it alone, so that no row
# depends on the rows before it, and Arca and OpenBao take turns workload by
# workload, so that the runs a ratio compares are close in time.
#
# Environment: WORKLOADS (comma list, default kv-read,kv-write,token-create),
# ROUNDS (3), DUR (5s), CONC (16), KV_KEYS (1000), OUT (results file, JSON lines; default a
# temporary file), BAO unset runs Arca and the ceiling only. Durable means
# Arca on bbolt and OpenBao on integrated raft (one node), each initialised
# with one key share and unsealed over the API. Nothing of OpenBao is kept
# here: build it from its own repository.
set -euo pipefail

mode="${1:-durable}"
: "${ARCA:?set ARCA to the arca binary}"
BAO="${BAO:-}"
WORKLOADS="${WORKLOADS:-kv-read,kv-write,token-create}"
ROUNDS="${ROUNDS:-3}" DUR="${DUR:-5s}" CONC="${CONC:-16}" KV_KEYS="${KV_KEYS:-1000}"
SERVER_CPUS="${SERVER_CPUS:-0}" LOAD_CPUS="${LOAD_CPUS:-1}"
OUT="${OUT:-$(mktemp --suffix=.jsonl)}"
addr=127.0.0.1:18300
work="$(mktemp -d)"
server_pid=""
trap '[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$work"' EXIT

json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

wait_up() {
	for _ in $(seq 100); do
		if curl -s -o /dev/null "http://$addr/v1/sys/seal-status"; then return 0; fi
		sleep 0.1
	done
	echo "server did not come up" >&2
	return 1
}

# start <arca|bao|ceiling>: starts the server on SERVER_CPUS; sets
# server_pid and token.
start() {
	local name="$1" bin dir="$work/$1-data"
	rm -rf "$dir" && mkdir -p "$dir"
	if [ "$name" = ceiling ]; then
		taskset -c "$SERVER_CPUS" "$ARCA" bench -ceiling="$addr" >"$work/$name.log" 2>&1 &
		server_pid=$!
		wait_up
		token=none
		return
	fi
	if [ "$name" = arca ]; then bin="$ARCA"; else bin="$BAO"; fi
	if [ "$mode" = dev ]; then
		taskset -c "$SERVER_CPUS" "$bin" server -dev -dev-root-token-id=root -dev-listen-address="$addr" >"$work/$name.log" 2>&1 &
		server_pid=$!
		wait_up
		token=root
		return
	fi
	if [ "$name" = arca ]; then
		printf 'storage "bolt" { path = "%s/arca.db" }\nlistener "tcp" { address = "%s"\n tls_disable = true }\ndisable_mlock = true\n' "$dir" "$addr" >"$work/$name.hcl"
	else
		printf 'storage "raft" { path = "%s"\n node_id = "n1" }\nlistener "tcp" { address = "%s"\n tls_disable = true }\napi_addr = "http://%s"\ncluster_addr = "http://127.0.0.1:18301"\ndisable_mlock = true\n' "$dir" "$addr" "$addr" >"$work/$name.hcl"
	fi
	taskset -c "$SERVER_CPUS" "$bin" server -config "$work/$name.hcl" >"$work/$name.log" 2>&1 &
	server_pid=$!
	wait_up
	local init key
	init="$(curl -sf -X PUT -d '{"secret_shares":1,"secret_threshold":1}' "http://$addr/v1/sys/init")"
	key="$(echo "$init" | json '["keys_base64"][0]')"
	token="$(echo "$init" | json '["root_token"]')"
	curl -sf -X PUT -d "{\"key\":\"$key\"}" "http://$addr/v1/sys/unseal" >/dev/null
	# Raft elects itself leader a moment after unsealing.
	for _ in $(seq 100); do
		if curl -sf -H "X-Vault-Token: $token" "http://$addr/v1/sys/mounts" >/dev/null; then break; fi
		sleep 0.1
	done
}

# stop ends the server; one that had already exited is reported with the
# end of its log, and the run goes on without the figure it did not give.
stop() {
	if ! kill "$server_pid" 2>/dev/null; then
		echo "the $1 server had exited before the end of its run; its log ends:" >&2
		tail -5 "$work/$1.log" >&2
	fi
	wait "$server_pid" 2>/dev/null || true
	server_pid=""
}

# run <server> <workload> <round>: one generator run, appended to OUT; a
# run that fails (its server died) is reported and leaves no figure.
run() {
	run1 "$@" || echo "no figure for $1 $2 in round $3" >&2
}

run1() {
	taskset -c "$LOAD_CPUS" "$ARCA" bench -addr="http://$addr" -token="$token" -duration="$DUR" -concurrency="$CONC" \
		-kv-keys="$KV_KEYS" -workload="$2" -format=json -quiet |
		python3 -c "
import json, sys
data = json.load(sys.stdin)
for r in (data if isinstance(data, list) else [data]):
    r.update(server='$1', round=$3, mode='$mode')
    print(json.dumps(r))" >>"$OUT"
}

servers=arca
[ -n "$BAO" ] && servers="arca bao"
echo "load before: $(uptime)" >&2
for round in $(seq "$ROUNDS"); do
	start ceiling
	run ceiling ceiling "$round"
	stop ceiling
	# A fresh server for each workload: a row must not pay for what the
	# rows before it left stored (the tokens of token-create live for ten
	# minutes), as OpenBao's dev storage slows with every entry it holds.
	# The servers take turns workload by workload, so that the two runs a
	# ratio compares are seconds apart, not minutes, on a machine whose
	# other load comes and goes.
	for w in ${WORKLOADS//,/ }; do
		for name in $servers; do
			start "$name"
			run "$name" "$w" "$round"
			stop "$name"
		done
	done
done
echo "load after: $(uptime)" >&2

echo "results: $OUT" >&2
python3 - "$OUT" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
by = {}
for r in rows:
    by.setdefault((r["workload"], r["server"]), {})[r["round"]] = r

def errs(rs):
    return sum(sum((x.get("errors") or {}).values()) for x in rs)

def spread(vals, fmt):
    return f"{fmt(statistics.median(vals))} [{fmt(min(vals))}–{fmt(max(vals))}]"

ops = lambda v: f"{v:,.0f}"
ms = lambda v: f"{v:.2f}"
ratio = lambda v: f"{v:.2f}×"

ceil = by.get(("ceiling", "ceiling"), {})
if ceil:
    print(f"ceiling (trivial handler): {spread([r['ops_per_sec'] for r in ceil.values()], ops)} ops/s, "
          f"p99 {spread([r['p99_ms'] for r in ceil.values()], ms)} ms")
    kv = by.get(("kv-read", "arca"), {})
    share = [kv[n]["ops_per_sec"] / ceil[n]["ops_per_sec"] for n in kv if n in ceil]
    if share:
        print(f"Arca kv-read / ceiling, same round: {spread([100 * s for s in share], lambda v: f'{v:.0f}%')}")
    print()
print("Median of the rounds, [min–max] over them; the ratio is taken per round.")
print()
print("| workload | Arca ops/s | OpenBao ops/s | Arca/OpenBao | Arca p99 ms | OpenBao p99 ms |")
print("| --- | ---: | ---: | ---: | ---: | ---: |")
for w in dict.fromkeys(r["workload"] for r in rows if r["server"] == "arca"):
    a, b = by.get((w, "arca"), {}), by.get((w, "bao"), {})
    cols = [spread([r["ops_per_sec"] for r in a.values()], ops)]
    if b:
        per = [a[n]["ops_per_sec"] / b[n]["ops_per_sec"] for n in a if n in b and b[n]["ops_per_sec"] > 0]
        cols += [spread([r["ops_per_sec"] for r in b.values()], ops), spread(per, ratio) if per else "—"]
    else:
        cols += ["—", "—"]
    cols.append(spread([r["p99_ms"] for r in a.values()], ms))
    cols.append(spread([r["p99_ms"] for r in b.values()], ms) if b else "—")
    n = errs(list(a.values()) + list(b.values()))
    print(f"| {w} | " + " | ".join(cols) + " |" + (f" errors: {n}" if n else ""))
PY
