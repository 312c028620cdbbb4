#!/usr/bin/env bats
# ws-serve against hostile peers: broken and oversized handshakes, frames
# that break RFC 6455, connection churn, slowloris, floods and a client that
# never reads. After each, the server must still greet a normal client with
# an INITIAL, and its memory must not have grown past a bound.
bats_require_minimum_version 1.5.0
load helper

# The memory bound: VmRSS may grow by at most this much over the RSS the
# server had once it started. Nothing here should leave memory behind; 20
# MiB leaves room for allocator caches and, under ASan, its quarantine.
RSS_SLACK_KB=20480
# Under ASan, freed memory waits in a quarantine (256 MB by default) and
# would count as growth; a small one keeps VmRSS meaningful.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4

hostile() { "$PY" "$TOP/tests/peers/hostile.py" --timeout 10 "$@"; }
raw() { "$PY" "$TOP/tests/peers/raw.py" --timeout 10 "$@"; }
ws() { "$PY" "$TOP/tests/peers/ws.py" --timeout 10 "$@"; }

# hex STRING: the bytes of STRING (printf escapes allowed) in hex.
hex() { printf "$1" | od -An -v -tx1 | tr -d ' \n'; }

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$SERVER_PID/status"; }

# alive: the server process runs (a dead child stays a zombie until waited
# for, and kill -0 would still find it).
alive() {
	local st
	st=$(awk '/^State:/ { print $2 }' "/proc/$SERVER_PID/status" 2>/dev/null)
	[ -n "$st" ] && [ "$st" != Z ]
}

# serve [OPTIONS...]: starts ws-serve (a slow simulator unless OPTIONS say
# otherwise) and notes its RSS.
serve() {
	start_server --interval 60000-60000 "$@"
	RSS0=$(rss_kb)
}

teardown() {
	stop_servers
}

# still_fine: the server is alive, greets a new client with an INITIAL, and
# its RSS is within RSS_SLACK_KB of its start.
still_fine() {
	alive ||
		fail "ws-serve is gone; its log ends: $(tail -n 25 "$SERVER_LOG")"
	run -0 ws "$URL" recv bye
	jq -e '.type == "INITIAL"' <<<"${lines[0]}"
	local rss
	rss=$(rss_kb)
	echo "# RSS ${RSS0} kB at start, ${rss} kB now" >&3
	[ "$rss" -le $((RSS0 + RSS_SLACK_KB)) ]
}

