/*
 * QTest cases for sp-mem (specific-purpose memory) on the arm virt machine
 *
 * Copyright (c) 2026 The sp-mem-arm authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/units.h"
#include "libqtest.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include <libfdt.h>

/* virt: RAM starts at 1 GiB, device memory at the next GiB after RAM. */
#define RAM_BASE        0x40000000ULL
#define DEVMEM_BASE     (RAM_BASE + 1 * GiB)    /* with -m 1G */
#define SPMEM_SIZE      (256 * MiB)

/*
 * Three NUMA nodes: node 0 has all RAM and the CPUs, nodes 1 and 2 are
 * left for sp-mem.
 */
#define NUMA3_NODES \
    "-smp 2 -object memory-backend-ram,id=ram0,size=1G " \
    "-numa node,nodeid=0,memdev=ram0,cpus=0-1 " \
    "-numa node,nodeid=1 -numa node,nodeid=2 "
#define NUMA3 "-m 1G,maxmem=4G " NUMA3_NODES
/* With DIMM slots (pc-dimm needs them); device memory grows by 1G a slot. */
#define NUMA3_SLOTS "-m 1G,slots=2,maxmem=4G " NUMA3_NODES

#define BACKEND(id) \
    "-object memory-backend-ram,id=" id ",size=256M "

static char *dummy_fw;

/*
 * Run QEMU with @args, expecting it to refuse the configuration: it must
 * exit with status 1 (not by a signal, not by abort()) and print
 * @expected on stderr.  A configuration that is unexpectedly accepted is
 * killed by SIGALRM after a while and fails the test.
 */
static void child_alarm(gpointer data)
{
    alarm(60);
}

static void assert_refused(const char *args, const char *expected)
{
    g_autofree char *cmd = NULL;
    g_autofree char *err = NULL;
    g_auto(GStrv) argv = NULL;
    g_autoptr(GError) gerr = NULL;
    int status = -1;

    cmd = g_strdup_printf("%s -M virt -display none -nodefaults "
                          "-monitor none -serial none %s %s",
                          qtest_qemu_binary(NULL),
                          strstr(args, "-accel ") ? "" : "-accel qtest", args);
    g_assert(g_shell_parse_argv(cmd, NULL, &argv, &gerr));
    g_assert(g_spawn_sync(NULL, argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL,
                          child_alarm, NULL, NULL, &err, &status, &gerr));
    if (g_test_verbose() || !strstr(err, expected)) {
        g_test_message("cmd: %s", cmd);
        g_test_message("stderr: %s", err);
    }
    g_assert_false(WIFSIGNALED(status));
    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 1);
    g_assert_nonnull(strstr(err, expected));
}

/* Find the query-memory-devices entry with the given id. */
static QDict *find_memdev(QList *list, const char *id)
{
    const QListEntry *e;

    QLIST_FOREACH_ENTRY(list, e) {
        QDict *md = qobject_to(QDict, qlist_entry_obj(e));
        QDict *data = qdict_get_qdict(md, "data");

        if (g_str_equal(qdict_get_str(md, "type"), "sp-mem") &&
            g_str_equal(qdict_get_try_str(data, "id") ?: "", id)) {
            return data;
        }
    }
    return NULL;
}

static void check_spmem_info(QList *list, const char *id, uint64_t addr,
                             uint64_t size, int64_t node, const char *memdev)
{
    QDict *d = find_memdev(list, id);

    g_assert_nonnull(d);
    g_assert_cmphex(qdict_get_int(d, "addr"), ==, addr);
    g_assert_cmpuint(qdict_get_int(d, "size"), ==, size);
    g_assert_cmpint(qdict_get_int(d, "node"), ==, node);
    g_assert_cmpstr(qdict_get_str(d, "memdev"), ==, memdev);
}

