#!/usr/bin/env bats
# scripts/bench: the benchmark's own behaviour, not its figures (those are
# measured by running it, never judged in a test): its options, that a
# short run prints its table for both servers with every client held, that
# it leaves no process or folder behind, and that floor.c builds with
# -Werror and reports every figure.
bats_require_minimum_version 1.5.0
load helper

setup() {
	RUN=$TOP/scripts/bench/run
}

@test "bench: --help prints the usage and the scenarios" {
	run -0 "$RUN" --help
	assert_line --index 0 "usage: scripts/bench/run [--quick] [--only LIST] [--keep] [--bin DIR]"
	assert_output --partial "idle100k"
}

@test "bench: an unknown scenario or option is a usage error (exit 2)" {
	run -2 --separate-stderr "$RUN" --only idle,nosuch
	[[ $stderr == *"--only: 'nosuch' is not one of: idle idle100k fanout rtt storm deflate"* ]] ||
		fail "$stderr"
	assert_output ""
	run -2 --separate-stderr "$RUN" --nosuch
	[[ $stderr == *"nosuch"* ]] || fail "$stderr"
}

@test "bench: --quick --only idle measures both servers with every client held, then leaves nothing behind" {
	export TMPDIR=$BATS_TEST_TMPDIR
	run -0 --separate-stderr timeout 300 "$RUN" --quick --only idle --bin "$BIN"
	assert_line --partial "wskit benchmark (--quick) (--only idle):"
	assert_line --regexp '^1 idle 1k +handshakes/s while opening +[0-9]+ +[0-9]+ +[0-9.]+x$'
	assert_line --regexp '^ +connections held +1000 +1000 +1\.00x$'
	assert_line --regexp '^ +server RSS per connection \(KB\) +[0-9.]+ +[0-9.]+ +[0-9.]+x$'
	assert_line "targets (issue 9):"
	# The exact commands, with the port each server picked.
	assert_line --regexp "^  taskset -c 0 .*/ws-serve --port 0 \(got [0-9]+\) --interval 2000-7000"
	assert_line --regexp '^  taskset -c 1 ws-ping --subscribe -C 1000 '
	# Its work folder is gone, and so is every process it started.
	run -0 find "$BATS_TEST_TMPDIR" -maxdepth 1 -name 'wsk-bench.*'
	assert_output ""
	run -1 pgrep -f -- "--max-clients 30000 --heartbeat 0 -q"
	run -1 pgrep -f "scripts/bench/reference/server.js"
	run -1 pgrep -f -- "ws-ping --subscribe -C 1000 --threads 1"
}

@test "bench: floor.c builds with -Werror and prints every figure as a number" {
	local f=$BATS_TEST_TMPDIR/floor key
	run -0 cc -std=gnu11 -Wall -Wextra -Werror -O2 -pthread -o "$f" "$TOP/scripts/bench/floor.c"
	run -0 --separate-stderr timeout 120 "$f" 0 1
	for key in syscall_us fanout_write_ms fanout_write_max_ms fanout_load_p50_ms \
		fanout_load_p99_ms fanout_load_updates_s fanout_load_writer_cpu \
		fanout_load_reader_cpu rtt_p50_us rtt_p99_us rtt_per_s \
		rtt_one_cpu_p50_us rtt_one_cpu_p99_us rtt_one_cpu_per_s; do
		jq -e --arg k "$key" '.[$k] | type == "number" and . > 0' <<<"$output" >/dev/null ||
			fail "$key: $output"
	done
	# 5 events every 10-20 ms make about 333 updates a second, late or not.
	jq -e '.fanout_load_updates_s > 250 and .fanout_load_updates_s < 500' <<<"$output" >/dev/null ||
		fail "$output"
	run -2 --separate-stderr "$f"
	[[ $stderr == "usage: floor SERVER_CPU LOAD_CPU" ]] || fail "$stderr"
}
