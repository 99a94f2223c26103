#!/usr/bin/env bash
# Runs Arca and OpenBao one after the other on the same loopback port, with
# the same `arca bench` runs against each, round after round, and prints the
# median of each figure with the Arca/OpenBao ratio (the BENCHMARKS.md table).
#
#   ARCA=./arca BAO=/path/to/bao bench/compare-openbao.sh durable|dev
#
# Environment: WORKLOADS (comma list, default kv-read,kv-write,token-create),
# ROUNDS (3), DUR (5s), CONC (16), OUT (results file, JSON lines; default a
# temporary file). Durable means Arca on bbolt and OpenBao on integrated raft
# (one node), each initialised with one key share and unsealed over the API.
# Nothing of OpenBao is kept here: build it from its own repository.
set -euo pipefail

mode="${1:-durable}"
: "${ARCA:?set ARCA to the arca binary}" "${BAO:?set BAO to the bao binary}"
WORKLOADS="${WORKLOADS:-kv-read,kv-write,token-create}"
ROUNDS="${ROUNDS:-3}" DUR="${DUR:-5s}" CONC="${CONC:-16}"
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

# start <arca|bao>: starts the server; sets server_pid and token.
start() {
	local name="$1" bin dir="$work/$1-data"
	rm -rf "$dir" && mkdir -p "$dir"
	if [ "$name" = arca ]; then bin="$ARCA"; else bin="$BAO"; fi
	if [ "$mode" = dev ]; then
		"$bin" server -dev -dev-root-token-id=root -dev-listen-address="$addr" >"$work/$name.log" 2>&1 &
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
	"$bin" server -config "$work/$name.hcl" >"$work/$name.log" 2>&1 &
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

stop() {
	kill "$server_pid"
	wait "$server_pid" 2>/dev/null || true
	server_pid=""
}

for round in $(seq "$ROUNDS"); do
	for name in arca bao; do
		start "$name"
		for w in ${WORKLOADS//,/ }; do
			"$ARCA" bench -addr="http://$addr" -token="$token" -duration="$DUR" -concurrency="$CONC" \
				-workload="$w" -format=json -quiet |
				python3 -c "
import json, sys
data = json.load(sys.stdin)
for r in (data if isinstance(data, list) else [data]):
    r.update(server='$name', round=$round, mode='$mode')
    print(json.dumps(r))" >>"$OUT"
		done
		stop
	done
done

echo "results: $OUT" >&2
python3 - "$OUT" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
by = {}
for r in rows:
    by.setdefault((r["workload"], r["server"]), []).append(r)
print("| workload | Arca ops/s | OpenBao ops/s | Arca/OpenBao | Arca p99 ms | OpenBao p99 ms |")
print("| --- | ---: | ---: | ---: | ---: | ---: |")
for w in dict.fromkeys(r["workload"] for r in rows):
    a, b = by.get((w, "arca"), []), by.get((w, "bao"), [])
    if not a or not b:
        continue
    med = lambda rs, k: statistics.median(x[k] for x in rs)
    ao, bo = med(a, "ops_per_sec"), med(b, "ops_per_sec")
    errs = sum(sum((x.get("errors") or {}).values()) if isinstance(x.get("errors"), dict) else (x.get("errors") or 0) for x in a + b)
    print(f"| {w} | {ao:,.0f} | {bo:,.0f} | {ao/bo:.2f}× | {med(a,'p99_ms'):.2f} | {med(b,'p99_ms'):.2f} |" + (f" errors: {errs}" if errs else ""))
PY