static void test_query_two_devices(void)
{
    QTestState *qts;
    QDict *resp;
    QList *list;
    g_autofree char *hmp = NULL;
    g_autofree char *numa = NULL;

    /* sp1 is placed by the framework, sp2 at the address we ask for. */
    qts = qtest_init("-M virt -nodefaults " NUMA3 BACKEND("m1") BACKEND("m2")
                     "-device sp-mem,id=sp1,memdev=m1,node=1 "
                     "-device sp-mem,id=sp2,memdev=m2,node=2,addr=0xc0000000");

    resp = qtest_qmp(qts, "{ 'execute': 'query-memory-devices' }");
    list = qdict_get_qlist(resp, "return");
    g_assert_cmpint(qlist_size(list), ==, 2);
    check_spmem_info(list, "sp1", DEVMEM_BASE, SPMEM_SIZE, 1, "/objects/m1");
    check_spmem_info(list, "sp2", 0xc0000000ULL, SPMEM_SIZE, 2, "/objects/m2");
    qobject_unref(resp);

    hmp = qtest_hmp(qts, "info memory-devices");
    g_assert_nonnull(strstr(hmp, "Memory device [sp-mem]: \"sp1\"\r\n"
                            "  addr: 0x80000000\r\n"
                            "  size: 268435456\r\n"
                            "  node: 1\r\n"
                            "  memdev: /objects/m1\r\n"));
    g_assert_nonnull(strstr(hmp, "Memory device [sp-mem]: \"sp2\"\r\n"
                            "  addr: 0xc0000000\r\n"
                            "  size: 268435456\r\n"
                            "  node: 2\r\n"
                            "  memdev: /objects/m2\r\n"));

    /* The memory counts towards its node, not towards node 0. */
    numa = qtest_hmp(qts, "info numa");
    g_assert_nonnull(strstr(numa, "node 0 size: 1024 MB"));
    g_assert_nonnull(strstr(numa, "node 1 size: 256 MB"));
    g_assert_nonnull(strstr(numa, "node 2 size: 256 MB"));

    /* The size is also a read-only QOM property. */
    resp = qtest_qmp(qts, "{ 'execute': 'qom-get', 'arguments': "
                     "{ 'path': 'sp1', 'property': 'size' } }");
    g_assert_cmpuint(qdict_get_int(resp, "return"), ==, SPMEM_SIZE);
    qobject_unref(resp);

    qtest_quit(qts);
}

typedef struct RefusedCase {
    const char *name;
    const char *args;
    const char *expected;
    bool firmware;      /* pc-dimm on virt needs the ACPI GED, and so -bios */
} RefusedCase;

#define NO_MAXMEM \
    "-m 1G -smp 2 -object memory-backend-ram,id=ram0,size=1G " \
    "-numa node,nodeid=0,memdev=ram0 -numa node,nodeid=1 "

