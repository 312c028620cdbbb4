#!/usr/bin/env bats
# ws-serve's WebSocket opening handshake: what it accepts and every way it
# refuses one.
bats_require_minimum_version 1.5.0
load helper

ws() { "$PY" "$TOP/tests/peers/ws.py" --timeout 30 "$@"; }

# request LINE...: sends the request made of the lines (CRLF added, then the
# empty line) in one write and prints the first response as JSON (raw.py).
request() {
	printf '%s\r\n' "$@" "" | "$PY" "$TOP/tests/peers/raw.py" --timeout 20 http "$PORT" --count 1
}

# refused STATUS LINE...: the request of LINEs gets the answer STATUS.
refused() {
	local want=$1
	shift
	run -0 request "$@"
	check "${lines[0]}" ".status == $want" || { echo "request: $*" >&2; return 1; }
}

# The sample key of RFC 6455 section 1.3 and its accept value.
KEY=dGhlIHNhbXBsZSBub25jZQ==
ACCEPT=s3pPLMBiTxaQ9kYGzzhZRbK+xOo=

setup() {
	start_server --interval 60000-60000
}

teardown() {
	stop_servers
}

@test "handshake: a valid request gets 101 with the right Sec-WebSocket-Accept" {
	run -0 request 'GET / HTTP/1.1' "Host: 127.0.0.1:$PORT" 'Upgrade: websocket' \
		'Connection: Upgrade' "Sec-WebSocket-Key: $KEY" 'Sec-WebSocket-Version: 13'
	check "${lines[0]}" \
		'.status == 101 and .version == "HTTP/1.1"' \
		'.headers.upgrade | ascii_downcase == "websocket"' \
		'.headers.connection | ascii_downcase == "upgrade"' \
		".headers[\"sec-websocket-accept\"] == \"$ACCEPT\"" \
		'.headers | has("sec-websocket-protocol") or has("sec-websocket-extensions") | not'
	# Any other key, computed here independently; an offered subprotocol
	# is declined, permessage-deflate accepted (010-ws-serve-deflate.bats).
	key=$(head -c 16 /dev/urandom | base64)
	want=$(printf '%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11' "$key" | openssl sha1 -binary | base64)
	run -0 request 'GET / HTTP/1.1' 'Host: x' 'Upgrade: websocket' 'Connection: Upgrade' \
		"Sec-WebSocket-Key: $key" 'Sec-WebSocket-Version: 13' \
		'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits' \
		'Sec-WebSocket-Protocol: chat'
	check "${lines[0]}" \
		".status == 101 and .headers[\"sec-websocket-accept\"] == \"$want\"" \
		'.headers | has("sec-websocket-protocol") | not' \
		'.headers["sec-websocket-extensions"] == "permessage-deflate; server_no_context_takeover; client_no_context_takeover"'
}

@test "handshake: header names and tokens are matched in any case" {
	run -0 request 'GET / HTTP/1.1' 'host: x' 'upgrade: WebSocket' \
		'connection: keep-alive, Upgrade' "sec-websocket-key: $KEY" 'SEC-WEBSOCKET-VERSION: 13'
	check "${lines[0]}" ".status == 101 and .headers[\"sec-websocket-accept\"] == \"$ACCEPT\""
	run -0 request 'GET /ws HTTP/1.1' 'Host: x' 'Upgrade: WEBSOCKET' \
		'Connection: UPGRADE' "Sec-Websocket-Key: $KEY" 'Sec-Websocket-Version: 13'
	check "${lines[0]}" ".status == 101 and .headers[\"sec-websocket-accept\"] == \"$ACCEPT\""
}

@test "handshake: the upgrade works on /ws, and with a query string" {
	run -0 ws "${URL}ws" recv bye
	check "${lines[0]}" '.type == "INITIAL" and (.data | length) == 5'
	run -0 "$PY" "$TOP/tests/peers/raw.py" --timeout 20 ws "$PORT" --path '/ws?client=test' wait:text
	[[ ${lines[0]} == 'text {"type":"INITIAL"'* ]]
}

