#!/usr/bin/env bats
# ws-serve's streams over plain HTTP, as man/ws-protocol.7 describes them:
# Server-Sent Events at /events/stream and long polling at /events/poll,
# seen with curl as any HTTP client would.
bats_require_minimum_version 1.5.0
load helper

# hcurl: curl with a bound on time, never through a proxy.
hcurl() { timeout 20 curl -s --noproxy '*' "$@"; }

# stream SECS FILE [curl options]: reads /events/stream for SECS seconds
# into FILE, its header into FILE.h. curl ends at --max-time (status 28):
# the stream has no end of its own.
stream() {
	local secs=$1 file=$2
	shift 2
	run hcurl -N --max-time "$secs" -D "$file.h" -o "$file" "$@" \
		"$HTTP/events/stream"
	[ "$status" -eq 28 ] || { echo "curl status $status" >&2; return 1; }
}

# events FILE: the events of a stream, one "ID<TAB>DATA" line each.
events() {
	awk '/^id: / { id = substr($0, 5) } /^data: / { print id "\t" substr($0, 7) }' "$1"
}

# header FILE NAME: the value of header field NAME (any case) in FILE.
header() {
	awk -v n="$(tr A-Z a-z <<<"$2")" -F': ' 'tolower($1) == n { sub(/\r$/, "", $2); print $2 }' "$1"
}

# now: the current epoch and seq, from /health, as "EPOCH SEQ".
now() {
	hcurl "$HTTP/health" | jq -r '"\(.epoch) \(.seq)"'
}

setup() {
	B=$BATS_TEST_TMPDIR
}

teardown() {
	stop_servers
}

@test "sse: 200 text/event-stream with no length, retry 1000, an INITIAL, then every UPDATE in seq order, ids EPOCH:SEQ" {
	start_server --interval 100-200
	stream 1.5 "$B/s"
	run -0 head -1 "$B/s.h"
	assert_output --regexp '^HTTP/1.1 200 OK'
	assert_equal "$(header "$B/s.h" Content-Type)" "text/event-stream"
	assert_equal "$(header "$B/s.h" Cache-Control)" "no-cache"
	assert_equal "$(header "$B/s.h" X-Accel-Buffering)" "no"
	assert_equal "$(header "$B/s.h" Content-Length)" ""
	assert_equal "$(header "$B/s.h" Transfer-Encoding)" ""
	run -0 head -2 "$B/s"
	assert_equal "${lines[0]}" "retry: 1000"
	[ "$(sed -n 2p "$B/s")" = "" ]
	# Each event is "id:" then "data:" then an empty line.
	run -0 awk 'NR > 2 && !/^(id: .+|data: .+|)$/' "$B/s"
	assert_output ""
	events "$B/s" | jq -Rsc 'split("\n") | map(select(. != "") | split("\t") | {id: .[0], m: (.[1] | fromjson)})' >"$B/ev"
	check "$(cat "$B/ev")" \
		'length >= 5' \
		'.[0].m.type == "INITIAL" and (.[0].m.data | length) == 5' \
		'.[0].m.epoch as $e | all(.[]; .id == "\($e):\(.m.seq)")' \
		'all(.[1:][]; .m.type == "UPDATE")' \
		'[.[].m.seq] as $s | $s == [range($s[0]; $s[0] + length)]'
}