static const RefusedCase refused_cases[] = {
    /* memdev */
    { "memdev-missing", NUMA3 "-device sp-mem,node=1",
      "-device sp-mem,node=1: 'memdev' property is required" },
    { "memdev-unknown", NUMA3 "-device sp-mem,memdev=nosuch,node=1",
      "-device sp-mem,memdev=nosuch,node=1: Device 'nosuch' not found" },
    /* node */
    { "node-not-configured",
      NUMA3 BACKEND("m1") "-device sp-mem,memdev=m1,node=3",
      "'node' 3 is not a configured NUMA node (configured: 0-2)" },
    { "node-without-numa",
      "-m 1G,maxmem=4G " BACKEND("m1") "-device sp-mem,memdev=m1,node=1",
      "'node' 1 is not a configured NUMA node" },
    { "node-0-without-numa",
      "-m 1G,maxmem=4G " BACKEND("m1") "-device sp-mem,memdev=m1,node=0",
      "'node' 0 is not a configured NUMA node\n"
      "sp-mem memory belongs to a NUMA node given with -numa node,nodeid=0" },
    { "node-default-without-numa",
      "-m 1G,maxmem=4G " BACKEND("m1") "-device sp-mem,memdev=m1",
      "'node' 0 is not a configured NUMA node" },
    /* device memory */
    { "no-maxmem", NO_MAXMEM BACKEND("m1") "-device sp-mem,memdev=m1,node=1",
      "sp-mem needs device memory, but the machine has none\n"
      "Add 'maxmem' to -m" },
    { "maxmem-too-small",
      NUMA3 "-object memory-backend-ram,id=big,size=4G "
      "-device sp-mem,memdev=big,node=1",
      "not enough space, currently 0x0 in use of total space for memory "
      "devices 0xc0000000" },
    /* backend already in use */
    { "memdev-used-by-sp-mem",
      NUMA3 BACKEND("m1") "-device sp-mem,memdev=m1,node=1 "
      "-device sp-mem,memdev=m1,node=2",
      "memory backend 'm1' is already in use" },
    { "memdev-used-by-numa", NUMA3 "-device sp-mem,memdev=ram0,node=1",
      "memory backend 'ram0' is already in use" },
    { "memdev-used-by-pc-dimm",
      NUMA3_SLOTS BACKEND("m1") "-device pc-dimm,memdev=m1,node=0 "
      "-device sp-mem,memdev=m1,node=1",
      "memory backend 'm1' is already in use", true },
    { "memdev-used-by-sp-mem-then-pc-dimm",
      NUMA3_SLOTS BACKEND("m1") "-device sp-mem,memdev=m1,node=1 "
      "-device pc-dimm,memdev=m1,node=0",
      "can't use already busy memdev: m1", true },
    /* addr */
    { "addr-overlaps-sp-mem",
      NUMA3 BACKEND("m1") BACKEND("m2")
      "-device sp-mem,id=a,memdev=m1,node=1,addr=0x80000000 "
      "-device sp-mem,id=b,memdev=m2,node=2,addr=0x88000000",
      "address range conflicts with memory device id='a'" },
    { "addr-overlaps-pc-dimm",
      NUMA3_SLOTS BACKEND("m1") BACKEND("m2")
      "-device pc-dimm,id=d,memdev=m1,node=0,addr=0x80000000 "
      "-device sp-mem,id=b,memdev=m2,node=2,addr=0x80000000",
      "address range conflicts with memory device id='d'", true },
    { "addr-misaligned",
      NUMA3 BACKEND("m1") "-device sp-mem,memdev=m1,node=1,addr=0x80000800",
      "addr=0x80000800: address must be aligned to 0x" },
    { "addr-in-ram",
      NUMA3 BACKEND("m1") "-device sp-mem,memdev=m1,node=1,addr=0x40000000",
      "can't add memory device [0x40000000:0x10000000], "
      "usable range for memory devices [0x80000000:0xc0000000]" },
    { "addr-beyond-device-memory",
      NUMA3 BACKEND("m1") "-device sp-mem,memdev=m1,node=1,addr=0x140000000",
      "can't add memory device [0x140000000:0x10000000], "
      "usable range for memory devices [0x80000000:0xc0000000]" },
    { "addr-straddles-end",
      NUMA3 BACKEND("m1") "-device sp-mem,memdev=m1,node=1,addr=0x138000000",
      "can't add memory device [0x138000000:0x10000000], "
      "usable range for memory devices [0x80000000:0xc0000000]" },
};

static void test_refused(const void *data)
{
    const RefusedCase *c = data;
    g_autofree char *args = g_strdup_printf("%s%s %s",
                                            c->firmware ? "-bios " : "",
                                            c->firmware ? dummy_fw : "",
                                            c->args);

    assert_refused(args, c->expected);
}

static void test_refused_mte(void)
{
    /* The refusal comes before the CPU runs, but MTE needs TCG. */
    if (!qtest_has_accel("tcg")) {
        g_test_skip("TCG not available");
        return;
    }
    assert_refused("-accel tcg -cpu max -M mte=on -S " NUMA3 BACKEND("m1")
                   "-device sp-mem,memdev=m1,node=1",
                   "sp-mem is not supported with 'mte=on'");
}

static void test_refused_other_machine(void)
{
    /* A machine that does not place sp-mem must not accept it. */
    assert_refused("-M none " BACKEND("m1") "-device sp-mem,memdev=m1",
                   "machine type 'none' does not support sp-mem");
}

