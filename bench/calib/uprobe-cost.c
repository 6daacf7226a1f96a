/*
 * Cost of one uprobe + uretprobe pair on this kernel, for the firmware
 * table benchmark: time N calls of an empty function, run once without
 * and once with perf probes on it (bench/bench.py fwtables calibrates).
 * Prints the nanoseconds per call.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

volatile unsigned long sink;

__attribute__((noinline)) void probed(unsigned long i)
{
    sink += i;
}

int main(int argc, char **argv)
{
    unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 0) : 100000;
    struct timespec a, b;

    probed(0);                  /* the first hit sets the probe up */
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (unsigned long i = 0; i < n; i++) {
        probed(i);
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("%.1f\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n);
    return 0;
}
