#!/usr/bin/env bats
# ws-serve --redis: several instances on one Redis share one event stream.
# The same UPDATEs in the same order everywhere, one leader running the
# simulator, failover when it dies, a Redis that stops or empties, and
# resuming against another instance or after every instance restarted.
bats_require_minimum_version 1.5.0
load helper

# Short leases keep failover quick: the tests allow three lease times.
LEASE=1

# One redis-server of our own per file, on a free port, nothing on disk.
setup_file() {
	start_redis
}

teardown_file() {
	stop_redis
}

setup() {
	B=$BATS_TEST_TMPDIR
	INTERVAL=20-40
	PORTS=() PIDS=() LOGS=() CLIENTS=()
	REDIS_STOPPED=
	# A fresh stream for every test.
	kill -CONT "$REDIS_PID" 2>/dev/null || true
	[ "$(redis-cli -p "$RP" FLUSHALL)" = OK ]
}

teardown() {
	[ -z "$REDIS_STOPPED" ] || kill -CONT "$REDIS_PID" 2>/dev/null || true
	stop_clients
	stop_servers
}

ws() { "$PY" "$TOP/tests/peers/ws.py" --timeout 20 "$@"; }

# start_instance: one more ws-serve on the test's Redis, at $INTERVAL; its
# port, PID and log go to PORTS, PIDS and LOGS.
start_instance() {
	start_server --interval "$INTERVAL" --history 100000 \
		--redis "redis://127.0.0.1:$RP" --lease "$LEASE"
	PORTS+=("$PORT") PIDS+=("$SERVER_PID") LOGS+=("$SERVER_LOG")
}

health() { curl -s --max-time 2 "http://127.0.0.1:$1/health"; }

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# wait_one_leader SECS PORT...: waits up to SECS seconds until every PORT
# answers /health with "redis":"up" and exactly one says "leader":true;
# sets LEADER to that port.
wait_one_leader() {
	local secs=$1 end p h n ok
	shift
	end=$(($(now_ms) + secs * 1000))
	while :; do
		n=0 ok=1 LEADER=
		for p in "$@"; do
			h=$(health "$p" | jq -r '"\(.redis) \(.leader)"')
			case $h in
			"up true") n=$((n + 1)) LEADER=$p ;;
			"up false") ;;
			*) ok=0; break ;;
			esac
		done
		[ $ok -eq 0 ] || [ $n -ne 1 ] || return 0
		if [ "$(now_ms)" -ge "$end" ]; then
			echo "no single leader with redis up within $secs s:" >&2
			for p in "$@"; do echo "  $p: $(health "$p")" >&2; done
			return 1
		fi
		sleep 0.05
	done
}

# wait_health SECS JQ PORT...: waits up to SECS seconds until JQ is true of
# every PORT's /health.
wait_health() {
	local secs=$1 expr=$2 end p ok
	shift 2
	end=$(($(now_ms) + secs * 1000))
	while :; do
		ok=1
		for p in "$@"; do
			[ "$(health "$p" | jq "$expr" 2>/dev/null)" = true ] || { ok=0; break; }
		done
		[ $ok -eq 0 ] || return 0
		if [ "$(now_ms)" -ge "$end" ]; then
			echo "not within $secs s: $expr" >&2
			for p in "$@"; do echo "  $p: $(health "$p")" >&2; done
			return 1
		fi
		sleep 0.05
	done
}

# collect NAME PORT [QUERY]: a client on PORT in the background writing every
# message to $B/NAME until stop_clients.
collect() {
	"$PY" "$TOP/tests/peers/ws.py" --timeout 120 "ws://127.0.0.1:$2/${3:-}" \
		seq:999999999 >"$B/$1" 2>"$B/$1.err" 3>&- &
	CLIENTS+=("$!")
}

stop_clients() {
	local p
	for p in "${CLIENTS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${CLIENTS[@]}"; do wait "$p" 2>/dev/null || true; done
	CLIENTS=()
}

updates() { grep -c '"type":"UPDATE"' "$1" 2>/dev/null || true; }