@test "sse: Last-Event-ID of this epoch resumes after it with no INITIAL; another epoch or a malformed id starts with an INITIAL" {
	start_server --interval 100-200
	stream 1 "$B/a"
	# The id of the second UPDATE: the reconnect misses what came after.
	id=$(events "$B/a" | sed -n 3p | cut -f1)
	epoch=${id%%:*} seq=${id#*:}
	[ -n "$epoch" ] && [ "$seq" -gt 0 ]
	stream 1 "$B/b" -H "Last-Event-ID: $id"
	events "$B/b" | cut -f2 | jq -sc . >"$B/evb"
	check "$(cat "$B/evb")" \
		'length >= 3' \
		'all(.[]; .type == "UPDATE")' \
		"[.[].seq] == [range($seq + 1; $seq + 1 + length)]"
	for bad in "X${epoch:1}:$seq" "$epoch" "$epoch:x" "$epoch:$((seq + 100000))" "garbage"; do
		stream 0.5 "$B/c" -H "Last-Event-ID: $bad"
		run -0 jq -r .type < <(events "$B/c" | head -1 | cut -f2)
		assert_output "INITIAL"
	done
}

@test "sse: a ': ping' comment at every heartbeat, and nothing else while nothing changes" {
	start_server --interval 60000-60000 --heartbeat 0.3
	stream 1.6 "$B/s"
	run -0 grep -c '^: ping$' "$B/s"
	[ "$output" -ge 3 ]
	events "$B/s" | cut -f2 | jq -sc '[.[].type]' >"$B/types"
	assert_equal "$(cat "$B/types")" '["INITIAL"]'
}

@test "sse and poll need the token when the server has one, as a header or ?token=" {
	start_server --interval 60000-60000 --token s3cret
	for path in /events/stream /events/poll; do
		run -0 hcurl -o /dev/null -w '%{http_code} %header{www-authenticate}' "$HTTP$path"
		assert_output "401 Bearer"
		run -0 hcurl -o /dev/null -w '%{http_code}' "$HTTP$path?token=wrong&timeout=0"
		assert_output "401"
	done
	stream 0.5 "$B/s" -H "Authorization: Bearer s3cret"
	run -0 head -1 "$B/s.h"
	assert_output --regexp '^HTTP/1.1 200 OK'
	run -0 hcurl "$HTTP/events/poll?token=s3cret"
	run -0 jq -r '.[0].type' <<<"$output"
	assert_output "INITIAL"
}

@test "sse and poll echo an allowed Origin, in a poll's answer that waited too; another Origin gets 403" {
	local o=https://a.example
	start_server --interval 60000-60000 --allow-origin "$o"
	read -r epoch seq < <(now)
	# A poll that waits, while other requests come and go: the Origin it
	# echoes must be its own, not whatever took the memory of its request.
	hcurl -D "$B/waited.h" -o /dev/null -H "Origin: $o" \
		"$HTTP/events/poll?since=$seq&epoch=$epoch&timeout=1" &
	local poller=$!
	sleep 0.3
	for n in 1 2 3; do
		hcurl -o /dev/null -H "Authorization: Bearer VICTIM-$n" "$HTTP/events?pad=$(printf '%0300d' 0)"
	done
	wait "$poller"
	run -0 hcurl -D "$B/now.h" -o /dev/null -H "Origin: $o" "$HTTP/events/poll"
	stream 0.5 "$B/s" -H "Origin: $o"
	for h in "$B/waited.h" "$B/now.h" "$B/s.h"; do
		assert_equal "$(header "$h" Access-Control-Allow-Origin)" "$o"
		assert_equal "$(header "$h" Vary)" "Origin"
	done
	assert_equal "$(head -1 "$B/waited.h" | tr -d '\r')" "HTTP/1.1 204 No Content"
	for path in /events/stream /events/poll; do
		run -0 hcurl -o /dev/null -w '%{http_code}' -H 'Origin: https://b.example' "$HTTP$path"
		assert_output "403"
	done
}

@test "poll: with no since, or one it cannot use, 200 at once with one INITIAL" {
	start_server --interval 60000-60000
	read -r epoch seq < <(now)
	for q in "" "?since=abc" "?since=-1" "?since=$seq&epoch=X${epoch:1}" "?since=$((seq + 1))" "?since=$((seq + 1))&epoch=$epoch"; do
		run -0 hcurl -D "$B/h" "$HTTP/events/poll$q"
		assert_equal "$(header "$B/h" Content-Type)" "application/json"
		check "$output" 'length == 1' '.[0].type == "INITIAL"' \
			".[0].epoch == \"$epoch\" and .[0].seq == $seq" \
			'(.[0].data | length) == 5'
	done
}

@test "poll: since an older seq, the UPDATEs after it in order; since one that left the ring (--history 5), an INITIAL" {
	start_server --interval 10-20 --history 1000
	read -r epoch seq < <(now)
	sleep 0.3
	run -0 hcurl "$HTTP/events/poll?since=$seq&epoch=$epoch&timeout=0"
	check "$output" 'length >= 2' 'all(.[]; .type == "UPDATE")' \
		"[.[].seq] == [range($seq + 1; $seq + 1 + length)]"
	stop_servers
	start_server --interval 10-20 --history 5
	read -r epoch seq < <(now)
	sleep 0.5
	run -0 hcurl "$HTTP/events/poll?since=$seq&epoch=$epoch&timeout=0"
	check "$output" 'length == 1' '.[0].type == "INITIAL"' ".[0].seq > $seq + 5"
}

@test "poll: at the current seq it waits for the next UPDATE, or answers 204 with no body and no Content-Length" {
	start_server --interval 300-400
	read -r epoch seq < <(now)
	run -0 hcurl "$HTTP/events/poll?since=$seq&epoch=$epoch&timeout=10"
	check "$output" 'length >= 1' 'all(.[]; .type == "UPDATE")' \
		".[0].seq == $seq + 1"
	stop_servers
	start_server --interval 60000-60000
	read -r epoch seq < <(now)
	run -0 hcurl -D "$B/h" -o "$B/body" -w '%{http_code}' \
		"$HTTP/events/poll?since=$seq&epoch=$epoch&timeout=0.3"
	assert_output "204"
	[ ! -s "$B/body" ]
	assert_equal "$(header "$B/h" Content-Length)" ""
	assert_equal "$(header "$B/h" Content-Type)" ""
	# The connection stays open: a second poll on it is answered too.
	run -0 hcurl -o /dev/null -o /dev/null -w '%{http_code} %{num_connects}\n' \
		"$HTTP/events/poll?since=$seq&timeout=0.2" "$HTTP/events/poll"
	assert_equal "${lines[*]}" "204 1 200 0"
}

@test "poll: requests pipelined behind a waiting poll are answered in order once it is, with one before it too" {
	start_server --interval 60000-60000
	read -r epoch seq < <(now)
	poll="GET /events/poll?since=$seq&epoch=$epoch&timeout=0.5 HTTP/1.1\r\nHost: x\r\n\r\n"
	health='GET /health HTTP/1.1\r\nHost: x\r\n\r\n'
	for reqs in "$poll$health$health" "$health$poll$health"; do
		run -0 "$PY" "$TOP/tests/peers/raw.py" --timeout 20 http "$PORT" --count 3 < <(printf "$reqs")
		[ "${#lines[@]}" -eq 3 ] || { echo "$reqs: ${#lines[@]} answers" >&2; false; }
		assert_equal "$(jq -sc '[.[].status]' <<<"$output")" \
			"$(if [ "${reqs:0:10}" = "GET /healt" ]; then echo '[200,204,200]'; else echo '[204,200,200]'; fi)"
	done
}

@test "poll: a timeout outside 0 to 120 seconds, or not a number, gets 400 saying so" {
	start_server --interval 60000-60000
	for t in 121 120.5 -1 abc 1e3 ""; do
		run -0 hcurl -w ' %{http_code}' "$HTTP/events/poll?since=1&timeout=$t"
		assert_output '{"error":"timeout must be 0 to 120 seconds"} 400'
	done
	run -0 hcurl -o /dev/null -w '%{http_code}' "$HTTP/events/poll?timeout=120"
	assert_output "200"
}

@test "stream and poll are for GET only: HEAD and POST get 405 with Allow: GET" {
	start_server --interval 60000-60000
	for path in /events/stream /events/poll; do
		for m in HEAD POST; do
			if [ $m = HEAD ]; then opt=(-I); else opt=(-X POST); fi
			run -0 hcurl "${opt[@]}" -o /dev/null -w '%{http_code} %header{allow}' "$HTTP$path"
			assert_output "405 GET"
		done
	done
}
