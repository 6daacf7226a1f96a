#!/usr/bin/env python3
"""sp-mem benchmarks: each one compares sp-mem with pc-dimm (or ordinary
RAM) of the same size in the same run, alternating the two.

usage: bench.py [--quick] --out RAW.jsonl --qemu QEMU --fw FW.bin
                --guest GUEST.elf BENCH...

BENCH is any of: startup memory fwtables guest migration migmodes.  Every sample
is appended to RAW.jsonl as one JSON object; bench/report.py turns the
file into medians, ratios and the table of docs/performance.md.

Machines (lib/spmem.py's VM) are started with a QMP socket on which
*we* listen (QEMU connects to it as a client, -chardev socket,server=off),
so no polling: select() tells when the greeting and the qmp_capabilities
answer arrive.  The serial line is QEMU's stdout (a pipe): its first byte
is the guest's first instruction (bench/fw/firstbyte.S writes it first
thing).
"""
import argparse
import json
import os
import random
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "lib"))
import spmem                            # noqa: E402  (lib/spmem.py: VM)
from spmem import GiB, MiB, now_ns      # noqa: E402

ARGS = None
WORK = None


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def record(rec):
    rec.setdefault("time", time.strftime("%Y-%m-%dT%H:%M:%S"))
    with open(ARGS.out, "a") as f:
        f.write(json.dumps(rec) + "\n")


def log(msg):
    print(msg, flush=True)


# --- machines ---------------------------------------------------------------

