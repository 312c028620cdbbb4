#!/usr/bin/env bats
# ws-serve over plain HTTP: /events, /events/{id}, /health, the web page,
# methods, HEAD, ETag, persistent and pipelined connections, and requests
# that must be refused.
bats_require_minimum_version 1.5.0
load helper

# hcurl: curl with a bound on time, never through a proxy.
hcurl() { timeout 20 curl -s --noproxy '*' "$@"; }

# request [raw.py http options]: sends standard input in one write and
# prints each response as a JSON line.
request() { "$PY" "$TOP/tests/peers/raw.py" --timeout 20 http "$PORT" "$@"; }

# fetch PATH...: GETs every PATH over one curl run, body N in $B/N (from 1);
# prints "STATUS CONTENT-TYPE ALLOW-ORIGIN" a line. Extra curl options can
# come first, ended by --.
fetch() {
	local opts=() args=() n=0 p
	while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
	shift
	for p in "$@"; do
		n=$((n + 1))
		args+=(-o "$B/$n" "$HTTP$p")
	done
	hcurl "${opts[@]}" -w '%{http_code} %{content_type} %header{access-control-allow-origin}\n' "${args[@]}"
}

# A slow simulator: nothing changes while a test runs.
setup() {
	start_server --interval 60000-60000
	B=$BATS_TEST_TMPDIR
}

teardown() {
	stop_servers
}

@test "rest: GET /events is the JSON array of the five events a WebSocket client gets" {
	run -0 fetch -- /events '/events?x=1'
	assert_equal "${lines[0]}" "200 application/json *"
	assert_equal "${lines[1]}" "200 application/json *"
	check "$(cat "$B/1")" \
		'type == "array" and length == 5' \
		'[.[].id] | sort == ["EVENT#00","EVENT#01","EVENT#02","EVENT#03","EVENT#04"]' \
		'all(.[]; (.name | type) == "string" and (.score | type) == "number")' \
		'all(.[]; .updatedAt | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[.][0-9]{3}Z$"))'
	# A query string does not change the resource.
	cmp "$B/1" "$B/2"
	# The events are those of the INITIAL.
	run -0 "$PY" "$TOP/tests/peers/ws.py" --timeout 30 "$URL" recv bye
	check "[$(cat "$B/1"),${lines[0]}]" '.[0] == .[1].data'
}

@test "rest: GET /events/EVENT%2300 is that event; an unknown id gets 404 naming it" {
	run -0 fetch -- /events /events/EVENT%2300 /events/EVENT%2301 /events/EVENT%2302 \
		/events/EVENT%2303 /events/EVENT%2304 /events/EVENT%2309 /events/no%20such
	for n in 1 2 3 4 5 6; do
		assert_equal "${lines[n - 1]}" "200 application/json *"
	done
	assert_equal "${lines[6]}" "404 application/json *"
	assert_equal "${lines[7]}" "404 application/json *"
	check "[$(cat "$B/1"),$(cat "$B/2"),$(cat "$B/3"),$(cat "$B/4"),$(cat "$B/5"),$(cat "$B/6")]" \
		'.[1:] | map(.id) == ["EVENT#00","EVENT#01","EVENT#02","EVENT#03","EVENT#04"]' \
		'.[0] as $all | all(.[1:][]; . as $e | $all | map(select(.id == $e.id)) == [$e])'
	check "$(cat "$B/7")" '. == {"error":"not found","id":"EVENT#09"}'
	check "$(cat "$B/8")" '. == {"error":"not found","id":"no such"}'
}

@test "rest: POST, PUT, DELETE and PATCH get 405 with Allow: GET, HEAD" {
	for m in POST PUT DELETE PATCH; do
		run -0 hcurl -X "$m" -w '%{http_code} %header{allow} %header{access-control-allow-origin}\n' \
			-o /dev/null "$HTTP/events" -o /dev/null "$HTTP/events/EVENT%2300" \
			-o /dev/null "$HTTP/health" -o /dev/null "$HTTP/"
		[ "${#lines[@]}" -eq 4 ]
		for l in "${lines[@]}"; do
			assert_equal "$l" "405 GET, HEAD *"
		done
	done
	# With a body, too.
	run -0 hcurl -d '{"score":1}' -H 'Content-Type: application/json' -o /dev/null -w '%{http_code}' "$HTTP/events"
	assert_equal "$output" "405"
}

