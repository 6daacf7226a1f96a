#!/usr/bin/env bash
# Our libvirt series (libvirt/series on upstream 11.3.0, built and cached
# by libvirt/build.sh) and libvirt's own unit tests of what it touches:
# qemuxmlconftest, qemuxmlactivetest, qemucapabilitiestest,
# domaincapstest, qemumonitorjsontest, qemuhotplugtest,
# genericxml2xmltest, virschematest and the QMP schema check.
# Last line: "libvirt-unit: N passed, N failed, N skipped".
exec bash "$(dirname "$0")/../../libvirt/build.sh" --test
