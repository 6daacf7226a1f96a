/*
 * sp-mem bare-metal reference guest for QEMU's arm virt machine.
 *
 * Finds the sp-mem (specific-purpose memory) ranges that QEMU describes
 * under /reserved-memory in the device tree, checks that no memory node
 * covers them, tests them with an address-dependent pattern, prints one
 * line per device on the PL011 and powers off through PSCI.
 *
 * Patterns (64-bit little-endian words; addr is the guest-physical
 * address of the word, node the device's numa-node-id, size its size):
 *
 *   guest pattern  G(addr) = (addr * GUEST_MUL) ^ GUEST_SEED ^ node
 *                  written by the guest over the whole range except the
 *                  host block, then read back.  It stays in memory, so
 *                  the first and the last 4 KiB of every range hold it
 *                  when the guest powers off.
 *   host pattern   H(addr) = (addr * HOST_MUL) ^ HOST_SEED
 *                  written by the host before boot into the 4 KiB "host
 *                  block" at offset size - 8 KiB; the guest only reads
 *                  it, before and after its own writes.
 *
 * Multiplying by an odd constant is a bijection on 64-bit values, so no
 * two words of the address space get the same value: a range that
 * aliases another part of itself, another range, or the wrong part of
 * the backend fails the check.
 *
 * The MMU stays off, so every data access is Device-nGnRnE: all accesses
 * to the ranges are aligned 64-bit ones.
 *
 * With "sp-mem-writer" in /chosen/bootargs (-append) the guest does not
 * power off after the report: it keeps rewriting every range, outside
 * the host block, with W(addr, gen) = G(addr) + gen for gen = 1, 2, ...
 * and prints each generation as it starts, whatever the checks found
 * (a memory-backend-ram device has no host block).  The migration test
 * (the migration scenarios) migrate it while it writes.
 *
 * With "sp-mem-bench" the guest only times a copy loop on an sp-mem range
 * and on ordinary RAM (see bench() below) and powers off.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <libfdt.h>

/*
 * Where the DTB is.  For a non-Linux ELF, QEMU does not promise that x0
 * holds the DTB address, but it always loads the DTB at the base of RAM
 * (below the ELF, see guest.ld).  fdt_check_header() in main() makes
 * sure that a valid tree really is there.
 */
#define DTB_ADDR        0x40000000UL

#define UART_BASE       0x09000000UL    /* virt's PL011 */
#define UART_DR         0x00
#define UART_FR         0x18
#define UART_FR_TXFF    (1 << 5)

#define PSCI_SYSTEM_OFF 0x84000008UL    /* conduit: HVC (/psci method) */

#define GUEST_MUL       0x9e3779b97f4a7c15ULL
#define GUEST_SEED      0x53504d454d000000ULL   /* "SPMEM\0\0\0" */
#define HOST_MUL        0xc2b2ae3d27d4eb4fULL
#define HOST_SEED       0x484f53542d4d454dULL   /* "HOST-MEM" */

#define BLOCK_SIZE      0x1000ULL               /* 4 KiB */
#define HOST_BLOCK(sz)  ((sz) - 2 * BLOCK_SIZE) /* offset of host block */
#define MIN_SIZE        (4 * BLOCK_SIZE)

#define MAX_DEVICES     64

static unsigned errors;

/* The ranges tested, for the writer mode. */
static struct {
    uint64_t addr, size;
    uint32_t node;
} ranges[MAX_DEVICES];
static unsigned nr_ranges;

/* --- console ---------------------------------------------------------- */

static void uart_putc(char c)
{
    volatile uint32_t *uart = (volatile uint32_t *)UART_BASE;

    while (uart[UART_FR / 4] & UART_FR_TXFF) {
        /* wait for room in the FIFO */
    }
    uart[UART_DR / 4] = (uint8_t)c;
}

