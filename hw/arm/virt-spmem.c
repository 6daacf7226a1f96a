/*
 * sp-mem (specific-purpose memory) on the arm virt machine
 *
 * sp-mem devices are cold-plugged into the machine's device memory region
 * by the memory device framework.  Guests learn about them only from the
 * firmware descriptions this file produces.
 *
 * Copyright (c) 2026 The sp-mem-arm authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "qapi/error.h"
#include "hw/arm/virt.h"
#include "hw/arm/virt-spmem.h"
#include "hw/acpi/aml-build.h"
#include "hw/boards.h"
#include "hw/mem/memory-device.h"
#include "hw/mem/sp-mem.h"
#include "system/device_tree.h"
#include "system/numa.h"
#include <libfdt.h>

void virt_spmem_pre_plug(VirtMachineState *vms, DeviceState *dev,
                         Error **errp)
{
    /*
     * With MTE, only RAM has allocation tag storage.  A guest that turns
     * the range into tagged memory (for instance by onlining it as system
     * RAM) would silently lose its tags, so refuse the combination, as
     * virt does for DIMMs.
     */
    if (vms->mte) {
        error_setg(errp, "sp-mem is not supported with 'mte=on': the device"
                   " memory has no allocation tag storage");
        return;
    }
    sp_mem_pre_plug(SP_MEM(dev), MACHINE(vms), errp);
}

void virt_spmem_plug(VirtMachineState *vms, DeviceState *dev)
{
    sp_mem_plug(SP_MEM(dev), MACHINE(vms));
}

/* The sp-mem entries of @list, which is sorted by address. */
static GPtrArray *spmem_infos(MemoryDeviceInfoList *list)
{
    GPtrArray *spmems = g_ptr_array_new();

    for (MemoryDeviceInfoList *m = list; m; m = m->next) {
        if (m->value->type == MEMORY_DEVICE_INFO_KIND_SP_MEM) {
            g_ptr_array_add(spmems, m->value->u.sp_mem.data);
        }
    }
    return spmems;
}

/*
 * "qemu,sp-mem" names the device; "special-purpose" is the marker that
 * firmware hand-off trees (EDK2 Universal Payload) already use for
 * specific-purpose memory.
 */
static const char spmem_compat[] = "qemu,sp-mem\0special-purpose";

static void spmem_fdt_reserved_memory(void *fdt, int *acells, int *scells)
{
    int off = fdt_path_offset(fdt, "/reserved-memory");

    if (off < 0) {
        qemu_fdt_add_subnode(fdt, "/reserved-memory");
        qemu_fdt_setprop_cell(fdt, "/reserved-memory", "#address-cells", 2);
        qemu_fdt_setprop_cell(fdt, "/reserved-memory", "#size-cells", 2);
        qemu_fdt_setprop(fdt, "/reserved-memory", "ranges", NULL, 0);
        off = fdt_path_offset(fdt, "/reserved-memory");
    }
    *acells = fdt_address_cells(fdt, off);
    *scells = fdt_size_cells(fdt, off);
}

static void spmem_fdt_add_node(void *fdt, int acells, int scells,
                               const SpMemDeviceInfo *si)
{
    g_autofree char *name = g_strdup_printf("/reserved-memory/sp-mem@%"
                                            PRIx64, si->addr);

    qemu_fdt_add_subnode(fdt, name);
    qemu_fdt_setprop(fdt, name, "compatible", spmem_compat,
                     sizeof(spmem_compat));
    if (qemu_fdt_setprop_sized_cells(fdt, name, "reg", acells, si->addr,
                                     scells, si->size) < 0) {
        /* QEMU's own tree has 2 and 2: this is a -dtb tree. */
        error_report("sp-mem%s%s%s [0x%" PRIx64 ", size 0x%" PRIx64 "] does"
                     " not fit #address-cells = <%d> and #size-cells = <%d>"
                     " of /reserved-memory in the -dtb device tree",
                     si->id ? " '" : "", si->id ? si->id : "",
                     si->id ? "'" : "", si->addr, si->size, acells, scells);
        error_printf("Give /reserved-memory #address-cells = <2> and"
                     " #size-cells = <2> in the -dtb tree.\n");
        exit(1);
    }
    qemu_fdt_setprop(fdt, name, "no-map", NULL, 0);
    qemu_fdt_setprop_cell(fdt, name, "numa-node-id", si->node);
}

/*
 * A node that has only sp-mem (no CPU, no RAM) is known to a device-tree
 * guest only through the distance map, so make sure there is one.
 */
