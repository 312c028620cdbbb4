#!/usr/bin/env bats
# scripts/nginx-lb: nginx round robin, no sticky sessions, in front of two
# ws-serve instances sharing one Redis. WebSocket and REST pass through, and
# a client that lands on the other instance, or loses its instance, resumes
# with nothing missed.
bats_require_minimum_version 1.5.0
load helper

LB=$TOP/scripts/nginx-lb

setup_file() {
	start_redis
}

teardown_file() {
	stop_redis
}

setup() {
	B=$BATS_TEST_TMPDIR
	PORTS=() PIDS=() WATCHERS=() LB_PID=
	[ "$(redis-cli -p "$RP" FLUSHALL)" = OK ]
}

teardown() {
	local p
	for p in "${WATCHERS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${WATCHERS[@]}"; do wait "$p" 2>/dev/null || true; done
	stop_lb
	stop_servers
}

ws() { "$PY" "$TOP/tests/peers/ws.py" --timeout 20 "$@"; }

# start_lb: two ws-serve instances on the Redis, nginx-lb in front of them;
# LBP its port, LBURL its ws:// URL, LBHTTP its http:// one.
start_lb() {
	local i
	for i in 0 1; do
		start_server --interval 100-200 --history 100000 \
			--redis "redis://127.0.0.1:$RP" --lease 1
		PORTS+=("$PORT") PIDS+=("$SERVER_PID")
	done
	LBP=$(free_port)
	LB_LOG=$B/lb.log
	"$LB" --port "$LBP" --upstream "127.0.0.1:${PORTS[0]}" \
		--upstream "127.0.0.1:${PORTS[1]}" 2>"$LB_LOG" 3>&- &
	LB_PID=$!
	wait_for "$LB_LOG" "listening on http://127.0.0.1:$LBP/" || { cat "$LB_LOG" >&2; return 1; }
	LBURL="ws://127.0.0.1:$LBP/"
	LBHTTP="http://127.0.0.1:$LBP"
	# Both instances up on Redis, one of them leading.
	for i in $(seq 1 100); do
		[ "$(for p in "${PORTS[@]}"; do curl -s --max-time 2 "http://127.0.0.1:$p/health" |
			jq -c '[.redis, .leader]'; done | sort | tr -d '\n')" = '["up",false]["up",true]' ] &&
			return 0
		sleep 0.05
	done
	echo "the instances do not come up on Redis with one leader" >&2
	return 1
}

# stop_lb: SIGTERM; nginx-lb stops nginx, removes its folder and exits 0.
stop_lb() {
	[ -n "$LB_PID" ] || return 0
	local st=0
	kill -TERM "$LB_PID" 2>/dev/null || true
	wait "$LB_PID" || st=$?
	LB_PID=
	[ "$st" -eq 0 ] || { echo "nginx-lb exited $st" >&2; cat "$LB_LOG" >&2; return 1; }
}

# contiguous FILE [FROM]: FILE's INITIAL and UPDATE messages are one INITIAL
# then UPDATEs whose seq rise by one from the INITIAL's; with FROM, no INITIAL
# and UPDATEs from FROM+1. Prints the number of UPDATEs.
contiguous() {
	jq -se --argjson from "${2:-null}" '
		map(select(type == "object" and (.type == "INITIAL" or .type == "UPDATE"))) as $m
		| [$m[] | .seq] as $s
		| (if $from == null then $m[0].type == "INITIAL" and ([$m[] | select(.type == "INITIAL")] | length) == 1
		   else ([$m[] | select(.type == "INITIAL")] | length) == 0 and $s[0] == $from + 1 end)
		  and ($s | length) > 1 and all(range(1; $s | length); $s[.] == $s[. - 1] + 1)' "$1" >/dev/null || {
		echo "$1: not a contiguous stream${2:+ from $2}: $(jq -r 'select(type == "object")
			| "\(.type // "?"):\(.seq // "")"' "$1" | tr '\n' ' ' | cut -c1-600)" >&2
		return 1
	}
	grep -c '"type":"UPDATE"' "$1"
}

