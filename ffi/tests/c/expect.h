/*
 * The checks of the C test programs: each failed one prints where and why, and counts in
 * `failures`, so that one run reports every broken expectation and exits non-zero.
 */
#ifndef ARMATURE_TEST_EXPECT_H
#define ARMATURE_TEST_EXPECT_H

#include <stdio.h>

#include "armature.h"

static int failures;

#define EXPECT_STATUS(call, expected)                                                             \
    do {                                                                                          \
        ArmatureStatus got_ = (call);                                                             \
        if (got_ != (expected)) {                                                                 \
            fprintf(stderr, "FAIL %s:%d: %s gave %s, expected %s\n", __FILE__, __LINE__, #call,   \
                    armature_status_name(got_), armature_status_name(expected));                  \
            failures++;                                                                           \
        }                                                                                         \
    } while (0)

#define EXPECT(condition)                                                                         \
    do {                                                                                          \
        if (!(condition)) {                                                                       \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #condition);                  \
            failures++;                                                                           \
        }                                                                                         \
    } while (0)

#endif