@test "hostile: truncated handshakes get no 101 and leave the server well" {
	serve
	req=$(printf 'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n' | od -An -v -tx1 | tr -d ' \n')
	# Cut after 1 byte, in the request line, in a name, in a value, and
	# just before the final CRLF; each ends with a FIN.
	for cut in 1 9 40 80 $((${#req} / 2 - 2)); do
		run -0 hostile send "$PORT" --shut "${req:0:cut*2}"
		assert_equal "$output" "eof"
	done
	still_fine
}

@test "hostile: a request head over 8 KiB gets 431, by one value or many fields" {
	serve
	big=$(printf 'a%.0s' $(seq 9000))
	run -0 raw http "$PORT" <<<"$(printf 'GET / HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n' "$big")"
	[ "${#lines[@]}" -eq 1 ]
	jq -e '.status == 431' <<<"${lines[0]}"
	many=$(for i in $(seq 70); do printf 'X-F%d: v\r\n' "$i"; done)
	run -0 raw http "$PORT" <<<"$(printf 'GET / HTTP/1.1\r\n%s\r\n\r\n' "$many")"
	jq -e '.status == 431' <<<"${lines[0]}"
	# The same on an upgrade request.
	run -0 raw http "$PORT" <<<"$(printf 'GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Big: %s\r\n\r\n' "$big")"
	jq -e '.status == 431' <<<"${lines[0]}"
	still_fine
}

@test "hostile: garbage instead of a request gets 400" {
	serve
	run -0 hostile send "$PORT" "$(hex '\x00\x01\x02garbage\r\n\r\n')"
	assert_equal "${lines[0]}" "HTTP/1.1 400 Bad Request"
	assert_equal "${lines[-1]}" "eof"
	still_fine
}

@test "hostile: garbage after the upgrade closes with 1002" {
	serve
	# "hello": 0x68 has RSV bits set and a reserved opcode.
	run -0 hostile send "$PORT" --upgrade "$(hex 'hello world\r\n')"
	assert_equal "$output" $'text INITIAL\nclose 1002\neof'
	# 4 KiB of noise (fixed, so the outcome is too) in one write.
	noise=$("$PY" -c 'import random; r = random.Random(20); print(bytes(r.getrandbits(8) for _ in range(4096)).hex())')
	run -0 hostile send "$PORT" --upgrade "$noise"
	assert_equal "$output" $'text INITIAL\nclose 1002\neof'
	still_fine
}

@test "hostile: reserved bits and reserved opcodes close with 1002" {
	serve
	for rsv in 1 2 3 123; do
		run -0 raw ws "$PORT" wait:text "FM$rsv:1:7b7d" wait:close
		assert_equal "${lines[-1]}" "close 1002"
	done
	for op in 3 6 7 11 13 15; do
		run -0 raw ws "$PORT" wait:text "FM:$op:7b7d" wait:close
		assert_equal "${lines[-1]}" "close 1002"
	done
	still_fine
}

@test "hostile: unmasked client frames close with 1002" {
	serve
	for f in F:1:7b7d F:2:00 F:9:01 F:8:03e8; do
		run -0 raw ws "$PORT" wait:text "$f" wait:close
		assert_equal "${lines[-1]}" "close 1002"
	done
	still_fine
}

@test "hostile: fragmented control frames close with 1002" {
	serve
	for op in 8 9 10; do
		run -0 raw ws "$PORT" wait:text "M:$op:01" FM:0:02 wait:close
		assert_equal "${lines[-1]}" "close 1002"
	done
	still_fine
}

@test "hostile: a 2^63-byte frame header closes, without a crash" {
	serve
	# The length's top bit is set, which RFC 6455 forbids: 1002.
	run -0 hostile send "$PORT" --upgrade 81ff800000000000000000000000
	assert_equal "$output" $'text INITIAL\nclose 1002\neof'
	# 2^63-1 is a legal length, far over --max-message: 1009 at the
	# header, with no payload sent, and with some.
	run -0 hostile send "$PORT" --upgrade 81ff7fffffffffffffff00000000
	assert_equal "$output" $'text INITIAL\nclose 1009\neof'
	run -0 hostile send "$PORT" --upgrade "81ff7fffffffffffffff00000000$(printf '61%.0s' $(seq 64))"
	assert_equal "$output" $'text INITIAL\nclose 1009\neof'
	still_fine
}

@test "hostile: a new text message inside a fragmented one closes with 1002" {
	serve
	run -0 raw ws "$PORT" wait:text M:1:7b FM:1:7b7d wait:close
	assert_equal "${lines[-1]}" "close 1002"
	run -0 raw ws "$PORT" wait:text M:1:7b M:2:00 wait:close
	assert_equal "${lines[-1]}" "close 1002"
	run -0 raw ws "$PORT" wait:text M:2:00 FM:1:7b7d wait:close
	assert_equal "${lines[-1]}" "close 1002"
	still_fine
}

@test "hostile: a close with an invalid code closes with 1002" {
	serve
	# 1005 and 1006 must never be sent; 999 and 5000 are outside the
	# ranges; a 1-byte payload cannot hold a code.
	for payload in 03ed 03ee 03e7 1388 0000 03; do
		run -0 raw ws "$PORT" wait:text "FM:8:$payload" wait:close
		assert_equal "${lines[-1]}" "close 1002"
	done
	# A valid code with a reason that is not UTF-8: 1007.
	run -0 raw ws "$PORT" wait:text FM:8:03e8ff wait:close
	assert_equal "${lines[-1]}" "close 1007"
	still_fine
}

@test "hostile: 2000 connections dropped mid-handshake leave the server well" {
	serve
	run -0 timeout 25 "$PY" "$TOP/tests/peers/hostile.py" churn "$PORT" 2000 20
	[[ $output == "2000 connections in "* ]]
	still_fine
	# Nothing is left: /health counts no client.
	run -0 curl -sS --max-time 5 "$HTTP/health"
	jq -e '.clients == 0' <<<"$output"
}

@test "hostile: slowloris, a half request is cut after --handshake-timeout" {
	serve --handshake-timeout 1
	run -0 hostile slowloris "$PORT"
	[[ $output =~ ^closed\ after\ ([0-9.]+)\ s$ ]]
	# The sweeper looks once a second: 1 s plus at most one period, plus
	# slack for a loaded machine.
	awk -v t="${BASH_REMATCH[1]}" 'BEGIN { exit !(t >= 0.9 && t <= 3.5) }'
	wait_for "$SERVER_LOG" 'no complete request in time' 5
	still_fine
}

@test "hostile: --max-clients 2 answers a third upgrade with 503" {
	serve --max-clients 2
	run -0 hostile maxclients "$PORT" 3
	assert_equal "$output" $'101\n101\n503'
	# Once they are gone, a client gets in again.
	still_fine
}

@test "hostile: a flood over --msg-rate gets an ERROR, then close 1008" {
	serve --msg-rate 5/s --msg-burst 5
	run -0 hostile flood "$PORT" 50
	assert_equal "${lines[0]}" "text INITIAL"
	# The burst of 5 is answered, the sixth message is refused.
	for i in 1 2 3 4 5; do assert_equal "${lines[i]}" "text PONG"; done
	assert_equal "${lines[6]}" "text ERROR"
	assert_equal "${lines[7]}" "close 1008"
	assert_equal "${lines[-1]}" "eof"
	wait_for "$SERVER_LOG" 'rate limit exceeded' 5
	still_fine
}

# slowreader MODE: a client stops reading among 100 normal ones, on a
# server with about 700 updates a second, where a reader that stops passes
# 64 KiB of queue within seconds; hostile.py tells what each got (see its
# usage). No heartbeat: its Pings are writes to the slow client, and each
# write runs the check that the client caught up, which must fire by
# itself when the client drains.
slowreader() {
	start_server --interval 5-10 --max-queue 65536 --heartbeat 0
	run -0 timeout 300 "$PY" "$TOP/tests/peers/hostile.py" --timeout 60 \
		slowreader "$PORT" "$SERVER_LOG" "$SERVER_PID" 100 "$1"
	echo "# $output" >&3
	res=$output
}

# normal_clients_served: the 100 normal clients got every update, in order,
# from their INITIAL to well past the slow client's verdict, and were not
# closed; the server's memory stayed bounded meanwhile (32 MiB over the
# start: the release build grows by about 1 MB here, while under ASan the
# 100 clients alone cost some 13 MB); a new client is greeted.
normal_clients_served() {
	jq -e '.gaps == 0 and .closed == 0 and .updates >= 20' <<<"$res"
	jq -e --argjson slack 32768 \
		'.rss_max_kb - .rss_start_kb <= $slack' <<<"$res"
	run -0 ws "$URL" recv bye
	jq -e '.type == "INITIAL"' <<<"${lines[0]}"
}

@test "hostile: a client that stops reading, then reads again within the grace, gets a fresh INITIAL and updates" {
	slowreader resume
	jq -e '.lagging' <<<"$res"
	# The greeting, then a fresh INITIAL, then 20 UPDATEs in order after it.
	jq -e '.slow == "initial" and .initials >= 2' <<<"$res"
	grep -q 'caught up, sending a fresh INITIAL' "$SERVER_LOG"
	normal_clients_served
}

@test "hostile: a client that never reads is closed with 1008 after the grace" {
	slowreader never
	jq -e '.lagging and .verdict_logged' <<<"$res"
	# What it reads once closed ends with the close. It may hold fresh
	# INITIALs too: while it does not read, the kernel's send buffer for
	# it still grows for a while (to the maximum of net.ipv4.tcp_wmem),
	# and what moves there has left the server's queue, which is all the
	# server can see drain. Its 1008 comes 10 s after the last of those.
	jq -e '.slow == "close 1008"' <<<"$res"
	normal_clients_served
}

@test "hostile: a client that asks for PONGs and never reads is held to --max-queue" {
	# No broadcast happens here: replies alone must count against
	# --max-queue (default 1 MiB), else the queue grows without end.
	serve
	run -0 hostile pongflood "$PORT" "$SERVER_PID" 8
	echo "# $output" >&3
	jq -e --argjson slack "$RSS_SLACK_KB" \
		'.rss_max_kb - .rss_start_kb <= $slack' <<<"$output"
	wait_for "$SERVER_LOG" 'slow-client' 5
	still_fine
}

@test "hostile: compressed PINGs that ask for large PONGs are held to --max-queue a few at a time, and all are answered" {
	# 1000 of them are 121 KB on the wire and ask for 65 MB of PONGs: one
	# read holds hundreds, so a check after each read is too late.
	serve --msg-rate 0
	run -0 hostile zpings "$PORT" "$SERVER_PID" 1000
	echo "# $output" >&3
	jq -e '.pongs == 1000' <<<"$output"
	jq -e --argjson slack "$RSS_SLACK_KB" \
		'.rss_max_kb - .rss_start_kb <= $slack' <<<"$output"
	still_fine
}

@test "hostile: messages left unfinished in 1-byte fragments hold no memory per fragment, and are answered once finished" {
	# Ten clients, 60000 fragments each: at a buffer per fragment, as
	# wslay keeps them, that was 55 MB.
	serve --msg-rate 0
	run -0 hostile fragments "$PORT" "$SERVER_PID" 10 60000
	echo "# $output" >&3
	jq -e '.pongs == 10' <<<"$output"
	jq -e --argjson slack "$RSS_SLACK_KB" \
		'.rss_max_kb - .rss_start_kb <= $slack' <<<"$output"
	still_fine
}

# big_web: a web folder with a 4 MB file (static files go up to 4 MiB);
# three of them are more than loopback's socket buffers hold. Sets WEB.
big_web() {
	WEB=$BATS_TEST_TMPDIR/web
	mkdir -p "$WEB"
	echo page >"$WEB/index.html"
	head -c 4000000 /dev/zero | tr '\0' x >"$WEB/big.txt"
}

@test "hostile: a client that asks for a large answer, or sends Close, then reads nothing is cut after 10 s without progress" {
	big_web
	serve --web "$WEB" --echo --max-queue 64M
	"$PY" - "$PORT" >"$BATS_TEST_TMPDIR/c.out" 2>&1 <<-'EOF' &
	import base64, os, socket, sys, time
	port = int(sys.argv[1])

	def conn():
	    s = socket.create_connection(("127.0.0.1", port))
	    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
	    return s

	# Three kept-alive requests for 4 MB, and three whose last says
	# Connection: close.
	a, b = conn(), conn()
	req = b"GET /big.txt HTTP/1.1\r\nHost: x\r\n\r\n"
	a.sendall(req * 3)
	b.sendall(req * 2 + req.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
	# A WebSocket client that has 8 MB echoed into its queue, then sends
	# Close.
	c = conn()
	key = base64.b64encode(os.urandom(16)).decode()
	c.sendall(("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
	           "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
	           "Sec-WebSocket-Version: 13\r\n\r\n" % key).encode())
	msg = b"x" * 60000
	for _ in range(140):
	    c.sendall(b"\x81\xfe" + len(msg).to_bytes(2, "big") + b"\0\0\0\0" + msg)
	c.sendall(b"\x88\x82\0\0\0\0\x03\xe8")
	print("sent", flush=True)
	# Then nothing is read.
	time.sleep(40)
	EOF
	client=$!
	wait_for "$BATS_TEST_TMPDIR/c.out" '^sent' 20 || fail "$(cat "$BATS_TEST_TMPDIR/c.out")"
	t0=$SECONDS
	for i in $(seq 60); do
		[ "$(grep -c 'the client reads nothing of what it asked' "$SERVER_LOG")" -ge 3 ] && break
		sleep 0.5
	done
	t=$((SECONDS - t0))
	kill "$client" 2>/dev/null || true
	wait "$client" 2>/dev/null || true
	echo "# cut after about $t s" >&3
	run -0 grep -c 'the client reads nothing of what it asked' "$SERVER_LOG"
	assert_output 3
	# The grace is 10 s from the last byte the kernel took; the sweep runs
	# once a second.
	[ "$t" -ge 8 ] || fail "cut after $t s"
	# Only the one asking is left. (The answers it held, 20 MB, are not
	# all given back to the system: no RSS bound here.)
	run -0 curl -s --noproxy '*' "$HTTP/metrics"
	assert_line 'wskit_connections_open 1'
	alive || fail "ws-serve is gone: $(tail -n 25 "$SERVER_LOG")"
}

@test "hostile: a kept-alive answer that drains slowly is not cut by the request timeout" {
	big_web
	serve --web "$WEB" --handshake-timeout 2
	# Three answers of 4 MB read at about 2 MB/s: six seconds, three times
	# the timeout for the next request.
	run -0 timeout 60 "$PY" - "$PORT" <<-'EOF'
	import socket, sys, time
	s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
	s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
	s.sendall(b"GET /big.txt HTTP/1.1\r\nHost: x\r\n\r\n" * 3)
	n = 0
	while True:
	    d = s.recv(65536)
	    if not d:
	        break
	    n += len(d)
	    if n >= 12000000:
	        break
	    time.sleep(0.03)
	print(n >= 12000000)
	EOF
	assert_output "True"
	run -1 grep 'no complete request in time' "$SERVER_LOG"
}