# last_seq FILE...: the highest UPDATE seq in the FILEs, 0 if none. Each
# FILE's seqs rise, so its last UPDATE has its highest: read from the end,
# as the files grow by a few hundred lines a second.
last_seq() {
	local f
	{
		echo 0
		for f in "$@"; do
			tac "$f" 2>/dev/null | grep -m1 -o '"type":"UPDATE","seq":[0-9]*' | cut -d: -f3
		done
	} | sort -n | tail -n 1
}

# wait_updates FILE N [SECS]: until FILE holds N UPDATEs.
wait_updates() {
	local end=$(($(now_ms) + ${3:-10} * 1000))
	until [ "$(updates "$1")" -ge "$2" ]; do
		if [ "$(now_ms)" -ge "$end" ]; then
			echo "$1: $(updates "$1") UPDATEs after ${3:-10} s, wanted $2" >&2
			tail -n 3 "$1" "$1.err" >&2 2>/dev/null
			return 1
		fi
		sleep 0.05
	done
}

# wait_seq FILE SEQ [SECS]: until FILE holds an UPDATE with seq >= SEQ.
wait_seq() {
	local end=$(($(now_ms) + ${3:-10} * 1000))
	until [ "$(last_seq "$1")" -ge "$2" ]; do
		if [ "$(now_ms)" -ge "$end" ]; then
			echo "$1: last seq $(last_seq "$1") after ${3:-10} s, wanted $2" >&2
			tail -n 3 "$1" "$1.err" >&2 2>/dev/null
			return 1
		fi
		sleep 0.05
	done
}

