/*
 * Entry point of the sp-mem bare-metal reference guest.
 *
 * QEMU's arm virt machine loads this ELF and enters _start at EL1 with
 * the MMU and caches off.  For a non-Linux ELF it does not promise any
 * register contents, so the DTB address is not taken from x0 (see
 * DTB_ADDR in main.c).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

    .section .text.start, "ax"
    .global _start
_start:
    /* Only CPU 0 runs the test; any other CPU waits forever. */
    mrs     x1, mpidr_el1
    and     x1, x1, #0xffffff
    cbnz    x1, park

    /*
     * Allow FP/SIMD at EL1 (CPACR_EL1.FPEN = 0b11).  Our own code is
     * built with -mgeneral-regs-only, but Debian's prebuilt libfdt.a is
     * not and uses FP registers in a few places.
     */
    mov     x1, #(3 << 20)
    msr     cpacr_el1, x1

    /* Report any exception instead of hanging until the host's timeout. */
    adr     x1, vectors
    msr     vbar_el1, x1
    isb

    ldr     x1, =__stack_top
    mov     sp, x1

    /* Clear .bss (8-byte aligned and sized by the linker script). */
    ldr     x1, =__bss_start
    ldr     x2, =__bss_end
1:  cmp     x1, x2
    b.hs    2f
    str     xzr, [x1], #8
    b       1b
2:
    bl      main
    bl      psci_system_off     /* does not return */
park:
    wfe
    b       park

/*
 * Exception vectors: 16 entries of 128 bytes, table aligned to 2 KiB.
 * Every entry calls exception_report(index), which prints the syndrome
 * and powers the machine off.
 */
    .macro vector idx
    .balign 128
    mov     x0, #\idx
    b       exception_entry
    .endm

    .balign 2048
vectors:
    .irp idx, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
    vector \idx
    .endr

exception_entry:
    ldr     x1, =__stack_top    /* the state is lost anyway: fresh stack */
    mov     sp, x1
    bl      exception_report
    b       park
