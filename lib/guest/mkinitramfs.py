#!/usr/bin/env python3
"""Write a gzip-compressed newc initramfs without a cpio binary.

usage: mkinitramfs.py OUT.cpio.gz BUSYBOX INIT [DEST=SRC ...]

Contents: /bin/busybox, /init (our script), empty /proc /sys /dev /tmp,
and the /dev/console node the kernel opens before it runs /init.  Each
DEST=SRC adds the file SRC (its content, with its permission bits) as
/DEST, and the directories above it.
Timestamps and owners are 0, so the same inputs give the same archive.
"""
import gzip
import os
import sys

S_IFDIR, S_IFREG, S_IFCHR = 0o040000, 0o100000, 0o020000


def entry(ino, name, mode, data=b"", rdev=(0, 0)):
    name_b = name.encode() + b"\0"
    fields = (ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1],
              len(name_b), 0)
    hdr = b"070701" + b"".join(b"%08X" % f for f in fields)
    out = hdr + name_b
    out += b"\0" * (-len(out) % 4)
    out += data
    out += b"\0" * (-len(out) % 4)
    return out


def main():
    out, busybox, init = sys.argv[1:4]
    with open(busybox, "rb") as f:
        bb = f.read()
    with open(init, "rb") as f:
        init_data = f.read()
    items = [
        ("bin", S_IFDIR | 0o755, b"", (0, 0)),
        ("dev", S_IFDIR | 0o755, b"", (0, 0)),
        ("dev/console", S_IFCHR | 0o600, b"", (5, 1)),
        ("proc", S_IFDIR | 0o755, b"", (0, 0)),
        ("sys", S_IFDIR | 0o755, b"", (0, 0)),
        ("tmp", S_IFDIR | 0o1777, b"", (0, 0)),
        ("bin/busybox", S_IFREG | 0o755, bb, (0, 0)),
        ("init", S_IFREG | 0o755, init_data, (0, 0)),
    ]
    dirs = {n for n, *_ in items}
    for spec in sys.argv[4:]:
        dest, src = spec.split("=", 1)
        dest = dest.strip("/")
        parts = dest.split("/")
        for i in range(1, len(parts)):
            d = "/".join(parts[:i])
            if d not in dirs:
                dirs.add(d)
                items.append((d, S_IFDIR | 0o755, b"", (0, 0)))
        with open(src, "rb") as f:
            data = f.read()
        items.append((dest, S_IFREG | (os.stat(src).st_mode & 0o777), data, (0, 0)))
    blob = b"".join(entry(i + 1, n, m, d, r) for i, (n, m, d, r) in enumerate(items))
    blob += entry(0, "TRAILER!!!", 0)
    blob += b"\0" * (-len(blob) % 512)
    with open(out, "wb") as raw, \
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as f:
        f.write(blob)


if __name__ == "__main__":
    main()
