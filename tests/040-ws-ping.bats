#!/usr/bin/env bats
# ws-ping: round trips against ws-serve, Ping frames against a plain
# python3-websockets server, stopped servers, load mode and the CLI.
bats_require_minimum_version 1.5.0
load helper

setup() {
	WP=$BIN/ws-ping
	MAN=$TOP/man/ws-ping.1
	STOPPED=
	unset WS_URL
}

teardown() {
	# A stopped process would never see the TERM of stop_servers.
	if [ -n "$STOPPED" ]; then kill -CONT $STOPPED 2>/dev/null || true; fi
	stop_servers
}

# A ws-serve whose events rarely change, so UPDATEs do not get in the way
# of the checks (ws-ping ignores them anyway).
start_quiet_server() {
	start_server --interval 60000-60000
}

# start_py_server [SUBPROTOCOL...]: a python3-websockets 10.4 server that
# reads every message and never sends one of its own, but answers Ping
# frames as every RFC 6455 server does. Sets PORT and URL.
start_py_server() {
	start_py pyws "$@" <<-'EOF'
	import asyncio, sys
	import websockets

	async def handler(ws, path=None):
	    async for _ in ws:
	        pass

	async def main():
	    protos = sys.argv[1:] or None
	    async with websockets.serve(handler, "127.0.0.1", 0,
	                                subprotocols=protos) as server:
	        port = server.sockets[0].getsockname()[1]
	        print("pyws: listening on ws://127.0.0.1:%d/" % port,
	              file=sys.stderr, flush=True)
	        await asyncio.Future()

	asyncio.run(main())
	EOF
}

# start_script_server: a python3-websockets 10.4 server that sends every
# client INITIAL seq 5, then UPDATEs 6, 8, 8 and 9 (7 is missing, the
# second 8 is out of order), then waits for the client to close. Sets PORT
# and URL.
start_script_server() {
	start_py pyws <<-'EOF'
	import asyncio, json, sys, time
	import websockets

	async def handler(ws, path=None):
	    await ws.send(json.dumps({"type": "INITIAL", "epoch": "e", "seq": 5,
	                              "data": []}))
	    for seq in (6, 8, 8, 9):
	        await ws.send(json.dumps({"type": "UPDATE", "seq": seq,
	                                  "ts": int(time.time() * 1000),
	                                  "data": {"id": "EVENT#00"}}))
	        await asyncio.sleep(0.05)
	    async for _ in ws:
	        pass

	async def main():
	    async with websockets.serve(handler, "127.0.0.1", 0) as server:
	        port = server.sockets[0].getsockname()[1]
	        print("pyws: listening on ws://127.0.0.1:%d/" % port,
	              file=sys.stderr, flush=True)
	        await asyncio.Future()

	asyncio.run(main())
	EOF
}

# The man page as plain text.
man_text() {
	mandoc -Tascii "$MAN" | sed 's/.\x08//g'
}

# Lines of $output matching the extended regex $1, counted.
count_lines() {
	local n=0 l
	for l in "${lines[@]}"; do
		[[ $l =~ $1 ]] && n=$((n + 1))
	done
	echo "$n"
}