@test "rest: HEAD gets the headers of GET, the same Content-Length, and no body" {
	for path in /events /; do
		run -0 hcurl -o "$B/body" -w '%{http_code}|%{content_type}|%{size_download}' "$HTTP$path"
		IFS='|' read -r code type len <<<"$output"
		run -0 request --head < <(printf 'HEAD %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' "$path")
		# One response, and not a byte after its head.
		[ "${#lines[@]}" -eq 1 ]
		check "${lines[0]}" \
			".status == $code" \
			".headers[\"content-type\"] == \"$type\"" \
			".headers[\"content-length\"] == \"$len\"" \
			'.headers["access-control-allow-origin"] == "*"'
	done
}

@test "rest: GET's Content-Length is the length of its body" {
	run -0 hcurl -w '%header{content-length} %{size_download}\n' -o /dev/null "$HTTP/events" \
		-o /dev/null "$HTTP/health" -o /dev/null "$HTTP/" -o /dev/null "$HTTP/style.css" \
		-o /dev/null "$HTTP/events/EVENT%2301" -o /dev/null "$HTTP/events/nope"
	[ "${#lines[@]}" -eq 6 ]
	for l in "${lines[@]}"; do
		read -r a b <<<"$l"
		[ "$a" -eq "$b" ]
	done
}