/* Several devices on several nodes next to pc-dimm and virtio-mem-pci. */
static void test_mixed_memory_devices(void)
{
    QTestState *qts;
    QDict *resp;
    QList *list;
    const QListEntry *e;
    int dimms = 0, vmems = 0, spmems = 0;

    qts = qtest_initf("-M virt -nodefaults -bios %s " NUMA3_SLOTS
                      BACKEND("m1") BACKEND("m2") BACKEND("m3") BACKEND("d1")
                      "-object memory-backend-ram,id=vm1,size=512M "
                      "-device pc-dimm,id=dimm1,memdev=d1,node=0 "
                      "-device sp-mem,id=sp1,memdev=m1,node=1 "
                      "-device sp-mem,id=sp2,memdev=m2,node=2 "
                      "-device virtio-mem-pci,id=vmem1,memdev=vm1,node=0,"
                      "requested-size=0 "
                      "-device sp-mem,id=sp3,memdev=m3,node=1",
                      dummy_fw);
    resp = qtest_qmp(qts, "{ 'execute': 'query-memory-devices' }");
    list = qdict_get_qlist(resp, "return");
    QLIST_FOREACH_ENTRY(list, e) {
        QDict *md = qobject_to(QDict, qlist_entry_obj(e));
        const char *type = qdict_get_str(md, "type");

        dimms += g_str_equal(type, "dimm");
        vmems += g_str_equal(type, "virtio-mem");
        spmems += g_str_equal(type, "sp-mem");
    }
    g_assert_cmpint(dimms, ==, 1);
    g_assert_cmpint(vmems, ==, 1);
    g_assert_cmpint(spmems, ==, 3);
    /*
     * Placed in creation order, one after the other: dimm1, sp1, sp2, then
     * 512M of virtio-mem before sp3.
     */
    check_spmem_info(list, "sp1", DEVMEM_BASE + SPMEM_SIZE, SPMEM_SIZE, 1,
                     "/objects/m1");
    check_spmem_info(list, "sp2", DEVMEM_BASE + 2 * SPMEM_SIZE, SPMEM_SIZE, 2,
                     "/objects/m2");
    check_spmem_info(list, "sp3", DEVMEM_BASE + 3 * SPMEM_SIZE + 512 * MiB,
                     SPMEM_SIZE, 1,
                     "/objects/m3");
    qobject_unref(resp);
    qtest_quit(qts);
}

static void fill_pattern(uint8_t *buf, size_t len, uint8_t seed)
{
    for (size_t i = 0; i < len; i++) {
        buf[i] = (uint8_t)(seed + i * 7 + (i >> 8));
    }
}

#define DATA_LEN (64 * KiB)

/*
 * The guest-physical range of the device is the backend: what the guest
 * writes lands in the shared file, and what the host writes to the file
 * the guest reads, at both ends of the range.
 */
static void test_data_path(void)
{
    g_autofree char *path = NULL;
    g_autofree uint8_t *wbuf = g_malloc(DATA_LEN);
    g_autofree uint8_t *rbuf = g_malloc(DATA_LEN);
    const uint64_t offsets[] = { 0, SPMEM_SIZE - DATA_LEN };
    QTestState *qts;
    int fd;

    fd = g_file_open_tmp("spmem-data-XXXXXX", &path, NULL);
    g_assert_cmpint(fd, >=, 0);

    qts = qtest_initf("-M virt -nodefaults " NUMA3
                      "-object memory-backend-file,id=f1,size=256M,"
                      "mem-path=%s,share=on "
                      "-device sp-mem,id=sp1,memdev=f1,node=1,addr=0x90000000",
                      path);

    for (int i = 0; i < ARRAY_SIZE(offsets); i++) {
        uint64_t gpa = 0x90000000ULL + offsets[i];

        /* guest -> backend file */
        fill_pattern(wbuf, DATA_LEN, 0x11 + i);
        qtest_memwrite(qts, gpa, wbuf, DATA_LEN);
        g_assert_cmpint(pread(fd, rbuf, DATA_LEN, offsets[i]), ==, DATA_LEN);
        g_assert_cmpmem(rbuf, DATA_LEN, wbuf, DATA_LEN);

        /* backend file -> guest */
        fill_pattern(wbuf, DATA_LEN, 0x5a + i);
        g_assert_cmpint(pwrite(fd, wbuf, DATA_LEN, offsets[i]), ==, DATA_LEN);
        qtest_memread(qts, gpa, rbuf, DATA_LEN);
        g_assert_cmpmem(rbuf, DATA_LEN, wbuf, DATA_LEN);
    }

    /* Just past the device, nothing of the backend is visible. */
    g_assert_cmphex(qtest_readq(qts, 0x90000000ULL + SPMEM_SIZE), ==, 0);

    qtest_quit(qts);
    close(fd);
    unlink(path);
}