# streams check [--from SEQ] [--initials K] [--min N] FILE
#   FILE is one connection's stream: an INITIAL (or, with --from, no INITIAL
#   and the first UPDATE SEQ+1), then UPDATEs whose seq rise by exactly one;
#   an INITIAL in the middle starts over from its seq. K INITIALs in all
#   (default 1, or 0 with --from), at least N UPDATEs. Prints
#   {"epochs":[...],"first":F,"last":L,"updates":N}.
# streams same [--min N] FILE...
#   Every UPDATE seq in the range all FILEs hold (at least N of them) is in
#   each FILE, and it is the same message everywhere.
# streams state FILE...
#   Each FILE begins with an INITIAL of the same epoch; applying the UPDATEs
#   of the one whose INITIAL is oldest gives, at each other's INITIAL seq,
#   exactly that INITIAL's events.
streams() {
	"$PY" - "$@" <<'EOF'
import json
import sys


def fail(msg):
    print("streams: " + msg, file=sys.stderr)
    sys.exit(1)


def load(path):
    out = []
    with open(path, errors="replace") as f:
        for line in f:
            try:
                m = json.loads(line)
            except ValueError:
                continue
            if isinstance(m, dict) and m.get("type") in ("INITIAL", "UPDATE"):
                out.append(m)
    return out


def opts(args, **defaults):
    o = dict(defaults)
    while args and args[0].startswith("--"):
        o[args[0][2:]] = int(args[1])
        args = args[2:]
    return o, args


def check(args):
    o, (path,) = opts(args, min=1, initials=None, **{"from": None})
    msgs = load(path)
    if not msgs:
        fail("%s: no INITIAL or UPDATE" % path)
    prev = o["from"]
    if prev is None and msgs[0]["type"] != "INITIAL":
        fail("%s: begins with %s, not an INITIAL" % (path, json.dumps(msgs[0])[:200]))
    epochs, n, first = [], 0, None
    for i, m in enumerate(msgs):
        if m["type"] == "INITIAL":
            epochs.append(m.get("epoch"))
            prev = m.get("seq")
            continue
        s = m.get("seq")
        if s != prev + 1:
            fail("%s: message %d: UPDATE seq %s after seq %s (%s)" % (
                path, i + 1, s, prev, "duplicate" if s <= prev else "gap"))
        prev = s
        n += 1
        first = s if first is None else first
    k = o["initials"]
    if k is None:
        k = 0 if o["from"] is not None else 1
    if len(epochs) != k:
        fail("%s: %d INITIALs (epochs %s), wanted %d" % (path, len(epochs), epochs, k))
    if n < o["min"]:
        fail("%s: %d UPDATEs, wanted at least %d" % (path, n, o["min"]))
    print(json.dumps({"epochs": epochs, "first": first, "last": prev,
                      "updates": n}, separators=(",", ":")))


def same(args):
    o, paths = opts(args, min=1)
    maps = [{m["seq"]: m for m in load(p) if m["type"] == "UPDATE"} for p in paths]
    for p, d in zip(paths, maps):
        if not d:
            fail("%s: no UPDATE" % p)
    lo = max(min(d) for d in maps)
    hi = min(max(d) for d in maps)
    if hi - lo + 1 < o["min"]:
        fail("the streams share only seqs %d-%d, wanted %d: %s" % (
            lo, hi, o["min"], ", ".join("%s %d-%d" % (p, min(d), max(d))
                                        for p, d in zip(paths, maps))))
    for s in range(lo, hi + 1):
        ref = maps[0].get(s)
        for p, d in zip(paths, maps):
            if s not in d:
                fail("%s: no UPDATE seq %d" % (p, s))
            if d[s] != ref:
                fail("UPDATE seq %d differs:\n  %s: %s\n  %s: %s" % (
                    s, paths[0], json.dumps(ref), p, json.dumps(d[s])))
    print("%d-%d" % (lo, hi))


def state(args):
    streams = [load(p) for p in args]
    for p, s in zip(args, streams):
        if not s or s[0]["type"] != "INITIAL":
            fail("%s: does not begin with an INITIAL" % p)
    epochs = {s[0].get("epoch") for s in streams}
    if len(epochs) != 1:
        fail("INITIALs of different epochs: %s" % sorted(epochs))
    base = min(streams, key=lambda s: s[0]["seq"])
    cur = {e["id"]: e for e in base[0]["data"]}
    snaps = {base[0]["seq"]: dict(cur)}
    for m in base[1:]:
        if m["type"] != "UPDATE":
            break
        cur[m["data"]["id"]] = m["data"]
        snaps[m["seq"]] = dict(cur)
    for p, s in zip(args, streams):
        i = s[0]
        want = snaps.get(i["seq"])
        if want is None:
            fail("the oldest stream does not reach seq %d of %s" % (i["seq"], p))
        got = {e["id"]: e for e in i["data"]}
        if got != want:
            fail("%s: INITIAL at seq %d holds\n  %s\nbut the stream says\n  %s" % (
                p, i["seq"], json.dumps(sorted(got.values(), key=lambda e: e["id"])),
                json.dumps(sorted(want.values(), key=lambda e: e["id"]))))
    print("ok")


cmd, args = sys.argv[1], sys.argv[2:]
{"check": check, "same": same, "state": state}[cmd](args)
EOF
}

@test "redis: a malformed --redis URL or --lease is a usage error; /health says off without --redis" {
	for u in "http://127.0.0.1:$RP" "redis://127.0.0.1:notaport" "redis://127.0.0.1:99999" \
		"redis://127.0.0.1:$RP/x"; do
		run -2 --separate-stderr timeout 5 "$BIN/ws-serve" --port 0 --redis "$u"
		[[ $stderr == ws-serve:* ]] || { echo "--redis '$u': $stderr" >&2; false; }
	done
	run -2 --separate-stderr timeout 5 "$BIN/ws-serve" --port 0 \
		--redis "redis://127.0.0.1:$RP" --lease abc
	[[ $stderr == ws-serve:* ]]
	run -0 "$BIN/ws-serve" --help
	[[ $output == *--redis* && $output == *--lease* ]]

	start_server --interval 20-40
	check "$(health "$PORT")" '.status == "ok"' '.redis == "off"' '.leader | type == "boolean"'
}

