/*
 * Minimal "firmware" for the start-up, memory, firmware-table and
 * migration benchmarks (-bios): its first instructions write one byte to
 * virt's PL011, so the host sees the guest's first instruction as the
 * first byte on the serial line; then it idles in WFI forever.
 *
 * Loading it with -bios makes QEMU treat the machine as firmware-booted:
 * the ACPI GED exists (pc-dimm needs it on virt) and the ACPI tables are
 * built, as they are for UEFI guests.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
    .text
    .global _start
_start:
    movz    x0, #0x0900, lsl #16    /* PL011 data register, 0x09000000 */
    mov     w1, #'!'
    str     w1, [x0]
1:  wfi
    b       1b