/*
 * sp-mem is cold-plug only: device_add and device_del are refused at run
 * time, QEMU keeps running, and the memory keeps its content.
 */
static void test_runtime_refusals(void)
{
    QTestState *qts;
    QDict *resp;
    const uint64_t gpa = DEVMEM_BASE + 0x1000;
    const uint64_t magic = 0x5350204d454d2121ULL;

    qts = qtest_init("-M virt -nodefaults " NUMA3 BACKEND("m1") BACKEND("m2")
                     "-device sp-mem,id=sp1,memdev=m1,node=1");
    qtest_writeq(qts, gpa, magic);

    resp = qtest_qmp_assert_failure_ref(qts,
        "{ 'execute': 'device_add', 'arguments': "
        "{ 'driver': 'sp-mem', 'id': 'sp2', 'memdev': 'm2', 'node': 2 } }");
    g_assert_cmpstr(qdict_get_str(resp, "desc"), ==,
                    "Device 'sp-mem' does not support hotplugging");
    qobject_unref(resp);

    resp = qtest_qmp_assert_failure_ref(qts,
        "{ 'execute': 'device_del', 'arguments': { 'id': 'sp1' } }");
    g_assert_cmpstr(qdict_get_str(resp, "desc"), ==,
                    "Device 'sp-mem' does not support hotplugging");
    qobject_unref(resp);

    /* Still running, still there, same content. */
    resp = qtest_qmp_assert_success_ref(qts,
                                        "{ 'execute': 'query-status' }");
    g_assert_cmpstr(qdict_get_str(resp, "status"), ==, "running");
    qobject_unref(resp);
    resp = qtest_qmp(qts, "{ 'execute': 'query-memory-devices' }");
    g_assert_nonnull(find_memdev(qdict_get_qlist(resp, "return"), "sp1"));
    g_assert_null(find_memdev(qdict_get_qlist(resp, "return"), "sp2"));
    qobject_unref(resp);
    g_assert_cmphex(qtest_readq(qts, gpa), ==, magic);

    qtest_quit(qts);
}

/*
 * Device tree checks.  QEMU writes the tree it hands to the guest with
 * -machine dumpdtb=FILE and exits; the tests read it back with libfdt.
 */
static void *dump_dtb(const char *args, size_t *size)
{
    g_autofree char *path = NULL;
    g_autofree char *cmd = NULL;
    g_autofree char *err = NULL;
    g_auto(GStrv) argv = NULL;
    g_autoptr(GError) gerr = NULL;
    char *fdt = NULL;
    gsize len;
    int status = -1, fd;

    fd = g_file_open_tmp("spmem-dtb-XXXXXX", &path, &gerr);
    g_assert_no_error(gerr);
    close(fd);
    cmd = g_strdup_printf("%s -M virt,dumpdtb=%s -display none -nodefaults "
                          "-monitor none -serial none -accel qtest %s",
                          qtest_qemu_binary(NULL), path, args);
    g_assert(g_shell_parse_argv(cmd, NULL, &argv, &gerr));
    g_assert(g_spawn_sync(NULL, argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL,
                          child_alarm, NULL, NULL, &err, &status, &gerr));
    if (!WIFEXITED(status) || WEXITSTATUS(status)) {
        g_test_message("cmd: %s", cmd);
        g_test_message("stderr: %s", err);
    }
    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 0);
    g_assert_true(g_file_get_contents(path, &fdt, &len, &gerr));
    g_assert_no_error(gerr);
    unlink(path);
    g_assert_cmpint(fdt_check_header(fdt), ==, 0);
    g_assert_cmpuint(fdt_totalsize(fdt), <=, len);
    if (size) {
        *size = len;
    }
    return fdt;
}