static void spmem_fdt_distance_map(MachineState *ms, void *fdt)
{
    const NumaState *numa = ms->numa_state;
    const int n = numa->num_nodes;
    g_autofree uint32_t *matrix = g_new(uint32_t, n * n * 3);
    uint32_t *p = matrix;

    if (fdt_path_offset(fdt, "/distance-map") >= 0) {
        return;
    }
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < n; j++) {
            uint32_t d;

            if (numa->have_numa_distance) {
                d = numa->nodes[i].distance[j];
            } else {
                d = i == j ? NUMA_DISTANCE_MIN : NUMA_DISTANCE_DEFAULT;
            }
            *p++ = cpu_to_be32(i);
            *p++ = cpu_to_be32(j);
            *p++ = cpu_to_be32(d);
        }
    }
    qemu_fdt_add_subnode(fdt, "/distance-map");
    qemu_fdt_setprop_string(fdt, "/distance-map", "compatible",
                            "numa-distance-map-v1");
    qemu_fdt_setprop(fdt, "/distance-map", "distance-matrix", matrix,
                     n * n * 3 * sizeof(uint32_t));
}

/*
 * QEMU owns the sp-mem children of /reserved-memory as it owns the
 * /memory nodes.  A -dtb tree may have some, for instance a tree saved
 * with dumpdtb from a machine with sp-mem: they describe devices that
 * may be gone or elsewhere now, and the nodes added for the devices of
 * this machine would collide with them.  Drop them all.
 */
static void spmem_fdt_remove_stale(void *fdt)
{
    for (;;) {
        int rm = fdt_path_offset(fdt, "/reserved-memory");
        int off, ret;

        if (rm < 0) {
            return;
        }
        fdt_for_each_subnode(off, fdt, rm) {
            if (!fdt_node_check_compatible(fdt, off, "qemu,sp-mem")) {
                break;
            }
        }
        if (off < 0) {
            return;
        }
        ret = fdt_del_node(fdt, off);
        if (ret < 0) {
            error_report("cannot remove sp-mem node %s from the -dtb device"
                         " tree: %s", fdt_get_name(fdt, off, NULL),
                         fdt_strerror(ret));
            exit(1);
        }
    }
}

/*
 * Describe every sp-mem device as a /reserved-memory child.  Runs on the
 * final tree (also a -dtb one), after the /memory nodes were rebuilt,
 * which never cover device memory.  Without sp-mem devices only the
 * sp-mem nodes a -dtb tree may have are removed; a tree without them is
 * untouched.
 */
void virt_spmem_modify_dtb(const struct arm_boot_info *binfo, void *fdt)
{
    g_autoptr(MemoryDeviceInfoList) md_list = qmp_memory_device_list();
    g_autoptr(GPtrArray) spmems = spmem_infos(md_list);
    int acells, scells;

    spmem_fdt_remove_stale(fdt);
    if (!spmems->len) {
        return;
    }

    spmem_fdt_reserved_memory(fdt, &acells, &scells);
    /* A new node goes first among its siblings: add by descending address. */
    for (int i = spmems->len - 1; i >= 0; i--) {
        spmem_fdt_add_node(fdt, acells, scells, g_ptr_array_index(spmems, i));
    }
    spmem_fdt_distance_map(MACHINE(qdev_get_machine()), fdt);
}

/*
 * SRAT Memory Affinity structures for device memory: one Enabled +
 * Specific-Purpose entry per sp-mem device at its node, and the
 * hot-pluggable umbrella over the rest of device memory, split so that
 * no sp-mem byte has two affinities.  Without sp-mem this is the single
 * umbrella entry virt always had.
 */
void virt_spmem_build_srat(GArray *table_data, MachineState *ms)
{
    g_autoptr(MemoryDeviceInfoList) md_list = qmp_memory_device_list();
    g_autoptr(GPtrArray) spmems = spmem_infos(md_list);
    const int hotplug_node = ms->numa_state->num_nodes - 1;
    uint64_t cur = ms->device_memory->base;
    const uint64_t end = cur + memory_region_size(&ms->device_memory->mr);

    for (int i = 0; i < spmems->len; i++) {
        const SpMemDeviceInfo *si = g_ptr_array_index(spmems, i);

        if (si->addr > cur) {
            build_srat_memory(table_data, cur, si->addr - cur, hotplug_node,
                              MEM_AFFINITY_HOTPLUGGABLE |
                              MEM_AFFINITY_ENABLED);
        }
        build_srat_memory(table_data, si->addr, si->size, si->node,
                          MEM_AFFINITY_ENABLED |
                          MEM_AFFINITY_SPECIFIC_PURPOSE);
        cur = si->addr + si->size;
    }
    if (end > cur) {
        build_srat_memory(table_data, cur, end - cur, hotplug_node,
                          MEM_AFFINITY_HOTPLUGGABLE | MEM_AFFINITY_ENABLED);
    }
}
