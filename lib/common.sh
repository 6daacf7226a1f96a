# Shared settings for the sp-mem-arm scripts.  Sourced, not run.
# shellcheck shell=bash

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The folder of the script that sources this (a scenario's own files).
HERE=$(cd "$(dirname "$0")" && pwd)

QEMU_DEB_VERSION=1:10.2.2+ds-1
DSC=qemu_10.2.2+ds-1.dsc
ORIG=qemu_10.2.2+ds.orig.tar.xz
DEBTAR=qemu_10.2.2+ds-1.debian.tar.xz
DSC_SHA256=f1684b3aa5ec500c3389d346c6501dee45041ea91656c6556d4da9023b7987dd
ORIG_SHA256=be05230fe47a6937cd29f28f562932c8125f9c93c2a82c625198f7a4aa601dfb
DEB_SHA256=ddf75aceab4f8f77374f3cb34fc97b41514895aeb293ce8b2ddd5e072bb0f5c0

CACHE=${SPMEM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sp-mem-arm}
SRC_CACHE=$CACHE/src

# The unpacked, patched QEMU tree and the build directory (both ignored);
# SPMEM_BUILD names another build directory (tools/sanitize.sh).
QEMU_SRC=$TOP/qemu-src
BUILD=${SPMEM_BUILD:-$TOP/build}
QEMU=$BUILD/qemu-system-aarch64

# The unpacked tree without our changes, and its build (for comparisons).
# One folder, pristine/, beside qemu-src/ and build/.  ccache cannot
# serve one build from the other (measured: 8 hits in 1701): every file
# includes the generated config-poison.h, which the series' Kconfig
# symbol CONFIG_SP_MEM changes, and headers expand __FILE__ to the
# tree's absolute path.
PRISTINE_SRC=$TOP/pristine/qemu-src
PRISTINE_BUILD=$TOP/pristine/build

# Our files, laid over the upstream tree at the same paths.
OVERLAY_DIRS="hw include tests docs"

export CCACHE_DIR=${CCACHE_DIR:-$CACHE/ccache}
# Let clones at other paths (CI) hit the same cache entries.  Always this
# tree's top: a value inherited from another tree's script (bench/build.sh
# builds a clone) would leave this tree's paths absolute, and every
# compilation a miss.
export CCACHE_BASEDIR=$TOP
export CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}

# build_lock: hold, until the calling script exits, the lock that lets one
# QEMU build run at a time on this machine (2 cores) and keeps builds from
# reading qemu-src/ while prepare.sh rewrites it.
# A script that its caller already holds the lock for goes on.
build_lock() {
    [ -z "${SPMEM_BUILD_LOCKED:-}" ] || return 0
    mkdir -p "$CACHE"
    exec 8>"$CACHE/build.lock"
    if ! flock -n 8; then
        echo "$(basename "$(dirname "$0")")/$(basename "$0"): waiting for another build to finish ($CACHE/build.lock)"
        flock 8
    fi
    export SPMEM_BUILD_LOCKED=1
}

# qemu_tree: what every QEMU build starts from: the Debian packages the
# project needs (scripts/deps.sh), the pinned source (scripts/fetch.sh)
# and qemu-src/ as the series and our files make it (scripts/prepare.sh).
qemu_tree() {
    bash "$TOP/scripts/deps.sh" && bash "$TOP/scripts/fetch.sh" &&
        bash "$TOP/scripts/prepare.sh"
}

# configure_qemu SRC BUILD [OPTION...]: configure once, for arm virt and
# the tests only; OPTIONs go to configure as well.
configure_qemu() {
    local src=$1 build=$2 opts
    shift 2
    # --enable-werror, explicitly: QEMU's configure turns -Werror on by
    # itself only in a git checkout, which qemu-src/ is (prepare.sh) and
    # pristine/qemu-src/ is not.  The same compiler command lines on
    # both builds are what lets ccache serve one from the other.
    opts=(--python=/usr/bin/python3
          --cc="ccache gcc" --cxx="ccache g++"
          --target-list=aarch64-softmmu
          --without-default-features
          --enable-fdt=system --enable-werror
          --disable-docs --disable-user --disable-tools
          --disable-install-blobs "$@")
    # Configured once, and again (in place) when the options change.
    if [ -f "$build/build.ninja" ] &&
       [ "$(cat "$build/.sp-mem-configure" 2>/dev/null)" = "${opts[*]}" ]; then
        return 0
    fi
    echo "configure: $src -> $build"
    mkdir -p "$build"
    (cd "$build" && "$src/configure" "${opts[@]}") > "$build/configure.log" 2>&1 ||
        { tail -30 "$build/configure.log" >&2; rm -f "$build/build.ninja"; return 1; }
    echo "${opts[*]}" > "$build/.sp-mem-configure"
}
QEMU_PRISTINE=$PRISTINE_BUILD/qemu-system-aarch64

