/*
 * Seeded random machine configurations for sp-mem on the arm virt machine
 *
 * Every configuration is a random mix of sp-mem devices (count, sizes,
 * backends, nodes, explicit or automatic addresses, sometimes invalid),
 * NUMA nodes and distances, RAM and maxmem, other memory devices and
 * machine options.  QEMU must either refuse it cleanly (exit status 1 and
 * an error message that names an option) or start, and then the device
 * tree and the ACPI SRAT the guest would get must describe every sp-mem
 * range exactly once, at its node, as query-memory-devices reports it.
 *
 * SPMEM_FUZZ_SEED (default 0x53504d45) and SPMEM_FUZZ_COUNT (default 60)
 * choose the configurations; SPMEM_FUZZ_INDEX=N runs only configuration
 * N of the seed, to replay a failure.
 *
 * Copyright (c) 2026 The sp-mem-arm authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "qemu/cutils.h"
#include "qemu/units.h"
#include "libqtest.h"
#include "libqos/fw_cfg.h"
#include "standard-headers/linux/qemu_fw_cfg.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include <glib-unix.h>
#include <libfdt.h>
#include "arm-spmem-util.h"

#define DEFAULT_SEED    0x53504d45u
#define DEFAULT_COUNT   60

/* virt's memory map */
#define RAM_BASE        0x40000000ULL
#define FW_CFG_DATA     0x09020000ULL
#define FW_CFG_CTL      (FW_CFG_DATA + 8)
#define FW_CFG_DMA      (FW_CFG_DATA + 16)
/* Guest RAM the fw_cfg DMA transfers go through (RAM is at least 128M). */
#define DMA_DESC        (RAM_BASE + 64 * MiB)
#define DMA_BUF         (DMA_DESC + 4 * KiB)
#define DMA_CHUNK       (32 * MiB)

#define MAX_NODES       8
#define MAX_SPMEM       40
#define MAX_DIMMS       2

/* SRAT Memory Affinity flags */
#define SRAT_ENABLED        0x1
#define SRAT_HOTPLUGGABLE   0x2
#define SRAT_NON_VOLATILE   0x4
#define SRAT_SPECIFIC       0x8

#define LOADER_ENTRY_SIZE   128
#define LOADER_FILESZ       56
#define LOADER_ADD_CHECKSUM 3

typedef struct FuzzDev {
    char *memdev;           /* its own backend */
    uint64_t size;
    uint32_t node;
    uint64_t addr;          /* 0: the memory device framework places it */
} FuzzDev;

typedef struct FuzzConfig {
    int index;
    const char *machine;    /* "virt" or an older virt */
    GString *mopts;         /* ",opt=val..." for -M */
    GString *args;          /* the rest of the command line */
    uint64_t ram_size;
    uint64_t maxmem;        /* ram_size when there is no maxmem */
    uint64_t slots;
    bool acpi_off;
    int nodes;              /* -numa node options (0: none) */
    uint64_t node_mem[MAX_NODES];
    bool user_dist;
    uint32_t dist[MAX_NODES][MAX_NODES];
    FuzzDev devs[MAX_SPMEM];
    int ndevs;              /* -device sp-mem options */
    int others;             /* other memory devices */
    const char *must_refuse;    /* why QEMU must refuse it, or NULL */
    const char *unsure;     /* why the model cannot tell, or NULL */
} FuzzConfig;

typedef struct MemRange {
    uint64_t addr, size;
    uint32_t node;
} MemRange;

/* What the verification of one started machine looked at */
typedef struct VerifyStats {
    int spmems;             /* sp-mem ranges checked */
    int others;             /* other memory devices */
    int srat;               /* 1 if an SRAT was checked */
    int dist;               /* 1 if user distances were checked */
} VerifyStats;

typedef struct FuzzTotals {
    int verified, refused, failed;
    int predicted_start, predicted_refusal;
    int spmems, max_spmems, others, srats, dists;
    GHashTable *messages;   /* refusal message -> count */
} FuzzTotals;

static bool have_nvdimm, have_virtio_mem;
static const char *older_virt[] = { "virt-8.0", "virt-9.2", "virt-10.0" };
static bool have_older_virt[ARRAY_SIZE(older_virt)];

/* Random helpers: all randomness of a configuration comes from @r. */
static bool chance(GRand *r, int percent)
{
    return g_rand_int_range(r, 0, 100) < percent;
}

static int pick(GRand *r, int lo, int hi)
{
    return g_rand_int_range(r, lo, hi + 1);
}

static void set_must_refuse(FuzzConfig *c, const char *why)
{
    if (!c->must_refuse) {
        c->must_refuse = why;
    }
}

static void set_unsure(FuzzConfig *c, const char *why)
{
    if (!c->unsure) {
        c->unsure = why;
    }
}

/* A size in MiB-multiples of 2 MiB, mostly small. */
static uint64_t pick_spmem_size(GRand *r)
{
    int p = pick(r, 0, 99);

    if (p < 60) {
        return pick(r, 1, 64) * 2 * MiB;
    } else if (p < 90) {
        return pick(r, 65, 512) * 2 * MiB;
    }
    return pick(r, 1, 3) * GiB;
}

static void shuffle(GRand *r, GPtrArray *a)
{
    for (int i = a->len - 1; i > 0; i--) {
        int j = pick(r, 0, i);
        gpointer t = a->pdata[i];

        a->pdata[i] = a->pdata[j];
        a->pdata[j] = t;
    }
}

/* The backend of an sp-mem device: RAM, memfd or a file. */
static void add_backend(FuzzConfig *c, GRand *r, GString *objs,
                        const char *id, uint64_t size)
{
    int kind = pick(r, 0, 9);

    if (kind < 7) {
        g_string_append_printf(objs, "-object memory-backend-ram,id=%s,"
                               "size=%" PRIu64 "%s ", id, size,
                               size > GiB ? ",reserve=off" : "");
    } else if (kind < 9) {
        g_string_append_printf(objs, "-object memory-backend-memfd,id=%s,"
                               "size=%" PRIu64 " ", id, size);
    } else {
        g_string_append_printf(objs, "-object memory-backend-file,id=%s,"
                               "size=%" PRIu64 ",mem-path=%s,share=on ",
                               id, size, spmem_tmp_dir);
    }
}

/*
 * A faulty configuration gets exactly one of these, so that refusals are
 * spread over all of them and the rest of the configuration stays valid.
 */
typedef enum Fault {
    F_NONE,
    F_GIC_HOST,         /* gic-version=host without KVM */
    F_NUMA_SUM,         /* node memory does not add up to the RAM */
    F_NUMA_GAP,         /* a node ID is missing */
    F_DIST_LOW,         /* a distance below 10 */
    F_DIST_MISSING,     /* a pair of nodes without distance */
    F_DIST_ONE_WAY,     /* asymmetric distances, a pair given one way */
    F_NO_NUMA,          /* no -numa at all */
    F_NO_MAXMEM,        /* -m without maxmem */
    F_SLOTS_NO_MAXMEM,  /* -m with slots but without maxmem */
    F_MAXMEM_BELOW_RAM,
    F_MAXMEM_SMALL,     /* less device memory than the devices need */
    F_DIMM_NO_GED,      /* pc-dimm without the firmware that brings the GED */
    F_DIMM_NO_SLOTS,
    F_SIZE_ZERO,
    F_SIZE_ODD,         /* a backend size not a multiple of 2 MiB */
    F_ADDR_MISALIGNED,
    F_ADDR_RAM,
    F_ADDR_END,         /* just past device memory */
    F_ADDR_TOP,         /* at the top of the 64-bit address space */
    F_ADDR_PREVIOUS,    /* the address of the previous device */
    F_ID_DUP,
    F_MEMDEV_MISSING,
    F_MEMDEV_NOSUCH,
    F_MEMDEV_IN_USE,    /* the backend of the previous device */
    F_MEMDEV_NUMA,      /* the backend of a NUMA node */
    F_NODE_BEYOND,      /* a node number that is not configured */
    F_NODE_MAX,         /* 4294967295 */
    F_NODE_NEGATIVE,
    F_NODE_WORD,
    F_COUNT
} Fault;

