/*
 * sp-mem (specific-purpose memory) on the arm virt machine
 *
 * Copyright (c) 2026 The sp-mem-arm authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_ARM_VIRT_SPMEM_H
#define HW_ARM_VIRT_SPMEM_H

#include "hw/arm/virt.h"

void virt_spmem_pre_plug(VirtMachineState *vms, DeviceState *dev,
                         Error **errp);
void virt_spmem_plug(VirtMachineState *vms, DeviceState *dev);
void virt_spmem_modify_dtb(const struct arm_boot_info *binfo, void *fdt);
void virt_spmem_build_srat_node(GArray *table_data, MachineState *ms,
                                uint32_t node);
void virt_spmem_build_srat(GArray *table_data, MachineState *ms);

#endif
