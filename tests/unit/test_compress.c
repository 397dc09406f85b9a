/* Unit tests of lib/compress.c: lz4 frames of stored values.  Round trips
 * of many sizes (0, around the threshold, up to the 8 MiB limit), text that
 * does not compress staying text, and frames that are damaged or lie about
 * their length refused with an error rather than read out of bounds (run
 * under ASan to catch the latter).  TAP output; exit 1 on any failure. */
#include "compress.h"
#include "config.h"
#include "error.h"
#include "exitcode.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_no, failures;

static void check(int ok, const char *name)
{
	test_no++;
	printf("%sok %d - %s\n", ok ? "" : "not ", test_no, name);
	if (!ok)
		failures++;
}

/* A deterministic generator, so that a failure repeats. */
static uint64_t rng = 88172645463325252ULL;

static uint64_t next_random(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* len bytes of JSON-like text that compresses well, as task data does:
 * an array of similar records. */
static char *json_text(size_t len)
{
	static const char *const words[] = {
		"alpha", "bravo", "charlie", "delta", "echo", "foxtrot",
	};
	char *p = malloc(len + 1);
	size_t n = 0;

	if (!p)
		return NULL;
	while (n < len) {
		char rec[96];
		int k = snprintf(rec, sizeof rec,
				 "{\"id\":%u,\"name\":\"%s\",\"ok\":true},",
				 (unsigned)(next_random() % 100000),
				 words[next_random() % 6]);
		size_t take = (size_t)k < len - n ? (size_t)k : len - n;

		memcpy(p + n, rec, take);
		n += take;
	}
	p[len] = '\0';
	return p;
}

/* len printable bytes with no repeats worth a match: what compressed or
 * encrypted data looks like once base64-encoded into JSON. */
static char *noise_text(size_t len)
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *p = malloc(len + 1);

	if (!p)
		return NULL;
	for (size_t i = 0; i < len; i++)
		p[i] = b64[next_random() % 64];
	p[len] = '\0';
	return p;
}

/* Encode text and decode what came out: 1 when the text comes back byte
 * for byte (from the frame, or as itself when it stayed text); *framed
 * says which. */
static int round_trip(const char *text, size_t len, int *framed,
		      size_t *frame_len)
{
	unsigned char *frame = NULL;
	size_t flen = 0, back_len = 0;
	char *back = NULL;
	struct ac_error err;
	int rc = ac_compress_encode(text, len, &frame, &flen), ok;

	*framed = rc == 1;
	*frame_len = flen;
	if (rc < 0)
		return 0;
	if (rc == 0)
		return frame == NULL && flen == 0;
	ac_error_clear(&err);
	ok = flen < len && frame[0] == AC_COMPRESS_LZ4 &&
	     ac_compress_decode(frame, flen, &back, &back_len, &err) == 0 &&
	     back_len == len && memcmp(back, text, len) == 0 &&
	     back[len] == '\0';
	if (!ok && err.msg[0])
		printf("# decode: %s\n", err.msg);
	free(back);
	free(frame);
	return ok;
}

static void test_round_trips(void)
{
	const size_t min = AC_COMPRESS_MIN, max = AC_MAX_PAYLOAD;
	const size_t sizes[] = {
		0, 1, 100, min - 1, min, min + 1, 4096, 65536, 1000003,
		1024 * 1024, max - 1, max,
	};
	char name[160];

	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		size_t len = sizes[i], flen;
		char *text = json_text(len);
		int framed = 0, ok;

		ok = text && round_trip(text, len, &framed, &flen);
		snprintf(name, sizeof name,
			 "round trip: %zu bytes of JSON come back whole (%s)", len,
			 framed ? "compressed" : "kept as text");
		check(ok, name);
		snprintf(name, sizeof name,
			 "threshold: %zu bytes are %s", len,
			 len < min ? "kept as text (below AC_COMPRESS_MIN)" :
			 "compressed (at least AC_COMPRESS_MIN)");
		check(framed == (len >= min), name);
		if (framed && len == 1024 * 1024)
			printf("# 1 MiB of JSON records: %zu bytes framed (%.1f%%)\n",
			       flen, 100.0 * (double)flen / (double)len);
		free(text);
	}
}

static void test_plain(void)
{
	unsigned char *frame = (unsigned char *)"sentinel";
	size_t flen = 77, len = 64 * 1024;
	char *noise = noise_text(len), *big;
	int rc;

	rc = noise ? ac_compress_encode(noise, len, &frame, &flen) : -1;
	check(rc == 0 && frame == NULL && flen == 0,
	      "incompressible text (64 KiB of base64 noise) stays text");
	free(noise);

	/* Over the limit: never framed (a frame could not be decoded). */
	big = json_text(AC_MAX_PAYLOAD + 1);
	rc = big ? ac_compress_encode(big, AC_MAX_PAYLOAD + 1, &frame,
				      &flen) : -1;
	check(rc == 0 && frame == NULL,
	      "a value over AC_MAX_PAYLOAD is never framed");
	free(big);
}

/* A valid frame of n bytes of JSON text, for the damage tests. */
static unsigned char *good_frame(size_t n, size_t *flen, char **text)
{
	unsigned char *frame = NULL;

	*text = json_text(n);
	if (!*text || ac_compress_encode(*text, n, &frame, flen) != 1) {
		free(*text);
		*text = NULL;
		return NULL;
	}
	return frame;
}

static void put_len(unsigned char *frame, uint32_t v)
{
	frame[1] = (unsigned char)(v & 0xff);
	frame[2] = (unsigned char)(v >> 8 & 0xff);
	frame[3] = (unsigned char)(v >> 16 & 0xff);
	frame[4] = (unsigned char)(v >> 24 & 0xff);
}

