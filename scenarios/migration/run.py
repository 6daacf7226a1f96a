#!/usr/bin/env python3
"""Migration of sp-mem: no byte of device memory is lost.

usage: test-migration.py QEMU GUEST_ELF WORKDIR

The guest is the bare-metal reference guest (guest/baremetal) in its
writer mode (-append sp-mem-writer): it keeps rewriting both sp-mem
ranges, word by word, with W(addr, gen) = G(addr, node) + gen.

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
import array
import json
import os
import re
import socket
import subprocess
import sys
import time

GUEST_MUL = 0x9e3779b97f4a7c15
GUEST_SEED = 0x53504d454d000000
MASK = (1 << 64) - 1
HOST_BLOCK = 0x2000        # the guest's host block: size - 8 KiB, 4 KiB long

# id, backend type, size, node; QEMU places them from 0x80000000.
DEVICES = [("s0", "memory-backend-ram", 16 << 20, 1),
           ("s1", "memory-backend-file", 8 << 20, 2)]

passed = failed = 0
bytes_compared = 0


def ok(msg):
    global passed
    passed += 1
    print("ok   " + msg, flush=True)


def bad(msg):
    global failed
    failed += 1
    print("FAIL " + msg, flush=True)


class QMP:
    def __init__(self, path, timeout=30):
        deadline = time.time() + timeout
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX)
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if time.time() > deadline:
                    raise
                time.sleep(0.05)
        self.file = self.sock.makefile("rw")
        self.events = []
        json.loads(self.file.readline())          # greeting
        self.cmd("qmp_capabilities")

    def cmd(self, name, **args):
        self.file.write(json.dumps({"execute": name, "arguments": args}) + "\n")
        self.file.flush()
        while True:
            line = self.file.readline()
            if not line:
                raise EOFError("QMP connection closed during " + name)
            msg = json.loads(line)
            if "event" in msg:
                self.events.append(msg)
                continue
            return msg

    def close(self):
        self.sock.close()


class VM:
    """One emulator process: serial to a file, QMP on a unix socket."""

    def __init__(self, qemu, work, name, devices, extra=()):
        self.name = name
        self.serial = os.path.join(work, name + ".serial")
        self.qmp_path = os.path.join(work, name + ".qmp")
        self.stderr = os.path.join(work, name + ".stderr")
        for p in (self.serial, self.qmp_path):
            if os.path.exists(p):
                os.unlink(p)
        args = [qemu, "-M", "virt", "-cpu", "cortex-a57",
                "-m", "1G,maxmem=4G", "-nodefaults", "-display", "none",
                "-serial", "file:" + self.serial, "-monitor", "none",
                "-qmp", "unix:%s,server=on,wait=off" % self.qmp_path,
                "-object", "memory-backend-ram,id=ram0,size=1G",
                "-numa", "node,nodeid=0,memdev=ram0",
                "-numa", "node,nodeid=1", "-numa", "node,nodeid=2",
                "-kernel", GUEST, "-append", "sp-mem-writer"]
        for dev, typ, size, node, *addr in devices:
            backend = "%s,id=h%s,size=%d" % (typ, dev, size)
            if typ == "memory-backend-file":
                path = os.path.join(work, "%s-%s.mem" % (name, dev))
                with open(path, "wb") as f:
                    f.truncate(size)
                backend += ",mem-path=%s,share=on" % path
            args += ["-object", backend, "-device",
                     "sp-mem,id=%s,memdev=h%s,node=%d%s"
                     % (dev, dev, node, ",addr=%s" % addr[0] if addr else "")]
        self.args = args + list(extra)
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=open(self.stderr, "w"))
        self.qmp = None
        try:
            self.qmp = QMP(self.qmp_path)
        except (OSError, EOFError, ValueError):
            pass                    # it may have exited: callers check

    def generation(self):
        try:
            text = open(self.serial).read()
        except OSError:
            return 0
        gens = re.findall(r"writer generation (\d+)", text)
        return int(gens[-1]) if gens else 0

    def wait_generation(self, gen, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.generation() >= gen:
                return True
            if self.proc.poll() is not None:
                return False
            time.sleep(0.05)
        return False

    def status(self):
        return self.qmp.cmd("query-status")["return"]["status"]

    def devices(self):
        r = self.qmp.cmd("query-memory-devices")["return"]
        return [(d["data"]["id"], d["data"]["addr"], d["data"]["size"],
                 d["data"]["node"]) for d in r if d["type"] == "sp-mem"]

    def dump(self, addr, size, path):
        r = self.qmp.cmd("pmemsave", val=addr, size=size, filename=path)
        if "error" in r:
            raise RuntimeError("pmemsave: %s" % r["error"]["desc"])
        with open(path, "rb") as f:
            return f.read()

    def wait_migration(self, timeout=120):
        deadline = time.time() + timeout
        while time.time() < deadline:
            r = self.qmp.cmd("query-migrate")["return"]
            if r.get("status") in ("completed", "failed", "cancelled"):
                return r
            time.sleep(0.1)
        return {"status": "timeout"}

    def quit(self):
        if self.qmp:
            try:
                self.qmp.cmd("quit")
            except (OSError, EOFError):
                pass
            self.qmp.close()
        try:
            return self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def err(self):
        return open(self.stderr).read().strip()


def pattern_ok(data, addr, node, size, host_block_zero, gen_max):
    """Every word is G + g or G + g - 1 (one generation being written)."""
    words = array.array("Q", data)
    hb = (size - HOST_BLOCK) // 8
    gens = set()
    for i, v in enumerate(words):
        if hb <= i < hb + 512:
            if host_block_zero and v:
                return "host block word at 0x%x is 0x%x" % (addr + 8 * i, v)
            continue
        a = addr + 8 * i
        g = (v - (((a * GUEST_MUL) & MASK) ^ GUEST_SEED ^ node)) & MASK
        if g == 0 or g > gen_max:
            return "word at 0x%x is 0x%x: not written by the writer" % (a, v)
        gens.add(g)
        if len(gens) > 2 or max(gens) - min(gens) > 1:
            return "word at 0x%x is of generation %d, others of %s" % (a, g, sorted(gens))
    return "generation %s" % "/".join(str(g) for g in sorted(gens))


def compare(src, dst, tag, work, check_pattern=True):
    """Dump every sp-mem range from both (stopped) sides and compare."""
    global bytes_compared
    devs = src.devices()
    for dev, addr, size, node in devs:
        a = src.dump(addr, size, os.path.join(work, "%s-src-%s.bin" % (tag, dev)))
        b = dst.dump(addr, size, os.path.join(work, "%s-dst-%s.bin" % (tag, dev)))
        if check_pattern:
            p = pattern_ok(a, addr, node, size, True, src.generation())
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


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_file(work):
    src = VM(QEMU, work, "file-src", DEVICES)
    if not src.qmp or not src.wait_generation(3):
        bad("file: source guest not writing: %s" % src.err())
        src.quit()
        return
    src.qmp.cmd("stop")
    gen = src.generation()
    uri = "file:" + os.path.join(work, "state.bin")
    r = src.qmp.cmd("migrate", uri=uri)
    m = src.wait_migration()
    if "error" in r or m["status"] != "completed":
        bad("file: migrate to %s: %s %s" % (uri, r, m))
        src.quit()
        return
    ok("file: stopped at writer generation %d, migrated to a file (%d bytes)"
       % (gen, os.path.getsize(uri[5:])))
    dst = VM(QEMU, work, "file-dst", DEVICES, ["-incoming", uri, "-S"])
    m = dst.wait_migration() if dst.qmp else {"status": "no QMP: " + dst.err()}
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
        if typ != "memory-backend-file":
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
    dst.qmp.cmd("cont")
    if dst.wait_generation(gen + 2, timeout=30):
        ok("%s: the destination guest runs on: writer generation %d after %d"
           % (tag, dst.generation(), gen))
    else:
        bad("%s: destination guest did not go on writing (generation %d)"
            % (tag, dst.generation()))


def test_tcp(work):
    port = free_port()
    dst = VM(QEMU, work, "tcp-dst", DEVICES,
             ["-incoming", "tcp:127.0.0.1:%d" % port, "-S"])
    src = VM(QEMU, work, "tcp-src", DEVICES)
    if not src.qmp or not dst.qmp or not src.wait_generation(3):
        bad("tcp: start: %s / %s" % (src.err(), dst.err()))
        src.quit()
        dst.quit()
        return
    g0 = src.generation()
    src.qmp.cmd("migrate-set-parameters", **{"max-bandwidth": 4 << 30,
                                               "downtime-limit": 2000})
    r = src.qmp.cmd("migrate", uri="tcp:127.0.0.1:%d" % port)
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
    src = VM(QEMU, work, "mm-src", DEVICES)
    if not src.qmp or not src.wait_generation(2):
        bad("mismatch: source: %s" % src.err())
        src.quit()
        return
    for name, devs, want in cases:
        # The return path lets the source learn that the destination
        # failed to load, so that it fails the migration and runs on.
        port = free_port()
        dst = VM(QEMU, work, "mm-dst", devs, ["-incoming", "defer", "-S"])
        if not dst.qmp:
            bad("mismatch (%s): destination did not start: %s" % (name, dst.err()))
            continue
        rp = [{"capability": "return-path", "state": True}]
        dst.qmp.cmd("migrate-set-capabilities", capabilities=rp)
        dst.qmp.cmd("migrate-incoming", uri="tcp:127.0.0.1:%d" % port)
        src.qmp.cmd("migrate-set-capabilities", capabilities=rp)
        src.qmp.cmd("migrate", uri="tcp:127.0.0.1:%d" % port)
        m = src.wait_migration()
        try:
            rc = dst.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            rc = None
        err = dst.err()
        if dst.qmp:
            dst.qmp.close()
            dst.qmp = None
        dst.quit()
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
    src.qmp.cmd("stop")
    for dev, addr, size, node in src.devices():
        data = src.dump(addr, size, os.path.join(work, "mm-%s.bin" % dev))
        p = pattern_ok(data, addr, node, size, True, src.generation())
        if p.startswith("generation"):
            ok("mismatch: source %s intact after the failed migrations (%s)" % (dev, p))
        else:
            bad("mismatch: source %s: %s" % (dev, p))
    src.quit()


def main():
    global QEMU, GUEST
    QEMU, GUEST, work = sys.argv[1:4]
    os.makedirs(work, exist_ok=True)
    if not os.access(QEMU, os.X_OK) or not os.path.isfile(GUEST):
        bad("need %s (scripts/build.sh) and %s (scripts/guest-baremetal.sh)"
            % (QEMU, GUEST))
        print("migration: %d passed, %d failed" % (passed, failed))
        return 1
    t0 = time.time()
    for test in (test_file, test_tcp, test_mismatch):
        try:
            test(work)
        except Exception as e:      # a crash of the test is a failure
            bad("%s: %s: %s" % (test.__name__, type(e).__name__, e))
    print("bytes compared between source and destination: %d (%.1f MiB), in %.1fs"
          % (bytes_compared, bytes_compared / 2**20, time.time() - t0))
    print("migration: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
