#!/usr/bin/env bats
# ws-serve against bad client input: messages it answers with an ERROR, and
# frames it must close the connection for, with the right close code.
bats_require_minimum_version 1.5.0
load helper

ws() { "$PY" "$TOP/tests/peers/ws.py" --timeout 30 "$@"; }
raw() { "$PY" "$TOP/tests/peers/raw.py" --timeout 20 "$@"; }

# hex STRING: the bytes of STRING in hex.
hex() { printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n'; }

# closes_with CODE STEP...: a raw connection that reads the INITIAL, then
# runs the raw.py STEPs, is closed by the server with CODE.
closes_with() {
	local code=$1
	shift
	run -0 raw ws "$PORT" wait:text "$@" wait:close
	[[ ${lines[0]} == 'text {"type":"INITIAL"'* ]]
	assert_equal "${lines[-1]}" "close $code"
}

# A slow simulator: no UPDATE comes between a request and its answer.
setup() {
	start_server --interval 60000-60000 --max-message 1024
}

teardown() {
	stop_servers
}

@test "badinput: each bad text message gets an ERROR and the connection stays open" {
	bad=(
		'hello' ''                                  # not JSON
		'{"type":"PING"} trailing' '{"type":"PING"' # not JSON either
		'[{"type":"PING"}]' '[]'                    # arrays
		'"PING"' '42' 'null'                        # other values
		'{"timestamp":1}' '{}'                      # no type
		'{"type":"SUBSCRIBE"}' '{"type":"PONG"}'    # unknown types
		'{"type":5}' '{"type":["PING"]}'
	)
	ops=(recv)
	for n in "${!bad[@]}"; do
		ops+=("send:${bad[n]}" reply "send:{\"type\":\"PING\",\"timestamp\":$n}" reply)
	done
	run -0 ws "$URL" "${ops[@]}" bye
	[ "${#lines[@]}" -eq $((2 * ${#bad[@]} + 2)) ]
	replies=$(printf '%s\n' "${lines[@]:1:2*${#bad[@]}}" | jq -sc .)
	# Each bad message has its ERROR, then the PING after it its PONG.
	check "$replies" \
		"length == $((2 * ${#bad[@]}))" \
		'[.[range(0; length; 2)] | .type == "ERROR" and (.error | type == "string" and length > 0)] | all' \
		'[.[range(1; length; 2)] | .type == "PONG"] | all' \
		'[.[range(1; length; 2)].timestamp] == [range(0; length / 2)]'
	check "${lines[-1]}" '.peer == "close" and .code == 1000'
}

@test "badinput: a binary message closes with 1003" {
	run -0 ws "$URL" recv bin:7b7d close
	[ "${#lines[@]}" -eq 2 ]
	check "${lines[1]}" '.peer == "close" and .code == 1003'
}

@test "badinput: invalid UTF-8 in a text message closes with 1007" {
	pre=$(hex '{"type":"PING","timestamp":"')
	post=$(hex '"}')
	closes_with 1007 "FM:1:${pre}c0af$post"     # overlong encoding of '/'
	closes_with 1007 "FM:1:${pre}eda080$post"   # UTF-16 surrogate
	closes_with 1007 "FM:1:${pre}f4908080$post" # above U+10FFFF
	closes_with 1007 "FM:1:${pre}e282"          # cut short at the end
}

@test "badinput: UTF-8 split across fragments: invalid closes with 1007, valid is one message" {
	pre=$(hex '{"type":"PING","timestamp":"')
	post=$(hex '"}')
	# The Ping between the fragments makes the server read them apart.
	closes_with 1007 "M:1:${pre}e282" FM:9:01 wait:pong "FM:0:28$post"
	[ "${#lines[@]}" -eq 3 ]
	# E2 82 | AC is the euro sign.
	run -0 raw ws "$PORT" wait:text "M:1:${pre}e282" FM:9:01 wait:pong "FM:0:ac$post" \
		wait:text FM:8:03e8 wait:close
	[ "${#lines[@]}" -eq 4 ]
	check "${lines[2]#text }" '.type == "PONG" and .timestamp == "€"'
	assert_equal "${lines[3]}" "close 1000"
}

@test "badinput: a message over --max-message 1024 closes with 1009" {
	pad=$(printf 'a%.0s' $(seq 994))
	ok='{"type":"PING","timestamp":"'$pad'"}'
	big='{"type":"PING","timestamp":"'$pad$(printf 'a%.0s' $(seq 976))'"}'
	[ "${#ok}" -eq 1024 ] && [ "${#big}" -eq 2000 ]
	# 1024 bytes pass, then 2000 bytes close the connection.
	run -0 ws "$URL" recv "send:$ok" reply "send:$big" close
	[ "${#lines[@]}" -eq 3 ]
	check "${lines[1]}" ".type == \"PONG\" and .timestamp == \"$pad\""
	check "${lines[2]}" '.peer == "close" and .code == 1009'
	# 1025 bytes are one too many.
	over='{"type":"PING","timestamp":"'${pad}a'"}'
	[ "${#over}" -eq 1025 ]
	run -0 ws "$URL" recv "send:$over" close
	check "${lines[1]}" '.peer == "close" and .code == 1009'
	# So are two fragments of 600.
	closes_with 1009 M:1:61*600 FM:0:61*600
}

@test "badinput: a header announcing more than --max-message 1024 closes with 1009 before any payload" {
	# No payload follows the headers: the length alone decides, at once.
	closes_with 1009 head:FM:1:1025
	closes_with 1009 head:FM:2:70000
	# In a fragmented message the fragments so far count: 600 + 425.
	closes_with 1009 M:1:61*600 head:FM:0:425
	# A Ping between fragments is not part of the message; it is
	# answered before the close.
	closes_with 1009 M:1:61*600 FM:9:01 M:0:61*400 head:FM:0:25
	assert_equal "${lines[1]}" "pong 01"
	[ "${#lines[@]}" -eq 3 ]
	# Up to the limit exactly the message is taken (it is not JSON: an
	# ERROR), and the connection stays open.
	run -0 raw ws "$PORT" wait:text M:1:61*600 M:0:61*400 FM:0:61*24 wait:text \
		FM:8:03e8 wait:close
	check "${lines[1]#text }" '.type == "ERROR"'
	assert_equal "${lines[2]}" "close 1000"
	wait_for "$SERVER_LOG" 'close .* 1009: message too big' 5
}

@test "badinput: unmasked frames, reserved bits, unknown opcodes and bad continuations close with 1002" {
	closes_with 1002 "F:1:$(hex '{"type":"PING"}')" # not masked
	closes_with 1002 "FM1:1:$(hex '{"type":"PING"}')"
	closes_with 1002 "FM3:1:$(hex '{"type":"PING"}')"
	closes_with 1002 FM:3:7b7d  # reserved data opcode
	closes_with 1002 FM:11:7b7d # reserved control opcode
	closes_with 1002 FM:0:7b7d  # continuation of nothing
	closes_with 1002 M:1:7b FM:1:7b7d # a new message inside a fragmented one
	# And the server goes on.
	run -0 raw ws "$PORT" wait:text
	[[ ${lines[0]} == 'text {"type":"INITIAL"'* ]]
}

@test "badinput: a fragmented control frame closes with 1002" {
	closes_with 1002 M:9:01
}

@test "badinput: a control frame over 125 bytes closes with 1002" {
	closes_with 1002 FM:9:00*126
}
