#!/usr/bin/env bats
# ws-watch: output, selection, stdin, options and exit statuses, against
# ws-serve and small python3-websockets stand-ins.
bats_require_minimum_version 1.5.0
load helper

setup() {
	WW=$BIN/ws-watch
	MAN=$TOP/man/ws-watch.1
	unset WS_URL
}

teardown() {
	stop_servers
}

# start_script_server CLOSE_CODE JSON_ARRAY: a server that sends each
# element of the array to every client (a string as a text message,
# {"bin": HEX} as a binary one, "@request" as a JSON object holding the
# request path and headers), then closes with CLOSE_CODE (0: stays open).
# Sets PORT and URL like start_server.
start_script_server() {
	start_py script "$1" "$2" <<-'EOF'
	import asyncio, json, sys
	import websockets
	code, msgs = int(sys.argv[1]), json.loads(sys.argv[2])
	async def handler(ws, path):
	    for m in msgs:
	        if isinstance(m, dict):
	            await ws.send(bytes.fromhex(m["bin"]))
	        elif m == "@request":
	            await ws.send(json.dumps({"path": path,
	                "headers": {k.lower(): v for k, v in ws.request_headers.raw_items()}}))
	        else:
	            await ws.send(m)
	    if code:
	        await ws.close(code, "bye")
	    else:
	        await asyncio.sleep(3600)
	async def main():
	    async with websockets.serve(handler, "127.0.0.1", 0, max_size=None) as s:
	        print("script: listening on http://127.0.0.1:%d/" % s.sockets[0].getsockname()[1],
	              file=sys.stderr, flush=True)
	        await asyncio.Future()
	asyncio.run(main())
	EOF
}