@test "redis: a name that does not resolve: a 'down' warning, /health says down, clients are served" {
	# hiredis fails such a connect at once, before any callback.
	start_server --interval 20-40 --redis redis://nonexistent.invalid:6379
	wait_for "$SERVER_LOG" 'warning: redis: down: cannot create a connection' 5 ||
		fail "$(cat "$SERVER_LOG")"
	check "$(health "$PORT")" '.status == "ok"' '.redis == "down"'
	run -0 ws "$URL" recv bye
	jq -e '.type == "INITIAL"' <<<"${lines[0]}"
}

@test "redis: redis://HOST:PORT/DB keeps the stream in database DB" {
	start_server --interval 20-40 --redis "redis://127.0.0.1:$RP/3" --lease "$LEASE"
	wait_one_leader 5 "$PORT"
	wait_health 5 '.seq >= 1' "$PORT"
	[ "$(redis-cli -p "$RP" -n 3 DBSIZE)" -gt 0 ]
	assert_equal "$(redis-cli -p "$RP" -n 0 DBSIZE)" 0
	run -0 ws "$URL" recv updates:3 bye
	assert_equal "$(jq -r .epoch <<<"${lines[0]}")" "$(health "$PORT" | jq -r .epoch)"
}

@test "redis: three instances send the same UPDATEs in the same order, hold the same state, and one leads" {
	local i s
	for i in 0 1 2; do start_instance; done
	wait_one_leader 5 "${PORTS[@]}"
	for i in 0 1 2; do
		grep -q "^ws-serve: redis: connected to 127.0.0.1:$RP" "${LOGS[i]}"
		check "$(health "${PORTS[i]}")" '.status == "ok"' '.redis == "up"' \
			"(.leader == true) == (${PORTS[i]} == $LEADER)"
	done
	# Exactly one took the lease, and said so.
	assert_equal "$(grep -l '^ws-serve: redis: leader' "${LOGS[@]}" | wc -l)" 1
	assert_equal "$(for i in 0 1 2; do health "${PORTS[i]}" | jq -r .epoch; done | sort -u | wc -l)" 1

	# A client on each until 200 updates past the newest INITIAL.
	for i in 0 1 2; do collect "c$i" "${PORTS[i]}"; done
	for i in 0 1 2; do wait_for "$B/c$i" '"type":"INITIAL"'; done
	s=$(grep -h '"type":"INITIAL"' "$B/c0" "$B/c1" "$B/c2" | jq -s 'map(.seq) | max')
	for i in 0 1 2; do wait_seq "$B/c$i" $((s + 200)); done
	stop_clients
	for i in 0 1 2; do streams check --min 150 "$B/c$i"; done
	streams same --min 150 "$B/c0" "$B/c1" "$B/c2"
	streams state "$B/c0" "$B/c1" "$B/c2"
}

@test "redis: --reuseport instances on one port: the clients of each get one stream" {
	local n na=0 nb=0 ca=0 cb=0 fa='' fb='' s
	start_server --interval "$INTERVAL" --history 100000 --reuseport \
		--redis "redis://127.0.0.1:$RP" --lease "$LEASE"
	LOGS+=("$SERVER_LOG")
	start_server --interval "$INTERVAL" --history 100000 --reuseport \
		--redis "redis://127.0.0.1:$RP" --lease "$LEASE" --port "$PORT"
	LOGS+=("$SERVER_LOG")
	# Before it reaches Redis an instance serves an epoch of its own.
	wait_for "${LOGS[0]}" '^ws-serve: redis: connected to' 5
	wait_for "${LOGS[1]}" '^ws-serve: redis: connected to' 5
	wait_health 5 '.redis == "up" and .seq >= 1' "$PORT"
	# Clients one at a time, until each instance has one: the log that
	# gained a connect line tells which took it.
	for n in $(seq 1 30); do
		collect "c$n" "$PORT"
		wait_for "$B/c$n" '"type":"INITIAL"'
		na=$(grep -c '^ws-serve: connect ' "${LOGS[0]}" || true)
		nb=$(grep -c '^ws-serve: connect ' "${LOGS[1]}" || true)
		if [ -z "$fa" ] && [ "$na" -gt "$ca" ]; then fa=$B/c$n; fi
		if [ -z "$fb" ] && [ "$nb" -gt "$cb" ]; then fb=$B/c$n; fi
		ca=$na cb=$nb
		if [ -n "$fa" ] && [ -n "$fb" ]; then break; fi
	done
	[ -n "$fa" ] && [ -n "$fb" ] ||
		{ echo "after $n clients, $na connects on one instance and $nb on the other" >&2; false; }
	assert_equal $((na + nb)) "$n"
	s=$(grep -h '"type":"INITIAL"' "$fa" "$fb" | jq -s 'map(.seq) | max')
	wait_seq "$fa" $((s + 100))
	wait_seq "$fb" $((s + 100))
	assert_equal "$(grep -l '^ws-serve: redis: leader' "${LOGS[@]}" | wc -l)" 1
	stop_clients
	streams check --min 80 "$fa"
	streams check --min 80 "$fb"
	streams same --min 80 "$fa" "$fb"
	streams state "$fa" "$fb"
}

