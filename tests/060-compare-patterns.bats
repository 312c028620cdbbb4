#!/usr/bin/env bats
# scripts/compare-patterns: one --quick run (about 16 s) whose table is
# checked for shape only; the measured values depend on the machine, so
# nothing here asserts a latency or a byte count. The run happens once, in
# the first test, and every check on it is made there.
bats_require_minimum_version 1.5.0
load helper

CP=$TOP/scripts/compare-patterns

# cell FILE PATTERN N: the Nth cell (1: the pattern) of PATTERN's row.
cell() {
	awk -F'|' -v p="$2" -v n="$3" '
		{ name = $2; gsub(/^ +| +$/, "", name) }
		name == p { c = $(n + 1); gsub(/^ +| +$/, "", c); print c; found = 1; exit }
		END { exit !found }' "$1"
}

@test "compare-patterns --quick: exits 0, a table of the four patterns, a p50 each, nothing missed over WS and SSE, nothing left behind" {
	local d=$BATS_TEST_TMPDIR out err pid
	out=$d/out err=$d/err
	mkdir "$d/tmp"
	# Its own TMPDIR, to see that the script removes what it made there.
	run -0 --separate-stderr env TMPDIR="$d/tmp" WSK_BIN="$BIN" "$CP" --quick
	printf '%s\n' "$output" >"$out"
	printf '%s\n' "$stderr" >"$err"

	# One awk over the table: every row's cells, or a line naming the bad one.
	run -0 awk -F'|' '
		function num(c, unit) { return c ~ ("^-?[0-9]+(\\.[0-9]+)?" unit "$") }
		/^\|/ {
			rows++
			for (i = 2; i < NF; i++) { c[i] = $i; gsub(/^ +| +$/, "", c[i]) }
			if (rows <= 2) next
			seen[c[2]] = 1
			if (!num(c[4], " ms")) print c[2] ": p50 " c[4]
			if (!num(c[5], " ms")) print c[2] ": p99 " c[5]
			if (!num(c[6], " ms")) print c[2] ": max " c[6]
			if (c[8] !~ /^[0-9]+$/) print c[2] ": bytes/update " c[8]
			if (c[10] !~ /^[1-9][0-9]*$/) print c[2] ": updates " c[10]
			claim[c[2]] = c[3]
		}
		END {
			print rows " rows"
			n = split("WebSocket|Server-Sent Events|Long Polling|Short Polling (1 s)|Short Polling (0.25 s)", p, "|")
			for (i = 1; i <= n; i++) if (!(p[i] in seen)) print "no row " p[i]
			print claim["WebSocket"] " " claim["Short Polling (1 s)"]
		}' "$out"
	assert_output "7 rows
<10ms 500ms+"

	run -0 cell "$out" "WebSocket" 10
	assert_output 0
	run -0 cell "$out" "Server-Sent Events" 10
	assert_output 0
	run -0 cell "$out" "Short Polling (1 s)" 10
	[[ $output =~ ^[0-9]+%\ \([0-9]+\ of\ [0-9]+\)$ ]]

	run -0 grep -E '^Note: client and server share one [0-9]+-core machine' "$out"
	assert_output --partial "from one run"

	# ws-serve is gone, and so is the script's temporary directory.
	pid=$(sed -n 's/.*ws-serve pid \([0-9]*\) listening.*/\1/p' "$err")
	[ -n "$pid" ]
	run ! kill -0 "$pid"
	run -0 ls -A "$d/tmp"
	assert_output ""
}

@test "compare-patterns: --help exits 0, a bad option or value exits 2" {
	run -0 --separate-stderr "$CP" --help
	assert_line --index 0 --partial "usage: compare-patterns"
	assert_output --partial "--seconds N"
	run -2 --separate-stderr "$CP" --bogus
	assert_output ""
	[[ $stderr == *"unknown option: --bogus"* ]]
	run -2 --separate-stderr "$CP" --seconds 0
	[[ $stderr == *"--seconds: must be 1 to 3600"* ]]
}
