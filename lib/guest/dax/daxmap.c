/*
 * daxmap: map a device-dax character device (/dev/daxX.Y) and exchange
 * patterns with the host through it (the uefi-sp and linux-sp scenarios).
 *
 * usage: daxmap DEV SIZE READ_OFF READ_SEED WRITE_OFF WRITE_SEED LEN
 *
 * Maps all SIZE bytes of DEV shared, checks that the LEN bytes at READ_OFF
 * hold the pattern of READ_SEED (the host wrote them into the backend file
 * before boot), writes the pattern of WRITE_SEED over the LEN bytes at
 * WRITE_OFF and reads them back.  Pattern: 64-bit words, word i
 * = SEED + i * 0x9e3779b97f4a7c15 (little-endian, as the host computes).
 * Prints one line per step, starting with "daxmap DEV", and exits 0 only
 * when every step succeeded.  Numbers may be decimal or 0x-prefixed.
 *
 * Built with aarch64-linux-gnu-gcc -static: busybox has no way to mmap a
 * character device.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define STEP 0x9e3779b97f4a7c15ULL

static uint64_t num(const char *s)
{
    return strtoull(s, NULL, 0);
}

int main(int argc, char **argv)
{
    const char *dev;
    uint64_t size, roff, rseed, woff, wseed, len, i, n;
    volatile uint64_t *p;
    void *map;
    int fd, bad = 0;

    if (argc != 8) {
        fprintf(stderr, "usage: daxmap DEV SIZE READ_OFF READ_SEED "
                "WRITE_OFF WRITE_SEED LEN\n");
        return 2;
    }
    dev = argv[1];
    size = num(argv[2]);
    roff = num(argv[3]);
    rseed = num(argv[4]);
    woff = num(argv[5]);
    wseed = num(argv[6]);
    len = num(argv[7]);
    n = len / 8;
    if (roff % 8 || woff % 8 || len % 8 || !n ||
        roff + len > size || woff + len > size) {
        printf("daxmap %s error bad offsets or length\n", dev);
        return 2;
    }

    fd = open(dev, O_RDWR);
    if (fd < 0) {
        printf("daxmap %s error open: %s\n", dev, strerror(errno));
        return 1;
    }
    map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        printf("daxmap %s error mmap %llu bytes: %s\n", dev,
               (unsigned long long)size, strerror(errno));
        return 1;
    }
    printf("daxmap %s map 0x%llx ok\n", dev, (unsigned long long)size);

    p = (volatile uint64_t *)((char *)map + roff);
    for (i = 0; i < n; i++) {
        uint64_t want = rseed + i * STEP;
        if (p[i] != want) {
            printf("daxmap %s read 0x%llx mismatch at +0x%llx: "
                   "0x%016llx, want 0x%016llx\n", dev,
                   (unsigned long long)roff, (unsigned long long)(i * 8),
                   (unsigned long long)p[i], (unsigned long long)want);
            bad = 1;
            break;
        }
    }
    if (!bad) {
        printf("daxmap %s read 0x%llx 0x%llx ok first 0x%016llx\n", dev,
               (unsigned long long)roff, (unsigned long long)len,
               (unsigned long long)p[0]);
    }

    p = (volatile uint64_t *)((char *)map + woff);
    for (i = 0; i < n; i++) {
        p[i] = wseed + i * STEP;
    }
    /*
     * No msync: stores through a device-dax mapping go straight to the
     * memory (there is no page cache to write back), and device-dax has
     * no fsync, so msync(MS_SYNC) only fails with EINVAL.  The guest's
     * memory is the backend file's shared mapping on the host.
     */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    for (i = 0; i < n; i++) {
        if (p[i] != wseed + i * STEP) {
            printf("daxmap %s write 0x%llx readback mismatch at +0x%llx\n",
                   dev, (unsigned long long)woff,
                   (unsigned long long)(i * 8));
            bad = 1;
            break;
        }
    }
    if (i == n) {
        printf("daxmap %s write 0x%llx 0x%llx ok first 0x%016llx\n", dev,
               (unsigned long long)woff, (unsigned long long)len,
               (unsigned long long)p[0]);
    }
    munmap(map, size);
    close(fd);
    return bad;
}