@test "redis: GET /events and /health agree on every instance at an equal seq" {
	local i
	INTERVAL=1000-2000
	# Started apart, so that an instance's own start time would show.
	start_instance
	sleep 0.3
	start_instance
	wait_one_leader 5 "${PORTS[@]}"
	# /health, /events, /health on each instance, one right after the
	# other: when no seq moved meanwhile and all are equal, so must the
	# events be. Once at once, when most events are as the epoch began,
	# and once at seq 8 or later.
	"$PY" - "${PORTS[@]}" <<'EOF'
import http.client
import json
import sys
import time

conns = [http.client.HTTPConnection("127.0.0.1", int(p), timeout=2)
         for p in sys.argv[1:]]


def get(c, path):
    c.request("GET", path)
    r = c.getresponse()
    body = r.read()
    if r.status != 200:
        sys.exit("GET %s: %d" % (path, r.status))
    return json.loads(body)


def compare(min_seq):
    end = time.time() + 10
    while time.time() < end:
        seen = []
        for c in conns:
            h1, ev, h2 = get(c, "/health"), get(c, "/events"), get(c, "/health")
            seen.append(((h1["epoch"], h1["seq"]), (h2["epoch"], h2["seq"]), ev))
        at = seen[0][0]
        if at[1] >= min_seq and all(a == b == at for a, b, _ in seen):
            evs = [sorted(ev, key=lambda e: e["id"]) for _, _, ev in seen]
            if len(evs[0]) != 5 or any(ev != evs[0] for ev in evs):
                sys.exit("at %s the events differ:\n" % (at,) +
                         "\n".join(json.dumps(ev) for ev in evs))
            return
        time.sleep(0.05)
    sys.exit("no equal, steady seq >= %d within 10 s: %s" % (
        min_seq, [s[:2] for s in seen]))


compare(0)
compare(8)
EOF
}

@test "redis: kill -9 the leader: another leads within three lease times and the stream goes on with no gap" {
	local i li='' s0 t0 t1 sum survivors=() files=()
	for i in 0 1 2; do start_instance; done
	wait_one_leader 5 "${PORTS[@]}"
	for i in 0 1 2; do
		[ "${PORTS[i]}" != "$LEADER" ] || li=$i
		collect "c$i" "${PORTS[i]}"
	done
	for i in 0 1 2; do wait_updates "$B/c$i" 30; done
	for i in 0 1 2; do
		[ "$i" -eq "$li" ] && continue
		survivors+=("${PORTS[i]}") files+=("$B/c$i")
	done

	kill -9 "${PIDS[li]}"
	t0=$(now_ms)
	wait_one_leader $((3 * LEASE)) "${survivors[@]}"
	t1=$(now_ms)
	echo "# new leader after $((t1 - t0)) ms" >&3
	for i in 0 1 2; do
		if [ "${PORTS[i]}" = "$LEADER" ]; then grep -q '^ws-serve: redis: leader' "${LOGS[i]}"; fi
	done

	# The clients on the survivors go on past the kill with no gap.
	s0=$(last_seq "$B/c0" "$B/c1" "$B/c2")
	for i in "${files[@]}"; do wait_seq "$i" $((s0 + 50)); done
	stop_clients
	for i in "${files[@]}"; do
		sum=$(streams check --min 80 "$i")
		check "$sum" ".last >= $s0 + 50"
	done
	streams same --min 80 "${files[@]}"
	wait_health 2 ".seq >= $s0 + 50" "${survivors[@]}"
}

