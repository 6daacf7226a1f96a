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
#include "qobject/qjson.h"
#include "qobject/qlist.h"
#include "qapi/error.h"
#include <libfdt.h>
#include "arm-spmem-util.h"

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

/*
 * Run QEMU with @args, expecting it to refuse the configuration: it must
 * exit with status 1 (not by a signal, not by abort()) and print
 * @expected on stderr.  A configuration that is unexpectedly accepted is
 * killed by SIGALRM after a while and fails the test.
 */
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
                          spmem_child_alarm, NULL, NULL, &err, &status, &gerr));
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
                            "  node: 1\r\n"
                            "  size: 268435456\r\n"
                            "  memdev: /objects/m1\r\n"));
    g_assert_nonnull(strstr(hmp, "Memory device [sp-mem]: \"sp2\"\r\n"
                            "  addr: 0xc0000000\r\n"
                            "  node: 2\r\n"
                            "  size: 268435456\r\n"
                            "  memdev: /objects/m2\r\n"));

    /* The memory counts towards its node, not towards node 0. */
    numa = qtest_hmp(qts, "info numa");
    g_assert_nonnull(strstr(numa, "node 0 size: 1024 MB"));
    g_assert_nonnull(strstr(numa, "node 1 size: 256 MB"));
    g_assert_nonnull(strstr(numa, "node 2 size: 256 MB"));

    /* As upstream's device, no QOM 'size': the backend has it. */
    resp = qtest_qmp(qts, "{ 'execute': 'qom-get', 'arguments': "
                     "{ 'path': 'sp1', 'property': 'size' } }");
    g_assert_true(qdict_haskey(resp, "error"));
    qobject_unref(resp);

    qtest_quit(qts);
}

typedef struct RefusedCase {
    const char *name;
    const char *args;   /* "@DIR@" stands for a temporary directory */
    const char *expected;
    bool firmware;      /* pc-dimm on virt needs the ACPI GED, and so -bios */
    const char *machine;    /* skipped unless this build has the machine */
    const char *device;     /* skipped unless this build has the device */
} RefusedCase;

#define NO_MAXMEM \
    "-m 1G -smp 2 -object memory-backend-ram,id=ram0,size=1G " \
    "-numa node,nodeid=0,memdev=ram0 -numa node,nodeid=1 "
/* Two nodes, and as much device memory as asked for. */
#define NUMA2_MAXMEM(m) \
    "-m 1G,maxmem=" m " -smp 2 -object memory-backend-ram,id=ram0,size=1G " \
    "-numa node,nodeid=0,memdev=ram0,cpus=0-1 -numa node,nodeid=1 "
/* A single node. */
#define NUMA1 \
    "-m 1G,maxmem=4G -smp 2 -object memory-backend-ram,id=ram0,size=1G " \
    "-numa node,nodeid=0,memdev=ram0,cpus=0-1 "

/*
 * Every expected message was taken from a run of the configuration.  The
 * "-device ...:" or "-object ...:" prefix QEMU puts in front of an error
 * is part of the expectation where the message alone does not name the
 * option that is wrong.
 */
