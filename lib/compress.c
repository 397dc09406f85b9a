/* lz4 frames of stored values (compress.h): the block format of liblz4,
 * behind a header of our own that says how long the text is, so that a
 * reader allocates once and can check that the whole value came back. */
#include "compress.h"
#include "config.h"
#include "exitcode.h"

#include <errno.h>
#include <lz4.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The largest frame any value within the limit compresses to. */
#define FRAME_MAX ((size_t)AC_COMPRESS_HEADER + \
		   (size_t)LZ4_COMPRESSBOUND(AC_MAX_PAYLOAD))

int ac_compress_encode(const char *text, size_t len, unsigned char **frame,
		       size_t *frame_len)
{
	unsigned char *buf;
	int bound, n;

	*frame = NULL;
	*frame_len = 0;
	if (len < AC_COMPRESS_MIN || len > AC_MAX_PAYLOAD)
		return 0;
	/* A whole bound of room: liblz4 compresses faster when it need not
	 * check for the end of its output.  The buffer lives only until the
	 * value is sent to the store, so the slack costs nothing lasting. */
	bound = LZ4_compressBound((int)len);
	buf = malloc(AC_COMPRESS_HEADER + (size_t)bound);
	if (!buf) {
		errno = ENOMEM;
		return -1;
	}
	n = LZ4_compress_default(text, (char *)buf + AC_COMPRESS_HEADER,
				 (int)len, bound);
	if (n <= 0 || AC_COMPRESS_HEADER + (size_t)n >= len) {
		/* Incompressible (already compressed, random, base64 of
		 * either): text is shorter and needs no decoding. */
		free(buf);
		return 0;
	}
	buf[0] = AC_COMPRESS_LZ4;
	buf[1] = (unsigned char)(len & 0xff);
	buf[2] = (unsigned char)((len >> 8) & 0xff);
	buf[3] = (unsigned char)((len >> 16) & 0xff);
	buf[4] = (unsigned char)((len >> 24) & 0xff);
	*frame = buf;
	*frame_len = AC_COMPRESS_HEADER + (size_t)n;
	return 1;
}

/* A refusal of a damaged frame: errno is set after the message is made,
 * so that formatting it cannot change errno. */
static int damaged(int rc)
{
	errno = EBADMSG;
	return rc;
}

int ac_compress_decode(const void *frame, size_t len, char **text,
		       size_t *text_len, struct ac_error *err)
{
	const unsigned char *p = frame;
	const char *nul;
	uint32_t claimed;
	char *out;
	int n;

	*text = NULL;
	*text_len = 0;
	if (len < AC_COMPRESS_HEADER)
		return damaged(ac_error_set(err, AC_EXIT_UNAVAILABLE,
					    "lz4 frame truncated: %zu bytes, less than its %d-byte header",
					    len, AC_COMPRESS_HEADER));
	if (p[0] != AC_COMPRESS_LZ4)
		return damaged(ac_error_set(err, AC_EXIT_UNAVAILABLE,
					    "unknown compressed format %u (this ac knows %d)",
					    (unsigned)p[0], AC_COMPRESS_LZ4));
	if (len > FRAME_MAX)
		return damaged(ac_error_set(err, AC_EXIT_UNAVAILABLE,
					    "lz4 frame of %zu bytes, longer than any value within the limit (%zu)",
					    len, FRAME_MAX));
	claimed = (uint32_t)p[1] | (uint32_t)p[2] << 8 |
		  (uint32_t)p[3] << 16 | (uint32_t)p[4] << 24;
	if (claimed > AC_MAX_PAYLOAD)
		return damaged(ac_error_set(err, AC_EXIT_UNAVAILABLE,
					    "lz4 frame claims %lu bytes, over the limit of %u",
					    (unsigned long)claimed, AC_MAX_PAYLOAD));
	out = malloc((size_t)claimed + 1);
	if (!out) {
		errno = ENOMEM;
		return ac_error_set(err, AC_EXIT_FAILED, "out of memory");
	}
	/* The _safe decoder never writes past claimed bytes nor reads past
	 * the block, whatever the block says; a block that wants more room
	 * than claimed fails here rather than being cut short. */
	n = LZ4_decompress_safe((const char *)p + AC_COMPRESS_HEADER, out,
				(int)(len - AC_COMPRESS_HEADER), (int)claimed);
	if (n < 0 || (uint32_t)n != claimed) {
		free(out);
		if (n < 0)
			return damaged(ac_error_set(err, AC_EXIT_UNAVAILABLE,
						    "lz4 frame does not decode (%lu bytes claimed, %zu bytes of block)",
						    (unsigned long)claimed,
						    len - AC_COMPRESS_HEADER));
		return damaged(ac_error_set(err, AC_EXIT_UNAVAILABLE,
					    "lz4 frame decodes to %d bytes, not the %lu it claims",
					    n, (unsigned long)claimed));
	}
	/* JSON text never holds a NUL (it would be escaped); every reader
	 * after this one treats the value as a C string. */
	nul = memchr(out, '\0', claimed);
	if (nul) {
		size_t at = (size_t)(nul - out);

		free(out);
		return damaged(ac_error_set(err, AC_EXIT_UNAVAILABLE,
					    "lz4 frame decodes to text with a NUL byte at offset %zu of %lu",
					    at, (unsigned long)claimed));
	}
	out[claimed] = '\0';
	*text = out;
	*text_len = claimed;
	return 0;
}
