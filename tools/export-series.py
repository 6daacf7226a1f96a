#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Export our work as git format-patch series against the pristine tree.

    tools/export-series.py [OUTDIR]        (default: series/)

Every line of patches/series becomes one commit on top of the pristine
upstream tree (tag "pristine" of qemu-src/, made by scripts/prepare.sh):
the patch of upstream files, plus the files of ours the line names, taken
from the work tree (FILE:-NAME,... leaves functions, declarations or
#include lines out at that step).  The commit message is the patch's
Subject and body, its author the patch's From; Signed-off-by is in the
body.  "= GROUP" lines of patches/series cut the commits into groups:

  upstream  the stand-in for QEMU 11.1's device: the base, not for the
            list; OUTDIR/base/ has it for applying the series to 10.2.2
  fix       each patch alone in OUTDIR/fix/ (format-patch of one commit
            on the upstream group: a standalone fix for qemu-devel)
  arm       OUTDIR: the series for qemu-devel with a cover letter
            (patches/cover-letter: subject on the first line, then the
            text), based on the upstream and fix groups
  harness   ours only: committed (the tree check below needs them) but
            not exported

checkpatch.pl from the tree checks every exported patch.

Checks that make the export fail:
  - the last commit's tree equals qemu-src/ (series applied, our files
    laid over) in every file the series touches;
  - every file of ours is exported, except the project's own documents
    (PROJECT_ONLY);
  - checkpatch.pl reports no error and no warning.