static const RefusedCase refused_cases[] = {
    /* memdev */
    { "memdev-missing", NUMA3 "-device sp-mem,node=1",
      "-device sp-mem,node=1: 'memdev' property must be set" },
    { "memdev-unknown", NUMA3 "-device sp-mem,memdev=nosuch,node=1",
      "-device sp-mem,memdev=nosuch,node=1: Device 'nosuch' not found" },
    { "memdev-not-a-backend",
      NUMA3 "-object iothread,id=io0 -device sp-mem,memdev=io0,node=1",
      "-device sp-mem,memdev=io0,node=1: Invalid parameter type for "
      "'memdev', expected: memory-backend" },
    /* node */
    { "node-not-configured",
      NUMA3 BACKEND("m1") "-device sp-mem,memdev=m1,node=3",
      "'node' property value 3 exceeds the number of NUMA nodes (3)" },
    { "node-uint32-max",
      NUMA3 BACKEND("m1") "-device sp-mem,memdev=m1,node=4294967295",
      "'node' property value 4294967295 exceeds the number of NUMA nodes "
      "(3)" },
    { "node-beyond-uint32",
      NUMA3 BACKEND("m1") "-device sp-mem,memdev=m1,node=4294967296",
      "-device sp-mem,memdev=m1,node=4294967296: "
      "Parameter 'node' expects uint32_t" },
    { "node-negative",
      NUMA3 BACKEND("m1") "-device sp-mem,memdev=m1,node=-1",
      "-device sp-mem,memdev=m1,node=-1: Parameter 'node' expects uint32_t" },
    { "node-beyond-single-node",
      NUMA1 BACKEND("m1") "-device sp-mem,memdev=m1,node=1",
      "'node' property value 1 exceeds the number of NUMA nodes (1)" },
    /* virt enables NUMA with one node when maxmem is given */
    { "node-without-numa",
      "-m 1G,maxmem=4G " BACKEND("m1") "-device sp-mem,memdev=m1,node=1",
      "'node' property value 1 exceeds the number of NUMA nodes (1)" },
    { "node-without-numa-or-maxmem",
      "-m 1G " BACKEND("m1") "-device sp-mem,memdev=m1,node=1",
      "'node' property value 1 exceeds the number of NUMA nodes (0)" },
    /* device memory */
    { "no-maxmem", NO_MAXMEM BACKEND("m1") "-device sp-mem,memdev=m1,node=1",
      "the configuration is not prepared for memory devices (e.g., for "
      "memory hotplug), consider specifying the maxmem option" },
    { "maxmem-equals-ram",
      NUMA2_MAXMEM("1G") BACKEND("m1") "-device sp-mem,memdev=m1,node=1",
      "-device sp-mem,memdev=m1,node=1: the configuration is not prepared "
      "for memory devices (e.g., for memory hotplug), consider specifying "
      "the maxmem option" },
    { "slots-without-maxmem",
      "-m 1G,slots=2 " BACKEND("m1") "-device sp-mem,memdev=m1",
      "slots specified but no max-size" },
    { "maxmem-too-small",
      NUMA3 "-object memory-backend-ram,id=big,size=4G "
      "-device sp-mem,memdev=big,node=1",
      "-device sp-mem,memdev=big,node=1: not enough space, currently 0x0 in "
      "use of total space for memory devices 0xc0000000" },
    { "maxmem-exceeded-by-two",
      NUMA3 "-object memory-backend-ram,id=m1,size=2G "
      "-object memory-backend-ram,id=m2,size=2G "
      "-device sp-mem,memdev=m1,node=1 -device sp-mem,memdev=m2,node=2",
      "-device sp-mem,memdev=m2,node=2: not enough space, currently "
      "0x80000000 in use of total space for memory devices 0xc0000000" },
    { "backend-larger-than-maxmem",
      NUMA3 "-object memory-backend-ram,id=m1,size=1T,reserve=off "
      "-device sp-mem,memdev=m1,node=1",
      "-device sp-mem,memdev=m1,node=1: not enough space, currently 0x0 in "
      "use of total space for memory devices 0xc0000000" },
    { "device-memory-fragmented",
      NUMA3 BACKEND("m1") "-object memory-backend-ram,id=m2,size=2G "
      "-device sp-mem,id=a,memdev=m1,node=1,addr=0xc0000000 "
      "-device sp-mem,memdev=m2,node=2",
      "-device sp-mem,memdev=m2,node=2: could not find position in guest "
      "address space for memory device - memory fragmented due to "
      "alignments" },
    /* highmem=off keeps all memory below 4 GiB: 1G of device memory here */
    { "highmem-off-addr-above-4g",
      "-M highmem=off " NUMA2_MAXMEM("2G") BACKEND("m1")
      "-device sp-mem,memdev=m1,node=1,addr=0x100000000",
      "-device sp-mem,memdev=m1,node=1,addr=0x100000000: can't add memory "
      "device [0x100000000:0x10000000], usable range for memory devices "
      "[0x80000000:0x40000000]" },
    { "highmem-off-backend-too-big",
      "-M highmem=off " NUMA2_MAXMEM("2G")
      "-object memory-backend-ram,id=m1,size=2G "
      "-device sp-mem,memdev=m1,node=1",
      "-device sp-mem,memdev=m1,node=1: not enough space, currently 0x0 in "
      "use of total space for memory devices 0x40000000" },
    /* backend already in use */
    { "memdev-used-by-sp-mem",
      NUMA3 BACKEND("m1") "-device sp-mem,memdev=m1,node=1 "
      "-device sp-mem,memdev=m1,node=2",
      "memory backend 'm1' is already in use" },
    { "memdev-used-by-numa", NUMA3 "-device sp-mem,memdev=ram0,node=1",
      "memory backend 'ram0' is already in use" },
    { "memdev-used-as-machine-ram",
      "-m 1G,maxmem=4G -object memory-backend-ram,id=mem,size=1G "
      "-M memory-backend=mem -device sp-mem,memdev=mem,node=0",
      "-device sp-mem,memdev=mem,node=0: memory backend 'mem' is already in "
      "use" },
    { "memdev-used-by-pc-dimm",
      NUMA3_SLOTS BACKEND("m1") "-device pc-dimm,memdev=m1,node=0 "
      "-device sp-mem,memdev=m1,node=1",
      "memory backend 'm1' is already in use", true },
    { "memdev-used-by-sp-mem-then-pc-dimm",
      NUMA3_SLOTS BACKEND("m1") "-device sp-mem,memdev=m1,node=1 "
      "-device pc-dimm,memdev=m1,node=0",
      "can't use already busy memdev: m1", true },
    { "memdev-used-by-nvdimm",
      "-M nvdimm=on " NUMA3_SLOTS BACKEND("m1")
      "-device nvdimm,memdev=m1,node=0 -device sp-mem,memdev=m1,node=1",
      "-device sp-mem,memdev=m1,node=1: memory backend 'm1' is already in "
      "use", false, NULL, "nvdimm" },
    { "memdev-used-by-sp-mem-then-nvdimm",
      "-M nvdimm=on " NUMA3_SLOTS BACKEND("m1")
      "-device sp-mem,memdev=m1,node=1 -device nvdimm,memdev=m1,node=0",
      "-device nvdimm,memdev=m1,node=0: can't use already busy memdev: m1",
      false, NULL, "nvdimm" },
    { "memdev-used-by-virtio-mem",
      NUMA3 BACKEND("m1")
      "-device virtio-mem-pci,memdev=m1,node=0,requested-size=0 "
      "-device sp-mem,memdev=m1,node=1",
      "-device sp-mem,memdev=m1,node=1: memory backend 'm1' is already in "
      "use", false, NULL, "virtio-mem-pci" },
    { "memdev-used-by-sp-mem-then-virtio-mem",
      NUMA3 BACKEND("m1") "-device sp-mem,memdev=m1,node=1 "
      "-device virtio-mem-pci,memdev=m1,node=0,requested-size=0",
      "-device virtio-mem-pci,memdev=m1,node=0,requested-size=0: 'memdev' "
      "property specifies a busy memdev: m1", false, NULL, "virtio-mem-pci" },
    /* backend size and alignment */
    { "backend-size-zero",
      NUMA3 "-object memory-backend-ram,id=m1,size=0 "
      "-device sp-mem,memdev=m1,node=1",
      "property 'size' of memory-backend-ram doesn't take value '0'" },
    { "backend-file-size-zero",
      NUMA3 "-object memory-backend-file,id=m1,size=0,mem-path=@DIR@ "
      "-device sp-mem,memdev=m1,node=1",
      "property 'size' of memory-backend-file doesn't take value '0'" },
    { "backend-without-size",
      NUMA3 "-object memory-backend-memfd,id=m1 "
      "-device sp-mem,memdev=m1,node=1",
      "-object memory-backend-memfd,id=m1: Parameter 'size' is missing" },
    { "backend-size-16E",
      NUMA3 "-object memory-backend-ram,id=m1,size=16E "
      "-device sp-mem,memdev=m1,node=1",
      "-object memory-backend-ram,id=m1,size=16E: Parameter 'size' expects "
      "a size value" },
    { "backend-size-8E",
      NUMA3 "-object memory-backend-ram,id=m1,size=8E,reserve=off "
      "-device sp-mem,memdev=m1,node=1",
      "cannot set up guest memory 'm1': Cannot allocate memory" },
    /* Anonymous RAM is 2 MiB aligned on x86-64 and aarch64 Linux hosts. */
    { "backend-ram-size-1M+4K",
      NUMA3 "-object memory-backend-ram,id=m1,size=1052672 "
      "-device sp-mem,memdev=m1,node=1",
      "-device sp-mem,memdev=m1,node=1: backend memory size must be "
      "multiple of 0x" },
    { "backend-ram-size-1M+1",
      NUMA3 "-object memory-backend-ram,id=m1,size=1048577 "
      "-device sp-mem,memdev=m1,node=1",
      "-device sp-mem,memdev=m1,node=1: backend memory size must be "
      "multiple of 0x" },
    { "backend-file-size-not-page-multiple",
      NUMA3 "-object memory-backend-file,id=m1,size=1048577,mem-path=@DIR@ "
      "-device sp-mem,memdev=m1,node=1",
      "backend 'memory-backend-file' memory size must be multiple of " },
    { "backend-file-size-not-multiple-of-align",
      NUMA3 "-object memory-backend-file,id=m1,size=256M,align=1G,"
      "mem-path=@DIR@ -device sp-mem,memdev=m1,node=1",
      "-device sp-mem,memdev=m1,node=1: backend memory size must be "
      "multiple of 0x40000000" },
    /* addr */
    { "addr-overlaps-sp-mem",
      NUMA3 BACKEND("m1") BACKEND("m2")
      "-device sp-mem,id=a,memdev=m1,node=1,addr=0x80000000 "
      "-device sp-mem,id=b,memdev=m2,node=2,addr=0x88000000",
      "-device sp-mem,id=b,memdev=m2,node=2,addr=0x88000000: address range "
      "conflicts with memory device id='a'" },
    { "addr-overlaps-pc-dimm",
      NUMA3_SLOTS BACKEND("m1") BACKEND("m2")
      "-device pc-dimm,id=d,memdev=m1,node=0,addr=0x80000000 "
      "-device sp-mem,id=b,memdev=m2,node=2,addr=0x80000000",
      "-device sp-mem,id=b,memdev=m2,node=2,addr=0x80000000: address range "
      "conflicts with memory device id='d'", true },
    { "addr-overlaps-nvdimm",
      "-M nvdimm=on " NUMA3_SLOTS BACKEND("m1") BACKEND("m2")
      "-device nvdimm,id=nv,memdev=m1,node=0,addr=0x80000000 "
      "-device sp-mem,memdev=m2,node=1,addr=0x88000000",
      "-device sp-mem,memdev=m2,node=1,addr=0x88000000: address range "
      "conflicts with memory device id='nv'", false, NULL, "nvdimm" },
    { "addr-overlaps-virtio-mem",
      NUMA3 "-object memory-backend-ram,id=m1,size=1G " BACKEND("m2")
      "-device virtio-mem-pci,id=vm,memdev=m1,node=0,requested-size=0,"
      "memaddr=0x80000000 -device sp-mem,memdev=m2,node=1,addr=0x90000000",
      "-device sp-mem,memdev=m2,node=1,addr=0x90000000: address range "
      "conflicts with memory device id='vm'", false, NULL, "virtio-mem-pci" },
    { "addr-misaligned",
      NUMA3 BACKEND("m1") "-device sp-mem,memdev=m1,node=1,addr=0x80000800",
      "addr=0x80000800: address must be aligned to 0x" },
    { "addr-misaligned-to-backend-align",
      NUMA3 "-object memory-backend-file,id=m1,size=1G,align=1G,"
      "mem-path=@DIR@ -device sp-mem,memdev=m1,node=1,addr=0x90000000",
      "-device sp-mem,memdev=m1,node=1,addr=0x90000000: address must be "
      "aligned to 0x40000000 bytes" },
    { "addr-not-a-number",
      NUMA3 BACKEND("m1") "-device sp-mem,memdev=m1,node=1,addr=foo",
      "-device sp-mem,memdev=m1,node=1,addr=foo: Parameter 'addr' expects "
      "integer" },
    { "addr-in-ram",
      NUMA3 BACKEND("m1") "-device sp-mem,memdev=m1,node=1,addr=0x40000000",
      "-device sp-mem,memdev=m1,node=1,addr=0x40000000: can't add memory "
      "device [0x40000000:0x10000000], "
      "usable range for memory devices [0x80000000:0xc0000000]" },
    { "addr-beyond-device-memory",
      NUMA3 BACKEND("m1") "-device sp-mem,memdev=m1,node=1,addr=0x140000000",
      "-device sp-mem,memdev=m1,node=1,addr=0x140000000: can't add memory "
      "device [0x140000000:0x10000000], "
      "usable range for memory devices [0x80000000:0xc0000000]" },
    { "addr-straddles-end",
      NUMA3 BACKEND("m1") "-device sp-mem,memdev=m1,node=1,addr=0x138000000",
      "-device sp-mem,memdev=m1,node=1,addr=0x138000000: can't add memory "
      "device [0x138000000:0x10000000], "
      "usable range for memory devices [0x80000000:0xc0000000]" },
    /* Beyond any CPU's physical address range (at most 52 bits). */
    { "addr-top-of-address-space",
      NUMA3 BACKEND("m1")
      "-device sp-mem,memdev=m1,node=1,addr=0xffffffffffe00000",
      "-device sp-mem,memdev=m1,node=1,addr=0xffffffffffe00000: can't add "
      "memory device [0xffffffffffe00000:0x10000000], "
      "usable range for memory devices [0x80000000:0xc0000000]" },
    { "addr-wraps-around",
      NUMA3 BACKEND("m1")
      "-device sp-mem,memdev=m1,node=1,addr=0xfffffffff0000000",
      "-device sp-mem,memdev=m1,node=1,addr=0xfffffffff0000000: can't add "
      "memory device [0xfffffffff0000000:0x10000000], "
      "usable range for memory devices [0x80000000:0xc0000000]" },
    /* the device itself */
    { "duplicate-id",
      NUMA3 BACKEND("m1") BACKEND("m2")
      "-device sp-mem,id=a,memdev=m1,node=1 "
      "-device sp-mem,id=a,memdev=m2,node=2",
      "-device sp-mem,id=a,memdev=m2,node=2: Duplicate ID 'a' for device" },
    { "duplicate-id-pc-dimm",
      NUMA3_SLOTS BACKEND("m1") BACKEND("m2")
      "-device sp-mem,id=a,memdev=m1,node=1 "
      "-device pc-dimm,id=a,memdev=m2,node=2",
      "-device pc-dimm,id=a,memdev=m2,node=2: Duplicate ID 'a' for device",
      true },
    { "size-is-the-backends",
      NUMA3 BACKEND("m1") "-device sp-mem,memdev=m1,node=1,size=1G",
      "-device sp-mem,memdev=m1,node=1,size=1G: Property 'sp-mem.size' not "
      "found" },
    { "unknown-property",
      NUMA3 BACKEND("m1") "-device sp-mem,memdev=m1,node=1,foo=1",
      "-device sp-mem,memdev=m1,node=1,foo=1: Property 'sp-mem.foo' not "
      "found" },
    { "on-a-bus",
      NUMA3 BACKEND("m1") "-device sp-mem,memdev=m1,node=1,bus=pcie.0",
      "-device sp-mem,memdev=m1,node=1,bus=pcie.0: Device 'sp-mem' can't go "
      "on PCIE bus" },
    /* machines that do not place sp-mem (the later -M wins) */
    { "machine-sbsa-ref",
      "-M sbsa-ref -m 1G,maxmem=4G " BACKEND("m1")
      "-device sp-mem,memdev=m1",
      "-device sp-mem,memdev=m1: machine type 'sbsa-ref' does not support "
      "sp-mem", false, "sbsa-ref" },
    { "machine-raspi3b",
      "-M raspi3b " BACKEND("m1") "-device sp-mem,memdev=m1",
      "-device sp-mem,memdev=m1: machine type 'raspi3b' does not support "
      "sp-mem", false, "raspi3b" },
    { "machine-amd-versal-virt",
      "-M amd-versal-virt " BACKEND("m1") "-device sp-mem,memdev=m1",
      "-device sp-mem,memdev=m1: machine type 'amd-versal-virt' does not "
      "support sp-mem", false, "amd-versal-virt" },
    { "machine-imx8mp-evk",
      "-M imx8mp-evk " BACKEND("m1") "-device sp-mem,memdev=m1",
      "-device sp-mem,memdev=m1: machine type 'imx8mp-evk' does not support "
      "sp-mem", false, "imx8mp-evk" },
    { "machine-vexpress-a15",
      "-M vexpress-a15 -audio none " BACKEND("m1")
      "-device sp-mem,memdev=m1",
      "-device sp-mem,memdev=m1: machine type 'vexpress-a15' does not "
      "support sp-mem", false, "vexpress-a15" },
    /* an older virt: same checks */
    { "machine-virt-6.1-without-numa",
      "-M virt-6.1 -m 1G,maxmem=4G " BACKEND("m1")
      "-device sp-mem,memdev=m1,node=1",
      "-device sp-mem,memdev=m1,node=1: 'node' property value 1 exceeds the "
      "number of NUMA nodes (1)",
      false, "virt-6.1" },
};

