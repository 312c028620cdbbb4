#!/usr/bin/env bats
# ws-serve's command line: --help, --version, usage errors, a port in use,
# the manual page, and its log lines on stderr.
bats_require_minimum_version 1.5.0
load helper

fanout() { "$PY" "$TOP/tests/peers/fanout.py" --timeout 30 "$@"; }

TRY="Try 'ws-serve --help' for more information."

setup() {
	start_server
}

teardown() {
	stop_servers
}

# usage_error ARG...: ws-serve ARG... is a usage error: status 2, nothing on
# stdout, "ws-serve: ..." and the Try line on stderr. --port 0 comes first so
# that a wrongly accepted value starts nothing on a fixed port; timeout ends
# a server that should not have started.
usage_error() {
	run -2 --separate-stderr timeout 10 "$BIN/ws-serve" --port 0 "$@"
	assert_equal "$output" ""
	[ "${#stderr_lines[@]}" -eq 2 ] || { echo "stderr: $stderr" >&2; return 1; }
	[[ ${stderr_lines[0]} == "ws-serve: "?* ]]
	assert_equal "${stderr_lines[1]}" "$TRY"
}

@test "cli: --help prints the usage on stdout, --version 'ws-serve 0.1.0'; both exit 0" {
	run -0 --separate-stderr "$BIN/ws-serve" --help
	[[ ${lines[0]} == "usage: ws-serve "* ]]
	assert_equal "$stderr" ""
	for opt in --port --host --web --interval --seed --history --max-message --log-format \
		--quiet --verbose --help --version; do
		[[ $output == *"$opt"* ]] || { echo "--help lacks $opt" >&2; false; }
	done
	help=$output
	run -0 --separate-stderr "$BIN/ws-serve" -h
	assert_equal "$output" "$help"
	run -0 --separate-stderr "$BIN/ws-serve" --version
	assert_equal "$output" "ws-serve 0.1.0"
	assert_equal "$stderr" ""
	run -0 --separate-stderr "$BIN/ws-serve" -V
	assert_equal "$output" "ws-serve 0.1.0"
}

@test "cli: an unknown option, a missing value or a stray argument is a usage error" {
	usage_error --bogus
	[[ ${stderr_lines[0]} == *--bogus* ]]
	usage_error -x
	[[ ${stderr_lines[0]} == *-x* ]]
	# In a cluster, the letter that is wrong.
	usage_error -qZ
	assert_equal "${stderr_lines[0]}" "ws-serve: unknown option '-Z'"
	usage_error --quiet=1
	assert_equal "${stderr_lines[0]}" "ws-serve: option '--quiet' takes no value"
	usage_error --interval
	[[ ${stderr_lines[0]} == *--interval* ]]
	usage_error stray
	[[ ${stderr_lines[0]} == *stray* ]]
}

@test "cli: bad --interval, --port and other values are usage errors" {
	for v in abc '' 0-5 0 20-10 10- -5 1.5x 10-20-30 99999999999; do
		usage_error --interval "$v"
		[[ ${stderr_lines[0]} == "ws-serve: --interval"* ]] || { echo "value '$v'" >&2; false; }
	done
	for v in abc '' -1 65536 70000 80x; do
		usage_error --port "$v"
		[[ ${stderr_lines[0]} == "ws-serve: --port"* ]] || { echo "value '$v'" >&2; false; }
	done
	usage_error --log-format xml
	[[ ${stderr_lines[0]} == *xml* ]]
	usage_error --history -1
	usage_error --history many
	usage_error --max-message lots
	usage_error --seed x
	usage_error --quiet --verbose
	for v in 5/m abc -1 2e9; do
		usage_error --msg-rate "$v"
		assert_equal "${stderr_lines[0]}" "ws-serve: --msg-rate: '$v' is not a rate of 0 to 1e9 messages a second, such as 20/s"
	done
}

