/* Fuzz target: the client-message handler, wsk_proto_reply.
 *
 * Invariants checked besides memory safety: there is always a reply; it is
 * a JSON object whose type is PONG exactly when the message was an object
 * with "type":"PING", else ERROR with a non-empty reason; a PONG carries
 * serverTime and the message's timestamp as an equal JSON value, or none
 * when the message had none (an integer past 64 bits read as a double). */
#include <jansson.h>
#include <string.h>

#include "fuzz.h"
#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *in, *out, *type, *ts;
	json_error_t err;
	const char *t;
	size_t len = 0;
	char *reply;
	int ping;

	reply = wsk_proto_reply((const char *)data, size, 1795639826123, &len);
	FUZZ_ASSERT(reply);
	FUZZ_ASSERT(len == strlen(reply));
	out = json_loadb(reply, len, 0, &err);
	FUZZ_ASSERT(json_is_object(out));
	t = json_string_value(json_object_get(out, "type"));
	FUZZ_ASSERT(t);
	in = json_loadb((const char *)data, size, 0, &err);
	/* As the server reads it: an integer past 64 bits as a double. */
	if (!in && json_error_code(&err) == json_error_numeric_overflow)
		in = json_loadb((const char *)data, size,
				JSON_DECODE_INT_AS_REAL, &err);
	type = json_is_object(in) ? json_object_get(in, "type") : NULL;
	ping = type && json_is_string(type) &&
	       strcmp(json_string_value(type), "PING") == 0;
	if (ping) {
		FUZZ_ASSERT(strcmp(t, "PONG") == 0);
		FUZZ_ASSERT(json_integer_value(json_object_get(
				out, "serverTime")) == 1795639826123);
		ts = json_object_get(in, "timestamp");
		if (ts)
			FUZZ_ASSERT(
			    json_equal(ts, json_object_get(out, "timestamp")));
		else
			FUZZ_ASSERT(!json_object_get(out, "timestamp"));
	} else {
		FUZZ_ASSERT(strcmp(t, "ERROR") == 0);
		t = json_string_value(json_object_get(out, "error"));
		FUZZ_ASSERT(t && *t);
	}
	json_decref(in);
	json_decref(out);
	free(reply);
	return 0;
}