/*
 * Build configuration @c from @r.  Alongside the command line the
 * generator keeps a model of what it asked for: the sp-mem devices that
 * QEMU must report if it starts, and whether the configuration is
 * certainly invalid (must_refuse) or valid by construction (neither
 * must_refuse nor unsure).
 */
static void gen_config(FuzzConfig *c, GRand *r)
{
    g_autoptr(GString) objs = g_string_new("");
    g_autoptr(GPtrArray) devices = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GPtrArray) tail = g_ptr_array_new_with_free_func(g_free);
    const Fault fault = chance(r, 35) ? pick(r, F_NONE + 1, F_COUNT - 1) :
                                        F_NONE;
    uint64_t need = 0, slack = 0, dm_base, dm_size, cur;
    uint64_t dimm_size[MAX_DIMMS], vmem_size = 0;
    int smp = pick(r, 1, 4), ndimm = 0, nnv = 0, mode, k, target;
    bool firmware, aarch64 = true, have_m = true;
    bool nvdimm_on = false, small = false;
    int cpu_node[4];

    /* Machine type and options */
    c->machine = "virt";
    if (chance(r, 5)) {
        k = pick(r, 0, ARRAY_SIZE(older_virt) - 1);
        if (have_older_virt[k]) {
            c->machine = older_virt[k];
        }
    }
    k = pick(r, 0, 9);
    if (k == 0) {
        g_string_append(c->mopts, ",acpi=off");
        c->acpi_off = true;
    } else if (k < 3) {
        g_string_append(c->mopts, ",acpi=on");
    }
    if (chance(r, 8)) {
        /* Below 4 GiB: mostly a machine small enough to fit. */
        g_string_append(c->mopts, ",highmem=off");
        set_unsure(c, "highmem=off");
        small = chance(r, 75);
    }
    k = pick(r, 0, 99);
    if (fault == F_GIC_HOST) {
        g_string_append(c->mopts, ",gic-version=host");
        set_must_refuse(c, "gic-version=host without KVM");
    } else if (k < 8) {
        g_string_append(c->mopts, ",gic-version=2");
    } else if (k < 16) {
        g_string_append(c->mopts, ",gic-version=3");
    } else if (k < 22) {
        g_string_append(c->mopts, ",gic-version=max");
    }
    if (chance(r, 10)) {
        g_string_append(c->mopts, ",virtualization=on");
    }
    if (chance(r, 1)) {
        g_string_append(c->mopts, ",mte=on");
        set_unsure(c, "mte=on");
    }
    k = pick(r, 0, 99);
    if (k < 15) {
        g_string_append(c->args, "-cpu cortex-a57 ");
    } else if (k < 30) {
        g_string_append(c->args, "-cpu max ");
    } else if (k < 31) {
        /* not a virt CPU with the qtest accelerator */
        g_string_append(c->args, "-cpu cortex-a15 ");
        aarch64 = false;
        set_unsure(c, "32-bit CPU");
    }
    g_string_append_printf(c->args, "-smp %d ", smp);

    /* How many sp-mem devices, and which one a device fault hits */
    k = pick(r, 0, 99);
    c->ndevs = k < 8 ? 0 : k < 96 ? pick(r, 1, 8) : pick(r, 9, MAX_SPMEM);
    if (small) {
        c->ndevs = MIN(c->ndevs, 4);
    }
    target = c->ndevs ? pick(r, 0, c->ndevs - 1) : -1;
    if (fault == F_ADDR_PREVIOUS || fault == F_ID_DUP ||
        fault == F_MEMDEV_IN_USE) {
        /* These need a previous device. */
        target = c->ndevs > 1 ? pick(r, 1, c->ndevs - 1) : -1;
    }

    /* Other memory devices: pc-dimm, nvdimm, virtio-mem-pci */
    if (chance(r, 20) || fault == F_DIMM_NO_GED || fault == F_DIMM_NO_SLOTS) {
        ndimm = small ? 1 : pick(r, 1, MAX_DIMMS);
        for (int i = 0; i < ndimm; i++) {
            dimm_size[i] = pick(r, 1, small ? 2 : 8) * 128 * MiB;
            need += dimm_size[i];
        }
    }
    if (have_nvdimm && chance(r, 6)) {
        nnv = 1;
        nvdimm_on = true;
        need += 256 * MiB;
    } else if (have_nvdimm && chance(r, 2)) {
        nvdimm_on = true;
    }
    if (nvdimm_on) {
        g_string_append(c->mopts, ",nvdimm=on");
    }
    if (have_virtio_mem && chance(r, 8)) {
        vmem_size = pick(r, 1, 4) * 128 * MiB;
        need += vmem_size;
        /* aligned to its block size: leave room for that */
        slack = 2 * MiB;
    }
    c->others = ndimm + nnv + (vmem_size ? 1 : 0);

    /* NUMA nodes, the RAM and how it is split over the nodes */
    if (fault == F_NO_NUMA || (!c->ndevs && chance(r, 15))) {
        c->nodes = 0;
    } else {
        c->nodes = pick(r, 1, 6);
    }
    if (c->ndevs && !c->nodes) {
        set_must_refuse(c, "sp-mem without NUMA nodes");
    }
    k = pick(r, 0, small ? 74 : 99);
    c->ram_size = (k < 10 ? 128 : k < 20 ? 256 : k < 40 ? 512 :
                   k < 75 ? 1024 : k < 85 ? 1536 : k < 95 ? 2048 : 3072) * MiB;
    if (chance(r, 3)) {
        have_m = false;
        c->ram_size = 128 * MiB;
    }
    if (c->nodes) {
        uint64_t units = c->ram_size / (64 * MiB);
        int with_ram = MIN(pick(r, 1, c->nodes), units);
        int first = pick(r, 0, c->nodes - with_ram);

        /* with_ram consecutive nodes from first get at least 64M each */
        for (int i = 0; i < with_ram; i++) {
            c->node_mem[first + i] = 64 * MiB;
        }
        for (uint64_t u = with_ram; u < units; u++) {
            c->node_mem[first + pick(r, 0, with_ram - 1)] += 64 * MiB;
        }
        if (fault == F_NUMA_SUM) {
            c->node_mem[first] += 64 * MiB;
            set_must_refuse(c, "NUMA memory does not add up to RAM");
        }
        for (int i = 0; i < smp; i++) {
            cpu_node[i] = chance(r, 60) ? pick(r, 0, c->nodes - 1) : -1;
        }
        for (int i = 1; i < smp; i++) {
            if ((cpu_node[i] < 0) != (cpu_node[0] < 0)) {
                set_unsure(c, "some CPUs in no node");
            }
        }
        for (int i = 0; i < c->nodes; i++) {
            int id = i;

            if (fault == F_NUMA_GAP && i == c->nodes - 1) {
                id = i + 1;
                set_must_refuse(c, "NUMA node ID missing");
            }
            if (c->node_mem[i]) {
                g_string_append_printf(objs, "-object memory-backend-ram,"
                                       "id=ram%d,size=%" PRIu64 " ", i,
                                       c->node_mem[i]);
            }
            g_string_append_printf(c->args, "-numa node,nodeid=%d", id);
            if (c->node_mem[i]) {
                g_string_append_printf(c->args, ",memdev=ram%d", i);
            }
            for (int j = 0; j < smp; j++) {
                if (cpu_node[j] == i) {
                    g_string_append_printf(c->args, ",cpus=%d", j);
                }
            }
            g_string_append_c(c->args, ' ');
        }
    }
    if (c->nodes > 1 && (chance(r, 25) || fault == F_DIST_LOW ||
                         fault == F_DIST_MISSING ||
                         fault == F_DIST_ONE_WAY)) {
        /* Every pair, one way (QEMU mirrors it) or both ways. */
        const bool both = fault == F_DIST_ONE_WAY || chance(r, 30);
        const int pairs = c->nodes * (c->nodes - 1) / 2;
        const int bad = pick(r, 0, pairs - 1);
        int p = 0;

        for (int i = 0; i < c->nodes; i++) {
            c->dist[i][i] = 10;
        }
        for (int i = 0; i < c->nodes; i++) {
            for (int j = i + 1; j < c->nodes; j++, p++) {
                c->dist[i][j] = pick(r, 11, 60);
                c->dist[j][i] = both ? pick(r, 11, 60) : c->dist[i][j];
                if (fault == F_DIST_ONE_WAY) {
                    /* every other pair asymmetric, this one one way */
                    c->dist[j][i] = c->dist[i][j] + (p != bad);
                }
                if (fault == F_DIST_MISSING && p == bad && pairs > 1) {
                    set_must_refuse(c, "a NUMA distance is missing");
                    continue;
                }
                if (fault == F_DIST_LOW && p == bad) {
                    c->dist[i][j] = 9;
                    set_must_refuse(c, "NUMA distance below 10");
                }
                g_string_append_printf(c->args, "-numa dist,src=%d,dst=%d,"
                                       "val=%u ", i, j, c->dist[i][j]);
                if (both && !(fault == F_DIST_ONE_WAY && p == bad)) {
                    g_string_append_printf(c->args, "-numa dist,src=%d,"
                                           "dst=%d,val=%u ", j, i,
                                           c->dist[j][i]);
                }
            }
        }
        if (fault == F_DIST_ONE_WAY && pairs > 1) {
            set_must_refuse(c, "asymmetric distances, a pair given one way");
        }
        c->user_dist = true;
    }

    /* Firmware: any -bios file makes virt create the ACPI GED. */
    /* pc-dimm needs the GED; a cold-plugged nvdimm does not. */
    firmware = ndimm ? fault != F_DIMM_NO_GED : chance(r, 15);
    if (ndimm) {
        if (!firmware || c->acpi_off) {
            set_must_refuse(c, "pc-dimm without the ACPI GED");
        } else if (!aarch64) {
            set_unsure(c, "pc-dimm with a 32-bit CPU");
        }
    }
    if (firmware) {
        g_string_append_printf(c->args, "-bios %s ", spmem_dummy_fw);
        /*
         * Only with the GED: QEMU 10.2.2 dereferences a NULL GED when it
         * builds the HEST for ras=on without one (-M virt,ras=on alone
         * crashes the unpatched emulator too).
         */
        if (aarch64 && !c->acpi_off && chance(r, 8)) {
            g_string_append(c->mopts, ",ras=on");
        }
    }

    /* The sp-mem backends */
    for (int i = 0; i < c->ndevs; i++) {
        FuzzDev *d = &c->devs[i];

        d->memdev = g_strdup_printf("m%d", i);
        d->size = small ? pick(r, 1, 64) * 2 * MiB : pick_spmem_size(r);
        if (fault == F_SIZE_ZERO && i == target) {
            d->size = 0;
            set_must_refuse(c, "backend size 0");
        } else if (fault == F_SIZE_ODD && i == target) {
            d->size = chance(r, 50) ? MiB + 4 * KiB : 3 * MiB;
            set_unsure(c, "backend size not a multiple of 2 MiB");
        }
        add_backend(c, r, objs, d->memdev, d->size);
        need += d->size;
        d->node = c->nodes ? pick(r, 0, c->nodes - 1) : 0;
    }

    /* RAM, maxmem and slots */
    if (ndimm + nnv) {
        c->slots = fault == F_DIMM_NO_SLOTS ? 0 :
                   ndimm + nnv + (small ? 0 : pick(r, 0, 2));
    } else if (!small && chance(r, 15)) {
        c->slots = pick(r, 1, 4);
    }
    c->maxmem = c->ram_size + need + slack;
    k = pick(r, 0, 9);
    if (fault == F_NO_MAXMEM) {
        c->maxmem = c->ram_size;
        c->slots = 0;
    } else if (fault == F_MAXMEM_BELOW_RAM) {
        c->maxmem = c->ram_size - 64 * MiB;
        set_must_refuse(c, "maxmem below the RAM size");
    } else if (fault == F_MAXMEM_SMALL && need > 2 * MiB) {
        c->maxmem -= pick(r, 1, need / (2 * MiB)) * 2 * MiB;
        c->slots = 0;
    } else if (k < 4) {
        c->maxmem += pick(r, 0, 16) * 2 * MiB;
    } else if (k < 7) {
        c->maxmem += pick(r, 0, small ? 1 : 4) * GiB;
    } else if (k < 8) {
        c->maxmem = c->ram_size + pick(r, 1, 32) * 256 * MiB;
        set_unsure(c, "maxmem chosen at random");
    }
    /* The command line gives it in MiB. */
    c->maxmem = ROUND_UP(c->maxmem, MiB);
    if (!have_m) {
        c->maxmem = c->ram_size;
        c->slots = 0;
    } else if (fault == F_SLOTS_NO_MAXMEM) {
        g_string_append_printf(c->args, "-m %" PRIu64 "M,slots=2 ",
                               c->ram_size / MiB);
        set_must_refuse(c, "slots without maxmem");
    } else if (c->maxmem == c->ram_size && !c->slots) {
        g_string_append_printf(c->args, "-m %" PRIu64 "M ",
                               c->ram_size / MiB);
    } else {
        g_string_append_printf(c->args, "-m %" PRIu64 "M", c->ram_size / MiB);
        if (c->slots) {
            g_string_append_printf(c->args, ",slots=%" PRIu64, c->slots);
        }
        g_string_append_printf(c->args, ",maxmem=%" PRIu64 "M ",
                               c->maxmem / MiB);
    }
    if (ndimm + nnv > c->slots) {
        set_must_refuse(c, "more DIMMs than slots");
    }
    if (have_m && c->slots && c->maxmem == c->ram_size &&
        fault != F_SLOTS_NO_MAXMEM) {
        set_must_refuse(c, "slots with maxmem equal to the RAM size");
    }
    if (c->maxmem < c->ram_size) {
        dm_size = 0;
    } else {
        dm_size = c->maxmem - c->ram_size + c->slots * GiB;
    }
    dm_base = ROUND_UP(RAM_BASE + c->ram_size, GiB);
    if ((c->ndevs || c->others) && !dm_size) {
        set_must_refuse(c, "memory devices without device memory");
    }
    if (need > dm_size) {
        set_must_refuse(c, "device memory too small");
    } else if (need + slack > dm_size) {
        set_unsure(c, "device memory just too small");
    }

    /*
     * Placement: all automatic, all explicit one after the other, or a
     * random mix (which may overlap).
     */
    mode = pick(r, 0, 3);    /* 0, 1: automatic, 2: explicit, 3: mixed */
    if (mode == 3) {
        set_unsure(c, "mixed placement");
    }
    if (mode == 2 && c->others) {
        /* Automatic placement of the others may take a chosen range. */
        set_unsure(c, "other memory devices with explicit sp-mem addresses");
    }
    cur = dm_base;
    for (int i = 0; i < c->ndevs; i++) {
        FuzzDev *d = &c->devs[i];
        uint64_t room = dm_size > d->size ? dm_size - d->size : 0;

        if (mode == 2) {
            cur += pick(r, 0, 3) * 2 * MiB;
            d->addr = cur;
            cur += ROUND_UP(d->size, 2 * MiB);
            if (cur > dm_base + dm_size) {
                set_unsure(c, "explicit addresses beyond device memory");
            }
        } else if (mode == 3 && chance(r, 50)) {
            d->addr = dm_base + pick(r, 0, room / (2 * MiB)) * 2 * MiB;
        }
        if (i != target) {
            continue;
        }
        switch (fault) {
        case F_ADDR_MISALIGNED:
            d->addr = (d->addr ?: dm_base) + 0x800;
            set_must_refuse(c, "misaligned address");
            break;
        case F_ADDR_RAM:
            d->addr = RAM_BASE;
            set_must_refuse(c, "address in RAM");
            break;
        case F_ADDR_END:
            d->addr = dm_base + dm_size;
            set_must_refuse(c, "address at the end of device memory");
            break;
        case F_ADDR_TOP:
            d->addr = 0xffffffffffe00000ULL;
            set_must_refuse(c, "address at the top of the address space");
            break;
        case F_ADDR_PREVIOUS:
            if (!c->devs[i - 1].addr) {
                c->devs[i - 1].addr = dm_base;
            }
            d->addr = c->devs[i - 1].addr;
            set_must_refuse(c, "address of the previous device");
            break;
        default:
            break;
        }
    }

    /* The -device options */
    for (int i = 0, last_id = -1; i < c->ndevs; i++) {
        FuzzDev *d = &c->devs[i];
        g_autoptr(GString) s = g_string_new("-device sp-mem");
        const Fault f = i == target ? fault : F_NONE;

        if (f == F_ID_DUP && last_id >= 0) {
            g_string_append_printf(s, ",id=sp%d", last_id);
            set_must_refuse(c, "duplicate id");
        } else if (chance(r, 85)) {
            g_string_append_printf(s, ",id=sp%d", i);
            last_id = i;
        }
        switch (f) {
        case F_MEMDEV_MISSING:
            set_must_refuse(c, "no memdev");
            break;
        case F_MEMDEV_NOSUCH:
            g_string_append(s, ",memdev=nosuch");
            set_must_refuse(c, "memdev does not exist");
            break;
        case F_MEMDEV_IN_USE:
            g_string_append_printf(s, ",memdev=%s", c->devs[i - 1].memdev);
            set_must_refuse(c, "memdev in use");
            break;
        case F_MEMDEV_NUMA:
            k = 0;
            while (k < c->nodes && !c->node_mem[k]) {
                k++;
            }
            if (k < c->nodes) {
                g_string_append_printf(s, ",memdev=ram%d", k);
                set_must_refuse(c, "memdev in use by a NUMA node");
                break;
            }
            /* fall through */
        default:
            g_string_append_printf(s, ",memdev=%s", d->memdev);
        }
        switch (f) {
        case F_NODE_BEYOND:
            d->node = c->nodes + pick(r, 0, 3);
            g_string_append_printf(s, ",node=%u", d->node);
            set_must_refuse(c, "node not configured");
            break;
        case F_NODE_MAX:
            g_string_append(s, ",node=4294967295");
            set_must_refuse(c, "node not configured");
            break;
        case F_NODE_NEGATIVE:
            g_string_append(s, ",node=-1");
            set_must_refuse(c, "node negative");
            break;
        case F_NODE_WORD:
            g_string_append(s, ",node=one");
            set_must_refuse(c, "node not a number");
            break;
        default:
            /* node 0 is the default */
            if (d->node || chance(r, 80)) {
                g_string_append_printf(s, ",node=%u", d->node);
            }
        }
        if (d->addr) {
            g_string_append_printf(s, ",addr=0x%" PRIx64, d->addr);
        } else if (chance(r, 5)) {
            g_string_append(s, ",addr=0");
        }
        g_string_append_c(s, ' ');
        g_ptr_array_add(devices, g_string_free(g_steal_pointer(&s), false));
    }
    for (int i = 0; i < ndimm; i++) {
        g_autofree char *node = c->nodes ?
            g_strdup_printf(",node=%d", pick(r, 0, c->nodes - 1)) :
            g_strdup("");

        g_string_append_printf(objs, "-object memory-backend-ram,id=d%d,"
                               "size=%" PRIu64 " ", i, dimm_size[i]);
        g_ptr_array_add(mode != 2 ? devices : tail,
                        g_strdup_printf("-device pc-dimm,id=dimm%d,"
                                        "memdev=d%d%s ", i, i, node));
    }
    for (int i = 0; i < nnv; i++) {
        g_string_append_printf(objs, "-object memory-backend-ram,id=nv%d,"
                               "size=256M ", i);
        g_ptr_array_add(mode != 2 ? devices : tail,
                        g_strdup_printf("-device nvdimm,id=nvdimm%d,"
                                        "memdev=nv%d ", i, i));
    }
    if (vmem_size) {
        g_string_append_printf(objs, "-object memory-backend-ram,id=vm0,"
                               "size=%" PRIu64 " ", vmem_size);
        g_ptr_array_add(mode != 2 ? devices : tail,
                        g_strdup_printf("-device virtio-mem-pci,id=vmem0,"
                                        "memdev=vm0,requested-size=0%s ",
                                        c->nodes ? ",node=0" : ""));
    }
    if (mode != 2) {
        shuffle(r, devices);
    }

    g_string_append(c->args, objs->str);
    for (int i = 0; i < devices->len; i++) {
        g_string_append(c->args, g_ptr_array_index(devices, i));
    }
    for (int i = 0; i < tail->len; i++) {
        g_string_append(c->args, g_ptr_array_index(tail, i));
    }
}