Choices: the work repository is .series/qemu-src (a shared clone of
qemu-src/, so it costs seconds); commit dates are the date of the
project's last commit, so that the same work tree exports the same
series.
"""

import os
import re
import shutil
import subprocess
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QEMU_SRC = os.path.join(TOP, "qemu-src")
PATCHES = os.path.join(TOP, "patches")
WORK = os.path.join(TOP, ".series", "qemu-src")
OVERLAY_DIRS = ("hw", "include", "tests", "docs")
# Documents of this project, not of QEMU.
PROJECT_ONLY = {"docs/guests.md", "docs/performance.md", "docs/parity.md"}
GROUPS = ("upstream", "fix", "arm", "harness")


def die(msg):
    print("export-series: " + msg, file=sys.stderr)
    sys.exit(1)


def run(args, cwd=WORK, env=None, capture=True):
    r = subprocess.run(args, cwd=cwd, env=env, text=True,
                       stdout=subprocess.PIPE if capture else None,
                       stderr=subprocess.STDOUT if capture else None)
    if r.returncode:
        die("%s failed:\n%s" % (" ".join(args), r.stdout or ""))
    return r.stdout


def series():
    """[(group, patch, [(path, [names left out])])] from patches/series."""
    out = []
    group = None
    with open(os.path.join(PATCHES, "series")) as f:
        for line in f:
            if line.startswith("#") or not line.split():
                continue
            if line.startswith("="):
                group = line[1:].strip()
                if group not in GROUPS:
                    die("patches/series: unknown group %r" % group)
                continue
            patch, *files = line.split()
            items = []
            for spec in files:
                path, _, names = spec.partition(":")
                leave = [n[1:] for n in names.split(",") if n] if names else []
                if any(not n for n in leave) or \
                        any(not n.startswith("-") for n in names.split(",") if n):
                    die("%s: bad file spec %r" % (patch, spec))
                items.append((path, leave))
            if group is None:
                die("patches/series: %s before any '= GROUP' line" % patch)
            out.append((group, patch, items))
    return out


def leave_out(text, names, where):
    """TEXT without the top-level definitions, declarations and #include
    lines NAMES, each with the comment block right above it."""
    lines = text.split("\n")
    for name in names:
        if name.endswith(".h"):
            pat = re.compile(r'^#include [<"](.*/)?%s[>"]' % re.escape(name))
            hits = [i for i, ln in enumerate(lines) if pat.match(ln)]
            if len(hits) != 1:
                die("%s: %d #include lines of %s" % (where, len(hits), name))
            del lines[hits[0]]
            continue
        pat = re.compile(r"^[A-Za-z_].*\b%s\b\s*(\(|\[|=)" % re.escape(name))
        hits = [i for i, ln in enumerate(lines) if pat.match(ln)]
        if len(hits) != 1:
            die("%s: %d top-level definitions of %s" % (where, len(hits), name))
        start = end = hits[0]
        body = False
        while end < len(lines):
            ln = lines[end]
            if ln == "{":
                body = True
            elif body and ln == "}":
                break
            elif not body and ln.rstrip().endswith(";"):
                break
            end += 1
        else:
            die("%s: no end of %s" % (where, name))
        if start > 0 and lines[start - 1].rstrip().endswith("*/"):
            while start > 0 and not lines[start - 1].startswith("/*"):
                start -= 1
            start -= 1
        end += 1
        # Keep single blank lines between what remains.
        if (start > 0 and not lines[start - 1].strip() and
                (end == len(lines) or not lines[end].strip())):
            end += 1
        del lines[start:end]
    return "\n".join(lines)


def overlay_files():
    files = set()
    for d in OVERLAY_DIRS:
        for root, _, names in os.walk(os.path.join(TOP, d)):
            for n in names:
                files.add(os.path.relpath(os.path.join(root, n), TOP))
    return files


def header(patch):
    """(author, message) of a patches/ file."""
    with open(os.path.join(PATCHES, patch)) as f:
        text = f.read()
    head, sep, _ = text.partition("\n---\n")
    if not sep:
        die("%s: no '---' line" % patch)
    m = re.match(r"From: (.*)\nSubject: (?:\[PATCH[^]]*\] )?(.*)\n\n(.*)",
                 head, re.S)
    if not m or "Signed-off-by: " not in m.group(3):
        die("%s: needs From, Subject, a body and Signed-off-by" % patch)
    return m.group(1), m.group(2) + "\n\n" + m.group(3).strip() + "\n"


def export(outdir):
    if not os.path.isdir(os.path.join(QEMU_SRC, ".git")):
        die("no qemu-src/: run scripts/prepare.sh first")
    shutil.rmtree(os.path.dirname(WORK), ignore_errors=True)
    os.makedirs(os.path.dirname(WORK))
    run(["git", "clone", "-q", "--shared", "--no-checkout", QEMU_SRC, WORK],
        cwd=TOP)
    run(["git", "checkout", "-q", "-B", "sp-mem", "pristine"])
    run(["git", "config", "user.name", "sp-mem-arm"])
    run(["git", "config", "user.email", "sp-mem-arm@localhost"])
    date = run(["git", "log", "-1", "--format=%cI"], cwd=TOP).strip()
    env = dict(os.environ, GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)

    exported = set()
    commits = {g: [] for g in GROUPS}
    for group, patch, items in series():
        run(["git", "apply", "--index", "--whitespace=nowarn",
             os.path.join(PATCHES, patch)])
        for path, leave in items:
            with open(os.path.join(TOP, path), "rb") as f:
                data = f.read()
            if leave:
                data = leave_out(data.decode(), leave,
                                 "%s: %s" % (patch, path)).encode()
            dst = os.path.join(WORK, path)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            with open(dst, "wb") as f:
                f.write(data)
            run(["git", "add", path])
            if not leave:
                exported.add(path)
        author, msg = header(patch)
        subprocess.run(["git", "commit", "-q", "--author", author, "-F", "-"],
                       cwd=WORK, env=env, input=msg, text=True, check=True)
        commits[group].append(run(["git", "rev-parse", "HEAD"]).strip())

    # The exported tree is what scripts/prepare.sh builds.
    changed = run(["git", "diff", "--name-only", "pristine", "HEAD"]).split()
    for path in changed:
        with open(os.path.join(WORK, path), "rb") as a, \
                open(os.path.join(QEMU_SRC, path), "rb") as b:
            if a.read() != b.read():
                die("%s differs from qemu-src/ (run scripts/prepare.sh?)" % path)
    missing = overlay_files() - exported - PROJECT_ONLY
    if missing:
        die("not exported by any line of patches/series: " +
            " ".join(sorted(missing)))

    if not commits["arm"]:
        die("patches/series has no arm group")
    shutil.rmtree(outdir, ignore_errors=True)
    base = commits["arm"][0] + "^"
    run(["git", "format-patch", "-q", "--cover-letter", "-o", outdir,
         "%s..%s" % (base, commits["arm"][-1])], env=env)
    with open(os.path.join(PATCHES, "cover-letter")) as f:
        subject, _, blurb = f.read().partition("\n")
    cover = os.path.join(outdir, "0000-cover-letter.patch")
    with open(cover) as f:
        text = f.read()
    text = text.replace("*** SUBJECT HERE ***", subject.strip())
    text = text.replace("*** BLURB HERE ***", blurb.strip())
    with open(cover, "w") as f:
        f.write(text)
    # Each fix on its own, on the upstream group alone: a cherry-pick of
    # the fix onto the last upstream commit must give the same patch.
    fixdir = os.path.join(outdir, "fix")
    os.makedirs(fixdir)
    up = commits["upstream"][-1] if commits["upstream"] else "pristine"
    for c in commits["fix"]:
        run(["git", "checkout", "-q", "--detach", up])
        run(["git", "cherry-pick", c], env=env)
        run(["git", "format-patch", "-q", "-1", "-o", fixdir, "HEAD"], env=env)
    run(["git", "checkout", "-q", "sp-mem"])
    # The stand-in, for whoever applies the series to 10.2.2 (the walk).
    if commits["upstream"]:
        run(["git", "format-patch", "-q", "-o", os.path.join(outdir, "base"),
             "pristine..%s" % commits["upstream"][-1]], env=env)

    bad = 0
    pats = sorted(p for p in os.listdir(outdir)
                  if p.endswith(".patch") and not p.startswith("0000"))
    pats += sorted(os.path.join("fix", p) for p in os.listdir(fixdir))
    for p in pats:
        r = subprocess.run([os.path.join(WORK, "scripts", "checkpatch.pl"),
                            os.path.join(outdir, p)], cwd=WORK, text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        m = re.search(r"total: (\d+) errors, (\d+) warnings", r.stdout)
        errs, warns = (int(m.group(1)), int(m.group(2))) if m else (1, 0)
        # Step 1 of bios-tables-test.c's procedure adds empty expected
        # tables; checkpatch.pl asks every new file for an SPDX line,
        # which an empty file cannot have.  Only that warning, only for
        # empty files under tests/data/acpi/, is not counted.
        with open(os.path.join(outdir, p)) as f:
            empty = set(re.findall(r"^diff --git a/(\S+) .*\nnew file mode "
                                   r"\d+\nindex 0+\.\.e69de29",
                                   f.read(), re.M))
        fp = [f for f in re.findall(r"WARNING: Does new file '([^']+)' need "
                                    r"'SPDX-License-Identifier'", r.stdout)
              if f in empty and f.startswith("tests/data/acpi/")]
        note = (" (+%d: empty expected ACPI tables, step 1 of the "
                "bios-tables-test procedure)" % len(fp)) if fp else ""
        warns -= len(fp)
        print("%-66s %d errors, %d warnings%s" % (p, errs, warns, note))
        if errs or warns or (r.returncode and not fp):
            bad += 1
            print(r.stdout)
    print("export-series: %d patches and a cover letter in %s, %d fixes in %s"
          % (len(pats) - len(commits["fix"]), os.path.relpath(outdir, TOP),
             len(commits["fix"]), os.path.relpath(fixdir, TOP)))
    if bad:
        die("checkpatch.pl: %d patches with errors or warnings" % bad)
    print("export-series: checkpatch.pl clean on every patch")


if __name__ == "__main__":
    export(os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                           os.path.join(TOP, "series")))
