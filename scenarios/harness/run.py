#!/usr/bin/env python3
"""Test the test command itself: run scripts/check.py on scenarios made
up here, each broken in one way, and check that it counts each as it
must.  A scenario that exits early, prints no result line, prints a
result line but exits non-zero, makes fewer checks than it declares, or
outlives its timeout must be a failure, and the total's "failed" must
say so; a timeout must end everything the scenario started.

Last line: "harness: N passed, N failed".
"""

import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "lib"))

passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
        print("ok   " + what)
    else:
        failed += 1
        print("FAIL " + what)


# name: (declaration lines, runner)
MARK = "spmem-harness-%d" % os.getpid()
CASES = {
    "good": ("checks: 2", 'echo "ok   one"; echo "ok   two"\necho "good: 2 passed, 0 failed"'),
    "early": ("", 'echo "ok   one"\nexit 3\necho "early: 9 passed, 0 failed"'),
    "noline": ("", 'echo "ok   one"\necho "someone-else: 1 passed, 0 failed"'),
    "liar": ("", 'echo "liar: 5 passed, 0 failed"\nexit 1'),
    "fewer": ("checks: 3", 'echo "fewer: 1 passed, 0 failed"'),
    "skips": ("checks: 3", 'echo "skips: 2 passed, 0 failed, 1 skipped"'),
    # A child left running in the background, and a runner that hangs:
    # the timeout must end both.
    "slow": ("timeout: 3", "(exec -a %s-slow sleep 300) &\nexec -a %s-slow sleep 301"
             % (MARK, MARK)),
    # A process that leaves the group (a daemon) and keeps the output
    # open after the runner exited: reported, and no hang.
    "daemon": ("", "setsid bash -c 'exec -a %s-daemon sleep 302' &\n"
                   'echo "daemon: 1 passed, 0 failed"' % MARK),
}


def make(root):
    for order, (name, (extra, body)) in enumerate(sorted(CASES.items())):
        d = os.path.join(root, name)
        os.makedirs(d)
        decl = ["order: %d" % order, "tier: quick", "run: run.sh", "needs:"]
        if "timeout:" not in extra:
            decl.append("timeout: 60")
        decl += [l for l in extra.split("\n") if l]
        with open(os.path.join(d, "scenario"), "w") as f:
            f.write("\n".join(decl) + "\n")
        with open(os.path.join(d, "run.sh"), "w") as f:
            f.write(body + "\n")


def running(pattern):
    """The PIDs of processes whose command line has PATTERN, once any
    that are being killed have had 5 s to go."""
    for _ in range(50):
        left = subprocess.run(["pgrep", "-f", pattern], stdout=subprocess.PIPE,
                              text=True).stdout.split()
        if not left:
            return ""
        time.sleep(0.1)
    return " ".join(left)


def check_py(root, build, *args):
    env = dict(os.environ, SPMEM_SCENARIOS=root, SPMEM_BUILD=build)
    env.pop("TEST_NAME", None)
    t0 = time.time()
    p = subprocess.run([sys.executable, os.path.join(TOP, "scripts", "check.py")] + list(args),
                       env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       stdin=subprocess.DEVNULL, text=True)
    return p.returncode, p.stdout, time.time() - t0


def row(out, name):
    m = re.search(r"^%s\s+quick\s+(\d+)\s+(\d+)\s+(\d+)\s+\d+s\s+(.*)$" % name, out, re.M)
    return (int(m.group(1)), int(m.group(2)), int(m.group(3)), m.group(4)) if m else None


def main():
    with tempfile.TemporaryDirectory(prefix="spmem-harness.") as tmp:
        root = os.path.join(tmp, "scenarios")
        make(root)
        build = os.path.join(tmp, "build")

        rc, out, secs = check_py(root, build)
        with open(os.path.join(tmp, "all.log"), "w") as f:
            f.write(out)
        lines = out.rstrip("\n").split("\n")
        check(rc == 1, "check.py exits 1 when scenarios fail (exit %d)" % rc)
        want = {
            "good": (2, 0, 0, "ok"),
            "early": (0, 1, 0, "FAIL: exit 3, no 'early: N passed, N failed' line"),
            "noline": (0, 1, 0, "FAIL: no 'noline: N passed, N failed' line"),
            "liar": (5, 1, 0, "FAIL: exit 1"),
            "fewer": (1, 1, 0, "FAIL: 1 checks counted, the declaration expects 3"),
            "skips": (2, 0, 1, "ok"),
            "daemon": (1, 1, 0, "FAIL: a process it started kept running after it exited"),
        }
        for name, w in sorted(want.items()):
            got = row(out, name)
            check(got == w, "%s: row %s (want %s)" % (name, got, w))
        got = row(out, "slow")
        check(got is not None and got[1] == 1 and got[3].startswith("FAIL: timed out after 3s"),
              "slow: timed out and failed: %s" % (got,))
        check(secs < 60, "the 3 s timeout ended the 300 s scenario, the daemon held "
              "nothing up (whole run %.0f s)" % secs)
        left = running(MARK + "-slow")
        check(left == "", "nothing the timed-out scenario started is left running (%s)"
              % (left or "none"))
        check(lines[-1] == "11 passed, 6 failed, 1 skipped",
              "the last line is the total: %r" % lines[-1])
        summary = os.path.join(build, "test-logs", "summary.txt")
        check(os.path.isfile(summary) and open(summary).read().rstrip("\n").split("\n")[-1]
              == lines[-1], "summary.txt holds the table and the same total")
        check(os.path.isfile(os.path.join(build, "test-logs", "early.log")),
              "each scenario has its log in test-logs/")

        rc, out, _ = check_py(root, build, "good", "skips")
        check(rc == 0 and out.rstrip("\n").split("\n")[-1] == "4 passed, 0 failed, 1 skipped",
              "scenarios by name: only those run, exit 0 (exit %d, %r)"
              % (rc, out.rstrip("\n").split("\n")[-1]))
        check(row(out, "early") is None, "a scenario not named is not run")

        rc, out, _ = check_py(root, build, "--quick")
        check(rc == 1 and row(out, "good") is not None, "--quick runs the quick tier")

        rc, out, _ = check_py(root, build, "--list")
        check(rc == 0 and all(re.search(r"^%s\s" % n, out, re.M) for n in CASES),
              "--list lists every scenario")

        rc, out, _ = check_py(root, build, "nosuch")
        check(rc == 2 and "no scenario or tier nosuch" in out,
              "an unknown name is refused with exit 2: %s" % out.strip()[:80])

        bad = os.path.join(root, "good", "scenario")
        with open(bad, "a") as f:
            f.write("needs: nosuch-build\n")
        rc, out, _ = check_py(root, build, "good")
        check(rc != 0 and "unknown need nosuch-build" in out,
              "a declaration naming an unknown build is refused: %s" % out.strip()[:80])

    # The made-up daemons (one per run of check.py that ran "daemon")
    # are ours to end.
    subprocess.call(["pkill", "-KILL", "-f", MARK + "-daemon"])
    check(running(MARK) == "", "nothing of the made-up scenarios is left running")

    name = os.environ.get("TEST_NAME") or os.path.basename(HERE)
    print("%s: %d passed, %d failed" % (name, passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