@test "-c 3 -i 0.2: the connection line, 3 replies and a summary with 0% loss" {
	start_quiet_server
	run -0 --separate-stderr "$WP" -c 3 -i 0.2 "$URL"
	assert_equal "$stderr" ""
	[ "${#lines[@]}" -eq 8 ]
	local ms='[0-9]+\.[0-9]{3}'
	[[ ${lines[0]} =~ ^WS-PING\ ws://127\.0\.0\.1:$PORT/\ \(127\.0\.0\.1:$PORT\):\ connect\ $ms\ ms,\ handshake\ $ms\ ms$ ]]
	for i in 1 2 3; do
		[[ ${lines[$i]} =~ ^PONG\ from\ 127\.0\.0\.1:$PORT:\ seq=$i\ time=$ms\ ms$ ]]
	done
	assert_equal "${lines[4]}" "--- $URL ws-ping statistics ---"
	[[ ${lines[5]} =~ ^3\ probes\ sent,\ 3\ received,\ 0%\ loss,\ time\ [0-9]+\ ms$ ]]
	[[ ${lines[6]} =~ ^rtt\ min/avg/max/mdev\ =\ $ms/$ms/$ms/$ms\ ms$ ]]
	[[ ${lines[7]} =~ ^rtt\ p50/p90/p99/p99\.9\ =\ $ms/$ms/$ms/$ms\ ms$ ]]
	# Three probes 0.2 s apart take at least 0.4 s.
	local t=${lines[5]##*time }
	[ "${t% ms}" -ge 390 ]
}

@test "--json: a line per reply and a summary whose counts add up, for jq" {
	start_quiet_server
	run -0 --separate-stderr "$WP" --json -c 4 -i 0.2 "$URL"
	assert_equal "$stderr" ""
	[ "${#lines[@]}" -eq 5 ]
	# Every line is one JSON object.
	assert_equal "$(jq -c 'type' <<<"$output" | sort -u)" '"object"'
	assert_equal "$(jq -s -c '.[0:4] | map(.seq)' <<<"$output")" '[1,2,3,4]'
	assert_equal "$(jq -s '.[0:4] | map(.time_ms | numbers | select(. >= 0)) | length' <<<"$output")" 4
	summary=${lines[4]}
	assert_equal "$(jq -c '[.sent, .received, .timeouts, .loss_pct]' <<<"$summary")" '[4,4,0,0]'
	assert_equal "$(jq -r .url <<<"$summary")" "$URL"
	assert_equal "$(jq -r .address <<<"$summary")" "127.0.0.1:$PORT"
	assert_equal "$(jq -r .mode <<<"$summary")" app
	# The statistics agree with the replies (percentiles within 1%).
	run -0 jq -s -e '
		(.[0:4] | map(.time_ms)) as $t | .[4] as $s
		| ($t | min) == $s.min_ms and ($t | max) == $s.max_ms
		and ((($t | add) / 4) - $s.avg_ms | fabs) < 0.002
		and $s.p50_ms >= $s.min_ms and $s.p50_ms <= $s.p90_ms
		and $s.p90_ms <= $s.p99_ms and $s.p99_ms <= $s.p999_ms
		and $s.p999_ms == $s.max_ms and $s.mdev_ms >= 0
		and ($s.connect_ms | numbers) >= 0
		and ($s.handshake_ms | numbers) >= 0
		and $s.time_ms >= 590' <<<"$output"
}

@test "-q prints the summary only" {
	start_quiet_server
	run -0 --separate-stderr "$WP" -q -c 2 -i 0.1 "$URL"
	assert_equal "$stderr" ""
	[ "${#lines[@]}" -eq 4 ]
	assert_equal "${lines[0]}" "--- $URL ws-ping statistics ---"
	[[ ${lines[1]} =~ ^2\ probes\ sent,\ 2\ received,\ 0%\ loss, ]]
}

@test "--mode frame works against a server that never sends a message" {
	start_py_server
	run -0 --separate-stderr "$WP" --mode frame -s 125 -c 3 -i 0.1 -W 2 "$URL"
	assert_equal "$stderr" ""
	assert_equal "$(count_lines '^PONG from 127\.0\.0\.1:[0-9]+: seq=[123] time=')" 3
	assert_line "--- $URL ws-ping statistics ---"
	assert_line --regexp '^3 probes sent, 3 received, 0% loss, time [0-9]+ ms$'
}

@test "app mode against that server: every probe times out, status 1" {
	start_py_server
	run -1 --separate-stderr "$WP" -c 2 -i 0.1 -W 0.3 "$URL"
	assert_equal "$stderr" ""
	assert_line "timeout: seq=1"
	assert_line "timeout: seq=2"
	assert_line --regexp '^2 probes sent, 0 received, 100% loss, time [0-9]+ ms$'
	refute_line --partial "rtt"
}

@test "a server stopped after a few replies: timeouts, loss, status 0" {
	start_quiet_server
	out=$BATS_TEST_TMPDIR/out err=$BATS_TEST_TMPDIR/err
	"$WP" -c 8 -i 0.2 -W 0.5 -w 30 "$URL" >"$out" 2>"$err" 3>&- &
	pid=$!
	wait_for "$out" 'seq=2 ' 10
	kill -STOP "$SERVER_PID"
	STOPPED=$SERVER_PID
	rc=0
	wait "$pid" || rc=$?
	[ "$rc" -eq 0 ]
	run -0 cat "$out"
	assert_line --regexp '^timeout: seq=[0-9]+$'
	assert_line --regexp '^8 probes sent, [2-7] received, [0-9.]+% loss, time [0-9]+ ms$'
	refute_line --regexp '^8 probes sent, [0-9]+ received, 0% loss'
	[ "$(count_lines '^PONG from')" -ge 2 ]
	[ "$(count_lines '^(PONG from .*|timeout: seq=[0-9]+)$')" -eq 8 ]
}

@test "a server stopped before the handshake: status 3 after --connect-timeout" {
	start_quiet_server
	kill -STOP "$SERVER_PID"
	STOPPED=$SERVER_PID
	SECONDS=0
	run -3 --separate-stderr "$WP" --connect-timeout 1 -c 1 "$URL"
	[ "$SECONDS" -le 5 ]
	assert_equal "$output" ""
	assert_equal "$stderr" "ws-ping: cannot connect to '$URL': timed out waiting for the handshake reply (1 s)"
}

@test "connection refused: status 3" {
	port=$(free_port)
	run -3 --separate-stderr "$WP" -c 1 "ws://127.0.0.1:$port/"
	assert_equal "$output" ""
	assert_equal "$stderr" "ws-ping: cannot connect to 'ws://127.0.0.1:$port/': connection refused"
	run -3 --separate-stderr "$WP" -C 5 -c 1 "ws://127.0.0.1:$port/"
	assert_equal "$stderr" "ws-ping: cannot connect to 'ws://127.0.0.1:$port/': connection refused"
}

@test "-C 50 -c 20 -i 0 makes 1000 round trips" {
	start_quiet_server
	run -0 --separate-stderr "$WP" -C 50 -c 20 -i 0 -w 60 "$URL"
	assert_equal "$stderr" ""
	assert_line --regexp "^WS-PING ws://127\.0\.0\.1:$PORT/ \(127\.0\.0\.1:$PORT\): 50 clients, [0-9]+ threads?$"
	assert_line --regexp '^1000 probes sent, 1000 received, 0% loss, time [0-9]+ ms$'
	assert_line "50 clients, 50 connected, 0 connect failures, 0 dropped"
	assert_line --regexp '^handshake p50/p90/p99/max = ([0-9]+\.[0-9]{3}/){3}[0-9]+\.[0-9]{3} ms$'
	assert_line --regexp '^1000 round trips, [0-9.]+ round trips/s$'
	assert_line --regexp '^rtt p50/p90/p99/p99\.9 = '
	refute_line --partial "PONG from"
}

@test "load mode --json over threads, with --pipeline and --connect-rate" {
	start_quiet_server
	run -0 --separate-stderr "$WP" --json -C 20 -c 30 -i 0 --pipeline 3 \
		--threads 3 --connect-rate 400 -w 60 "$URL"
	assert_equal "$stderr" ""
	[ "${#lines[@]}" -eq 1 ]
	assert_equal "$(jq -c '[.clients, .connected, .connect_failures, .sent, .received, .round_trips, .loss_pct]' <<<"$output")" \
		'[20,20,0,600,600,600,0]'
	run -0 jq -e '.round_trips_per_s > 0 and .handshake_p50_ms <= .handshake_max_ms
		and .p50_ms <= .p99_ms and .min_ms <= .p50_ms' <<<"$output"
}

@test "--source binds the clients to its addresses in turn; one that is not local is named" {
	local a
	start_quiet_server
	# Two threads of three clients: the turn runs over both.
	run -0 --separate-stderr "$WP" -q -C 6 --threads 2 -c 1 \
		--source 127.0.0.2,127.0.0.3 --source 127.0.0.4 -w 30 "$URL"
	assert_line "6 clients, 6 connected, 0 connect failures, 0 dropped"
	for a in 2 3 4; do
		run -0 grep -cE "^ws-serve: connect 127\.0\.0\.$a:[0-9]+ " "$SERVER_LOG"
		assert_equal "$output" 2
	done
	run -0 grep -c '^ws-serve: connect ' "$SERVER_LOG"
	assert_equal "$output" 6
	# Outside load mode too.
	run -0 --separate-stderr "$WP" -q -c 1 --source 127.0.0.9 "$URL"
	run -0 grep -cE '^ws-serve: connect 127\.0\.0\.9:[0-9]+ ' "$SERVER_LOG"
	assert_equal "$output" 1
	# 192.0.2.1 is TEST-NET-1, no address of this machine.
	run -3 --separate-stderr "$WP" -c 1 --source 192.0.2.1 "$URL"
	assert_equal "$output" ""
	assert_equal "$stderr" "ws-ping: cannot connect to '$URL': cannot bind to 192.0.2.1: address not available"
}

@test "-i keeps its rate below the millisecond: -i 0.0025 is 400 probes a second" {
	start_quiet_server
	run -0 --separate-stderr "$WP" -q --json -C 2 --threads 1 -c 400 \
		-i 0.0025 -w 30 "$URL"
	assert_equal "$(jq -c '[.sent, .received]' <<<"$output")" '[800,800]'
	# 399 intervals of 2.5 ms are 997.5 ms; whole milliseconds (3 ms)
	# would take 1197 ms.
	run -0 jq -e '.time_ms >= 990 and .time_ms < 1150' <<<"$output"
}

@test "--subscribe: clients that listen, with deliveries, latency, spread, 0 missed" {
	start_server --interval 10-20
	run -0 --separate-stderr "$WP" --subscribe -C 20 --threads 2 -w 2 \
		--json "$URL"
	assert_equal "$stderr" ""
	[ "${#lines[@]}" -eq 1 ]
	assert_equal "$(jq -c '[.mode, .clients, .connected, .connect_failures, .dropped, .missed, .out_of_order]' <<<"$output")" \
		'["subscribe",20,20,0,0,0,0]'
	# Five events every 10-20 ms make hundreds of updates a second, each
	# delivered to (nearly) every client; the window opens once all 20 are
	# connected and ends at -w.
	run -0 jq -e '.updates > 20 and .deliveries >= .updates
		and .deliveries <= 20 * .updates and .spread_updates > 0
		and .spread_updates <= .updates
		and .time_ms > 500 and .time_ms <= 2100
		and .deliveries_per_s > 0 and .handshakes_per_s > 0
		and .open_ms > 0
		and .latency_p50_ms <= .latency_p99_ms
		and .latency_p99_ms <= .latency_max_ms
		and .latency_p50_ms >= 0 and .latency_max_ms < 2000
		and .spread_p50_ms <= .spread_p99_ms
		and .spread_p99_ms <= .spread_max_ms
		and .handshake_p50_ms <= .handshake_max_ms' <<<"$output"
	# Text: the summary only, no line per message.
	run -0 --separate-stderr "$WP" --subscribe -C 3 -w 1 "$URL"
	assert_equal "$stderr" ""
	local ms='[0-9]+\.[0-9]{3}'
	assert_equal "${lines[0]}" "WS-PING $URL (127.0.0.1:$PORT): 3 clients, 2 threads"
	assert_equal "${lines[1]}" "--- $URL ws-ping statistics ---"
	assert_equal "${lines[2]}" "3 clients, 3 connected, 0 connect failures, 0 dropped"
	[[ ${lines[3]} =~ ^3\ opened\ in\ [0-9]+\ ms,\ [0-9.]+\ handshakes/s$ ]]
	[[ ${lines[4]} =~ ^handshake\ p50/p90/p99/max\ =\ $ms/$ms/$ms/$ms\ ms$ ]]
	[[ ${lines[5]} =~ ^[0-9]+\ updates,\ [0-9]+\ deliveries\ in\ [0-9]+\ ms,\ [0-9.]+\ deliveries/s,\ 0\ missed$ ]]
	[[ ${lines[6]} =~ ^[0-9.]+\ bytes\ on\ the\ wire\ per\ delivery,\ messages\ of\ [0-9.]+\ bytes$ ]]
	[[ ${lines[7]} =~ ^latency\ p50/p90/p99/max\ =\ $ms/$ms/$ms/$ms\ ms$ ]]
	[[ ${lines[8]} =~ ^spread\ p50/p90/p99/max\ =\ $ms/$ms/$ms/$ms\ ms\ over\ [0-9]+\ updates$ ]]
}

@test "--subscribe --deflate: compressed updates take fewer bytes on the wire than plain ones" {
	start_server --interval 10-20
	# Plain, each UPDATE costs its bytes plus a frame header; compressed,
	# fewer bytes than the message itself.
	run -0 --separate-stderr "$WP" --subscribe -C 5 -w 2 --json "$URL"
	run -0 jq -e '.deliveries > 0 and .missed == 0 and
		.wire_bytes_per_delivery > .message_bytes_per_delivery' <<<"$output"
	run -0 --separate-stderr "$WP" --subscribe -C 5 -w 2 --json --deflate "$URL"
	run -0 jq -e '.deliveries > 0 and .missed == 0 and
		.message_bytes_per_delivery > 100 and
		.wire_bytes_per_delivery < .message_bytes_per_delivery' <<<"$output"
	# And the plain text output says it too.
	run -0 --separate-stderr "$WP" --subscribe -C 2 -w 1 --deflate "$URL"
	assert_line --regexp '^[0-9.]+ bytes on the wire per delivery, messages of [0-9.]+ bytes$'
}

@test "--subscribe: the bytes on the wire count every delivery's frame, when updates come in bursts too" {
	# At --interval 1000 the five events update together: one read may
	# carry every delivery of the window. Each UPDATE (126 bytes to 64 KiB)
	# travels in a frame with a 4-byte header.
	start_server --interval 1000
	run -0 --separate-stderr "$WP" --subscribe -C 1 -w 2.5 --json "$URL"
	run -0 jq -e '.deliveries >= 5 and .missed == 0 and
		.message_bytes_per_delivery > 125 and
		(.wire_bytes_per_delivery - .message_bytes_per_delivery - 4
		 | fabs < 0.15)' <<<"$output"
}

@test "--deflate: probes padded past 64 bytes are answered" {
	start_server
	run -0 --separate-stderr "$WP" --deflate -c 2 -i 0.1 -s 300 "$URL"
	assert_line --regexp "^2 probes sent, 2 received, 0(\.0)?% loss"
}

@test "--subscribe counts gaps in seq after INITIAL as missed: status 1" {
	start_script_server
	run -1 --separate-stderr "$WP" --subscribe -C 2 --threads 1 -w 1.5 \
		--json "$URL"
	assert_equal "$stderr" "ws-ping: 2 updates missed: gaps in seq after INITIAL"
	assert_equal "$(jq -c '[.connected, .missed, .out_of_order]' <<<"$output")" '[2,2,2]'
}

@test "--subscribe against a server that never answers: status 3" {
	start_quiet_server
	kill -STOP "$SERVER_PID"
	STOPPED=$SERVER_PID
	# The scout never opens, so the run ends with status 3.
	run -3 --separate-stderr "$WP" --subscribe -C 2 -w 0.5 --json "$URL"
	assert_equal "$output" ""
	assert_equal "$stderr" "ws-ping: cannot connect to '$URL': deadline reached"
}

@test "--storm: connect, handshake, close, again; -c counts connections per client" {
	start_quiet_server
	run -0 --separate-stderr "$WP" --storm -C 5 -c 10 --json "$URL"
	assert_equal "$stderr" ""
	assert_equal "$(jq -c '[.mode, .clients, .handshakes, .connect_failures, .dropped, .close_errors]' <<<"$output")" \
		'["storm",5,50,0,0,0]'
	run -0 jq -e '.handshakes_per_s > 0 and .time_ms > 0
		and .handshake_p50_ms <= .handshake_p99_ms
		and .handshake_p99_ms <= .handshake_max_ms' <<<"$output"
	# -w ends an endless storm; text summary.
	SECONDS=0
	run -0 --separate-stderr "$WP" --storm -C 3 -w 1 "$URL"
	[ "$SECONDS" -le 5 ]
	assert_equal "$stderr" ""
	assert_equal "${lines[1]}" "--- $URL ws-ping statistics ---"
	[[ ${lines[2]} =~ ^3\ clients,\ [0-9]+\ handshakes,\ 0\ connect\ failures,\ 0\ close\ errors,\ time\ [0-9]+\ ms$ ]]
	[[ ${lines[3]} =~ ^[0-9.]+\ handshakes/s$ ]]
	[[ ${lines[4]} =~ ^handshake\ p50/p90/p99/max\ =\  ]]
}

@test "-w ends an endless run, and the summary counts what was sent" {
	start_quiet_server
	SECONDS=0
	run -0 --separate-stderr "$WP" -i 0.2 -w 0.9 "$URL"
	[ "$SECONDS" -le 5 ]
	# A probe every 0.2 s for 0.9 s, less the time to connect.
	assert_line --regexp '^[2-5] probes sent, [1-5] received, '
	assert_line "--- $URL ws-ping statistics ---"
	[ "$(count_lines '^PONG from')" -ge 1 ]
}

@test "SIGINT ends the run with the summary" {
	start_quiet_server
	out=$BATS_TEST_TMPDIR/out
	"$WP" -i 0.1 -w 30 "$URL" >"$out" 2>&1 3>&- &
	pid=$!
	wait_for "$out" 'seq=3 ' 10
	kill -INT "$pid"
	rc=0
	wait "$pid" || rc=$?
	[ "$rc" -eq 0 ]
	run -0 cat "$out"
	assert_line "--- $URL ws-ping statistics ---"
	assert_line --regexp '^rtt p50/p90/p99/p99\.9 = '
}

@test "the URL comes from \$WS_URL when none is given" {
	start_quiet_server
	WS_URL=$URL run -0 --separate-stderr "$WP" -q -c 1
	assert_equal "${lines[0]}" "--- $URL ws-ping statistics ---"
}

@test "-s pads PING messages, which the server still answers" {
	start_quiet_server
	run -0 --separate-stderr "$WP" -q --json -c 2 -i 0.1 -s 4K "$URL"
	assert_equal "$(jq -c '[.sent, .received]' <<<"$output")" '[2,2]'
	run -0 --separate-stderr "$WP" -q --json -c 2 -i 0.1 -s 32 "$URL"
	assert_equal "$(jq -c '[.sent, .received]' <<<"$output")" '[2,2]'
}

@test "-v shows the handshake with -H and --origin; --protocol must be agreed" {
	start_quiet_server
	run -0 --separate-stderr "$WP" -v -c 1 -H 'X-Probe: 42' \
		--origin http://example.test "$URL"
	[[ $stderr == *"> GET / HTTP/1.1"* ]]
	[[ $stderr == *"> Origin: http://example.test"* ]]
	[[ $stderr == *"> X-Probe: 42"* ]]
	[[ $stderr == *"< HTTP/1.1 101"* ]]
	# ws-serve agrees to no subprotocol.
	run -3 --separate-stderr "$WP" -c 1 --protocol chat "$URL"
	assert_equal "$stderr" "ws-ping: cannot connect to '$URL': server did not accept protocol 'chat'"
	start_py_server chat
	run -0 --separate-stderr "$WP" -q -c 1 --mode frame --protocol chat "$URL"
}

@test "a reader that goes away ends ws-ping quietly" {
	start_quiet_server
	run -0 --separate-stderr bash -c \
		'"$1" -i 0.05 -w 20 "$2" | head -n 2 >/dev/null; echo "${PIPESTATUS[0]}"' \
		_ "$WP" "$URL"
	assert_equal "$output" 0
	assert_equal "$stderr" ""
}

@test "bad URLs give status 2" {
	run -2 --separate-stderr "$WP" -c 1 http://127.0.0.1:1/
	assert_equal "$stderr" "ws-ping: bad URL 'http://127.0.0.1:1/': scheme must be ws:// or wss://
Try 'ws-ping --help' for more information."
	run -2 --separate-stderr "$WP" -c 1 'ws://127.0.0.1:99999/'
	[[ ${stderr} == "ws-ping: bad URL 'ws://127.0.0.1:99999/': "* ]]
	WS_URL='ftp://x/' run -2 --separate-stderr "$WP" -c 1
	[[ ${stderr} == "ws-ping: bad URL 'ftp://x/': "* ]]
	run -2 --separate-stderr "$WP" ws://a/ ws://b/
	[[ ${stderr} == "ws-ping: too many arguments: 'ws://b/'"* ]]
}

@test "bad options give status 2 and name the option" {
	local args
	while IFS='|' read -r args want; do
		# shellcheck disable=SC2086
		run -2 --separate-stderr "$WP" ws://127.0.0.1:1/ $args
		assert_equal "$output" ""
		assert_equal "${stderr}" "ws-ping: $want
Try 'ws-ping --help' for more information."
	done <<-'EOF'
	-c 0|--count: '0' is out of range (1-1000000000)
	-c 3x|--count: '3x' is not a whole number
	-i abc|--interval: 'abc' is not a number of seconds
	-i 0.0001|--interval: '0.0001' is below 1 ms (0 sends back to back)
	-W 0|--timeout: '0' must be at least 0.001
	-w -1|--deadline: '-1' is not a number of seconds
	--mode ping|--mode: 'ping' is not app or frame
	--mode frame -s 126|--size: a ping frame holds at most 125 bytes
	-s 1T|--size: '1T' is not a size in bytes
	--pipeline 4|--pipeline needs --interval 0
	--threads 2|--threads needs --clients
	--connect-rate 10|--connect-rate needs --clients
	-C 0|--clients: '0' is out of range (1-1000000)
	-H nocolon|--header: 'nocolon' is not a header 'Name: value'
	-q -v|--quiet and --verbose cannot be used together
	--subscribe -c 3|--subscribe and --count cannot be used together
	--subscribe -i 1|--subscribe and --interval cannot be used together
	--storm --mode frame|--storm and --mode cannot be used together
	--storm -W 1|--storm and --timeout cannot be used together
	--storm --subscribe|--storm and --subscribe cannot be used together
	--bogus|unknown option '--bogus'
	-x|unknown option '-x'
	--json=1|option '--json' takes no value
	--source localhost|--source: 'localhost' is not an IP address
	--source 127.0.0.300|--source: '127.0.0.300' is not an IP address
	--source 127.0.0.2,|--source: '' is not an IP address
	--source 127.0.0.2,::1|--source: '::1' and the first address are not both IPv4 or both IPv6
	--count|option '--count' needs a value
	EOF
}

@test "more clients than the open file limit allows are refused" {
	run -2 --separate-stderr bash -c 'ulimit -n 200 && exec "$1" -C 500 -c 1 ws://127.0.0.1:1/' _ "$WP"
	[[ ${stderr} == "ws-ping: --clients: 500 is more than this process can hold ("*"with an open file limit of 200)
Try 'ws-ping --help' for more information." ]]
}

@test "--help and --version" {
	run -0 --separate-stderr "$WP" --help
	assert_equal "$stderr" ""
	[[ ${lines[0]} == "usage: ws-ping "* ]]
	assert_line --partial "--mode app|frame"
	run -0 --separate-stderr "$WP" -h
	[[ ${lines[0]} == "usage: ws-ping "* ]]
	run -0 --separate-stderr "$WP" --version
	assert_equal "$output" "ws-ping 0.1.0"
	run -0 --separate-stderr "$WP" -V
	assert_equal "$output" "ws-ping 0.1.0"
}

@test "usage matches the SYNOPSIS of the man page" {
	run -0 --separate-stderr "$WP" --help
	usage=$(sed -n '1,/^$/p' <<<"$output" | sed '1s/^usage: //' | xargs)
	synopsis=$(man_text | sed -n '/^SYNOPSIS/,/^DESCRIPTION/p' | sed '1d;$d' | xargs)
	[ -n "$usage" ]
	assert_equal "$usage" "$synopsis"
}

@test "the man page is clean, has its sections and every long option" {
	run -0 mandoc -Tlint -W warning "$MAN"
	text=$(man_text)
	for section in NAME SYNOPSIS DESCRIPTION "EXIT STATUS" EXAMPLES "SEE ALSO"; do
		grep -q -x -e "$section" <<<"$text" || fail "no $section in $MAN"
	done
	names=$(sed -n 's/^[[:space:]]*{"\([a-z-]*\)", .*/\1/p' "$TOP/cmd/ws-ping.c")
	[ "$(wc -l <<<"$names")" -ge 21 ]
	run -0 "$WP" --help
	for name in $names; do
		grep -q -e "--$name\b" <<<"$text" || fail "--$name is not in $MAN"
		[[ $output == *"--$name"* ]] || fail "--$name is not in --help"
	done
}