@test "rest: a matching If-None-Match gets 304 and no body" {
	run -0 hcurl -o /dev/null -w '%header{etag}' "$HTTP/events"
	etag=$output
	[[ $etag == \"?*\" ]]
	run -0 hcurl -H "If-None-Match: $etag" -o "$B/body" -w '%{http_code} %header{etag}' "$HTTP/events"
	assert_equal "$output" "304 $etag"
	[ ! -s "$B/body" ]
	run -0 hcurl -H 'If-None-Match: "something-else"' -o "$B/body" -w '%{http_code}' "$HTTP/events"
	assert_equal "$output" "200"
	check "$(cat "$B/body")" 'length == 5'
}

@test "rest: the ETag of /events changes when an event changes" {
	start_server --interval 10-20
	run -0 hcurl -o /dev/null -w '%header{etag}' "$HTTP/events"
	old=$output
	for n in $(seq 100); do
		run -0 hcurl -o /dev/null -w '%header{etag}' "$HTTP/events"
		[ "$output" != "$old" ] && break
		sleep 0.05
	done
	[ -n "$output" ] && [ "$output" != "$old" ]
	run -0 hcurl -H "If-None-Match: $old" -o "$B/body" -w '%{http_code}' "$HTTP/events"
	assert_equal "$output" "200"
}

@test "rest: one connection serves several requests (keep-alive)" {
	run -0 hcurl -o /dev/null -o /dev/null -o /dev/null -w '%{http_code} %{num_connects} %header{connection}\n' \
		"$HTTP/events" "$HTTP/health" "$HTTP/events/EVENT%2300"
	assert_equal "${lines[0]}" "200 1 keep-alive"
	assert_equal "${lines[1]}" "200 0 keep-alive"
	assert_equal "${lines[2]}" "200 0 keep-alive"
}

@test "rest: pipelined requests sent in one write get their responses in order" {
	run -0 request < <(printf '%s\r\n' \
		'GET /events/EVENT%2304 HTTP/1.1' 'Host: x' '' \
		'GET / HTTP/1.1' 'Host: x' '' \
		'GET /health HTTP/1.1' 'Host: x' '' \
		'GET /events/EVENT%2302 HTTP/1.1' 'Host: x' 'Connection: close' '')
	[ "${#lines[@]}" -eq 4 ]
	check "$(printf '%s\n' "${lines[@]}" | jq -sc .)" \
		'map(.status) == [200,200,200,200]' \
		'.[0].body | fromjson | .id == "EVENT#04"' \
		'.[1].headers["content-type"] | startswith("text/html")' \
		'.[2].body | fromjson | .status == "ok"' \
		'.[3].body | fromjson | .id == "EVENT#02"' \
		'.[3].headers.connection == "close"'
	jq -j .body <<<"${lines[1]}" >"$B/page"
	cmp "$B/page" "$TOP/web/index.html"
}

@test "rest: GET /health says ok" {
	run -0 fetch -- /health
	assert_equal "$output" "200 application/json *"
	check "$(cat "$B/1")" 'type == "object" and .status == "ok"'
}

@test "rest: GET / serves the web page as text/html, its files with their type" {
	run -0 fetch -- / /index.html /style.css /app.js /no-such-file.html
	[[ ${lines[0]} == "200 text/html"* ]]
	[[ ${lines[1]} == "200 text/html"* ]]
	[[ ${lines[2]} == "200 text/css"* ]]
	[[ ${lines[3]} == "200 text/javascript"* || ${lines[3]} == "200 application/javascript"* ]]
	[[ ${lines[4]} == "404 "* ]]
	cmp "$B/1" "$TOP/web/index.html"
	cmp "$B/2" "$TOP/web/index.html"
	cmp "$B/3" "$TOP/web/style.css"
	cmp "$B/4" "$TOP/web/app.js"
}

# no_escape PATH...: each PATH gets 404 or 400 and a body without $1.
no_escape() {
	local secret=$1
	shift
	run -0 fetch --path-as-is -- "$@"
	[ "${#lines[@]}" -eq $# ]
	for n in $(seq $#); do
		[[ ${lines[n - 1]} == 40[04]" "* ]] || { echo "${!n}: ${lines[n - 1]}" >&2; return 1; }
		! grep -q "$secret" "$B/$n"
	done
}

@test "rest: path traversal never reaches a file outside the web folder" {
	no_escape 'root:' /../etc/passwd /%2e%2e/etc/passwd /..%2fetc/passwd //etc/passwd \
		/.git/config /web/../../etc/passwd /%2e%2e%2f%2e%2e%2fetc/passwd /..%5c..%5cetc/passwd
	# Next to a --web folder of our own, with a secret beside it.
	mkdir -p "$B/site/web" "$B/site/.git"
	echo '<!doctype html><title>t</title>' >"$B/site/web/index.html"
	echo CANARY-9f3 >"$B/site/secret.txt"
	echo CANARY-9f3 >"$B/site/.git/config"
	start_server --interval 60000-60000 --web "$B/site/web"
	run -0 fetch -- /
	[[ ${lines[0]} == "200 text/html"* ]]
	no_escape CANARY /../secret.txt /%2e%2e/secret.txt /..%2fsecret.txt /%2e%2e%2fsecret.txt \
		/.%2e/secret.txt /x/../../secret.txt /../.git/config /%2e%2e/.git/config
}

@test "rest: a web file over 4 MiB gets 500 saying so, not 404; one of 4 MiB is served whole" {
	mkdir -p "$B/web"
	echo '<!doctype html><title>t</title>' >"$B/web/index.html"
	head -c $((4 << 20)) /dev/zero >"$B/web/max.bin"
	head -c $(((4 << 20) + 1)) /dev/zero >"$B/web/big.bin"
	start_server --interval 60000-60000 --web "$B/web"
	run -0 fetch -- /max.bin /big.bin
	assert_equal "${lines[0]}" "200 application/octet-stream *"
	cmp "$B/1" "$B/web/max.bin"
	assert_equal "${lines[1]}" "500 application/json *"
	check "$(cat "$B/2")" '.error == "file too large to serve (4 MiB at most)"'
}

@test "rest: a malformed request line gets 400" {
	for line in 'GARBAGE' 'GET / HTTP/1.1 extra' 'GET / FOO/1.1' 'GET' ' / HTTP/1.1'; do
		run -0 request < <(printf '%s\r\nHost: x\r\n\r\n' "$line")
		[ "${#lines[@]}" -eq 1 ]
		check "${lines[0]}" '.status == 400' || { echo "request line '$line'" >&2; false; }
	done
}

@test "rest: an HTTP/1.1 request without Host, or any with two, gets 400 and the connection closes; HTTP/1.0 may leave it out" {
	for head in 'GET /health HTTP/1.1\r\n' 'GET /health HTTP/1.1\r\nHost: x\r\nHost: y\r\n' \
		'GET /health HTTP/1.0\r\nHost: x\r\nhost: x\r\n'; do
		run -0 request < <(printf "$head\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\n")
		[ "${#lines[@]}" -eq 1 ] || { echo "$head: ${#lines[@]} answers" >&2; false; }
		check "${lines[0]}" '.status == 400' '.headers.connection == "close"' \
			'.body | fromjson | .error == "missing or repeated Host"' ||
			{ echo "request $head" >&2; false; }
	done
	# One Host, empty or not, is enough; so is none in HTTP/1.0.
	for head in 'GET /health HTTP/1.1\r\nHost: x\r\n' 'GET /health HTTP/1.1\r\nHost:\r\n' \
		'GET /health HTTP/1.0\r\n'; do
		run -0 request < <(printf "$head\r\n")
		check "${lines[0]}" '.status == 200' || { echo "request $head" >&2; false; }
	done
}

@test "rest: a version other than HTTP/1.x gets 505 and the connection closes" {
	# A request pipelined behind it is never answered.
	for v in 'HTTP/9.9' 'HTTP/2.0' 'HTTP/0.9'; do
		run -0 request < <(printf 'GET /health %s\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\n' "$v")
		[ "${#lines[@]}" -eq 1 ] || { echo "version $v: ${#lines[@]} lines" >&2; false; }
		check "${lines[0]}" '.status == 505' '.reason == "HTTP Version Not Supported"' \
			'.headers.connection == "close"' \
			'.body | fromjson | .error == "HTTP version not supported"' ||
			{ echo "version $v" >&2; false; }
	done
	# A request line without a version is HTTP/0.9 to the parser.
	run -0 request < <(printf 'GET /health\r\n\r\n')
	[ "${#lines[@]}" -eq 1 ]
	check "${lines[0]}" '.status == 505'
	wait_for "$SERVER_LOG" 'reject .* 505: HTTP version not supported' 5
	# HTTP/1.0 is served as before, and closed after since it asked for
	# no keep-alive.
	run -0 request < <(printf 'GET /health HTTP/1.0\r\n\r\n')
	[ "${#lines[@]}" -eq 1 ]
	check "${lines[0]}" '.status == 200' '.headers.connection == "close"' \
		'.body | fromjson | .status == "ok"'
}

@test "rest: a request body is passed over up to 1 MiB; a longer one, stated or sent, gets 413 and the connection closes" {
	local mib=$((1 << 20)) body
	body=$(head -c 1000 /dev/zero | tr '\0' a)
	run -0 request < <(printf 'POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n%sGET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' "$body")
	[ "${#lines[@]}" -eq 2 ]
	check "${lines[1]}" '.status == 200'
	# Stated: refused at the head, before any of it comes.
	run -0 request < <(printf 'POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n' $((mib + 1)))
	[ "${#lines[@]}" -eq 1 ]
	check "${lines[0]}" '.status == 413' '.reason == "Content Too Large"' \
		'.headers.connection == "close"' '.body | fromjson | .error == "request body too large"'
	# Sent in chunks with no length stated: refused once past 1 MiB.
	run -0 request < <(printf 'POST /health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n'
		for n in $(seq 17); do printf '10000\r\n'; head -c 65536 /dev/zero; printf '\r\n'; done)
	[ "${#lines[@]}" -eq 1 ]
	check "${lines[0]}" '.status == 413'
	run -0 hcurl "$HTTP/metrics"
	assert_line 'wskit_handshakes_failed_total{reason="body_too_large"} 2'
}

@test "rest: a request head over 8 KiB gets 431, one under it is served" {
	run -0 request < <(printf 'GET /health HTTP/1.1\r\nHost: x\r\nX-Pad: %s\r\nConnection: close\r\n\r\n' \
		"$(head -c 7000 /dev/zero | tr '\0' a)")
	check "${lines[0]}" '.status == 200'
	run -0 request < <(printf 'GET /health HTTP/1.1\r\nHost: x\r\nX-Pad: %s\r\nConnection: close\r\n\r\n' \
		"$(head -c 9000 /dev/zero | tr '\0' a)")
	[ "${#lines[@]}" -eq 1 ]
	check "${lines[0]}" '.status == 431'
	# Many small header fields count too.
	run -0 request < <(printf 'GET /health HTTP/1.1\r\n'; for n in $(seq 600); do printf 'X-H%d: abcdefghij\r\n' "$n"; done; printf '\r\n')
	[ "${#lines[@]}" -eq 1 ]
	check "${lines[0]}" '.status == 431'
}