@test "nginx-lb: usage errors exit 2, --help exits 0, --print-config names every upstream" {
	run -2 --separate-stderr "$LB"
	[[ $stderr == *"nginx-lb: --port is required"* ]]
	run -2 --separate-stderr "$LB" --port 8080
	[[ $stderr == *"at least one --upstream"* ]]
	for bad in "--port 0 -u 127.0.0.1:1" "--port 70000 -u 127.0.0.1:1" "--port x -u 127.0.0.1:1" \
		"--port 8080 -u 127.0.0.1" "--port 8080 -u a;b:1" "--port 8080 -u 127.0.0.1:1 --bogus" \
		"--port 8080 -u 127.0.0.1:1 --workers 0" "--port 8080 -u"; do
		# shellcheck disable=SC2086
		run -2 --separate-stderr "$LB" $bad
		[[ $stderr == nginx-lb:* ]] || { echo "$bad: $stderr" >&2; false; }
	done
	run -0 "$LB" --help
	[[ ${lines[0]} == "usage: nginx-lb "* ]]
	run -0 "$LB" --print-config --port 8080 -u 127.0.0.1:3001 -u '[::1]:3002' --upstream=localhost:3003
	assert_equal "$(grep -cE '^\s*server (127\.0\.0\.1:3001|\[::1\]:3002|localhost:3003) ' <<<"$output")" 3
	[[ $output == *"listen 127.0.0.1:8080;"* ]]
	[[ $output != *"ip_hash"* && $output != *"hash "* && $output != *"sticky"* ]]
	# The configuration is one nginx accepts.
	mkdir -p "$B/p"
	"$LB" --print-config --prefix "$B/p" --port 8080 -u 127.0.0.1:3001 >"$B/p/nginx.conf"
	run -0 "$(command -v nginx || echo /usr/sbin/nginx)" -q -t -p "$B/p/" -e stderr \
		-c "$B/p/nginx.conf"
}

@test "nginx-lb: a WebSocket client through nginx gets an INITIAL and UPDATEs" {
	local e
	start_lb
	e=$(curl -s "http://127.0.0.1:${PORTS[0]}/health" | jq -r .epoch)
	run -0 ws "$LBURL" recv updates:10 bye
	printf '%s\n' "${lines[@]}" >"$B/a"
	assert_equal "$(jq -r 'select(.type == "INITIAL") | "\(.epoch) \(.data | length)"' "$B/a")" "$e 5"
	run -0 contiguous "$B/a"
	[ "$output" -ge 10 ]
	# /ws too, and ws-watch: a PING through nginx gets its PONG.
	run -0 ws "${LBURL}ws" recv 'send:{"type":"PING","timestamp":5}' reply bye
	assert_equal "$(jq -r .type <<<"${lines[0]}")" INITIAL
	assert_equal "$(jq -c '[.type, .timestamp]' <<<"${lines[1]}")" '["PONG",5]'
	run -0 --separate-stderr timeout 20 "$BIN/ws-watch" -q --type UPDATE -n 3 "$LBURL"
	assert_equal "${#lines[@]}" 3
	# nginx closes the client's connection when it stops.
	"$PY" "$TOP/tests/peers/ws.py" --timeout 20 "$LBURL" recv close >"$B/c" 2>&1 3>&- &
	WATCHERS+=("$!")
	wait_for "$B/c" '"type":"INITIAL"'
	stop_lb
	wait_for "$B/c" '"peer":"close"'
}

