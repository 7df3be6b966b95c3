/* libFuzzer target: the stream reader (ps_sr_*) on arbitrary bytes, given
 * either as a zstd stream or raw (the fuzzer then mostly meets the
 * decompressor's checks; the raw half wraps its input in a valid zstd frame
 * so the record parser sees the bytes). Every record is read and every
 * sample's stack resolved; nothing may crash, leak or read out of bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "ps_stream.h"

static void read_all(const void *buf, size_t len)
{
	struct ps_sr *r;
	struct ps_errmsg e;
	if (ps_sr_open_mem(buf, len, &r, &e) != PS_OK)
		return;
	struct ps_sr_record rec;
	const struct ps_stream_frame *frames[64];
	for (int n = 0; n < 100000 && ps_sr_next(r, &rec, &e) == PS_OK; n++) {
		uint32_t depth;
		if (rec.type == PS_REC_SAMPLE)
			ps_sr_stack(r, rec.sample.stack_id, frames, 64, &depth);
	}
	ps_sr_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] & 1) {
		read_all(data + 1, size - 1);
		return 0;
	}
	/* the signature, then the fuzzer's bytes as records, compressed */
	size_t raw_len = PS_STREAM_SIGNATURE_LEN + size - 1;
	uint8_t *raw = malloc(raw_len);
	size_t cap = ZSTD_compressBound(raw_len);
	uint8_t *z = malloc(cap);
	if (raw && z) {
		memcpy(raw, PS_STREAM_SIGNATURE, PS_STREAM_SIGNATURE_LEN);
		memcpy(raw + PS_STREAM_SIGNATURE_LEN, data + 1, size - 1);
		size_t zn = ZSTD_compress(z, cap, raw, raw_len, 1);
		if (!ZSTD_isError(zn))
			read_all(z, zn);
	}
	free(raw);
	free(z);
	return 0;
}
