#!/usr/bin/env bash
# Export our EDK2 series against upstream EDK2 for review: applies
# edk2/*.patch (series order) with "git am" on top of the
# current HEAD of an upstream EDK2 clone, checks them with EDK2's own
# BaseTools/Scripts/PatchCheck.py, and writes "git format-patch" output
# with a cover letter into OUTDIR.
#
# usage: edk2/export.sh EDK2_CLONE OUTDIR
#   EDK2_CLONE  an upstream EDK2 git clone, checked out where the series
#               should go (tested on tag edk2-stable202502; it applies
#               there unchanged, Debian's own patches touch other files)
#   OUTDIR      created; receives 0000-cover-letter.patch and the series
#
# Choices: the series stays on a branch "sp-mem" of the clone so that it
# can be rebased and pushed for a pull request as well; nothing is sent.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ $# = 2 ] || { sed -n '2,12p' "$0" >&2; exit 2; }
clone=$1 outdir=$2
mapfile -t series < <(sed -e '/^#/d' -e '/^$/d' "$here/series")
git -C "$clone" checkout -b sp-mem
for p in "${series[@]}"; do
    git -C "$clone" am --keep-cr "$here/$p"
done
(cd "$clone" && python3 BaseTools/Scripts/PatchCheck.py "-${#series[@]}")
mkdir -p "$outdir"
git -C "$clone" format-patch --cover-letter -o "$(cd "$outdir" && pwd)" \
    --subject-prefix=PATCH "-${#series[@]}"
echo "export: $outdir (edit the cover letter's subject and blurb)"
