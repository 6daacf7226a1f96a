#!/usr/bin/env python3
"""Helpers of scenarios/libvirt/run.sh (sp-mem under libvirt).

usage: libvirt-run.py COMMAND ARG...

  fill-host FILE BASE SIZE NODE
        write the host pattern H into the host block of a backend file
        (offset SIZE - 8 KiB, 4 KiB long): lib/spmem.py's fill_host().
  check-writer FILE BASE SIZE NODE GEN_MAX [STRIDE]
        FILE (a backend file or a pmemsave dump of the range at BASE)
        holds the writer's pattern (lib/spmem.py's pattern_ok(): every
        word G + g or G + g - 1, one generation being written,
        g <= GEN_MAX) outside the host block, and the host block still
        holds H.  STRIDE 0 (default) checks every word;
        STRIDE N checks the first and last 4 KiB and one 4 KiB block
        every N bytes (a sample: pattern_ok() in pure Python takes about
        0.2 s per MiB).
  cmdline LOG
        the last QEMU command line in a libvirt domain log, one argument
        per line.
  check-cmdline CMDLINE PATH SIZE NODE [ADDR]
        the command line has a memory-backend-file object with mem-path
        PATH, share=true and SIZE bytes, and an sp-mem device that uses it
        on NODE (and at ADDR when given); prints both arguments.
  spmem-xml XML
        one line per <memory model='sp-mem'> of a domain XML:
        "path=P size=BYTES node=N base=B alias=A" (base/alias '-' if absent).
  free-port
        a free TCP port on 127.0.0.1.

Exit status 0 when the check holds, 1 (with a message) when not.
"""
import json
import os
import shlex
import sys
import xml.etree.ElementTree as ET

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "lib"))
import spmem                # noqa: E402  (lib/spmem.py: the patterns)
from spmem import BLOCK     # noqa: E402


def fill_host(path, base, size, node):
    spmem.fill_host(path, base, size)
    return 0


def check_writer(path, base, size, node, gen_max, stride=0):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) != size:
        print("%s: %d bytes, want %d" % (path, len(data), size))
        return 1
    hb = size - spmem.HOST_BLOCK
    if spmem.block_mismatch(data[hb:hb + BLOCK], hb, base, node, spmem.host_word):
        print("%s: host block at offset 0x%x is not the host pattern"
              % (path, hb))
        return 1
    if stride == 0:
        r = spmem.pattern_ok(data, base, node, size, False, gen_max)
        what = "all 0x%x bytes" % size
    else:
        # pattern_ok() per sampled block, with a size that puts its host
        # block out of reach (the host block itself is checked above).
        offs = sorted(set([0, size - BLOCK] +
                          [o for o in range(0, size, stride) if o != hb]))
        gens = set()
        r = None
        for o in offs:
            p = spmem.pattern_ok(data[o:o + BLOCK], base + o, node, 1 << 62,
                                 False, gen_max)
            if not p.startswith("generation"):
                r = p
                break
            gens.update(int(g) for g in p.split()[1].split("/"))
        if r is None:
            if len(gens) > 2 or max(gens) - min(gens) > 1:
                r = "blocks of generations %s" % sorted(gens)
            else:
                r = "generation %s" % "/".join(str(g) for g in sorted(gens))
        what = "%d blocks of 4 KiB" % len(offs)
    if not r.startswith("generation"):
        print("%s: %s" % (path, r))
        return 1
    print("%s, host block intact (%s checked)" % (r, what))
    return 0


def last_cmdline(log):
    """The last command line libvirt wrote into the domain log."""
    lines = open(log, errors="replace").read().splitlines()
    start = None
    for i, l in enumerate(lines):
        if l.endswith("\\") and (i == 0 or not lines[i - 1].endswith("\\")):
            start = i           # first line of a continued block
    if start is None:
        return None
    text = []
    for l in lines[start:]:
        text.append(l.rstrip("\\").rstrip())
        if not l.endswith("\\"):
            break
    return shlex.split(" ".join(text))


def cmdline(log):
    args = last_cmdline(log)
    if not args:
        print("no command line in %s" % log)
        return 1
    print("\n".join(args))
    return 0


def json_args(args, opt):
    out = []
    for i, a in enumerate(args[:-1]):
        if a == opt and args[i + 1].startswith("{"):
            try:
                out.append((args[i + 1], json.loads(args[i + 1])))
            except ValueError:
                pass
    return out


def check_cmdline(path, mem_path, size, node, addr=None):
    args = open(path).read().split("\n")
    objs = [(t, o) for t, o in json_args(args, "-object")
            if o.get("qom-type") == "memory-backend-file"
            and o.get("mem-path") == mem_path]
    if len(objs) != 1:
        print("%d memory-backend-file objects with mem-path %s" % (len(objs), mem_path))
        return 1
    otext, obj = objs[0]
    if obj.get("share") is not True or obj.get("size") != size:
        print("backend share=%s size=%s, want true and %d: %s"
              % (obj.get("share"), obj.get("size"), size, otext))
        return 1
    devs = [(t, d) for t, d in json_args(args, "-device")
            if d.get("driver") == "sp-mem" and d.get("memdev") == obj.get("id")]
    if len(devs) != 1:
        print("%d sp-mem devices with memdev %s" % (len(devs), obj.get("id")))
        return 1
    dtext, dev = devs[0]
    if dev.get("node") != node or (addr is not None and dev.get("addr") != addr):
        print("sp-mem device node=%s addr=%s, want %d %s: %s"
              % (dev.get("node"), dev.get("addr"), node, addr, dtext))
        return 1
    print("-object %s" % otext)
    print("-device %s" % dtext)
    return 0


UNITS = {"b": 1, "bytes": 1, "k": 1 << 10, "kib": 1 << 10, "kb": 1000,
         "m": 1 << 20, "mib": 1 << 20, "mb": 1000 ** 2,
         "g": 1 << 30, "gib": 1 << 30, "gb": 1000 ** 3}


def spmem_xml(path):
    root = ET.parse(path).getroot()
    for m in root.iter("memory"):
        if m.get("model") != "sp-mem":
            continue
        src = m.find("source/path")
        size = m.find("target/size")
        node = m.find("target/node")
        base = m.find("target/address")
        alias = m.find("alias")
        nbytes = "-"
        if size is not None:
            nbytes = int(size.text) * UNITS[size.get("unit", "KiB").lower()]
        print("path=%s size=%s node=%s base=%s alias=%s" % (
            src.text if src is not None else "-", nbytes,
            node.text if node is not None else "-",
            base.get("base") if base is not None else "-",
            alias.get("name") if alias is not None else "-"))
    return 0


def free_port():
    print(spmem.free_port())
    return 0


def main(argv):
    cmd, args = argv[1], argv[2:]
    n = lambda x: int(x, 0)
    if cmd == "fill-host":
        return fill_host(args[0], *map(n, args[1:4]))
    if cmd == "check-writer":
        return check_writer(args[0], *map(n, args[1:]))
    if cmd == "cmdline":
        return cmdline(args[0])
    if cmd == "check-cmdline":
        return check_cmdline(args[0], args[1], *map(n, args[2:]))
    if cmd == "spmem-xml":
        return spmem_xml(args[0])
    if cmd == "free-port":
        return free_port()
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
