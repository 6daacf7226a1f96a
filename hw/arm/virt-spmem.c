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
#include "migration/vmstate.h"
#include "system/hostmem.h"
#include "system/device_tree.h"
#include "system/numa.h"
#include <libfdt.h>

void virt_spmem_pre_plug(VirtMachineState *vms, DeviceState *dev,
                         Error **errp)
{
    MachineState *ms = MACHINE(vms);
    SpMemDevice *spm = SP_MEM(dev);
    int nb_nodes = ms->numa_state ? ms->numa_state->num_nodes : 0;

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
    /*
     * The node first, as for sp-mem on pc and as pc-dimm does: without
     * -numa only node 0 exists.  Then what the memory device framework
     * checks (device memory, the backend) as it reserves the range.
     */
    if (spm->node && spm->node >= nb_nodes) {
        error_setg(errp, "'node' property value %" PRIu32 " exceeds the"
                   " number of NUMA nodes (%d)", spm->node, nb_nodes);
        return;
    }
    memory_device_pre_plug(MEMORY_DEVICE(dev), ms, errp);
}

/*
 * Map the range, and let the backend's RAM migrate with the device as
 * pc-dimm's plug does: without vmstate_register_ram() its RAM block has
 * no migratable name and a destination would read zeros there.
 */
void virt_spmem_plug(VirtMachineState *vms, DeviceState *dev)
{
    SpMemDevice *spm = SP_MEM(dev);

    memory_device_plug(MEMORY_DEVICE(dev), MACHINE(vms));
    vmstate_register_ram(host_memory_backend_get_memory(spm->hostmem), dev);
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

    if (fdt_path_offset(fdt, name) < 0) {
        qemu_fdt_add_subnode(fdt, name);
    }
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

/* Whether @name is the node name of one of the devices of @spmems. */
static bool spmem_is_current(GPtrArray *spmems, const char *name)
{
    for (guint i = 0; i < spmems->len; i++) {
        const SpMemDeviceInfo *si = g_ptr_array_index(spmems, i);
        g_autofree char *want = g_strdup_printf("sp-mem@%" PRIx64, si->addr);

        if (!strcmp(name, want)) {
            return true;
        }
    }
    return false;
}

/*
 * QEMU owns the sp-mem children of /reserved-memory as it owns the
 * /memory nodes.  A -dtb tree may have some, for instance a tree saved
 * with dumpdtb from a machine with sp-mem.  A node whose unit address is
 * that of a device of this machine is kept, so that properties the user
 * added to it (say "status" or a hypervisor's "xen,passthrough") reach
 * the guest; spmem_fdt_add_node() rewrites the properties QEMU owns.
 * The others describe devices that are gone or elsewhere now: drop them.
 */
static void spmem_fdt_remove_stale(void *fdt, GPtrArray *spmems)
{
    int rm = fdt_path_offset(fdt, "/reserved-memory");
    int off = rm < 0 ? rm : fdt_first_subnode(fdt, rm);

    while (off >= 0) {
        const char *name = fdt_get_name(fdt, off, NULL);
        int ret;

        if (fdt_node_check_compatible(fdt, off, "qemu,sp-mem") ||
            spmem_is_current(spmems, name)) {
            off = fdt_next_subnode(fdt, off);
            continue;
        }
        ret = fdt_del_node(fdt, off);
        if (ret < 0) {
            error_report("cannot remove sp-mem node %s from the -dtb device"
                         " tree: %s", name, fdt_strerror(ret));
            exit(1);
        }
        /* The offsets after a deleted node move: start again. */
        rm = fdt_path_offset(fdt, "/reserved-memory");
        off = fdt_first_subnode(fdt, rm);
    }
}

/* A number of @cells big-endian cells (at most 2) of a property */
static uint64_t spmem_fdt_cells(const fdt32_t *p, int cells)
{
    uint64_t v = 0;

    for (int i = 0; i < cells; i++) {
        v = (v << 32) | fdt32_to_cpu(p[i]);
    }
    return v;
}

/*
 * The #address-cells or #size-cells (@name) that the reg property of
 * node @off is read with: the nearest ancestor's, as Linux and Xen read
 * them (guest-loader's /chosen nodes rely on the root's), else @dflt.
 */
static int spmem_fdt_ncells(const void *fdt, int off, const char *name,
                            int dflt)
{
    for (int p = fdt_parent_offset(fdt, off); p >= 0;
         p = p ? fdt_parent_offset(fdt, p) : -1) {
        int len;
        const fdt32_t *v = fdt_getprop(fdt, p, name, &len);

        if (v && len == 4) {
            return fdt32_to_cpu(*v);
        }
    }
    return dflt;
}

/*
 * A boot module (a node compatible with "multiboot,module", as
 * guest-loader writes them under /chosen, or one of a -dtb tree, as for
 * a Xen dom0less domain) is a blob in RAM that the hypervisor or kernel
 * uses and may then free as RAM.  One that overlaps an sp-mem range
 * would be described both as a module and as specific-purpose memory,
 * and the blob would land in the device's backend: refuse it.
 */
static void spmem_fdt_check_modules(void *fdt, GPtrArray *spmems)
{
    int off;

    for (off = fdt_next_node(fdt, -1, NULL); off >= 0;
         off = fdt_next_node(fdt, off, NULL)) {
        int ac, sc, len;
        const fdt32_t *reg;

        if (fdt_node_check_compatible(fdt, off, "multiboot,module")) {
            continue;
        }
        ac = spmem_fdt_ncells(fdt, off, "#address-cells", 2);
        sc = spmem_fdt_ncells(fdt, off, "#size-cells", 1);
        reg = fdt_getprop(fdt, off, "reg", &len);
        if (!reg || ac < 1 || ac > 2 || sc < 1 || sc > 2) {
            continue;
        }
        for (int j = 0; j + ac + sc <= len / 4; j += ac + sc) {
            uint64_t base = spmem_fdt_cells(reg + j, ac);
            uint64_t size = spmem_fdt_cells(reg + j + ac, sc);

            for (guint i = 0; i < spmems->len; i++) {
                const SpMemDeviceInfo *si = g_ptr_array_index(spmems, i);
                char path[256];

                if (base >= si->addr + si->size || si->addr >= base + size) {
                    continue;
                }
                if (fdt_get_path(fdt, off, path, sizeof(path)) < 0) {
                    g_strlcpy(path, fdt_get_name(fdt, off, NULL), sizeof(path));
                }
                error_report("boot module %s [0x%" PRIx64 ", size 0x%" PRIx64
                             "] overlaps sp-mem%s%s%s [0x%" PRIx64 ", size 0x%"
                             PRIx64 "]", path, base, size,
                             si->id ? " '" : "", si->id ? si->id : "",
                             si->id ? "'" : "", si->addr, si->size);
                error_printf("Load boot modules (guest-loader, module nodes of"
                             " a -dtb tree) into RAM, outside every sp-mem"
                             " range.\n");
                exit(1);
            }
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

    spmem_fdt_remove_stale(fdt, spmems);
    if (!spmems->len) {
        return;
    }

    spmem_fdt_check_modules(fdt, spmems);
    spmem_fdt_reserved_memory(fdt, &acells, &scells);
    /* A new node goes first among its siblings: add by descending address. */
    for (int i = spmems->len - 1; i >= 0; i--) {
        spmem_fdt_add_node(fdt, acells, scells, g_ptr_array_index(spmems, i));
    }
    spmem_fdt_distance_map(MACHINE(qdev_get_machine()), fdt);
}

/*
 * SRAT Memory Affinity structures of the sp-mem devices on @node: one
 * Enabled + Specific-Purpose entry per device, in address order.
 * build_srat() calls this right after @node's RAM entry, so that each
 * proximity domain first appears in the SRAT in ascending order: guests
 * (Linux among them) number their nodes in the order in which proximity
 * domains first appear, so the node a guest gives a device is the one
 * the user gave it, whatever the order of the devices' addresses.
 */
void virt_spmem_build_srat_node(GArray *table_data, MachineState *ms,
                                uint32_t node)
{
    g_autoptr(MemoryDeviceInfoList) md_list = qmp_memory_device_list();
    g_autoptr(GPtrArray) spmems = spmem_infos(md_list);

    for (int i = 0; i < spmems->len; i++) {
        const SpMemDeviceInfo *si = g_ptr_array_index(spmems, i);

        if (si->node == node) {
            build_srat_memory(table_data, si->addr, si->size, si->node,
                              MEM_AFFINITY_ENABLED |
                              MEM_AFFINITY_SPECIFIC_PURPOSE);
        }
    }
}

/*
 * The hot-pluggable umbrella over device memory, split around the sp-mem
 * devices so that no sp-mem byte has two affinities (their own entries
 * come from virt_spmem_build_srat_node()).  Without sp-mem this is the
 * single umbrella entry virt always had.
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
        cur = si->addr + si->size;
    }
    if (end > cur) {
        build_srat_memory(table_data, cur, end - cur, hotplug_node,
                          MEM_AFFINITY_HOTPLUGGABLE | MEM_AFFINITY_ENABLED);
    }
}