/* @args with every "@DIR@" replaced by the test's temporary directory. */
static char *expand_args(const char *args)
{
    g_auto(GStrv) parts = g_strsplit(args, "@DIR@", -1);

    return g_strjoinv(spmem_tmp_dir, parts);
}

static bool have_machine_and_device(const char *machine, const char *device)
{
    if (machine && !qtest_has_machine(machine)) {
        g_test_skip("machine not available in this build");
        return false;
    }
    if (device && !qtest_has_device(device)) {
        g_test_skip("device not available in this build");
        return false;
    }
    return true;
}

static void test_refused(const void *data)
{
    const RefusedCase *c = data;
    g_autofree char *expanded = expand_args(c->args);
    g_autofree char *args = g_strdup_printf("%s%s %s",
                                            c->firmware ? "-bios " : "",
                                            c->firmware ? spmem_dummy_fw : "",
                                            expanded);

    if (!have_machine_and_device(c->machine, c->device)) {
        return;
    }
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

/*
 * Valid but unusual configurations.  Each must start; query-memory-devices
 * must list every sp-mem with its size and node (and address, where the
 * case fixes it), the devices must not overlap, and a word written at
 * both ends of every device must read back, none aliasing another.
 */
typedef struct SpExpect {
    const char *memdev;     /* backend id, which identifies the device */
    uint64_t size;
    uint32_t node;
    uint64_t addr;          /* 0: wherever the framework puts it */
    uint64_t align;         /* 0: no alignment to check */
} SpExpect;

typedef struct ValidCase {
    const char *name;
    const char *args;       /* "@DIR@" stands for a temporary directory */
    const SpExpect *devs;   /* terminated by an entry without memdev */
    int others;             /* memory devices that are not sp-mem */
    bool firmware;
    bool tcg;
    const char *machine;
    const char *device;
} ValidCase;

#define NUMA4 \
    "-m 1G,maxmem=4G -smp 2 -object memory-backend-ram,id=ram0,size=1G " \
    "-numa node,nodeid=0,memdev=ram0,cpus=0-1 -numa node,nodeid=1 " \
    "-numa node,nodeid=2 -numa node,nodeid=3 "

static const ValidCase valid_cases[] = {
    /*
     * As upstream's device on x86: without -numa the node is 0, the one
     * node virt makes when maxmem is given (the device tree and the SRAT
     * cases check what the guest is told).
     */
    { "node-0-without-numa",
      "-m 1G,maxmem=4G " BACKEND("m1") "-device sp-mem,id=sp1,memdev=m1",
      (const SpExpect[]) { { "m1", 256 * MiB, 0, DEVMEM_BASE }, { } } },
    { "backend-ram-share",
      NUMA3 "-object memory-backend-ram,id=m1,size=2M,share=on "
      "-device sp-mem,id=sp1,memdev=m1,node=1",
      (const SpExpect[]) { { "m1", 2 * MiB, 1, DEVMEM_BASE }, { } } },
    { "backend-ram-prealloc",
      NUMA3 "-object memory-backend-ram,id=m1,size=4M,prealloc=on "
      "-device sp-mem,id=sp1,memdev=m1,node=2",
      (const SpExpect[]) { { "m1", 4 * MiB, 2, DEVMEM_BASE }, { } } },
    { "backend-file-share",
      NUMA3 "-object memory-backend-file,id=f1,size=4M,share=on,"
      "mem-path=@DIR@/share -device sp-mem,id=sp1,memdev=f1,node=1,"
      "addr=0x90000000",
      (const SpExpect[]) { { "f1", 4 * MiB, 1, 0x90000000ULL }, { } } },
    { "backend-file-in-directory",
      NUMA3 "-object memory-backend-file,id=f1,size=2M,mem-path=@DIR@ "
      "-device sp-mem,id=sp1,memdev=f1,node=2",
      (const SpExpect[]) { { "f1", 2 * MiB, 2, DEVMEM_BASE }, { } } },
    { "backend-memfd",
      NUMA3 "-object memory-backend-memfd,id=mf1,size=2M "
      "-device sp-mem,id=sp1,memdev=mf1,node=1",
      (const SpExpect[]) { { "mf1", 2 * MiB, 1, DEVMEM_BASE }, { } } },
    /*
     * A file backend only needs the host page size: 1M+4K fits, and the
     * next device, 2 MiB aligned as for huge pages, goes to the next
     * 2 MiB boundary.
     */
    { "hugepage-aligned-after-page-sized",
      NUMA3 "-object memory-backend-file,id=f1,size=1052672,share=on,"
      "mem-path=@DIR@/page "
      "-object memory-backend-file,id=f2,size=4M,align=2M,share=on,"
      "mem-path=@DIR@/huge "
      "-device sp-mem,id=sp1,memdev=f1,node=1 "
      "-device sp-mem,id=sp2,memdev=f2,node=2",
      (const SpExpect[]) {
          { "f1", 1052672, 1, DEVMEM_BASE },
          { "f2", 4 * MiB, 2, DEVMEM_BASE + 2 * MiB, 2 * MiB },
          { } } },
    { "memfd-hugepage-aligned-size",
      NUMA3 "-object memory-backend-memfd,id=mf1,size=6M,share=on "
      "-device sp-mem,id=sp1,memdev=mf1,node=1,addr=0x80600000",
      (const SpExpect[]) {
          { "mf1", 6 * MiB, 1, 0x80600000ULL, 2 * MiB }, { } } },
    /* No id, on node 0 that also has the RAM and the CPUs. */
    { "no-id-on-node-0",
      NUMA3 BACKEND("m1") "-device sp-mem,memdev=m1,node=0",
      (const SpExpect[]) { { "m1", SPMEM_SIZE, 0, DEVMEM_BASE }, { } } },
    { "single-node",
      NUMA1 BACKEND("m1") "-device sp-mem,id=sp1,memdev=m1,node=0",
      (const SpExpect[]) { { "m1", SPMEM_SIZE, 0, DEVMEM_BASE }, { } } },
    { "last-bytes-of-device-memory",
      NUMA3 BACKEND("m1") "-device sp-mem,id=sp1,memdev=m1,node=2,"
      "addr=0x130000000",
      (const SpExpect[]) { { "m1", SPMEM_SIZE, 2, 0x130000000ULL }, { } } },
    { "all-of-device-memory",
      NUMA3 "-object memory-backend-ram,id=m1,size=3G,reserve=off "
      "-device sp-mem,id=sp1,memdev=m1,node=1",
      (const SpExpect[]) { { "m1", 3 * GiB, 1, DEVMEM_BASE }, { } } },
    /* highmem=off: below 4 GiB; 32-bit CPU (TCG only) */
    { "highmem-off-cortex-a15",
      "-accel tcg -S -cpu cortex-a15 -M highmem=off " NUMA2_MAXMEM("2G")
      "-object memory-backend-ram,id=m1,size=1G "
      "-device sp-mem,id=sp1,memdev=m1,node=1",
      (const SpExpect[]) { { "m1", GiB, 1, DEVMEM_BASE }, { } },
      0, false, true },
    { "older-machine-type",
      "-M virt-8.0 " NUMA3 BACKEND("m1")
      "-device sp-mem,id=sp1,memdev=m1,node=2",
      (const SpExpect[]) { { "m1", SPMEM_SIZE, 2, DEVMEM_BASE }, { } },
      0, false, false, "virt-8.0" },
    /*
     * Next to every other memory device virt has: pc-dimm (needs the GED,
     * so -bios), virtio-mem-pci, nvdimm.  With the firmware, virt also
     * builds the ACPI tables, SRAT included.
     */
    { "next-to-pc-dimm-virtio-mem-nvdimm",
      "-M nvdimm=on " NUMA3_SLOTS BACKEND("d1") BACKEND("n1")
      "-object memory-backend-ram,id=v1,size=512M "
      "-object memory-backend-ram,id=m1,size=2M "
      "-object memory-backend-memfd,id=m2,size=8M "
      "-object memory-backend-file,id=m3,size=2M,share=on,"
      "mem-path=@DIR@/mixed "
      "-device sp-mem,id=sp1,memdev=m1,node=1 "
      "-device pc-dimm,id=dimm1,memdev=d1,node=0 "
      "-device sp-mem,id=sp2,memdev=m2,node=2 "
      "-device virtio-mem-pci,id=vmem1,memdev=v1,node=0,requested-size=0 "
      "-device nvdimm,id=nv1,memdev=n1,node=0 "
      "-device sp-mem,id=sp3,memdev=m3,node=1,addr=0x130000000",
      (const SpExpect[]) {
          { "m1", 2 * MiB, 1, DEVMEM_BASE },
          { "m2", 8 * MiB, 2 },
          { "m3", 2 * MiB, 1, 0x130000000ULL },
          { } },
      3, true, false, NULL, "nvdimm" },
};

/* Filled in by main(): many small devices over four nodes. */
#define MANY_SPMEM 32
static SpExpect many_devs[MANY_SPMEM + 1];
static ValidCase many_case;

static void setup_many_case(void)
{
    GString *args = g_string_new(NUMA4);

    for (int i = 0; i < MANY_SPMEM; i++) {
        char *id = g_strdup_printf("mm%d", i);

        g_string_append_printf(args, "-object memory-backend-%s,id=%s,"
                               "size=2M -device sp-mem,id=sp%d,memdev=%s,"
                               "node=%d ", i % 2 ? "memfd" : "ram", id, i,
                               id, i % 4);
        /* Placed one after the other, in creation order. */
        many_devs[i] = (SpExpect) { id, 2 * MiB, i % 4,
                                    DEVMEM_BASE + i * 2 * MiB };
    }
    many_case = (ValidCase) {
        .name = "32-devices-4-nodes",
        .args = g_string_free(args, false),
        .devs = many_devs,
    };
}

static void free_many_case(void)
{
    for (int i = 0; i < MANY_SPMEM; i++) {
        g_free((char *)many_devs[i].memdev);
    }
    g_free((char *)many_case.args);
}

static QDict *find_by_memdev(QList *list, const char *memdev)
{
    g_autofree char *path = g_strdup_printf("/objects/%s", memdev);
    const QListEntry *e;

    QLIST_FOREACH_ENTRY(list, e) {
        QDict *md = qobject_to(QDict, qlist_entry_obj(e));
        QDict *data = qdict_get_qdict(md, "data");

        if (g_str_equal(qdict_get_str(md, "type"), "sp-mem") &&
            g_str_equal(qdict_get_str(data, "memdev"), path)) {
            return data;
        }
    }
    return NULL;
}

static uint64_t spmem_word(int dev, int end)
{
    return 0x5350000000000000ULL | (uint64_t)dev << 8 | end;
}

static void test_valid(const void *data)
{
    const ValidCase *c = data;
    g_autofree char *args = expand_args(c->args);
    g_autofree uint64_t *addr = NULL;
    g_autofree uint64_t *size = NULL;
    QTestState *qts;
    QDict *resp;
    QList *list;
    const QListEntry *e;
    int n = 0, spmems = 0, others = 0;

    if (!have_machine_and_device(c->machine, c->device)) {
        return;
    }
    if (c->tcg && !qtest_has_accel("tcg")) {
        g_test_skip("TCG not available");
        return;
    }
    while (c->devs[n].memdev) {
        n++;
    }
    addr = g_new(uint64_t, n);
    size = g_new(uint64_t, n);

    qts = qtest_initf("-M virt -nodefaults %s%s %s",
                      c->firmware ? "-bios " : "",
                      c->firmware ? spmem_dummy_fw : "", args);

    resp = qtest_qmp(qts, "{ 'execute': 'query-memory-devices' }");
    list = qdict_get_qlist(resp, "return");
    QLIST_FOREACH_ENTRY(list, e) {
        QDict *md = qobject_to(QDict, qlist_entry_obj(e));

        if (g_str_equal(qdict_get_str(md, "type"), "sp-mem")) {
            spmems++;
        } else {
            others++;
        }
    }
    g_assert_cmpint(spmems, ==, n);
    g_assert_cmpint(others, ==, c->others);

    for (int i = 0; i < n; i++) {
        const SpExpect *x = &c->devs[i];
        QDict *d = find_by_memdev(list, x->memdev);

        g_assert_nonnull(d);
        addr[i] = qdict_get_int(d, "addr");
        size[i] = qdict_get_int(d, "size");
        g_assert_cmpuint(size[i], ==, x->size);
        g_assert_cmpint(qdict_get_int(d, "node"), ==, x->node);
        if (x->addr) {
            g_assert_cmphex(addr[i], ==, x->addr);
        }
        if (x->align) {
            g_assert_cmphex(addr[i] % x->align, ==, 0);
        }
        g_assert_cmphex(addr[i], >=, DEVMEM_BASE);
        for (int j = 0; j < i; j++) {
            g_assert_true(addr[i] + size[i] <= addr[j] ||
                          addr[j] + size[j] <= addr[i]);
        }
    }
    qobject_unref(resp);

    for (int i = 0; i < n; i++) {
        qtest_writeq(qts, addr[i], spmem_word(i, 0));
        qtest_writeq(qts, addr[i] + size[i] - 8, spmem_word(i, 1));
    }
    for (int i = 0; i < n; i++) {
        g_assert_cmphex(qtest_readq(qts, addr[i]), ==, spmem_word(i, 0));
        g_assert_cmphex(qtest_readq(qts, addr[i] + size[i] - 8), ==,
                        spmem_word(i, 1));
    }

    qtest_quit(qts);
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
                      spmem_dummy_fw);
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
 * The properties that place the device cannot change at run time either:
 * qom-set of addr, node and memdev is refused, as is deleting the backend
 * or resizing it, with the guest still running, the values unchanged and
 * the memory intact.
 */
static const struct {
    const char *path;
    const char *property;
    const char *value;      /* JSON */
    const char *desc;
} runtime_qom_refusals[] = {
    { "sp1", "addr", "2415919104",
      "Attempt to set property 'addr' on device 'sp1' (type 'sp-mem') "
      "after it was realized" },
    { "sp1", "addr", "0",
      "Attempt to set property 'addr' on device 'sp1' (type 'sp-mem') "
      "after it was realized" },
    { "sp1", "node", "2",
      "Attempt to set property 'node' on device 'sp1' (type 'sp-mem') "
      "after it was realized" },
    { "sp1", "memdev", "\"m2\"",
      "Attempt to set link property 'memdev' on device 'sp1' "
      "(type 'sp-mem') after it was realized" },
    { "sp1", "memdev", "\"\"",
      "Attempt to set link property 'memdev' on device 'sp1' "
      "(type 'sp-mem') after it was realized" },
    { "/objects/m1", "size", "4096",
      "cannot change property size of memory-backend-ram " },
};

static void assert_generic_error(QDict *resp, const char *desc)
{
    g_assert_cmpstr(qdict_get_str(resp, "class"), ==, "GenericError");
    g_assert_cmpstr(qdict_get_str(resp, "desc"), ==, desc);
    qobject_unref(resp);
}

/* The whole response: qtest_qmp_assert_success_ref() wants a dict. */
static QDict *qom_get(QTestState *qts, const char *prop)
{
    QDict *resp = qtest_qmp(qts, "{ 'execute': 'qom-get', 'arguments': "
                            "{ 'path': 'sp1', 'property': %s } }", prop);

    g_assert_true(qdict_haskey(resp, "return"));
    return resp;
}

static void test_runtime_qom_set(void)
{
    const char *props[] = { "addr", "node", "memdev" };
    QDict *before[ARRAY_SIZE(props)];
    const uint64_t gpa = DEVMEM_BASE + SPMEM_SIZE - 8;
    const uint64_t magic = 0x71f0c0de5350aa55ULL;
    QTestState *qts;
    QDict *resp;
    QList *list;

    qts = qtest_init("-M virt -nodefaults " NUMA3 BACKEND("m1") BACKEND("m2")
                     "-device sp-mem,id=sp1,memdev=m1,node=1");
    qtest_writeq(qts, gpa, magic);
    for (int i = 0; i < ARRAY_SIZE(props); i++) {
        before[i] = qom_get(qts, props[i]);
    }

    for (int i = 0; i < ARRAY_SIZE(runtime_qom_refusals); i++) {
        QObject *value = qobject_from_json(runtime_qom_refusals[i].value,
                                           &error_abort);

        resp = qtest_qmp_assert_failure_ref(qts,
            "{ 'execute': 'qom-set', 'arguments': "
            "{ 'path': %s, 'property': %s, 'value': %p } }",
            runtime_qom_refusals[i].path, runtime_qom_refusals[i].property,
            value);
        assert_generic_error(resp, runtime_qom_refusals[i].desc);
    }
    resp = qtest_qmp_assert_failure_ref(qts,
        "{ 'execute': 'object-del', 'arguments': { 'id': 'm1' } }");
    assert_generic_error(resp, "object 'm1' is in use, can not be deleted");

    resp = qtest_qmp_assert_success_ref(qts,
                                        "{ 'execute': 'query-status' }");
    g_assert_cmpstr(qdict_get_str(resp, "status"), ==, "running");
    qobject_unref(resp);
    g_assert_cmphex(qtest_readq(qts, gpa), ==, magic);

    for (int i = 0; i < ARRAY_SIZE(props); i++) {
        QDict *after = qom_get(qts, props[i]);

        g_assert_true(qobject_is_equal(qdict_get(before[i], "return"),
                                       qdict_get(after, "return")));
        qobject_unref(after);
        qobject_unref(before[i]);
    }
    resp = qom_get(qts, "addr");
    g_assert_cmphex(qdict_get_int(resp, "return"), ==, DEVMEM_BASE);
    qobject_unref(resp);
    resp = qom_get(qts, "node");
    g_assert_cmpint(qdict_get_int(resp, "return"), ==, 1);
    qobject_unref(resp);
    resp = qom_get(qts, "memdev");
    g_assert_cmpstr(qdict_get_str(resp, "return"), ==, "/objects/m1");
    qobject_unref(resp);

    resp = qtest_qmp(qts, "{ 'execute': 'query-memory-devices' }");
    list = qdict_get_qlist(resp, "return");
    g_assert_cmpint(qlist_size(list), ==, 1);
    check_spmem_info(list, "sp1", DEVMEM_BASE, SPMEM_SIZE, 1, "/objects/m1");
    qobject_unref(resp);

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
                          spmem_child_alarm, NULL, NULL, &err, &status, &gerr));
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
    g_assert_cmphex(spmem_fdt_cells(reg, ac), ==, r->addr);
    g_assert_cmphex(spmem_fdt_cells(reg + ac, sc), ==, r->size);
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
            uint64_t base = spmem_fdt_cells(reg + j, 2);
            uint64_t size = spmem_fdt_cells(reg + j + 2, 2);

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