static void put_num(uint64_t v, unsigned base)
{
    char buf[20];
    int i = 0;

    do {
        buf[i++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    while (i) {
        uart_putc(buf[--i]);
    }
}

/* A minimal printf: %s, %d, %u and %x, with an optional 'l' or 'll'. */
static void pr(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    for (; *fmt; fmt++) {
        bool is_long = false;

        if (*fmt != '%') {
            if (*fmt == '\n') {
                uart_putc('\r');
            }
            uart_putc(*fmt);
            continue;
        }
        while (*++fmt == 'l') {
            is_long = true;
        }
        switch (*fmt) {
        case 's': {
            const char *s = va_arg(ap, const char *);
            while (*s) {
                uart_putc(*s++);
            }
            break;
        }
        case 'd': {
            int64_t v = is_long ? va_arg(ap, int64_t) : va_arg(ap, int);
            if (v < 0) {
                uart_putc('-');
                v = -v;
            }
            put_num(v, 10);
            break;
        }
        case 'u':
            put_num(is_long ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 10);
            break;
        case 'x':
            put_num(is_long ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 16);
            break;
        default:
            uart_putc('%');
            uart_putc(*fmt);
            break;
        }
    }
    va_end(ap);
}

/* --- power off and fatal errors --------------------------------------- */

void __attribute__((noreturn)) psci_system_off(void)
{
    register uint64_t x0 __asm__("x0") = PSCI_SYSTEM_OFF;

    __asm__ volatile("hvc #0" : "+r"(x0) : : "memory");
    pr("sp-mem-guest: PSCI SYSTEM_OFF returned %ld\n", (int64_t)x0);
    for (;;) {
        __asm__ volatile("wfi");
    }
}

void __attribute__((noreturn)) guest_panic(const char *msg)
{
    pr("sp-mem-guest: panic: %s\n", msg);
    psci_system_off();
}

/* Called from the vectors in start.S with the vector's index. */
void __attribute__((noreturn)) exception_report(uint64_t idx)
{
    uint64_t esr, elr, far;

    __asm__ volatile("mrs %0, esr_el1" : "=r"(esr));
    __asm__ volatile("mrs %0, elr_el1" : "=r"(elr));
    __asm__ volatile("mrs %0, far_el1" : "=r"(far));
    pr("sp-mem-guest: exception %lu esr=0x%lx elr=0x%lx far=0x%lx\n",
       idx, esr, elr, far);
    guest_panic("unexpected exception");
}

/* --- device tree ------------------------------------------------------ */

/* Read an address or size of @cells (1 or 2) big-endian cells. */
static uint64_t read_cells(const fdt32_t *p, int cells)
{
    uint64_t v = 0;

    while (cells--) {
        v = (v << 32) | fdt32_ld(p++);
    }
    return v;
}

/* #address-cells and #size-cells that apply to the children of @parent. */
static bool get_cells(const void *fdt, int parent, int *ac, int *sc)
{
    *ac = fdt_address_cells(fdt, parent);
    *sc = fdt_size_cells(fdt, parent);
    return *ac >= 1 && *ac <= 2 && *sc >= 1 && *sc <= 2;
}

static bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
    return alen && blen && a < b + blen && b < a + alen;
}

/*
 * Does any node with device_type = "memory" cover part of [addr, addr+size)?
 * Every reg entry of every memory node is looked at, with the cell sizes
 * of that node's parent.
 */
static bool memory_overlaps(const void *fdt, uint64_t addr, uint64_t size)
{
    int node;

    for (node = fdt_node_offset_by_prop_value(fdt, -1, "device_type",
                                              "memory", sizeof("memory"));
         node >= 0;
         node = fdt_node_offset_by_prop_value(fdt, node, "device_type",
                                              "memory", sizeof("memory"))) {
        const fdt32_t *reg;
        int len, ac, sc, i;

        if (!get_cells(fdt, fdt_parent_offset(fdt, node), &ac, &sc)) {
            pr("sp-mem-guest: %s: unsupported cell sizes\n",
               fdt_get_name(fdt, node, NULL));
            return true;
        }
        reg = fdt_getprop(fdt, node, "reg", &len);
        if (!reg || len % (4 * (ac + sc))) {
            pr("sp-mem-guest: %s: bad reg\n", fdt_get_name(fdt, node, NULL));
            return true;
        }
        for (i = 0; i < len / 4; i += ac + sc) {
            if (ranges_overlap(addr, size, read_cells(reg + i, ac),
                               read_cells(reg + i + ac, sc))) {
                pr("sp-mem-guest: %s overlaps 0x%lx+0x%lx\n",
                   fdt_get_name(fdt, node, NULL), addr, size);
                return true;
            }
        }
    }
    return false;
}

/* --- memory test ------------------------------------------------------ */

static inline uint64_t guest_pattern(uint64_t addr, uint32_t node)
{
    return (addr * GUEST_MUL) ^ GUEST_SEED ^ node;
}

static inline uint64_t host_pattern(uint64_t addr)
{
    return (addr * HOST_MUL) ^ HOST_SEED;
}

/* Is the host block still what the host wrote? */
static bool check_host_block(uint64_t base, uint64_t size)
{
    uint64_t a, start = base + HOST_BLOCK(size);

    for (a = start; a < start + BLOCK_SIZE; a += 8) {
        uint64_t v = *(volatile uint64_t *)a;

        if (v != host_pattern(a)) {
            pr("sp-mem-guest: host block 0x%lx: read 0x%lx, want 0x%lx\n",
               a, v, host_pattern(a));
            return false;
        }
    }
    return true;
}

static void fill(uint64_t start, uint64_t end, uint32_t node)
{
    uint64_t a;

    for (a = start; a < end; a += 8) {
        *(volatile uint64_t *)a = guest_pattern(a, node);
    }
}

static bool verify(uint64_t start, uint64_t end, uint32_t node)
{
    uint64_t a;

    for (a = start; a < end; a += 8) {
        uint64_t v = *(volatile uint64_t *)a;

        if (v != guest_pattern(a, node)) {
            pr("sp-mem-guest: 0x%lx: read 0x%lx, want 0x%lx\n",
               a, v, guest_pattern(a, node));
            return false;
        }
    }
    return true;
}

/*
 * Test [base, base+size): check the host block, write the guest pattern
 * everywhere else, read it all back, and check the host block again.
 */
static void test_range(uint64_t base, uint64_t size, uint32_t node,
                       bool *host_ok, bool *pattern_ok)
{
    uint64_t hb = base + HOST_BLOCK(size);

    *host_ok = check_host_block(base, size);
    fill(base, hb, node);
    fill(hb + BLOCK_SIZE, base + size, node);
    *pattern_ok = verify(base, hb, node) &&
                  verify(hb + BLOCK_SIZE, base + size, node);
    *host_ok = check_host_block(base, size) && *host_ok;
}

/* --- main ------------------------------------------------------------- */

static const char *ok(bool b)
{
    if (!b) {
        errors++;
    }
    return b ? "ok" : "FAIL";
}

/* Check and test one sp-mem node; false if it could not be parsed. */
static bool do_device(const void *fdt, int parent, int node, unsigned idx)
{
    const char *name = fdt_get_name(fdt, node, NULL);
    const fdt32_t *reg, *nid;
    uint64_t addr, size;
    uint32_t numa;
    bool nomem, host_ok, pattern_ok;
    int len, ac, sc;

    if (!get_cells(fdt, parent, &ac, &sc)) {
        pr("sp-mem-guest: /reserved-memory: unsupported cell sizes\n");
        return false;
    }
    reg = fdt_getprop(fdt, node, "reg", &len);
    if (!reg || len != 4 * (ac + sc)) {
        pr("sp-mem-guest: %s: reg must hold one (address, size) pair\n", name);
        return false;
    }
    addr = read_cells(reg, ac);
    size = read_cells(reg + ac, sc);

    nid = fdt_getprop(fdt, node, "numa-node-id", &len);
    if (!nid || len != 4) {
        pr("sp-mem-guest: %s: no numa-node-id\n", name);
        return false;
    }
    numa = fdt32_ld(nid);

    if (!fdt_getprop(fdt, node, "no-map", NULL)) {
        pr("sp-mem-guest: %s: no no-map property\n", name);
        errors++;
    }
    if ((addr | size) % BLOCK_SIZE || size < MIN_SIZE) {
        pr("sp-mem-guest: %s: range 0x%lx+0x%lx not testable\n",
           name, addr, size);
        return false;
    }

    nomem = !memory_overlaps(fdt, addr, size);
    test_range(addr, size, numa, &host_ok, &pattern_ok);

    if (nr_ranges < MAX_DEVICES) {
        ranges[nr_ranges].addr = addr;
        ranges[nr_ranges].size = size;
        ranges[nr_ranges].node = numa;
        nr_ranges++;
    }

    pr("sp-mem %u addr=0x%lx size=0x%lx node=%u nomem-overlap=%s",
       idx, addr, size, numa, ok(nomem));
    pr(" host-pattern=%s", ok(host_ok));
    pr(" pattern=%s\n", ok(pattern_ok));
    return true;
}

/* Writer mode: rewrite every range forever, a generation at a time. */
static void __attribute__((noreturn)) writer(void)
{
    uint64_t gen, a;
    unsigned i;

    for (gen = 1;; gen++) {
        pr("sp-mem-guest: writer generation %lu\n", gen);
        for (i = 0; i < nr_ranges; i++) {
            uint64_t base = ranges[i].addr, end = base + ranges[i].size;
            uint64_t hb = base + HOST_BLOCK(ranges[i].size);

            for (a = base; a < end; a += 8) {
                if (a == hb) {
                    a += BLOCK_SIZE - 8;
                    continue;
                }
                *(volatile uint64_t *)a = guest_pattern(a, ranges[i].node) + gen;
            }
        }
    }
}

/* Is @word somewhere in /chosen/bootargs (-append)? */
static bool bootarg(const void *fdt, const char *word)
{
    int chosen = fdt_path_offset(fdt, "/chosen");
    const int wlen = strlen(word);
    const char *args;
    int len, i;

    if (chosen < 0) {
        return false;
    }
    args = fdt_getprop(fdt, chosen, "bootargs", &len);
    for (i = 0; args && i + wlen <= len; i++) {
        if (!memcmp(args + i, word, wlen)) {
            return true;
        }
    }
    return false;
}

static bool writer_requested(const void *fdt)
{
    return bootarg(fdt, "sp-mem-writer");
}

/* --- bench mode ------------------------------------------------------- */

/*
 * With "sp-mem-bench" in bootargs the guest tests nothing: it times a
 * copy loop (bench/bench.py guest) on the first sp-mem range and on
 * ordinary RAM (the middle of the first /memory node), BENCH_BUF bytes
 * from the first half of a 2 * BENCH_BUF window to the second, in
 * BENCH_ROUNDS rounds that alternate which kind goes first, with the
 * generic timer (CNTVCT_EL0 at CNTFRQ_EL0 Hz).  One line per copy:
 *   sp-mem-bench round=R kind=ram|spmem bytes=N ticks=T
 * then "sp-mem-bench: done" and power off.
 */
#define BENCH_BUF       (16ULL << 20)
#define BENCH_ROUNDS    8

static inline uint64_t cntvct(void)
{
    uint64_t v;

    __asm__ volatile("isb\n\tmrs %0, cntvct_el0" : "=r"(v) : : "memory");
    return v;
}

static inline uint64_t cntfrq(void)
{
    uint64_t v;

    __asm__ volatile("mrs %0, cntfrq_el0" : "=r"(v));
    return v;
}

/* Aligned 64-bit copy, four words at a time (the MMU is off). */
static void __attribute__((noinline)) copy_words(uint64_t *d, const uint64_t *s,
                                                 uint64_t bytes)
{
    uint64_t i;

    for (i = 0; i < bytes / 8; i += 4) {
        uint64_t a = s[i], b = s[i + 1], c = s[i + 2], e = s[i + 3];

        d[i] = a;
        d[i + 1] = b;
        d[i + 2] = c;
        d[i + 3] = e;
    }
}

/* First reg entry of the first node that matches; false if none fits. */
static bool bench_range(const void *fdt, bool spmem, uint64_t *addr)
{
    int node, parent, len, ac, sc;
    const fdt32_t *reg;
    uint64_t a, size;

    if (spmem) {
        node = fdt_node_offset_by_compatible(fdt, -1, "qemu,sp-mem");
    } else {
        node = fdt_node_offset_by_prop_value(fdt, -1, "device_type", "memory",
                                             sizeof("memory"));
    }
    if (node < 0) {
        return false;
    }
    parent = fdt_parent_offset(fdt, node);
    reg = fdt_getprop(fdt, node, "reg", &len);
    if (parent < 0 || !get_cells(fdt, parent, &ac, &sc) || !reg ||
        len < 4 * (ac + sc)) {
        return false;
    }
    a = read_cells(reg, ac);
    size = read_cells(reg + ac, sc);
    if (!spmem) {
        /* The middle of RAM: clear of the DTB, this image and its stack. */
        if (size < 8 * BENCH_BUF) {
            return false;
        }
        a += (size / 2) & ~(BENCH_BUF - 1);
    } else if (size < 2 * BENCH_BUF) {
        return false;
    }
    *addr = a;
    return true;
}

static uint64_t bench_copy(uint64_t base)
{
    uint64_t t0 = cntvct();

    copy_words((uint64_t *)(base + BENCH_BUF), (const uint64_t *)base,
               BENCH_BUF);
    return cntvct() - t0;
}

static bool bench(const void *fdt)
{
    uint64_t base[2], a;
    static const char *const kind[2] = { "ram", "spmem" };
    unsigned r, k;

    if (!bench_range(fdt, false, &base[0]) ||
        !bench_range(fdt, true, &base[1])) {
        pr("sp-mem-bench: need a /memory node of at least %lu bytes and an"
           " sp-mem range of at least %lu bytes\n", 8 * BENCH_BUF,
           2 * BENCH_BUF);
        return false;
    }
    pr("sp-mem-bench: freq=%lu ram=0x%lx spmem=0x%lx bytes=%lu rounds=%u\n",
       cntfrq(), base[0], base[1], BENCH_BUF, BENCH_ROUNDS);
    /* Untimed: a source pattern, and one copy each to fault everything in. */
    for (k = 0; k < 2; k++) {
        for (a = base[k]; a < base[k] + BENCH_BUF; a += 8) {
            *(volatile uint64_t *)a = guest_pattern(a, k);
        }
        bench_copy(base[k]);
    }
    for (r = 0; r < BENCH_ROUNDS; r++) {
        for (k = 0; k < 2; k++) {
            unsigned which = k ^ (r & 1);

            pr("sp-mem-bench round=%u kind=%s bytes=%lu ticks=%lu\n", r,
               kind[which], BENCH_BUF, bench_copy(base[which]));
        }
    }
    pr("sp-mem-bench: done\n");
    return true;
}

int main(void)
{
    const void *fdt = (const void *)DTB_ADDR;
    unsigned count = 0;
    int err, parent, node;

    pr("sp-mem-guest: DTB at 0x%lx\n", DTB_ADDR);
    err = fdt_check_header(fdt);
    if (err) {
        pr("sp-mem-guest: no valid DTB at 0x%lx: %s\n",
           DTB_ADDR, fdt_strerror(err));
        errors++;
        goto out;
    }

    if (bootarg(fdt, "sp-mem-bench")) {
        return bench(fdt) ? 0 : 1;
    }

    /* No /reserved-memory at all simply means no sp-mem device. */
    parent = fdt_path_offset(fdt, "/reserved-memory");
    if (parent >= 0) {
        fdt_for_each_subnode(node, fdt, parent) {
            if (fdt_node_check_compatible(fdt, node, "qemu,sp-mem") != 0) {
                continue;
            }
            if (!do_device(fdt, parent, node, count)) {
                errors++;
            }
            count++;
        }
    }

out:
    pr("sp-mem-guest: %u devices, %u errors\n", count, errors);
    if (count && writer_requested(fdt)) {
        writer();
    }
    return errors ? 1 : 0;
}