def size_str(n):
    return "%dM" % (n // MiB) if n % GiB else "%dG" % (n // GiB)


def machine_args(kind, ndev, size, backend="ram", prealloc=False, fw=True,
                 maxmem_devs=None, nodes=2):
    """-M virt with 1 GiB of RAM on node 0 and `ndev` devices of `kind`
    (sp-mem, pc-dimm, backend = backend object only, none) of `size`
    bytes on node 1.  -m (slots, maxmem) depends only on maxmem_devs x
    size, so all kinds of one comparison get the same command line but
    for the device driver."""
    nmax = ndev if maxmem_devs is None else maxmem_devs
    maxmem = GiB + max(nmax, 1) * size
    args = ["-M", "virt", "-cpu", "cortex-a57", "-smp", "1",
            "-m", "1G,slots=%d,maxmem=%dM" % (max(nmax, 1), maxmem // MiB),
            "-nodefaults", "-display", "none", "-monitor", "none",
            "-object", "memory-backend-ram,id=ram0,size=1G",
            "-numa", "node,nodeid=0,memdev=ram0,cpus=0"]
    for n in range(1, nodes):
        args += ["-numa", "node,nodeid=%d" % n]
    if fw:
        args += ["-bios", ARGS.fw]
    for i in range(ndev if kind != "none" else 0):
        if backend == "ram":
            obj = "memory-backend-ram,id=m%d,size=%s" % (i, size_str(size))
            # A 64 GiB anonymous mapping on a 24 GiB machine needs
            # MAP_NORESERVE under the kernel's heuristic overcommit.
            obj += ",prealloc=on" if prealloc else ",prealloc=off,reserve=off"
        else:
            obj = backend % {"i": i, "size": size_str(size)}
        args += ["-object", obj]
        if kind in ("sp-mem", "pc-dimm"):
            args += ["-device", "%s,id=d%d,memdev=m%d,node=1" % (kind, i, i)]
    return args


def machine(args, name="vm", prefix=()):
    """One QEMU process (spmem.VM, not started): QMP through a socket we
    listen on, serial on stdout.  PREFIX runs QEMU under perf."""
    return spmem.VM(ARGS.qemu, args, WORK, name, qmp="client", serial="pipe",
                    prefix=prefix, connect=False)


def start(m, want_serial=True):
    """M's QMP up (and its first serial byte, WANT_SERIAL): M."""
    return m.connect(timeout=60, want_serial=want_serial)


def alternate(kinds, rep):
    """The kinds in alternating order: reversed on every other repetition."""
    return kinds if rep % 2 == 0 else kinds[::-1]


def run_and_record(args, tag, rep, measure):
    """Start a machine with ARGS, record measure(machine) with the
    repetition, the load average and (in repetition 0) the command line;
    the machine is quit whatever happens."""
    m = machine(args, tag)
    try:
        start(m)
        rec = measure(m)
        rec["rep"] = rep
        rec["load"] = loadavg()
        if rep == 0:
            rec["cmdline"] = " ".join(m.cmdline)
    finally:
        m.quit()
    record(rec)


# --- start-up ---------------------------------------------------------------

def bench_startup():
    reps = 3 if ARGS.quick else 41
    sizes = [GiB, 64 * GiB]
    counts = [1, 8, 32] if not ARGS.quick else [1, 32]
    configs = [(n, s) for n in counts for s in sizes]
    log("startup: %d configurations x sp-mem/pc-dimm x %d repetitions"
        % (len(configs), reps))
    # One warm-up start so that the binary and libraries are in the cache.
    start(machine(machine_args("none", 0, GiB), "warm")).quit()
    for rep in range(reps):
        order = configs[:]
        random.Random(rep).shuffle(order)
        for n, s in order + [(0, GiB)]:
            kinds = ["sp-mem", "pc-dimm"] if n else ["none"]
            for kind in alternate(kinds, rep):
                run_and_record(
                    machine_args(kind, n, s), "startup", rep,
                    lambda m: {"bench": "startup", "kind": kind, "ndev": n,
                               "size": s,
                               "qmp_ready_ms": round(m.ms("qmp_ready"), 3),
                               "greeting_ms": round(m.ms("greeting"), 3),
                               "first_byte_ms": round(m.ms("first_byte"), 3)})
        log("startup: repetition %d/%d done (load %s)" % (rep + 1, reps, loadavg()))


# --- memory -----------------------------------------------------------------

def bench_memory():
    reps = 3 if ARGS.quick else 9
    cases = [("off", 64 * GiB), ("on", GiB)]
    if not ARGS.quick:
        cases.append(("on", 2 * GiB))
    kinds = ["none", "backend", "sp-mem", "pc-dimm"]
    log("memory: %s x %s x %d repetitions" % (cases, kinds, reps))
    for rep in range(reps):
        for prealloc, size in cases:
            for kind in alternate(kinds, rep):
                def rss(m):
                    after_start = m.proc_status()
                    time.sleep(0.5)
                    later = m.proc_status()
                    return {"bench": "memory", "kind": kind, "size": size,
                            "prealloc": prealloc,
                            "qmp_ready_ms": round(m.ms("qmp_ready"), 3),
                            "rss_kib": after_start["VmRSS"],
                            "rss_anon_kib": after_start["RssAnon"],
                            "rss_file_kib": after_start["RssFile"],
                            "rss_shmem_kib": after_start["RssShmem"],
                            "rss_500ms_kib": later["VmRSS"],
                            "vmsize_kib": after_start["VmSize"]}
                run_and_record(machine_args(kind, 1, size,
                                            prealloc=(prealloc == "on"),
                                            maxmem_devs=1),
                               "memory", rep, rss)
        log("memory: repetition %d/%d done" % (rep + 1, reps))


# --- firmware tables (uprobes) ---------------------------------------------

# Functions timed with a uprobe at entry and a uretprobe at return.
# create_fdt: the base tree; arm_load_dtb: the final tree (memory nodes,
# the modify_dtb hook = virt_spmem_modify_dtb, loading it into the ROM);
# virt_acpi_build: all ACPI tables (virt_spmem_build_srat is the sp-mem
# part of SRAT).
OUTER_FUNCS = ["create_fdt", "arm_load_dtb", "virt_acpi_build"]
INNER_FUNCS = ["virt_spmem_modify_dtb", "virt_spmem_build_srat"]
# Each set also has an entry probe on qemu_init: the first uprobe hit of a
# process sets up its out-of-line area, which is not to be charged to a
# measured function.
WARM_FUNC = "qemu_init"
GROUP = "spmembench"


def perf(*a, check=True):
    r = subprocess.run(["perf"] + list(a), capture_output=True, text=True)
    if check and r.returncode:
        raise RuntimeError("perf %s: %s" % (" ".join(a), r.stderr.strip()))
    return r


def probes_add(funcs):
    perf("probe", "-q", "-d", GROUP + ":*", check=False)
    perf("probe", "-q", "-x", ARGS.qemu, "-a", "%s:warm=%s" % (GROUP, WARM_FUNC))
    for f in funcs:
        perf("probe", "-q", "-x", ARGS.qemu, "-a", "%s:%s=%s" % (GROUP, f, f))
        perf("probe", "-q", "-x", ARGS.qemu, "-a", "%s:%s_ret=%s%%return"
             % (GROUP, f, f))


def probes_del():
    perf("probe", "-q", "-d", GROUP + ":*", check=False)


# Where start-up time and memory go with the size of the backends: the
# RAMBlock (dirty bitmaps) and the memory-device framework.
RAM_FUNCS = ["ram_block_add", "physical_memory_set_dirty_range",
             "memory_device_pre_plug", "memory_device_plug"]


LAST_CMDLINE = []


def traced_run(kind, n, size=GiB):
    data = os.path.join(WORK, "perf.data")
    m = machine(machine_args(kind, n, size, maxmem_devs=32 if n else 0), "fw",
                prefix=["perf", "record", "-q", "-o", data, "-e", GROUP + ":*"])
    LAST_CMDLINE[:] = m.cmdline
    try:
        start(m)
    finally:
        m.quit()
    out = subprocess.run(["perf", "script", "-i", data, "--ns", "-F",
                          "time,event"], capture_output=True, text=True).stdout
    open_at, total, calls = {}, {}, {}
    for line in out.splitlines():
        mt = re.match(r"\s*([\d.]+):\s+%s:(\w+):" % GROUP, line)
        if not mt:
            continue
        t, ev = float(mt.group(1)), mt.group(2)
        if ev.endswith("__return"):     # perf's name for a %return probe
            f = re.sub(r"(_ret)?__return$", "", ev)
            if f in open_at:
                total[f] = total.get(f, 0) + (t - open_at.pop(f)) * 1e6
        else:
            open_at[ev] = t
            calls[ev] = calls.get(ev, 0) + 1
    return {f: round(total.get(f, 0), 2) for f in calls}, calls


def calibrate():
    """The cost of one uprobe + uretprobe pair here: a loop of calls to
    an empty function (bench/calib/uprobe-cost.c) without and with."""
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       "calib", "uprobe-cost.c")
    exe = os.path.join(WORK, "uprobe-cost")
    subprocess.run(["gcc", "-O2", "-g", "-o", exe, src], check=True)
    plain = float(subprocess.run([exe, "200000"], capture_output=True,
                                 text=True).stdout)
    perf("probe", "-q", "-d", GROUP + ":*", check=False)
    perf("probe", "-q", "-x", exe, "-a", "%s:probed=probed" % GROUP)
    perf("probe", "-q", "-x", exe, "-a", "%s:probed_ret=probed%%return" % GROUP)
    try:
        r = subprocess.run(["perf", "record", "-q", "-o",
                            os.path.join(WORK, "calib.data"), "-e", GROUP + ":*",
                            "--", exe, "20000"], capture_output=True, text=True)
        probed = float(r.stdout.split()[-1])
    finally:
        probes_del()
    rec = {"bench": "fwtables", "calibration": True, "ns_per_call_plain": plain,
           "ns_per_call_probed": probed,
           "us_per_probe_pair": round((probed - plain) / 1000, 2), "load": loadavg()}
    record(rec)
    log("fwtables: one uprobe+uretprobe pair costs %.1f µs" % rec["us_per_probe_pair"])


def bench_fwtables():
    reps = 2 if ARGS.quick else 9
    counts = [0, 1, 2, 4, 8, 16, 32] if not ARGS.quick else [1, 32]
    if perf("probe", "-x", ARGS.qemu, "-F", "create_fdt", check=False).returncode:
        log("fwtables: perf probe cannot see the emulator's symbols: skipped")
        record({"bench": "fwtables", "skipped": "no perf probe"})
        return
    calibrate()
    # Only functions that do not call each other are probed together, so
    # that no measured span contains another probe's cost.
    plan = (("outer", OUTER_FUNCS, [(n, GiB) for n in counts], reps),
            ("inner", INNER_FUNCS, [(n, GiB) for n in counts], reps),
            ("ram", RAM_FUNCS, [(1, GiB), (32, GiB), (1, 64 * GiB), (32, 64 * GiB)],
             max(2, reps // 2)))
    for probeset, funcs, cases, nrep in plan:
        probes_add(funcs)
        try:
            for rep in range(nrep):
                for n, size in cases:
                    kinds = ["sp-mem", "pc-dimm"] if n else ["none"]
                    for kind in alternate(kinds, rep):
                        us, calls = traced_run(kind, n, size)
                        us.pop("warm", None)
                        calls.pop("warm", None)
                        rec = {"bench": "fwtables", "probes": probeset,
                               "kind": kind, "ndev": n, "size": size, "rep": rep,
                               "us": us, "calls": calls, "load": loadavg()}
                        if rep == 0:
                            rec["cmdline"] = " ".join(LAST_CMDLINE)
                        record(rec)
                log("fwtables[%s]: repetition %d/%d done" % (probeset, rep + 1, nrep))
        finally:
            probes_del()


# --- guest memcpy bandwidth --------------------------------------------------

def bench_guest():
    boots = 2 if ARGS.quick else 7
    args = ["-M", "virt", "-cpu", "max", "-smp", "1", "-m", "1G,maxmem=4G",
            "-nodefaults", "-display", "none", "-monitor", "none",
            "-serial", "stdio",
            "-object", "memory-backend-ram,id=ram0,size=1G",
            "-numa", "node,nodeid=0,memdev=ram0,cpus=0", "-numa", "node,nodeid=1",
            "-object", "memory-backend-ram,id=h0,size=64M",
            "-device", "sp-mem,id=s0,memdev=h0,node=1",
            "-kernel", ARGS.guest, "-append", "sp-mem-bench"]
    record({"bench": "guest", "cmdline": " ".join([ARGS.qemu] + args)})
    for boot in range(boots):
        r = subprocess.run([ARGS.qemu] + args, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=300)
        out = r.stdout.replace("\r", "")
        mf = re.search(r"sp-mem-bench: freq=(\d+)", out)
        if r.returncode or not mf or "sp-mem-bench: done" not in out:
            raise RuntimeError("guest bench failed (%d): %s %s"
                               % (r.returncode, out, r.stderr))
        freq = int(mf.group(1))
        for mr in re.finditer(r"sp-mem-bench round=(\d+) kind=(\w+) bytes=(\d+) "
                              r"ticks=(\d+)", out):
            rnd, kind, nbytes, ticks = mr.groups()
            record({"bench": "guest", "kind": kind, "boot": boot,
                    "round": int(rnd), "bytes": int(nbytes),
                    "ticks": int(ticks), "freq": freq,
                    "mib_s": round(int(nbytes) / MiB / (int(ticks) / freq), 2),
                    "load": loadavg()})
        log("guest: boot %d/%d done" % (boot + 1, boots))


# --- migration ----------------------------------------------------------------

def bench_migration():
    reps = 1 if ARGS.quick else 15
    size = GiB
    content = os.path.join(WORK, "content-1G.bin")
    # Non-zero content in every page (zero pages would be skipped):
    # 1 MiB of random bytes, repeated, each page stamped with its index.
    rnd = random.Random(1).randbytes(MiB)
    with open(content, "wb") as f:
        for i in range(size // MiB):
            blk = bytearray(rnd)
            for p in range(0, MiB, 4096):
                blk[p:p + 8] = ((i * MiB + p) // 4096).to_bytes(8, "little")
            f.write(blk)
    src_backend = ("memory-backend-file,id=m%%(i)d,size=%%(size)s,mem-path=%s,"
                   "share=off" % content)
    dst_backend = "memory-backend-ram,id=m%(i)d,size=%(size)s"
    # Repetition -1 is a warm-up of each kind (page cache, allocator):
    # recorded with "warmup": true and left out of the medians.
    for rep in range(-1, reps):
        for kind in alternate(["sp-mem", "pc-dimm"], rep):
            uri = "unix:" + os.path.join(WORK, "mig.sock")
            if os.path.exists(uri[5:]):
                os.unlink(uri[5:])
            src = machine(machine_args(kind, 1, size, backend=src_backend), "msrc")
            dst = machine(machine_args(kind, 1, size, backend=dst_backend)
                          + ["-incoming", uri], "mdst")
            try:
                start(src)
                start(dst, want_serial=False)
                for m in (src, dst):
                    m.params(max_bandwidth=100 * GiB)
                t0 = src.migrate(uri=uri)
                info = src.wait_migration(timeout=600, poll=0.01)
                wall = (now_ns() - t0) / 1e6
                if info["status"] != "completed":
                    raise RuntimeError("migration %s: %s" % (info["status"], info))
                # Wait for the destination to run, then check the content.
                wall_dst = (wait_running(dst, timeout=30, poll=0.01) - t0) / 1e6
                addr = [d["data"]["addr"] for d in dst.call("query-memory-devices")][0]
                same = True
                with open(content, "rb") as f:
                    for off in (0, size // 2, size - 4096):
                        p = os.path.join(WORK, "page.bin")
                        dst.call("pmemsave", val=addr + off, size=4096, filename=p)
                        f.seek(off)
                        same &= open(p, "rb").read() == f.read(4096)
                ram = info.get("ram", {})
                rec = {"bench": "migration", "kind": kind, "size": size,
                       "rep": rep, "total_time_ms": info.get("total-time"),
                       "downtime_ms": info.get("downtime"),
                       "wall_ms": round(wall, 1),
                       "wall_dst_running_ms": round(wall_dst, 1),
                       "transferred": ram.get("transferred"),
                       "normal_pages": ram.get("normal"),
                       "mbps": ram.get("mbps"), "content_ok": same,
                       "warmup": rep < 0, "load": loadavg()}
                if rep == 0:
                    rec["cmdline_src"] = " ".join(src.cmdline)
                    rec["cmdline_dst"] = " ".join(dst.cmdline)
            finally:
                src.quit()
                dst.quit()
            record(rec)
            log("migration: %s rep %d: %s ms (content %s)"
                % (kind, rep, rec["total_time_ms"], "ok" if same else "BAD"))
    os.unlink(content)


# --- migration modes ----------------------------------------------------------------

MIG_MODES = ["precopy", "multifd", "postcopy", "mapped-ram", "ignore-shared",
             "cpr-transfer", "cpr-exec", "cpr-reboot"]


def mm_args(mode, kind, size):
    """The machine of one migration mode: the device's backend as a user
    would pick it for the mode, sparse (nothing is ever written to it)."""
    if mode in ("ignore-shared", "cpr-reboot"):
        path = os.path.join(WORK, "mm-%s.mem" % size_str(size))
        if not os.path.exists(path):
            with open(path, "wb") as f:
                f.truncate(size)
        backend = ("memory-backend-file,id=m%%(i)d,size=%%(size)s,mem-path=%s,"
                   "share=on" % path)
    elif mode in ("cpr-transfer", "cpr-exec"):
        backend = "memory-backend-memfd,id=m%(i)d,size=%(size)s"
    else:
        backend = "ram"
    args = machine_args(kind, 1, size, backend=backend)
    if mode in ("cpr-transfer", "cpr-exec"):
        # All guest RAM in memfds that survive the hand-over.
        args[args.index("virt")] = "virt,aux-ram-share=on"
        i = args.index("memory-backend-ram,id=ram0,size=1G")
        args[i] = "memory-backend-memfd,id=ram0,size=1G"
    return args


def wait_running(m, timeout=600, poll=0.005):
    """Until M runs: the time it was seen running."""
    status = m.wait_status(("running",), timeout, poll)
    if status != "running":
        raise RuntimeError("destination not running: %s" % status)
    return now_ns()


def migrate_mode(mode, kind, size):
    """One migration of MODE; returns the record (times in ms)."""
    args = mm_args(mode, kind, size)
    sock = os.path.join(WORK, "mm.sock")
    state = os.path.join(WORK, "mm.state")
    for p in (sock, state):
        if os.path.exists(p):
            os.unlink(p)
    caps = {"multifd": ["multifd"], "postcopy": ["postcopy-ram"],
            "mapped-ram": ["mapped-ram", "multifd"],
            "ignore-shared": ["x-ignore-shared"],
            "cpr-reboot": ["x-ignore-shared"]}.get(mode, [])
    params = {"max-bandwidth": 100 * GiB}
    if "multifd" in caps:
        params["multifd-channels"] = 2
    if mode.startswith("cpr-"):
        params["mode"] = mode

    def setup(m):
        if caps:
            m.caps(**{c: True for c in caps})
        m.params(**params)

    src = machine(args, "mmsrc")
    dst = None
    rec = {"bench": "migmodes", "mode": mode, "kind": kind, "size": size}
    try:
        start(src)
        if mode in ("precopy", "multifd", "postcopy", "ignore-shared"):
            dst = machine(args + ["-incoming", "defer"], "mmdst")
            start(dst, want_serial=False)
            setup(src)
            setup(dst)
            dst.call("migrate-incoming", uri="unix:" + sock)
            t0 = src.migrate(uri="unix:" + sock)
            if mode == "postcopy":
                src.call("migrate-start-postcopy")
            info = src.wait_migration(timeout=600, poll=0.005)
            t_run = wait_running(dst)
        elif mode in ("mapped-ram", "cpr-reboot"):
            setup(src)
            t0 = src.migrate(uri="file:" + state)
            info = src.wait_migration(timeout=600, poll=0.005)
            t_saved = now_ns()
            src.quit()
            dst = machine(args + ["-incoming", "defer"], "mmdst")
            start(dst, want_serial=False)
            setup(dst)
            dst.call("migrate-incoming", uri="file:" + state)
            t_run = wait_running(dst)
            rec["restore_ms"] = round((t_run - t_saved) / 1e6, 1)
            rec["state_bytes"] = os.path.getsize(state)
            rec["state_allocated"] = os.stat(state).st_blocks * 512
        elif mode == "cpr-transfer":
            cpr = os.path.join(WORK, "cpr.sock")
            if os.path.exists(cpr):
                os.unlink(cpr)
            dst = machine(args + ["-incoming", "unix:" + sock, "-incoming", json.dumps(
                {"channel-type": "cpr", "addr": {"transport": "socket",
                                                 "type": "unix", "path": cpr}})],
                "mmdst")
            deadline = time.monotonic() + 30
            while not os.path.exists(cpr):
                if time.monotonic() > deadline or dst.proc.poll() is not None:
                    raise RuntimeError("cpr-transfer destination: " + dst.err())
                time.sleep(0.005)
            setup(src)
            channels = [
                {"channel-type": "main", "addr": {"transport": "socket",
                                                  "type": "unix", "path": sock}},
                {"channel-type": "cpr", "addr": {"transport": "socket",
                                                 "type": "unix", "path": cpr}}]
            # migrate() retries while the socket file exists but nobody
            # listens yet (bind() before listen()); t0 is the accepted try.
            t0 = src.migrate(channels=channels)
            info = src.wait_migration(timeout=600, poll=0.005)
            start(dst, want_serial=False)
            t_run = wait_running(dst)
        elif mode == "cpr-exec":
            # The new QEMU is the old process after exec: a QMP socket of
            # its own, which we listen on before it connects.
            dst = spmem.VM.for_exec(src, "mmnew", args + ["-incoming", "file:" + state])
            setup(src)
            src.params(cpr_exec_command=dst.args)
            t0 = now_ns()
            src.send("migrate", uri="file:" + state)
            start(dst, want_serial=False)
            t_run = wait_running(dst)
            src.disconnect()
            info = {"status": "completed"}
            rec["same_pid"] = dst.proc.pid == src.proc.pid
        if info.get("status") != "completed":
            raise RuntimeError("%s: migration %s: %s" % (mode, info.get("status"), info))
        total = (t_run - t0) / 1e6
        rec.update({"total_ms": round(total, 1),
                    "qemu_total_ms": info.get("total-time"),
                    "qemu_downtime_ms": info.get("downtime"),
                    "transferred": info.get("ram", {}).get("transferred")})
        # The guest's pause: QEMU's own for the live modes; for the modes
        # that stop it first (CPR) or restore in a new process, from the
        # stop until the destination runs.
        if mode in ("precopy", "multifd", "postcopy", "ignore-shared"):
            rec["downtime_ms"] = info.get("downtime")
        elif mode in ("mapped-ram", "cpr-reboot"):
            rec["downtime_ms"] = round((info.get("downtime") or 0) + rec["restore_ms"], 1)
        else:
            rec["downtime_ms"] = round(total, 1)
        # The destination holds the device where the source had it.
        devs = dst.call("query-memory-devices")
        rec["device_ok"] = (len(devs) == 1 and devs[0]["data"]["size"] == size
                            and devs[0]["type"] == ("sp-mem" if kind == "sp-mem"
                                                    else "dimm"))
        rec["cmdline_src"] = shlex.join(src.cmdline)
        rec["cmdline_dst"] = shlex.join(dst.cmdline)
    finally:
        if dst is not None and dst.proc is src.proc:
            src.disconnect()        # the old QEMU's socket went with exec
            dst.quit()
            src.quit()
        else:
            src.quit()
            if dst is not None:
                dst.quit()
    return rec


def bench_migmodes():
    """Every migration mode, 1 GiB and 64 GiB, sp-mem against pc-dimm."""
    reps = ARGS.reps or (1 if ARGS.quick else 3)
    modes = ARGS.modes.split(",") if ARGS.modes else MIG_MODES
    unknown = [m for m in modes if m not in MIG_MODES]
    if unknown:
        sys.exit("bench.py: unknown migration mode %s (modes: %s)"
                 % (", ".join(unknown), ",".join(MIG_MODES)))
    sizes = [GiB, 64 * GiB]
    log("migmodes: %s x %s x sp-mem/pc-dimm x %d repetitions (+1 warm-up)"
        % (modes, [size_str(s) for s in sizes], reps))
    for rep in range(-1, reps):
        for mode in modes:
            for size in sizes:
                for kind in alternate(["sp-mem", "pc-dimm"], rep + len(mode)):
                    rec = migrate_mode(mode, kind, size)
                    rec.update({"rep": rep, "warmup": rep < 0, "load": loadavg()})
                    if rep != 0:
                        rec.pop("cmdline_src")
                        rec.pop("cmdline_dst")
                    record(rec)
                    log("migmodes: %s %s %s rep %d: total %.1f ms, downtime %s ms"
                        " (load %s)" % (mode, size_str(size), kind, rep,
                                        rec["total_ms"], rec["downtime_ms"], loadavg()))
    for f in os.listdir(WORK):
        if f.startswith("mm-") and f.endswith(".mem"):
            os.unlink(os.path.join(WORK, f))


def main():
    global ARGS, WORK
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true")
    p.add_argument("--out", required=True)
    p.add_argument("--qemu", required=True)
    p.add_argument("--fw", required=True)
    p.add_argument("--guest", required=True)
    p.add_argument("--reps", type=int, default=0,
                   help="migmodes: repetitions (default 3, 1 with --quick)")
    p.add_argument("--modes", default="",
                   help="migmodes: comma-separated subset of " + ",".join(MIG_MODES))
    p.add_argument("benches", nargs="+")
    ARGS = p.parse_args()
    ARGS.qemu = os.path.abspath(ARGS.qemu)
    WORK = tempfile.mkdtemp(prefix="spmem-bench-")
    fns = {"startup": bench_startup, "memory": bench_memory,
           "fwtables": bench_fwtables, "guest": bench_guest,
           "migration": bench_migration, "migmodes": bench_migmodes}
    try:
        for b in ARGS.benches:
            record({"bench": "meta", "event": "start", "what": b, "load": loadavg()})
            fns[b]()
            record({"bench": "meta", "event": "end", "what": b, "load": loadavg()})
    finally:
        shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
