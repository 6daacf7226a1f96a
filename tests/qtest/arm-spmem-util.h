/*
 * Helpers shared by the sp-mem qtests of the arm virt machine
 *
 * Copyright (c) 2026 The sp-mem-arm authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef TESTS_QTEST_ARM_SPMEM_UTIL_H
#define TESTS_QTEST_ARM_SPMEM_UTIL_H

#include <libfdt.h>

/* Seconds a QEMU process spawned by a test may run before SIGALRM. */
#define SPMEM_RUN_TIMEOUT 60

/* A private temporary directory, removed with its files at the end */
extern char *spmem_tmp_dir;
/* Any file loaded as -bios makes virt create its ACPI GED: this one. */
extern char *spmem_dummy_fw;

/* Create spmem_tmp_dir and spmem_dummy_fw; @prefix names them. */
void spmem_test_setup(const char *prefix);
void spmem_test_cleanup(void);

/* g_spawn child setup: arm the SPMEM_RUN_TIMEOUT alarm. */
void spmem_child_alarm(gpointer data);

/* A number of @cells big-endian 32-bit cells of a device tree property */
uint64_t spmem_fdt_cells(const fdt32_t *p, int cells);

#endif
