#include "tool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tls.h"

const char *wsk_cli_prog = "wskit";

void wsk_cli_try_help(void)
{
	fprintf(stderr, "Try '%s --help' for more information.\n",
		wsk_cli_prog);
	exit(WSK_EXIT_USAGE);
}

void wsk_cli_usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", wsk_cli_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	wsk_cli_try_help();
}

/* A missing value always ends the argument list, so word is the option
 * itself; an unknown short option may sit inside a cluster, so opt names
 * it. */
void wsk_cli_bad_option(int c, const char *word, int opt)
{
	const char *what = c == ':' ? "needs a value" : NULL;
	size_t n = strcspn(word, "=");
	int is_long = strncmp(word, "--", 2) == 0;

	if (is_long && what != NULL)
		wsk_cli_usage_error("option '%.*s' %s", (int)n, word, what);
	if (is_long && opt == 0)
		wsk_cli_usage_error("unknown option '%.*s'", (int)n, word);
	if (is_long && word[n] == '=')
		wsk_cli_usage_error("option '%.*s' takes no value", (int)n,
				    word);
	if (what != NULL)
		wsk_cli_usage_error("option '-%c' %s", opt, what);
	wsk_cli_usage_error("unknown option '-%c'", opt);
}

double wsk_cli_seconds(const char *name, const char *arg, double max)
{
	char err[WSK_ERRLEN];
	double v;

	if (wsk_parse_seconds(arg, max, &v, err, sizeof(err)) < 0)
		wsk_cli_usage_error("%s: %s", name, err);
	return v;
}

long long wsk_cli_int(const char *name, const char *arg, long long min,
		      long long max)
{
	char err[WSK_ERRLEN];
	long long v;

	if (wsk_parse_int(arg, min, max, &v, err, sizeof(err)) < 0)
		wsk_cli_usage_error("%s: %s", name, err);
	return v;
}

uint64_t wsk_cli_size(const char *name, const char *arg, uint64_t min,
		      uint64_t max)
{
	char err[WSK_ERRLEN];
	uint64_t v;

	if (wsk_parse_size(arg, min, max, &v, err, sizeof(err)) < 0)
		wsk_cli_usage_error("%s: %s", name, err);
	return v;
}

const char *wsk_cli_env(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? v : NULL;
}

void wsk_cli_hold_std_fds(void)
{
	int fd;

	for (fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) < 0 && errno == EBADF &&
		    open("/dev/null", O_RDWR) != fd)
			exit(WSK_EXIT_FAIL);
}

void wsk_cli_check_cacert(const char *file)
{
	struct wsk_tls_ctx *ctx;
	char err[256];

	if (file == NULL)
		return;
	if (access(file, R_OK) != 0)
		wsk_cli_usage_error("--cacert: cannot read '%s': %s", file,
				    strerror(errno));
	/* Loaded the way a wss:// connection will load it. */
	if (wsk_tls_client_ctx(&ctx, file, 0, err, sizeof(err)) < 0)
		wsk_cli_usage_error("--cacert: %s", err);
	wsk_tls_ctx_free(ctx);
}
