/* libFuzzer target: every decoder that takes bytes from outside the
 * worker — control requests (with and without a token), side-channel
 * lines, task data, and lz4 frames of stored values (anyone who can
 * write to the store can write those).  Run by `make fuzz`; briefly in
 * `make check`. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "compress.h"
#include "control.h"
#include "sidechannel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ac_side_msg msg;
	struct ac_error err;
	const char *answer;
	char why[256], *text;
	size_t len;
	json_t *req;

	if (ac_ctl_parse_request(data, size, NULL, &req, &answer, why,
				 sizeof why) == 0)
		json_decref(req);
	if (ac_ctl_parse_request(data, size, "s3cret", &req, &answer, why,
				 sizeof why) == 0)
		json_decref(req);
	if (ac_side_parse((const char *)data, size, &msg, &err) == 0)
		ac_side_msg_release(&msg);
	if (ac_compress_decode(data, size, &text, &len, &err) == 0)
		free(text);
	return 0;
}
