#!/usr/bin/env python3
"""Parity: upstream's x86 sp-mem and our arm sp-mem asked the same questions.

usage: run.py ARM_QEMU X86SID WORKDIR [DOC]

X86SID is scripts/x86-sid.sh's cache: Debian sid's qemu-system-x86_64
(QEMU 11.1, upstream's device), its firmware, the stock arm64 EDK2 and
sid's stock Linux for amd64 and arm64.  ARM_QEMU is ours.  Both get the
same questions, each with the same -device lines on the machine's own
device memory (q35 and virt, 1 GiB of RAM on node 0, nodes 1 and 2
without memory, -m 1G,maxmem=4G):

  place-*  where the device lands (query-memory-devices)
  hmp-*    HMP info memory-devices and info numa
  err-*    the error for a bad input (QEMU's exit status and message)
  mig-*    a device's bytes after migration to a file and back
  guest-*  what a stock guest sees: the firmware's entries, /proc/iomem,
           dax devices, online nodes, the nodes' memory once kmem has
           the dax devices; with QEMU's default firmware (SeaBIOS on x86,
           none on arm: the kernel gets the device tree) and with UEFI
           (OVMF; the stock arm64 EDK2, with ACPI)

Addresses are printed relative to the start of the machine's device
memory region ("B+0x..."), read from HMP info mtree; QEMU's program name
and the option it complains about are cut from error messages.  The
table prints each row's two answers side by side.  A row whose answers
differ must be one DOC (docs/parity.md) names under "Intended
differences" and a named row must differ: otherwise the check fails.
Every row is also checked against what it must be on arm (our device),
so a row cannot pass by both sides being broken alike.

Prints one "ok"/"FAIL" line per check, the table, and last
"parity: N passed, N failed".
"""
import os
import re
import shutil
import subprocess
import sys
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "lib"))
import spmem                          # noqa: E402
from spmem import ok, bad, check      # noqa: E402

MiB = 1 << 20
NUMA = ["-object", "memory-backend-ram,id=ram0,size=1G",
        "-numa", "node,nodeid=0,memdev=ram0,cpus=0-1",
        "-numa", "node,nodeid=1", "-numa", "node,nodeid=2"]
HBM0 = ["-object", "memory-backend-ram,id=hbm0,size=256M"]
HBM1 = ["-object", "memory-backend-ram,id=hbm1,size=128M"]


class Side:
    def __init__(self, name, qemu, machine):
        self.name, self.qemu, self.machine = name, qemu, machine
        self.base = None

    def args(self, extra, mem="1G,maxmem=4G", numa=True, smp="2"):
        return (self.machine + ["-smp", smp, "-m", mem, "-display", "none",
                                "-nodefaults"] + (NUMA if numa else []) + extra)


def norm(text, base):
    """TEXT with the addresses near device memory as B+0x... (B-0x...
    below it): 0x-numbers, START-END ranges and @unit-addresses; the
    size in QEMU's "usable range" message is kept."""
    if base is None:
        return text
    text = re.sub(r"(usable range for memory devices \[0x[0-9a-f]+):0x([0-9a-f]+)\]",
                  r"\1:size=0x\2]", text)

    def rel(digits):
        v = int(digits, 16)
        if base <= v < base + (16 << 30):
            return "B+0x%x" % (v - base)
        if max(base - (2 << 30), 1 << 30) <= v < base:
            return "B-0x%x" % (base - v)
        return None

    def hexnum(m):
        return rel(m.group(1)) or m.group(0)

    def rng(m):
        a, b = rel(m.group(1)), rel(m.group(2))
        return "%s-%s" % (a, b) if a and b else m.group(0)
    text = re.sub(r"(?<![=\w])0x([0-9a-f]+)\b", hexnum, text)
    text = re.sub(r"\b([0-9a-f]{8,16})-([0-9a-f]{8,16})\b", rng, text)
    return re.sub(r"(?<=@)([0-9a-f]{8,16})\b", hexnum, text)


