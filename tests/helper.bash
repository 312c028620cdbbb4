# Shared bats helpers. Load with: load helper
bats_load_library bats-support
bats_load_library bats-assert

TOP=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
# WSK_BIN selects the build under test (bin, or build/asan/bin).
BIN=${WSK_BIN:-$TOP/bin}
case $BIN in /*) ;; *) BIN=$TOP/$BIN ;; esac
# Debian's python3 carries python3-websockets; a pyenv python3 on PATH does not.
PY=/usr/bin/python3

# start_server [ws-serve options...]
# Starts ws-serve on a free port, waits for its "listening on" line and sets
# PORT, SERVER_PID, SERVER_LOG and URL (ws://127.0.0.1:PORT/). Extra servers:
# call again after saving the variables; stop_server kills $SERVER_PID.
start_server() {
	SERVER_LOG=$(mktemp "$BATS_TEST_TMPDIR/serve.XXXXXX")
	"$BIN/ws-serve" --port 0 "$@" 2>"$SERVER_LOG" &
	SERVER_PID=$!
	wait_for_port "$SERVER_LOG" || { cat "$SERVER_LOG" >&3; return 1; }
	URL="ws://127.0.0.1:$PORT/"
	HTTP="http://127.0.0.1:$PORT"
	SERVERS="${SERVERS:-} $SERVER_PID"
}

# wait_for_peer LOG: waits up to 10 s for a test peer's "listening PORT"
# line in LOG (tests/peers/*: raw.py serve, conform.py, peer.mjs) and sets
# PORT.
wait_for_peer() {
	local i
	for i in $(seq 1 200); do
		PORT=$(awk '/^listening / { print $2; exit }' "$1" 2>/dev/null)
		[ -n "$PORT" ] && return 0
		sleep 0.05
	done
	return 1
}

# raw_serve [raw.py serve options and steps...]: starts tests/peers/raw.py
# serve (a one-client WebSocket server that sends what the test says); sets
# PORT, RAW_PID and RAW_OUT (what it printed). The caller's teardown kills
# RAW_PID.
raw_serve() {
	RAW_OUT=$(mktemp "$BATS_TEST_TMPDIR/raw.XXXXXX")
	"$PY" "$TOP/tests/peers/raw.py" --timeout 20 serve "$@" >"$RAW_OUT" 2>&1 &
	RAW_PID=$!
	wait_for_peer "$RAW_OUT" || fail "raw.py serve did not start: $(cat "$RAW_OUT")"
}

# wait_for_port LOG: waits up to 10 s for "listening on ...:PORT" in LOG.
wait_for_port() {
	local i line
	for i in $(seq 1 200); do
		line=$(grep -m1 -o 'listening on [^ ]*:[0-9]*' "$1" 2>/dev/null) && {
			PORT=${line##*:}
			return 0
		}
		sleep 0.05
	done
	return 1
}

# wait_for FILE PATTERN [SECONDS]: waits until FILE holds a line matching PATTERN.
wait_for() {
	local i n=$(( ${3:-10} * 20 ))
	for i in $(seq 1 $n); do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# start_py NAME [ARG...] <<'EOF' ... EOF: runs the python3 program on
# standard input, with ARGs in sys.argv[1:], as a test server in the
# background: its stderr goes to PY_LOG (a NAME.XXXXXX file), it must print
# a "listening on ...:PORT" line there, and stop_servers kills it. Sets
# PORT, PY_LOG and URL (ws://127.0.0.1:PORT/).
start_py() {
	local name=$1
	shift
	PY_LOG=$(mktemp "$BATS_TEST_TMPDIR/$name.XXXXXX")
	# Without the explicit <&0 bash gives a background job /dev/null as
	# its standard input, and the program would be lost.
	$PY - "$@" <&0 2>"$PY_LOG" 3>&- &
	SERVERS="${SERVERS:-} $!"
	wait_for_port "$PY_LOG" || { cat "$PY_LOG" >&3; return 1; }
	URL="ws://127.0.0.1:$PORT/"
}

stop_servers() {
	local p
	for p in ${SERVERS:-}; do kill "$p" 2>/dev/null || true; done
	for p in ${SERVERS:-}; do wait "$p" 2>/dev/null || true; done
	SERVERS=
}

# wait_exit PID SECONDS: waits until the child PID has exited (a zombie
# counts) or SECONDS have passed, then reaps it; $rc is its exit status.
wait_exit() {
	local n state
	for n in $(seq $(($2 * 20))); do
		state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || break
		[ "$state" = Z ] && break
		sleep 0.05
	done
	state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || state=gone
	if [ "$state" != Z ] && [ "$state" != gone ]; then
		echo "process $1 still running after $2 s" >&2
		return 1
	fi
	rc=0
	wait "$1" || rc=$?
}

# free_port: a TCP port on 127.0.0.1 nobody listens on right now.
free_port() {
	$PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_redis: for setup_file, a redis-server of our own on a free port with
# nothing on disk; sets and exports RP (its port) and REDIS_PID.
start_redis() {
	local n
	RP=$(free_port)
	redis-server --port "$RP" --bind 127.0.0.1 --save '' --appendonly no \
		--daemonize no --dir "$BATS_FILE_TMPDIR" \
		>"$BATS_FILE_TMPDIR/redis.log" 2>&1 3>&- &
	REDIS_PID=$!
	export RP REDIS_PID
	for n in $(seq 1 100); do
		[ "$(redis-cli -p "$RP" ping 2>/dev/null)" = PONG ] && return 0
		sleep 0.05
	done
	cat "$BATS_FILE_TMPDIR/redis.log" >&3
	return 1
}

# stop_redis: for teardown_file; ends start_redis's server, also one that a
# test left stopped with SIGSTOP.
stop_redis() {
	kill -CONT "$REDIS_PID" 2>/dev/null || true
	kill "$REDIS_PID" 2>/dev/null || true
	wait "$REDIS_PID" 2>/dev/null || true
}

# check JSON EXPR...: every jq EXPR is true of JSON; names those that are
# not. An empty JSON fails: jq would find nothing false in it.
check() {
	local json=$1 prog='' e bad
	shift
	local exprs=("$@")
	[ -n "$json" ] || { echo "check: nothing to check" >&2; return 1; }
	for e in "$@"; do prog+="${prog:+,}($e)"; done
	bad=$(jq -r "[$prog] | to_entries[] | select(.value != true) | .key" <<<"$json") ||
		{ echo "cannot check: ${json:0:400}" >&2; return 1; }
	[ -z "$bad" ] && return 0
	for e in $bad; do echo "check failed: ${exprs[e]}" >&2; done
	echo "in: ${json:0:400}" >&2
	return 1
}

# Test traffic stays on loopback: never through a proxy from the environment.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
export no_proxy='*' NO_PROXY='*'
