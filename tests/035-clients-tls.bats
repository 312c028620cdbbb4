#!/usr/bin/env bats
# The clients over TLS and with tokens: ws-watch and ws-ping against
# ws-serve --tls-cert/--tls-key with a throwaway CA (events-get, curl and
# python3-websockets check the same server), bearer tokens against
# ws-serve --token, and ws-watch --echo against python3-websockets.
bats_require_minimum_version 1.5.0
load helper

# A CA, a certificate for localhost and 127.0.0.1, and one for another
# name only, all signed by that CA; P-256 keys are quick to make.
setup_file() {
	local d=$BATS_FILE_TMPDIR name
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
		-nodes -keyout "$d/ca.key" -out "$d/ca.pem" -days 2 \
		-subj "/CN=wskit test CA" 2>/dev/null
	for name in server:DNS:localhost,IP:127.0.0.1 other:DNS:other.example; do
		printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\n' \
			"${name#*:}" >"$d/${name%%:*}.ext"
		openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
			-nodes -keyout "$d/${name%%:*}.key" -out "$d/${name%%:*}.csr" \
			-subj "/CN=${name%%:*}" 2>/dev/null
		openssl x509 -req -in "$d/${name%%:*}.csr" -CA "$d/ca.pem" \
			-CAkey "$d/ca.key" -CAcreateserial -days 2 \
			-extfile "$d/${name%%:*}.ext" -out "$d/${name%%:*}.pem" 2>/dev/null
	done
	[ -s "$d/server.pem" ] && [ -s "$d/other.pem" ]
}

setup() {
	WW=$BIN/ws-watch
	WP=$BIN/ws-ping
	EG=$BIN/events-get
	CA=$BATS_FILE_TMPDIR/ca.pem
	unset WS_URL WS_TOKEN EVENTS_URL
	# Only --cacert may make the test CA trusted.
	unset SSL_CERT_FILE SSL_CERT_DIR CURL_CA_BUNDLE
}

teardown() {
	stop_servers
	[ -z "${RAW_PID:-}" ] || kill "$RAW_PID" 2>/dev/null || true
}

# start_tls_server [CERT [ws-serve options...]]: ws-serve over TLS with
# CERT (server or other). Sets WSS (wss://127.0.0.1:PORT/) and HTTPS.
start_tls_server() {
	local cert=${1:-server}
	shift || true
	start_server --interval 60000-60000 \
		--tls-cert "$BATS_FILE_TMPDIR/$cert.pem" \
		--tls-key "$BATS_FILE_TMPDIR/$cert.key" "$@"
	grep -q "listening on https://127.0.0.1:$PORT/" "$SERVER_LOG"
	WSS="wss://127.0.0.1:$PORT/"
	HTTPS="https://127.0.0.1:$PORT"
}

# start_echo_checker: a python3-websockets server that sends a text and a
# binary message, reads two messages back and prints on stderr whether
# they are the same, then closes with 1000. Sets PORT, URL and ECHO_LOG.
start_echo_checker() {
	start_py echo <<-'EOF'
	import asyncio, sys
	import websockets

	TEXT = '{"type":"ECHO","text":"h\u00e9llo \u2603"}'
	BIN = bytes([0, 1, 2, 0xfe, 0xff, 10, 13, 0x80])

	async def handler(ws, path=None):
	    await ws.send(TEXT)
	    await ws.send(BIN)
	    a = await ws.recv()
	    b = await ws.recv()
	    ok = isinstance(a, str) and a == TEXT and \
	        isinstance(b, bytes) and b == BIN
	    print("echo: %s" % ("same" if ok else "differs: %r %r" % (a, b)),
	          file=sys.stderr, flush=True)
	    await ws.close(1000, "done")

	async def main():
	    async with websockets.serve(handler, "127.0.0.1", 0) as server:
	        port = server.sockets[0].getsockname()[1]
	        print("echo: listening on ws://127.0.0.1:%d/" % port,
	              file=sys.stderr, flush=True)
	        await asyncio.Future()

	asyncio.run(main())
	EOF
	ECHO_LOG=$PY_LOG
}

