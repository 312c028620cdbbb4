#!/usr/bin/env bats
# ws-watch: reconnecting and resuming against ws-serve, through a TCP proxy
# the test cuts, across a server restart, and with --since.
bats_require_minimum_version 1.5.0
load helper

setup() {
	WW=$BIN/ws-watch
	OUT=$BATS_TEST_TMPDIR/out
	ERR=$BATS_TEST_TMPDIR/err
	PROXY_PID=
	WATCH_PID=
	unset WS_URL
}

teardown() {
	[ -z "$WATCH_PID" ] || kill "$WATCH_PID" 2>/dev/null || true
	stop_proxy
	stop_servers
}

# start_proxy PORT TARGET: one TCP connection from 127.0.0.1:PORT to
# 127.0.0.1:TARGET. socat without fork serves a single connection, so
# cutting the proxy cuts the client off while the server keeps running.
# setsid makes it a process group of its own, killed as a whole.
start_proxy() {
	local log
	log=$(mktemp "$BATS_TEST_TMPDIR/proxy.XXXXXX")
	setsid socat -d -d "TCP-LISTEN:$1,bind=127.0.0.1,reuseaddr" \
		"TCP:127.0.0.1:$2" 2>"$log" 3>&- &
	PROXY_PID=$!
	# Its log, not a test connection, which would use up the one accept.
	wait_for "$log" "listening on" || { cat "$log" >&2; return 1; }
}

stop_proxy() {
	[ -n "$PROXY_PID" ] || return 0
	kill -TERM -- "-$PROXY_PID" 2>/dev/null || kill "$PROXY_PID" 2>/dev/null || true
	wait "$PROXY_PID" 2>/dev/null || true
	PROXY_PID=
}

# wait_for_count FILE PATTERN N: waits up to 10 s until N lines of FILE
# match PATTERN.
wait_for_count() {
	local i
	for i in $(seq 1 200); do
		[ "$(grep -c -- "$2" "$1" 2>/dev/null)" -ge "$3" ] && return 0
		sleep 0.05
	done
	echo "timed out waiting for $3 lines matching $2 in $1" >&2
	return 1
}

# watch ARGS...: runs ws-watch in the background, output in OUT and ERR.
watch() {
	"$WW" "$@" >"$OUT" 2>"$ERR" 3>&- &
	WATCH_PID=$!
}

# stop_watch: SIGTERM, then the status must be 0.
stop_watch() {
	local st=0
	kill -TERM "$WATCH_PID"
	wait "$WATCH_PID" || st=$?
	WATCH_PID=
	[ "$st" -eq 0 ] || { echo "ws-watch exited $st" >&2; cat "$ERR" >&2; return 1; }
}

# The INITIAL and UPDATE messages printed, as "I seq" and "U seq" lines.
seqs() {
	jq -r 'select(.op == "text") | .data
		| if .type == "INITIAL" then "I \(.seq)"
		  elif .type == "UPDATE" then "U \(.seq)" else empty end' "$OUT"
}

@test "ws-watch: a cut connection resumes with no gap and no duplicate" {
	local pp n prev kind seq count=0
	start_server --interval 20-40 --history 100000
	pp=$(free_port)
	start_proxy "$pp" "$PORT"
	watch --envelope --backoff 0.05-0.5 "ws://127.0.0.1:$pp/"
	wait_for_count "$OUT" '"UPDATE"' 20
	# Cut the connection for a couple of seconds; the server runs on.
	stop_proxy
	wait_for "$ERR" 'reconnecting in'
	sleep 2
	start_proxy "$pp" "$PORT"
	wait_for_count "$OUT" '"event":"open"' 2
	n=$(grep -c '"UPDATE"' "$OUT")
	wait_for_count "$OUT" '"UPDATE"' $((n + 20))
	stop_watch

	# A reconnect really happened...
	[ "$(grep -c '"event":"open"' "$OUT")" -eq 2 ]
	[ "$(grep -c '"event":"close"' "$OUT")" -ge 1 ]
	grep -q "^ws-watch: reconnecting in" "$ERR"
	grep -q "?since=[0-9]*&epoch=" "$ERR"
	# ...and resumed: one INITIAL, then every seq exactly once, in order.
	run -1 grep -E '"event":"(gap|epoch)"' "$OUT"
	while read -r kind seq; do
		if [ -z "${prev:-}" ]; then
			assert_equal "$kind" I
		else
			assert_equal "$kind $seq" "U $((prev + 1))"
		fi
		prev=$seq
		count=$((count + 1))
	done < <(seqs)
	[ "$count" -ge 41 ]
}

