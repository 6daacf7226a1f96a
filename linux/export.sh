#!/usr/bin/env bash
# Export our Linux series for the kernel's lists: apply linux/*.patch
# (linux/series order) with "git am" on a git tree of upstream 7.2.8 (the
# orig tarball linux/build.sh builds from, pinned in linux/pins.sh), run
# the tree's scripts/checkpatch.pl --strict on every patch and its
# dt_binding_check on the binding (linux/dt-binding-check.sh), and write
# "git format-patch" output with the cover letter of linux/cover-letter
# into OUTDIR, Cc'd to the recipients the tree's get_maintainer.pl names.
# With --walk, also build the tree at every step (the base and each
# patch): arm64 with linux/config-7.2 and with linux/config-7.2-dt, and
# riscv with linux/config-walk-riscv (patch 1 touches riscv), Image and
# modules, incrementally; and boot each step's arm64 Image with QEMU's
# device tree (linux/walk-boot.sh), so that each patch is shown to build
# on its own and no step makes that boot worse.
#
# usage: linux/export.sh [--walk] [OUTDIR]      (default OUTDIR: series-linux)
#
# Fails unless every patch applies, every Fixes: tag names a commit of
# KNOWN_COMMITS (the tree has no history for checkpatch to look it up
# in), checkpatch reports no error, warning or check on any patch,
# dt_binding_check is clean and, with --walk, every step builds and
# boots.  Last line: "linux-export: N patches ..., checkpatch --strict
# clean[, every patch builds ... and boots]".
#
# Choices: the base tree is a git repository made once from the tarball in
# $CACHE/linux/export-VERSION (a commit "Linux VERSION"; Debian's orig
# tarball is upstream minus files Debian cannot ship, none of which the
# series touches); branch sp-mem is reset to it on each run.  The walk
# builds out of tree in $CACHE/linux/walk-NAME under the build lock.
set -euo pipefail
# shellcheck source=lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
HERE=$TOP/linux
# shellcheck source=linux/pins.sh
. "$HERE/pins.sh"
linux_pin 7.2