/* Write @fdt to a new temporary file and return its name. */
static char *write_tmp_dtb(const void *fdt)
{
    char *path = NULL;
    int fd = g_file_open_tmp("spmem-user-XXXXXX.dtb", &path, NULL);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(write(fd, fdt, fdt_totalsize(fdt)), ==,
                    fdt_totalsize(fdt));
    close(fd);
    return path;
}

static int count_spmem_nodes(const void *fdt)
{
    int rm = fdt_path_offset(fdt, "/reserved-memory");
    int off, count = 0;

    if (rm < 0) {
        return 0;
    }
    fdt_for_each_subnode(off, fdt, rm) {
        if (!fdt_node_check_compatible(fdt, off, "qemu,sp-mem")) {
            count++;
        }
    }
    return count;
}

/*
 * A tree saved with dumpdtb from a machine with sp-mem, given back with
 * -dtb: its sp-mem nodes describe the devices of that machine, so they
 * are replaced by those of this one, whether the same, others or none.
 */
static void test_dt_dumped_dtb_back(void)
{
#define TWO_SPMEM NUMA3 BACKEND("m1") BACKEND("m2") \
    "-device sp-mem,memdev=m1,node=1 -device sp-mem,memdev=m2,node=2"
    const DtRange two[] = {
        { DEVMEM_BASE, SPMEM_SIZE, 1 },
        { DEVMEM_BASE + SPMEM_SIZE, SPMEM_SIZE, 2 },
    };
    const DtRange moved[] = { { 0xc0000000ULL, SPMEM_SIZE, 2 } };
    g_autofree void *dumped = dump_dtb(TWO_SPMEM, NULL);
    g_autofree char *path = write_tmp_dtb(dumped);
    g_autofree char *same = g_strdup_printf("-dtb %s " TWO_SPMEM, path);
    g_autofree char *other = g_strdup_printf("-dtb %s " NUMA3 BACKEND("m1")
                                             "-device sp-mem,memdev=m1,"
                                             "node=2,addr=0xc0000000", path);
    g_autofree char *none = g_strdup_printf("-dtb %s " NUMA3, path);
    g_autofree void *fdt_same = NULL;
    g_autofree void *fdt_other = NULL;
    g_autofree void *fdt_none = NULL;
#undef TWO_SPMEM

    g_assert_cmpint(count_spmem_nodes(dumped), ==, 2);
    fdt_same = dump_dtb(same, NULL);
    check_dt(fdt_same, two, ARRAY_SIZE(two), 3, NULL);
    fdt_other = dump_dtb(other, NULL);
    check_dt(fdt_other, moved, ARRAY_SIZE(moved), 3, NULL);
    fdt_none = dump_dtb(none, NULL);
    g_assert_cmpint(count_spmem_nodes(fdt_none), ==, 0);
    unlink(path);
}