@test "ws-watch: wss:// with --cacert gets the INITIAL" {
	start_tls_server
	run -0 --separate-stderr timeout 20 "$WW" -q -n 1 --cacert "$CA" "$WSS"
	[[ $output == '{"type":"INITIAL",'* ]]
	assert_equal "${#lines[@]}" 1
	assert_equal "$stderr" ""
	# By name too: the certificate holds localhost, sent as SNI.
	run -0 --separate-stderr timeout 20 "$WW" -q -n 1 --cacert "$CA" \
		"wss://localhost:$PORT/"
	[[ $output == '{"type":"INITIAL",'* ]]
}

@test "ws-watch: -v shows the TLS handshake time" {
	start_tls_server
	run -0 --separate-stderr timeout 20 "$WW" -v -n 1 --cacert "$CA" "$WSS"
	[[ $stderr == *"ws-watch: peer 127.0.0.1, tcp connect "*" ms, tls "*" ms, handshake "*" ms"* ]]
}

@test "ws-watch: wss:// without the CA fails to connect (status 3)" {
	start_tls_server
	run -3 --separate-stderr timeout 20 "$WW" -q --no-reconnect "$WSS"
	assert_equal "$output" ""
	assert_equal "$stderr" "ws-watch: cannot connect to '$WSS': certificate verify failed: unable to get local issuer certificate"
}

@test "ws-watch: -k and --insecure skip the certificate check" {
	start_tls_server
	run -0 --separate-stderr timeout 20 "$WW" -q -n 1 -k "$WSS"
	[[ $output == '{"type":"INITIAL",'* ]]
	start_tls_server other
	run -0 --separate-stderr timeout 20 "$WW" -q -n 1 --insecure "wss://127.0.0.1:$PORT/"
	[[ $output == '{"type":"INITIAL",'* ]]
}

@test "ws-watch: a certificate for another name fails (status 3)" {
	start_tls_server other
	run -3 --separate-stderr timeout 20 "$WW" -q --no-reconnect --cacert "$CA" "$WSS"
	assert_equal "$output" ""
	assert_equal "$stderr" "ws-watch: cannot connect to '$WSS': certificate verify failed: IP address mismatch"
	run -3 --separate-stderr timeout 20 "$WW" -q --no-reconnect --cacert "$CA" \
		"wss://localhost:$PORT/"
	assert_equal "$stderr" "ws-watch: cannot connect to 'wss://localhost:$PORT/': certificate verify failed: hostname mismatch"
}

@test "ws-watch: wss:// to a server without TLS fails (status 3)" {
	start_server --interval 60000-60000
	run -3 --separate-stderr timeout 20 "$WW" -q --no-reconnect --cacert "$CA" \
		"wss://127.0.0.1:$PORT/"
	[[ $stderr == "ws-watch: cannot connect to 'wss://127.0.0.1:$PORT/': TLS handshake failed: "* ]]
}

@test "ws-watch: a TLS handshake that never ends times out (status 3)" {
	# Accepts and reads, never answers.
	start_py mute <<-'EOF'
	import socket, sys, time
	s = socket.socket()
	s.bind(("127.0.0.1", 0))
	s.listen(8)
	print("mute: listening on tcp://127.0.0.1:%d" % s.getsockname()[1],
	      file=sys.stderr, flush=True)
	conns = []
	while True:
	    c, _ = s.accept()
	    conns.append(c)
	EOF
	run -3 --separate-stderr timeout 20 "$WW" -q --no-reconnect \
		--connect-timeout 0.5 --cacert "$CA" "wss://127.0.0.1:$PORT/"
	assert_equal "$stderr" "ws-watch: cannot connect to 'wss://127.0.0.1:$PORT/': timed out in the TLS handshake (0.5 s)"
}

@test "a CA file that cannot be used is a usage error in every client, whatever the URL" {
	local none=$BATS_TEST_TMPDIR/none.pem junk=$BATS_TEST_TMPDIR/junk.pem prog url
	echo 'not a certificate' >"$junk"
	for prog in ws-watch ws-ping events-get; do
		for url in wss://127.0.0.1:1/ ws://127.0.0.1:1/; do
			[ $prog = events-get ] && url="--url=${url/ws/http}"
			run -2 --separate-stderr timeout 10 "$BIN/$prog" --cacert "$none" "$url"
			assert_equal "${stderr_lines[0]}" "$prog: --cacert: cannot read '$none': No such file or directory"
			run -2 --separate-stderr timeout 10 "$BIN/$prog" --cacert "$junk" "$url"
			[[ ${stderr_lines[0]} == "$prog: --cacert: cannot load CA certificates '$junk': "* ]]
			assert_equal "${stderr_lines[1]}" "Try '$prog --help' for more information."
		done
	done
}

