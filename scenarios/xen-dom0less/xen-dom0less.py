#!/usr/bin/env python3
"""Build the host device tree and the QEMU options that boot Xen/arm64
with a dom0 and dom0less domains, some of which get sp-mem ranges.

    xen-dom0less.py --out DIR [--dom0 KERNEL,INITRD,BOOTARGS]
        --domu NAME,KERNEL,INITRD,MEM_MIB,CPUS,BOOTARGS
        --range NAME,HOST_ADDR,GUEST_ADDR ...
        [--keep-out both|disabled|passthrough|none] [--load-base ADDR]
        [--unchecked]
        -- QEMU [QEMU-OPTION...]

QEMU with its options (the machine with Xen as -kernel, its -append and
the sp-mem devices, no blobs) writes its device tree once with
-machine dumpdtb.  The script reads the sp-mem nodes from it and writes,
in DIR:

  NAME.dts, NAME.dtb  the partial device tree of domain NAME: one
                      /passthrough node per range given to it, with the
                      host node's compatible and numa-node-id, reg at
                      its guest address, and Xen's xen,reg and
                      xen,force-assign-without-iommu
                      (Xen's docs/misc/arm/passthrough.txt and
                      docs/misc/arm/device-tree/booting.txt);
  host.dts, host.dtb  QEMU's tree with /chosen/module@ nodes for dom0's
                      kernel and initrd, a /chosen/NAME "xen,domain" node
                      per domain with its kernel, initrd and partial tree
                      as modules, and, on the host node of each range
                      given to a domain, the --keep-out marker:
                      "both" (default): status = "disabled" and
                      "xen,passthrough"; Xen 4.19 and later then leave the
                      range out of their reserved banks, hence out of
                      dom0's /memory node, and do not map it into dom0.
                      "disabled" or "passthrough" alone, or "none", let
                      dom0 reach the range or crash it (see
                      docs/system/devices/sp-mem.rst, "Xen on Arm");
  qemu-args           the options to add to the same QEMU command line,
                      one a line: -dtb host.dtb and one -device loader
                      per blob.

Blobs are placed from --load-base (default 0x50000000) on 2 MiB
boundaries, in the order dom0 kernel, dom0 initrd, then each domain's
kernel, initrd and partial tree.  Refused, with a message: a blob that
overlaps an sp-mem range or leaves RAM, a range that is not an sp-mem
node of the tree, a range given twice, and a guest address range that
overlaps the domain's guest RAM banks (Xen's GUEST_RAM0 0x40000000-
0xffffffff and GUEST_RAM1 from 0x200000000, xen/include/public/
arch-arm.h): Xen would map the range over the domain's RAM.
--unchecked skips the last check (to show what Xen does then).
"""

import argparse
import os
import subprocess
import sys

MIB = 1 << 20
ALIGN = 2 * MIB
# Xen's guest memory map (xen/include/public/arch-arm.h, 4.17 .. 4.20).
GUEST_RAM_BANKS = [(0x40000000, 0xc0000000), (0x200000000, 0xfe00000000)]


def die(msg):
    sys.exit("xen-dom0less: " + msg)


def fdtget(dtb, node, prop, typ="x"):
    r = subprocess.run(["fdtget", "-t", typ, dtb, node, prop],
                       capture_output=True, text=True)
    return r.stdout.split() if r.returncode == 0 else None


def cells(words, n):
    v = 0
    for w in words[:n]:
        v = (v << 32) | int(w, 16)
    return v


def spmem_nodes(dtb):
    """{address: (size, node, compatible)} of the sp-mem nodes."""
    r = subprocess.run(["fdtget", "-l", dtb, "/reserved-memory"],
                       capture_output=True, text=True)
    out = {}
    for name in r.stdout.split():
        path = "/reserved-memory/" + name
        compat = fdtget(dtb, path, "compatible", "s") or []
        if "qemu,sp-mem" not in compat:
            continue
        reg = fdtget(dtb, path, "reg")
        nid = fdtget(dtb, path, "numa-node-id")
        ac = int(fdtget(dtb, "/reserved-memory", "#address-cells")[0], 16)
        sc = int(fdtget(dtb, "/reserved-memory", "#size-cells")[0], 16)
        out[cells(reg, ac)] = (cells(reg[ac:], sc),
                               int(nid[0], 16) if nid else None, compat)
    return out