@test "nginx-lb: GET /events, /events/{id} and /health through nginx reach both instances" {
	local i
	start_lb
	run -0 curl -s -D "$B/h" "$LBHTTP/events"
	assert_equal "$(jq -c 'map(.id)' <<<"$output")" \
		'["EVENT#00","EVENT#01","EVENT#02","EVENT#03","EVENT#04"]'
	assert_equal "$(sed -n 1p "$B/h" | tr -d '\r')" "HTTP/1.1 200 OK"
	grep -qi '^content-type: application/json' "$B/h"
	grep -qi '^etag: "' "$B/h"
	grep -qi '^access-control-allow-origin: \*' "$B/h"
	run -0 curl -s -o /dev/null -w '%{http_code}' -X POST "$LBHTTP/events"
	assert_output 405
	run -0 curl -s "$LBHTTP/events/EVENT%2302"
	assert_equal "$(jq -r .id <<<"$output")" "EVENT#02"
	run -0 curl -s -w ' %{http_code}' "$LBHTTP/events/EVENT%2309"
	assert_output '{"error":"not found","id":"EVENT#09"} 404'
	# Server-Sent Events stream through unbuffered.
	curl -s -N --max-time 3 "$LBHTTP/events/stream" -o "$B/sse" || true
	grep -q '^data: {"type":"INITIAL"' "$B/sse"
	grep -q '^data: {"type":"UPDATE"' "$B/sse"
	# No stickiness: four /health requests are answered by both instances,
	# one of which leads.
	for i in 1 2 3 4; do
		curl -s "$LBHTTP/health" | jq -r '"\(.status) \(.redis) leader=\(.leader)"'
	done | sort | uniq -c | awk '{ $1 = $1; print }' >"$B/who"
	assert_equal "$(cat "$B/who")" "2 ok up leader=false
2 ok up leader=true"
}

@test "nginx-lb: resuming through nginx lands on either instance and misses nothing" {
	local e s k
	start_lb
	run -0 ws "$LBURL" recv updates:3 bye
	read -r e s < <(jq -r 'select(.type == "INITIAL") | "\(.epoch) \(.seq)"' <<<"${lines[0]}")
	[ -n "$e" ] && [ -n "$s" ]
	# Round robin: successive connections go to one instance, then the
	# other; ws-watch, given the query, passes it on as it is. (Not i:
	# bats's run, given a status, sets i.)
	for k in 1 2 3 4; do
		run -0 --separate-stderr timeout 20 "$BIN/ws-watch" -q -n 20 "${LBURL}?since=$s&epoch=$e"
		printf '%s\n' "${lines[@]}" >"$B/r$k"
		run -0 contiguous "$B/r$k" "$s"
		assert_output 20
	done
}

@test "nginx-lb: an instance killed: ws-watch through nginx reconnects to the other and resumes with no gap" {
	local i n w opens=0 count
	start_lb
	# Two watchers: round robin puts one on each instance.
	for i in 0 1; do
		"$BIN/ws-watch" --envelope --backoff 0.05-0.5 "$LBURL" >"$B/w$i" 2>"$B/w$i.err" 3>&- &
		WATCHERS+=("$!")
		wait_for "$B/w$i" '"type":"INITIAL"'
	done
	for i in 0 1; do
		for _ in $(seq 1 200); do
			[ "$(grep -c '"type":"UPDATE"' "$B/w$i")" -ge 20 ] && break
			sleep 0.05
		done
	done
	kill -9 "${PIDS[0]}"
	# Each watcher goes on for 60 more updates, one of them through the
	# surviving instance after a reconnect.
	for i in 0 1; do
		n=$(grep -c '"type":"UPDATE"' "$B/w$i")
		for _ in $(seq 1 300); do
			[ "$(grep -c '"type":"UPDATE"' "$B/w$i")" -ge $((n + 60)) ] && break
			sleep 0.05
		done
	done
	for i in "${WATCHERS[@]}"; do kill -TERM "$i"; wait "$i"; done
	WATCHERS=()
	for w in w0 w1; do
		jq -c 'select(.op == "text") | .data' "$B/$w" >"$B/$w.msgs"
		count=$(contiguous "$B/$w.msgs")
		[ "$count" -ge 80 ] || { echo "$w: $count UPDATEs" >&2; false; }
		! grep -E '"event":"(gap|epoch)"' "$B/$w" || false
		opens=$((opens + $(grep -c '"event":"open"' "$B/$w")))
	done
	# One watcher reconnected once, the other never had to.
	assert_equal "$opens" 3
	grep -q "?since=[0-9]*&epoch=" "$B/w0.err" "$B/w1.err"
}
