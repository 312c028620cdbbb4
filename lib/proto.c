#include "proto.h"

#include <jansson.h>
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

char *wsk_proto_reply(const char *msg, size_t len, int64_t now_ms,
		      size_t *out_len)
{
	json_error_t jerr;
	json_t *in, *type, *ts, *out;
	const char *t;
	char *s;

	/* Depth and size are bounded by --max-message; jansson rejects NUL
	 * bytes inside strings unless asked, which is what we want. */
	in = json_loadb(msg, len, 0, &jerr);
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
