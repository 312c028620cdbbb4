#!/usr/bin/env bats
# ws-serve over WebSocket: the INITIAL snapshot, PING/PONG, the UPDATE
# stream shared by every client, and control frames.
bats_require_minimum_version 1.5.0
load helper

ws() { "$PY" "$TOP/tests/peers/ws.py" --timeout 30 "$@"; }
raw() { "$PY" "$TOP/tests/peers/raw.py" --timeout 20 "$@"; }
fanout() { "$PY" "$TOP/tests/peers/fanout.py" --timeout 30 "$@"; }

setup() {
	start_server --interval 10-20
}

teardown() {
	stop_servers
}

@test "ws: the first message is an INITIAL with the five events, an epoch and a seq" {
	run -0 ws "$URL" recv bye
	[ "${#lines[@]}" -eq 2 ]
	init=${lines[0]}
	check "$init" \
		'.type == "INITIAL"' \
		'.epoch | type == "string" and test("^[A-Za-z0-9_-]+$")' \
		'.seq | type == "number" and . >= 0 and . == floor' \
		'.data | length == 5' \
		'[.data[].id] | sort == ["EVENT#00","EVENT#01","EVENT#02","EVENT#03","EVENT#04"]' \
		'all(.data[]; .name | type == "string" and length > 0)' \
		'all(.data[]; .score | type == "number" and . == floor)' \
		'all(.data[]; .updatedAt | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[.][0-9]{3}Z$"))' \
		'all(.data[]; .updatedAt | sub("[.][0-9]{3}Z$"; "Z") | fromdateiso8601 | . > 1500000000)'
	# The scores are integers as written, not only in value.
	! [[ $init =~ \"score\":-?[0-9]+[.eE] ]]
	check "${lines[1]}" '. == {"peer":"close","code":1000,"reason":""}'
	# Another start of the server is another epoch.
	e1=$(jq -r .epoch <<<"$init")
	start_server --interval 10-20
	run -0 ws "$URL" recv bye
	check "${lines[0]}" '.type == "INITIAL"' ".epoch != \"$e1\"" '.epoch | test("^[A-Za-z0-9_-]+$")'
}

@test "ws: PING gets a PONG echoing the timestamp as the same JSON value, with serverTime" {
	before=$(date +%s%3N)
	run -0 ws "$URL" recv \
		'send:{"type":"PING","timestamp":1795639227450}' reply \
		'send:{"type":"PING","timestamp":9007199254740993}' reply \
		'send:{"type":"PING","timestamp":0.1}' reply \
		'send:{"type":"PING","timestamp":1795639227450.5}' reply \
		'send:{"type":"PING","timestamp":"t-1 é"}' reply \
		'send:{"type":"PING","timestamp":null}' reply \
		'send:{"type":"PING","timestamp":{"a":[1,true]}}' reply \
		'send:{"type":"PING"}' reply \
		ping:hello 'send:{"type":"PING","timestamp":5}' reply \
		bye
	after=$(date +%s%3N)
	[ "${#lines[@]}" -eq 12 ]
	pongs=$(printf '%s\n' "${lines[@]:1:8}" "${lines[10]}" | jq -sc .)
	check "$pongs" \
		'length == 9 and all(.[]; .type == "PONG")' \
		'.[0].timestamp == 1795639227450' \
		'.[1].timestamp == 9007199254740993' \
		'.[2].timestamp == 0.1' \
		'.[3].timestamp == 1795639227450.5' \
		'.[4].timestamp == "t-1 é"' \
		'.[5] | has("timestamp") and .timestamp == null' \
		'.[6].timestamp == {"a":[1,true]}' \
		'.[7] | has("timestamp") | not' \
		'.[8].timestamp == 5' \
		"all(.[]; .serverTime | type == \"number\" and . == floor and . >= $before - 1000 and . <= $after + 1000)"
	# jq holds numbers as doubles: check the big integer exactly too.
	"$PY" -c 'import json, sys; assert json.loads(sys.argv[1])["timestamp"] == 9007199254740993, sys.argv[1]' "${lines[2]}"
	# websockets' own Ping frame was answered on the way.
	assert_equal "${lines[9]}" '{"peer":"pong"}'
}

@test "ws: three clients receive the same UPDATEs in the same seq order, seq rising by one" {
	T=$BATS_TEST_TMPDIR
	run -0 fanout "$URL" 3 30 "$T"
	m=0
	for c in 1 2 3; do
		msgs=$(jq -sc . "$T/client-$c.jsonl")
		# One connection's UPDATEs start one above its INITIAL and rise by one.
		check "$msgs" \
			'.[0].type == "INITIAL"' \
			'.[1:] | length >= 30 and all(.[]; .type == "UPDATE")' \
			'[.[1:][].seq] == [range(.[0].seq + 1; .[0].seq + length)]'
		s=$(jq '.[0].seq' <<<"$msgs")
		if [ "$s" -gt "$m" ]; then m=$s; fi
	done
	# fanout.py read every connection up to seq m+30: all hold m+1..m+30.
	sel=".type == \"UPDATE\" and .seq > $m and .seq <= $m + 30"
	jq -c "select($sel)" "$T/client-1.jsonl" >"$T/want"
	[ "$(wc -l <"$T/want")" -eq 30 ]
	for c in 2 3; do
		jq -c "select($sel)" "$T/client-$c.jsonl" >"$T/got"
		cmp "$T/want" "$T/got"
	done
	# An UPDATE is the changed event: same keys, same name as in the
	# INITIAL, and updatedAt the instant of ts.
	check "$(jq -sc . "$T/client-1.jsonl")" \
		'all(.[1:][]; .data | keys == ["id","name","score","updatedAt"])' \
		'all(.[1:][]; .ts | type == "number" and . == floor)' \
		'all(.[1:][]; .data.score | type == "number" and . == floor)' \
		'.[0].data as $init | all(.[1:][]; .data as $d | ($init[] | select(.id == $d.id) | .name) == $d.name)' \
		'all(.[1:][]; .data.updatedAt == (.ts / 1000 | floor | strftime("%Y-%m-%dT%H:%M:%S")) + "." + ("00" + (.ts % 1000 | tostring))[-3:] + "Z")'
}

@test "ws: a Ping frame gets a Pong frame with the same payload; a Pong frame is ignored" {
	run -0 raw ws "$PORT" FM:9:68656c6c6f wait:pong FM:9: wait:pong \
		FM:10:abcd FM:9:ab*125 wait:pong
	pongs=()
	for l in "${lines[@]}"; do
		case $l in pong*) pongs+=("$l") ;; close* | eof) false ;; esac
	done
	[ "${#pongs[@]}" -eq 3 ]
	assert_equal "${pongs[0]}" "pong 68656c6c6f"
	assert_equal "${pongs[1]}" "pong"
	assert_equal "${pongs[2]}" "pong $(printf 'ab%.0s' $(seq 125))"
}

@test "ws: after the client's close frame the server answers 1000 and closes first, not waiting for the client's FIN" {
	out="$BATS_TEST_TMPDIR/raw.out"
	raw ws "$PORT" FM:8:03e8 wait:close wait:eof hold:10 >"$out" &
	wait_for "$out" '^eof\|^reset'
	# The client still holds its socket open; the server has let go of
	# its end (RFC 6455 7.1.1: the server closes first and keeps the
	# TIME_WAIT): the only connection open is the one asking.
	run -0 curl -sS --noproxy '*' "$HTTP/metrics"
	assert_line 'wskit_connections_open 1'
	# The answer counts among the close frames the server sent.
	assert_line 'wskit_closes_total{code="1000"} 1'
	kill %1
	run grep -E '^(close|eof|reset)' "$out"
	assert_equal "${lines[*]}" "close 1000 eof"
}
