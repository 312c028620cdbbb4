#!/usr/bin/env bats
# events-get: the REST fetcher, against ws-serve and two tiny stand-ins
# (a server that never answers, and one that answers 503 before it works).
bats_require_minimum_version 1.5.0
load helper

setup() {
	EG=$BIN/events-get
	MAN=$TOP/man/events-get.1
	unset EVENTS_URL WS_URL WS_TOKEN
}

teardown() {
	stop_servers
}

# A ws-serve whose events do not change during a test.
start_quiet_server() {
	start_server --interval 60000-60000
}

# start_fake_server FAILS [SEEN]: a server that answers FAILS requests
# with 503 and then serves the list (pretty-printed, so over several lines)
# and EVENT#00. With SEEN, /events/held waits up to 15 s for that file to
# exist before it answers, with 503 if it never does. Sets PORT and HTTP
# like start_server.
start_fake_server() {
	start_py fake "$1" "${2:-}" <<-'EOF'
	import json, os, sys, time
	from http.server import HTTPServer, BaseHTTPRequestHandler
	fails = int(sys.argv[1])
	seen = sys.argv[2]
	event = {"id": "EVENT#00", "name": "Caf\u00e9", "score": 0.1,
	         "updatedAt": "2026-01-01T00:00:00.000Z"}
	def held():
	    end = time.time() + 15
	    while not os.path.exists(seen) and time.time() < end:
	        time.sleep(0.02)
	    return os.path.exists(seen)
	class H(BaseHTTPRequestHandler):
	    def log_message(self, *a):
	        pass
	    def do_GET(self):
	        global fails
	        if fails > 0:
	            fails -= 1
	            code, body = 503, '{"error": "busy"}'
	        elif self.path == "/events/held" and not held():
	            code, body = 503, '{"error": "no line seen"}'
	        elif self.path == "/events":
	            code, body = 200, json.dumps([event, event], indent=2) + "\n"
	        else:
	            code, body = 200, json.dumps(event, indent=1)
	        self.send_response(code)
	        self.send_header("Content-Type", "application/json")
	        self.send_header("Content-Length", str(len(body)))
	        self.end_headers()
	        self.wfile.write(body.encode())
	s = HTTPServer(("127.0.0.1", 0), H)
	print("fake: listening on http://127.0.0.1:%d/" % s.server_port,
	      file=sys.stderr, flush=True)
	s.serve_forever()
	EOF
	HTTP="http://127.0.0.1:$PORT"
}

# start_silent_server: accepts connections and never answers.
start_silent_server() {
	local log
	log=$(mktemp "$BATS_TEST_TMPDIR/silent.XXXXXX")
	$PY -c '
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(8)
print("silent: listening on http://127.0.0.1:%d/" % s.getsockname()[1],
      file=sys.stderr, flush=True)
held = []
while True:
    held.append(s.accept()[0])
' 2>"$log" 3>&- &
	SERVERS="${SERVERS:-} $!"
	wait_for_port "$log"
	HTTP="http://127.0.0.1:$PORT"
}

# The man page as plain text.
man_text() {
	mandoc -Tascii "$MAN" | sed 's/.\x08//g'
}

@test "events-get: each line is flushed as it comes, not when the last target is done" {
	# The server holds its answer for the second target until the reader
	# has seen the first line: buffered output would wait for it, and the
	# held answer would end as a 503 after 15 s.
	local seen=$BATS_TEST_TMPDIR/seen
	start_fake_server 0 "$seen"
	run -0 --separate-stderr timeout 30 bash -c \
		'set -o pipefail; "$1" --url "$2" EVENT%2300 held | { read -r l && touch "$3" && echo "$l" && cat; }' \
		_ "$EG" "$HTTP" "$seen"
	assert_equal "${#lines[@]}" 2
	check "${lines[0]}" '.id == "EVENT#00"'
	assert_equal "${lines[1]}" "${lines[0]}"
	assert_equal "$stderr" ""
}

@test "the list: one line, an array of 5 events" {
	start_quiet_server
	run -0 --separate-stderr "$EG" --url "$HTTP"
	[ "${#lines[@]}" -eq 1 ]
	assert_equal "$(jq -c 'length' <<<"$output")" 5
	assert_equal "$(jq -c 'map(.id)' <<<"$output")" \
		'["EVENT#00","EVENT#01","EVENT#02","EVENT#03","EVENT#04"]'
	assert_equal "$stderr" ""
}

@test "EVENT#00 is the event that curl gets for EVENT%2300" {
	start_quiet_server
	run -0 --separate-stderr "$EG" --url "$HTTP" 'EVENT#00'
	[ "${#lines[@]}" -eq 1 ]
	assert_equal "$(jq -r .id <<<"$output")" 'EVENT#00'
	want=$(curl -s "$HTTP/events/EVENT%2300" | jq -cS .)
	assert_equal "$(jq -cS . <<<"$output")" "$want"
	assert_equal "$stderr" ""
}