/*
 * A -dtb tree whose /reserved-memory has one address and one size cell:
 * a device below 4 GiB is described with one cell each, one above is
 * refused with a message that names the device and the tree.
 */
static void test_dt_user_dtb_one_cell(void)
{
    g_autofree void *user = NULL;
    g_autofree void *fdt = NULL;
    g_autofree char *path = NULL;
    g_autofree char *below = NULL;
    g_autofree char *above = NULL;
    const fdt32_t *reg;
    size_t len;
    int rm, off, plen;

    user = dump_dtb(NUMA3, &len);
    g_assert_cmpint(fdt_open_into(user, user, len), ==, 0);
    rm = fdt_add_subnode(user, 0, "reserved-memory");
    g_assert_cmpint(rm, >=, 0);
    g_assert_cmpint(fdt_setprop_u32(user, rm, "#address-cells", 1), ==, 0);
    g_assert_cmpint(fdt_setprop_u32(user, rm, "#size-cells", 1), ==, 0);
    g_assert_cmpint(fdt_setprop(user, rm, "ranges", NULL, 0), ==, 0);
    g_assert_cmpint(fdt_pack(user), ==, 0);
    path = write_tmp_dtb(user);

    below = g_strdup_printf("-dtb %s " NUMA3 BACKEND("m1")
                            "-device sp-mem,memdev=m1,node=1", path);
    fdt = dump_dtb(below, NULL);
    off = fdt_path_offset(fdt, "/reserved-memory/sp-mem@80000000");
    g_assert_cmpint(off, >=, 0);
    reg = fdt_getprop(fdt, off, "reg", &plen);
    g_assert_nonnull(reg);
    g_assert_cmpint(plen, ==, 8);
    g_assert_cmphex(fdt32_to_cpu(reg[0]), ==, DEVMEM_BASE);
    g_assert_cmphex(fdt32_to_cpu(reg[1]), ==, SPMEM_SIZE);

    above = g_strdup_printf("-dtb %s " NUMA3 BACKEND("m1")
                            "-device sp-mem,id=sp1,memdev=m1,node=1,"
                            "addr=0x100000000", path);
    assert_refused(above, "sp-mem 'sp1' [0x100000000, size 0x10000000] does "
                   "not fit #address-cells = <1> and #size-cells = <1> of "
                   "/reserved-memory in the -dtb device tree\n"
                   "Give /reserved-memory #address-cells = <2> and "
                   "#size-cells = <2> in the -dtb tree.\n");
    unlink(path);
}