@test "ws-ping: -c 2 over wss:// with --cacert" {
	start_tls_server
	run -0 --separate-stderr timeout 20 "$WP" -c 2 -i 0.05 --cacert "$CA" "$WSS"
	[[ ${lines[0]} == "WS-PING $WSS (127.0.0.1:$PORT): connect "* ]]
	assert_line --index 1 --regexp "^PONG from 127.0.0.1:$PORT: seq=1 time=[0-9.]+ ms$"
	assert_line --index 2 --regexp "^PONG from 127.0.0.1:$PORT: seq=2 time=[0-9.]+ ms$"
	assert_line --partial "2 probes sent, 2 received, 0% loss"
	assert_equal "$stderr" ""
	run -0 --separate-stderr timeout 20 "$WP" -q -c 1 -k "$WSS"
	run -3 --separate-stderr timeout 20 "$WP" -c 1 "$WSS"
	assert_equal "$stderr" "ws-ping: cannot connect to '$WSS': certificate verify failed: unable to get local issuer certificate"
}

@test "ws-ping: load mode over wss:// shares one TLS context across threads" {
	start_tls_server
	run -0 --separate-stderr timeout 30 "$WP" -q -C 20 --threads 4 -c 3 -i 0.02 \
		--cacert "$CA" "$WSS"
	assert_line --partial "60 probes sent, 60 received, 0% loss"
	assert_line --partial "20 clients, 20 connected, 0 connect failures"
}

@test "events-get and curl read the REST API over https:// with the CA" {
	start_tls_server
	run -0 --separate-stderr timeout 20 "$EG" --cacert "$CA" --url "$HTTPS" EVENT#00
	[[ $output == '{"id":"EVENT#00",'* ]]
	run -0 --separate-stderr timeout 20 curl -sS --cacert "$CA" "$HTTPS/events"
	[[ $output == '[{"id":"EVENT#00",'* ]]
	run -0 --separate-stderr timeout 20 curl -sS --cacert "$CA" "https://localhost:$PORT/health"
	[[ $output == '{"status":"ok"'* ]]
}

@test "the server ends TLS with close_notify: openssl s_client sees no unexpected EOF" {
	start_tls_server
	# An answer with Connection: close, and the close of a WebSocket: both
	# end with the alert, which OpenSSL 3 otherwise reports as an error.
	run -0 --separate-stderr timeout 20 openssl s_client -connect "127.0.0.1:$PORT" \
		-CAfile "$CA" -quiet -ign_eof \
		<<<$'GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
	[[ $output == *'{"status":"ok"'* ]] || fail "$output"
	[[ $stderr != *"unexpected eof"* ]] || fail "$stderr"
	run -0 --separate-stderr timeout 20 "$BIN/ws-watch" -n 1 -q --cacert "$CA" "$WSS"
	run -0 grep -c '"type":"INITIAL"' <<<"$output"
}

# raw_tls STEP...: raw_serve over TLS with the server certificate.
raw_tls() {
	raw_serve --tls "$BATS_FILE_TMPDIR/server.pem" "$BATS_FILE_TMPDIR/server.key" "$@"
}

@test "the clients end TLS with close_notify after the close handshake" {
	# ws-watch closes after its one message, the server echoes the close.
	raw_tls 'F:1:t={"type":"INITIAL","seq":0,"data":[]}' wait:close F:8:03e8
	run -0 --separate-stderr timeout 20 "$WW" -n 1 -q --no-reconnect --cacert "$CA" "wss://127.0.0.1:$PORT/"
	assert_output '{"type":"INITIAL","seq":0,"data":[]}'
	wait "$RAW_PID" || fail "$(cat "$RAW_OUT")"
	run -0 tail -1 "$RAW_OUT"
	assert_output "close_notify"
	# A ws-ping storm client opens and closes at once.
	raw_tls wait:close F:8:03e8
	run -0 --separate-stderr timeout 20 "$WP" --storm -C 1 -c 1 -q --cacert "$CA" "wss://127.0.0.1:$PORT/"
	wait "$RAW_PID" || fail "$(cat "$RAW_OUT")"
	run -0 tail -1 "$RAW_OUT"
	assert_output "close_notify"
}