@test "cli: --web must be a folder it can read; one without index.html starts with a warning and / gets 404" {
	usage_error --web "$BATS_TEST_TMPDIR/none"
	assert_equal "${stderr_lines[0]}" "ws-serve: --web: cannot read the folder '$BATS_TEST_TMPDIR/none': No such file or directory"
	touch "$BATS_TEST_TMPDIR/file"
	usage_error --web "$BATS_TEST_TMPDIR/file"
	assert_equal "${stderr_lines[0]}" "ws-serve: --web: cannot read the folder '$BATS_TEST_TMPDIR/file': Not a directory"
	mkdir "$BATS_TEST_TMPDIR/empty"
	echo 'body {}' >"$BATS_TEST_TMPDIR/empty/app.css"
	start_server --web "$BATS_TEST_TMPDIR/empty" -q
	wait_for "$SERVER_LOG" "warning: web: no page: cannot read '$BATS_TEST_TMPDIR/empty/index.html'" 5
	run -0 curl -s --noproxy '*' -o /dev/null -w '%{http_code}' "$HTTP/"
	assert_output 404
	run -0 curl -s --noproxy '*' "$HTTP/app.css"
	assert_output 'body {}'
	# The default page of the checkout is there: no warning.
	start_server
	run -0 curl -s --noproxy '*' -o /dev/null -w '%{http_code}' "$HTTP/"
	assert_output 200
	run grep -c 'web' "$SERVER_LOG"
	assert_output 0
}

@test "cli: a port in use exits 1 with a clear message" {
	run -1 --separate-stderr timeout 10 "$BIN/ws-serve" --port "$PORT"
	assert_equal "$output" ""
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ ${stderr_lines[0]} =~ ^ws-serve:\ .*127\.0\.0\.1:$PORT.*address\ already\ in\ use$ ]]
}

@test "cli: --reuseport instances share a port and each serves; without it on both, the port is in use" {
	local plain=$PORT a b pa na nb
	start_server --reuseport
	a=$SERVER_LOG pa=$SERVER_PID
	start_server --reuseport --port "$PORT"
	b=$SERVER_LOG
	# The kernel picks a listener by a hash of each connection's ports:
	# 40 connections all on one of two has a chance of 2^-39.
	run -0 --separate-stderr "$BIN/ws-ping" -q -C 40 --threads 1 -c 1 -w 30 "$URL"
	assert_line "40 clients, 40 connected, 0 connect failures, 0 dropped"
	na=$(grep -c '^ws-serve: connect 127\.0\.0\.1:' "$a")
	nb=$(grep -c '^ws-serve: connect 127\.0\.0\.1:' "$b")
	[ "$na" -ge 1 ] && [ "$nb" -ge 1 ] || { echo "connects: $na and $nb" >&2; false; }
	assert_equal $((na + nb)) 40

	# One without --reuseport cannot join them...
	run -1 --separate-stderr timeout 10 "$BIN/ws-serve" --port "$PORT"
	assert_equal "$output" ""
	assert_equal "$stderr" "ws-serve: cannot listen on 127.0.0.1:$PORT: address already in use"
	# ...nor one with it join a server started without it.
	run -1 --separate-stderr timeout 10 "$BIN/ws-serve" --reuseport --port "$plain"
	assert_equal "$stderr" "ws-serve: cannot listen on 127.0.0.1:$plain: address already in use"

	# Once one has stopped, the other takes every connection.
	kill -TERM "$pa"
	wait_exit "$pa" 10
	[ "$rc" -eq 0 ]
	run -0 --separate-stderr "$BIN/ws-ping" -q -C 10 --threads 1 -c 1 -w 30 "$URL"
	assert_line "10 clients, 10 connected, 0 connect failures, 0 dropped"
	run -0 grep -c '^ws-serve: connect 127\.0\.0\.1:' "$b"
	assert_equal "$output" $((nb + 10))
}

@test "cli: every long option in --help is in man/ws-serve.1" {
	run -0 "$BIN/ws-serve" --help
	opts=$(grep -oE -- '--[a-z][a-z-]*' <<<"$output" | sort -u)
	[ -n "$opts" ]
	[ -f "$TOP/man/ws-serve.1" ] || { echo "man/ws-serve.1 is missing" >&2; false; }
	page=$(mandoc -T ascii "$TOP/man/ws-serve.1" | col -b)
	for opt in $opts; do
		[[ $page == *"$opt"* ]] || { echo "man/ws-serve.1 lacks $opt" >&2; false; }
	done
}

