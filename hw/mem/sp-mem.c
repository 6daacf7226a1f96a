/*
 * Specific-purpose memory device
 *
 * A cold-plugged memory device whose range firmware describes as
 * specific-purpose (soft reserved) memory of a NUMA node, so that the
 * guest keeps it away from its general-purpose allocator and hands it to
 * a driver instead.  Placement, mapping and migration follow pc-dimm: the
 * memory device framework picks the address inside device memory and the
 * backend's RAM migrates with the device; the device's own section makes
 * sure the destination places the range alike.
 *
 * Copyright (c) 2026 The sp-mem-arm authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "hw/boards.h"
#include "hw/mem/memory-device.h"
#include "hw/mem/sp-mem.h"
#include "hw/qdev-properties.h"
#include "migration/vmstate.h"
#include "qapi/error.h"
#include "qemu/module.h"
#include "system/hostmem.h"

static void sp_mem_realize(DeviceState *dev, Error **errp)
{
    SpMemDevice *spm = SP_MEM(dev);

    /*
     * Only a machine that places the device (through its hotplug handler)
     * can describe it to the guest; anywhere else it would be a range the
     * guest never hears of.
     */
    if (!qdev_get_hotplug_handler(dev)) {
        error_setg(errp, "machine type '%s' does not support sp-mem",
                   MACHINE_GET_CLASS(qdev_get_machine())->name);
        return;
    }
    if (!spm->hostmem) {
        error_setg(errp, "'" SP_MEM_MEMDEV_PROP "' property is required");
        return;
    }
    if (host_memory_backend_is_mapped(spm->hostmem)) {
        error_setg(errp, "memory backend '%s' is already in use",
                   object_get_canonical_path_component(OBJECT(spm->hostmem)));
        return;
    }
    host_memory_backend_set_mapped(spm->hostmem, true);
}

static void sp_mem_unrealize(DeviceState *dev)
{
    SpMemDevice *spm = SP_MEM(dev);

    host_memory_backend_set_mapped(spm->hostmem, false);
}

static uint64_t sp_mem_md_get_addr(const MemoryDeviceState *md)
{
    return SP_MEM(md)->addr;
}

static void sp_mem_md_set_addr(MemoryDeviceState *md, uint64_t addr,
                               Error **errp)
{
    object_property_set_uint(OBJECT(md), SP_MEM_ADDR_PROP, addr, errp);
}

static MemoryRegion *sp_mem_md_get_memory_region(MemoryDeviceState *md,
                                                 Error **errp)
{
    SpMemDevice *spm = SP_MEM(md);

    if (!spm->hostmem) {
        error_setg(errp, "'" SP_MEM_MEMDEV_PROP "' property must be set");
        return NULL;
    }
    return host_memory_backend_get_memory(spm->hostmem);
}

static void sp_mem_md_fill_device_info(const MemoryDeviceState *md,
                                       MemoryDeviceInfo *info)
{
    SpMemDeviceInfo *si = g_new0(SpMemDeviceInfo, 1);
    const SpMemDevice *spm = SP_MEM(md);
    const DeviceState *dev = DEVICE(md);

    si->id = g_strdup(dev->id);
    si->addr = spm->addr;
    si->size = memory_device_get_region_size(md, NULL);
    si->node = spm->node;
    si->memdev = object_get_canonical_path(OBJECT(spm->hostmem));

    info->u.sp_mem.data = si;
    info->type = MEMORY_DEVICE_INFO_KIND_SP_MEM;
}

/*
 * The backend's RAM migrates like pc-dimm's.  What the guest learnt from
 * the firmware tables at boot, where the range is, how big it is and its
 * node, travels in this section too: a destination configured otherwise
 * refuses the stream instead of running a guest whose tables are wrong.
 */
static int sp_mem_pre_save(void *opaque)
{
    SpMemDevice *spm = opaque;

    spm->migrated.addr = spm->addr;
    spm->migrated.size = memory_device_get_region_size(MEMORY_DEVICE(spm),
                                                       &error_abort);
    spm->migrated.node = spm->node;
    return 0;
}

static bool sp_mem_post_load(void *opaque, int version_id, Error **errp)
{
    SpMemDevice *spm = opaque;
    const char *id = DEVICE(spm)->id ? DEVICE(spm)->id : "";
    uint64_t size = memory_device_get_region_size(MEMORY_DEVICE(spm),
                                                  &error_abort);

    if (spm->migrated.node != spm->node) {
        error_setg(errp, "sp-mem '%s': node %" PRIu32 " in the migration"
                   " stream, but '" SP_MEM_NODE_PROP "' is %" PRIu32 " here",
                   id, spm->migrated.node, spm->node);
        return false;
    }
    if (spm->migrated.addr != spm->addr) {
        error_setg(errp, "sp-mem '%s': address 0x%" PRIx64 " in the migration"
                   " stream, but '" SP_MEM_ADDR_PROP "' is 0x%" PRIx64 " here",
                   id, spm->migrated.addr, spm->addr);
        return false;
    }
    if (spm->migrated.size != size) {
        error_setg(errp, "sp-mem '%s': size 0x%" PRIx64 " in the migration"
                   " stream, but the backend has 0x%" PRIx64 " here",
                   id, spm->migrated.size, size);
        return false;
    }
    return true;
}

static const VMStateDescription vmstate_sp_mem = {
    .name = TYPE_SP_MEM,
    .version_id = 1,
    .minimum_version_id = 1,
    .pre_save = sp_mem_pre_save,
    .post_load_errp = sp_mem_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT64(migrated.addr, SpMemDevice),
        VMSTATE_UINT64(migrated.size, SpMemDevice),
        VMSTATE_UINT32(migrated.node, SpMemDevice),
        VMSTATE_END_OF_LIST()
    },
};

static const Property sp_mem_properties[] = {
    DEFINE_PROP_UINT64(SP_MEM_ADDR_PROP, SpMemDevice, addr, 0),
    DEFINE_PROP_UINT32(SP_MEM_NODE_PROP, SpMemDevice, node, 0),
    DEFINE_PROP_LINK(SP_MEM_MEMDEV_PROP, SpMemDevice, hostmem,
                     TYPE_MEMORY_BACKEND, HostMemoryBackend *),
};

static void sp_mem_class_init(ObjectClass *oc, const void *data)
{
    DeviceClass *dc = DEVICE_CLASS(oc);
    MemoryDeviceClass *mdc = MEMORY_DEVICE_CLASS(oc);

    dc->realize = sp_mem_realize;
    dc->unrealize = sp_mem_unrealize;
    dc->hotpluggable = false;
    dc->vmsd = &vmstate_sp_mem;
    dc->desc = "Specific-purpose (soft reserved) memory";
    set_bit(DEVICE_CATEGORY_MISC, dc->categories);
    device_class_set_props(dc, sp_mem_properties);

    mdc->get_addr = sp_mem_md_get_addr;
    mdc->set_addr = sp_mem_md_set_addr;
    mdc->get_plugged_size = memory_device_get_region_size;
    mdc->get_memory_region = sp_mem_md_get_memory_region;
    mdc->fill_device_info = sp_mem_md_fill_device_info;
}

static const TypeInfo sp_mem_info = {
    .name          = TYPE_SP_MEM,
    .parent        = TYPE_DEVICE,
    .instance_size = sizeof(SpMemDevice),
    .class_init    = sp_mem_class_init,
    .interfaces = (const InterfaceInfo[]) {
        { TYPE_MEMORY_DEVICE },
        { }
    },
};

static void sp_mem_register_types(void)
{
    type_register_static(&sp_mem_info);
}

type_init(sp_mem_register_types)