def error_of(side, extra, mem="1G,maxmem=4G", numa=True, smp="2"):
    """(exit status, the message without the program and option prefix)
    of a QEMU that is expected to refuse its configuration."""
    try:
        r = subprocess.run([side.qemu] + side.args(extra + ["-S"], mem, numa, smp),
                           stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=5)
    except subprocess.TimeoutExpired:
        # A refusal comes in well under a second; QEMU that runs on for
        # 5 s (stopped, -S) accepted the configuration.
        return "accepted (QEMU started)"
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    msg = lines[0] if lines else "(no message)"
    msg = re.sub(r"^qemu-system-\w+: (-\w+ \S+: )?", "", msg)
    if len(lines) > 1:
        msg += " / " + " ".join(lines[1:])
    if r.returncode == 0:
        return "exit 0 (accepted)"
    return "exit %d: %s" % (r.returncode, norm(msg, side.base))


def vm(side, work, name, extra, **kw):
    v = spmem.VM(side.qemu, side.args(extra + ["-S"], **kw), work, name,
                 serial=None)
    if not v.conn:
        raise RuntimeError("%s %s: QEMU did not come up: %s"
                           % (side.name, name, v.err()))
    return v


def device_base(side, work):
    v = vm(side, work, "base", [])
    try:
        mtree = v.call("human-monitor-command", **{"command-line": "info mtree"})
    finally:
        v.quit()
    m = re.search(r"^\s*([0-9a-f]+)-[0-9a-f]+ \(prio \d+, i/o\): device-memory\r?$",
                  mtree, re.M)
    return int(m.group(1), 16) if m else None


def placement(side, work, name, extra, **kw):
    v = vm(side, work, name, extra, **kw)
    try:
        devs = v.call("query-memory-devices")
    finally:
        v.quit()
    out = []
    for d in devs:
        data = d["data"]
        out.append("%s %s: %s size 0x%x node %d memdev %s" % (
            d["type"], data.get("id", ""), norm("0x%x" % data["addr"], side.base),
            data["size"], data["node"], data["memdev"]))
    return "; ".join(out) or "(none)"


def hmp(side, work, name, extra, command):
    v = vm(side, work, name, extra)
    try:
        text = v.call("human-monitor-command", timeout=10,
                      **{"command-line": command})
    except (RuntimeError, EOFError, OSError, ValueError):
        text = None
    if text is None:
        rc = v.exit_status(timeout=10)
        err = [ln for ln in v.err().splitlines() if ln.startswith("ERROR")]
        v.kill()
        return "QEMU died (exit %s): %s" % (
            "signal %d" % -rc if rc is not None and rc < 0 else rc,
            err[0] if err else "?")
    v.quit()
    return " | ".join(ln.strip() for ln in norm(text, side.base).splitlines()
                      if ln.strip())


def qmp_error(side, work, name, extra, command, **args):
    v = vm(side, work, name, extra)
    try:
        v.call("cont")
        r = v.cmd(command, **args)
    finally:
        v.quit()
    if "error" in r:
        return "error: " + r["error"]["desc"]
    return "accepted"


