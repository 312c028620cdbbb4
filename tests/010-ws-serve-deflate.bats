#!/usr/bin/env bats
# ws-serve and permessage-deflate (RFC 7692), read off the wire with a raw
# peer: the negotiation, compressed frames both ways, the window sizes a
# client may ask for, and the bad input a compressed message can carry.
bats_require_minimum_version 1.5.0
load helper

raw() { "$PY" "$TOP/tests/peers/raw.py" --timeout 20 "$@"; }

ANSWER="permessage-deflate; server_no_context_takeover; client_no_context_takeover"

setup() {
	start_server --interval 10-20 --max-message 4096
}

teardown() {
	stop_servers
}

# A PING of n bytes of JSON (n >= 40), so that it is worth compressing.
ping_json() {
	local pad
	pad=$(printf "%*s" $(($1 - 35)) "" | tr ' ' a)
	printf '{"type":"PING","id":7,"pad":"%s"}' "$pad"
}

# closed_with CODE OFFER STEP...: the server closes with CODE.
closed_with() {
	local code=$1 offer=$2
	shift 2
	run -0 raw ws "$PORT" --ext "$offer" "$@" wait:close
	assert_line "close $code"
}

@test "deflate: an offer is answered with no context takeover both ways, and every broadcast comes compressed" {
	run -0 raw ws "$PORT" --ext "permessage-deflate; client_max_window_bits" \
		wait:text wait:text wait:text
	assert_line -n 0 "extensions $ANSWER"
	assert_line -n 1 --regexp '^deflate-text \{"type":"INITIAL",'
	assert_line -n 2 --regexp '^deflate-text \{"type":"UPDATE",'
	assert_line -n 3 --regexp '^deflate-text \{"type":"UPDATE",'
}

@test "deflate: without an offer, or with --no-deflate, frames go out plain" {
	run -0 raw ws "$PORT" wait:text wait:text
	assert_line -n 0 --regexp '^text \{"type":"INITIAL",'
	assert_line -n 1 --regexp '^text \{"type":"UPDATE",'
	stop_servers
	start_server --interval 10-20 --no-deflate
	run -0 raw ws "$PORT" --ext "permessage-deflate" wait:text wait:text
	assert_line -n 0 "extensions"
	assert_line -n 1 --regexp '^text \{"type":"INITIAL",'
	assert_line -n 2 --regexp '^text \{"type":"UPDATE",'
}

# quiet_server: no UPDATEs for a minute, so that a reply comes right after
# the INITIAL.
quiet_server() {
	stop_servers
	start_server --interval 60000-60000 --max-message 4096
}

@test "deflate: a compressed PING is answered; a short reply goes plain" {
	quiet_server
	run -0 raw ws "$PORT" --ext "permessage-deflate" \
		"F1M:1:z=$(ping_json 200)" wait:text wait:text
	# The PONG is short: plain.
	assert_line -n 2 --regexp '^text \{"type":"PONG","serverTime":[0-9]+\}$'
}