static void free_config(FuzzConfig *c)
{
    for (int i = 0; i < c->ndevs; i++) {
        g_free(c->devs[i].memdev);
    }
    g_string_free(c->mopts, true);
    g_string_free(c->args, true);
}

static void errf(GString *err, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void errf(GString *err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    g_string_append_vprintf(err, fmt, ap);
    va_end(ap);
    g_string_append_c(err, '\n');
}

static bool overlaps(uint64_t a, uint64_t as, uint64_t b, uint64_t bs)
{
    return a < b + bs && b < a + as;
}

static uint64_t dm_base_of(const FuzzConfig *c)
{
    return ROUND_UP(RAM_BASE + c->ram_size, GiB);
}

static uint64_t dm_size_of(const FuzzConfig *c)
{
    return c->maxmem - c->ram_size + c->slots * GiB;
}

/*
 * The device tree: exactly one /reserved-memory sp-mem node per device,
 * as reported; no /memory node over an sp-mem range, /memory nodes
 * covering exactly the RAM; a distance map for the configured nodes when
 * there is sp-mem or the user gave distances, none otherwise.
 */
static void check_dt(const FuzzConfig *c, const void *fdt, const char *what,
                     const MemRange *sp, int n, GString *err)
{
    static const char compat[] = "qemu,sp-mem\0special-purpose";
    int rm, off, len, count = 0, ac = 2, sc = 2;
    uint64_t ram = 0;

    if (fdt_check_header(fdt)) {
        errf(err, "%s: not a valid device tree", what);
        return;
    }
    rm = fdt_path_offset(fdt, "/reserved-memory");
    if (rm >= 0) {
        ac = fdt_address_cells(fdt, rm);
        sc = fdt_size_cells(fdt, rm);
        fdt_for_each_subnode(off, fdt, rm) {
            if (!fdt_node_check_compatible(fdt, off, "qemu,sp-mem")) {
                count++;
            }
        }
    } else if (n) {
        errf(err, "%s: no /reserved-memory", what);
        return;
    }
    if (count != n) {
        errf(err, "%s: %d sp-mem nodes for %d devices", what, count, n);
    }
    for (int i = 0; i < n; i++) {
        g_autofree char *path = g_strdup_printf("/reserved-memory/sp-mem@%"
                                                PRIx64, sp[i].addr);
        const fdt32_t *reg, *nid;
        const void *prop;

        off = fdt_path_offset(fdt, path);
        if (off < 0) {
            errf(err, "%s: no %s", what, path);
            continue;
        }
        reg = fdt_getprop(fdt, off, "reg", &len);
        if (!reg || len != (ac + sc) * 4 ||
            spmem_fdt_cells(reg, ac) != sp[i].addr ||
            spmem_fdt_cells(reg + ac, sc) != sp[i].size) {
            errf(err, "%s: %s: wrong reg (want 0x%" PRIx64 " size 0x%"
                 PRIx64 ")", what, path, sp[i].addr, sp[i].size);
        }
        nid = fdt_getprop(fdt, off, "numa-node-id", &len);
        if (!nid || len != 4 || fdt32_to_cpu(*nid) != sp[i].node) {
            errf(err, "%s: %s: numa-node-id is not %u", what, path,
                 sp[i].node);
        }
        prop = fdt_getprop(fdt, off, "no-map", &len);
        if (!prop || len) {
            errf(err, "%s: %s: no empty no-map", what, path);
        }
        prop = fdt_getprop(fdt, off, "compatible", &len);
        if (!prop || len != sizeof(compat) || memcmp(prop, compat, len)) {
            errf(err, "%s: %s: wrong compatible", what, path);
        }
    }

    fdt_for_each_subnode(off, fdt, 0) {
        const char *type = fdt_getprop(fdt, off, "device_type", NULL);
        const fdt32_t *reg;

        if (!type || strcmp(type, "memory")) {
            continue;
        }
        reg = fdt_getprop(fdt, off, "reg", &len);
        if (!reg) {
            errf(err, "%s: memory node without reg", what);
            continue;
        }
        for (int j = 0; j + 4 <= len / 4; j += 4) {
            uint64_t base = spmem_fdt_cells(reg + j, 2);
            uint64_t size = spmem_fdt_cells(reg + j + 2, 2);

            ram += size;
            if (base < RAM_BASE || base + size > RAM_BASE + c->ram_size) {
                errf(err, "%s: memory node [0x%" PRIx64 ", 0x%" PRIx64
                     ") outside RAM", what, base, base + size);
            }
            for (int i = 0; i < n; i++) {
                if (overlaps(base, size, sp[i].addr, sp[i].size)) {
                    errf(err, "%s: memory node [0x%" PRIx64 ", 0x%" PRIx64
                         ") overlaps sp-mem at 0x%" PRIx64, what, base,
                         base + size, sp[i].addr);
                }
            }
        }
    }
    if (ram != c->ram_size) {
        errf(err, "%s: memory nodes hold 0x%" PRIx64 " bytes, RAM is 0x%"
             PRIx64, what, ram, c->ram_size);
    }

    off = fdt_path_offset(fdt, "/distance-map");
    if (!n && !c->user_dist) {
        if (off >= 0) {
            errf(err, "%s: /distance-map without sp-mem or distances", what);
        }
    } else if (off < 0) {
        errf(err, "%s: no /distance-map", what);
    } else {
        const fdt32_t *m = fdt_getprop(fdt, off, "distance-matrix", &len);
        int nn = c->nodes;

        if (!m || len != nn * nn * 12) {
            errf(err, "%s: distance-matrix is not %dx%d", what, nn, nn);
            return;
        }
        for (int i = 0; i < nn; i++) {
            for (int j = 0; j < nn; j++) {
                const fdt32_t *e = m + (i * nn + j) * 3;
                uint32_t want = c->user_dist ? c->dist[i][j] :
                    i == j ? 10 : 20;

                if (fdt32_to_cpu(e[0]) != i || fdt32_to_cpu(e[1]) != j ||
                    fdt32_to_cpu(e[2]) != want) {
                    errf(err, "%s: distance %d->%d is %u, want %u", what, i,
                         j, fdt32_to_cpu(e[2]), want);
                }
            }
        }
    }
}

/*
 * fw_cfg of virt: a 64-bit data register, the 16-bit selector at +8 and
 * the 64-bit DMA address at +16, all big-endian.  libqos finds the files;
 * these two operations fit its QFWCFG to virt's layout.  A read goes
 * through DMA into guest RAM (the ACPI tables blob alone is 128 KiB), so
 * it may only be used after the device tree at RAM base was read.
 */
static void virt_fw_cfg_select(QFWCFG *fw_cfg, uint16_t key)
{
    uint16_t be = cpu_to_be16(key);

    qtest_memwrite(fw_cfg->qts, FW_CFG_CTL, &be, sizeof(be));
}

static void virt_fw_cfg_read(QFWCFG *fw_cfg, void *data, size_t len)
{
    uint8_t *p = data;

    while (len) {
        size_t n = MIN(len, DMA_CHUNK);
        struct {
            uint32_t control, length;
            uint64_t address;
        } QEMU_PACKED desc = {
            .control = cpu_to_be32(FW_CFG_DMA_CTL_READ),
            .length = cpu_to_be32(n),
            .address = cpu_to_be64(DMA_BUF),
        };
        uint64_t be = cpu_to_be64(DMA_DESC);

        qtest_memwrite(fw_cfg->qts, DMA_DESC, &desc, sizeof(desc));
        qtest_memwrite(fw_cfg->qts, FW_CFG_DMA, &be, sizeof(be));
        qtest_memread(fw_cfg->qts, DMA_DESC, &desc, sizeof(desc));
        g_assert_cmphex(be32_to_cpu(desc.control), ==, 0);
        qtest_memread(fw_cfg->qts, DMA_BUF, p, n);
        p += n;
        len -= n;
    }
}

static uint8_t *fw_cfg_file(QFWCFG *fw_cfg, const char *name, size_t *len)
{
    size_t size = qfw_cfg_get_file(fw_cfg, name, NULL, 0);
    uint8_t *data;

    *len = size;
    if (!size) {
        return NULL;
    }
    data = g_malloc(size);
    qfw_cfg_get_file(fw_cfg, name, data, size);
    return data;
}

/*
 * Is the table at @start of @len bytes in "etc/acpi/tables" checksummed
 * by the firmware, as the linker/loader script says?
 */
static bool loader_checksums(const uint8_t *loader, size_t loader_len,
                             uint32_t start, uint32_t len)
{
    for (size_t o = 0; o + LOADER_ENTRY_SIZE <= loader_len;
         o += LOADER_ENTRY_SIZE) {
        const uint8_t *e = loader + o;
        const uint8_t *file = e + 4;

        if (ldl_le_p(e) == LOADER_ADD_CHECKSUM &&
            !strncmp((const char *)file, "etc/acpi/tables", LOADER_FILESZ) &&
            ldl_le_p(file + LOADER_FILESZ) == start + 9 &&
            ldl_le_p(file + LOADER_FILESZ + 4) == start &&
            ldl_le_p(file + LOADER_FILESZ + 8) == len) {
            return true;
        }
    }
    return false;
}

/*
 * The SRAT in the ACPI tables: one Enabled + Specific-Purpose entry per
 * sp-mem device exactly at its range and node, no other entry over an
 * sp-mem range, RAM entries for the RAM only, and the hot-pluggable
 * entries together with the sp-mem ones tiling device memory.
 */
static void check_srat(const FuzzConfig *c, const uint8_t *t, size_t len,
                       const MemRange *sp, int n, GString *err)
{
    const uint64_t dm_base = dm_base_of(c), dm_size = dm_size_of(c);
    const int nodes = MAX(c->nodes, 1);
    g_autoptr(GArray) hp = g_array_new(false, false, sizeof(MemRange));
    g_autofree int *seen = g_new0(int, n);
    uint64_t ram = 0, hp_size = 0;
    size_t off;

    if (len < 48 || t[8] != 3) {
        errf(err, "SRAT: length %zu or revision %u", len, len > 8 ? t[8] : 0);
        return;
    }
    for (off = 48; off + 2 <= len; off += t[off + 1]) {
        uint32_t node, flags;
        uint64_t base, size;
        bool on_sp = false;

        if (t[off + 1] < 2 || off + t[off + 1] > len) {
            errf(err, "SRAT: bad entry length %u at %zu", t[off + 1], off);
            return;
        }
        if (t[off] != 1) {
            continue;
        }
        if (t[off + 1] != 40) {
            errf(err, "SRAT: memory affinity of length %u", t[off + 1]);
            return;
        }
        node = ldl_le_p(t + off + 2);
        base = ldq_le_p(t + off + 8);
        size = ldq_le_p(t + off + 16);
        flags = ldl_le_p(t + off + 28);
        if (!(flags & SRAT_ENABLED) || !size) {
            continue;
        }
        for (int i = 0; i < n; i++) {
            if (base == sp[i].addr && size == sp[i].size &&
                node == sp[i].node && flags == (SRAT_ENABLED | SRAT_SPECIFIC)) {
                seen[i]++;
                on_sp = true;
            } else if (overlaps(base, size, sp[i].addr, sp[i].size)) {
                errf(err, "SRAT: entry [0x%" PRIx64 ", 0x%" PRIx64 ") node %u"
                     " flags 0x%x overlaps sp-mem [0x%" PRIx64 ", 0x%" PRIx64
                     ") node %u", base, base + size, node, flags, sp[i].addr,
                     sp[i].addr + sp[i].size, sp[i].node);
            }
        }
        if (on_sp) {
            continue;
        }
        if (flags & SRAT_SPECIFIC) {
            errf(err, "SRAT: Specific-Purpose entry [0x%" PRIx64 ", 0x%"
                 PRIx64 ") node %u flags 0x%x is no sp-mem device", base,
                 base + size, node, flags);
        } else if (flags == SRAT_ENABLED) {
            ram += size;
            if (base < RAM_BASE || base + size > RAM_BASE + c->ram_size ||
                (c->nodes && (node >= c->nodes ||
                              size != c->node_mem[node]))) {
                errf(err, "SRAT: RAM entry [0x%" PRIx64 ", 0x%" PRIx64
                     ") node %u does not match the RAM", base, base + size,
                     node);
            }
        } else if (flags == (SRAT_ENABLED | SRAT_HOTPLUGGABLE)) {
            MemRange h = { base, size, node };

            g_array_append_val(hp, h);
            hp_size += size;
            if (node != nodes - 1) {
                errf(err, "SRAT: hot-pluggable entry at node %u, not %d",
                     node, nodes - 1);
            }
        } else if (flags != (SRAT_ENABLED | SRAT_NON_VOLATILE)) {
            errf(err, "SRAT: entry [0x%" PRIx64 ", 0x%" PRIx64 ") node %u "
                 "has flags 0x%x", base, base + size, node, flags);
        }
    }
    if (off != len) {
        errf(err, "SRAT: entries end at %zu, the table at %zu", off, len);
    }
    for (int i = 0; i < n; i++) {
        if (seen[i] != 1) {
            errf(err, "SRAT: sp-mem [0x%" PRIx64 ", 0x%" PRIx64 ") node %u "
                 "described %d times", sp[i].addr, sp[i].addr + sp[i].size,
                 sp[i].node, seen[i]);
        }
    }
    if (ram != c->ram_size) {
        errf(err, "SRAT: RAM entries hold 0x%" PRIx64 ", RAM is 0x%" PRIx64,
             ram, c->ram_size);
    }

    /* Hot-pluggable and sp-mem entries tile device memory, in order. */
    if (dm_size) {
        uint64_t cur = dm_base;
        int h = 0, s = 0;

        while (h < hp->len || s < n) {
            const MemRange *hr = h < hp->len ?
                &g_array_index(hp, MemRange, h) : NULL;

            if (hr && hr->addr == cur) {
                cur += hr->size;
                h++;
            } else if (s < n && sp[s].addr == cur) {
                cur += sp[s].size;
                s++;
            } else {
                errf(err, "SRAT: device memory from 0x%" PRIx64 " is not "
                     "covered by the next hot-pluggable or sp-mem entry",
                     cur);
                return;
            }
        }
        if (cur != dm_base + dm_size) {
            errf(err, "SRAT: device memory entries end at 0x%" PRIx64
                 ", device memory at 0x%" PRIx64, cur, dm_base + dm_size);
        }
    } else if (hp->len) {
        errf(err, "SRAT: hot-pluggable entries without device memory");
    }
}

/* Find the SRAT by walking the table headers of "etc/acpi/tables". */
static bool check_acpi(const FuzzConfig *c, QTestState *qts,
                       const MemRange *sp, int n, GString *err)
{
    g_autoptr(QFWCFG) fw_cfg = mm_fw_cfg_init(qts, FW_CFG_DATA);
    g_autofree uint8_t *tables = NULL;
    g_autofree uint8_t *loader = NULL;
    size_t len, loader_len, off, srat = 0;
    int srats = 0;
    bool in_xsdt = false;

    fw_cfg->select = virt_fw_cfg_select;
    fw_cfg->read = virt_fw_cfg_read;
    if (!(qfw_cfg_get_u32(fw_cfg, FW_CFG_ID) & FW_CFG_VERSION_DMA)) {
        errf(err, "fw_cfg without DMA");
        return false;
    }
    tables = fw_cfg_file(fw_cfg, "etc/acpi/tables", &len);
    loader = fw_cfg_file(fw_cfg, "etc/table-loader", &loader_len);
    if (!tables || !loader) {
        errf(err, "ACPI on, but no etc/acpi/tables or etc/table-loader");
        return false;
    }
    for (off = 0; off + 36 <= len; off += ldl_le_p(tables + off + 4)) {
        uint32_t tlen = ldl_le_p(tables + off + 4);

        if (!tlen && !ldl_le_p(tables + off)) {
            /* zero padding up to the end of the blob */
            while (off < len && !tables[off]) {
                off++;
            }
            break;
        }
        if (tlen < 36 || tlen > len - off) {
            errf(err, "ACPI: bad table length %u at %zu", tlen, off);
            return false;
        }
        if (!memcmp(tables + off, "SRAT", 4)) {
            srats++;
            srat = off;
        }
    }
    if (off != len) {
        errf(err, "ACPI: tables end at %zu, the blob at %zu", off, len);
    }
    if (!srats) {
        if (c->nodes) {
            errf(err, "ACPI: no SRAT with %d NUMA nodes", c->nodes);
        }
        return false;
    }
    if (srats != 1) {
        errf(err, "ACPI: %d SRATs", srats);
        return false;
    }
    /* The XSDT lists the SRAT; its pointers are blob offsets here. */
    for (off = 0; off + 36 <= len && ldl_le_p(tables + off + 4);
         off += ldl_le_p(tables + off + 4)) {
        if (!memcmp(tables + off, "XSDT", 4)) {
            for (size_t e = 36; e + 8 <= ldl_le_p(tables + off + 4); e += 8) {
                in_xsdt |= ldq_le_p(tables + off + e) == srat;
            }
        }
    }
    if (!in_xsdt) {
        errf(err, "ACPI: the XSDT does not list the SRAT");
    }
    if (!loader_checksums(loader, loader_len, srat,
                          ldl_le_p(tables + srat + 4))) {
        errf(err, "ACPI: no checksum command for the SRAT");
    }
    check_srat(c, tables + srat, ldl_le_p(tables + srat + 4), sp, n, err);
    return true;
}

static int cmp_range(const void *a, const void *b)
{
    const MemRange *x = a, *y = b;

    return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/*
 * The running machine: query-memory-devices against the model, then the
 * device tree in guest RAM and the one dumped by the first run, and the
 * SRAT.  Runs in a child process, so that whatever goes wrong with QEMU
 * is one failed configuration, not the end of the run.
 */
static void verify_started(const FuzzConfig *c, const char *qtest_args,
                           const void *dumped, VerifyStats *st, GString *err)
{
    g_autofree MemRange *sp = g_new0(MemRange, c->ndevs + 1);
    g_autoptr(GArray) all = g_array_new(false, false, sizeof(MemRange));
    const uint64_t dm_base = dm_base_of(c), dm_size = dm_size_of(c);
    g_autofree uint8_t *fdt = NULL;
    QTestState *qts;
    QDict *resp;
    QList *list;
    const QListEntry *e;
    int n = 0, others = 0;
    uint8_t hdr[40];

    qts = qtest_init(qtest_args);

    resp = qtest_qmp(qts, "{ 'execute': 'query-memory-devices' }");
    list = qdict_get_qlist(resp, "return");
    QLIST_FOREACH_ENTRY(list, e) {
        QDict *md = qobject_to(QDict, qlist_entry_obj(e));
        QDict *data = qdict_get_qdict(md, "data");
        const char *type = qdict_get_str(md, "type");
        MemRange m = { 0 };

        if (g_str_equal(type, "sp-mem")) {
            const char *memdev = qdict_get_str(data, "memdev");
            int i;

            m.addr = qdict_get_int(data, "addr");
            m.size = qdict_get_int(data, "size");
            m.node = qdict_get_int(data, "node");
            for (i = 0; i < c->ndevs; i++) {
                if (g_str_has_prefix(memdev, "/objects/") &&
                    g_str_equal(memdev + 9, c->devs[i].memdev)) {
                    break;
                }
            }
            if (i == c->ndevs) {
                errf(err, "sp-mem with unknown memdev %s", memdev);
            } else if (m.size != c->devs[i].size ||
                       m.node != c->devs[i].node ||
                       (c->devs[i].addr && m.addr != c->devs[i].addr)) {
                errf(err, "sp-mem %s: addr 0x%" PRIx64 " size 0x%" PRIx64
                     " node %u, asked for addr 0x%" PRIx64 " size 0x%"
                     PRIx64 " node %u", memdev, m.addr, m.size, m.node,
                     c->devs[i].addr, c->devs[i].size, c->devs[i].node);
            }
            if (m.node >= c->nodes) {
                errf(err, "sp-mem %s at node %u of %d", memdev, m.node,
                     c->nodes);
            }
            if (n < c->ndevs) {
                sp[n] = m;
            }
            n++;
        } else {
            others++;
            if (g_str_equal(type, "virtio-mem")) {
                m.addr = qdict_get_int(data, "memaddr");
                m.size = qdict_get_int(data, "max-size");
            } else {
                m.addr = qdict_get_int(data, "addr");
                m.size = qdict_get_int(data, "size");
            }
        }
        g_array_append_val(all, m);
    }
    qobject_unref(resp);
    if (n != c->ndevs || others != c->others) {
        errf(err, "%d sp-mem and %d other memory devices, configured %d "
             "and %d", n, others, c->ndevs, c->others);
        n = MIN(n, c->ndevs);
    }
    for (int i = 0; i < all->len; i++) {
        const MemRange *a = &g_array_index(all, MemRange, i);

        if (overlaps(a->addr, a->size, RAM_BASE, c->ram_size)) {
            errf(err, "memory device [0x%" PRIx64 ", 0x%" PRIx64 ") overlaps"
                 " RAM", a->addr, a->addr + a->size);
        }
        if (a->size && (a->addr < dm_base ||
                        a->addr + a->size > dm_base + dm_size)) {
            errf(err, "memory device [0x%" PRIx64 ", 0x%" PRIx64 ") outside "
                 "device memory [0x%" PRIx64 ", 0x%" PRIx64 ")", a->addr,
                 a->addr + a->size, dm_base, dm_base + dm_size);
        }
        for (int j = 0; j < i; j++) {
            const MemRange *b = &g_array_index(all, MemRange, j);

            if (overlaps(a->addr, a->size, b->addr, b->size)) {
                errf(err, "memory devices [0x%" PRIx64 ", 0x%" PRIx64 ") and"
                     " [0x%" PRIx64 ", 0x%" PRIx64 ") overlap", a->addr,
                     a->addr + a->size, b->addr, b->addr + b->size);
            }
        }
    }
    qsort(sp, n, sizeof(*sp), cmp_range);

    /* Without a kernel, the guest finds its device tree at RAM base. */
    qtest_memread(qts, RAM_BASE, hdr, sizeof(hdr));
    if (fdt_magic(hdr) != FDT_MAGIC || fdt_totalsize(hdr) > 16 * MiB) {
        errf(err, "no device tree at RAM base");
    } else {
        fdt = g_malloc(fdt_totalsize(hdr));
        qtest_memread(qts, RAM_BASE, fdt, fdt_totalsize(hdr));
        check_dt(c, fdt, "dtb in RAM", sp, n, err);
    }
    check_dt(c, dumped, "dumpdtb", sp, n, err);

    if (!c->acpi_off) {
        st->srat = check_acpi(c, qts, sp, n, err);
    }
    st->spmems = n;
    st->others = others;
    st->dist = c->user_dist;
    qtest_quit(qts);
}

/* Error messages name what is wrong; these words are the options. */
static const char *const option_words[] = {
    "-device", "-object", "-numa", "-machine", "-M ", "-m ", "-smp", "-cpu",
    "maxmem", "slots", "node", "memdev", "addr", "size", "highmem", "gic",
    "virtualization", "acpi", "nvdimm", "mte", "NUMA", "memory", "CPU",
    "cpu", "KVM", "ras", "distance", "numa", "Node", "MTE",
};

static bool names_an_option(const char *msg)
{
    for (int i = 0; i < ARRAY_SIZE(option_words); i++) {
        if (strstr(msg, option_words[i])) {
            return true;
        }
    }
    return false;
}

/* The error with its variable parts (numbers, option values) masked. */
static char *message_key(const char *err)
{
    g_autofree char *line = g_strndup(err, strcspn(err, "\n"));
    GString *s = g_string_new("");
    const char *p = line;
    const char *colon = strstr(line, ": -");

    /* "qemu-system-aarch64: -device sp-mem,...: msg" -> "-device: msg" */
    if (colon) {
        const char *opt_end = strstr(colon + 2, ": ");
        const char *space = strchr(colon + 2, ' ');

        if (opt_end && space) {
            g_string_append_len(s, colon + 2, space - colon - 2);
            p = opt_end;
        }
    }
    for (; *p; p++) {
        if (g_ascii_isdigit(*p)) {
            while (g_ascii_isxdigit(p[1]) || p[1] == 'x') {
                p++;
            }
            g_string_append_c(s, 'N');
        } else {
            g_string_append_c(s, *p);
        }
    }
    return g_string_free(s, false);
}

static void report(const FuzzConfig *c, const char *cmd, const char *what,
                   const char *detail)
{
    g_test_message("config %d: FAIL: %s", c->index, what);
    if (detail && *detail) {
        g_auto(GStrv) lines = g_strsplit(detail, "\n", 40);

        for (int i = 0; lines[i] && i < 39; i++) {
            if (*lines[i]) {
                g_test_message("config %d:   %s", c->index, lines[i]);
            }
        }
    }
    g_test_message("config %d: cmd: %s", c->index, cmd);
}

/* Fork, verify the started machine in the child, report its verdict. */
static bool run_verify(const FuzzConfig *c, const char *qtest_args,
                       const void *dumped, VerifyStats *st, GString *err)
{
    g_autoptr(GString) out = g_string_new("");
    const char *nl;
    int fds[2], status;
    pid_t pid;
    char buf[4096];
    ssize_t got;

    /* Not inherited by QEMU, or a QEMU left behind would hold it open. */
    g_assert_true(g_unix_open_pipe(fds, FD_CLOEXEC, NULL));
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    g_assert_cmpint(pid, >=, 0);
    if (!pid) {
        g_autoptr(GString) cerr = g_string_new("");
        VerifyStats cst = { 0 };
        g_autofree char *msg = NULL;
        size_t len;

        close(fds[0]);
        alarm(SPMEM_RUN_TIMEOUT);
        verify_started(c, qtest_args, dumped, &cst, cerr);
        if (cerr->len > 16 * KiB) {
            g_string_truncate(cerr, 16 * KiB);
        }
        /* The statistics line, then the errors */
        msg = g_strdup_printf("%d %d %d %d\n%s", cst.spmems, cst.others,
                              cst.srat, cst.dist, cerr->str);
        len = strlen(msg);
        if (write(fds[1], msg, len) != len) {
            _exit(2);
        }
        _exit(cerr->len ? 1 : 0);
    }
    close(fds[1]);
    while ((got = read(fds[0], buf, sizeof(buf))) > 0) {
        g_string_append_len(out, buf, got);
    }
    close(fds[0]);
    nl = strchr(out->str, '\n');
    if (nl && sscanf(out->str, "%d %d %d %d", &st->spmems, &st->others,
                     &st->srat, &st->dist) == 4) {
        g_string_append(err, nl + 1);
    } else {
        g_string_append(err, out->str);
    }
    g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
    if (WIFSIGNALED(status)) {
        errf(err, "verifier died by signal %d (%s); a QEMU that dies makes "
             "libqtest abort", WTERMSIG(status), strsignal(WTERMSIG(status)));
    } else if (WEXITSTATUS(status) && !err->len) {
        errf(err, "verifier exited with status %d", WEXITSTATUS(status));
    }
    return WIFEXITED(status) && !WEXITSTATUS(status) && !err->len;
}

static void run_config(int index, guint32 seed, FuzzTotals *tot)
{
    guint32 seeds[] = { seed, index };
    g_autoptr(GRand) r = g_rand_new_with_seed_array(seeds, 2);
    g_autoptr(GError) gerr = NULL;
    g_autoptr(GString) err = g_string_new("");
    g_autofree char *dtb_path = NULL;
    g_autofree char *cmd = NULL;
    g_autofree char *qtest_args = NULL;
    g_autofree char *out = NULL;
    g_autofree char *serr = NULL;
    g_autofree char *dumped = NULL;
    g_auto(GStrv) argv = NULL;
    FuzzConfig c = {
        .index = index,
        .mopts = g_string_new(""),
        .args = g_string_new(""),
    };
    VerifyStats st = { 0 };
    bool must_start;
    gsize len;
    int status = -1, fd;

    gen_config(&c, r);
    must_start = !c.must_refuse && !c.unsure;
    tot->predicted_start += must_start;
    tot->predicted_refusal += !!c.must_refuse;

    fd = g_file_open_tmp("spmem-fuzz-XXXXXX.dtb", &dtb_path, &gerr);
    g_assert_no_error(gerr);
    close(fd);
    unlink(dtb_path);
    cmd = g_strdup_printf("%s -M %s%s -machine dumpdtb=%s -display none "
                          "-nodefaults -monitor none -serial none "
                          "-accel qtest %s", qtest_qemu_binary(NULL),
                          c.machine, c.mopts->str, dtb_path, c.args->str);
    qtest_args = g_strdup_printf("-M %s%s -nodefaults -S %s", c.machine,
                                 c.mopts->str, c.args->str);
    g_assert(g_shell_parse_argv(cmd, NULL, &argv, &gerr));
    g_assert(g_spawn_sync(NULL, argv, NULL, G_SPAWN_DEFAULT, spmem_child_alarm,
                          NULL, &out, &serr, &status, &gerr));
    if (g_test_verbose()) {
        g_test_message("config %d: %s", index, cmd);
    }

    if (WIFSIGNALED(status)) {
        g_autofree char *what = g_strdup_printf("QEMU died by signal %d (%s)",
                                                WTERMSIG(status),
                                                strsignal(WTERMSIG(status)));

        report(&c, cmd, what, serr);
        tot->failed++;
    } else if (!WIFEXITED(status) ||
               (WEXITSTATUS(status) != 0 && WEXITSTATUS(status) != 1)) {
        report(&c, cmd, "QEMU exited with a status other than 0 or 1", serr);
        tot->failed++;
    } else if (WEXITSTATUS(status) == 1) {
        g_autofree char *key = message_key(serr);

        if (!g_str_has_prefix(serr, "qemu-system-aarch64: ") ||
            !names_an_option(serr) || strstr(serr, "ssertion") ||
            strstr(serr, "abort")) {
            report(&c, cmd, "refusal without a clear error message", serr);
            tot->failed++;
        } else if (must_start) {
            report(&c, cmd, "refused a configuration valid by construction",
                   serr);
            tot->failed++;
        } else {
            int seen = GPOINTER_TO_INT(g_hash_table_lookup(tot->messages,
                                                           key));

            tot->refused++;
            g_hash_table_insert(tot->messages, g_steal_pointer(&key),
                                GINT_TO_POINTER(seen + 1));
        }
    } else if (c.must_refuse) {
        g_autofree char *what = g_strdup_printf("started, but must be refused"
                                                " (%s)", c.must_refuse);

        report(&c, cmd, what, serr);
        tot->failed++;
    } else if (!g_file_get_contents(dtb_path, &dumped, &len, &gerr) ||
               len < sizeof(struct fdt_header) || fdt_check_header(dumped) ||
               fdt_totalsize(dumped) > len) {
        report(&c, cmd, "exited 0 without writing a valid dumpdtb", serr);
        g_clear_error(&gerr);
        tot->failed++;
    } else if (!run_verify(&c, qtest_args, dumped, &st, err)) {
        g_autofree char *full = g_strdup_printf("%s -accel qtest",
                                                qtest_args);

        report(&c, cmd, "the started machine is described wrongly", err->str);
        g_test_message("config %d: verified with: %s", c.index, full);
        tot->failed++;
    } else {
        tot->verified++;
        tot->spmems += st.spmems;
        tot->max_spmems = MAX(tot->max_spmems, st.spmems);
        tot->others += st.others;
        tot->srats += st.srat;
        tot->dists += st.dist;
    }
    unlink(dtb_path);
    free_config(&c);
}

static guint64 env_uint(const char *name, guint64 def)
{
    const char *v = g_getenv(name);
    uint64_t n;

    if (!v || !*v) {
        return def;
    }
    if (qemu_strtou64(v, NULL, 0, &n) || n > G_MAXUINT32) {
        g_error("%s=%s: not a number up to 0xffffffff", name, v);
    }
    return n;
}

static gint cmp_count(gconstpointer a, gconstpointer b, gpointer table)
{
    int x = GPOINTER_TO_INT(g_hash_table_lookup(table, *(char **)a));
    int y = GPOINTER_TO_INT(g_hash_table_lookup(table, *(char **)b));

    return y != x ? y - x : strcmp(*(char **)a, *(char **)b);
}

static void test_fuzz(void)
{
    const guint32 seed = env_uint("SPMEM_FUZZ_SEED", DEFAULT_SEED);
    const int count = env_uint("SPMEM_FUZZ_COUNT", DEFAULT_COUNT);
    const char *only = g_getenv("SPMEM_FUZZ_INDEX");
    FuzzTotals tot = {
        .messages = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                          NULL),
    };
    g_autoptr(GPtrArray) keys = g_ptr_array_new();
    GHashTableIter it;
    gpointer key;
    gint64 start = g_get_monotonic_time();
    int first = 0, end = count;

    if (only && *only) {
        first = env_uint("SPMEM_FUZZ_INDEX", 0);
        end = first + 1;
    }
    g_test_message("sp-mem fuzz: seed %u (0x%x), configs %d..%d", seed, seed,
                   first, end - 1);
    for (int i = first; i < end; i++) {
        run_config(i, seed, &tot);
    }

    g_hash_table_iter_init(&it, tot.messages);
    while (g_hash_table_iter_next(&it, &key, NULL)) {
        g_ptr_array_add(keys, key);
    }
    g_ptr_array_sort_with_data(keys, cmp_count, tot.messages);
    g_test_message("distinct refusal messages: %u", keys->len);
    for (int i = 0; i < keys->len && (g_test_verbose() || i < 10); i++) {
        g_test_message("  %5d  %s",
                       GPOINTER_TO_INT(g_hash_table_lookup(tot.messages,
                                       g_ptr_array_index(keys, i))),
                       (char *)g_ptr_array_index(keys, i));
    }
    g_test_message("sp-mem fuzz: seed %u, count %d: %d started and "
                   "verified, %d refused cleanly, %d failures (%.1f s)",
                   seed, end - first, tot.verified, tot.refused, tot.failed,
                   (g_get_monotonic_time() - start) / 1e6);
    g_test_message("sp-mem fuzz: model: %d valid by construction, %d "
                   "certainly invalid", tot.predicted_start,
                   tot.predicted_refusal);
    g_test_message("sp-mem fuzz: verified %d sp-mem ranges (up to %d in a "
                   "machine) next to %d other memory devices; %d SRATs, %d "
                   "user distance maps", tot.spmems, tot.max_spmems,
                   tot.others, tot.srats, tot.dists);
    g_hash_table_destroy(tot.messages);
    if (tot.failed) {
        g_test_fail();
    }
}

int main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);

    if (!qtest_has_machine("virt") || !qtest_has_device("sp-mem")) {
        g_test_skip("virt machine or sp-mem device not available");
        return g_test_run();
    }
    have_nvdimm = qtest_has_device("nvdimm");
    have_virtio_mem = qtest_has_device("virtio-mem-pci");
    for (int i = 0; i < ARRAY_SIZE(older_virt); i++) {
        have_older_virt[i] = qtest_has_machine(older_virt[i]);
    }

    spmem_test_setup("spmem-fuzz");

    qtest_add_func("/arm/spmem/fuzz", test_fuzz);
    ret = g_test_run();

    spmem_test_cleanup();
    return ret;
}