@test "cli: -v logs each request's method and target, token values hidden, cut at 256 bytes" {
	start_server -v --interval 60000-60000
	run -0 curl -s --noproxy '*' -o /dev/null "$HTTP/health?a=1&token=s3cret&b=2&token="
	many=$(printf 'token=&%.0s' $(seq 60))
	run -0 curl -s --noproxy '*' -o /dev/null "$HTTP/health?$many"
	run -0 curl -s --noproxy '*' -o /dev/null "$HTTP/health?x=$(printf 'y%.0s' $(seq 400))"
	kill -TERM "$SERVER_PID"
	wait_exit "$SERVER_PID" 10
	[ "$rc" -eq 0 ]
	run -0 grep -E '^ws-serve: request ' "$SERVER_LOG"
	[ "${#lines[@]}" -eq 3 ]
	[[ ${lines[0]} =~ ^ws-serve:\ request\ 127\.0\.0\.1:[0-9]+\ 200:\ GET\ /health\?a=1\&token=\.\.\.\&b=2\&token=\.\.\.$ ]]
	[[ ${lines[1]} == *": GET /health?token=...&token=..."* ]]
	[[ ${lines[2]} == *": GET /health?x=yyy"* ]]
	# The target is cut at 256 bytes, whatever the tokens made of it.
	for l in "${lines[@]:1}"; do
		t=${l#*: GET }
		[ "${#t}" -eq 256 ] || { echo "target of ${#t} bytes: $l" >&2; false; }
	done
	run ! grep s3cret "$SERVER_LOG"
}

@test "cli: connects and disconnects are logged on stderr with the client count" {
	start_server --interval 10-20
	run -0 fanout "$URL" 2 1 "$BATS_TEST_TMPDIR"
	# Once the server has exited, every line is written.
	kill -TERM "$SERVER_PID"
	wait_exit "$SERVER_PID" 10
	[ "$rc" -eq 0 ]
	run -0 grep -cE '^ws-serve: connect 127\.0\.0\.1:[0-9]+ \(clients 1\)$' "$SERVER_LOG"
	assert_equal "$output" 1
	run -0 grep -cE '^ws-serve: connect 127\.0\.0\.1:[0-9]+ \(clients 2\)$' "$SERVER_LOG"
	assert_equal "$output" 1
	# Two disconnects, the last leaving none; the first says 1, or 0 when
	# the server saw both closes before it logged it.
	run -0 grep -E '^ws-serve: disconnect ' "$SERVER_LOG"
	[ "${#lines[@]}" -eq 2 ]
	[[ ${lines[0]} =~ ^ws-serve:\ disconnect\ 127\.0\.0\.1:[0-9]+\ \(clients\ [01]\)$ ]]
	[[ ${lines[1]} =~ ^ws-serve:\ disconnect\ 127\.0\.0\.1:[0-9]+\ \(clients\ 0\)$ ]]
}

@test "cli: --log-format json writes one JSON object a line" {
	start_server --interval 10-20 --log-format json
	run -0 fanout "$URL" 2 1 "$BATS_TEST_TMPDIR"
	wait_for "$SERVER_LOG" '"event":"disconnect".*"clients":0' 20
	# A refused handshake is logged too.
	printf 'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n' |
		"$PY" "$TOP/tests/peers/raw.py" --timeout 20 http "$PORT" --count 1 >/dev/null
	kill -TERM "$SERVER_PID"
	wait_exit "$SERVER_PID" 10
	[ "$rc" -eq 0 ]
	run -0 jq -Rsc '[split("\n")[] | fromjson? | select(.event == "connect") | .clients]' "$SERVER_LOG"
	assert_equal "$output" "[1,2]"
	run -0 jq -Rsc '[split("\n")[] | fromjson? | select(.event == "disconnect") | .clients]' "$SERVER_LOG"
	[[ $output == "[1,0]" || $output == "[0,0]" ]]
	# Every line but the "listening on" one that start_server waits for,
	# through to the shutdown, is a JSON object.
	while IFS= read -r line; do
		[[ $line == *"listening on"* ]] && continue
		jq -e 'type == "object" and (.t | type) == "number"
			and (.level | type) == "string" and (.event | type) == "string"' <<<"$line" >/dev/null ||
			{ echo "not a JSON log line: $line" >&2; false; }
	done <"$SERVER_LOG"
}

@test "cli: -q logs nothing but the listening line" {
	start_server -q --interval 10-20
	run -0 fanout "$URL" 2 1 "$BATS_TEST_TMPDIR"
	kill -TERM "$SERVER_PID"
	wait_exit "$SERVER_PID" 10
	[ "$rc" -eq 0 ]
	run -0 cat "$SERVER_LOG"
	[ "${#lines[@]}" -eq 1 ]
	[[ ${lines[0]} == "ws-serve: listening on http://127.0.0.1:$PORT/" ]]
}