@test "the server over TLS: a request then close_notify is answered; pipelined requests beyond its output limit all are" {
	mkdir "$BATS_TEST_TMPDIR/web"
	echo page >"$BATS_TEST_TMPDIR/web/index.html"
	head -c 1000 /dev/zero | tr '\0' x >"$BATS_TEST_TMPDIR/web/k.txt"
	start_tls_server server --web "$BATS_TEST_TMPDIR/web"
	run -0 timeout 60 "$PY" - "$PORT" "$CA" <<-'EOF'
	import socket, ssl, sys
	port, ca = int(sys.argv[1]), sys.argv[2]
	ctx = ssl.create_default_context(cafile=ca)

	def connect():
	    s = socket.create_connection(("127.0.0.1", port))
	    s.settimeout(20)
	    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
	    t = ctx.wrap_bio(inc, out, server_hostname="127.0.0.1")
	    while True:
	        try:
	            t.do_handshake()
	            break
	        except ssl.SSLWantReadError:
	            s.sendall(out.read())
	            inc.write(s.recv(65536))
	    s.sendall(out.read())
	    return s, t, inc, out

	def read_all(s, t, inc):
	    got = []
	    while True:
	        d = s.recv(1 << 20)
	        if not d:
	            return b"".join(got)
	        inc.write(d)
	        try:
	            while True:
	                d = t.read(1 << 20)
	                if not d:  # after the server's close_notify
	                    return b"".join(got)
	                got.append(d)
	        except ssl.SSLWantReadError:
	            pass
	        except ssl.SSLZeroReturnError:
	            return b"".join(got)

	# A request, then close_notify in the same flight: a half-close.
	s, t, inc, out = connect()
	t.write(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
	try:
	    t.unwrap()
	except ssl.SSLWantReadError:
	    pass
	s.sendall(out.read())
	print("half-close:", read_all(s, t, inc).split(b"\r\n")[0].decode())
	# 1000 requests for 1 KB each in one flight (three TLS records), the
	# last asking to close: the server stops reading after about 250 of
	# them (256 KiB of answers unsent), with the rest of the records
	# still to decrypt.
	s, t, inc, out = connect()
	req = b"GET /k.txt HTTP/1.1\r\nHost: x\r\n\r\n"
	t.write(req * 999 + req.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
	s.sendall(out.read())
	got = read_all(s, t, inc)
	print("pipelined:", got.count(b"HTTP/1.1 200 OK"), len(got) > 1000 * 1000)
	EOF
	assert_line "half-close: HTTP/1.1 200 OK"
	assert_line "pipelined: 1000 True"
}

@test "a broken record after the handshake is logged as a TLS error, not a handshake failure" {
	start_tls_server
	run -0 timeout 20 "$PY" - "$PORT" "$CA" <<-'EOF'
	import os, socket, ssl, sys, time
	ctx = ssl.create_default_context(cafile=sys.argv[2])
	s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
	t = ctx.wrap_socket(s, server_hostname="127.0.0.1")
	t.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
	print(t.recv(12).decode())
	# An application-data record that cannot decrypt.
	os.write(t.fileno(), b"\x17\x03\x03\x00\x20" + b"x" * 32)
	time.sleep(0.3)
	EOF
	assert_output "HTTP/1.1 200"
	wait_for "$SERVER_LOG" "tls 127.0.0.1:[0-9]*: TLS error: .*bad record mac" 10 ||
		fail "$(cat "$SERVER_LOG")"
	run -1 grep "handshake failed" "$SERVER_LOG"
}

@test "python3-websockets connects over wss:// with the CA" {
	start_tls_server
	run -0 --separate-stderr timeout 20 $PY - "$WSS" "$CA" <<-'EOF'
	import asyncio, json, ssl, sys
	import websockets

	async def main():
	    ctx = ssl.create_default_context(cafile=sys.argv[2])
	    async with websockets.connect(sys.argv[1], ssl=ctx) as ws:
	        print(json.loads(await ws.recv())["type"])

	asyncio.run(main())
	EOF
	assert_equal "$output" "INITIAL"
}

@test "ws-watch: --token and WS_TOKEN against ws-serve --token" {
	start_server --interval 60000-60000 --token s3cret
	run -3 --separate-stderr timeout 20 "$WW" -q --no-reconnect "$URL"
	assert_equal "$output" ""
	assert_equal "$stderr" "ws-watch: cannot connect to '$URL': server answered 401 instead of 101 (a token is needed: --token or WS_TOKEN)"
	run -3 --separate-stderr timeout 20 "$WW" -q --no-reconnect --token wrong "$URL"
	assert_equal "$stderr" "ws-watch: cannot connect to '$URL': server answered 401 instead of 101 (the token was refused)"
	run -0 --separate-stderr timeout 20 "$WW" -q -n 1 --token s3cret "$URL"
	[[ $output == '{"type":"INITIAL",'* ]]
	WS_TOKEN=s3cret run -0 --separate-stderr timeout 20 "$WW" -q -n 1 "$URL"
	[[ $output == '{"type":"INITIAL",'* ]]
	# --token wins over WS_TOKEN.
	WS_TOKEN=wrong run -0 --separate-stderr timeout 20 "$WW" -q -n 1 --token s3cret "$URL"
	[[ $output == '{"type":"INITIAL",'* ]]
	# -v does not show the token.
	run -0 --separate-stderr timeout 20 "$WW" -v -n 1 --token s3cret "$URL"
	[[ $stderr == *"ws-watch: > Authorization: (hidden)"* ]]
	[[ $stderr != *s3cret* ]]
}

@test "ws-watch: a token over wss://" {
	start_tls_server server --token s3cret
	run -3 --separate-stderr timeout 20 "$WW" -q --no-reconnect --cacert "$CA" "$WSS"
	[[ $stderr == *"server answered 401 instead of 101"* ]]
	WS_TOKEN=s3cret run -0 --separate-stderr timeout 20 "$WW" -q -n 1 --cacert "$CA" "$WSS"
	[[ $output == '{"type":"INITIAL",'* ]]
}

@test "ws-watch: a bad token is a usage error" {
	run -2 --separate-stderr "$WW" --token '' ws://127.0.0.1:1/
	[[ $stderr == "ws-watch: --token: the token is empty or holds a line break"* ]]
	WS_TOKEN=$'a\nb' run -2 --separate-stderr "$WW" ws://127.0.0.1:1/
	[[ $stderr == "ws-watch: WS_TOKEN: the token holds a line break"* ]]
}

@test "ws-ping: --token and WS_TOKEN against ws-serve --token" {
	start_server --interval 60000-60000 --token s3cret
	run -3 --separate-stderr timeout 20 "$WP" -c 1 "$URL"
	assert_equal "$stderr" "ws-ping: cannot connect to '$URL': server answered 401 instead of 101"
	run -0 --separate-stderr timeout 20 "$WP" -q -c 1 --token s3cret "$URL"
	assert_line --partial "1 probes sent, 1 received"
	WS_TOKEN=s3cret run -0 --separate-stderr timeout 20 "$WP" -q -c 1 "$URL"
	assert_line --partial "1 probes sent, 1 received"
	run -2 --separate-stderr "$WP" --token '' "$URL"
	[[ $stderr == "ws-ping: --token: bad token"* ]]
}

@test "ws-watch: --echo sends text and binary messages back unchanged" {
	start_echo_checker
	run -0 --separate-stderr timeout 20 "$WW" -q --echo --no-reconnect --binary hex "$URL"
	assert_equal "${lines[0]}" '{"type":"ECHO","text":"héllo ☃"}'
	assert_equal "${lines[1]}" "000102feff0a0d80"
	assert_equal "${#lines[@]}" 2
	wait_for "$ECHO_LOG" '^echo: same' 5 || { cat "$ECHO_LOG"; false; }
}

@test "ws-watch: --echo with -n sends the echo before closing" {
	start_echo_checker
	run -0 --separate-stderr timeout 20 "$WW" -q --echo -n 2 "$URL"
	assert_equal "${#lines[@]}" 2
	wait_for "$ECHO_LOG" '^echo: same' 5 || { cat "$ECHO_LOG"; false; }
}
