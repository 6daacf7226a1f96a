/*
 * libfdt_env.h includes <stdlib.h>; nothing in it is used by the parts
 * of libfdt this guest links (strtoul is only needed by fdt_overlay.o).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef GUEST_STDLIB_H
#define GUEST_STDLIB_H

#include <stddef.h>

#endif /* GUEST_STDLIB_H */
