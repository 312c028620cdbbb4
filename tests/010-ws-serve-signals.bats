#!/usr/bin/env bats
# ws-serve on SIGTERM, SIGINT and SIGHUP: every WebSocket client gets close
# 1001 and the server exits 0, in bounded time.
bats_require_minimum_version 1.5.0
load helper

setup() {
	start_server --interval 10-20
}

teardown() {
	stop_servers
}

# start_clients N: N WebSocket clients that read until the server closes;
# returns once each has its INITIAL. Their output: $BATS_TEST_TMPDIR/cN.out.
start_clients() {
	local n
	CLIENTS=()
	for n in $(seq "$1"); do
		"$PY" "$TOP/tests/peers/ws.py" --timeout 30 "$URL" recv close \
			>"$BATS_TEST_TMPDIR/c$n.out" 2>&1 3>&- &
		CLIENTS+=($!)
	done
	for n in $(seq "$1"); do
		wait_for "$BATS_TEST_TMPDIR/c$n.out" '"type":"INITIAL"' 20
	done
}

# check_clients: every client ended with status 0 after a close 1001.
check_clients() {
	local n=0 pid st
	for pid in "${CLIENTS[@]}"; do
		n=$((n + 1))
		st=0
		wait "$pid" || st=$?
		[ "$st" -eq 0 ] || { cat "$BATS_TEST_TMPDIR/c$n.out" >&2; return 1; }
		last=$(tail -n 1 "$BATS_TEST_TMPDIR/c$n.out")
		jq -e '.peer == "close" and .code == 1001' <<<"$last" ||
			{ echo "client $n: $last" >&2; return 1; }
	done
}

@test "signals: SIGTERM closes every client with 1001 and exits 0, idle HTTP connections too" {
	# A keep-alive HTTP connection that has had its answer and sits idle.
	printf 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n' |
		"$PY" "$TOP/tests/peers/raw.py" --timeout 20 http "$PORT" >"$BATS_TEST_TMPDIR/http.out" 2>&1 3>&- &
	http_pid=$!
	wait_for "$BATS_TEST_TMPDIR/http.out" '"status":200' 20
	start_clients 3
	kill -TERM "$SERVER_PID"
	wait_exit "$SERVER_PID" 10
	[ "$rc" -eq 0 ]
	check_clients
	st=0
	wait "$http_pid" || st=$?
	[ "$st" -eq 0 ]
	run -0 cat "$SERVER_LOG"
	[[ $output != *"handles left open"* ]]
}

@test "signals: SIGINT closes every client with 1001 and exits 0, mid-message ones too" {
	start_clients 2
	# A client in the middle of a fragmented message.
	"$PY" "$TOP/tests/peers/raw.py" --timeout 20 ws "$PORT" wait:text M:1:7b FM:9:01 wait:pong wait:close \
		>"$BATS_TEST_TMPDIR/raw.out" 2>&1 3>&- &
	raw_pid=$!
	wait_for "$BATS_TEST_TMPDIR/raw.out" '^pong 01$' 20
	kill -INT "$SERVER_PID"
	wait_exit "$SERVER_PID" 10
	[ "$rc" -eq 0 ]
	check_clients
	st=0
	wait "$raw_pid" || st=$?
	[ "$st" -eq 0 ]
	run -0 tail -n 1 "$BATS_TEST_TMPDIR/raw.out"
	assert_equal "$output" "close 1001"
}

@test "signals: SIGTERM with no client connected exits 0" {
	kill -TERM "$SERVER_PID"
	wait_exit "$SERVER_PID" 10
	[ "$rc" -eq 0 ]
}

@test "signals: SIGHUP, as when the terminal closes, shuts down as SIGTERM does" {
	start_clients 2
	kill -HUP "$SERVER_PID"
	wait_exit "$SERVER_PID" 10
	[ "$rc" -eq 0 ]
	check_clients
	run -0 grep -c '^ws-serve: shutdown: hangup$' "$SERVER_LOG"
	assert_output 1
}
