#!/usr/bin/env python3
"""The Python side of the sp-mem test harness: what the runners of
scenarios/ and the benchmarks (bench/bench.py) share.

Imported as a module (sys.path.insert(0, TOP + "/lib"); import spmem):

  VM          one QEMU process and its QMP connection: QMP on a socket
              QEMU listens on (the tests) or on one we listen on (the
              benchmarks, which time the start-up); serial to a file, to
              a pipe or none; the process a cpr-exec turns it into.
  ok/bad/check/finish
              the checks of a Python runner and its last line,
              "NAME: N passed, N failed" (NAME: $TEST_NAME, which
              scripts/check.py sets, or the runner's folder).
  guest_word/host_word/pattern_ok/fill_host/block_mismatch
              the patterns of the bare-metal guest (scenarios/baremetal/
              guest) and of the host, on 64-bit little-endian words at
              guest-physical address A, for a device on NUMA node N:
                guest  G(A) = (A * 0x9e3779b97f4a7c15 mod 2^64)
                              ^ 0x53504d454d000000 ^ N
                host   H(A) = (A * 0xc2b2ae3d27d4eb4f mod 2^64)
                              ^ 0x484f53542d4d454d
              The host writes H into the "host block" of a backend file
              (offset SIZE - 8 KiB, 4 KiB long) before boot; the guest
              checks it and writes G everywhere else; its writer mode
              (-append sp-mem-writer) rewrites each word with G + g,
              g = 1, 2, ... its generation.
  writer_args/backend
              the command line of the writer guest's machine.

Run as a command, for the shell runners (scenarios/baremetal/run.sh):
see USAGE.
"""
import array
import json
import os
import re
import select
import socket
import struct
import subprocess
import sys
import time

MASK = (1 << 64) - 1
GUEST_MUL = 0x9e3779b97f4a7c15
GUEST_SEED = 0x53504d454d000000
HOST_MUL = 0xc2b2ae3d27d4eb4f
HOST_SEED = 0x484f53542d4d454d
BLOCK = 4096
HOST_BLOCK = 0x2000         # the host block starts this far before the end

MiB = 1 << 20
GiB = 1 << 30

USAGE = """usage:
  spmem.py fill-host FILE BASE SIZE NODE
        write H into the host block of FILE, the backend of a device of
        SIZE bytes at guest-physical BASE.
  spmem.py check-guest|check-host FILE BASE SIZE NODE OFFSET
        check the 4 KiB block at OFFSET of FILE for G or H; print the
        first mismatch and exit 1."""


# --- checks and the result line ------------------------------------------------
# Module state, as lib/common.sh's pass/fail counters: a runner is one
# process that counts one set of checks.

passed = failed = 0


def ok(msg):
    global passed
    passed += 1
    print("ok   " + msg, flush=True)


def bad(msg):
    global failed
    failed += 1
    print("FAIL " + msg, flush=True)


def check(cond, good, fail):
    """ok(GOOD) when COND holds, else bad(FAIL); COND."""
    if cond:
        ok(good)
    else:
        bad(fail)
    return cond


def test_name():
    """The name scripts/check.py reads the result line by: TEST_NAME, which
    it sets, or else the folder of the runner (scenarios/NAME/run.py)."""
    return os.environ.get("TEST_NAME") or os.path.basename(
        os.path.dirname(os.path.abspath(sys.argv[0])))


def finish():
    """Print the result line; the runner's exit status (1 on a failure)."""
    print("%s: %d passed, %d failed" % (test_name(), passed, failed), flush=True)
    return 1 if failed else 0


def need(qemu, guest):
    """The emulator and the guest a runner boots exist (bad() if not)."""
    if os.access(qemu, os.X_OK) and os.path.isfile(guest):
        return True
    bad("need %s (scripts/build.sh) and %s (scripts/build-guest.sh)"
        % (qemu, guest))
    return False


# --- patterns ------------------------------------------------------------------

def guest_word(addr, node):
    """G: what the guest writes at ADDR of a device on NODE."""
    return ((addr * GUEST_MUL) & MASK) ^ GUEST_SEED ^ node


def host_word(addr, node=0):
    """H: what the host writes at ADDR (whatever the node)."""
    return ((addr * HOST_MUL) & MASK) ^ HOST_SEED


