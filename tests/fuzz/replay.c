/* The replay driver: links with one fuzz target instead of libFuzzer and
 * feeds it every file of its corpus once, each in a child process so that a
 * crash names its input and does not hide the others. Built with ASan and
 * UBSan by make fuzz-replay, which runs it from make test.
 *
 *   replay N NAME DIR...   prints one TAP line, numbered N:
 *   ok N - NAME corpus (42 inputs)
 *   not ok N - NAME corpus: 1 of 42 inputs failed
 *   # failed: DIR/FILE (signal 6)
 * Exit status 0 when every input passed, 1 otherwise. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fuzz.h"

/* Reads path whole into a fresh buffer (not NUL-terminated: the target
 * gets exactly the file's bytes, as libFuzzer would give them). */
static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL, *nb;
	size_t cap = 0, n = 0, r;

	if (!f)
		return NULL;
	do {
		if (n == cap) {
			cap = cap ? cap * 2 : 4096;
			nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
		}
		r = fread(buf + n, 1, cap - n, f);
		n += r;
	} while (r > 0);
	fclose(f);
	*len = n;
	return buf;
}

/* Runs one input in a child; returns its wait status. */
static int run_one(const char *path)
{
	pid_t pid;
	int st;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		size_t len = 0;
		uint8_t *buf = slurp(path, &len);

		if (!buf) {
			fprintf(stderr, "replay: cannot read '%s': %s\n", path,
				strerror(errno));
			_exit(3);
		}
		LLVMFuzzerTestOneInput(buf, len);
		free(buf);
		exit(0); /* exit, not _exit: LeakSanitizer runs at exit */
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return st;
}

static int skip_name(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

int main(int argc, char **argv)
{
	char path[4096], failed[64][300];
	int i, k, n, total = 0, bad = 0, st;
	struct dirent **names;

	if (argc < 4) {
		fprintf(stderr, "usage: replay N NAME DIR...\n");
		return 2;
	}
	for (i = 3; i < argc; i++) {
		n = scandir(argv[i], &names, skip_name, alphasort);
		if (n < 0) {
			printf("not ok %s - %s corpus: cannot read '%s'\n",
			       argv[1], argv[2], argv[i]);
			return 1;
		}
		for (k = 0; k < n; k++) {
			snprintf(path, sizeof(path), "%s/%s", argv[i],
				 names[k]->d_name);
			free(names[k]);
			total++;
			st = run_one(path);
			if (st == 0)
				continue;
			if (bad < 64) {
				if (st > 0 && WIFSIGNALED(st))
					snprintf(failed[bad], sizeof(failed[0]),
						 "%.250s (signal %d)", path,
						 WTERMSIG(st));
				else
					snprintf(failed[bad], sizeof(failed[0]),
						 "%.250s (exit %d)", path,
						 st > 0 ? WEXITSTATUS(st) : -1);
			}
			bad++;
		}
		free(names);
	}
	if (total == 0) {
		printf("not ok %s - %s corpus: no inputs\n", argv[1], argv[2]);
		return 1;
	}
	if (!bad) {
		printf("ok %s - %s corpus (%d inputs)\n", argv[1], argv[2],
		       total);
		return 0;
	}
	printf("not ok %s - %s corpus: %d of %d inputs failed\n", argv[1],
	       argv[2], bad, total);
	for (i = 0; i < bad && i < 64; i++)
		printf("# failed: %s\n", failed[i]);
	return 1;
}