# start_mute_server [deaf]: a raw server that completes the handshake,
# sends one message and then never answers anything, not even a ping.
# A deaf one also stops reading, and after 2 s sends a close frame, which
# it then never follows with anything.
start_mute_server() {
	start_py mute "$@" <<-'EOF'
	import asyncio, base64, hashlib, sys
	deaf = sys.argv[1:] == ["deaf"]
	async def handle(r, w):
	    head = b""
	    while b"\r\n\r\n" not in head:
	        chunk = await r.read(4096)
	        if not chunk:
	            return
	        head += chunk
	    key = [l.split(b":", 1)[1].strip() for l in head.split(b"\r\n")
	           if l.lower().startswith(b"sec-websocket-key:")][0]
	    acc = base64.b64encode(hashlib.sha1(
	        key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
	    w.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
	            b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + acc +
	            b"\r\n\r\n\x81\x05hello")
	    await w.drain()
	    if deaf:
	        await asyncio.sleep(2)
	        w.write(b"\x88\x02\x03\xe8")
	        await asyncio.sleep(30)
	    while await r.read(4096):
	        pass
	async def main():
	    s = await asyncio.start_server(handle, "127.0.0.1", 0)
	    print("mute: listening on http://127.0.0.1:%d/" % s.sockets[0].getsockname()[1],
	          file=sys.stderr, flush=True)
	    await s.serve_forever()
	asyncio.run(main())
	EOF
}

# lines_are_json: every line of $output is one JSON value.
lines_are_json() {
	local l
	for l in "${lines[@]}"; do
		jq -e . >/dev/null <<<"$l" || { echo "not JSON: $l"; return 1; }
	done
}

@test "ws-watch: the jq pipeline from the README prints scores" {
	start_server --interval 20-40
	run --separate-stderr timeout 20 bash -c "set -o pipefail
		'$WW' -q -n 6 '$URL' | jq -r 'select(.type==\"UPDATE\") | .data.score'"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 5 ]
	for l in "${lines[@]}"; do [[ $l =~ ^[0-9]+$ ]]; done
	assert_equal "$stderr" ""
}

@test "ws-watch: -n 5 prints exactly 5 valid JSON lines" {
	start_server --interval 20-40
	run -0 --separate-stderr timeout 20 "$WW" -n 5 "$URL"
	[ "${#lines[@]}" -eq 5 ]
	lines_are_json
	assert_equal "$(jq -r .type <<<"${lines[0]}")" INITIAL
	assert_equal "$(jq -r .type <<<"${lines[1]}")" UPDATE
	[[ $stderr == *"ws-watch: connected to '$URL'"* ]]
}

@test "ws-watch: --type prints only messages of that type" {
	start_server --interval 20-40
	run -0 --separate-stderr timeout 20 "$WW" -q --type UPDATE -n 4 "$URL"
	[ "${#lines[@]}" -eq 4 ]
	for l in "${lines[@]}"; do
		assert_equal "$(jq -r .type <<<"$l")" UPDATE
	done
	run -0 --separate-stderr timeout 20 "$WW" -q --type INITIAL --type PONG \
		-n 1 "$URL"
	assert_equal "$(jq -r .type <<<"$output")" INITIAL
}

@test "ws-watch: a closed stdout ends it quietly with status 0" {
	start_server --interval 20-40
	run -0 --separate-stderr timeout 20 bash -c "set -o pipefail
		'$WW' -q '$URL' | head -n 3"
	[ "${#lines[@]}" -eq 3 ]
	assert_equal "$stderr" ""
	run -0 --separate-stderr timeout 20 bash -c "set -o pipefail
		'$WW' '$URL' | head -n 3"
	[ "${#lines[@]}" -eq 3 ]
	[[ $stderr != *error* && $stderr != *pipe* ]]
}

@test "ws-watch: --stdin sends each line; PING gets a PONG, then EOF closes" {
	start_server --interval 60000-60000
	run -0 --separate-stderr timeout 20 bash -c "
		printf '%s\n' '{\"type\":\"PING\",\"timestamp\":42}' |
		'$WW' -q --stdin --linger 0.5 --type PONG '$URL'"
	[ "${#lines[@]}" -eq 1 ]
	assert_equal "$(jq -c '[.type, .timestamp]' <<<"$output")" '["PONG",42]'
	# A file on stdin works too, and so does '-' for --stdin.
	printf '{"type":"PING","timestamp":1}\n\n{"type":"PING","timestamp":2}' \
		>"$BATS_TEST_TMPDIR/in"
	run -0 --separate-stderr timeout 20 "$WW" -q --type PONG --linger 0.5 \
		"$URL" - <"$BATS_TEST_TMPDIR/in"
	[ "${#lines[@]}" -eq 2 ]
	assert_equal "$(jq -r .timestamp <<<"${lines[1]}")" 2
}

@test "ws-watch: a --stdin line over --max-message is dropped with its whole length named, across reads" {
	start_server --echo --interval 60000-60000
	# The long line comes in three reads; the one after it, of exactly 12
	# bytes before its CR LF, and in two reads, goes out.
	run -0 --separate-stderr timeout 20 bash -c "
		{ printf 'short\n0123456789'; sleep 0.3; printf 'abcdefghij'; sleep 0.3
		  printf 'KLM\nexactly-12'; sleep 0.3; printf '34\r\n'; } |
		'$WW' --max-message 12 --linger 0.5 --stdin '$URL'"
	assert_equal "$(grep -v '"type"' <<<"$output")" $'short\nexactly-1234'
	[ "$(grep -c 'stdin line' <<<"$stderr")" -eq 1 ]
	[[ $stderr == *"ws-watch: warning: stdin line of 23 bytes is over 12 and was dropped"* ]]
}

@test "ws-watch: -m sends a message after connecting" {
	start_server --interval 60000-60000
	run -0 --separate-stderr timeout 20 "$WW" -q -m '{"type":"PING","timestamp":7}' \
		--type PONG -n 1 "$URL"
	assert_equal "$(jq -r .timestamp <<<"$output")" 7
}

@test "ws-watch: a text message holding a newline is still one line" {
	start_script_server 1000 '["first\nsecond\r", "{\n \"a\": 1\r\n}", {"bin": "00ff6869"}, "back\\\\slash"]'
	run -0 --separate-stderr timeout 20 "$WW" --no-reconnect "$URL"
	[ "${#lines[@]}" -eq 4 ]
	assert_equal "${lines[0]}" 'first\nsecond\r'
	assert_equal "${lines[1]}" '{  "a": 1  }'
	assert_equal "${lines[2]}" 'AP9oaQ=='
	assert_equal "${lines[3]}" 'back\\slash'
	[[ $stderr == *"closed by server: 1000 bye"* ]]
}

@test "ws-watch: --binary hex and raw" {
	start_script_server 1000 '[{"bin": "00ff6869"}]'
	run -0 --separate-stderr timeout 20 "$WW" -q --no-reconnect --binary hex "$URL"
	assert_equal "$output" 00ff6869
	run -0 --separate-stderr timeout 20 bash -c \
		"'$WW' -q --no-reconnect --binary raw '$URL' | od -An -tx1 | tr -d ' \n'"
	assert_equal "$output" 00ff68690a
}

@test "ws-watch: --envelope wraps messages and shows the connection's events" {
	start_script_server 1000 '["{\"type\":\"X\"}", "plain\ntext", {"bin": "6869"}]'
	run -0 --separate-stderr timeout 20 "$WW" --envelope --no-reconnect "$URL"
	[ "${#lines[@]}" -eq 5 ]
	lines_are_json
	assert_equal "$(jq -c '[.event, .url]' <<<"${lines[0]}")" "[\"open\",\"$URL\"]"
	assert_equal "$(jq -c '[.op, .len, .data]' <<<"${lines[1]}")" '["text",12,{"type":"X"}]'
	assert_equal "$(jq -c '[.op, .len, .data]' <<<"${lines[2]}")" '["text",10,"plain\ntext"]'
	assert_equal "$(jq -c '[.op, .len, .data]' <<<"${lines[3]}")" '["binary",2,"aGk="]'
	assert_equal "$(jq -c '[.event, .code, .reason]' <<<"${lines[4]}")" '["close",1000,"bye"]'
	# t is the receive time in milliseconds since 1970, with a fraction.
	jq -e '.t > 1.7e12 and .t < 1e13' <<<"${lines[1]}"
	[[ ${lines[1]} =~ ^\{\"t\":[0-9]+\.[0-9]{3}, ]]
}

@test "ws-watch: an error close code under --no-reconnect exits 1" {
	start_script_server 1011 '["x"]'
	run -1 --separate-stderr timeout 20 "$WW" -q --no-reconnect "$URL"
	assert_equal "$output" x
	assert_equal "$stderr" "ws-watch: closed by server: 1011 bye"
}

@test "ws-watch: a message over --max-message fails the connection with 1009" {
	start_script_server 0 "[\"small\", \"$(printf '%0200d' 0)\"]"
	run -1 --separate-stderr timeout 20 "$WW" -q --no-reconnect --max-message 100 "$URL"
	assert_equal "$output" small
	assert_equal "$stderr" "ws-watch: connection failed: server sent a message over 100 bytes (close 1009)"
}

@test "ws-watch: handshake headers, --origin, -H and --since reach the server" {
	start_script_server 1000 '["@request"]'
	run -0 --separate-stderr timeout 20 "$WW" -q --no-reconnect \
		-H 'X-Test: one two' --origin http://example.test --since 41 \
		"${URL}ws?a=1"
	assert_equal "$(jq -r .path <<<"$output")" "/ws?a=1&since=41"
	assert_equal "$(jq -r '.headers["x-test"]' <<<"$output")" "one two"
	assert_equal "$(jq -r .headers.origin <<<"$output")" http://example.test
	assert_equal "$(jq -r .headers.host <<<"$output")" "127.0.0.1:$PORT"
	assert_equal "$(jq -r '.headers["sec-websocket-version"]' <<<"$output")" 13
}

@test "ws-watch: UPDATEs already printed are never printed again" {
	start_script_server 1000 "$(jq -cn '[{type: "INITIAL", epoch: "e1", seq: 3},
		({type: "UPDATE", seq: (3, 4, 4, 2, 5, 8)})] | map(tojson)')"
	run -0 --separate-stderr timeout 20 "$WW" --no-reconnect --type UPDATE "$URL"
	assert_equal "$(jq -r .seq <<<"$output" | tr '\n' ' ')" "4 5 8 "
	[[ $stderr == *"ws-watch: gap: updates 6-7 were lost"* ]]
}

@test "ws-watch: --timeout exits 1 when nothing is printed" {
	start_server --interval 60000-60000
	run -1 --separate-stderr timeout 20 "$WW" -q --type UPDATE --timeout 0.3 "$URL"
	assert_equal "$output" ""
	assert_equal "$stderr" "ws-watch: timeout: no message for 0.3 s"
}

@test "ws-watch: --duration exits 0" {
	start_server --interval 60000-60000
	run -0 --separate-stderr timeout 20 "$WW" -q --duration 0.3 "$URL"
	[ "${#lines[@]}" -eq 1 ]
}

@test "ws-watch: SIGTERM closes with 1000 and exits 0" {
	local pid st=0
	start_server --interval 20-40
	"$WW" -v "$URL" >"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err" 3>&- &
	pid=$!
	wait_for "$BATS_TEST_TMPDIR/out" '"UPDATE"'
	kill -TERM $pid
	wait $pid || st=$?
	cat "$BATS_TEST_TMPDIR/err"
	[ "$st" -eq 0 ]
	assert_equal "$(tail -n 1 "$BATS_TEST_TMPDIR/err")" "ws-watch: closed: 1000"
}

@test "ws-watch: a dead peer is found with --ping-interval" {
	start_mute_server
	run -0 --separate-stderr timeout 20 "$WW" --ping-interval 0.2 --duration 1.5 \
		--backoff 0.05-0.1 "$URL"
	[[ $stderr == *$'ws-watch: connection dropped: no pong within 0.2 s\nws-watch: reconnecting in '* ]]
	[ "$(grep -c 'connected to' <<<"$stderr")" -ge 2 ]
	assert_equal "${lines[0]}" hello
	# Without a reconnect, the reason is the explanation of status 1,
	# which -q does not silence.
	run -1 --separate-stderr timeout 20 "$WW" -q --ping-interval 0.2 --no-reconnect "$URL"
	assert_equal "$output" hello
	assert_equal "$stderr" "ws-watch: connection dropped: no pong within 0.2 s"
}

@test "ws-watch: a server that closes first but reads nothing does not hold it: the close handshake times out" {
	start_mute_server deaf
	# 64 MB of lines fill both socket buffers before the server's close
	# comes, so the answer to it cannot be sent.
	run -1 --separate-stderr timeout 20 bash -c \
		'yes "$(head -c 999 /dev/zero | tr "\\0" a)" | head -c 64000000 |
		"$1" -q --stdin --no-reconnect "$2"' _ "$WW" "$URL"
	assert_equal "$output" hello
	assert_equal "$stderr" "ws-watch: connection failed: the close handshake did not finish within 2 s"
}

@test "ws-watch: \$WS_URL is the default URL" {
	start_server --interval 60000-60000
	WS_URL=$URL run -0 --separate-stderr timeout 20 "$WW" -q -n 1
	assert_equal "$(jq -r .type <<<"$output")" INITIAL
}

@test "ws-watch: refused connections with --retry 2 end with status 3" {
	local port
	port=$(free_port)
	run -3 --separate-stderr timeout 20 "$WW" --retry 2 --backoff 0.01-0.05 \
		"ws://127.0.0.1:$port/"
	assert_equal "$output" ""
	[ "$(grep -c "^ws-watch: cannot connect to 'ws://127.0.0.1:$port/': connection refused$" <<<"$stderr")" -eq 3 ]
	assert_equal "${stderr##*$'\n'}" "ws-watch: giving up after 3 attempts"
	run -3 --separate-stderr timeout 20 "$WW" -q --no-reconnect "ws://127.0.0.1:$port/"
	assert_equal "$stderr" "ws-watch: cannot connect to 'ws://127.0.0.1:$port/': connection refused"
}

@test "ws-watch: a refused handshake or subprotocol is a failure to connect" {
	start_server --interval 60000-60000
	run -3 --separate-stderr timeout 20 "$WW" -q --no-reconnect "${URL}nope"
	assert_equal "$stderr" "ws-watch: cannot connect to '${URL}nope': server answered 404 instead of 101"
	run -3 --separate-stderr timeout 20 "$WW" -q --no-reconnect --protocol chat "$URL"
	assert_equal "$stderr" "ws-watch: cannot connect to '$URL': server did not accept protocol 'chat'"
}

@test "ws-watch: bad URLs are usage errors (status 2)" {
	local u
	for u in http://127.0.0.1:3000/ ws:///path 'ws://127.0.0.1:99999/' \
		'ws://127.0.0.1:0/' 'ws://127.0.0.1:x/' ws:// ''; do
		run -2 --separate-stderr timeout 10 "$WW" "$u"
		assert_equal "$output" ""
		[[ ${stderr%%$'\n'*} == "ws-watch: "* ]]
		assert_equal "${stderr#*$'\n'}" "Try 'ws-watch --help' for more information."
	done
	run -2 --separate-stderr timeout 10 "$WW" http://127.0.0.1:3000/
	[[ $stderr == "ws-watch: 'http://127.0.0.1:3000/': scheme must be ws:// or wss://"* ]]
	run -2 --separate-stderr timeout 10 "$WW" 'ws://127.0.0.1:99999/'
	[[ $stderr == "ws-watch: 'ws://127.0.0.1:99999/': bad port number"* ]]
	run -2 --separate-stderr timeout 10 "$WW" ws:///path
	[[ $stderr == "ws-watch: 'ws:///path': no host"* ]]
	run -2 --separate-stderr timeout 10 "$WW" 'wss://127.0.0.1:99999/'
	[[ $stderr == "ws-watch: 'wss://127.0.0.1:99999/': bad port number"* ]]
}

@test "ws-watch: bad options are usage errors (status 2)" {
	run -2 --separate-stderr timeout 10 "$WW" --count 0 ws://127.0.0.1:1/
	[[ $stderr == "ws-watch: --count: '0' is out of range"* ]]
	run -2 --separate-stderr timeout 10 "$WW" --binary oct ws://127.0.0.1:1/
	[[ $stderr == "ws-watch: --binary: 'oct' is not hex, base64 or raw"* ]]
	run -2 --separate-stderr timeout 10 "$WW" --backoff 3-1 ws://127.0.0.1:1/
	[[ $stderr == "ws-watch: --backoff: "* ]]
	run -2 --separate-stderr timeout 10 "$WW" -H 'no colon' ws://127.0.0.1:1/
	[[ $stderr == "ws-watch: --header: "* ]]
	run -2 --separate-stderr timeout 10 "$WW" --retry 1 --no-reconnect ws://127.0.0.1:1/
	run -2 --separate-stderr timeout 10 "$WW" ws://127.0.0.1:1/ ws://127.0.0.1:2/
	run -2 --separate-stderr timeout 10 "$WW" --quiet -v ws://127.0.0.1:1/
	assert_equal "${stderr_lines[0]}" "ws-watch: --quiet and --verbose cannot be used together"
	# getopt's own errors too carry the program's name, not the path.
	run -2 --separate-stderr timeout 10 "$WW" --bogus
	assert_equal "${stderr_lines[0]}" "ws-watch: unknown option '--bogus'"
	assert_equal "${stderr##*$'\n'}" "Try 'ws-watch --help' for more information."
	run -2 --separate-stderr timeout 10 "$WW" -qZ ws://127.0.0.1:1/
	assert_equal "${stderr_lines[0]}" "ws-watch: unknown option '-Z'"
	run -2 --separate-stderr timeout 10 "$WW" ws://127.0.0.1:1/ -n
	assert_equal "${stderr_lines[0]}" "ws-watch: option '-n' needs a value"
	run -2 --separate-stderr timeout 10 "$WW" --stdin=yes ws://127.0.0.1:1/
	assert_equal "${stderr_lines[0]}" "ws-watch: option '--stdin' takes no value"
	# Timers count milliseconds: a time below one would mean "none".
	local o
	for o in --connect-timeout --ping-interval --timeout --duration; do
		run -2 --separate-stderr timeout 10 "$WW" "$o" 0.0004 ws://127.0.0.1:1/
		assert_equal "${stderr_lines[0]}" "ws-watch: $o: '0.0004' must be at least 0.001"
	done
	run -2 --separate-stderr timeout 10 "$WW" --linger 0.0004 ws://127.0.0.1:1/
	assert_equal "${stderr_lines[0]}" "ws-watch: --linger: '0.0004' must be 0 or at least 0.001"
}

@test "ws-watch: '://' or ':///' in a URL's query is not taken for a scheme or a missing host" {
	start_server --interval 60000-60000
	run -0 --separate-stderr timeout 20 "$WW" -n 1 --no-reconnect "127.0.0.1:$PORT/?next=http://x"
	check "${lines[0]}" '.type == "INITIAL"'
	run -0 --separate-stderr timeout 20 "$WW" -n 1 --no-reconnect "ws://127.0.0.1:$PORT/?next=file:///x"
	check "${lines[0]}" '.type == "INITIAL"'
}

@test "ws-watch: --help and --version" {
	run -0 --separate-stderr "$WW" --version
	assert_equal "$output" "ws-watch 0.1.0"
	run -0 --separate-stderr "$WW" -V
	assert_equal "$output" "ws-watch 0.1.0"
	run -0 --separate-stderr "$WW" --help
	[[ ${lines[0]} == "usage: ws-watch [-hkqVv] "* ]]
	assert_equal "$stderr" ""
}

@test "ws-watch: the man page is clean and documents every long option" {
	run -0 mandoc -Tlint -W warning "$MAN"
	local page opts o
	page=$(mandoc -Tutf8 "$MAN" | col -b)
	opts=$(grep -oE -- '--[a-z][a-z-]+' "$TOP/cmd/ws-watch.c" | sort -u)
	[ -n "$opts" ]
	for o in $opts; do
		[[ $page == *"$o"* ]] || { echo "undocumented: $o"; return 1; }
	done
	for s in NAME SYNOPSIS DESCRIPTION ENVIRONMENT "EXIT STATUS" EXAMPLES "SEE ALSO"; do
		grep -q "^$s" <<<"$page"
	done
	# usage() and SYNOPSIS name the same options.
	local syn use
	syn=$(sed -n '/^SYNOPSIS/,/^DESCRIPTION/p' <<<"$page" | grep -oE -- '-(-[a-z-]+|[a-zA-Z]+)' | sort -u)
	use=$("$WW" --help | sed '/^$/q' | grep -oE -- '-(-[a-z-]+|[a-zA-Z]+)' | sort -u)
	assert_equal "$syn" "$use"
}
