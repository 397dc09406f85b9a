/* lz4 compression of stored values: task data, results and checkpoints.
 *
 * A value is kept either as its JSON text or, when that pays, as a frame:
 *
 *   byte  0     AC_COMPRESS_LZ4, the format of what follows
 *   bytes 1..4  the length of the JSON text, unsigned, little-endian
 *   bytes 5..   one LZ4 block holding the text
 *
 * The stores keep frames apart from text by type (a BLOB in SQLite, a
 * bytea column in PostgreSQL), never by sniffing bytes; the format byte
 * leaves room for another encoding later.  Frames come back from the store,
 * which any process with access to it can write, so decoding trusts
 * nothing: the claimed length is bounded by AC_MAX_PAYLOAD and must be met
 * exactly.  Only the stores use this: everything above them sees JSON text. */
#ifndef AC_COMPRESS_H
#define AC_COMPRESS_H

#include <stddef.h>

#include "error.h"

#define AC_COMPRESS_LZ4 1      /* format byte: one LZ4 block */
#define AC_COMPRESS_HEADER 5   /* format byte + 4-byte length */

/* Compress len bytes of text when that is worth it: len at least
 * AC_COMPRESS_MIN and at most AC_MAX_PAYLOAD (config.h), and the frame
 * shorter than the text.  Returns 1 with *frame a new buffer (the caller
 * frees it) of *frame_len bytes; 0 when the value is better kept as text
 * (*frame NULL); -1 with errno ENOMEM when out of memory (*frame NULL).
 * Compression is only a saving, so a caller may store the text when this
 * fails. */
int ac_compress_encode(const char *text, size_t len, unsigned char **frame,
		       size_t *frame_len);

/* Decode a frame of len bytes into new NUL-terminated text: *text (the
 * caller frees it) of *text_len bytes.  A frame that is truncated, of an
 * unknown format, longer than any frame of an AC_MAX_PAYLOAD value, that
 * claims more than AC_MAX_PAYLOAD bytes, does not decode to exactly the
 * length it claims, or decodes to text with a NUL byte in it is refused:
 * -1, errno EBADMSG, err filled (exit code AC_EXIT_UNAVAILABLE: the store
 * holds damaged data).  Out of memory: -1, errno ENOMEM, AC_EXIT_FAILED.
 * *text is NULL after any failure. */
int ac_compress_decode(const void *frame, size_t len, char **text,
		       size_t *text_len, struct ac_error *err);

#endif
