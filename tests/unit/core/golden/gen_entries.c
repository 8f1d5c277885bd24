/* gen_entries — writes tests/unit/core/golden/entries.bin: one log entry per op
 * and per layout, as src/core/codec.c wrote them when the file was made
 * (`make golden`). The file is committed; test_golden decodes it. Run it
 * again only to add a layout, never to "fix" an old one: an old entry that
 * decodes differently is the bug test_golden is there to catch.
 *
 * File: for each entry, its length (u32 LE) and its bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "golden_cases.h"

static void put_entry(FILE *out, const uint8_t *bytes, size_t len)
{
    uint8_t le[4] = {(uint8_t)len, (uint8_t)(len >> 8), (uint8_t)(len >> 16), (uint8_t)(len >> 24)};
    if (fwrite(le, 1, 4, out) != 4 || fwrite(bytes, 1, len, out) != len) {
        perror("write");
        exit(1);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_entries OUT\n");
        return 2;
    }
    FILE *out = fopen(argv[1], "wb");
    if (out == NULL) {
        perror(argv[1]);
        return 1;
    }
    size_t n = 0;
    const golden_case *cases = golden_cases(&n);
    for (size_t i = 0; i < n; i++) {
        const golden_case *g = &cases[i];
        uint8_t buf[4096];
        seq_writer w = {buf, 0, sizeof(buf), false};
        codec_header h = g->header;
        h.n_cmds = 1;
        codec_put_header(&w, &h);
        if (g->header_v1) {
            /* the first layout: no keys_max, no mono_ms (written by hand:
             * the encoder writes only the current one) */
            w.len = 0;
            seq_put_u8(&w, CODEC_VERSION_V1);
            seq_put_i64(&w, h.time_ms);
            seq_put_i64(&w, h.retention_ms);
            seq_put_u64(&w, h.origin);
            seq_put_u64(&w, h.batch_seq);
            seq_put_u32(&w, h.n_cmds);
        }
        codec_put_cmd(&w, &g->cmd);
        if (w.overflow) {
            fprintf(stderr, "case %zu does not fit\n", i);
            return 1;
        }
        put_entry(out, buf, w.len);
    }
    if (fclose(out) != 0) {
        perror("close");
        return 1;
    }
    printf("%zu entries\n", n);
    return 0;
}
