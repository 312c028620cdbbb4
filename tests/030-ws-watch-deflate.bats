#!/usr/bin/env bats
# ws-watch and permessage-deflate, against a raw server that answers and
# sends exactly what each test says: the offer, the answers a client must
# refuse, compressed messages with and without context takeover, and the
# bad data a compressed message can carry.
bats_require_minimum_version 1.5.0
load helper

setup() {
	WW=$BIN/ws-watch
}

teardown() {
	[ -z "${RAW_PID:-}" ] || kill "$RAW_PID" 2>/dev/null || true
}

# serve [--ext ANSWER] STEP...: raw_serve, and URL for it.
serve() {
	raw_serve "$@"
	URL="ws://127.0.0.1:$PORT/"
}

# z TEXT: TEXT compressed as one permessage-deflate message, in hex.
z() {
	"$PY" -c '
import sys, zlib
c = zlib.compressobj(wbits=-15)
d = c.compress(sys.argv[1].encode()) + c.flush(zlib.Z_SYNC_FLUSH)
print(d[:-4].hex())' "$1"
}

@test "ws-watch deflate: offers it, and prints compressed messages inflated" {
	serve --ext "permessage-deflate; server_no_context_takeover" \
		'F1:1:z={"type":"UPDATE","seq":1}' 'F:1:t={"plain":true}' \
		'F1:1:z={"type":"UPDATE","seq":2}' 'F:8:03e8' wait:close
	run -0 --separate-stderr timeout 20 "$WW" -q --no-reconnect "$URL"
	assert_equal "$output" $'{"type":"UPDATE","seq":1}\n{"plain":true}\n{"type":"UPDATE","seq":2}'
	wait "$RAW_PID"
	run -0 grep '^offer ' "$RAW_OUT"
	assert_output "offer permessage-deflate; client_max_window_bits"
}

@test "ws-watch deflate: a server that keeps context between messages" {
	# The second message refers back into the first: it inflates only on
	# a stream that kept the first one's window.
	hex=$("$PY" -c '
import zlib
c = zlib.compressobj(wbits=-15)
a = c.compress(b"{\"event\":\"Harbour Sprint\",\"n\":1}") + c.flush(zlib.Z_SYNC_FLUSH)
b = c.compress(b"{\"event\":\"Harbour Sprint\",\"n\":2}") + c.flush(zlib.Z_SYNC_FLUSH)
print(a[:-4].hex(), b[:-4].hex())')
	serve --ext "permessage-deflate" "F1:1:${hex% *}" "F1:1:${hex#* }" 'F:8:03e8' wait:close
	run -0 --separate-stderr timeout 20 "$WW" -q --no-reconnect "$URL"
	assert_equal "$output" $'{"event":"Harbour Sprint","n":1}\n{"event":"Harbour Sprint","n":2}'
}

@test "ws-watch deflate: bad compressed data fails the connection with 1007" {
	serve --ext "permessage-deflate" 'F1:1:ffffffff' wait:close
	run -1 --separate-stderr timeout 20 "$WW" -q --no-reconnect "$URL"
	assert_equal "$stderr" "ws-watch: connection failed: server sent bad compressed data (close 1007)"
	wait "$RAW_PID"
	run -0 grep '^close' "$RAW_OUT"
	assert_output "close 1007"
}

@test "ws-watch deflate: compressed text that is not UTF-8 fails with 1007" {
	serve --ext "permessage-deflate" 'F1:1:zx=61ff62' wait:close
	run -1 --separate-stderr timeout 20 "$WW" -q --no-reconnect "$URL"
	assert_equal "$stderr" "ws-watch: connection failed: server sent a text message that is not UTF-8 (close 1007)"
}

@test "ws-watch deflate: a message inflating past --max-message fails with 1009" {
	serve --ext "permessage-deflate" 'F1:1:zx=20*5000' wait:close
	run -1 --separate-stderr timeout 20 "$WW" -q --no-reconnect --max-message 1000 "$URL"
	assert_equal "$stderr" "ws-watch: connection failed: server sent a message over 1000 bytes (close 1009)"
}

@test "ws-watch deflate: messages ws-watch sends go compressed when they gain" {
	long='{"type":"PING","id":"'$(printf '%080d' 0)'"}'
	serve --ext "permessage-deflate" wait:text wait:text 'F:8:03e8' wait:close
	run -0 --separate-stderr timeout 20 "$WW" -q --no-reconnect -m '{"type":"PING"}' -m "$long" "$URL"
	wait "$RAW_PID"
	run -0 grep 'text' "$RAW_OUT"
	assert_equal "$output" $'text {"type":"PING"}\ndeflate-text '"$long"
}

@test "ws-watch deflate: answers a client must refuse end the attempt" {
	# Not offered (--no-deflate), an unknown parameter, a window without a
	# value: each is a failed handshake, status 3 under --no-reconnect.
	serve --ext "permessage-deflate"
	run -3 --separate-stderr timeout 20 "$WW" -q --no-reconnect --no-deflate "$URL"
	assert_equal "$stderr" "ws-watch: cannot connect to '$URL': server agreed to an extension we did not offer: 'permessage-deflate'"
	serve --ext "permessage-deflate; hello=1"
	run -3 --separate-stderr timeout 20 "$WW" -q --no-reconnect "$URL"
	assert_equal "$stderr" "ws-watch: cannot connect to '$URL': bad permessage-deflate parameters: 'permessage-deflate; hello=1'"
	serve --ext "permessage-deflate; client_max_window_bits"
	run -3 --separate-stderr timeout 20 "$WW" -q --no-reconnect "$URL"
	[[ $stderr == *"bad permessage-deflate parameters"* ]] || fail "$stderr"
}

@test "ws-watch deflate: --no-deflate offers nothing" {
	serve 'F:1:t=x' 'F:8:03e8' wait:close
	run -0 --separate-stderr timeout 20 "$WW" -q --no-reconnect --no-deflate "$URL"
	assert_output x
	wait "$RAW_PID"
	run -0 grep '^offer' "$RAW_OUT"
	assert_output "offer"
}
