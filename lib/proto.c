#include "proto.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *error_reply(const char *why, size_t *out_len)
{
	json_t *j = json_pack("{s:s,s:s}", "type", "ERROR", "error", why);
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	if (s)
		*out_len = strlen(s);
	return s;
}

/* The PING every client sends, {"type":"PING","timestamp":N} with N a
 * plain integer of up to 18 digits, is answered without a JSON parser:
 * the shape is checked byte for byte, so the answer is the one the general
 * path would give, and anything else takes that path. */
static char *fast_ping(const char *msg, size_t len, int64_t now_ms,
		       size_t *out_len)
{
	static const char pre[] = "{\"type\":\"PING\",\"timestamp\":";
	size_t n = sizeof(pre) - 1, i, digits;
	char *out;
	int w;

	if (len < n + 2 || memcmp(msg, pre, n) != 0 || msg[len - 1] != '}')
		return NULL;
	i = n + (msg[n] == '-');
	digits = len - 1 - i;
	if (digits == 0 || digits > 18 || (msg[i] == '0' && digits > 1))
		return NULL;
	for (; i < len - 1; i++)
		if (msg[i] < '0' || msg[i] > '9')
			return NULL;
	out = malloc(len + 64);
	if (!out)
		return NULL;
	w = snprintf(
	    out, len + 64,
	    "{\"type\":\"PONG\",\"timestamp\":%.*s,\"serverTime\":%lld}",
	    (int)(len - 1 - n), msg + n, (long long)now_ms);
	*out_len = (size_t)w;
	return out;
}

char *wsk_proto_reply(const char *msg, size_t len, int64_t now_ms,
		      size_t *out_len)
{
	json_error_t jerr;
	json_t *in, *type, *ts, *out;
	const char *t;
	char *s;

	s = fast_ping(msg, len, now_ms, out_len);
	if (s)
		return s;
	/* Depth and size are bounded by --max-message; jansson rejects NUL
	 * bytes inside strings unless asked, which is what we want. */
	in = json_loadb(msg, len, 0, &jerr);
	/* An integer past 64 bits is valid JSON: read it as a double, as
	 * most peers would. Past a double's range nothing can hold it. */
	if (!in && json_error_code(&jerr) == json_error_numeric_overflow)
		in = json_loadb(msg, len, JSON_DECODE_INT_AS_REAL, &jerr);
	if (!in && json_error_code(&jerr) == json_error_numeric_overflow)
		return error_reply("a number in the message is out of range",
				   out_len);
	if (!in)
		return error_reply("message is not valid JSON", out_len);
	if (!json_is_object(in)) {
		json_decref(in);
		return error_reply("message is not a JSON object", out_len);
	}
	type = json_object_get(in, "type");
	if (!type) {
		json_decref(in);
		return error_reply("message has no \"type\"", out_len);
	}
	t = json_string_value(type);
	if (!t || strcmp(t, "PING") != 0) {
		json_decref(in);
		return error_reply("unknown message type", out_len);
	}
	out = json_pack("{s:s}", "type", "PONG");
	ts = json_object_get(in, "timestamp");
	/* The timestamp is echoed as the same JSON value, whatever it is. */
	if (out && ts)
		json_object_set(out, "timestamp", ts);
	if (out)
		json_object_set_new(out, "serverTime", json_integer(now_ms));
	s = out ? json_dumps(out, JSON_COMPACT | JSON_REAL_PRECISION(17))
		: NULL;
	json_decref(out);
	json_decref(in);
	if (s)
		*out_len = strlen(s);
	return s;
}