@test "deflate: a compressed message split over fragments is one message" {
	local hex half
	hex=$("$PY" -c '
import sys, zlib
c = zlib.compressobj(wbits=-15)
d = c.compress(sys.argv[1].encode()) + c.flush(zlib.Z_SYNC_FLUSH)
print(d[:-4].hex())' "$(ping_json 300)")
	half=$(( ${#hex} / 4 * 2 ))
	quiet_server
	run -0 raw ws "$PORT" --ext "permessage-deflate" \
		"M1:1:${hex:0:half}" "FM:0:${hex:half}" wait:text wait:text
	assert_line -n 2 --regexp '^text \{"type":"PONG",'
}

@test "deflate: server_max_window_bits is honoured: longer messages go plain" {
	# The INITIAL (about 510 bytes) is longer than a 2^8 window and goes
	# plain; UPDATEs (about 145) fit and go compressed.
	run -0 raw ws "$PORT" --ext "permessage-deflate; server_max_window_bits=8" \
		wait:text wait:text
	assert_line -n 0 "extensions $ANSWER; server_max_window_bits=8"
	assert_line -n 1 --regexp '^text \{"type":"INITIAL",'
	assert_line -n 2 --regexp '^deflate-text \{"type":"UPDATE",'
	run -0 raw ws "$PORT" --ext 'permessage-deflate; server_max_window_bits="12"' \
		wait:text
	assert_line -n 0 "extensions $ANSWER; server_max_window_bits=12"
	assert_line -n 1 --regexp '^deflate-text \{"type":"INITIAL",'
}

@test "deflate: unacceptable offers are declined, the next acceptable one is taken" {
	# An unknown parameter, a window out of range, a window without a
	# value, then a good offer.
	run -0 raw ws "$PORT" --ext "permessage-deflate; foo=1, x-webkit-deflate-frame, permessage-deflate; server_max_window_bits=16, permessage-deflate; server_max_window_bits, permessage-deflate; client_max_window_bits=10" \
		wait:text
	assert_line -n 0 "extensions $ANSWER"
	assert_line -n 1 --regexp '^deflate-text \{"type":"INITIAL",'
	# Nothing acceptable: no extension, and the connection goes on plain.
	run -0 raw ws "$PORT" --ext "permessage-deflate; server_no_context_takeover; server_no_context_takeover" \
		wait:text
	assert_line -n 0 "extensions"
	assert_line -n 1 --regexp '^text \{"type":"INITIAL",'
	# A malformed header is declined as a whole.
	run -0 raw ws "$PORT" --ext 'permessage-deflate; server_max_window_bits="10' \
		wait:text
	assert_line -n 0 "extensions"
}

@test "deflate: data that does not inflate is closed with 1007" {
	closed_with 1007 "permessage-deflate" "F1M:1:ffffffff"
	run -0 grep "1007: invalid compressed data" "$SERVER_LOG"
}

@test "deflate: compressed text that is not UTF-8 is closed with 1007" {
	# wslay does not look inside compressed text; the server must.
	closed_with 1007 "permessage-deflate" "F1M:1:zx=7b22ff80227d"
	closed_with 1007 "permessage-deflate" "F1M:1:zx=eda080"
	run -0 grep -c "1007: invalid UTF-8" "$SERVER_LOG"
	[ "$output" -eq 2 ]
}

@test "deflate: a small message that inflates past --max-message is closed with 1009" {
	# 100 kB of zeros compress to about 100 bytes: the limit applies to
	# what comes out, and nothing that large is ever allocated.
	closed_with 1009 "permessage-deflate" "F1M:1:zx=00*100000"
	run -0 grep "1009: message too big" "$SERVER_LOG"
}

@test "deflate: RSV1 without the extension, on a control frame or on a continuation is closed with 1002" {
	closed_with 1002 "" 'F1M:1:z={"type":"PING"}'
	closed_with 1002 "permessage-deflate" "F1M:9:"
	closed_with 1002 "permessage-deflate" 'M:1:t={"type":' 'F1M:0:t="PING"}'
}

@test "deflate: ws-watch offers it by default and reads every update in order; --no-deflate does not" {
	run -0 --separate-stderr timeout 20 "$BIN/ws-watch" -v -n 30 "$URL"
	[[ $stderr == *"< Sec-WebSocket-Extensions: $ANSWER"* ]] || fail "$stderr"
	# 29 UPDATEs after the INITIAL, their seqs consecutive.
	run -0 jq -s -e '
		.[0].type == "INITIAL" and
		([.[1:][] | .seq] as $s | ($s | length) == 29 and
		 ([range(1; 29) | $s[.] - $s[. - 1]] | all(. == 1)) and
		 $s[0] == .[0].seq + 1)' <<<"$output"
	run -0 --separate-stderr timeout 20 "$BIN/ws-watch" -v -n 2 --no-deflate "$URL"
	[[ $stderr != *"Sec-WebSocket-Extensions"* ]] || fail "$stderr"
}