static uint64_t fdt_read_cells(const fdt32_t *p, int cells)
{
    uint64_t v = 0;

    for (int i = 0; i < cells; i++) {
        v = (v << 32) | fdt32_to_cpu(p[i]);
    }
    return v;
}

typedef struct DtRange {
    uint64_t addr, size;
    uint32_t node;
} DtRange;

/* Check one sp-mem node of /reserved-memory against what was configured. */
static void check_dt_spmem(const void *fdt, const DtRange *r)
{
    static const char compat[] = "qemu,sp-mem\0special-purpose";
    g_autofree char *path = g_strdup_printf("/reserved-memory/sp-mem@%"
                                            PRIx64, r->addr);
    int rm = fdt_path_offset(fdt, "/reserved-memory");
    int off = fdt_path_offset(fdt, path);
    int ac = fdt_address_cells(fdt, rm), sc = fdt_size_cells(fdt, rm);
    const fdt32_t *reg, *nid;
    const void *prop;
    int len;

    g_assert_cmpint(off, >=, 0);
    reg = fdt_getprop(fdt, off, "reg", &len);
    g_assert_nonnull(reg);
    g_assert_cmpint(len, ==, (ac + sc) * 4);
    g_assert_cmphex(fdt_read_cells(reg, ac), ==, r->addr);
    g_assert_cmphex(fdt_read_cells(reg + ac, sc), ==, r->size);
    prop = fdt_getprop(fdt, off, "no-map", &len);
    g_assert_nonnull(prop);
    g_assert_cmpint(len, ==, 0);
    nid = fdt_getprop(fdt, off, "numa-node-id", &len);
    g_assert_nonnull(nid);
    g_assert_cmpint(len, ==, 4);
    g_assert_cmpuint(fdt32_to_cpu(*nid), ==, r->node);
    prop = fdt_getprop(fdt, off, "compatible", &len);
    g_assert_nonnull(prop);
    g_assert_cmpmem(prop, len, compat, sizeof(compat));
    g_assert_cmpint(fdt_node_check_compatible(fdt, off, "special-purpose"),
                    ==, 0);
}

/*
 * The whole tree: exactly @n sp-mem children, each as configured, none
 * of them overlapped by a /memory node, and a distance map with
 * @nodes nodes whose distances are @dist (NULL: 10 local, 20 remote).
 */
static void check_dt(const void *fdt, const DtRange *r, int n, int nodes,
                     const uint32_t *dist)
{
    const fdt32_t *matrix;
    int rm, off, len, count = 0;

    rm = fdt_path_offset(fdt, "/reserved-memory");
    g_assert_cmpint(rm, >=, 0);
    g_assert_cmpint(fdt_address_cells(fdt, rm), ==, 2);
    g_assert_cmpint(fdt_size_cells(fdt, rm), ==, 2);
    g_assert_nonnull(fdt_getprop(fdt, rm, "ranges", &len));
    g_assert_cmpint(len, ==, 0);

    fdt_for_each_subnode(off, fdt, rm) {
        if (!fdt_node_check_compatible(fdt, off, "qemu,sp-mem")) {
            count++;
        }
    }
    g_assert_cmpint(count, ==, n);

    for (int i = 0; i < n; i++) {
        check_dt_spmem(fdt, &r[i]);
    }

    /* No /memory node (device_type "memory") may cover an sp-mem byte. */
    fdt_for_each_subnode(off, fdt, 0) {
        const char *type = fdt_getprop(fdt, off, "device_type", NULL);
        const fdt32_t *reg;

        if (!type || strcmp(type, "memory")) {
            continue;
        }
        reg = fdt_getprop(fdt, off, "reg", &len);
        g_assert_nonnull(reg);
        for (int j = 0; j + 4 <= len / 4; j += 4) {
            uint64_t base = fdt_read_cells(reg + j, 2);
            uint64_t size = fdt_read_cells(reg + j + 2, 2);

            for (int i = 0; i < n; i++) {
                g_assert_true(base + size <= r[i].addr ||
                              r[i].addr + r[i].size <= base);
            }
        }
    }

    off = fdt_path_offset(fdt, "/distance-map");
    g_assert_cmpint(off, >=, 0);
    g_assert_cmpint(fdt_node_check_compatible(fdt, off,
                                              "numa-distance-map-v1"), ==, 0);
    matrix = fdt_getprop(fdt, off, "distance-matrix", &len);
    g_assert_nonnull(matrix);
    g_assert_cmpint(len, ==, nodes * nodes * 3 * 4);
    for (int i = 0; i < nodes; i++) {
        for (int j = 0; j < nodes; j++) {
            const fdt32_t *e = matrix + (i * nodes + j) * 3;
            uint32_t want = dist ? dist[i * nodes + j] : (i == j ? 10 : 20);

            g_assert_cmpuint(fdt32_to_cpu(e[0]), ==, i);
            g_assert_cmpuint(fdt32_to_cpu(e[1]), ==, j);
            g_assert_cmpuint(fdt32_to_cpu(e[2]), ==, want);
        }
    }
}