@test "handshake: an upgrade on a later HTTP/1.x (1.2) is accepted, as RFC 6455 asks" {
	run -0 request 'GET / HTTP/1.2' 'Host: x' 'Upgrade: websocket' 'Connection: Upgrade' \
		"Sec-WebSocket-Key: $KEY" 'Sec-WebSocket-Version: 13'
	check "${lines[0]}" ".status == 101 and .headers[\"sec-websocket-accept\"] == \"$ACCEPT\""
}

@test "handshake: POST, HTTP/1.0, no Connection: Upgrade and no Host or two get 400" {
	refused 400 'POST / HTTP/1.1' 'Host: x' 'Upgrade: websocket' 'Connection: Upgrade' \
		"Sec-WebSocket-Key: $KEY" 'Sec-WebSocket-Version: 13' 'Content-Length: 0'
	refused 400 'GET / HTTP/1.0' 'Host: x' 'Upgrade: websocket' 'Connection: Upgrade' \
		"Sec-WebSocket-Key: $KEY" 'Sec-WebSocket-Version: 13'
	refused 400 'GET / HTTP/1.1' 'Host: x' 'Upgrade: websocket' 'Connection: keep-alive' \
		"Sec-WebSocket-Key: $KEY" 'Sec-WebSocket-Version: 13'
	refused 400 'GET / HTTP/1.1' 'Host: x' 'Upgrade: websocket' \
		"Sec-WebSocket-Key: $KEY" 'Sec-WebSocket-Version: 13'
	# "Upgrade" must be a whole token, not part of one.
	refused 400 'GET / HTTP/1.1' 'Host: x' 'Upgrade: websocket' 'Connection: Upgraded' \
		"Sec-WebSocket-Key: $KEY" 'Sec-WebSocket-Version: 13'
	# Host is required (RFC 6455 4.1, RFC 9112 3.2), once.
	refused 400 'GET / HTTP/1.1' 'Upgrade: websocket' 'Connection: Upgrade' \
		"Sec-WebSocket-Key: $KEY" 'Sec-WebSocket-Version: 13'
	refused 400 'GET / HTTP/1.1' 'Host: x' 'Host: y' 'Upgrade: websocket' \
		'Connection: Upgrade' "Sec-WebSocket-Key: $KEY" 'Sec-WebSocket-Version: 13'
}

@test "handshake: an upgrade request of a version other than HTTP/1.x gets 505" {
	for v in HTTP/2.0 HTTP/9.9; do
		refused 505 "GET / $v" 'Host: x' 'Upgrade: websocket' 'Connection: Upgrade' \
			"Sec-WebSocket-Key: $KEY" 'Sec-WebSocket-Version: 13'
	done
}

@test "handshake: a missing Sec-WebSocket-Key, or one not base64 of 16 bytes, gets 400" {
	refused 400 'GET / HTTP/1.1' 'Host: x' 'Upgrade: websocket' 'Connection: Upgrade' \
		'Sec-WebSocket-Version: 13'
	# 15 bytes, 17 bytes, not base64, empty, 32 bytes.
	for key in AAAAAAAAAAAAAAAAAAAA AAAAAAAAAAAAAAAAAAAAAAA= \
		'!!!!!!!!!!!!!!!!!!!!!!==' '' "$(head -c 32 /dev/zero | base64)"; do
		refused 400 'GET / HTTP/1.1' 'Host: x' 'Upgrade: websocket' 'Connection: Upgrade' \
			"Sec-WebSocket-Key: $key" 'Sec-WebSocket-Version: 13'
	done
}

@test "handshake: Sec-WebSocket-Version 8 gets 426 with Sec-WebSocket-Version: 13" {
	refused 426 'GET / HTTP/1.1' 'Host: x' 'Upgrade: websocket' 'Connection: Upgrade' \
		"Sec-WebSocket-Key: $KEY" 'Sec-WebSocket-Version: 8'
	check "${lines[0]}" '.headers["sec-websocket-version"] == "13"'
}

@test "handshake: an upgrade on another path gets 404, and the server goes on" {
	for path in /events /health /ws/x; do
		refused 404 "GET $path HTTP/1.1" 'Host: x' 'Upgrade: websocket' 'Connection: Upgrade' \
			"Sec-WebSocket-Key: $KEY" 'Sec-WebSocket-Version: 13'
	done
	run -0 ws "$URL" recv bye
	check "${lines[0]}" '.type == "INITIAL"'
}