/*
 * Properties a user adds to the node of a device in a -dtb tree (here
 * what a Xen user adds to keep dom0 out of a range) are kept; QEMU
 * rewrites its own.  A node of a device that moved is still dropped.
 */
static void test_dt_user_props(void)
{
#define ONE_SPMEM NUMA3 BACKEND("m1") "-device sp-mem,memdev=m1,node=1"
    const DtRange one[] = { { DEVMEM_BASE, SPMEM_SIZE, 1 } };
    const DtRange moved[] = { { 0xc0000000ULL, SPMEM_SIZE, 1 } };
    g_autofree void *user = NULL;
    g_autofree void *fdt = NULL;
    g_autofree void *fdt_moved = NULL;
    g_autofree char *path = NULL;
    g_autofree char *same = NULL;
    g_autofree char *other = NULL;
    const char *status;
    size_t len;
    int off, plen;

    user = dump_dtb(ONE_SPMEM, &len);
    g_assert_cmpint(fdt_open_into(user, user, len), ==, 0);
    off = fdt_path_offset(user, "/reserved-memory/sp-mem@80000000");
    g_assert_cmpint(off, >=, 0);
    g_assert_cmpint(fdt_setprop(user, off, "xen,passthrough", NULL, 0), ==, 0);
    g_assert_cmpint(fdt_setprop_string(user, off, "status", "disabled"), ==, 0);
    g_assert_cmpint(fdt_setprop_u32(user, off, "numa-node-id", 7), ==, 0);
    g_assert_cmpint(fdt_pack(user), ==, 0);
    path = write_tmp_dtb(user);

    same = g_strdup_printf("-dtb %s " ONE_SPMEM, path);
    fdt = dump_dtb(same, NULL);
    check_dt(fdt, one, ARRAY_SIZE(one), 3, NULL);
    off = fdt_path_offset(fdt, "/reserved-memory/sp-mem@80000000");
    g_assert_nonnull(fdt_getprop(fdt, off, "xen,passthrough", &plen));
    g_assert_cmpint(plen, ==, 0);
    status = fdt_getprop(fdt, off, "status", NULL);
    g_assert_cmpstr(status, ==, "disabled");

    other = g_strdup_printf("-dtb %s " NUMA3 BACKEND("m1")
                            "-device sp-mem,memdev=m1,node=1,"
                            "addr=0xc0000000", path);
    fdt_moved = dump_dtb(other, NULL);
    check_dt(fdt_moved, moved, ARRAY_SIZE(moved), 3, NULL);
    off = fdt_path_offset(fdt_moved, "/reserved-memory/sp-mem@c0000000");
    g_assert_null(fdt_getprop(fdt_moved, off, "xen,passthrough", NULL));
    unlink(path);
#undef ONE_SPMEM
}

