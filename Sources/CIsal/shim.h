#ifndef LEEN_HEALTHD_CISAL_SHIM_H
#define LEEN_HEALTHD_CISAL_SHIM_H
#include <isa-l/crc.h>
#include <isa-l/igzip_lib.h>

/* The level-1 buffer's suggested size: a macro expression, which Swift does not import. */
static inline uint32_t leen_isal_level1_buffer_size(void) { return ISAL_DEF_LVL1_DEFAULT; }

/* After isal_deflate_init: raw deflate (no wrapper) at level 1, every input ending with a sync flush. The
   caller writes the gzip header and trailer itself (see HealthdMetrics/Deflate.swift). isal_deflate_reset
   keeps these settings. */
static inline void leen_isal_configure_runs(struct isal_zstream *stream, uint8_t *level_buffer, uint32_t size) {
    stream->level = 1;
    stream->level_buf = level_buffer;
    stream->level_buf_size = size;
    stream->flush = SYNC_FLUSH;
    stream->end_of_stream = 0;
    stream->gzip_flag = IGZIP_DEFLATE;
    stream->hist_bits = 0;
}

/* As above, at level 0 with a Huffman code made beforehand (isal_create_hufftables) in place of one made
   for each run; `tables` must outlive the stream. Returns isal_deflate_set_hufftables' result. */
static inline int leen_isal_configure_coded_runs(struct isal_zstream *stream, struct isal_hufftables *tables) {
    stream->level = 0;
    stream->level_buf = 0;
    stream->level_buf_size = 0;
    stream->flush = SYNC_FLUSH;
    stream->end_of_stream = 0;
    stream->gzip_flag = IGZIP_DEFLATE;
    stream->hist_bits = 0;
    return isal_deflate_set_hufftables(stream, tables, IGZIP_HUFFTABLE_CUSTOM);
}
#endif