@test "redis: a stopped Redis: /health says down, clients are served, then the stream goes on with no gap" {
	local i t0 n0 n1 e s1 end sum li
	for i in 0 1; do start_instance; done
	wait_one_leader 5 "${PORTS[@]}"
	if [ "${PORTS[0]}" = "$LEADER" ]; then li=0; else li=1; fi
	e=$(health "${PORTS[0]}" | jq -r .epoch)
	for i in 0 1; do collect "c$i" "${PORTS[i]}"; done
	for i in 0 1; do wait_updates "$B/c$i" 30; done

	kill -STOP "$REDIS_PID"
	REDIS_STOPPED=1
	t0=$(now_ms)
	wait_health 3 '.redis == "down" and .status == "ok"' "${PORTS[@]}"
	# Both answer quickly meanwhile, over HTTP and WebSocket.
	run -0 curl -s --max-time 1 -o /dev/null -w '%{http_code}' "http://127.0.0.1:${PORTS[1]}/events"
	assert_output 200
	run -0 ws "ws://127.0.0.1:${PORTS[0]}/" recv 'send:{"type":"PING","timestamp":7}' reply bye
	check "${lines[0]}" '.type == "INITIAL"' ".epoch == \"$e\""
	check "${lines[1]}" '.type == "PONG" and .timestamp == 7'
	# The simulator is paused: nothing goes out while Redis is stopped.
	sleep 0.2
	n0=$(updates "$B/c0") n1=$(updates "$B/c1")
	end=$((t0 + 4000))
	while [ "$(now_ms)" -lt "$end" ]; do sleep 0.1; done
	assert_equal "$(updates "$B/c0") $(updates "$B/c1")" "$n0 $n1"
	wait_health 1 '.redis == "down"' "${PORTS[@]}"
	kill -CONT "$REDIS_PID"
	REDIS_STOPPED=

	wait_one_leader 10 "${PORTS[@]}"
	s1=$(last_seq "$B/c0" "$B/c1")
	for i in 0 1; do wait_seq "$B/c$i" $((s1 + 50)); done
	stop_clients
	# The leader lost its lease with Redis and said so.
	grep -q '^ws-serve: redis: follower' "${LOGS[li]}"
	for i in 0 1; do
		grep -q '^ws-serve: warning: redis: down: ' "${LOGS[i]}"
		sum=$(streams check --min 80 "$B/c$i")
		check "$sum" ".epochs == [\"$e\"]" ".last >= $s1 + 50"
	done
	streams same --min 80 "$B/c0" "$B/c1"
}

@test "redis: a client moved to another instance with since and epoch misses nothing" {
	local e s s2 cur
	start_instance
	start_instance
	wait_one_leader 5 "${PORTS[@]}"
	collect ca "${PORTS[0]}"
	wait_for "$B/ca" '"type":"INITIAL"'
	# ws-watch on the first instance, then on the second with --since.
	run -0 --separate-stderr timeout 20 "$BIN/ws-watch" -q -n 30 "ws://127.0.0.1:${PORTS[0]}/"
	e=$(jq -r .epoch <<<"${lines[0]}")
	s=$(jq .seq <<<"${lines[29]}")
	[ -n "$e" ] && [ "$s" -gt 0 ]
	wait_seq "$B/ca" $((s + 100))
	run -0 --separate-stderr timeout 20 "$BIN/ws-watch" -q -n 150 --since "$s" \
		"ws://127.0.0.1:${PORTS[1]}/?epoch=$e"
	printf '%s\n' "${lines[@]}" >"$B/wb"
	streams check --from "$s" --min 150 "$B/wb"
	streams same --min 100 "$B/ca" "$B/wb"
	# And back to the first with ?since=S&epoch=E from the python client.
	s2=$(last_seq "$B/wb")
	wait_seq "$B/ca" $((s2 + 100))
	cur=$(health "${PORTS[0]}" | jq .seq)
	collect pa "${PORTS[0]}" "?since=$s2&epoch=$e"
	wait_seq "$B/pa" $((cur + 5))
	stop_clients
	streams check --from "$s2" --min $((cur + 5 - s2)) "$B/pa"
	streams same --min 100 "$B/ca" "$B/pa"
}

