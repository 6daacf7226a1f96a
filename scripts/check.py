#!/usr/bin/env python3
"""The test command: build what the selected scenarios need, run them,
and print one line per scenario and the total.

    scripts/check.py                 every scenario (what CI runs)
    scripts/check.py --quick         the quick tier: what needs only QEMU
                                     and the pristine build
    scripts/check.py NAME...         the scenarios (or tiers) named
    scripts/check.py --list          the scenarios, their tiers, timeouts
                                     and needs

A scenario is a folder scenarios/NAME/ with a declaration, `scenario`
(what it needs, its tier, its timeout, how to run it, how many checks
it makes), its runner and its guest payload.  Its runner prints "NAME:
N passed, N failed[, N skipped]" last.  A scenario that exits non-zero,
prints no such line, makes another number of checks than declared or
outlives its timeout is counted as failed, whatever it printed.

What the scenarios need is built first: QEMU (and the qtests, when a
selected scenario needs them) in the foreground, everything else (the
unpatched build, the bare-metal guest, our EDK2, the kernels, libvirt)
in the background at the lowest priority, one at a time, in the order
the scenarios need them.  Scenarios run one at a
time, in their order, except that one whose builds are not done yet
lets the next ready one go first.  Logs: build/test-logs/NAME.log per scenario, build-NEED.log per
build, summary.txt for the table.  The last line is the total, "N
passed, N failed, N skipped".
"""

import os
import re
import select
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# SPMEM_SCENARIOS: another folder of scenarios (the harness scenario
# runs this script on scenarios it makes up, to test it).
SCENARIOS = os.environ.get("SPMEM_SCENARIOS", os.path.join(TOP, "scenarios"))
BUILD = os.environ.get("SPMEM_BUILD", os.path.join(TOP, "build"))
# lib/common.sh's cache folder (scripts/x86-sid.sh and the other builds
# outside the work tree).
CACHE = os.environ.get("SPMEM_CACHE") or os.path.join(
    os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "sp-mem-arm")
LOGS = os.path.join(BUILD, "test-logs")

# The time budget of a full run on a 2-core machine (README.md,
# docs/performance.md): CI stops a run at 90 minutes; we aim at half.
BUDGET = {"cold": 45 * 60, "warm": 20 * 60, "quick": 5 * 60, "ci": 90 * 60}

# What a scenario may need, and the command that builds it.  Each
# command is idempotent and cached: run again, it finds its result.
# "fg" builds run before any scenario (every scenario needs QEMU);
# the others run in the background (the unpatched build too: the qtests
# and the harness run while it builds).
QTESTS = ". scenarios/qtest/qtests.sh && bash scripts/build.sh $(qtest_all)"
PROVIDERS = {
    "qemu": ("fg", "bash scripts/build.sh",
             "the patched emulator, build/qemu-system-aarch64"),
    "qtests": ("fg", QTESTS,
               "the qtest binaries of scenarios/qtest/qtests.sh"),
    "pristine": ("bg", "bash scripts/build-pristine.sh tests/qtest/bios-tables-test",
                 "the unpatched emulator and bios-tables-test, pristine/build/"),
    "guest": ("bg", "bash scripts/build-guest.sh",
              "the bare-metal guest, build/guest/sp-mem-guest.elf"),
    "edk2": ("bg", "bash edk2/build.sh", "our EDK2 (edk2/), cached"),
    "linux-6.1": ("bg", "bash linux/build.sh 6.1",
                  "Linux 6.1 with the dax core built in (linux/), cached"),
    "linux-7.2": ("bg", "bash linux/build.sh 7.2",
                  "Linux 7.2 with our series (linux/), cached"),
    "linux-7.2-dt": ("bg", "bash linux/build.sh 7.2-dt",
                     "Linux 7.2 with our series, device tree only (linux/), cached"),
    "x86-sid": ("bg", "bash scripts/x86-sid.sh",
                "upstream's x86 QEMU 11.1 and stock guest software, Debian sid, cached"),
    "libvirt": ("bg", "bash libvirt/build.sh",
                "libvirt 11.3.0 with our series (libvirt/), cached"),
}
TIERS = ("quick", "full")
# Seconds the output of a scenario is still read after its runner exited.
GRACE = 10


