#!/usr/bin/env bash
# Build QEMU's manuals from the patched tree the way QEMU does: a build
# directory of its own (build-docs/) configured with --enable-docs and
# --enable-werror, so that Sphinx runs with -W (every warning is an
# error) and kernel-doc with -Werror; then "ninja html man", the HTML
# manual (with the sp-mem page and the QMP reference, qemu-qmp-ref) and
# the man pages.  Sphinx and its theme are Debian's python3-sphinx and
# python3-sphinx-rtd-theme (scripts/deps.sh); QEMU 10.2 needs Sphinx
# >= 3.4.3 and sphinx_rtd_theme >= 0.5 (pythondeps.toml).
#
# -W stops Sphinx at the first warning.  When the build fails, Sphinx is
# run again, with the same arguments plus --keep-going and into a
# scratch directory, to list every warning.
#
# Output: build-docs/docs/manual/index.html (the sp-mem page is
# system/devices/sp-mem.html), man pages in build-docs/docs/.
# Prints "docs: N warnings"; last line: "docs: 1 passed, 0 failed", or
# "docs: 0 passed, 1 failed" and a non-zero exit on any warning.
set -euo pipefail
# shellcheck source=lib/common.sh
. "$(dirname "$0")/../../lib/common.sh"

DOCS_BUILD=$TOP/build-docs
LOG=$DOCS_BUILD/docs.log

build_lock
qemu_tree || exit 1

start=$SECONDS
configure_qemu "$QEMU_SRC" "$DOCS_BUILD" --enable-docs --enable-werror
if ! grep -q '^build docs/docs.stamp' "$DOCS_BUILD/build.ninja"; then
    echo "docs: meson found no usable Sphinx (see $DOCS_BUILD/meson-logs/meson-log.txt)" >&2
    echo "docs: 1 warnings"
    exit 1
fi

# warnings FILE: the Sphinx and kernel-doc warnings and errors in FILE,
# each once (Sphinx may repeat one).
warnings() {
    grep -E 'WARNING|ERROR|CRITICAL|SEVERE|[Ww]arning: ' "$1" |
        grep -v '^Warning, treated as error:$' | awk '!seen[$0]++' || true
}

status=0
ninja -C "$DOCS_BUILD" html man > "$LOG" 2>&1 || status=$?
found=$(warnings "$LOG")

if [ "$status" != 0 ]; then
    # The Sphinx command of the HTML manual, as ninja runs it.
    cmd=$(ninja -C "$DOCS_BUILD" -t commands docs/docs.stamp | tail -1)
    scratch=$(mktemp -d)
    trap 'rm -rf "$scratch"' EXIT
    # Same sources and options; the output, doctrees and depfile go to
    # the scratch directory, and Sphinx reports every warning.
    cmd=$(sed -e "s| -Ddepfile=[^ ]*| -Ddepfile=$scratch/docs.d|" \
              -e "s| -Ddepfile_stamp=[^ ]*| -Ddepfile_stamp=$scratch/docs.stamp|" \
              -e "s| -d [^ ]*| -d $scratch/doctrees|" \
              -e "s| [^ ]*/docs/manual\$| $scratch/html|" \
              -e "s| -b html | --keep-going -b html |" <<< "$cmd")
    (cd "$DOCS_BUILD" && eval "$cmd") > "$DOCS_BUILD/docs-all.log" 2>&1 || true
    all=$(warnings "$DOCS_BUILD/docs-all.log")
    [ -z "$all" ] || found=$all
    [ -n "$found" ] || found="ninja failed with status $status (see $LOG)"
fi

if [ -n "$found" ]; then
    echo "$found"
else
    # What this project adds must be in the output.
    html=$DOCS_BUILD/docs/manual
    grep -q 'Specific-purpose memory (sp-mem)' "$html/system/devices/sp-mem.html" 2>/dev/null ||
        found="no sp-mem page in $html/system/devices/sp-mem.html"
    grep -q 'devices/sp-mem.html' "$html/system/device-emulation.html" 2>/dev/null ||
        found+="${found:+; }the device emulation index does not link the sp-mem page"
    grep -q 'SpMemDeviceInfo' "$html/interop/qemu-qmp-ref.html" 2>/dev/null ||
        found+="${found:+; }no SpMemDeviceInfo in the QMP reference"
    [ -z "$found" ] || echo "docs: $found"
fi

n=$(grep -c . <<< "$found" || true)
echo "docs: built in $((SECONDS - start)) s ($(grep -c '^\[' "$LOG" || true) ninja steps); log: ${LOG#"$TOP"/}"
echo "docs: $n warnings"
if [ "$n" = 0 ]; then
    echo "docs: 1 passed, 0 failed"
else
    echo "docs: 0 passed, 1 failed"
    exit 1
fi
