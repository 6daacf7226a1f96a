/*
 * <limits.h> for the freestanding build: gcc's own one insists on
 * including the C library's, which this guest does not use.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef GUEST_LIMITS_H
#define GUEST_LIMITS_H

#define CHAR_BIT    __CHAR_BIT__
#define INT_MAX     __INT_MAX__
#define INT_MIN     (-INT_MAX - 1)
#define UINT_MAX    (INT_MAX * 2U + 1U)
#define LONG_MAX    __LONG_MAX__
#define LONG_MIN    (-LONG_MAX - 1L)
#define ULONG_MAX   (LONG_MAX * 2UL + 1UL)

#endif /* GUEST_LIMITS_H */
