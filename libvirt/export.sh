#!/usr/bin/env bash
# Export our libvirt series for libvir-list: apply libvirt/*.patch
# (libvirt/series order) with "git am" on a git tree of upstream 11.3.0
# (the orig tarball libvirt/build.sh builds from, pinned in
# libvirt/pins.sh), run libvirt's own syntax checks on the result
# (build-aux/syntax-check.mk through "meson test --suite syntax-check",
# which needs a git tree), and write "git format-patch" output with the
# cover letter of libvirt/cover-letter into OUTDIR.  With --walk, also
# build the tree at every patch (incrementally, ccache) and run the XML
# and command-line tests there, so that each patch is shown to build and
# pass on its own, as libvirt asks.  With --fix-only, the same for patch 1
# alone, the fix of duplicate NUMA cells without memory, which stands on
# its own and is also posted on its own, with the cover letter of
# libvirt/cover-letter-dupcell.
#
# usage: libvirt/export.sh [--walk] [--fix-only] [OUTDIR]
#        (default OUTDIR: series-libvirt; with --fix-only, series-libvirt/dupcell,
#        which an export of the whole series empties with the rest)
#
# Fails unless every patch applies, carries a Signed-off-by: (libvirt
# takes patches under the Developer Certificate of Origin), the syntax
# checks pass and, with --walk, every step builds.  Last line:
# "libvirt-export: N patches in OUTDIR, syntax-check clean[, every patch builds]".
#
# Choices: the base tree is a git repository made once from the tarball
# in $CACHE/libvirt/export-VERSION (a commit "libvirt VERSION"); branch
# sp-mem is reset to it on each run.  Its build directory
# ($CACHE/libvirt/export-obj) is configured with the options of
# libvirt/build.sh; meson turns the syntax-check suite on because the
# source is a git tree.
set -euo pipefail
# shellcheck source=lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
HERE=$TOP/libvirt
# shellcheck source=libvirt/pins.sh
. "$HERE/pins.sh"

walk=0
fix_only=0
while [ $# -gt 0 ]; do
    case $1 in
        --walk) walk=1; shift ;;
        --fix-only) fix_only=1; shift ;;
        -*) echo "usage: libvirt/export.sh [--walk] [--fix-only] [OUTDIR]" >&2; exit 2 ;;
        *) break ;;
    esac
done
mapfile -t series < <(sed -e '/^#/d' -e '/^$/d' "$HERE/series")
cover=$HERE/cover-letter
outdir=${1:-$TOP/series-libvirt}
if [ $fix_only = 1 ]; then
    # The fix goes first in the series so that it applies on its own.
    fix=0001-conf-numa-Detect-duplicate-cells-without-memory.patch
    if [ "${series[0]}" != "$fix" ]; then
        echo "libvirt-export: --fix-only: $fix is not the first patch of libvirt/series" >&2
        exit 1
    fi
    series=("$fix")
    cover=$HERE/cover-letter-dupcell
    outdir=${1:-$TOP/series-libvirt/dupcell}
fi
n=${#series[@]}
base=$CACHE/libvirt/export-$LIBVIRT_VERSION
obj=$CACHE/libvirt/export-obj
GIT=(git -C "$base" -c user.name="${GIT_AUTHOR_NAME:-$(git -C "$TOP" config user.name)}"
     -c user.email="${GIT_AUTHOR_EMAIL:-$(git -C "$TOP" config user.email)}")

bash "$TOP/scripts/deps.sh"
fetch_source libvirt-export libvirt "$LIBVIRT_ORIG:$LIBVIRT_ORIG_SHA256"
# The base tree leaves subprojects/keycodemapdb out of git: a git
# submodule upstream, so not among the files libvirt's syntax checks list.
[ -f "$base/.git/sp-mem-base" ] || rm -rf "$obj"
series_tree libvirt-export "$base" "$SRC_CACHE/$LIBVIRT_ORIG" "libvirt $LIBVIRT_VERSION" \
    /subprojects/keycodemapdb/ "${GIT[@]}"
bad=0
for p in "${series[@]}"; do
    "${GIT[@]}" am -q "$HERE/$p" || { echo "libvirt-export: $p does not apply" >&2; exit 1; }
    if ! "${GIT[@]}" log -1 --format=%B | grep -q '^Signed-off-by: '; then
        echo "libvirt-export: $p has no Signed-off-by:" >&2
        bad=1
    fi
done

build_lock
mapfile -t options < <(libvirt_meson_options)
if [ ! -f "$obj/build.ninja" ]; then
    rm -rf "$obj"
    meson setup "$obj" "$base" "${options[@]}" > "$CACHE/libvirt/export-setup.log" 2>&1 ||
        { tail -30 "$CACHE/libvirt/export-setup.log" >&2; exit 1; }
fi

built=
# At each step of the walk: the tests of the XML and of the command line.
WALK_TESTS=(qemuxmlconftest qemucapabilitiestest domaincapstest
            genericxml2xmltest virschematest)
if [ $walk = 1 ]; then
    for i in $(seq "$n" -1 0); do
        "${GIT[@]}" checkout -q "sp-mem~$i"
        t0=$(date +%s)
        if ninja -C "$obj" -j"$(nproc)" > "$obj/walk.log" 2>&1 &&
           meson test -C "$obj" --no-rebuild "${WALK_TESTS[@]}" >> "$obj/walk.log" 2>&1; then
            echo "walk: $("${GIT[@]}" log -1 --format=%s): builds, ${WALK_TESTS[*]} pass ($(( $(date +%s) - t0 ))s)"
        else
            grep -A20 FAILED "$obj/walk.log" | head -40 >&2 || tail -30 "$obj/walk.log" >&2
            echo "libvirt-export: the tree does not build or pass ${WALK_TESTS[*]} at $("${GIT[@]}" log -1 --format=%s) (log $obj/walk.log)" >&2
            exit 1
        fi
    done
    "${GIT[@]}" checkout -q sp-mem
    built=", every patch builds"
fi

# po_check compares po/POTFILES with the files holding translatable
# strings, the generated sources of the build directory among them:
# generate those (nothing is compiled for them) when no walk built the
# tree, as on the first run.
mapfile -t generated < <(ninja -C "$obj" -t targets all |
    sed -n 's/^\(src\/[^:]*\.\(c\|h\|policy\.in\)\): CUSTOM_COMMAND$/\1/p')
if ! ninja -C "$obj" -j"$(nproc)" "${generated[@]}" > "$obj/generate.log" 2>&1; then
    tail -30 "$obj/generate.log" >&2
    echo "libvirt-export: generating the sources syntax-check reads failed (log $obj/generate.log)" >&2
    exit 1
fi

# libvirt's syntax checks, on the tree with the patches exported.
if meson test -C "$obj" --suite syntax-check --no-rebuild --print-errorlogs \
        > "$obj/syntax-check.log" 2>&1; then
    grep -E '^(Ok|Fail):' "$obj/syntax-check.log" | tr '\n' ' '
    echo "(syntax-check)"
else
    tail -60 "$obj/syntax-check.log" >&2
    echo "libvirt-export: syntax-check fails (log $obj/syntax-check.log)" >&2
    bad=1
fi
[ $bad = 0 ] || exit 1

format_series "$outdir" "$n" "$cover" "${GIT[@]}"
echo "libvirt-export: $n patches in ${outdir#"$TOP"/}, syntax-check clean$built"
