#!/usr/bin/env python3
"""Decode an ACPI SRAT and check the sp-mem Memory Affinity entries.

usage: srat.py SRAT.bin ID:BASE:SIZE:NODE [ID:BASE:SIZE:NODE ...]

Prints every structure, then one line per device:
  "ok ID ..." or "bad ID ..."  (the caller turns them into ok/FAIL lines).
Memory Affinity (type 1, 40 bytes): proximity domain u32 at +2, base u64
at +8, length u64 at +16, flags u32 at +28 (bit 0 Enabled, 1 Hot
Pluggable, 2 Non-Volatile, 3 Specific-Purpose, ACPI 6.6).
"""
import struct
import sys

FLAGS = {0: "Enabled", 1: "HotPluggable", 2: "NonVolatile", 3: "SpecificPurpose"}
TYPES = {0: "Processor Local APIC/SAPIC Affinity", 1: "Memory Affinity",
         2: "Processor Local x2APIC Affinity", 3: "GICC Affinity",
         4: "GIC ITS Affinity", 5: "Generic Initiator Affinity"}


def main():
    data = open(sys.argv[1], "rb").read()
    sig, length, rev = struct.unpack_from("<4sIB", data, 0)
    print("SRAT signature=%s length=%d revision=%d (file %d bytes)"
          % (sig.decode(errors="replace"), length, rev, len(data)))
    if sig != b"SRAT" or length != len(data):
        print("bad header: not an SRAT or wrong length")
        return
    mem = []
    off = 48  # 36-byte header, table revision u32, 8 reserved bytes
    while off + 2 <= length:
        typ, slen = data[off], data[off + 1]
        if slen < 2 or off + slen > length:
            print("  +0x%03x type %d: bad length %d" % (off, typ, slen))
            break
        if typ == 1 and slen >= 40:
            pxm, = struct.unpack_from("<I", data, off + 2)
            base, size = struct.unpack_from("<QQ", data, off + 8)
            flags, = struct.unpack_from("<I", data, off + 28)
            names = "+".join(n for b, n in FLAGS.items() if flags & (1 << b)) or "none"
            print("  +0x%03x Memory Affinity: node %d base 0x%x length 0x%x flags 0x%x (%s)"
                  % (off, pxm, base, size, flags, names))
            mem.append((pxm, base, size, flags))
        else:
            print("  +0x%03x %s (type %d, %d bytes)"
                  % (off, TYPES.get(typ, "unknown"), typ, slen))
        off += slen
    for spec in sys.argv[2:]:
        name, base, size, node = spec.split(":")
        base, size, node = int(base, 0), int(size, 0), int(node, 0)
        exact = [m for m in mem if m[1] == base and m[2] == size]
        others = [m for m in mem if m not in exact and m[2] and
                  m[1] < base + size and base < m[1] + m[2]]
        good = [m for m in exact if m[0] == node and m[3] == 0x9]
        desc = "node %d base 0x%x length 0x%x flags 0x9" % (node, base, size)
        if len(exact) == 1 and good and not others:
            print("ok %s: exactly one Memory Affinity entry, %s; no other memory entry overlaps"
                  % (name, desc))
        else:
            print("bad %s: want one entry %s and no overlap; exact matches %s; overlapping others %s"
                  % (name, desc,
                     ["node %d flags 0x%x" % (m[0], m[3]) for m in exact],
                     ["node %d 0x%x+0x%x flags 0x%x" % m for m in others]))


if __name__ == "__main__":
    main()