/* Decoding frame (of len bytes) is refused cleanly: -1, errno EBADMSG,
 * exit code 69, a message, no text. */
static int refused(const void *frame, size_t len, const char *want)
{
	struct ac_error err;
	char *text = (char *)"sentinel";
	size_t n = 99;
	int rc;

	ac_error_clear(&err);
	errno = 0;
	rc = ac_compress_decode(frame, len, &text, &n, &err);
	if (rc == -1)
		printf("#   %s\n", err.msg);
	return rc == -1 && errno == EBADMSG &&
	       err.exit_code == AC_EXIT_UNAVAILABLE && text == NULL &&
	       n == 0 && strstr(err.msg, want) != NULL;
}

static void test_damage(void)
{
	size_t flen = 0, n = 16 * 1024;
	char *text = NULL;
	unsigned char *frame = good_frame(n, &flen, &text), *copy;
	static const unsigned char zero_frame[] = {
		AC_COMPRESS_LZ4, 0, 0, 0, 0, 0x00,
	};
	char *back;
	size_t back_len;
	struct ac_error err;

	if (!frame) {
		check(0, "damage: a valid frame to damage");
		return;
	}
	copy = malloc(flen);
	if (!copy) {
		check(0, "damage: memory");
		free(frame);
		free(text);
		return;
	}

	check(refused(frame, 0, "truncated"), "damage: an empty value is refused");
	check(refused(frame, 4, "truncated"),
	      "damage: a frame shorter than its header is refused");

	memcpy(copy, frame, flen);
	copy[0] = 2;
	check(refused(copy, flen, "unknown compressed format 2"),
	      "damage: an unknown format byte is refused");

	memcpy(copy, frame, flen);
	put_len(copy, AC_MAX_PAYLOAD + 1);
	check(refused(copy, flen, "over the limit"),
	      "damage: a length over AC_MAX_PAYLOAD is refused before any allocation");
	put_len(copy, 0xffffffffu);
	check(refused(copy, flen, "over the limit"),
	      "damage: a length of 4 GiB is refused");

	memcpy(copy, frame, flen);
	put_len(copy, (uint32_t)n + 1);
	check(refused(copy, flen, "decodes to"),
	      "damage: a length one more than the block holds is refused");
	put_len(copy, (uint32_t)n - 1);
	check(refused(copy, flen, "does not decode"),
	      "damage: a length one less than the block holds is refused");
	put_len(copy, (uint32_t)n / 2);
	check(refused(copy, flen, "does not decode"),
	      "damage: a length of half the block is refused");

	check(refused(frame, flen - 1, "not decode") ||
	      refused(frame, flen - 1, "decodes to"),
	      "damage: a frame cut short by one byte is refused");
	check(refused(frame, AC_COMPRESS_HEADER + 1, "not decode") ||
	      refused(frame, AC_COMPRESS_HEADER + 1, "decodes to"),
	      "damage: a frame cut to one byte of block is refused");

	/* Flipped bytes all through the block: each is refused or decodes to
	 * exactly the claimed length (lz4 has no checksum; a flip inside a
	 * literal run is not detectable and need not be). */
	{
		int ok = 1;

		for (size_t i = AC_COMPRESS_HEADER; ok && i < flen; i += 7) {
			int rc;

			memcpy(copy, frame, flen);
			copy[i] ^= 0x5a;
			ac_error_clear(&err);
			rc = ac_compress_decode(copy, flen, &back, &back_len,
						&err);
			if (rc == 0) {
				ok = back_len == n && strlen(back) == n;
				free(back);
			} else {
				ok = back == NULL && errno == EBADMSG;
			}
		}
		check(ok, "damage: flipped bytes are refused or decode to exactly the claimed length");
	}

	/* Random blocks behind a plausible header. */
	{
		int ok = 1;

		for (int round = 0; ok && round < 2000; round++) {
			size_t blen = 1 + next_random() % 300;
			unsigned char junk[AC_COMPRESS_HEADER + 300];

			junk[0] = AC_COMPRESS_LZ4;
			put_len(junk, (uint32_t)(next_random() % 4096));
			for (size_t i = 0; i < blen; i++)
				junk[AC_COMPRESS_HEADER + i] =
					(unsigned char)next_random();
			ac_error_clear(&err);
			if (ac_compress_decode(junk, AC_COMPRESS_HEADER + blen,
					       &back, &back_len, &err) == 0) {
				ok = strlen(back) == back_len;
				free(back);
			}
		}
		check(ok, "damage: 2000 random blocks decode safely or are refused");
	}

	/* A NUL inside a frame's text: refused (JSON text has none). */
	{
		static const unsigned char nul_frame[] = {
			AC_COMPRESS_LZ4, 3, 0, 0, 0, 0x30, 'a', 0, 'b',
		};

		check(refused(nul_frame, sizeof nul_frame, "NUL byte at offset 1"),
		      "damage: a frame whose text holds a NUL is refused");
	}

	/* The empty text, framed by hand (never written, but valid). */
	ac_error_clear(&err);
	check(ac_compress_decode(zero_frame, sizeof zero_frame, &back,
				 &back_len, &err) == 0 && back_len == 0 &&
	      back && back[0] == '\0',
	      "decode: a frame of the empty text gives the empty string");
	free(back);

	free(copy);
	free(frame);
	free(text);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	test_round_trips();
	test_plain();
	test_damage();
	printf("1..%d\n", test_no);
	return failures ? 1 : 0;
}