/*
 * A boot module (guest-loader's /chosen node, or a module node of a -dtb
 * tree, as Xen dom0less domains have) inside an sp-mem range is refused;
 * one in RAM is fine.  A raw loader blob without a module node only
 * preloads the range: the guest finds the bytes there.
 */
static void test_boot_modules(void)
{
#define SP1 NUMA3 BACKEND("m1") "-device sp-mem,id=sp1,memdev=m1,node=1 "
    static const uint8_t blob[] = "sp-mem preloaded by -device loader";
    g_autofree char *inside = NULL;
    g_autofree char *ram = NULL;
    g_autofree char *dtb_args = NULL;
    g_autofree char *blob_path = NULL;
    g_autofree void *user = NULL;
    g_autofree void *fdt = NULL;
    g_autofree char *path = NULL;
    uint8_t buf[sizeof(blob)];
    QTestState *qts;
    size_t len;
    int chosen, dom, mod, fd;

    inside = g_strdup_printf(SP1 "-device guest-loader,addr=0x80001000,"
                             "initrd=%s", spmem_dummy_fw);
    assert_refused(inside, "boot module /chosen/module@0x80001000 "
                   "[0x80001000, size 0x");
    assert_refused(inside, "] overlaps sp-mem 'sp1' [0x80000000, size "
                   "0x10000000]\nLoad boot modules (guest-loader, module "
                   "nodes of a -dtb tree) into RAM, outside every sp-mem "
                   "range.\n");

    ram = g_strdup_printf(SP1 "-device guest-loader,addr=0x50000000,"
                          "initrd=%s", spmem_dummy_fw);
    fdt = dump_dtb(ram, NULL);
    g_assert_cmpint(fdt_path_offset(fdt, "/chosen/module@0x50000000"), >=, 0);
    g_assert_cmpint(count_spmem_nodes(fdt), ==, 1);

    user = dump_dtb(NUMA3, &len);
    g_assert_cmpint(fdt_open_into(user, user, len), ==, 0);
    chosen = fdt_path_offset(user, "/chosen");
    dom = fdt_add_subnode(user, chosen, "domU1");
    g_assert_cmpint(dom, >=, 0);
    g_assert_cmpint(fdt_setprop_u32(user, dom, "#address-cells", 2), ==, 0);
    g_assert_cmpint(fdt_setprop_u32(user, dom, "#size-cells", 2), ==, 0);
    mod = fdt_add_subnode(user, dom, "module@8f000000");
    g_assert_cmpint(mod, >=, 0);
    g_assert_cmpint(fdt_setprop(user, mod, "compatible",
                                "multiboot,kernel\0multiboot,module",
                                sizeof("multiboot,kernel\0multiboot,module")),
                    ==, 0);
    g_assert_cmpint(fdt_setprop_u64(user, mod, "reg", 0x8f000000ULL), ==, 0);
    g_assert_cmpint(fdt_appendprop_u64(user, mod, "reg", 0x2000000), ==, 0);
    g_assert_cmpint(fdt_pack(user), ==, 0);
    path = write_tmp_dtb(user);
    dtb_args = g_strdup_printf("-dtb %s " SP1, path);
    assert_refused(dtb_args, "boot module /chosen/domU1/module@8f000000 "
                   "[0x8f000000, size 0x2000000] overlaps sp-mem 'sp1' "
                   "[0x80000000, size 0x10000000]\n");
    unlink(path);

    fd = g_file_open_tmp("spmem-blob-XXXXXX", &blob_path, NULL);
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(write(fd, blob, sizeof(blob)), ==, sizeof(blob));
    close(fd);
    qts = qtest_initf("-M virt -nodefaults " SP1
                      "-device loader,file=%s,addr=0x80002000,force-raw=on",
                      blob_path);
    qtest_memread(qts, 0x80002000, buf, sizeof(buf));
    g_assert_cmpmem(buf, sizeof(buf), blob, sizeof(blob));
    qtest_quit(qts);
    unlink(blob_path);
#undef SP1
}

