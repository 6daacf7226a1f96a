/*
 * Specific-purpose memory device
 *
 * Copyright (c) 2026 The sp-mem-arm authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef QEMU_SP_MEM_H
#define QEMU_SP_MEM_H

#include "hw/qdev-core.h"
#include "qom/object.h"

#define TYPE_SP_MEM "sp-mem"
OBJECT_DECLARE_SIMPLE_TYPE(SpMemDevice, SP_MEM)

#define SP_MEM_ADDR_PROP "addr"
#define SP_MEM_NODE_PROP "node"
#define SP_MEM_MEMDEV_PROP "memdev"

/**
 * SpMemDevice:
 * @addr: guest physical start address, 0 until the memory device
 *        framework has placed the device (or the user-chosen address)
 * @node: NUMA node the memory belongs to
 * @hostmem: the memory backend that provides the memory
 *
 * Memory the guest can address but that its general-purpose allocator
 * must not use: firmware describes it as specific-purpose (soft
 * reserved) memory of @node.  Cold-plug only.
 */
struct SpMemDevice {
    /* private */
    DeviceState parent_obj;

    /* public */
    uint64_t addr;
    uint32_t node;
    HostMemoryBackend *hostmem;

    /* private */
    struct {
        uint64_t addr;
        uint64_t size;
        uint32_t node;
    } migrated;     /* the source's values, checked on load */
};

#endif