@test "two IDs print two lines, in the order given" {
	start_quiet_server
	run -0 --separate-stderr "$EG" --url "$HTTP" 'EVENT#03' 'EVENT#01'
	[ "${#lines[@]}" -eq 2 ]
	assert_equal "$(jq -r .id <<<"${lines[0]}")" 'EVENT#03'
	assert_equal "$(jq -r .id <<<"${lines[1]}")" 'EVENT#01'
}

@test "an unknown ID: status 1, the message, nothing on stdout" {
	start_quiet_server
	run -1 --separate-stderr "$EG" --url "$HTTP" 'EVENT#09'
	assert_equal "$output" ""
	assert_equal "$stderr" "events-get: EVENT#09: not found (404)"
}

@test "an unknown ID among known ones: the others are still printed" {
	start_quiet_server
	run -1 --separate-stderr "$EG" --url "$HTTP" 'EVENT#09' 'EVENT#02'
	[ "${#lines[@]}" -eq 1 ]
	assert_equal "$(jq -r .id <<<"$output")" 'EVENT#02'
	assert_equal "$stderr" "events-get: EVENT#09: not found (404)"
}

@test "an ID is percent-encoded exactly once" {
	start_quiet_server
	run -1 --separate-stderr "$EG" -v --url "$HTTP" 'a b/c%d é' '..'
	# libcurl writes the hex digits in lower case; both cases are valid.
	[[ ${stderr,,} == *"events-get: > get /events/a%20b%2fc%25d%20%c3%a9 http/1.1"* ]]
	[[ ${stderr,,} == *"events-get: > get /events/%2e%2e http/1.1"* ]]
	[[ $stderr == *"events-get: a b/c%d é: not found (404)"* ]]
	[[ $stderr == *"events-get: ..: not found (404)"* ]]
	assert_equal "$output" ""
}

@test "connection refused: status 3 and curl's reason" {
	port=$(free_port)
	run -3 --separate-stderr "$EG" --url "http://127.0.0.1:$port"
	assert_equal "$output" ""
	assert_equal "$stderr" \
		"events-get: cannot connect to 'http://127.0.0.1:$port/events': Couldn't connect to server"
}

@test "--retry retries a refused connection, then status 3" {
	port=$(free_port)
	run -3 --separate-stderr "$EG" --retry 1 --url "http://127.0.0.1:$port" x
	[ "${#stderr_lines[@]}" -eq 2 ]
	assert_equal "${stderr_lines[0]}" \
		"events-get: warning: cannot connect to 'http://127.0.0.1:$port/events/x': Couldn't connect to server; retry 1 of 1 in 1 s"
	assert_equal "${stderr_lines[1]}" \
		"events-get: cannot connect to 'http://127.0.0.1:$port/events/x': Couldn't connect to server"
}

@test "--retry retries 5xx answers; -q silences the warnings" {
	start_fake_server 2
	run -0 --separate-stderr "$EG" --retry 2 --url "$HTTP" 'EVENT#00'
	assert_equal "$(jq -r .id <<<"$output")" 'EVENT#00'
	assert_equal "${#stderr_lines[@]}" 2
	assert_equal "${stderr_lines[0]}" \
		"events-get: warning: EVENT#00: service unavailable (503); retry 1 of 2 in 1 s"
	start_fake_server 1
	run -0 --separate-stderr "$EG" -q --retry 1 --url "$HTTP" 'EVENT#00'
	assert_equal "$stderr" ""
}

@test "a 5xx without retries left: status 1" {
	start_fake_server 1
	run -1 --separate-stderr "$EG" --url "$HTTP"
	assert_equal "$output" ""
	assert_equal "$stderr" \
		"events-get: 'http://127.0.0.1:$PORT/events': service unavailable (503)"
}

@test "a body over several lines is printed on one, tokens as sent" {
	start_fake_server 0
	run -0 --separate-stderr "$EG" --url "$HTTP" 'EVENT#00'
	assert_equal "$output" \
		'{"id":"EVENT#00","name":"Caf\u00e9","score":0.1,"updatedAt":"2026-01-01T00:00:00.000Z"}'
	run -0 --separate-stderr "$EG" --url "$HTTP"
	[ "${#lines[@]}" -eq 1 ]
	assert_equal "$(jq -c 'length' <<<"$output")" 2
}

@test "--max-time gives up on a server that never answers: status 1" {
	start_silent_server
	run -1 --separate-stderr "$EG" --max-time 0.3 --url "$HTTP"
	assert_equal "$output" ""
	[[ $stderr == "events-get: 'http://127.0.0.1:$PORT/events': Timeout was reached"* ]]
}

