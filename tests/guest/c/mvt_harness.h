/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Include the kernel's kselftest harness.  Its macros define functions with
 * parameters they do not use (the signal handler's ucontext, TEST()'s
 * variant), and TEST_F()'s wrapper keeps a local (`child`) across
 * setjmp()/fork() that GCC flags as possibly clobbered; -Wextra reports both.
 * The tests build with -Wall -Wextra -Werror, so exactly these two warnings
 * are switched off here, for harness-generated code and the tests alike.
 */
#ifndef MVT_HARNESS_H
#define MVT_HARNESS_H

#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wclobbered"
#include "kselftest_harness.h"

#endif
