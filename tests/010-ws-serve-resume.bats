#!/usr/bin/env bats
# ws-serve resuming: ?since=SEQ&epoch=E replays the missed UPDATEs from the
# history ring instead of sending an INITIAL, when it can.
bats_require_minimum_version 1.5.0
load helper

ws() { "$PY" "$TOP/tests/peers/ws.py" --timeout 30 "$@"; }

# About 17 updates a second: S+10 comes soon, and the ring of 1000 still
# holds S+1 a minute later, however slow the machine.
setup() {
	start_server --history 1000 --interval 200-400
	B=$BATS_TEST_TMPDIR
}

teardown() {
	stop_servers
}

# first_contact: connects once and sets E and S from the INITIAL.
first_contact() {
	run -0 ws "$URL" recv bye
	read -r E S < <(jq -r 'select(.type == "INITIAL") | "\(.epoch) \(.seq)"' <<<"${lines[0]}")
	[ -n "$E" ] && [ -n "$S" ]
}

# wait_past SEQ: returns once another client has seen an UPDATE with seq
# above SEQ, keeping what it saw in $B/live.
wait_past() {
	run -0 ws "$URL" "seq:$(($1 + 1))" bye
	printf '%s\n' "${lines[@]}" >"$B/live"
}

# check_resumed FROM N: the first N lines of $output are UPDATEs with seq
# FROM+1 .. FROM+N, and no INITIAL came.
check_resumed() {
	printf '%s\n' "${lines[@]:0:$2}" >"$B/resumed"
	check "$(jq -sc . "$B/resumed")" \
		"length == $2 and all(.[]; .type == \"UPDATE\")" \
		"[.[].seq] == [range($1 + 1; $1 + $2 + 1)]"
	[[ $output != *'"type":"INITIAL"'* ]]
}

@test "resume: since and epoch replay the missed UPDATEs, then live ones, and no INITIAL" {
	first_contact
	wait_past $((S + 10))
	jq -c "select(.type == \"UPDATE\" and .seq > $S)" "$B/live" >"$B/a"
	[ -s "$B/a" ]
	hi=$(tail -n 1 "$B/a" | jq .seq)
	# Replayed up to hi at least, then five live ones.
	run -0 ws "${URL}?since=$S&epoch=$E" "seq:$((hi + 5))" bye
	check_resumed "$S" $((hi + 5 - S))
	# The replayed UPDATEs are the very ones live clients were sent.
	lo=$(head -n 1 "$B/a" | jq .seq)
	jq -c "select(.seq >= $lo and .seq <= $hi)" "$B/resumed" >"$B/b"
	cmp "$B/a" "$B/b"
	# Without the epoch it resumes the same, also on /ws.
	run -0 ws "${URL}ws?since=$S" updates:5 bye
	check_resumed "$S" 5
}

@test "resume: a wrong epoch, a since ahead of the current seq, or not a number get an INITIAL" {
	first_contact
	wait_past $((S + 10))
	for q in "since=$S&epoch=not$E" "since=$((S + 1000000))&epoch=$E" "since=abc&epoch=$E" \
		"since=-1&epoch=$E" "since=${S}x&epoch=$E"; do
		run -0 ws "${URL}?$q" recv bye
		check "${lines[0]}" \
			".type == \"INITIAL\" and .epoch == \"$E\" and (.data | length) == 5" \
			".seq > $S + 10" || { echo "query: $q" >&2; false; }
	done
}

@test "resume: a since older than the ring (--history 5) gets an INITIAL" {
	start_server --history 5 --interval 10-20
	first_contact
	wait_past $((S + 10))
	run -0 ws "${URL}?since=$S&epoch=$E" recv updates:3 bye
	# An INITIAL past the gap, and the stream goes on from it.
	check "$(printf '%s\n' "${lines[@]:0:4}" | jq -sc .)" \
		".[0].type == \"INITIAL\" and .[0].epoch == \"$E\" and .[0].seq > $S + 10" \
		'[.[1:][].seq] == [range(.[0].seq + 1; .[0].seq + 4)]'
}

@test "resume: with nothing changing, since=0 resumes with nothing to replay, since=1 is ahead" {
	start_server --interval 60000-60000
	first_contact
	[ "$S" -eq 0 ]
	# If an INITIAL came, it would come before the PONG.
	run -0 ws "${URL}?since=0&epoch=$E" 'send:{"type":"PING","timestamp":1}' recv bye
	check "${lines[0]}" '.type == "PONG" and .timestamp == 1'
	run -0 ws "${URL}?since=0" 'send:{"type":"PING","timestamp":2}' recv bye
	check "${lines[0]}" '.type == "PONG" and .timestamp == 2'
	run -0 ws "${URL}?since=1&epoch=$E" recv bye
	check "${lines[0]}" ".type == \"INITIAL\" and .epoch == \"$E\" and .seq == 0"
}