@test "a bad option: status 2 and a hint" {
	run -2 --separate-stderr "$EG" --bogus
	assert_equal "$output" ""
	assert_equal "$stderr" "events-get: unknown option '--bogus'
Try 'events-get --help' for more information."
	run -2 --separate-stderr "$EG" --url
	assert_equal "${stderr_lines[0]}" "events-get: option '--url' needs a value"
}

@test "bad values: status 2, naming the value" {
	run -2 --separate-stderr "$EG" --retry 2x
	assert_equal "${stderr_lines[0]}" "events-get: --retry: '2x' is not a whole number"
	run -2 --separate-stderr "$EG" --watch 0
	assert_equal "${stderr_lines[0]}" "events-get: --watch: '0' must be more than 0"
	run -2 --separate-stderr "$EG" --max-time soon
	assert_equal "${stderr_lines[0]}" "events-get: --max-time: 'soon' is not a number of seconds"
	run -2 --separate-stderr "$EG" -H 'no colon'
	assert_equal "${stderr_lines[0]}" "events-get: bad header 'no colon': expected 'Name: value'"
	run -2 --separate-stderr "$EG" -q -v
	assert_equal "${stderr_lines[0]}" "events-get: --quiet and --verbose cannot be used together"
	run -2 --separate-stderr "$EG" ''
	assert_equal "${stderr_lines[0]}" "events-get: empty event ID"
}

@test "a bad URL: status 2 and a clear message" {
	run -2 --separate-stderr "$EG" --url 'http://'
	assert_equal "$output" ""
	assert_equal "${stderr_lines[0]}" "events-get: bad URL 'http://': No host part in the URL"
	run -2 --separate-stderr "$EG" --url 'ftp://example.invalid/'
	assert_equal "${stderr_lines[0]}" "events-get: bad URL 'ftp://example.invalid/': unsupported scheme 'ftp'"
	WS_URL='http://127.0.0.1:99999' run -2 --separate-stderr "$EG"
	[[ ${stderr_lines[0]} == "events-get: bad URL 'http://127.0.0.1:99999': "* ]]
}

@test "a ws:// URL in WS_URL serves too: host and port kept, path and query dropped" {
	start_quiet_server
	WS_URL=$URL run -0 --separate-stderr "$EG"
	assert_equal "$(jq -c 'length' <<<"$output")" 5
	WS_URL="ws://127.0.0.1:$PORT/ws?since=3&epoch=x" run -0 --separate-stderr "$EG" 'EVENT#04'
	assert_equal "$(jq -r .id <<<"$output")" 'EVENT#04'
	assert_equal "$stderr" ""
}

@test "--url, then EVENTS_URL, then WS_URL" {
	start_quiet_server
	bad="http://127.0.0.1:$(free_port)"
	EVENTS_URL=$HTTP WS_URL=$bad run -0 --separate-stderr "$EG" 'EVENT#01'
	assert_equal "$(jq -r .id <<<"$output")" 'EVENT#01'
	EVENTS_URL=$bad WS_URL=$URL run -0 --separate-stderr "$EG" --url "$HTTP/" 'EVENT#01'
	assert_equal "$(jq -r .id <<<"$output")" 'EVENT#01'
	EVENTS_URL=$bad WS_URL=$URL run -3 --separate-stderr "$EG" 'EVENT#01'
}

@test "--lines prints one event per line, each valid JSON" {
	start_quiet_server
	run -0 --separate-stderr "$EG" --lines --url "$HTTP"
	[ "${#lines[@]}" -eq 5 ]
	for i in 0 1 2 3 4; do
		assert_equal "$(jq -r .id <<<"${lines[$i]}")" "EVENT#0$i"
	done
	start_fake_server 0
	run -0 --separate-stderr "$EG" -l --url "$HTTP"
	[ "${#lines[@]}" -eq 2 ]
	assert_equal "$(jq -r .id <<<"${lines[1]}")" 'EVENT#00'
}

@test "-H and --token (or WS_TOKEN) go into every request; -v hides the token" {
	start_server --interval 60000-60000 --token t0k
	run -0 --separate-stderr "$EG" -v -H 'X-Test: yes' --token t0k --url "$HTTP" 'EVENT#00' 'EVENT#01'
	[ "${#lines[@]}" -eq 2 ]
	# -v: libcurl's trace under our name, the token's value hidden.
	[ "$(grep -c '^events-get: > Authorization: (hidden)$' <<<"$stderr")" -eq 2 ]
	[ "$(grep -c '^events-get: > X-Test: yes$' <<<"$stderr")" -eq 2 ]
	[ "$(grep -c '^events-get: < HTTP/1.1 200 OK$' <<<"$stderr")" -eq 2 ]
	[ "$(grep -c '^events-get: [*<>] ' <<<"$stderr")" -eq "${#stderr_lines[@]}" ]
	[[ $stderr != *t0k* ]]
	WS_TOKEN=t0k run -0 --separate-stderr "$EG" --url "$HTTP" 'EVENT#00'
	[ "${#lines[@]}" -eq 1 ]
	WS_TOKEN=wrong run -1 --separate-stderr "$EG" --url "$HTTP" 'EVENT#00'
	assert_equal "$stderr" "events-get: EVENT#00: unauthorized (401)"
}

