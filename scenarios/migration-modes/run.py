#!/usr/bin/env python3
"""Migration of sp-mem in every mode QEMU 10.2 offers an aarch64 virt guest.

usage: run.py QEMU GUEST_ELF WORKDIR [MODE...]

MODE is any of (default: all): multifd postcopy mapped-ram ignore-shared
cpr-transfer cpr-exec cpr-reboot.  Plain precopy (to a file and live over
TCP) is scenarios/migration/run.py.

Every mode migrates the bare-metal writer guest (scenarios/baremetal/
guest, -append sp-mem-writer) with two sp-mem devices on NUMA nodes 1
and 2 and ordinary RAM on node 0, each with the backends a user would
pick for it:

  multifd        live over TCP, 2 channels          ram, memfd
  postcopy       live over TCP, switched to postcopy while the guest
                 writes; the destination runs (and faults pages in)
                 before the last page arrived        ram, memfd
  mapped-ram     live to a file at fixed offsets (multifd, 2 channels),
                 restored by a new process           ram, file
  ignore-shared  live over TCP with x-ignore-shared between two processes
                 that map the same share=on files    file (shared)
  cpr-transfer   RAM left in place, handed over as file descriptors on a
                 unix socket; aux-ram-share=on       memfd, file (shared)
  cpr-exec       the process execs the new QEMU, RAM kept in place in
                 its memfds; aux-ram-share=on        memfd, file (shared)
  cpr-reboot     state to a file with x-ignore-shared, process quit,
                 new process maps the same files     file (shared)

Checks for each mode:
  - the migration completes, with the mode's own evidence (multifd
    bytes, postcopy page requests, a sparse mapped-ram file, RAM not
    sent with x-ignore-shared and CPR, the same PID after cpr-exec);
  - every byte of every sp-mem range is dumped (QMP pmemsave) on both
    sides and compared: equal for the modes whose destination starts
    paused (-S); for postcopy, whose destination runs on, each word of
    the destination is the source's or one the writer wrote later (a
    lost or stale page fails);
  - the source dump holds the writer's pattern (a dump of zeros fails);
  - the destination runs on: its writer generation advances;
  - destinations with the other node, address or size of one device
    refuse the stream with an error naming it (the source keeps running
    where the mode lets it).

Prints one "ok"/"FAIL" line per check, and last
"migration-modes: N passed, N failed" (scripts/check.py reads it).
"""
import array
import json
import os
import re
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "lib"))
import spmem                        # noqa: E402  (lib/spmem.py)
from spmem import MiB, ok, bad, check   # noqa: E402

MODES = ["multifd", "postcopy", "mapped-ram", "ignore-shared",
         "cpr-transfer", "cpr-exec", "cpr-reboot"]

# Backends per mode: RAM (node 0), s0 (node 1), s1 (node 2).
BACKENDS = {
    "multifd": ("ram", "ram", "memfd"),
    "postcopy": ("ram", "ram", "memfd"),
    "mapped-ram": ("ram", "ram", "file"),
    "ignore-shared": ("ram", "file", "file"),
    "cpr-transfer": ("memfd", "memfd", "file"),
    "cpr-exec": ("memfd", "memfd", "file"),
    "cpr-reboot": ("ram", "file", "file"),
}
SIZES = {"s0": 4 * MiB, "s1": 2 * MiB}
NODES = {"s0": 1, "s1": 2}
RAM_SIZE = 256 * MiB
CPR = ("cpr-transfer", "cpr-exec", "cpr-reboot")
# Modes whose sp-mem backends are the same files/memfds on both sides.
IN_PLACE = ("ignore-shared", "cpr-transfer", "cpr-exec", "cpr-reboot")

bytes_compared = 0


def machine_args(work, mode, name, devs=None, fresh=True):
    """The machine of one emulator of MODE (spmem.VM adds QMP and the
    serial file).  DEVS overrides the devices: (id, size, node, addr or
    None).  Files of a mode that keeps memory in place are shared by all
    its processes; FRESH creates them."""
    ram, b0, b1 = BACKENDS[mode]
    if devs is None:
        devs = [("s0", SIZES["s0"], NODES["s0"], None),
                ("s1", SIZES["s1"], NODES["s1"], None)]
    machine = "virt"
    if mode in ("cpr-transfer", "cpr-exec"):
        machine += ",aux-ram-share=on"
    return spmem.writer_args(
        GUEST, "%dM,maxmem=1G" % (RAM_SIZE // MiB),
        backend(work, mode, name, "ram0", ram, RAM_SIZE, fresh),
        [(dev, backend(work, mode, name, "h" + dev, typ, size, fresh), node, addr)
         for (dev, size, node, addr), typ in zip(devs, (b0, b1))], machine)


def backend(work, mode, name, bid, typ, size, fresh):
    owner = mode if mode in IN_PLACE else name
    return spmem.backend(typ, bid, size, os.path.join(
        work, "%s-%s-%d.mem" % (owner, bid, size)), fresh)


def emulator(work, mode, name, extra=(), devs=None, fresh=True, connect=True):
    """An emulator of MODE (spmem.VM): the machine, then EXTRA."""
    return spmem.VM(QEMU, machine_args(work, mode, name, devs, fresh) + list(extra),
                    work, name, connect=connect)


def successor(src, work, mode, name, state, devs=None):
    """What SRC's process becomes by cpr-exec (spmem.VM.for_exec): the
    machine of MODE (with DEVS) restoring the file STATE, paused."""
    return spmem.VM.for_exec(src, name, machine_args(work, mode, name, devs, fresh=False)
                             + ["-incoming", "file:" + state, "-S"])


def words_gen(data, addr, node):
    """The writer generation of every word (0 for anything else)."""
    words = array.array("Q", data)
    out = []
    for i, v in enumerate(words):
        out.append((v - spmem.guest_word(addr + 8 * i, node)) & spmem.MASK)
    return words, out


def dump(vm, tag, side, dev, addr, size, work):
    return vm.dump(addr, size, os.path.join(work, "%s-%s-%s.bin" % (tag, side, dev)))


def compare(src, dst, tag, work, src_dumps=None, newer_ok=False):
    """Every byte of every sp-mem range: the source's (or SRC_DUMPS, taken
    before the source went away) against the destination's."""
    global bytes_compared
    devs = dst.devices()
    check(sorted(d[0] for d in devs) == ["s0", "s1"],
          "%s: destination lists both sp-mem devices %s" % (tag, devs),
          "%s: destination lists %s" % (tag, devs))
    for dev, addr, size, node in devs:
        a = src_dumps[dev] if src_dumps else dump(src, tag, "src", dev, addr, size, work)
        b = dump(dst, tag, "dst", dev, addr, size, work)
        p = spmem.pattern_ok(a, addr, node, size, True, 1 << 40)
        check(p.startswith("generation"),
              "%s: %s: source range 0x%x+0x%x holds the writer's pattern (%s)"
              % (tag, dev, addr, size, p),
              "%s: %s: source range 0x%x+0x%x: %s" % (tag, dev, addr, size, p))
        if len(a) != size or len(b) != size:
            bad("%s: %s: dump lengths %d/%d, want %d" % (tag, dev, len(a), len(b), size))
            continue
        if a == b:
            bytes_compared += size
            ok("%s: %s: all 0x%x bytes at 0x%x equal on source and destination"
               % (tag, dev, size, addr))
            continue
        if not newer_ok:
            diff = next(i for i in range(size) if a[i] != b[i])
            bad("%s: %s: dumps differ, first difference at +0x%x" % (tag, dev, diff))
            continue
        # The destination ran on: a word differs only where the writer
        # wrote it again there (a later generation than the source's).
        wa, ga = words_gen(a, addr, node)
        wb, gb = words_gen(b, addr, node)
        hb = (size - spmem.HOST_BLOCK) // 8
        same = newer = 0
        wrong = None
        for i in range(len(wa)):
            if wa[i] == wb[i]:
                same += 1
            elif not hb <= i < hb + 512 and ga[i] < gb[i] < ga[i] + (1 << 20):
                newer += 1
            elif wrong is None:
                wrong = "word at 0x%x: source 0x%x, destination 0x%x" % (
                    addr + 8 * i, wa[i], wb[i])
        if wrong is None:
            bytes_compared += size
            ok("%s: %s: all 0x%x bytes at 0x%x compared: %d words as on the source, "
               "%d rewritten later by the running destination"
               % (tag, dev, size, addr, same, newer))
        else:
            bad("%s: %s: %s" % (tag, dev, wrong))
    return devs


def runs_on(vm, tag, src_gen):
    """Resume a paused destination; its writer must go on counting from
    where the source's stopped (SRC_GEN), not start again."""
    if vm.status() != "running":
        vm.cmd("cont")
    g = max(vm.generation(), src_gen)
    check(vm.wait_generation(g + 2, timeout=30),
          "%s: the destination runs on: writer generation %d on the source, "
          "%d on the destination" % (tag, src_gen, vm.generation()),
          "%s: destination writer stuck at generation %d (source's last %d, status %s)"
          % (tag, vm.generation(), src_gen, vm.status()))


def start_writer(work, mode, name, **kw):
    vm = emulator(work, mode, name, **kw)
    if not vm.conn or not vm.wait_generation(3):
        raise RuntimeError("%s: source guest not writing: %s" % (name, vm.err()))
    return vm


def port_uri():
    return "tcp:127.0.0.1:%d" % spmem.free_port()


def quit_all(*vms):
    for vm in vms:
        if vm:
            vm.quit()


# --- the modes -----------------------------------------------------------------

def live_tcp(work, mode, caps, params=None, postcopy=False):
    """multifd, postcopy, ignore-shared: live over TCP."""
    tag = mode
    uri = port_uri()
    dst = emulator(work, mode, mode + "-dst", ["-incoming", "defer"]
                   + ([] if postcopy else ["-S"]), fresh=False)
    src = start_writer(work, mode, mode + "-src", fresh=False)
    try:
        if not dst.conn:
            raise RuntimeError("destination: " + dst.err())
        for vm in (src, dst):
            vm.caps(**caps)
            if params:
                vm.params(**params)
        dst.cmd("migrate-incoming", uri=uri)
        g0 = src.generation()
        if postcopy:
            # Slow precopy: most pages are still to go at the switch.
            # Slow background copy after the switch too, so that the
            # destination runs while most pages are still to come (and
            # faults them in: page requests are not rate-limited).
            src.params(max_bandwidth=8 * MiB, downtime_limit=1,
                       max_postcopy_bandwidth=4 * MiB)
        else:
            src.params(max_bandwidth=4 << 30, downtime_limit=2000)
        src.migrate(uri=uri)
        seen = set()
        if postcopy:
            deadline = time.time() + 30
            while src.query_migrate().get("ram", {}).get("dirty-sync-count", 0) < 1 \
                    and time.time() < deadline:
                time.sleep(0.05)
            gsw = src.generation()
            r = src.cmd("migrate-start-postcopy")
            seen.add(src.query_migrate().get("status"))
            check("error" not in r,
                  "postcopy: switched to postcopy at writer generation %d" % gsw,
                  "postcopy: migrate-start-postcopy: %s" % r)
            # The destination runs as soon as the device state is in:
            # let it run (and fault pages in) for a moment, then stop it
            # so that most words are still the source's when compared.
            if dst.wait_status(("running",)) == "running":
                time.sleep(0.05)
            dst.cmd("stop")
        m = src.wait_migration(seen=seen)
        g1 = src.generation()
        ram = m.get("ram", {})
        if not check(m["status"] == "completed",
                     "%s: live migration completed while the guest wrote generations "
                     "%d..%d: %d dirty syncs, %d bytes transferred, downtime %s ms; "
                     "source '%s', destination '%s'"
                     % (tag, g0, g1, ram.get("dirty-sync-count", 0),
                        ram.get("transferred", 0), m.get("downtime"),
                        src.status(), dst.status()),
                     "%s: migration %s: %s" % (tag, m["status"], m.get("error-desc", m))):
            return
        check(g1 > g0, "%s: the guest wrote during the migration" % tag,
              "%s: no writes during the migration (generation %d..%d)" % (tag, g0, g1))
        if "multifd" in caps:
            check(ram.get("multifd-bytes", 0) > sum(SIZES.values()),
                  "%s: %d bytes went through the multifd channels"
                  % (tag, ram.get("multifd-bytes", 0)),
                  "%s: multifd-bytes %s" % (tag, ram.get("multifd-bytes")))
        if postcopy:
            # Page requests come only from a destination that runs
            # before it has all pages, i.e. in postcopy.
            check(ram.get("postcopy-requests", 0) > 0,
                  "postcopy: the running destination faulted %d pages in from the "
                  "source (states seen %s)" % (ram["postcopy-requests"], sorted(seen)),
                  "postcopy: states %s, postcopy-requests %s"
                  % (sorted(seen), ram.get("postcopy-requests")))
        if "x-ignore-shared" in caps:
            check(ram.get("transferred", 0) < min(SIZES.values()),
                  "%s: %d bytes of RAM sent for 0x%x bytes of sp-mem: the shared "
                  "backends stayed in place" % (tag, ram["transferred"],
                                                sum(SIZES.values())),
                  "%s: %d bytes of RAM sent" % (tag, ram.get("transferred", 0)))
        compare(src, dst, tag, work, newer_ok=postcopy)
        runs_on(dst, tag, src.generation())
    finally:
        quit_all(src, dst)


def mode_multifd(work):
    live_tcp(work, "multifd", {"multifd": True}, {"multifd_channels": 2})


def mode_postcopy(work):
    live_tcp(work, "postcopy", {"postcopy-ram": True}, postcopy=True)


def mode_ignore_shared(work):
    live_tcp(work, "ignore-shared", {"x-ignore-shared": True})


def mode_mapped_ram(work):
    tag = "mapped-ram"
    path = os.path.join(work, "mapped-ram.state")
    src = start_writer(work, tag, tag + "-src")
    dst = None
    try:
        src.caps(mapped_ram=True, multifd=True)
        src.params(multifd_channels=2)
        g0 = src.generation()
        src.migrate(uri="file:" + path)
        m = src.wait_migration()
        g1 = src.generation()
        st = os.stat(path)
        if not check(m["status"] == "completed",
                     "mapped-ram: live migration to a file completed while the guest "
                     "wrote generations %d..%d; file of %d bytes, %d allocated "
                     "(sparse); source '%s'" % (g0, g1, st.st_size, st.st_blocks * 512,
                                                src.status()),
                     "mapped-ram: %s" % m):
            return
        check(st.st_size > RAM_SIZE and st.st_blocks * 512 < st.st_size // 4,
              "mapped-ram: the file holds every page at its offset and is sparse",
              "mapped-ram: file size %d, allocated %d" % (st.st_size, st.st_blocks * 512))
        dst = emulator(work, tag, tag + "-dst", ["-incoming", "defer", "-S"])
        dst.caps(mapped_ram=True, multifd=True)
        dst.params(multifd_channels=2)
        dst.cmd("migrate-incoming", uri="file:" + path)
        m = dst.wait_migration()
        if check(m["status"] == "completed",
                 "mapped-ram: a new process restored the file (status '%s')" % dst.status(),
                 "mapped-ram: restore %s: %s" % (m["status"], dst.err())):
            compare(src, dst, tag, work)
            runs_on(dst, tag, src.generation())
    finally:
        quit_all(src, dst)


def mode_cpr_transfer(work):
    tag = "cpr-transfer"
    uri = port_uri()
    cpr = os.path.join(work, "cpr.sock")
    if os.path.exists(cpr):
        os.unlink(cpr)
    src = start_writer(work, tag, tag + "-src")
    dst = None
    try:
        # New QEMU reads the cpr channel before it opens its monitor.
        dst = emulator(work, tag, tag + "-dst",
                       ["-incoming", uri, "-S", "-incoming", json.dumps(
                           {"channel-type": "cpr", "addr": {
                               "transport": "socket", "type": "unix", "path": cpr}})],
                       fresh=False, connect=False)
        deadline = time.time() + 30
        while not os.path.exists(cpr) and time.time() < deadline:
            time.sleep(0.02)
        src.params(mode="cpr-transfer")
        g0 = src.generation()
        host, port = uri[4:].rsplit(":", 1)
        src.migrate(channels=[
            {"channel-type": "main", "addr": {"transport": "socket", "type": "inet",
                                              "host": host, "port": port}},
            {"channel-type": "cpr", "addr": {"transport": "socket", "type": "unix",
                                             "path": cpr}}])
        m = src.wait_migration()
        if not dst.connect(strict=False):
            raise RuntimeError("cpr-transfer destination: " + dst.err())
        md = dst.wait_migration()
        ram = m.get("ram", {})
        if not check(m["status"] == "completed" and md["status"] == "completed",
                     "cpr-transfer: completed while the guest ran (generation %d); "
                     "%d bytes of RAM sent, downtime %s ms; source '%s', destination '%s'"
                     % (g0, ram.get("transferred", 0), m.get("downtime"),
                        src.status(), dst.status()),
                     "cpr-transfer: source %s, destination %s: %s %s"
                     % (m["status"], md["status"], m.get("error-desc", ""), dst.err())):
            return
        check(ram.get("transferred", 0) < min(SIZES.values()),
              "cpr-transfer: guest memory stayed in place (no RAM pages sent)",
              "cpr-transfer: %d bytes of RAM sent" % ram.get("transferred", 0))
        compare(src, dst, tag, work)
        runs_on(dst, tag, src.generation())
    finally:
        quit_all(src, dst)


def mode_cpr_exec(work):
    tag = "cpr-exec"
    state = os.path.join(work, "cpr-exec.state")
    src = start_writer(work, tag, tag + "-src")
    new = None
    try:
        pid = src.proc.pid
        # The new process: the same machine, its own QMP socket and serial.
        new = successor(src, work, tag, tag + "-new", state)
        src.params(mode="cpr-exec", cpr_exec_command=new.args)
        src.cmd("stop")
        gen = src.generation()
        before = {}
        for dev, addr, size, node in src.devices():
            before[dev] = dump(src, tag, "before", dev, addr, size, work)
        src.cmd("migrate", uri="file:" + state)
        # The same process (PID) becomes the new QEMU: new QMP socket.
        src.disconnect()
        src = None
        if not new.connect(strict=False):
            raise RuntimeError("cpr-exec: no new QEMU: %s" % new.err())
        m = new.wait_migration()
        if not check(m["status"] == "completed",
                     "cpr-exec: process %d exec'd the new QEMU and it loaded the state "
                     "(status '%s')" % (pid, new.status()),
                     "cpr-exec: incoming %s: %s" % (m["status"], new.err())):
            return
        try:
            cmdline = open("/proc/%d/cmdline" % pid).read().split("\0")
        except OSError:
            cmdline = []
        check(new.proc.poll() is None and new.qmp_path in " ".join(cmdline),
              "cpr-exec: PID %d now runs the new command line" % pid,
              "cpr-exec: PID %d runs %s" % (pid, " ".join(cmdline)[-200:]))
        compare(None, new, tag, work, src_dumps=before)
        runs_on(new, tag, gen)
        ok("cpr-exec: stopped at writer generation %d, resumed in place" % gen)
    finally:
        quit_all(src, new)


def mode_cpr_reboot(work):
    tag = "cpr-reboot"
    state = os.path.join(work, "cpr-reboot.state")
    src = start_writer(work, tag, tag + "-src")
    dst = None
    try:
        src.params(mode="cpr-reboot")
        src.caps(x_ignore_shared=True)
        g0 = src.generation()
        src.migrate(uri="file:" + state)
        m = src.wait_migration()
        if not check(m["status"] == "completed",
                     "cpr-reboot: the running guest (generation %d) saved to a file "
                     "of %d bytes; source '%s'" % (g0, os.path.getsize(state),
                                                   src.status()),
                     "cpr-reboot: %s" % m):
            return
        before = {}
        for dev, addr, size, node in src.devices():
            before[dev] = dump(src, tag, "before", dev, addr, size, work)
        src_gen = src.generation()
        # RAM (not shared) is in the file, mostly as zero pages: 1 MiB.
        check(os.path.getsize(state) < min(SIZES.values()),
              "cpr-reboot: the shared sp-mem backends (0x%x bytes) were not copied "
              "to the file" % sum(SIZES.values()),
              "cpr-reboot: state file %d bytes" % os.path.getsize(state))
        src.quit()
        src = None
        dst = emulator(work, tag, tag + "-dst", ["-incoming", "defer", "-S"], fresh=False)
        dst.params(mode="cpr-reboot")
        dst.caps(x_ignore_shared=True)
        dst.cmd("migrate-incoming", uri="file:" + state)
        md = dst.wait_migration()
        if check(md["status"] == "completed",
                 "cpr-reboot: a new process took over the same files (status '%s')"
                 % dst.status(), "cpr-reboot: incoming %s: %s" % (md["status"], dst.err())):
            compare(None, dst, tag, work, src_dumps=before)
            runs_on(dst, tag, src_gen)
    finally:
        quit_all(src, dst)


# --- destinations configured otherwise ------------------------------------------

S1_ADDR = 0x80000000 + SIZES["s0"]      # where QEMU places s1
WANT = {
    "other node": r"sp-mem 's1': node 2 in the migration stream, but 'node' is 1 here",
    "other address": r"sp-mem 's1': address 0x%x in the migration stream, but "
                     r"'addr' is 0x80800000 here" % S1_ADDR,
    "other size": r"Size mismatch: hs1: 0x200000 != 0x400000|sp-mem 's1': size "
                  r"0x200000 in the migration stream, but the backend has 0x400000",
}


def other_devs(case):
    s1 = ["s1", SIZES["s1"], NODES["s1"], None]
    if case == "other node":
        s1[2] = 1
    elif case == "other address":
        s1[3] = "0x80800000"
    elif case == "other size":
        s1[1] *= 2
    return [("s0", SIZES["s0"], NODES["s0"], None), tuple(s1)]


def want(mode, case):
    """With x-ignore-shared the RAM block list carries each shared
    block's address, and QEMU's RAM code refuses another one before the
    device's section is read (migration/ram.c, parse_ramblock())."""
    if case == "other address" and mode in ("ignore-shared", "cpr-reboot"):
        return r"Mismatched GPAs for block hs1 %d!= %d" % (
            S1_ADDR - 0x80000000, 0x80800000 - 0x80000000)
    return WANT[case]


# QEMU 10.2.2 drops the error of a device-state load that fails after the
# switch to postcopy (migration/migration.c, process_incoming_migration_co():
# once the listen thread runs it goes to "out" without reporting
# local_err); the destination reports only the listen thread's channel
# error.  postcopy_lost_error() shows the same with pc-dimm.
POSTCOPY_LOST = r"loadvm failed during postcopy: -22: "


def refused(tag, case, rc, err, extra=""):
    line = " / ".join(l for l in err.splitlines() if l.strip())[-240:]
    pattern = want(tag.split()[0], case)
    if tag.startswith("postcopy") and case != "other size":
        pattern += "|" + POSTCOPY_LOST
    check(rc is not None and rc > 0 and re.search(pattern, err),
          "%s: %s: destination refused the stream, exit %s: %s%s"
          % (tag, case, rc, line, extra),
          "%s: %s: destination exit %s%s, stderr: %s" % (tag, case, rc, extra, line))


def source_runs(src, tag, case):
    g = src.generation()
    status = src.status()
    check(status == "running" and src.wait_generation(g + 2, timeout=30),
          "%s: %s: source still running, writer at generation %d"
          % (tag, case, src.generation()),
          "%s: %s: source status '%s', generation %d" % (tag, case, status,
                                                       src.generation()))


def postcopy_lost_error(work):
    """The same loss without sp-mem: a pc-dimm machine (which needs
    firmware on virt: a page of zeros will do, the guest never matters
    here) and a destination that lacks the source's virtio-rng device."""
    fw = os.path.join(work, "zero.fw")
    with open(fw, "wb") as f:
        f.write(bytes(4096))
    base = ["-M", "virt", "-cpu", "cortex-a57", "-bios", fw,
            "-m", "256M,slots=1,maxmem=1G", "-nodefaults", "-display", "none",
            "-monitor", "none", "-object", "memory-backend-ram,id=d0,size=4M",
            "-device", "pc-dimm,id=dimm0,memdev=d0"]
    want = r"Unknown section or instance 'virtio-mmio@[0-9a-f]+/virtio-rng'"
    for postcopy in (False, True):
        tag = "postcopy pc-dimm (QEMU): %s" % ("postcopy" if postcopy else "precopy")
        vms = []
        try:
            for name, extra in (("pe-src", ["-device", "virtio-rng-device"]),
                                ("pe-dst", ["-incoming", "defer"])):
                vms.append(spmem.VM(QEMU, base + extra, work, name, serial=None,
                                    connect=False))
                vms[-1].connect()
            src, dst = vms
            uri = port_uri()
            for vm in vms:
                vm.cmd("migrate-set-capabilities", capabilities=[
                    {"capability": "postcopy-ram", "state": postcopy},
                    {"capability": "return-path", "state": True}])
            dst.cmd("migrate-incoming", uri=uri)
            src.cmd("migrate", uri=uri)
            if postcopy:
                src.cmd("migrate-start-postcopy")
            rc = dst.exit_status()
            err = dst.err()
            line = " / ".join(l for l in err.splitlines() if l.strip())[-200:]
            if postcopy:
                check(rc == 1 and re.search(POSTCOPY_LOST, err) and not re.search(want, err),
                      "%s: destination exit 1 without naming the missing device "
                      "(the error is lost in QEMU): %s" % (tag, line),
                      "%s: exit %s: %s" % (tag, rc, line))
            else:
                check(rc == 1 and re.search(want, err),
                      "%s: destination exit 1 naming the missing device: %s" % (tag, line),
                      "%s: exit %s: %s" % (tag, rc, line))
        finally:
            for vm in vms:
                vm.kill()


def cpr_needs_shared(work):
    """cpr-transfer refuses an sp-mem backend it cannot hand over."""
    tag = "cpr-transfer mismatch: memory-backend-ram"
    saved = BACKENDS["cpr-transfer"]
    BACKENDS["cpr-transfer"] = ("memfd", "ram", "file")
    try:
        src = start_writer(work, "cpr-transfer", "cpr-ram-src", fresh=False)
    finally:
        BACKENDS["cpr-transfer"] = saved
    try:
        src.params(mode="cpr-transfer")
        cpr = os.path.join(work, "cpr-ram.sock")
        host, port = port_uri()[4:].rsplit(":", 1)
        r = src.cmd("migrate", channels=[
            {"channel-type": "main", "addr": {
                "transport": "socket", "type": "inet", "host": host, "port": port}},
            {"channel-type": "cpr", "addr": {
                "transport": "socket", "type": "unix", "path": cpr}}])
        desc = r.get("error", {}).get("desc", "")
        check(re.search(r"Memory region hs0 is not compatible with CPR", desc),
              "%s: migrate refused: %s" % (tag, desc),
              "%s: migrate answered %s" % (tag, r))
        source_runs(src, tag, "refused")
    finally:
        src.quit()


def cpr_exec_private_lost(work):
    """QEMU 10.2.2 does not refuse cpr-exec with memory it cannot keep:
    system/physmem.c ram_block_add_cpr_blocker() blocks only cpr-transfer,
    while migration/ram.c migrate_ram_is_ignored() skips every RAM block
    in cpr-exec.  A device on memory-backend-ram comes back zeroed, for
    pc-dimm as for sp-mem; on memory-backend-memfd both keep their data.
    The device is filled at reset by -device loader (no guest needed;
    pc-dimm on virt needs firmware, a page of zeros does)."""
    fw = os.path.join(work, "zero.fw")
    with open(fw, "wb") as f:
        f.write(bytes(4096))
    pat = bytes((i * 7 + 3) & 255 for i in range(4096))
    patf = os.path.join(work, "pattern.bin")
    with open(patf, "wb") as f:
        f.write(pat)
    for kind in ("sp-mem", "pc-dimm"):
        for backend in ("memfd", "ram"):
            tag = "cpr-exec %s on memory-backend-%s%s" % (
                kind, backend, " (QEMU)" if backend == "ram" else "")

            args = ["-M", "virt,aux-ram-share=on", "-cpu", "cortex-a57",
                    "-bios", fw, "-m", "256M,slots=1,maxmem=1G", "-nodefaults",
                    "-display", "none", "-monitor", "none",
                    "-object", "memory-backend-memfd,id=ram0,size=256M",
                    "-numa", "node,nodeid=0,memdev=ram0", "-numa", "node,nodeid=1",
                    "-object", "memory-backend-%s,id=d0,size=4M" % backend,
                    "-device", "%s,id=x0,memdev=d0,node=1" % kind,
                    "-device", "loader,file=%s,addr=0x80000000" % patf]
            state = os.path.join(work, "cx.state")
            if os.path.exists(state):
                os.unlink(state)
            a = spmem.VM(QEMU, args, work, "cx-a", serial=None, connect=False)
            b = spmem.VM.for_exec(a, "cx-b", args + ["-incoming", "file:" + state])
            try:
                a.connect()
                before = os.path.join(work, "cx-before.bin")
                a.cmd("pmemsave", val=0x80000000, size=4096, filename=before)
                a.cmd("migrate-set-parameters", mode="cpr-exec",
                      **{"cpr-exec-command": b.args})
                r = a.cmd("migrate", uri="file:" + state)
                a.disconnect()
                b.connect()
                m = b.wait_migration(timeout=30)
                after = os.path.join(work, "cx-after.bin")
                b.cmd("pmemsave", val=0x80000000, size=4096, filename=after)
                got = (open(before, "rb").read() == pat, m.get("status"),
                       open(after, "rb").read())
                desc = "migrate %s, status %s; before: %s; after: %s" % (
                    "refused" if "error" in r else "accepted", got[1],
                    "pattern" if got[0] else "NOT the pattern",
                    "pattern" if got[2] == pat else
                    "all zero" if got[2] == bytes(4096) else "other")
                if backend == "memfd":
                    check(got[0] and got[1] == "completed" and got[2] == pat,
                          "%s: kept in place: %s" % (tag, desc), "%s: %s" % (tag, desc))
                else:
                    check(got[0] and got[1] == "completed" and got[2] == bytes(4096),
                          "%s: accepted and lost, as for the other kind: %s" % (tag, desc),
                          "%s: %s" % (tag, desc))
            finally:
                a.disconnect()
                b.quit()


MODE_CAPS = {"multifd": {"multifd": True}, "postcopy": {"postcopy-ram": True},
             "ignore-shared": {"x-ignore-shared": True},
             "mapped-ram": {"mapped-ram": True, "multifd": True},
             "cpr-reboot": {"x-ignore-shared": True}}


def mismatch(work, mode):
    tag = mode + " mismatch"
    caps = dict(MODE_CAPS.get(mode, {}))
    cases = list(WANT)
    if mode in ("multifd", "postcopy", "ignore-shared"):
        caps["return-path"] = True
        src = start_writer(work, mode, mode + "-mmsrc", fresh=False)
        try:
            for case in cases:
                uri = port_uri()
                dst = emulator(work, mode, "%s-mmdst-%s" % (mode, case.split()[1]),
                               ["-incoming", "defer", "-S"],
                               devs=other_devs(case), fresh=False)
                if not dst.conn:
                    bad("%s: %s: destination did not start: %s" % (tag, case, dst.err()))
                    continue
                for vm in (src, dst):
                    vm.caps(**caps)
                dst.cmd("migrate-incoming", uri=uri)
                src.migrate(uri=uri)
                if mode == "postcopy":
                    src.cmd("migrate-start-postcopy")
                m = src.wait_migration(timeout=60)
                rc = dst.exited()
                err = dst.err()
                refused(tag, case, rc, err, ", source migration %s (%s)"
                        % (m["status"], m.get("error-desc", "")))
                source_runs(src, tag, case)
        finally:
            src.quit()
        if mode == "postcopy":
            postcopy_lost_error(work)
    elif mode in ("mapped-ram", "cpr-reboot"):
        state = os.path.join(work, mode + "-mm.state")
        src = start_writer(work, mode, mode + "-mmsrc", fresh=False)
        try:
            if mode == "cpr-reboot":
                src.params(mode="cpr-reboot")
            src.caps(**caps)
            src.migrate(uri="file:" + state)
            m = src.wait_migration()
            if m["status"] != "completed":
                bad("%s: saving the state: %s" % (tag, m))
                return
            saved_gen = src.generation()
        finally:
            src.quit()
        for case in cases:
            dst = emulator(work, mode, "%s-mmdst-%s" % (mode, case.split()[1]),
                           ["-incoming", "defer", "-S"], devs=other_devs(case), fresh=False)
            if mode == "cpr-reboot":
                dst.params(mode="cpr-reboot")
            dst.caps(**caps)
            dst.cmd("migrate-incoming", uri="file:" + state)
            rc = dst.exited()
            err = dst.err()
            refused(tag, case, rc, err)
        # The refusals left the state file (and shared files) usable.
        dst = emulator(work, mode, mode + "-mmdst-right", ["-incoming", "defer", "-S"],
                       fresh=False)
        try:
            if mode == "cpr-reboot":
                dst.params(mode="cpr-reboot")
            dst.caps(**caps)
            dst.cmd("migrate-incoming", uri="file:" + state)
            m = dst.wait_migration()
            check(m["status"] == "completed" and len(dst.devices()) == 2,
                  "%s: after the refusals the right destination restores the same "
                  "file" % tag, "%s: the right destination: %s %s" % (tag, m, dst.err()))
            if m["status"] == "completed":
                runs_on(dst, tag, saved_gen)
        finally:
            dst.quit()
    elif mode == "cpr-transfer":
        for case in cases:
            uri = port_uri()
            cpr = os.path.join(work, "cpr-mm.sock")
            if os.path.exists(cpr):
                os.unlink(cpr)
            src = start_writer(work, mode, mode + "-mmsrc", fresh=False)
            dst = None
            try:
                dst = emulator(work, mode, "%s-mmdst-%s" % (mode, case.split()[1]),
                               ["-incoming", uri, "-S", "-incoming", json.dumps(
                                   {"channel-type": "cpr", "addr": {
                                       "transport": "socket", "type": "unix", "path": cpr}})],
                               devs=other_devs(case), fresh=False, connect=False)
                deadline = time.time() + 30
                while not os.path.exists(cpr) and time.time() < deadline:
                    time.sleep(0.02)
                src.params(mode="cpr-transfer")
                host, port = uri[4:].rsplit(":", 1)
                src.migrate(channels=[
                    {"channel-type": "main", "addr": {
                        "transport": "socket", "type": "inet", "host": host, "port": port}},
                    {"channel-type": "cpr", "addr": {
                        "transport": "socket", "type": "unix", "path": cpr}}])
                m = src.wait_migration(timeout=60)
                rc = dst.exit_status()
                refused(tag, case, rc, dst.err(), ", source migration %s, source '%s'"
                        % (m["status"], src.status()))
                # cpr-transfer has no return path: the source only
                # stopped, and its memory is still its own.
                src.cmd("cont")
                source_runs(src, tag, case + ", after cont")
            finally:
                quit_all(src, dst)
        cpr_needs_shared(work)
    elif mode == "cpr-exec":
        for case in cases:
            src = start_writer(work, mode, mode + "-mmsrc", fresh=False)
            try:
                state = os.path.join(work, "cpr-exec-mm.state")
                new = successor(src, work, mode, mode + "-mmnew", state,
                                devs=other_devs(case))
                src.params(mode="cpr-exec", cpr_exec_command=new.args)
                src.cmd("migrate", uri="file:" + state)
                src.disconnect()
                rc = src.exit_status()
                refused(tag, case, rc, src.err(), " (the exec'd process)")
            finally:
                src.quit()
        cpr_exec_private_lost(work)


MODE_FNS = {"multifd": mode_multifd, "postcopy": mode_postcopy,
            "mapped-ram": mode_mapped_ram, "ignore-shared": mode_ignore_shared,
            "cpr-transfer": mode_cpr_transfer, "cpr-exec": mode_cpr_exec,
            "cpr-reboot": mode_cpr_reboot}


def main():
    global QEMU, GUEST
    if len(sys.argv) < 4:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    QEMU, GUEST, work = sys.argv[1:4]
    modes = sys.argv[4:] or MODES
    unknown = [m for m in modes if m not in MODE_FNS]
    if unknown:
        print("run.py: unknown mode %s (modes: %s)"
              % (", ".join(unknown), " ".join(MODES)), file=sys.stderr)
        return 2
    os.makedirs(work, exist_ok=True)
    if not spmem.need(QEMU, GUEST):
        return spmem.finish()
    t0 = time.time()
    for mode in modes:
        t = time.time()
        try:
            MODE_FNS[mode](work)
        except Exception as e:      # a crash of the test is a failure
            bad("%s: %s: %s" % (mode, type(e).__name__, e))
        try:
            mismatch(work, mode)
        except Exception as e:
            bad("%s: mismatch: %s: %s" % (mode, type(e).__name__, e))
        print("%s: %.1fs" % (mode, time.time() - t), flush=True)
    print("bytes compared between source and destination: %d (%.1f MiB), in %.1fs"
          % (bytes_compared, bytes_compared / MiB, time.time() - t0))
    return spmem.finish()


if __name__ == "__main__":
    sys.exit(main())
