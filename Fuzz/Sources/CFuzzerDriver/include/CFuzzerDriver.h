#ifndef LEEN_HEALTHD_FUZZER_DRIVER_H
#define LEEN_HEALTHD_FUZZER_DRIVER_H
#include <stddef.h>
#include <stdint.h>

/* libFuzzer's driver (compiler-rt, linked by -sanitize=fuzzer): parses libFuzzer's flags from argv and runs
   `callback` on each input. */
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
#endif