class Scenario:
    def __init__(self, name):
        self.name = name
        self.dir = os.path.join(SCENARIOS, name)
        decl = {}
        with open(os.path.join(self.dir, "scenario")) as f:
            for n, line in enumerate(f, 1):
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                key, sep, value = line.partition(":")
                if not sep:
                    sys.exit("scenarios/%s/scenario:%d: not KEY: VALUE" % (name, n))
                decl[key.strip()] = value.strip()
        try:
            self.order = int(decl.pop("order"))
            self.tier = decl.pop("tier")
            self.timeout = int(decl.pop("timeout"))
            self.run = decl.pop("run")
            self.needs = decl.pop("needs", "").split()
            self.debs = decl.pop("debs", "").split()
            self.args = decl.pop("args", "")
            self.checks = int(decl.pop("checks", "0"))
            self.about = decl.pop("about", "")
        except (KeyError, ValueError) as e:
            sys.exit("scenarios/%s/scenario: missing or bad %s" % (name, e))
        if decl:
            sys.exit("scenarios/%s/scenario: unknown keys %s" % (name, ", ".join(decl)))
        if self.tier not in TIERS:
            sys.exit("scenarios/%s/scenario: tier %s is not one of %s"
                     % (name, self.tier, ", ".join(TIERS)))
        for need in self.needs:
            if need not in PROVIDERS:
                sys.exit("scenarios/%s/scenario: unknown need %s (known: %s)"
                         % (name, need, ", ".join(PROVIDERS)))
        # Results, filled by run().
        self.passed = self.failed = self.skipped = 0
        self.seconds = 0
        self.verdict = "not run"


def load():
    found = []
    for name in sorted(os.listdir(SCENARIOS)):
        if os.path.isfile(os.path.join(SCENARIOS, name, "scenario")):
            found.append(Scenario(name))
    return sorted(found, key=lambda s: (s.order, s.name))


def log(msg):
    print("check: " + msg, flush=True)


class Builds:
    """The builds the selected scenarios need, each run once."""

    def __init__(self, needs):
        self.needs = needs                      # in the order first needed
        self.done = {n: threading.Event() for n in needs}
        self.ok = {}
        self.seconds = {}
        self.thread = None

    def _build(self, need, nice):
        when, cmd, _ = PROVIDERS[need]
        path = os.path.join(LOGS, "build-%s.log" % need)
        t0 = time.time()
        with open(path, "w") as out:
            argv = ["bash", "-c", cmd]
            if nice:
                argv = ["nice", "-n", "19"] + argv
            rc = subprocess.call(argv, cwd=TOP, stdout=out, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL)
        self.seconds[need] = time.time() - t0
        self.ok[need] = rc == 0
        log("build %s: %s in %ds (log: %s)" % (need, "done" if rc == 0 else
                                              "FAILED, exit %d" % rc,
                                              self.seconds[need], os.path.relpath(path, TOP)))
        if rc != 0:
            with open(path) as f:
                tail = f.readlines()[-15:]
            for line in tail:
                print("    " + line.rstrip())
        self.done[need].set()

    def foreground(self):
        for need in self.needs:
            if PROVIDERS[need][0] == "fg":
                self._build(need, nice=False)

    def background(self):
        rest = [n for n in self.needs if PROVIDERS[n][0] == "bg"]

        def work():
            for need in rest:
                self._build(need, nice=True)
        self.thread = threading.Thread(target=work, daemon=True)
        self.thread.start()

    def ready(self, needs):
        return all(self.done[n].is_set() for n in needs)

    def wait(self, needs):
        """True when every need is built; waits for the background."""
        for need in needs:
            if not self.done[need].is_set():
                log("waiting for the build of %s" % need)
                self.done[need].wait()
        return [n for n in needs if not self.ok[n]]


