#!/usr/bin/env bash
# The kernel's own check of our device-tree binding: "make
# dt_binding_check DT_SCHEMA_FILES=special-purpose.yaml" in the Linux
# tree TREE (a tree with linux/*.patch applied, as linux/export.sh makes
# it).  That is dt-doc-validate of the binding against the kernel's and
# dt-schema's meta-schemas, yamllint with the kernel's .yamllint,
# dt-check-style, and the examples extracted, compiled with the kernel's
# dtc and validated with dt-validate against every binding of the tree.
#
# usage: linux/dt-binding-check.sh TREE
#
# Prints make's output.  Fails if make fails, if yamllint is missing, if
# the examples were not checked, or on any line of make's output that
# names the binding other than make's own progress lines ("DTEX ...",
# "DTC [C] ..."): every warning and error about it.  Warnings about other
# bindings of the tree are printed and not counted.  Last line:
# "dt_binding_check: special-purpose.yaml clean".
#
# Tools: the kernel wants dt-schema >= 2023.9 (DT_SCHEMA_MIN_VERSION in
# Documentation/devicetree/bindings/Makefile) and bookworm has 2022.08,
# so dt-schema is trixie-backports' with trixie's Python 3.13 (lib/common.sh
# dt_tools, unpacked into ~/.cache/sp-mem-arm/dt-schema); that Python also
# runs the tree's dt-check-style (PYTHON3).  yamllint and libyaml-dev
# (for the tree's dtc) are Debian's, from scripts/deps.sh.  The build is
# out of tree (O=), in $CACHE/linux/dt-binding-check-NAME: TREE stays
# clean, and a second run rebuilds only what changed.
set -uo pipefail
# shellcheck source=lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

FILE=special-purpose.yaml
REL=Documentation/devicetree/bindings/reserved-memory/$FILE

if [ $# != 1 ] || [ ! -d "$1" ]; then echo "usage: $0 LINUX-TREE" >&2; exit 2; fi
tree=$(cd "$1" && pwd)
fail() { echo "dt_binding_check: $*" >&2; exit 1; }

[ -f "$tree/$REL" ] || fail "$tree has no $REL (is the series applied?)"
bash "$TOP/scripts/deps.sh" >&2 || fail "scripts/deps.sh failed"
command -v yamllint >/dev/null || fail "no yamllint (scripts/deps.sh installs it)"
dt_tools || fail "no dt-schema (lib/common.sh dt_tools)"

out=$CACHE/linux/dt-binding-check-${tree##*/}
log=$out/dt_binding_check.log
mkdir -p "$out" || fail "cannot make $out"
echo "dt_binding_check: $tree, dt-schema $(dt-doc-validate --version), $(yamllint --version), build in $out"

make -C "$tree" O="$out" -j"$(nproc)" PYTHON3="$DTSCHEMA/bin/dt-python" \
    dt_binding_check DT_SCHEMA_FILES="$FILE" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}

[ "$rc" = 0 ] || fail "make failed (exit $rc)"
# kbuild's progress lines ("  DTEX    FILE", "  DTC [C] FILE") name the
# binding without saying anything about it.
progress='^  [A-Z]+( \[[A-Z]\])? +[^ ]+$'
if grep -q "python package 'yamllint' not installed" "$log"; then
    fail "make did not find yamllint"
fi
if ! grep -Eq "^  DTC( \[C\])? .*/${FILE%.yaml}\.example\.dtb$" "$log"; then
    fail "the examples of $FILE were not built and validated"
fi
problems=$(grep -F "${FILE%.yaml}" "$log" | grep -Ev "$progress")
if [ -n "$problems" ]; then
    printf '%s\n' "$problems" >&2
    fail "$FILE has $(printf '%s\n' "$problems" | wc -l) line(s) of warnings or errors (above)"
fi
echo "dt_binding_check: $FILE clean"
