/*
 * Helpers shared by the sp-mem qtests of the arm virt machine
 *
 * Copyright (c) 2026 The sp-mem-arm authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/units.h"
#include "arm-spmem-util.h"

char *spmem_tmp_dir;
char *spmem_dummy_fw;

void spmem_test_setup(const char *prefix)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *dir = g_strdup_printf("%s-XXXXXX", prefix);
    g_autofree char *fw = g_strdup_printf("%s-fw-XXXXXX", prefix);
    int fd;

    spmem_tmp_dir = g_dir_make_tmp(dir, &err);
    g_assert_no_error(err);
    fd = g_file_open_tmp(fw, &spmem_dummy_fw, &err);
    g_assert_no_error(err);
    g_assert_cmpint(ftruncate(fd, 64 * KiB), ==, 0);
    close(fd);
}

void spmem_test_cleanup(void)
{
    GDir *dir = g_dir_open(spmem_tmp_dir, 0, NULL);
    const char *name;

    while (dir && (name = g_dir_read_name(dir))) {
        g_autofree char *path = g_build_filename(spmem_tmp_dir, name, NULL);

        unlink(path);
    }
    if (dir) {
        g_dir_close(dir);
    }
    rmdir(spmem_tmp_dir);
    g_clear_pointer(&spmem_tmp_dir, g_free);
    unlink(spmem_dummy_fw);
    g_clear_pointer(&spmem_dummy_fw, g_free);
}

void spmem_child_alarm(gpointer data)
{
    alarm(SPMEM_RUN_TIMEOUT);
}

uint64_t spmem_fdt_cells(const fdt32_t *p, int cells)
{
    uint64_t v = 0;

    for (int i = 0; i < cells; i++) {
        v = (v << 32) | fdt32_to_cpu(p[i]);
    }
    return v;
}