int main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);

    if (!qtest_has_machine("virt") || !qtest_has_device("sp-mem")) {
        g_test_skip("virt machine or sp-mem device not available");
        return g_test_run();
    }

    spmem_test_setup("spmem");

    qtest_add_func("/arm/spmem/query-two-devices", test_query_two_devices);
    for (int i = 0; i < ARRAY_SIZE(refused_cases); i++) {
        g_autofree char *name = g_strdup_printf("/arm/spmem/refused/%s",
                                                refused_cases[i].name);

        qtest_add_data_func(name, &refused_cases[i], test_refused);
    }
    qtest_add_func("/arm/spmem/refused-mte", test_refused_mte);
    for (int i = 0; i < ARRAY_SIZE(valid_cases); i++) {
        g_autofree char *name = g_strdup_printf("/arm/spmem/valid/%s",
                                                valid_cases[i].name);

        qtest_add_data_func(name, &valid_cases[i], test_valid);
    }
    setup_many_case();
    {
        g_autofree char *name = g_strdup_printf("/arm/spmem/valid/%s",
                                                many_case.name);

        qtest_add_data_func(name, &many_case, test_valid);
    }
    qtest_add_func("/arm/spmem/refused-other-machine",
                   test_refused_other_machine);
    qtest_add_func("/arm/spmem/mixed-memory-devices",
                   test_mixed_memory_devices);
    qtest_add_func("/arm/spmem/data-path", test_data_path);
    qtest_add_func("/arm/spmem/runtime-refusals", test_runtime_refusals);
    qtest_add_func("/arm/spmem/runtime-qom-set", test_runtime_qom_set);
    qtest_add_func("/arm/spmem/dt/one-device", test_dt_one_device);
    qtest_add_func("/arm/spmem/dt/two-devices", test_dt_two_devices);
    qtest_add_func("/arm/spmem/dt/several-devices", test_dt_several_devices);
    qtest_add_func("/arm/spmem/dt/user-distances", test_dt_user_distances);
    qtest_add_func("/arm/spmem/dt/user-dtb", test_dt_user_dtb);
    qtest_add_func("/arm/spmem/dt/dumped-dtb-back", test_dt_dumped_dtb_back);
    qtest_add_func("/arm/spmem/dt/user-dtb-one-cell",
                   test_dt_user_dtb_one_cell);
    qtest_add_func("/arm/spmem/dt/user-props", test_dt_user_props);
    qtest_add_func("/arm/spmem/dt/boot-modules", test_boot_modules);

    ret = g_test_run();
    free_many_case();
    spmem_test_cleanup();
    return ret;
}
