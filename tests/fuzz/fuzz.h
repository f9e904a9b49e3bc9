/* SPDX-License-Identifier: MIT */
/* fuzz.h — what every harness defines (libFuzzer's entry point) and the one
 * check they share: a broken invariant aborts with a message, which libFuzzer
 * reports as a crash with the input that caused it. */
#ifndef SEQTICK_FUZZ_H
#define SEQTICK_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional: once, before the first input (libFuzzer's, or driver.c's). */
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FUZZ_CHECK(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant broken: %s: ", __FILE__, __LINE__, #cond);           \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif
