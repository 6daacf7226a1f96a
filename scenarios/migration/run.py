#!/usr/bin/env python3
"""Migration of sp-mem: no byte of device memory is lost.

usage: run.py QEMU GUEST_ELF WORKDIR

The guest is the bare-metal reference guest (scenarios/baremetal/guest)
in its writer mode (-append sp-mem-writer): it keeps rewriting both
sp-mem ranges, word by word, with W(addr, gen) = G(addr, node) + gen
(lib/spmem.py).

  file     the source runs, is stopped, migrates to a file; a new process
           restores it (-incoming file:...).
  tcp      live migration over loopback TCP while the guest writes.
  mismatch destinations whose sp-mem configuration differs (device
           missing, other size, other node, other address) refuse the
           stream with an error; the source keeps running and its memory
           holds the writer's pattern.

After each migration both sides are stopped, every sp-mem range is
dumped from each with QMP pmemsave, and the dumps are compared byte for
byte; the source dump must also be the writer's pattern (each word
G + g or G + g - 1 for the generation g being written, the host block of
the file-backed device zero), so a dump of zeros cannot pass.  The
file-backed device's backend files are compared too.

Prints one "ok"/"FAIL" line per check, the bytes compared, and last
"migration: N passed, N failed".
"""
import os
import re
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "lib"))
import spmem                # noqa: E402  (lib/spmem.py: VM, patterns, ok/bad)
from spmem import ok, bad   # noqa: E402

# id, backend type, size, node; QEMU places them from 0x80000000.
DEVICES = [("s0", "ram", 16 << 20, 1),
           ("s1", "file", 8 << 20, 2)]

bytes_compared = 0


def writer(work, name, devices, extra=()):
    """The writer guest with DEVICES, serial to a file, QMP on a unix
    socket (conn None when QEMU did not come up: callers check)."""
    devs = [(dev, spmem.backend(typ, "h" + dev, size,
                                os.path.join(work, "%s-%s.mem" % (name, dev))),
             node, addr[0] if addr else None)
            for dev, typ, size, node, *addr in devices]
    return spmem.VM(QEMU, spmem.writer_args(
        GUEST, "1G,maxmem=4G", "memory-backend-ram,id=ram0,size=1G", devs)
        + list(extra), work, name)


def compare(src, dst, tag, work, check_pattern=True):
    """Dump every sp-mem range from both (stopped) sides and compare."""
    global bytes_compared
    devs = src.devices()
    for dev, addr, size, node in devs:
        a = src.dump(addr, size, os.path.join(work, "%s-src-%s.bin" % (tag, dev)))
        b = dst.dump(addr, size, os.path.join(work, "%s-dst-%s.bin" % (tag, dev)))
        if check_pattern:
            p = spmem.pattern_ok(a, addr, node, size, True, src.generation())
            if p.startswith("generation"):
                ok("%s: %s: source range 0x%x+0x%x holds the writer's pattern (%s)"
                   % (tag, dev, addr, size, p))
            else:
                bad("%s: %s: source range 0x%x+0x%x: %s" % (tag, dev, addr, size, p))
        if len(a) == size and a == b:
            bytes_compared += size
            ok("%s: %s: all 0x%x bytes at 0x%x equal on source and destination"
               % (tag, dev, size, addr))
        else:
            diff = next((i for i in range(min(len(a), len(b))) if a[i] != b[i]), None)
            bad("%s: %s: dumps differ (lengths %d/%d, first difference at +0x%x)"
                % (tag, dev, len(a), len(b), diff if diff is not None else -1))
    return devs


def test_file(work):
    src = writer(work, "file-src", DEVICES)
    if not src.conn or not src.wait_generation(3):
        bad("file: source guest not writing: %s" % src.err())
        src.quit()
        return
    src.cmd("stop")
    gen = src.generation()
    uri = "file:" + os.path.join(work, "state.bin")
    r = src.cmd("migrate", uri=uri)
    m = src.wait_migration()
    if "error" in r or m["status"] != "completed":
        bad("file: migrate to %s: %s %s" % (uri, r, m))
        src.quit()
        return
    ok("file: stopped at writer generation %d, migrated to a file (%d bytes)"
       % (gen, os.path.getsize(uri[5:])))
    dst = writer(work, "file-dst", DEVICES, ["-incoming", uri, "-S"])
    m = dst.wait_migration() if dst.conn else {"status": "no QMP: " + dst.err()}
    if m["status"] != "completed":
        bad("file: restore: %s" % m)
    else:
        ok("file: a new process restored the file (status '%s')" % dst.status())
        compare(src, dst, "file", work)
        files_equal(work, "file-src", "file-dst", "file")
        resumed(dst, gen, "file")
    src.quit()
    dst.quit()


def files_equal(work, a, b, tag):
    global bytes_compared
    for dev, typ, size, _ in DEVICES:
        if typ != "file":
            continue
        fa = open(os.path.join(work, "%s-%s.mem" % (a, dev)), "rb").read()
        fb = open(os.path.join(work, "%s-%s.mem" % (b, dev)), "rb").read()
        if fa == fb and len(fa) == size:
            bytes_compared += size
            ok("%s: %s: the two backend files (share=on) are equal, 0x%x bytes"
               % (tag, dev, size))
        else:
            bad("%s: %s: backend files differ" % (tag, dev))


def resumed(dst, gen, tag):
    dst.cmd("cont")
    if dst.wait_generation(gen + 2, timeout=30):
        ok("%s: the destination guest runs on: writer generation %d after %d"
           % (tag, dst.generation(), gen))
    else:
        bad("%s: destination guest did not go on writing (generation %d)"
            % (tag, dst.generation()))