def ram_banks(dtb):
    r = subprocess.run(["fdtget", "-l", dtb, "/"], capture_output=True,
                       text=True)
    banks = []
    for name in r.stdout.split():
        if name.startswith("memory@"):
            reg = fdtget(dtb, "/" + name, "reg")
            for i in range(0, len(reg), 4):
                banks.append((cells(reg[i:], 2), cells(reg[i + 2:], 2)))
    return banks


def overlap(a, asize, b, bsize):
    return a < b + bsize and b < a + asize


def dts_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def reg2(addr, size):
    return "<0x%x 0x%x 0x%x 0x%x>" % (addr >> 32, addr & 0xffffffff,
                                      size >> 32, size & 0xffffffff)


def main():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--dom0", help="KERNEL,INITRD,BOOTARGS")
    ap.add_argument("--domu", action="append", default=[],
                    help="NAME,KERNEL,INITRD,MEM_MIB,CPUS,BOOTARGS")
    ap.add_argument("--range", action="append", default=[],
                    help="NAME,HOST_ADDR,GUEST_ADDR")
    ap.add_argument("--keep-out", default="both",
                    choices=["both", "disabled", "passthrough", "none"])
    ap.add_argument("--load-base", default="0x50000000")
    ap.add_argument("--unchecked", action="store_true")
    ap.add_argument("qemu", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    qemu = a.qemu[1:] if a.qemu[:1] == ["--"] else a.qemu
    if not qemu:
        die("no QEMU command after --")
    os.makedirs(a.out, exist_ok=True)
    base = os.path.join(a.out, "base.dtb")

    r = subprocess.run(qemu + ["-machine", "dumpdtb=" + base],
                       capture_output=True, text=True)
    if r.returncode != 0 or not os.path.exists(base):
        die("QEMU did not write its device tree:\n" + r.stderr)
    spmem = spmem_nodes(base)
    ram = ram_banks(base)

    blobs = []            # (file, address, size)
    addr = int(a.load_base, 0)

    def place(path):
        nonlocal addr
        size = os.path.getsize(path)
        at = addr
        blobs.append((path, at, size))
        addr = (addr + size + ALIGN - 1) // ALIGN * ALIGN
        return at, size

    chosen = []
    if a.dom0:
        k, i, args = a.dom0.split(",", 2)
        ka, ks = place(k)
        chosen.append('    module@%x {\n'
                      '        compatible = "multiboot,kernel", "multiboot,module";\n'
                      '        reg = %s;\n        bootargs = %s;\n    };'
                      % (ka, reg2(ka, ks), dts_str(args)))
        ia, isz = place(i)
        chosen.append('    module@%x {\n'
                      '        compatible = "multiboot,ramdisk", "multiboot,module";\n'
                      '        reg = %s;\n    };' % (ia, reg2(ia, isz)))

    ranges = {}
    for spec in a.range:
        name, host, guest = spec.split(",")
        host, guest = int(host, 0), int(guest, 0)
        if host not in spmem:
            die("range 0x%x of %s is not an sp-mem node of the tree (sp-mem "
                "nodes at: %s)" % (host, name,
                                   ", ".join("0x%x" % x for x in spmem) or "none"))
        if any(host == h for v in ranges.values() for h, _ in v):
            die("sp-mem range 0x%x is given twice" % host)
        size = spmem[host][0]
        if not a.unchecked:
            for b, s in GUEST_RAM_BANKS:
                if overlap(guest, size, b, s):
                    die("range 0x%x of %s at guest address 0x%x, size 0x%x, "
                        "overlaps the domain's guest RAM bank [0x%x, 0x%x): "
                        "Xen would map it over the domain's RAM; choose a "
                        "guest address outside Xen's guest RAM banks, for "
                        "instance 0x100000000"
                        % (host, name, guest, size, b, b + s))
        ranges.setdefault(name, []).append((host, guest))

    for spec in a.domu:
        name, k, i, mem, cpus, args = spec.split(",", 5)
        mods = []
        pdts = ["/dts-v1/;", "", "/ {", "    #address-cells = <2>;",
                "    #size-cells = <2>;", "", "    passthrough {",
                '        compatible = "simple-bus";', "        ranges;",
                "        #address-cells = <2>;", "        #size-cells = <2>;"]
        for host, guest in ranges.get(name, []):
            size, nid, compat = spmem[host]
            pdts += ["", "        sp-mem@%x {" % guest,
                     "            compatible = %s;"
                     % ", ".join(dts_str(c) for c in compat),
                     "            reg = %s;" % reg2(guest, size)]
            if nid is not None:
                pdts.append("            numa-node-id = <%d>;" % nid)
            pdts += ["            xen,reg = <0x%x 0x%x 0x%x 0x%x 0x%x 0x%x>;"
                     % (host >> 32, host & 0xffffffff, size >> 32,
                        size & 0xffffffff, guest >> 32, guest & 0xffffffff),
                     "            xen,force-assign-without-iommu;",
                     "        };"]
        pdts += ["    };", "};", ""]
        pdts_path = os.path.join(a.out, name + ".dts")
        pdtb_path = os.path.join(a.out, name + ".dtb")
        with open(pdts_path, "w") as f:
            f.write("\n".join(pdts))
        subprocess.run(["dtc", "-q", "-I", "dts", "-O", "dtb", "-o",
                        pdtb_path, pdts_path], check=True)
        ka, ks = place(k)
        mods.append('        module@%x {\n'
                    '            compatible = "multiboot,kernel", "multiboot,module";\n'
                    '            reg = %s;\n            bootargs = %s;\n        };'
                    % (ka, reg2(ka, ks), dts_str(args)))
        if i:
            ia, isz = place(i)
            mods.append('        module@%x {\n'
                        '            compatible = "multiboot,ramdisk", "multiboot,module";\n'
                        '            reg = %s;\n        };' % (ia, reg2(ia, isz)))
        if ranges.get(name):
            da, ds = place(pdtb_path)
            mods.append('        module@%x {\n'
                        '            compatible = "multiboot,device-tree", "multiboot,module";\n'
                        '            reg = %s;\n        };' % (da, reg2(da, ds)))
        chosen.append('    %s {\n        compatible = "xen,domain";\n'
                      '        #address-cells = <2>;\n        #size-cells = <2>;\n'
                      '        memory = <0x0 0x%x>;\n        cpus = <%d>;\n'
                      '        vpl011;\n%s\n    };'
                      % (name, int(mem) * 1024, int(cpus), "\n".join(mods)))
    unknown = set(ranges) - {s.split(",", 1)[0] for s in a.domu}
    if unknown:
        die("ranges for unknown domains: " + ", ".join(sorted(unknown)))

    for path, at, size in blobs:
        for h, (s, _, _) in spmem.items():
            if overlap(at, size, h, s):
                die("%s [0x%x, size 0x%x] would overlap the sp-mem range "
                    "[0x%x, size 0x%x]: use another --load-base"
                    % (path, at, size, h, s))
        if not any(b <= at and at + size <= b + s for b, s in ram):
            die("%s [0x%x, size 0x%x] is not inside RAM: use another "
                "--load-base" % (path, at, size))

    host_dts = os.path.join(a.out, "host.dts")
    host_dtb = os.path.join(a.out, "host.dtb")
    r = subprocess.run(["dtc", "-q", "-I", "dtb", "-O", "dts", base],
                       capture_output=True, text=True, check=True)
    extra = ["", "&{/chosen} {", "\n".join(chosen), "};"]
    if a.keep_out != "none":
        prop = {"passthrough": "xen,passthrough;",
                "disabled": 'status = "disabled";',
                "both": 'xen,passthrough;\n    status = "disabled";'}[a.keep_out]
        for v in ranges.values():
            for host, _ in v:
                extra += ["", "&{/reserved-memory/sp-mem@%x} {" % host,
                          "    %s" % prop, "};"]
    with open(host_dts, "w") as f:
        f.write(r.stdout + "\n".join(extra) + "\n")
    subprocess.run(["dtc", "-q", "-I", "dts", "-O", "dtb", "-o", host_dtb,
                    host_dts], check=True)

    args = ["-dtb", host_dtb]
    for path, at, _ in blobs:
        args += ["-device", "loader,file=%s,addr=0x%x,force-raw=on"
                 % (path, at)]
    with open(os.path.join(a.out, "qemu-args"), "w") as f:
        f.write("\n".join(args) + "\n")
    for path, at, size in blobs:
        print("blob 0x%x-0x%x %s" % (at, at + size - 1, path))
    print("host tree: %s; QEMU options: %s/qemu-args" % (host_dtb, a.out))


if __name__ == "__main__":
    main()