def run(sc, builds):
    path = os.path.join(LOGS, sc.name + ".log")
    print("\n=== %s (%s, timeout %ds) ===" % (sc.name, sc.tier, sc.timeout), flush=True)
    missing = builds.wait(sc.needs)
    t0 = time.time()
    if missing:
        sc.failed, sc.verdict = 1, "FAIL: build of %s failed" % ", ".join(missing)
        print(sc.verdict)
        return
    runner = os.path.join(sc.dir, sc.run)
    interp = "python3" if runner.endswith(".py") else "bash"
    work = tempfile.mkdtemp(prefix="spmem-%s." % sc.name)
    env = dict(os.environ, TEST_NAME=sc.name)
    subst = {"QEMU": os.path.join(BUILD, "qemu-system-aarch64"),
             "BUILD": BUILD, "WORK": work, "TOP": TOP, "CACHE": CACHE}
    args = [re.sub(r"\$\{(\w+)\}", lambda m: subst[m.group(1)], a)
            for a in shlex.split(sc.args)]
    result = re.compile(r"^%s: (\d+) passed, (\d+) failed(?:, (\d+) skipped)?\s*$"
                        % re.escape(sc.name))
    line_seen = None
    timed_out = leftover = False
    # Each scenario in a process group of its own, so that a timeout
    # ends everything it started (QEMU, daemons), not only the runner.
    # The output is read here, not by a thread: a process that left the
    # group and keeps the pipe open (a daemon) cannot hold the run up
    # longer than GRACE seconds after the runner exited.
    with open(path, "w") as out:
        proc = subprocess.Popen([interp, runner] + args, cwd=TOP, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        fd = proc.stdout.fileno()
        deadline = t0 + sc.timeout
        signals = [signal.SIGTERM, signal.SIGKILL]
        exited = None
        pending = b""

        def lines(data):
            nonlocal line_seen
            text = data.decode("utf-8", "replace")
            out.write(text)
            sys.stdout.write(text)
            for line in text.splitlines():
                m = result.match(line)
                if m:
                    line_seen = m

        while True:
            now = time.time()
            if exited is None and proc.poll() is not None:
                exited = now
            if exited is not None and now - exited > GRACE:
                leftover = True
                break
            if exited is None and now >= deadline and signals:
                timed_out = True
                try:
                    os.killpg(proc.pid, signals.pop(0))
                except ProcessLookupError:
                    pass
                deadline = now + 5          # then SIGKILL
            ready, _, _ = select.select([fd], [], [], 1.0)
            if not ready:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            pending += chunk
            if b"\n" in pending:
                done, _, pending = pending.rpartition(b"\n")
                lines(done + b"\n")
        if pending:
            lines(pending + b"\n")
        rc = proc.wait()
        try:                    # what the runner left behind
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.stdout.close()
    sys.stdout.flush()
    subprocess.call(["rm", "-rf", work])
    sc.seconds = time.time() - t0
    if line_seen:
        sc.passed = int(line_seen.group(1))
        sc.failed = int(line_seen.group(2))
        sc.skipped = int(line_seen.group(3) or 0)
    problems = []
    if timed_out:
        problems.append("timed out after %ds" % sc.timeout)
    if leftover:
        problems.append("a process it started kept running after it exited")
    if rc != 0:
        problems.append("exit %d" % rc)
    if not line_seen:
        problems.append("no '%s: N passed, N failed' line" % sc.name)
    elif sc.passed + sc.failed == 0:
        problems.append("no check ran")
    elif sc.checks and sc.passed + sc.failed + sc.skipped != sc.checks:
        # The declaration's count of checks is the expected output: a
        # runner that silently made fewer (or more) checks is not green.
        problems.append("%d checks counted, the declaration expects %d"
                        % (sc.passed + sc.failed + sc.skipped, sc.checks))
    if problems and sc.failed == 0:
        sc.failed = 1           # the total must not say 0 failed
    if problems:
        sc.verdict = "FAIL: " + ", ".join(problems)
    elif sc.failed:
        sc.verdict = "FAIL"
    else:
        sc.verdict = "ok"


def table(selected, builds, total_s, full):
    rows = ["%-16s %-5s %7s %6s %7s %7s  %s" % ("scenario", "tier", "passed", "failed",
                                                "skipped", "time", "result")]
    for sc in selected:
        rows.append("%-16s %-5s %7d %6d %7d %6ds  %s" % (sc.name, sc.tier, sc.passed, sc.failed,
                                                        sc.skipped, sc.seconds, sc.verdict))
    rows.append("builds: " + (", ".join("%s %ds%s" % (n, builds.seconds.get(n, 0),
                                                      "" if builds.ok.get(n) else " FAILED")
                                        for n in builds.needs) or "none"))
    if full:
        rows.append("budget: this run %ds; targets on 2 cores: %ds cold, %ds warm, "
                    "quick tier %ds warm; CI stops at %ds"
                    % (total_s, BUDGET["cold"], BUDGET["warm"], BUDGET["quick"], BUDGET["ci"]))
    return rows


def main(argv):
    scenarios = load()
    by_name = {s.name: s for s in scenarios}
    if "-h" in argv or "--help" in argv:
        print(__doc__.strip())
        return 0
    if "--list" in argv:
        for sc in scenarios:
            print("%-16s %-5s timeout %4ds  needs: %s%s\n    %s"
                  % (sc.name, sc.tier, sc.timeout, " ".join(sc.needs) or "-",
                     ("; Debian packages: " + " ".join(sc.debs)) if sc.debs else "",
                     sc.about))
        return 0
    names = [a for a in argv if not a.startswith("-")]
    unknown = [a for a in argv if a.startswith("-") and a != "--quick"]
    if unknown:
        print("check.py: unknown option %s (see --help)" % " ".join(unknown), file=sys.stderr)
        return 2
    if "--quick" in argv:
        names.append("quick")
    selected = []
    for n in names or ["full", "quick"]:
        if n in TIERS:
            picked = [s for s in scenarios if s.tier == n or (n == "full")]
        elif n in by_name:
            picked = [by_name[n]]
        else:
            print("check.py: no scenario or tier %s (scripts/check.py --list)" % n,
                  file=sys.stderr)
            return 2
        selected += [s for s in picked if s not in selected]
    selected.sort(key=lambda s: (s.order, s.name))
    full = len(selected) == len(scenarios)

    os.makedirs(LOGS, exist_ok=True)
    start = time.time()
    needs = []
    for sc in selected:
        needs += [n for n in sc.needs if n not in needs]
    log("scenarios: %s" % " ".join(s.name for s in selected))
    log("builds: %s" % (" ".join(needs) or "none"))
    builds = Builds(needs)
    builds.foreground()
    log("foreground builds done in %ds" % (time.time() - start))
    builds.background()
    # In their order, except that a scenario whose builds are not done
    # yet lets the next one whose builds are go first: the machine
    # tests while the background builds run, instead of waiting.
    todo = list(selected)
    while todo:
        ready = [sc for sc in todo if builds.ready(sc.needs)]
        sc = ready[0] if ready else todo[0]
        todo.remove(sc)
        run(sc, builds)
    if builds.thread:
        builds.thread.join()
    total_s = time.time() - start
    rows = table(selected, builds, total_s, full)
    p = sum(s.passed for s in selected)
    f = sum(s.failed for s in selected)
    k = sum(s.skipped for s in selected)
    total = "%d passed, %d failed, %d skipped" % (p, f, k)
    with open(os.path.join(LOGS, "summary.txt"), "w") as out:
        out.write("\n".join(rows + [total]) + "\n")
    print()
    print("\n".join(rows))
    log("finished in %ds" % total_s)
    print(total)
    return 1 if f else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