def test_tcp(work):
    port = spmem.free_port()
    dst = writer(work, "tcp-dst", DEVICES,
                 ["-incoming", "tcp:127.0.0.1:%d" % port, "-S"])
    src = writer(work, "tcp-src", DEVICES)
    if not src.conn or not dst.conn or not src.wait_generation(3):
        bad("tcp: start: %s / %s" % (src.err(), dst.err()))
        src.quit()
        dst.quit()
        return
    g0 = src.generation()
    src.cmd("migrate-set-parameters", **{"max-bandwidth": 4 << 30,
                                         "downtime-limit": 2000})
    r = src.cmd("migrate", uri="tcp:127.0.0.1:%d" % port)
    m = src.wait_migration()
    g1 = src.generation()
    if "error" in r or m["status"] != "completed":
        bad("tcp: live migration: %s %s" % (r, m))
    else:
        ram = m.get("ram", {})
        ok("tcp: live migration completed while the guest wrote generations %d..%d "
           "(%d dirty syncs, %d pages sent, downtime %d ms); source '%s', destination '%s'"
           % (g0, g1, ram.get("dirty-sync-count", 0),
              ram.get("normal", 0), m.get("downtime", -1),
              src.status(), dst.status()))
        if g1 > g0 and ram.get("dirty-sync-count", 0) >= 2:
            ok("tcp: the guest kept writing during the migration")
        else:
            bad("tcp: no sign of writes during the migration (generations %d..%d)"
                % (g0, g1))
        compare(src, dst, "tcp", work)
        files_equal(work, "tcp-src", "tcp-dst", "tcp")
        resumed(dst, g1, "tcp")
    src.quit()
    dst.quit()


def test_mismatch(work):
    """Each destination differs in one sp-mem property."""
    s0, s1 = DEVICES
    cases = [
        ("device missing", [s0],
         r"Unknown ramblock \"hs1\"|unknown ramblock|hs1"),
        ("other size", [s0, (s1[0], s1[1], s1[2] * 2, s1[3])],
         r"Size mismatch: hs1"),
        ("other node", [s0, (s1[0], s1[1], s1[2], 1)],
         r"sp-mem 's1': node 2 in the migration stream, but 'node' is 1 here"),
        ("other address", [s0, (s1[0], s1[1], s1[2], s1[3], "0xc0000000")],
         r"sp-mem 's1': address 0x81000000 in the migration stream, "
         r"but 'addr' is 0xc0000000 here"),
    ]
    src = writer(work, "mm-src", DEVICES)
    if not src.conn or not src.wait_generation(2):
        bad("mismatch: source: %s" % src.err())
        src.quit()
        return
    for name, devs, want in cases:
        # The return path lets the source learn that the destination
        # failed to load, so that it fails the migration and runs on.
        port = spmem.free_port()
        dst = writer(work, "mm-dst", devs, ["-incoming", "defer", "-S"])
        if not dst.conn:
            bad("mismatch (%s): destination did not start: %s" % (name, dst.err()))
            continue
        rp = [{"capability": "return-path", "state": True}]
        dst.cmd("migrate-set-capabilities", capabilities=rp)
        dst.cmd("migrate-incoming", uri="tcp:127.0.0.1:%d" % port)
        src.cmd("migrate-set-capabilities", capabilities=rp)
        src.cmd("migrate", uri="tcp:127.0.0.1:%d" % port)
        m = src.wait_migration()
        rc = dst.exited()
        err = dst.err()
        line = " / ".join(l for l in err.splitlines() if l.strip())[-300:]
        if m["status"] == "failed" and rc not in (None, 0) and rc > 0 and re.search(want, err):
            ok("mismatch (%s): destination refused the stream, exit %d: %s"
               % (name, rc, line))
        else:
            bad("mismatch (%s): source status %s, destination exit %s, stderr: %s"
                % (name, m["status"], rc, line))
        g = src.generation()
        status = src.status()
        if status == "running" and src.wait_generation(g + 2, timeout=30):
            ok("mismatch (%s): source still running, writer at generation %d"
               % (name, src.generation()))
        else:
            bad("mismatch (%s): source status '%s', generation %d"
                % (name, status, src.generation()))
    # The source's memory after all the failed attempts.
    src.cmd("stop")
    for dev, addr, size, node in src.devices():
        data = src.dump(addr, size, os.path.join(work, "mm-%s.bin" % dev))
        p = spmem.pattern_ok(data, addr, node, size, True, src.generation())
        if p.startswith("generation"):
            ok("mismatch: source %s intact after the failed migrations (%s)" % (dev, p))
        else:
            bad("mismatch: source %s: %s" % (dev, p))
    src.quit()


def main():
    global QEMU, GUEST
    QEMU, GUEST, work = sys.argv[1:4]
    os.makedirs(work, exist_ok=True)
    if not spmem.need(QEMU, GUEST):
        return spmem.finish()
    t0 = time.time()
    for test in (test_file, test_tcp, test_mismatch):
        try:
            test(work)
        except Exception as e:      # a crash of the test is a failure
            bad("%s: %s: %s" % (test.__name__, type(e).__name__, e))
    print("bytes compared between source and destination: %d (%.1f MiB), in %.1fs"
          % (bytes_compared, bytes_compared / 2**20, time.time() - t0))
    return spmem.finish()


if __name__ == "__main__":
    sys.exit(main())