@test "--watch prints changed events, never the same (id, updatedAt) twice" {
	start_server --interval 1000-3000
	run -124 --separate-stderr timeout 5 "$EG" --watch 0.2 --url "$HTTP"
	assert_equal "$stderr" ""
	[ "${#lines[@]}" -gt 5 ]
	# The first poll prints every event.
	first=$(printf '%s\n' "${lines[@]:0:5}" | jq -r .id | sort | tr '\n' ' ')
	assert_equal "$first" "EVENT#00 EVENT#01 EVENT#02 EVENT#03 EVENT#04 "
	dups=$(jq -r '[.id, .updatedAt] | @tsv' <<<"$output" | sort | uniq -d)
	assert_equal "$dups" ""
}

@test "--watch sends If-None-Match and takes 304 for unchanged" {
	start_quiet_server
	run -124 --separate-stderr timeout 2 "$EG" -v --watch 0.2 --url "$HTTP"
	[ "${#lines[@]}" -eq 5 ]
	[[ $stderr == *"events-get: > If-None-Match: "* ]]
	[[ $stderr == *"events-get: < HTTP/1.1 304"* ]]
}

@test "--watch of one ID prints that event only" {
	start_server --interval 200-400
	run -124 --separate-stderr timeout 2 "$EG" --watch 0.1 --url "$HTTP" 'EVENT#02'
	[ "${#lines[@]}" -ge 1 ]
	assert_equal "$(jq -r .id <<<"$output" | sort -u)" 'EVENT#02'
	dups=$(jq -r '.updatedAt' <<<"$output" | sort | uniq -d)
	assert_equal "$dups" ""
}

@test "--watch ends with status 0 on SIGINT and SIGTERM" {
	start_quiet_server
	for sig in INT TERM; do
		out=$BATS_TEST_TMPDIR/watch-$sig.out
		"$EG" --watch 0.2 --url "$HTTP" >"$out" 2>"$out.err" 3>&- &
		pid=$!
		wait_for "$out" 'EVENT#04'
		kill -s "$sig" "$pid"
		status=0
		wait "$pid" || status=$?
		assert_equal "$status" 0
		assert_equal "$(cat "$out.err")" ""
	done
}

@test "stdout closed or a reader gone: quiet, status 0" {
	start_quiet_server
	run -0 --separate-stderr bash -c '"$1" --url "$2" >&-' _ "$EG" "$HTTP"
	assert_equal "$stderr" ""
	# The reader closes the pipe at once, before the answer arrives.
	run -0 --separate-stderr bash -c \
		'"$1" -l --url "$2" | (exec 0<&-; sleep 0.5); exit "${PIPESTATUS[0]}"' \
		_ "$EG" "$HTTP"
	assert_equal "$stderr" ""
}

@test "--help and --version: stdout, status 0" {
	run -0 --separate-stderr "$EG" --help
	[[ ${lines[0]} == "usage: events-get "* ]]
	assert_equal "$stderr" ""
	run -0 --separate-stderr "$EG" -V
	assert_equal "$output" "events-get 0.1.0"
	run -0 --separate-stderr "$EG" --version
	assert_equal "$output" "events-get 0.1.0"
}

@test "usage() matches the SYNOPSIS of the man page" {
	run -0 --separate-stderr "$EG" --help
	usage=$(sed -n '1,/^$/p' <<<"$output" | sed '1s/^usage: //' | xargs)
	synopsis=$(man_text | sed -n '/^SYNOPSIS/,/^DESCRIPTION/p' | sed '1d;$d' | xargs)
	[ -n "$usage" ]
	assert_equal "$usage" "$synopsis"
}

@test "the man page is clean and documents every long option" {
	run -0 mandoc -Tlint -W warning "$MAN"
	text=$(man_text)
	names=$(sed -n 's/^[[:space:]]*{"\([a-z-]*\)", .*/\1/p' "$TOP/cmd/events-get.c")
	[ "$(wc -l <<<"$names")" -ge 14 ]
	for name in $names; do
		grep -q -e "--$name\b" <<<"$text" || fail "--$name is not in $MAN"
	done
}