static void test_dt_one_device(void)
{
    const DtRange r[] = { { DEVMEM_BASE, SPMEM_SIZE, 1 } };
    g_autofree void *fdt = dump_dtb(NUMA3 BACKEND("m1")
                                    "-device sp-mem,memdev=m1,node=1", NULL);

    check_dt(fdt, r, ARRAY_SIZE(r), 3, NULL);
}

static void test_dt_two_devices(void)
{
    const DtRange r[] = {
        { 0xc0000000ULL, SPMEM_SIZE, 1 },
        { 0x100000000ULL, 512 * MiB, 2 },
    };
    g_autofree void *fdt = dump_dtb(NUMA3 BACKEND("m1")
                                    "-object memory-backend-ram,id=m2,"
                                    "size=512M "
                                    "-device sp-mem,memdev=m1,node=1,"
                                    "addr=0xc0000000 "
                                    "-device sp-mem,memdev=m2,node=2,"
                                    "addr=0x100000000", NULL);

    check_dt(fdt, r, ARRAY_SIZE(r), 3, NULL);
}

/* Eight devices over four nodes, two of which also have RAM. */
static void test_dt_several_devices(void)
{
    g_autoptr(GString) args = g_string_new(
        "-m 2G,maxmem=6G -smp 2 "
        "-object memory-backend-ram,id=r0,size=1G "
        "-object memory-backend-ram,id=r1,size=1G "
        "-numa node,nodeid=0,memdev=r0,cpus=0 "
        "-numa node,nodeid=1,memdev=r1,cpus=1 "
        "-numa node,nodeid=2 -numa node,nodeid=3 ");
    DtRange r[8];
    g_autofree void *fdt = NULL;

    for (int i = 0; i < ARRAY_SIZE(r); i++) {
        /* virt: device memory starts at the GiB after 2G of RAM. */
        r[i] = (DtRange) { 0xc0000000ULL + i * 128 * MiB, 128 * MiB, i % 4 };
        g_string_append_printf(args, "-object memory-backend-ram,id=s%d,"
                               "size=128M -device sp-mem,memdev=s%d,node=%d ",
                               i, i, r[i].node);
    }
    fdt = dump_dtb(args->str, NULL);
    check_dt(fdt, r, ARRAY_SIZE(r), 4, NULL);
}

/* Distances the user gives with -numa dist end up in the distance map. */
static void test_dt_user_distances(void)
{
    const DtRange r[] = { { DEVMEM_BASE, SPMEM_SIZE, 2 } };
    const uint32_t dist[] = {
        10, 30, 40,
        30, 10, 50,
        40, 50, 10,
    };
    g_autofree void *fdt = dump_dtb(NUMA3 BACKEND("m1")
                                    "-numa dist,src=0,dst=1,val=30 "
                                    "-numa dist,src=0,dst=2,val=40 "
                                    "-numa dist,src=1,dst=2,val=50 "
                                    "-device sp-mem,memdev=m1,node=2", NULL);

    check_dt(fdt, r, ARRAY_SIZE(r), 3, dist);
}

/*
 * A -dtb tree gets the same nodes.  The user's tree here is the machine's
 * own, with a /reserved-memory node of its own that must survive.
 */