walk=0
[ "${1:-}" = --walk ] && { walk=1; shift; }
outdir=${1:-$TOP/series-linux}
mapfile -t series < <(sed -e '/^#/d' -e '/^$/d' "$HERE/series")
n=${#series[@]}
base=$CACHE/linux/export-$LINUX_VERSION
GIT=(git -C "$base" -c user.name="${GIT_AUTHOR_NAME:-$(git -C "$TOP" config user.name)}"
     -c user.email="${GIT_AUTHOR_EMAIL:-$(git -C "$TOP" config user.email)}")

fetch_source linux-export linux "$LINUX_ORIG:$LINUX_ORIG_SHA256"
series_tree linux-export "$base" "$SRC_CACHE/$LINUX_ORIG" "Linux $LINUX_VERSION" "" "${GIT[@]}"
for p in "${series[@]}"; do
    "${GIT[@]}" am -q "$HERE/$p" || { echo "linux-export: $p does not apply" >&2; exit 1; }
done

# The tree has no history, so checkpatch cannot look up the commits a
# patch names (UNKNOWN_COMMIT_ID); every Fixes: tag must name one of
# these instead, each checked against the public upstream history.
KNOWN_COMMITS=(
    # bc62f5b308cbdedf29132fe96e9d591e526527e1, Linux 7.0
    'bc62f5b308cb ("dax/hmem, e820, resource: Defer Soft Reserved insertion until hmem is ready")'
)
bad=0
while read -r fix; do
    known=0
    for k in "${KNOWN_COMMITS[@]}"; do
        [ "$fix" = "Fixes: $k" ] && known=1
    done
    if [ $known = 1 ]; then
        echo "Fixes: tag names a known upstream commit: ${fix#Fixes: }"
    else
        echo "linux-export: '$fix' names no commit of KNOWN_COMMITS" >&2
        bad=1
    fi
done < <(cd "$HERE" && grep -h '^Fixes: ' "${series[@]}")

# checkpatch --strict on each commit, as the patch it becomes.
for i in $(seq "$n" -1 1); do
    c=$("${GIT[@]}" rev-parse "HEAD~$((i - 1))")
    out=$("${GIT[@]}" format-patch -1 --stdout "$c" |
          (cd "$base" && perl scripts/checkpatch.pl --strict --no-tree \
              --ignore UNKNOWN_COMMIT_ID - 2>&1)) || true
    if grep -q '^total: 0 errors, 0 warnings, 0 checks' <<< "$out"; then
        echo "checkpatch --strict: $("${GIT[@]}" log -1 --format=%s "$c"): clean"
    else
        echo "checkpatch --strict: $("${GIT[@]}" log -1 --format=%s "$c"):"
        sed 's/^/    /' <<< "$out"
        bad=1
    fi
done
[ $bad = 0 ] || { echo "linux-export: checkpatch is not clean" >&2; exit 1; }

# The binding, as the kernel's dt_binding_check sees it.
bash "$HERE/dt-binding-check.sh" "$base" ||
    { echo "linux-export: dt_binding_check is not clean" >&2; exit 1; }
built=
if [ $walk = 1 ]; then
    # Every patch builds for arm64 (the guests' configuration and the
    # embedded one) and for riscv (patch 1 touches riscv's EFI runtime
    # code), incrementally, out of tree; the arm64 Image of each step
    # boots with QEMU's device tree (linux/walk-boot.sh), so that no step
    # makes a boot that worked before worse.
    command -v riscv64-linux-gnu-gcc >/dev/null || bash "$TOP/scripts/deps.sh"
    build_lock
    WALKS=(
        "arm64 aarch64-linux-gnu- $HERE/config-7.2"
        "arm64-dt aarch64-linux-gnu- $HERE/config-7.2-dt"
        "riscv riscv64-linux-gnu- $HERE/config-walk-riscv"
    )
    prev_dax=none
    for i in $(seq "$n" -1 0); do
        "${GIT[@]}" checkout -q "sp-mem~$i"
        subject=$("${GIT[@]}" log -1 --format=%s)
        for w in "${WALKS[@]}"; do
            read -r name cross fragment <<< "$w"
            arch=${name%-dt}
            obj=$CACHE/linux/walk-$name
            mkdir -p "$obj"
            t0=$(date +%s)
            if make -C "$base" O="$obj" ARCH="$arch" CROSS_COMPILE="$cross" \
                    KCONFIG_ALLCONFIG="$fragment" allnoconfig > "$obj/walk.log" 2>&1 &&
               make -C "$base" O="$obj" ARCH="$arch" CROSS_COMPILE="$cross" \
                    -j"$(nproc)" Image modules >> "$obj/walk.log" 2>&1; then
                echo "walk $name: $subject: builds ($(( $(date +%s) - t0 ))s)"
            else
                tail -30 "$obj/walk.log" >&2
                echo "linux-export: $name does not build at $subject" >&2
                exit 1
            fi
        done
        if ! line=$(bash "$HERE/walk-boot.sh" \
                "$CACHE/linux/walk-arm64/arch/arm64/boot/Image" "$subject"); then
            echo "linux-export: the device-tree boot failed at $subject" >&2
            exit 1
        fi
        echo "$line"
        # No step may lose a dax device, or a node of one, that the step
        # before had.
        dax=$(sed -n 's/.* dax=\([^ ]*\) .*/\1/p' <<< "$line")
        for prev in ${prev_dax//,/ }; do
            [ "$prev" = none ] && continue
            case ",$dax," in
                *",$prev,"*|*",${prev%@*}@"[0-9]*) ;;
                *) echo "linux-export: $subject lost dax device $prev" >&2; exit 1 ;;
            esac
            if [ "${prev#*@}" != -1 ] && [[ ",$dax," != *",$prev,"* ]]; then
                echo "linux-export: $subject lost the node of dax device $prev" >&2
                exit 1
            fi
        done
        prev_dax=$dax
    done
    "${GIT[@]}" checkout -q sp-mem
    built=", every patch builds (arm64, arm64 device-tree only, riscv) and boots"
fi

# Recipients, as the tree's get_maintainer.pl gives them for the whole
# series (no git history here, so maintainers and lists only).
gm=$(mktemp -d)
"${GIT[@]}" format-patch -q -o "$gm" "-$n"
mapfile -t recipients < <(cd "$base" && perl scripts/get_maintainer.pl --no-git \
    --no-git-fallback --no-rolestats "$gm"/*.patch)
rm -rf "$gm"
[ ${#recipients[@]} -gt 0 ] ||
    { echo "linux-export: get_maintainer.pl named no recipient" >&2; exit 1; }
echo "get_maintainer.pl: ${#recipients[@]} recipients:"
printf '    %s\n' "${recipients[@]}"
cc=()
for r in "${recipients[@]}"; do cc+=(-c "format.cc=$r"); done
format_series "$outdir" "$n" "$HERE/cover-letter" "${GIT[@]}" "${cc[@]}"
echo "linux-export: $n patches in ${outdir#"$TOP"/}, checkpatch --strict clean$built"
