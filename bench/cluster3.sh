#!/usr/bin/env bash
# Starts a 3-node Arca cluster on loopback (integrated Raft, as the README's
# "High availability" section forms it) and runs the same `arca bench` runs
# through the active node and through a standby, round after round, printing
# each figure (the BENCHMARKS.md cluster table). Also one node on raft and one
# on bbolt, for what the log costs.
#
#   ARCA=./arca bench/cluster3.sh
#
# Environment: WORKLOADS (default kv-write,kv-read,token-create), ROUNDS (3),
# DUR (5s), CONC (16).
set -euo pipefail
: "${ARCA:?set ARCA to the arca binary}"
WORKLOADS="${WORKLOADS:-kv-write,kv-read,token-create}"
ROUNDS="${ROUNDS:-3}" DUR="${DUR:-5s}" CONC="${CONC:-16}"
work="$(mktemp -d)"; echo "work: $work" >&2
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
API=(- 18410 18420 18430); CLUSTER=(- 18411 18421 18431)

conf() { # conf N [join-port]
	{
		printf 'storage "raft" {\n  path = "%s/n%s"\n  node_id = "n%s"\n' "$work" "$1" "$1"
		if [ -n "${2:-}" ]; then printf '  retry_join { leader_api_addr = "http://127.0.0.1:%s" }\n' "$2"; fi
		printf '}\nlistener "tcp" {\n  address = "127.0.0.1:%s"\n  tls_disable = true\n}\n' "${API[$1]}"
		printf 'api_addr = "http://127.0.0.1:%s"\ncluster_addr = "https://127.0.0.1:%s"\ndisable_mlock = true\n' "${API[$1]}" "${CLUSTER[$1]}"
	} > "$work/n$1.hcl"
}
up() { until curl -s -o /dev/null "http://127.0.0.1:$1/v1/sys/health"; do sleep 0.1; done; }
unsealed() { until curl -s "http://127.0.0.1:$1/v1/sys/seal-status" | grep -q '"sealed":false'; do sleep 0.1; done; }

conf 1; conf 2 "${API[1]}"; conf 3 "${API[1]}"
for n in 1 2 3; do
	"$ARCA" server -config "$work/n$n.hcl" > "$work/n$n.log" 2>&1 &
	pids+=($!)
	up "${API[$n]}"
done
init="$(curl -s -X PUT -d '{"secret_shares":1,"secret_threshold":1}' "http://127.0.0.1:${API[1]}/v1/sys/init")"
key="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["keys"][0])' <<< "$init")"
token="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["root_token"])' <<< "$init")"
curl -s -X PUT -d "{\"key\":\"$key\"}" "http://127.0.0.1:${API[1]}/v1/sys/unseal" > /dev/null
unsealed "${API[1]}"
for n in 2 3; do
	until curl -s "http://127.0.0.1:${API[$n]}/v1/sys/seal-status" | grep -q '"initialized":true'; do sleep 0.1; done
	curl -s -X PUT -d "{\"key\":\"$key\"}" "http://127.0.0.1:${API[$n]}/v1/sys/unseal" > /dev/null
	unsealed "${API[$n]}"
done

run() { # run label addr: each workload alone, ROUNDS times
	for r in $(seq "$ROUNDS"); do for wl in ${WORKLOADS//,/ }; do
		"$ARCA" bench -addr="http://127.0.0.1:$2" -token="$token" -duration="$DUR" -concurrency="$CONC" \
			-workload="$wl" -format=json -quiet |
			python3 -c 'import json,sys
for w in json.load(sys.stdin):
    print("%s round %s  %-13s %8.0f ops/s  p50 %6.2f ms  p99 %6.2f ms  errors %s" % (sys.argv[1], sys.argv[2], w["workload"], w["ops_per_sec"], w["p50_ms"], w["p99_ms"], sum(w["errors"].values())))' "$1" "$r"
	done; done
}
run "3-node active " "${API[1]}"
run "3-node standby" "${API[2]}"

# One node alone, on raft and on bbolt: what the log costs.
kill "${pids[@]}"; wait 2>/dev/null || true; pids=()
single() { # single label storage-block port
	printf "$2" > "$work/$1.hcl"; printf '\nlistener "tcp" {\n  address = "127.0.0.1:%s"\n  tls_disable = true\n}\ncluster_addr = "https://127.0.0.1:%s"\ndisable_mlock = true\n' "$3" "$(($3 + 1))" >> "$work/$1.hcl"
	"$ARCA" server -config "$work/$1.hcl" > "$work/$1.log" 2>&1 &
	pids+=($!)
	up "$3"
	local init key
	init="$(curl -s -X PUT -d '{"secret_shares":1,"secret_threshold":1}' "http://127.0.0.1:$3/v1/sys/init")"
	key="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["keys"][0])' <<< "$init")"
	token="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["root_token"])' <<< "$init")"
	curl -s -X PUT -d "{\"key\":\"$key\"}" "http://127.0.0.1:$3/v1/sys/unseal" > /dev/null
	unsealed "$3"
	run "1-node $1" "$3"
	kill "${pids[@]}"; wait 2>/dev/null || true; pids=()
}
single "raft " "storage \"raft\" {\n  path = \"$work/single\"\n  node_id = \"s\"\n}" 18440
single "bolt " "storage \"bolt\" {\n  path = \"$work/single.db\"\n}" 18450