static void test_dt_user_dtb(void)
{
    const DtRange r[] = {
        { DEVMEM_BASE, SPMEM_SIZE, 1 },
        { DEVMEM_BASE + SPMEM_SIZE, SPMEM_SIZE, 2 },
    };
    g_autofree char *path = NULL;
    g_autofree char *args = NULL;
    g_autofree void *user = NULL;
    g_autofree void *fdt = NULL;
    size_t len;
    int fd, rm, off;

    user = dump_dtb(NUMA3, &len);
    g_assert_cmpint(fdt_path_offset(user, "/reserved-memory"), <, 0);
    g_assert_cmpint(fdt_open_into(user, user, len), ==, 0);
    rm = fdt_add_subnode(user, 0, "reserved-memory");
    g_assert_cmpint(rm, >=, 0);
    g_assert_cmpint(fdt_setprop_u32(user, rm, "#address-cells", 2), ==, 0);
    g_assert_cmpint(fdt_setprop_u32(user, rm, "#size-cells", 2), ==, 0);
    g_assert_cmpint(fdt_setprop(user, rm, "ranges", NULL, 0), ==, 0);
    off = fdt_add_subnode(user, rm, "fw@7f000000");
    g_assert_cmpint(off, >=, 0);
    g_assert_cmpint(fdt_setprop_u64(user, off, "reg", 0x7f000000), ==, 0);
    g_assert_cmpint(fdt_appendprop_u64(user, off, "reg", 0x100000), ==, 0);
    g_assert_cmpint(fdt_pack(user), ==, 0);

    fd = g_file_open_tmp("spmem-user-XXXXXX.dtb", &path, NULL);
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(write(fd, user, fdt_totalsize(user)), ==,
                    fdt_totalsize(user));
    close(fd);

    args = g_strdup_printf("-dtb %s " NUMA3 BACKEND("m1") BACKEND("m2")
                           "-device sp-mem,memdev=m1,node=1 "
                           "-device sp-mem,memdev=m2,node=2", path);
    fdt = dump_dtb(args, NULL);
    unlink(path);
    check_dt(fdt, r, ARRAY_SIZE(r), 3, NULL);
    g_assert_cmpint(fdt_path_offset(fdt, "/reserved-memory/fw@7f000000"),
                    >=, 0);
}

int main(int argc, char **argv)
{
    g_autoptr(GError) err = NULL;
    int fd, ret;

    g_test_init(&argc, &argv, NULL);

    if (!qtest_has_machine("virt") || !qtest_has_device("sp-mem")) {
        g_test_skip("virt machine or sp-mem device not available");
        return g_test_run();
    }

    /* Any file loaded as -bios makes virt create its ACPI GED. */
    fd = g_file_open_tmp("spmem-fw-XXXXXX", &dummy_fw, &err);
    g_assert_no_error(err);
    g_assert_cmpint(ftruncate(fd, 64 * KiB), ==, 0);
    close(fd);

    qtest_add_func("/arm/spmem/query-two-devices", test_query_two_devices);
    for (int i = 0; i < ARRAY_SIZE(refused_cases); i++) {
        g_autofree char *name = g_strdup_printf("/arm/spmem/refused/%s",
                                                refused_cases[i].name);

        qtest_add_data_func(name, &refused_cases[i], test_refused);
    }
    qtest_add_func("/arm/spmem/refused-mte", test_refused_mte);
    qtest_add_func("/arm/spmem/refused-other-machine",
                   test_refused_other_machine);
    qtest_add_func("/arm/spmem/mixed-memory-devices",
                   test_mixed_memory_devices);
    qtest_add_func("/arm/spmem/data-path", test_data_path);
    qtest_add_func("/arm/spmem/runtime-refusals", test_runtime_refusals);
    qtest_add_func("/arm/spmem/dt/one-device", test_dt_one_device);
    qtest_add_func("/arm/spmem/dt/two-devices", test_dt_two_devices);
    qtest_add_func("/arm/spmem/dt/several-devices", test_dt_several_devices);
    qtest_add_func("/arm/spmem/dt/user-distances", test_dt_user_distances);
    qtest_add_func("/arm/spmem/dt/user-dtb", test_dt_user_dtb);

    ret = g_test_run();
    unlink(dummy_fw);
    g_free(dummy_fw);
    return ret;
}