def migration(side, work):
    """A file-backed (private, share=off) 16 MiB device whose file holds a
    pattern: the guest-visible bytes after migrating to a file and loading
    into a destination whose backend is anonymous RAM."""
    size = 16 * MiB
    pat = os.path.join(work, side.name + "-pattern.bin")
    block = bytes((i * 7 + 3) & 0xff for i in range(4096))
    want = b"".join(i.to_bytes(4, "little") + block[4:] for i in range(size // 4096))
    with open(pat, "wb") as f:
        f.write(want)
    src_dev = ["-object", "memory-backend-file,id=hbm0,size=16M,mem-path=%s,share=off" % pat,
               "-device", "sp-mem,id=sp0,memdev=hbm0,node=1"]
    dst_dev = ["-object", "memory-backend-ram,id=hbm0,size=16M",
               "-device", "sp-mem,id=sp0,memdev=hbm0,node=1"]
    stream = os.path.join(work, side.name + "-mig.bin")
    src = vm(side, work, side.name + "-src", src_dev)
    try:
        addr = src.call("query-memory-devices")[0]["data"]["addr"]
        a = src.dump(addr, size, os.path.join(work, side.name + "-src.dump"))
        src.call("migrate", uri="file:" + stream)
        r = src.wait_migration(timeout=60)
    finally:
        src.quit()
    if r.get("status") != "completed":
        return "source: migration %s: %s" % (r.get("status"), r.get("error-desc", ""))
    dst = spmem.VM(side.qemu, side.args(dst_dev + ["-incoming", "file:" + stream]),
                   work, side.name + "-dst", serial=None)
    try:
        st = dst.wait_status(("prelaunch", "paused", "running"), timeout=60)
        b = dst.dump(addr, size, os.path.join(work, side.name + "-dst.dump"))
    except (RuntimeError, EOFError, OSError) as e:
        return "destination: %s" % e
    finally:
        dst.quit()
    if a != want:
        return "source does not read the backend's bytes"
    if b == want:
        return "all 0x%x bytes arrive (destination %s)" % (size, st)
    zero = sum(1 for i in range(0, size, 4096) if not any(b[i:i + 4096]))
    return "bytes lost: %d of %d pages differ, %d read as zeros" % (
        sum(1 for i in range(0, size, 4096) if a[i:i + 4096] != b[i:i + 4096]),
        size // 4096, zero)


# --- the guests ---------------------------------------------------------------------
def modules(kroot):
    """The kernel version of the unpacked kernel KROOT and {name: path}
    of its module files (.ko or .ko.xz), names with "_" for "-"."""
    kver = os.listdir(os.path.join(kroot, "usr/lib/modules"))[0]
    mroot = os.path.join(kroot, "usr/lib/modules", kver)
    found = {}
    for dirpath, _, files in os.walk(mroot):
        for f in files:
            m = re.match(r"(.*)\.ko(\.xz)?$", f)
            if m:
                found[m.group(1).replace("-", "_")] = os.path.join(dirpath, f)
    return kver, found


def initramfs(x86sid, arch, out, work):
    kroot = os.path.join(x86sid, "kernel-" + arch)
    kver, found = modules(kroot)
    extra = []
    for name in ("device_dax", "dax_hmem", "kmem"):
        if name not in found:
            continue            # built in
        dst = os.path.join(work, "%s-%s.ko" % (arch, name))
        src = found[name]
        if src.endswith(".xz"):
            with open(dst, "wb") as f:
                subprocess.run(["xz", "-dc", src], stdout=f, check=True)
        else:
            shutil.copy(src, dst)
        extra.append("m/%s.ko=%s" % (name, dst))
    subprocess.run([sys.executable, os.path.join(TOP, "lib/guest/mkinitramfs.py"), out,
                    os.path.join(x86sid, "busybox-" + arch),
                    os.path.join(TOP, "scenarios/parity/init")] + extra, check=True)
    return os.path.join(kroot, "usr/lib/modules", kver, "vmlinuz")


GUEST_DEVS = HBM0 + HBM1 + ["-device", "sp-mem,id=sp0,memdev=hbm0,node=1",
                            "-device", "sp-mem,id=sp1,memdev=hbm1,node=2"]


def boot(side, work, label, firmware, kernel, initrd, console, results):
    log = os.path.join(work, "%s-%s.log" % (side.name, label))
    args = [side.qemu] + side.args(firmware + GUEST_DEVS + [
        "-kernel", kernel, "-initrd", initrd, "-no-reboot", "-serial", "file:" + log,
        "-append", "console=%s rdinit=/init efi=debug panic=-1" % console])
    t0 = time.time()
    try:
        r = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=240)
        rc = r.returncode
    except subprocess.TimeoutExpired:
        rc = "timeout"
    secs = time.time() - t0
    try:
        with open(log, errors="replace") as f:
            text = f.read()
    except OSError:
        text = ""
    text = text.replace("\r", "")
    rows = {}
    for key in ("fw", "srat", "iomem", "iomemkmem", "dax", "online", "mem"):
        rows[key] = [norm(m.group(1).strip(), side.base)
                     for m in re.finditer(r"^@@%s (.*)$" % key, text, re.M)]
    rows["ran"] = "@@end" in text
    results[(side.name, label)] = (rows, rc, secs, log)


def guest_rows(rows):
    """The guest-* rows of one boot."""
    fw = [re.sub(r"^BIOS-e820: ", "e820 ", re.sub(r"^efi: +", "", v))
          for v in rows["fw"]]
    srat = [re.sub(r"^.*SRAT: ", "", v) for v in rows["srat"]]
    srat = [v for v in srat if "[mem B+" in v]       # device memory only
    return {
        "fw": "; ".join(fw) or "(nothing)",
        "srat": "; ".join(srat) or "(no entry in device memory)",
        "iomem": "; ".join(v for v in rows["iomem"] if v.startswith("B+"))
                 or "(nothing in device memory)",
        "iomemkmem": "; ".join(v for v in rows["iomemkmem"] if v.startswith("B+"))
                     or "(nothing in device memory)",
        "dax": "; ".join(rows["dax"]) or "(no dax device)",
        "online": " ".join(rows["online"]) or "(not printed)",
        "kmem": "; ".join(v for v in rows["mem"] if not v.startswith("node0 "))
                or "(no node but node0)",
    }


def documented(doc):
    """Row keys that DOC names under its "Intended differences" heading:
    the backquoted names that start an entry, before its colon."""
    keys, on = set(), False
    with open(doc) as f:
        for line in f:
            if line.startswith("## "):
                on = line.strip().lower().startswith("## intended differences")
            elif on:
                # An entry: "- `row`, `row`, ...: text", the list of rows
                # possibly going on at the start of the next line.
                m = (re.match(r"^- ((?:`[a-z0-9-]+`,? *)+)", line) or
                     re.match(r"^ +((?:`[a-z0-9-]+`,? *)+):", line))
                if m:
                    keys.update(re.findall(r"`([a-z0-9-]+)`", m.group(1)))
    return keys


def main(argv):
    if len(argv) < 4:
        print(__doc__)
        return 2
    arm_qemu, x86sid, work = argv[1:4]
    doc = argv[4] if len(argv) > 4 else os.path.join(TOP, "docs/parity.md")
    os.makedirs(work, exist_ok=True)
    x86 = Side("x86", os.path.join(x86sid, "qemu-system-x86_64"), ["-M", "q35", "-accel", "tcg"])
    arm = Side("arm", arm_qemu, ["-M", "virt", "-cpu", "cortex-a57"])
    with open(os.path.join(x86sid, "versions")) as f:
        print("x86 side: " + f.read().strip().replace("\n", "\n          "))
    print("arm side: " + subprocess.run([arm_qemu, "--version"], capture_output=True,
                                       text=True).stdout.splitlines()[0] + " (ours)")

    # The guests boot in the background (two at a time: 2 cores) while the
    # QMP and error rows run; they are the slow part.
    results = {}
    boots = []
    root = os.path.join(x86sid, "root")
    for side, arch, console in ((x86, "amd64", "ttyS0"), (arm, "arm64", "ttyAMA0")):
        side.base = device_base(side, work)
        if not check(side.base is not None,
                     "%s: device memory starts at 0x%x" % (side.name, side.base or 0),
                     "%s: no device-memory region in info mtree" % side.name):
            return spmem.finish()
        initrd = os.path.join(work, "initrd-%s.gz" % arch)
        kernel = initramfs(x86sid, arch, initrd, work)
        if side is x86:
            fws = [("default", []),
                   ("uefi", ["-bios", os.path.join(root, "usr/share/ovmf/OVMF.fd")])]
        else:
            vars_ = os.path.join(work, "AAVMF_VARS.fd")
            shutil.copy(os.path.join(root, "usr/share/AAVMF/AAVMF_VARS.fd"), vars_)
            fws = [("default", []),
                   ("uefi", ["-drive", "if=pflash,format=raw,unit=0,readonly=on,file=" +
                             os.path.join(root, "usr/share/AAVMF/AAVMF_CODE.fd"),
                             "-drive", "if=pflash,format=raw,unit=1,file=" + vars_])]
        for label, fw in fws:
            boots.append((side, label, fw, kernel, initrd, console))

    def booter(jobs):
        for side, label, fw, kernel, initrd, console in jobs:
            boot(side, work, label, fw, kernel, initrd, console, results)
    threads = [threading.Thread(target=booter, args=(boots[i::2],)) for i in range(2)]
    for t in threads:
        t.start()

    rows = []          # (key, question, x86 answer, arm answer)

    def ask(key, question, fn):
        a, t = {}, {}
        for side in (x86, arm):
            t0 = time.time()
            try:
                a[side.name] = fn(side)
            except Exception as e:          # noqa: BLE001  a row, not the run
                a[side.name] = "(%s: %s)" % (type(e).__name__, e)
            t[side.name] = time.time() - t0
        print("asked %-20s x86 %.1fs, arm %.1fs" % (key, t["x86"], t["arm"]), flush=True)
        rows.append((key, question, a["x86"], a["arm"]))

    def w(name):
        return lambda s: name + "-" + s.name

    dev0 = ["-device", "sp-mem,id=sp0,memdev=hbm0,node=1"]
    dev1 = ["-device", "sp-mem,id=sp1,memdev=hbm1,node=2"]
    ask("place-default", "two devices, QEMU places them",
        lambda s: placement(s, work, w("pd")(s), HBM0 + HBM1 + dev0 + dev1))
    ask("place-addr", "the second at addr=B+0x20000000",
        lambda s: placement(s, work, w("pa")(s), HBM0 + HBM1 + dev0 + [
            "-device", "sp-mem,id=sp1,memdev=hbm1,node=2,addr=0x%x" % (s.base + 0x20000000)]))
    ask("place-ram-node", "node=0, the node that holds the RAM",
        lambda s: placement(s, work, w("pr")(s), HBM0 + ["-device", "sp-mem,id=sp0,memdev=hbm0,node=0"]))
    ask("place-no-numa", "no -numa at all, node left at its default",
        lambda s: placement(s, work, w("pn")(s), HBM0 + ["-device", "sp-mem,id=sp0,memdev=hbm0"],
                            numa=False))
    ask("hmp-memory-devices", "HMP info memory-devices",
        lambda s: hmp(s, work, w("hm")(s), HBM0 + HBM1 + dev0 + dev1, "info memory-devices"))
    ask("hmp-info-numa", "HMP info numa",
        lambda s: hmp(s, work, w("hn")(s), HBM0 + HBM1 + dev0 + dev1, "info numa"))
    ask("err-no-memdev", "-device sp-mem,node=1",
        lambda s: error_of(s, ["-device", "sp-mem,node=1"]))
    ask("err-mapped", "two devices on one backend",
        lambda s: error_of(s, HBM0 + dev0 + ["-device", "sp-mem,memdev=hbm0,node=2"]))
    ask("err-mapped-ram", "the backend of node 0's RAM",
        lambda s: error_of(s, ["-device", "sp-mem,memdev=ram0,node=1"]))
    ask("err-unknown-node", "node=7 with nodes 0-2",
        lambda s: error_of(s, HBM0 + ["-device", "sp-mem,memdev=hbm0,node=7"]))
    ask("err-node-no-numa", "node=1 without -numa",
        lambda s: error_of(s, HBM0 + ["-device", "sp-mem,memdev=hbm0,node=1"], numa=False))
    ask("err-misaligned", "addr=B+0x1000",
        lambda s: error_of(s, HBM0 + ["-device", "sp-mem,memdev=hbm0,node=1,addr=0x%x"
                                      % (s.base + 0x1000)]))
    ask("err-addr-above", "addr=B+0x200000000, past device memory",
        lambda s: error_of(s, HBM0 + ["-device", "sp-mem,memdev=hbm0,node=1,addr=0x%x"
                                      % (s.base + 0x200000000)]))
    ask("err-addr-below", "addr=B-0x20000000, in RAM",
        lambda s: error_of(s, HBM0 + ["-device", "sp-mem,memdev=hbm0,node=1,addr=0x%x"
                                      % (s.base - 0x20000000)]))
    ask("err-no-maxmem", "-m 1G without maxmem",
        lambda s: error_of(s, HBM0 + dev0, mem="1G"))
    ask("err-device-add", "QMP device_add of sp-mem while running",
        lambda s: qmp_error(s, work, w("da")(s), HBM0 + HBM1 + dev0, "device_add",
                            driver="sp-mem", id="sp9", memdev="hbm1", node=2))
    ask("err-device-del", "QMP device_del of a cold-plugged sp-mem",
        lambda s: qmp_error(s, work, w("dd")(s), HBM0 + dev0, "device_del", id="sp0"))
    ask("err-machine-none", "-M none, a machine that does not place the device",
        lambda s: error_of(s, ["-M", "none"] + HBM0 + ["-device", "sp-mem,memdev=hbm0"],
                           mem="1G", numa=False, smp="1"))
    ask("mig-bytes", "16 MiB of a device through migration to a file",
        lambda s: migration(s, work))

    for t in threads:
        t.join()
    for label, what in (("default", "QEMU's default firmware"), ("uefi", "UEFI")):
        g = {}
        for side in (x86, arm):
            r = results.get((side.name, label))
            if not r or not r[0]["ran"]:
                bad("%s %s boot: the guest did not finish (exit %s, log %s)"
                    % (side.name, label, r[1] if r else "?", r[3] if r else "?"))
                g[side.name] = None
            else:
                ok("%s %s boot: the stock guest ran its checks in %.1fs" % (side.name, label, r[2]))
                g[side.name] = guest_rows(r[0])
        for sub in ("fw", "srat", "iomem", "dax", "online", "iomemkmem", "kmem"):
            rows.append(("guest-%s-%s" % (label, sub), "%s: %s" % (what, sub),
                         g["x86"][sub] if g["x86"] else "(no boot)",
                         g["arm"][sub] if g["arm"] else "(no boot)"))

    # --- the table --------------------------------------------------------------
    print("\nparity table (B = start of device memory: x86 0x%x, arm 0x%x)"
          % (x86.base, arm.base))
    for key, q, a, b in rows:
        same = a == b
        print("\n%s %-20s %s" % ("==" if same else "<>", key, q))
        print("   x86: " + a)
        if not same:
            print("   arm: " + b)
    print()

    # --- the checks -------------------------------------------------------------
    doc_keys = documented(doc)
    by = {k: (a, b) for k, _, a, b in rows}
    for key, _, a, b in rows:
        named = key in doc_keys
        if a == b:
            check(not named, "%s: the same on x86 and arm" % key,
                  "%s: the same on both, but %s names it as a difference"
                  % (key, os.path.relpath(doc, TOP)))
        else:
            check(named, "%s: differs, as %s says" % (key, os.path.relpath(doc, TOP)),
                  "%s: x86 and arm differ and %s does not name it" % (key, os.path.relpath(doc, TOP)))
    for key in sorted(doc_keys - set(by)):
        bad("%s names row %s, which this run has not" % (os.path.relpath(doc, TOP), key))

    # What our side must answer, whatever upstream does.
    arm_a = {k: v[1] for k, v in by.items()}
    want = {
        "place-default": r"sp-mem sp0: B\+0x0 size 0x10000000 node 1 memdev /objects/hbm0; "
                         r"sp-mem sp1: B\+0x10000000 size 0x8000000 node 2",
        "place-addr": r"sp1: B\+0x20000000 ",
        "place-ram-node": r"sp0: B\+0x0 size 0x10000000 node 0 ",
        "place-no-numa": r"sp0: B\+0x0 size 0x10000000 node 0 ",
        "hmp-info-numa": r"node 1 size: 256 MB \| node 1 plugged: 256 MB",
        "err-no-memdev": r"^exit 1: 'memdev' property must be set",
        "err-mapped": r"^exit 1: memory backend 'hbm0' is already in use",
        "err-unknown-node": r"^exit 1: .*'node'.* 7 ",
        "err-node-no-numa": r"^exit 1: .*'node'.* 1 ",
        "err-misaligned": r"^exit 1: .*align",
        "err-addr-above": r"^exit 1: ",
        "err-addr-below": r"^exit 1: ",
        "err-no-maxmem": r"^exit 1: .*maxmem",
        "err-device-add": r"^error: .*hotplug",
        "err-device-del": r"^error: .*hotplug",
        "err-machine-none": r"^exit 1: machine type 'none' does not support sp-mem",
        "mig-bytes": r"^all 0x1000000 bytes arrive",
    }
    for key, pat in want.items():
        check(re.search(pat, arm_a.get(key, "")), "arm %s: %s" % (key, arm_a.get(key)),
              "arm %s: %r does not match /%s/" % (key, arm_a.get(key), pat))
    return spmem.finish()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