@test "ws-watch: after a server restart it reports the new epoch and prints the new INITIAL" {
	local first e1 e2
	start_server --interval 20-40
	first=$SERVER_PID
	watch --envelope --backoff 0.05-0.3 "$URL"
	wait_for_count "$OUT" '"UPDATE"' 5
	kill -TERM "$first"
	wait "$first"
	start_server --interval 20-40 --port "$PORT"
	wait_for_count "$OUT" '"type":"INITIAL"' 2
	stop_watch

	e1=$(jq -r 'select(.data.type == "INITIAL") | .data.epoch' "$OUT" | sed -n 1p)
	e2=$(jq -r 'select(.data.type == "INITIAL") | .data.epoch' "$OUT" | sed -n 2p)
	[ -n "$e1" ] && [ -n "$e2" ] && [ "$e1" != "$e2" ]
	assert_equal "$(jq -c 'select(.event == "epoch") | [.epoch, .previous]' "$OUT")" \
		"[\"$e2\",\"$e1\"]"
	assert_equal "$(jq -c 'select(.event == "close") | [.code, .reason]' "$OUT" | sed -n 1p)" \
		'[1001,"server shutting down"]'
	grep -q "^ws-watch: closed by server: 1001" "$ERR"
	grep -q "^ws-watch: new epoch '$e2' (was '$e1')" "$ERR"
	# The epoch event comes just before the INITIAL it is about.
	assert_equal "$(jq -r 'if .event then .event else .data.type end' "$OUT" |
		grep -A1 -x epoch | tail -n 1)" INITIAL
}

@test "ws-watch: a since older than the server's history gets an INITIAL and a gap" {
	local s
	start_server --interval 20-40 --history 5
	# Let the server get past seq 20, far beyond its 5 updates of history.
	run -0 --separate-stderr timeout 20 "$WW" -q --type UPDATE -n 21 "$URL"
	run -0 --separate-stderr timeout 20 "$WW" -n 1 --since 1 "$URL"
	assert_equal "$(jq -r .type <<<"$output")" INITIAL
	s=$(jq -r .seq <<<"$output")
	[ "$s" -gt 20 ]
	[[ $stderr == *"connecting to '${URL}?since=1'"* ]]
	[[ $stderr == *"ws-watch: gap: updates 2-$s were lost"* ]]

	run -0 --separate-stderr timeout 20 "$WW" -q --envelope --type INITIAL -n 1 \
		--since 1 "$URL"
	assert_equal "$(jq -r .event <<<"${lines[1]}")" gap
	assert_equal "$(jq -r .from <<<"${lines[1]}")" 2
	assert_equal "$(jq -r .to <<<"${lines[1]}")" "$(jq -r .data.seq <<<"${lines[2]}")"
	assert_equal "$stderr" ""
}

@test "ws-watch: a since inside the server's history resumes with the next UPDATE" {
	start_server --interval 20-40 --history 100000
	run -0 --separate-stderr timeout 20 "$WW" -q --type UPDATE -n 21 "$URL"
	run -0 --separate-stderr timeout 20 "$WW" -q -n 3 --since 10 "$URL"
	assert_equal "$(jq -r '"\(.type) \(.seq)"' <<<"$output" | tr '\n' ,)" \
		"UPDATE 11,UPDATE 12,UPDATE 13,"
}

@test "ws-watch: a server shutdown under --no-reconnect exits 0" {
	start_server --interval 20-40
	watch --no-reconnect "$URL"
	wait_for "$OUT" '"UPDATE"'
	kill -TERM "$SERVER_PID"
	local st=0
	wait "$WATCH_PID" || st=$?
	WATCH_PID=
	[ "$st" -eq 0 ]
	assert_equal "$(tail -n 1 "$ERR")" "ws-watch: closed by server: 1001 server shutting down"
}