def fill_host(path, base, size):
    """Write H into the host block of the backend file PATH of a device
    of SIZE bytes at guest-physical BASE."""
    off = size - HOST_BLOCK
    with open(path, "r+b") as f:
        f.seek(off)
        f.write(struct.pack("<512Q", *(host_word(base + off + 8 * i)
                                       for i in range(BLOCK // 8))))


def block_mismatch(block, offset, base, node, word):
    """BLOCK: the 4 KiB at OFFSET of a backend file (or dump) of the range
    at guest-physical BASE.  The first word that is not WORD(address,
    NODE), as "offset 0x..: 0x.., want 0x.."; None when every one is."""
    for i, v in enumerate(struct.unpack("<512Q", block)):
        want = word(base + offset + 8 * i, node)
        if v != want:
            return "offset 0x%x: 0x%016x, want 0x%016x" % (offset + 8 * i, v, want)
    return None


def pattern_ok(data, addr, node, size, host_block_zero, gen_max):
    """DATA, the range of SIZE bytes at ADDR on NODE, is the writer's
    pattern: every word is G + g or G + g - 1 (one generation being
    written), 0 < g <= GEN_MAX, outside the host block (all zero when
    HOST_BLOCK_ZERO).  "generation G[/G]" when it is, else what is
    wrong.  G is computed inline, not by guest_word(): a call per word
    would slow down what already takes about 0.2 s per MiB."""
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


# --- the writer guest's machine --------------------------------------------------

def backend(typ, bid, size, path=None, fresh=True):
    """-object memory-backend-TYP,id=BID,size=SIZE; a file backend maps
    PATH with share=on, a sparse file of SIZE bytes created when FRESH
    (or missing), so that its host block reads zero."""
    s = "memory-backend-%s,id=%s,size=%d" % (typ, bid, size)
    if typ == "file":
        if fresh or not os.path.exists(path):
            with open(path, "wb") as f:
                f.truncate(size)
        s += ",mem-path=%s,share=on" % path
    return s


def writer_args(guest, mem, ram, devices, machine="virt"):
    """The machine of the writer guest (GUEST, -append sp-mem-writer),
    without QMP and serial (VM adds them): -M MACHINE with a cortex-a57,
    -m MEM, RAM (a backend object, id=ram0) on NUMA node 0, nodes 1 and
    2 without memory, and one sp-mem device per (id, backend object with
    id=h<id>, node, addr or None) of DEVICES."""
    args = ["-M", machine, "-cpu", "cortex-a57", "-m", mem, "-nodefaults",
            "-display", "none", "-monitor", "none", "-object", ram,
            "-numa", "node,nodeid=0,memdev=ram0",
            "-numa", "node,nodeid=1", "-numa", "node,nodeid=2",
            "-kernel", guest, "-append", "sp-mem-writer"]
    for dev, obj, node, addr in devices:
        args += ["-object", obj, "-device", "sp-mem,id=%s,memdev=h%s,node=%d%s"
                 % (dev, dev, node, ",addr=%s" % addr if addr else "")]
    return args


def free_port():
    """A free TCP port on 127.0.0.1."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# --- QEMU ----------------------------------------------------------------------

def now_ns():
    return time.monotonic_ns()


class VM:
    """One QEMU process and its QMP connection.

    QEMU runs ARGS (the machine) with QMP and serial options of our own:

      qmp="server"  QEMU listens on WORK/NAME.qmp (-qmp ...,server=on,
                    wait=off) and connect() connects, retrying until it
                    is there: the tests.
      qmp="client"  we listen on WORK/NAME.qmp and QEMU connects to it
                    (-chardev socket,server=off), so no polling: select()
                    tells when the greeting and the qmp_capabilities
                    answer arrive: the benchmarks, which time them.
      serial="file" WORK/NAME.serial (the writer guest's generations).
      serial="pipe" QEMU's stdout (-serial stdio), read whenever we wait
                    for QMP; its first byte is timed (the benchmarks'
                    firmware writes one first thing).
      serial=None   no serial option (with -nodefaults: none).

    PREFIX runs QEMU under another command (perf record).  With CONNECT
    the constructor connects and, when that fails, leaves conn None
    (QEMU may have exited: callers check).  stderr goes to
    WORK/NAME.stderr.  Times (time.monotonic_ns()) in t: "connect",
    "greeting", "qmp_ready", "first_byte"; t_exec is the spawn.
    """

    def __init__(self, qemu, args, work, name, qmp="server", serial="file",
                 prefix=(), connect=True):
        self._setup(qemu, args, work, name, qmp, serial)
        self.stderr_path = os.path.join(work, name + ".stderr")
        self.cmdline = list(prefix) + self.args
        self.t_exec = now_ns()
        self.proc = subprocess.Popen(
            self.cmdline, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if serial == "pipe" else subprocess.DEVNULL,
            stderr=open(self.stderr_path, "w"))
        if connect:
            self.connect(strict=False)

    @classmethod
    def for_exec(cls, old, name, args):
        """The QEMU that OLD's process becomes when it execs (cpr-exec):
        the same process and stderr, ARGS with QMP and serial of its own
        (self.args, the cpr-exec-command to give OLD).  connect() once
        OLD has exec'd; with qmp="client" we listen from now on, since
        the new QEMU connects as it starts."""
        new = cls.__new__(cls)
        new._setup(old.qemu, args, old.work, name, old.qmp_mode, old.serial_mode)
        new.stderr_path = old.stderr_path
        new.cmdline = new.args
        new.t_exec = now_ns()
        new.proc = old.proc
        return new

    def _setup(self, qemu, args, work, name, qmp, serial):
        self.qemu, self.work, self.name = qemu, work, name
        self.qmp_mode, self.serial_mode = qmp, serial
        self.qmp_path = os.path.join(work, name + ".qmp")
        self.serial_path = (os.path.join(work, name + ".serial")
                            if serial == "file" else None)
        for p in (self.qmp_path, self.serial_path):
            if p and os.path.exists(p):
                os.unlink(p)
        self.conn = self.lsock = None
        self.rbuf = b""
        self.serial = b""           # what came through the pipe
        self.t = {}
        if qmp == "server":
            extra = ["-qmp", "unix:%s,server=on,wait=off" % self.qmp_path]
        else:
            self.lsock = socket.socket(socket.AF_UNIX)
            self.lsock.bind(self.qmp_path)
            self.lsock.listen(1)
            extra = ["-chardev", "socket,id=qmp0,path=%s,server=off" % self.qmp_path,
                     "-mon", "chardev=qmp0,mode=control"]
        if serial == "file":
            extra += ["-serial", "file:" + self.serial_path]
        elif serial == "pipe":
            extra += ["-serial", "stdio"]
        self.args = [qemu] + list(args) + extra

    # --- QMP ---

    def connect(self, timeout=30, want_serial=False, strict=True):
        """The QMP greeting, qmp_capabilities and its answer (and, with
        WANT_SERIAL, the first serial byte), whichever order they come
        in.  Self; when that fails, raises, or unless STRICT returns None
        with conn None."""
        try:
            self._connect(time.monotonic() + timeout, want_serial)
        except (OSError, EOFError, ValueError, RuntimeError):
            self.disconnect()
            if strict:
                raise
            return None
        return self

    def _connect(self, deadline, want_serial):
        if self.qmp_mode == "server":
            while True:
                s = socket.socket(socket.AF_UNIX)
                try:
                    s.connect(self.qmp_path)
                    break
                except OSError:
                    s.close()
                    if time.monotonic() > deadline or self.proc.poll() is not None:
                        raise
                    time.sleep(0.05)
            self.conn = s
        else:
            self._wait(self.lsock, deadline, "accept")
            self.conn, _ = self.lsock.accept()
        self.t["connect"] = now_ns()
        while "QMP" not in self._readline(deadline, "greeting"):
            pass
        self.t["greeting"] = now_ns()
        self.send("qmp_capabilities")
        while True:
            msg = self._readline(deadline, "qmp_capabilities")
            if "error" in msg:
                raise RuntimeError("qmp_capabilities: %s" % msg["error"]["desc"])
            if "return" in msg:
                break
        self.t["qmp_ready"] = now_ns()
        while want_serial and "first_byte" not in self.t:
            self._wait(None, deadline, "the first serial byte")

    def _wait(self, sock, deadline, what):
        """Until SOCK is readable (None: until the serial pipe has data),
        reading the serial pipe meanwhile."""
        pipe = self.proc.stdout if self.serial_mode == "pipe" else None
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("%s: QMP timeout waiting for %s" % (self.name, what))
            rl = [f for f in (sock, pipe) if f is not None]
            r, _, _ = select.select(rl, [], [], min(left, 0.5))
            if pipe in r:
                if not self._read_serial() and self.proc.poll() is not None:
                    raise RuntimeError("QEMU exited: " + self.err())
                if sock is None:
                    return
            if sock is not None and sock in r:
                return
            if not r and self.proc.poll() is not None:
                raise RuntimeError("QEMU exited %d: %s" % (self.proc.returncode, self.err()))

    def _read_serial(self):
        d = os.read(self.proc.stdout.fileno(), 65536)
        if d and "first_byte" not in self.t:
            self.t["first_byte"] = now_ns()
        self.serial += d
        return d

    def _readline(self, deadline, what):
        while b"\n" not in self.rbuf:
            self._wait(self.conn, deadline, what)
            d = self.conn.recv(65536)
            if not d:
                raise EOFError("QMP connection closed during %s" % what)
            self.rbuf += d
        line, self.rbuf = self.rbuf.split(b"\n", 1)
        return json.loads(line)

    def send(self, name, **args):
        """Send a QMP command, read no answer (one that may never come)."""
        if not self.conn:
            raise EOFError("%s: no QMP connection for %s" % (self.name, name))
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.conn.sendall(json.dumps(msg).encode() + b"\n")

    def cmd(self, name, timeout=60, **args):
        """Run a QMP command: its answer, {"return": ...} or {"error":
        ...}.  Events are dropped."""
        self.send(name, **args)
        deadline = time.monotonic() + timeout
        while True:
            msg = self._readline(deadline, name)
            if "event" not in msg:
                return msg

    def call(self, name, timeout=60, **args):
        """cmd()'s "return"; an error answer raises RuntimeError."""
        r = self.cmd(name, timeout, **args)
        if "error" in r:
            raise RuntimeError("%s: %s" % (name, r["error"]["desc"]))
        return r["return"]

    def disconnect(self):
        if self.conn:
            self.conn.close()
        self.conn = None
        self.rbuf = b""

    # --- what the tests and benchmarks ask ---

    def status(self):
        return self.cmd("query-status")["return"]["status"]

    def wait_status(self, want, timeout=30, poll=0.05):
        """Until the run state is one of WANT; the last one seen."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s = self.status()
            if s in want:
                return s
            time.sleep(poll)
        return self.status()

    def devices(self):
        """The sp-mem devices: (id, addr, size, node) each."""
        r = self.cmd("query-memory-devices")["return"]
        return [(d["data"]["id"], d["data"]["addr"], d["data"]["size"],
                 d["data"]["node"]) for d in r if d["type"] == "sp-mem"]

    def dump(self, addr, size, path):
        """SIZE bytes of guest-physical memory at ADDR (pmemsave to PATH)."""
        r = self.cmd("pmemsave", val=addr, size=size, filename=path)
        if "error" in r:
            raise RuntimeError("pmemsave: %s" % r["error"]["desc"])
        with open(path, "rb") as f:
            return f.read()

    def caps(self, **caps):
        """migrate-set-capabilities; x_ignore_shared=True for x-ignore-shared."""
        r = self.cmd("migrate-set-capabilities", capabilities=[
            {"capability": k.replace("_", "-"), "state": v} for k, v in caps.items()])
        if "error" in r:
            raise RuntimeError("%s: migrate-set-capabilities %s: %s"
                               % (self.name, caps, r["error"]["desc"]))

    def params(self, **p):
        """migrate-set-parameters; max_bandwidth= for max-bandwidth."""
        r = self.cmd("migrate-set-parameters",
                     **{k.replace("_", "-"): v for k, v in p.items()})
        if "error" in r:
            raise RuntimeError("%s: migrate-set-parameters %s: %s"
                               % (self.name, p, r["error"]["desc"]))

    def migrate(self, **args):
        """migrate; an error raises.  A unix socket's file exists from
        bind(), a moment before the destination listens on it
        (cpr-transfer's cpr channel): "Connection refused" is retried for
        10 s.  The time (now_ns()) the accepted attempt was sent."""
        deadline = time.monotonic() + 10
        while True:
            t = now_ns()
            r = self.cmd("migrate", **args)
            if "error" not in r:
                return t
            if "Connection refused" not in r["error"]["desc"] or \
                    time.monotonic() > deadline:
                raise RuntimeError("%s: migrate: %s" % (self.name, r["error"]["desc"]))
            time.sleep(0.02)

    def query_migrate(self):
        return self.cmd("query-migrate")["return"]

    FINAL = ("completed", "failed", "cancelled", "postcopy-paused")

    def wait_migration(self, timeout=120, seen=None, poll=0.05):
        """query-migrate until its status is one of FINAL, adding every
        status to the set SEEN; {"status": "timeout"} after TIMEOUT s."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = self.query_migrate()
            if seen is not None:
                seen.add(r.get("status"))
            if r.get("status") in self.FINAL:
                return r
            time.sleep(poll)
        return {"status": "timeout"}

    def serial_text(self):
        if self.serial_mode != "file":
            return self.serial.decode("utf-8", "replace")
        try:
            with open(self.serial_path) as f:
                return f.read()
        except OSError:
            return ""

    def generation(self):
        """The writer guest's last generation on the serial line (0: none)."""
        gens = re.findall(r"writer generation (\d+)", self.serial_text())
        return int(gens[-1]) if gens else 0

    def wait_generation(self, gen, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.generation() >= gen:
                return True
            if self.proc.poll() is not None:
                return False
            time.sleep(0.05)
        return False

    def ms(self, key):
        """Milliseconds from the spawn to the time KEY of t."""
        return (self.t[key] - self.t_exec) / 1e6

    def proc_status(self):
        """VmRSS and friends from /proc/PID/status, in KiB."""
        out = {}
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "RssAnon", "RssFile", "RssShmem", "VmSize"):
                    out[k] = int(v.split()[0])
        return out

    def err(self):
        try:
            with open(self.stderr_path) as f:
                return f.read().strip()
        except OSError:
            return ""

    def exit_status(self, timeout=30):
        """The exit status once QEMU exits by itself; None if it runs on."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def exited(self, timeout=30):
        """For a QEMU that is to exit by itself (a destination refusing
        the stream): its exit status within TIMEOUT s (None if it ran
        on), then without QMP, quit() (so killed if still there)."""
        rc = self.exit_status(timeout)
        self.disconnect()
        self.quit()
        return rc

    def quit(self):
        """QMP quit (when connected); killed if still there after 20 s.
        Its exit status."""
        if self.conn:
            try:
                self.cmd("quit", timeout=10)
            except (OSError, EOFError, ValueError, RuntimeError):
                pass
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
        return self.kill()

    def kill(self):
        """SIGKILL unless it has exited; its exit status.  (quit() for a
        process whose end matters.)"""
        self.disconnect()
        if self.proc.poll() is None:
            self.proc.kill()
        rc = self.proc.wait()
        if self.lsock:
            self.lsock.close()
            self.lsock = None
            if os.path.exists(self.qmp_path):
                os.unlink(self.qmp_path)
        return rc


# --- the command -----------------------------------------------------------------

def main(argv):
    """fill-host / check-guest / check-host, for scenarios/baremetal/run.sh."""
    if len(argv) < 6 or argv[1] not in ("fill-host", "check-guest", "check-host") \
            or (argv[1] != "fill-host" and len(argv) < 7):
        print(USAGE, file=sys.stderr)
        return 2
    mode, path = argv[1], argv[2]
    base, size, node = (int(x, 0) for x in argv[3:6])
    if mode == "fill-host":
        fill_host(path, base, size)
        return 0
    off = int(argv[6], 0)
    with open(path, "rb") as f:
        f.seek(off)
        block = f.read(BLOCK)
    msg = block_mismatch(block, off, base, node,
                         guest_word if mode == "check-guest" else host_word)
    if msg:
        print(msg)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