@test "redis: after every instance restarted, since and epoch from before get the missed UPDATEs" {
	local e s l i
	start_instance
	start_instance
	wait_one_leader 5 "${PORTS[@]}"
	e=$(health "${PORTS[0]}" | jq -r .epoch)
	collect c "${PORTS[0]}"
	wait_updates "$B/c" 60
	s=$(grep '"type":"UPDATE"' "$B/c" | sed -n 20p | jq .seq)
	# Every instance dies; the collector sees its connection go.
	kill -9 "${PIDS[@]}"
	stop_servers
	stop_clients
	l=$(last_seq "$B/c")
	streams check --min 60 "$B/c"

	PORTS=() PIDS=() LOGS=()
	start_instance
	start_instance
	wait_one_leader $((3 * LEASE + 2)) "${PORTS[@]}"
	check "$(health "${PORTS[0]}")" ".epoch == \"$e\"" ".seq >= $l"
	# The python client on one new instance, ws-watch on the other.
	collect r "${PORTS[0]}" "?since=$s&epoch=$e"
	wait_seq "$B/r" $((l + 30))
	stop_clients
	streams check --from "$s" --min $((l + 30 - s)) "$B/r"
	streams same --min $((l - s)) "$B/c" "$B/r"
	run -0 --separate-stderr timeout 20 "$BIN/ws-watch" -q -n $((l + 30 - s)) \
		"ws://127.0.0.1:${PORTS[1]}/?since=$s&epoch=$e"
	printf '%s\n' "${lines[@]}" >"$B/r1"
	streams check --from "$s" --min $((l + 30 - s)) "$B/r1"
	streams same --min $((l + 30 - s)) "$B/r" "$B/r1"
}

@test "redis: a flushed Redis starts a new epoch: /health shows it and clients get a fresh INITIAL" {
	local i e1 e2 sum
	for i in 0 1; do start_instance; done
	wait_one_leader 5 "${PORTS[@]}"
	e1=$(health "${PORTS[0]}" | jq -r .epoch)
	for i in 0 1; do collect "c$i" "${PORTS[i]}"; done
	for i in 0 1; do wait_updates "$B/c$i" 20; done

	[ "$(redis-cli -p "$RP" FLUSHALL)" = OK ]
	wait_health $((3 * LEASE + 3)) ".epoch != \"$e1\" and .redis == \"up\"" "${PORTS[@]}"
	e2=$(health "${PORTS[0]}" | jq -r .epoch)
	assert_equal "$(health "${PORTS[1]}" | jq -r .epoch)" "$e2"
	for i in 0 1; do
		wait_for "$B/c$i" "\"epoch\":\"$e2\"" 5
	done
	# The new epoch's stream goes on from its INITIAL.
	sleep 0.5
	stop_clients
	for i in 0 1; do
		sum=$(streams check --initials 2 --min 20 "$B/c$i")
		check "$sum" ".epochs == [\"$e1\", \"$e2\"]"
		sum=$(sed -n '/"epoch":"'"$e2"'"/,$p' "$B/c$i" | jq -sc .)
		check "$sum" \
			'.[0].type == "INITIAL"' '[.[1:][] | select(.type == "UPDATE")] | length >= 5'
	done
	wait_one_leader 2 "${PORTS[@]}"
}