# link_roms BUILD: the option ROMs missing from the +ds source, from
# Debian's packages, where BUILD's emulator looks for them.
link_roms() {
    local datadir=$1/qemu-bundle/usr/local/share/qemu f
    mkdir -p "$datadir"
    for f in /usr/lib/ipxe/qemu/efi-*.rom /usr/share/qemu/npcm7xx_bootrom.bin \
             /usr/share/seabios/vgabios-*.bin; do
        [ -e "$datadir/${f##*/}" ] || ln -s "$f" "$datadir/"
    done
}

# link_firmware BUILD: option ROMs, and Debian's AAVMF where
# bios-tables-test expects QEMU's EDK2 build (scripts/build.sh and
# scripts/build-pristine.sh call it after every build).
link_firmware() {
    link_roms "$1"
    ln -sf /usr/share/AAVMF/AAVMF_CODE.fd "$1/pc-bios/edk2-aarch64-code.fd"
    ln -sf /usr/share/AAVMF/AAVMF_VARS.fd "$1/pc-bios/edk2-arm-vars.fd"
}

# For the test scripts: one "ok"/"FAIL" line per check, counted; finish
# prints "$TEST_NAME: N passed, N failed" and exits, non-zero on failure.
# TEST_NAME is the scenario's name: the name of its folder under
# scenarios/, the key scripts/check.py reads the result line by.
TEST_NAME=${TEST_NAME:-$(basename "$HERE")}
pass=0 fail=0 skipped=0
ok()  { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
# skip: a check that could not be made, with the reason; never a pass.
skip() { skipped=$((skipped + 1)); echo "SKIP $*"; }
finish() {
    if [ "$skipped" = 0 ]; then
        echo "$TEST_NAME: $pass passed, $fail failed"
    else
        echo "$TEST_NAME: $pass passed, $fail failed, $skipped skipped"
    fi
    [ "$fail" = 0 ]
    exit
}

# The device-tree binding that QEMU's sp-mem nodes follow is the Linux
# one, Documentation/devicetree/bindings/reserved-memory/special-purpose.yaml,
# a new file of our Linux series (linux/0003; its home is the kernel).
# binding_extract writes it into BINDINGS, the dt-schema search path of
# the dt_ functions below; its "$ref: reserved-memory.yaml" is one of
# dt-schema's own schemas.
BINDING_FILE=reserved-memory/special-purpose.yaml
BINDINGS=$BUILD/bindings

# binding_extract: BINDINGS/BINDING_FILE from the patch of linux/ that
# creates it (the "+" lines of its "new file mode" hunk), rewritten only
# when it changes.  On failure, a message on stderr.
binding_extract() {
    local out=$BINDINGS/$BINDING_FILE path=Documentation/devicetree/bindings/$BINDING_FILE patch
    patch=$(grep -l -x "diff --git a/$path b/$path" "$TOP"/linux/[0-9]*.patch | head -1)
    if [ -z "$patch" ]; then
        echo "binding_extract: no patch in linux/ adds $path" >&2
        return 1
    fi
    mkdir -p "${out%/*}" || return 1
    awk -v p="$path" '
        $0 == "diff --git a/" p " b/" p { want = 1; next }
        want && /^diff --git / { exit }
        want && /^new file mode / { new = 1 }
        want && new && /^@@ / { body = 1; next }
        body && /^\+/ { print substr($0, 2) }
        ' "$patch" > "$out.new"
    if [ ! -s "$out.new" ]; then
        echo "binding_extract: ${patch#"$TOP"/} has no new file $path" >&2
        rm -f "$out.new"
        return 1
    fi
    if cmp -s "$out.new" "$out"; then rm -f "$out.new"; else mv "$out.new" "$out"; fi
}

# dt_schema OUT: the binding (binding_extract), with dt-schema's own
# schemas, processed into the schema file OUT (dt-mk-schema -j) that
# dt-validate reads; dt-mk-schema's messages go to OUT.log.  Puts the
# dt-schema of dt_tools first in PATH, so that the caller's dt-validate
# reads OUT.  On failure, one "bad" with the messages.
dt_schema() {
    dt_tools > "$1.log" 2>&1 && binding_extract 2>> "$1.log" &&
        dt-mk-schema -j -o "$1" "$BINDINGS" >> "$1.log" 2>&1 && return 0
    bad "dt-mk-schema: $(cat "$1.log")"
    return 1
}

# dt_matched SCHEMA DTB: how many /reserved-memory/sp-mem@ nodes of DTB
# the schema file SCHEMA matches on the binding
# (reserved-memory/special-purpose.yaml#): dt-validate picks the schema
# of a node by its compatible strings, and this asks dt-schema's
# validator the same (dt-validate of this dt-schema has no -M).
dt_matched() {
    dt-python - "$1" "$2" <<'PYEOF'
import sys
import dtschema
v = dtschema.DTValidator([sys.argv[1]])
with open(sys.argv[2], "rb") as f:
    trees = v.decode_dtb(f.read())
n = 0
for root in trees:
    for name, node in root.get("reserved-memory", {}).items():
        if not (isinstance(node, dict) and name.startswith("sp-mem@")):
            continue
        for c in node.get("compatible", []):
            if c in v.compat_map:
                n += v.schemas[v.compat_map[c]]["$id"].endswith(
                    "reserved-memory/special-purpose.yaml#")
                break
print(n)
PYEOF
}

# debian_uri: the Debian archive the machine's own apt configuration
# uses (so that whatever mirror the machine is set up for is used).
debian_uri() {
    local f uri=
    for f in /etc/apt/sources.list.d/debian.sources; do
        [ -r "$f" ] && uri=$(awk '/^URIs:/ {print $2; exit}' "$f")
    done
    if [ -z "$uri" ] && [ -r /etc/apt/sources.list ]; then
        uri=$(awk '$1 == "deb" && $0 ~ /bookworm/ {
                     for (i = 2; i <= NF; i++) if ($i ~ /:\/\//) {print $i; exit}
                   }' /etc/apt/sources.list)
    fi
    [ -n "$uri" ] || { echo "no Debian archive URI found in apt sources" >&2; return 1; }
    echo "$uri"
}

# apt_private ARG...: apt-get with a private state under $CACHE/apt: its
# own sources list, package lists and package cache, for what the
# machine's bookworm lists do not have: arm64 binaries of trixie,
# trixie-backports and sid (Xen 4.20, Linux 7.x) and the source index of
# sid (the pool directories of the source packages we build).  The
# machine's apt configuration is neither read for sources nor changed.
# The lists are fetched on first use; apt_private_refresh fetches them
# again (a package a stale list does not know).
APT_PRIVATE=$CACHE/apt
apt_private() {
    if [ ! -d "$APT_PRIVATE/lists" ] || [ -z "$(ls "$APT_PRIVATE/lists" 2>/dev/null)" ]; then
        apt_private_refresh || return 1
    fi
    _apt_private "$@"
}
_apt_private() { _apt_state "$APT_PRIVATE" "$@"; }
# _apt_state DIR ARG...: apt-get with the private state in DIR.
_apt_state() {
    local dir=$1
    shift
    apt-get -q -o Dir::Etc::SourceList="$dir/sources.list" \
        -o Dir::Etc::SourceParts="$dir/sources.list.d" \
        -o Dir::State::Lists="$dir/lists" \
        -o Dir::Cache="$dir/cache" \
        -o Acquire::Languages=none -o APT::Sandbox::User=root "$@"
}
apt_private_refresh() {
    local uri
    uri=$(debian_uri) || return 1
    mkdir -p "$APT_PRIVATE/lists/partial" "$APT_PRIVATE/cache/archives/partial" \
             "$APT_PRIVATE/sources.list.d"
    cat > "$APT_PRIVATE/sources.list" <<EOT
deb [arch=arm64] $uri trixie main
deb [arch=arm64] $uri trixie-backports main
deb [arch=arm64] $uri sid main
deb-src $uri sid main
EOT
    echo "apt_private: fetching the trixie, trixie-backports and sid lists into $APT_PRIVATE" >&2
    _apt_private update >/dev/null
}

# apt_host ARG...: the same for packages of the machine's own
# architecture, with a second private state under $CACHE/apt-host whose
# lists are trixie's (dt_tools).
APT_HOST=$CACHE/apt-host
apt_host() {
    compgen -G "$APT_HOST/lists/*_Packages*" >/dev/null || apt_host_refresh || return 1
    _apt_state "$APT_HOST" "$@"
}
apt_host_refresh() {
    local uri arch
    uri=$(debian_uri) && arch=$(dpkg --print-architecture) || return 1
    mkdir -p "$APT_HOST/lists/partial" "$APT_HOST/cache/archives/partial" \
             "$APT_HOST/sources.list.d"
    echo "deb [arch=$arch] $uri trixie main" > "$APT_HOST/sources.list"
    echo "apt_host: fetching the trixie lists ($arch) into $APT_HOST" >&2
    _apt_state "$APT_HOST" update >/dev/null
}

# dt_tools: dt-schema's commands (dt-doc-validate, dt-mk-schema,
# dt-validate, dt-extract-example...) first in PATH, from a dt-schema
# newer than bookworm's 2022.08: the kernel's dt_binding_check wants
# >= 2023.9, and the special-purpose binding's "$ref: reserved-memory.yaml"
# is one of dt-schema's own schemas only since then.  It is sid's
# (DTSCHEMA_SID, Architecture: all, through apt_private): trixie-backports'
# 2025.08 crashes (KeyError in check_duplicate_property_types) on the
# bindings of Linux 7.2.8.  It needs jsonschema >= 4.18, whose rpds-py is
# a compiled module that Debian builds for its own Python only (3.13 in
# trixie), not for bookworm's 3.11; so the commands run on trixie's
# Python 3.13 and C library (through trixie's dynamic loader), with
# trixie's packages (DTSCHEMA_TRIXIE, through apt_host), all unpacked
# into $DTSCHEMA, nothing installed.  Also dt-python: that Python, with
# dtschema importable.  Messages on stderr.
DTSCHEMA=$CACHE/dt-schema
DTSCHEMA_SID="dt-schema"
DTSCHEMA_TRIXIE="python3-jsonschema python3-jsonschema-specifications
 python3-referencing python3-rpds-py python3-attr python3-ruamel.yaml
 python3-ruamel.yaml.clib python3-rfc3987 python3-libfdt libfdt1
 python3.13-minimal libpython3.13-minimal libpython3.13-stdlib
 libc6 libexpat1 zlib1g"
dt_tools() {
    local debs
    debs=$(_dt_tools_debs 2>/dev/null)
    if [ -z "$debs" ] || [ "$(cat "$DTSCHEMA/root/.debs" 2>/dev/null)" != "$debs" ] ||
       [ ! -x "$DTSCHEMA/bin/dt-validate" ]; then
        _dt_tools_unpack || return 1
    fi
    case ":$PATH:" in
        *":$DTSCHEMA/bin:"*) ;;
        *) export PATH="$DTSCHEMA/bin:$PATH" ;;
    esac
}
_dt_tools_debs() {   # the newest cached .deb of each package, or fail
    local p f
    for p in $DTSCHEMA_SID $DTSCHEMA_TRIXIE; do
        f=$(compgen -G "$DTSCHEMA/debs/${p}_*.deb" | sort -V | tail -1)
        [ -n "$f" ] || return 1
        echo "${f##*/}"
    done
}
_dt_tools_unpack() {
    local root=$DTSCHEMA/root bin=$DTSCHEMA/bin f ld
    mkdir -p "$DTSCHEMA/debs" || return 1
    if ! _dt_tools_debs >/dev/null; then
        echo "dt_tools: downloading dt-schema (sid) and Python 3.13 (trixie) into $DTSCHEMA/debs" >&2
        # A stale package list (a package replaced by a point release) is
        # refreshed once.
        # shellcheck disable=SC2086
        (cd "$DTSCHEMA/debs" &&
             { apt_private download -qq $DTSCHEMA_SID ||
               { apt_private_refresh && apt_private download -qq $DTSCHEMA_SID; }; } &&
             { apt_host download -qq $DTSCHEMA_TRIXIE ||
               { apt_host_refresh && apt_host download -qq $DTSCHEMA_TRIXIE; }; }) 2>&1 |
            grep -v 'unsandboxed as root' >&2
        _dt_tools_debs >/dev/null || { echo "dt_tools: download failed" >&2; return 1; }
    fi
    rm -rf "$root" "$bin" && mkdir -p "$root" "$bin" || return 1
    for f in $(_dt_tools_debs); do
        dpkg-deb -x "$DTSCHEMA/debs/$f" "$root" || return 1
    done
    ld=$(compgen -G "$root/usr/lib/*/ld-linux*.so.[0-9]" | head -1)
    if [ -z "$ld" ] || [ ! -x "$root/usr/bin/python3.13" ]; then
        echo "dt_tools: no dynamic loader or python3.13 in $root" >&2
        return 1
    fi
    # dt-python ARG...: python3.13 with its own library path, home and
    # packages only (nothing of the machine's Python).
    cat > "$bin/dt-python" <<EOT
#!/bin/sh
# trixie's Python 3.13 with dt-schema (lib/common.sh dt_tools)
exec env -u PYTHONPATH PYTHONHOME="$root/usr" PYTHONNOUSERSITE=1 \\
    PYTHONDONTWRITEBYTECODE=1 "$ld" --library-path "${ld%/*}" \\
    "$root/usr/bin/python3.13" "\$@"
EOT
    chmod +x "$bin/dt-python"
    for f in "$root"/usr/bin/dt-* "$root"/usr/bin/dtb2py; do
        [ -f "$f" ] || continue
        printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$bin/dt-python" "$f" > "$bin/${f##*/}"
        chmod +x "$bin/${f##*/}"
    done
    if ! "$bin/dt-validate" --version >/dev/null; then
        echo "dt_tools: dt-validate does not run" >&2
        return 1
    fi
    _dt_tools_debs > "$root/.debs"
}

# fetch_source WHO PKG FILE:SHA256...: each FILE of Debian's source
# package PKG in $SRC_CACHE with its sha256.  Missing ones are fetched by
# name from the pool directory of PKG (the directory of the .dsc that
# "apt-get source --print-uris" names in the private apt state above,
# whatever version the index has), and apt's own helper checks the hash.
# WHO starts the messages.
fetch_source() {
    local who=$1 pkg=$2 f pool
    shift 2
    mkdir -p "$SRC_CACHE"
    for f in "$@"; do
        source_ok "$f" && continue
        if [ -z "${pool:-}" ]; then
            pool=$(apt_private source --print-uris "$pkg" 2>/dev/null |
                   sed -n "s|^'\(.*\)/${pkg}_[^/]*\.dsc'.*|\1|p" | head -1)
            if [ -z "$pool" ]; then
                echo "$who: no $pkg source package in the private apt state $APT_PRIVATE" >&2
                return 1
            fi
        fi
        echo "$who: downloading ${f%:*} into $SRC_CACHE"
        /usr/lib/apt/apt-helper download-file "$pool/${f%:*}" \
            "$SRC_CACHE/${f%:*}" "SHA256:${f#*:}" 2>&1 |
            grep -v 'unsandboxed as root' || true
        if ! source_ok "$f"; then
            echo "$who: download failed or checksum mismatch for ${f%:*}" >&2
            [ ! -f "$SRC_CACHE/${f%:*}" ] || sha256sum "$SRC_CACHE/${f%:*}" >&2
            return 1
        fi
    done
}
source_ok() { echo "${1#*:}  $SRC_CACHE/${1%:*}" | sha256sum --quiet -c - >/dev/null 2>&1; }

# For the guest scripts: arm64 (or Architecture: all) packages from Debian,
# cached as .debs in $GUEST_DEBS and unpacked (not installed) into the
# build directory.
GUEST_DEBS=$CACHE/guest

# guest_deb PKG: path of the cached .deb of PKG:arm64 (or of PKG when it is
# Architecture: all), downloaded if missing.
guest_deb() {
    local pkg=$1 f sudo=
    [ "$(id -u)" = 0 ] || sudo=sudo
    f=$(compgen -G "$GUEST_DEBS/${pkg}_*_*.deb" | sort -V | tail -1)
    if [ -z "$f" ]; then
        echo "downloading $pkg to $GUEST_DEBS" >&2
        mkdir -p "$GUEST_DEBS"
        # A stale package list is refreshed once.
        (cd "$GUEST_DEBS" && { download_deb "$pkg" ||
             { $sudo apt-get update -q >/dev/null && download_deb "$pkg"; }; }) 2>&1 |
            grep -v 'unsandboxed as root' >&2
        f=$(compgen -G "$GUEST_DEBS/${pkg}_*_*.deb" | sort -V | tail -1)
    fi
    [ -n "$f" ] && echo "$f"
}
# From bookworm (the machine's lists) first; a package bookworm does not
# have comes from the private apt state (trixie, trixie-backports, sid).
download_deb() {
    apt-get download -qq "$1:arm64" 2>/dev/null || apt-get download -qq "$1" 2>/dev/null ||
        apt_private download -qq "$1:arm64" 2>/dev/null || apt_private download -qq "$1"
}

# guest_begin: what every guest script needs first: the packages of
# scripts/deps.sh, the patched emulator, and a temporary directory $tmp
# that is removed when the script exits.
guest_begin() {
    bash "$TOP/scripts/deps.sh" || { bad "scripts/deps.sh"; finish; }
    [ -x "$QEMU" ] || { bad "no $QEMU: run scripts/build.sh first"; finish; }
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
}

# guest_unpack PKG DIR: unpack the .deb of PKG into DIR, once.
guest_unpack() {
    local pkg=$1 dir=$2 f
    [ -f "$dir/.pkg" ] && [ "$(cat "$dir/.pkg")" = "$pkg" ] && return 0
    f=$(guest_deb "$pkg") || return 1
    rm -rf "$dir" && mkdir -p "$dir" && dpkg-deb -x "$f" "$dir" &&
        echo "$pkg" > "$dir/.pkg"
}

# format_series OUTDIR N COVER GIT...: "git format-patch" of the last N
# commits with a cover letter into OUTDIR (emptied first), the cover
# letter's subject and blurb taken from the file COVER (first line:
# subject; the rest: blurb).  GIT is the git command line of the tree
# (git -C DIR ...).  For the export.sh of each upstream series.
format_series() {
    local outdir=$1 n=$2 cover=$3
    shift 3
    rm -rf "$outdir" && mkdir -p "$outdir"
    "$@" format-patch -q --cover-letter -o "$(cd "$outdir" && pwd)" "-$n" || return 1
    python3 - "$outdir/0000-cover-letter.patch" "$cover" <<'PYEOF'
import sys
path, cover = sys.argv[1], open(sys.argv[2]).read().split("\n", 1)
text = open(path).read()
text = text.replace("*** SUBJECT HERE ***", cover[0].strip())
text = text.replace("*** BLURB HERE ***", cover[1].strip())
open(path, "w").write(text)
PYEOF
}

# series_tree WHO BASE TARBALL MESSAGE EXCLUDE GIT...: the git tree BASE
# of an upstream TARBALL, made once (one commit MESSAGE; EXCLUDE, unless
# empty, a path kept out of git), checked out clean on a branch sp-mem
# reset to that commit, for "git am" of a series.  GIT is the git
# command line of the tree (git -C BASE ...).  For the export.sh of each
# upstream series.
series_tree() {
    local who=$1 base=$2 tarball=$3 msg=$4 exclude=$5
    shift 5
    if [ ! -f "$base/.git/sp-mem-base" ]; then
        echo "$who: making the git tree $base (once)"
        rm -rf "$base" && mkdir -p "$base"
        tar -xf "$tarball" -C "$base" --strip-components=1 --no-same-owner &&
            "$@" init -q || return 1
        [ -z "$exclude" ] || echo "$exclude" >> "$base/.git/info/exclude"
        "$@" add -A && "$@" commit -q -m "$msg" &&
            "$@" rev-parse HEAD > "$base/.git/sp-mem-base" || return 1
    fi
    "$@" am --abort >/dev/null 2>&1 || true
    "$@" checkout -q -f -B sp-mem "$(cat "$base/.git/sp-mem-base")" &&
        "$@" clean -q -fd
}
