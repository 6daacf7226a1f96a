# U-Boot boot script of the dax guest (dax_uboot in lib/guest.sh:
# scenarios linux-sp and layouts), for booti and for bootefi.  Compiled
# with "mkimage -A arm64 -T script"; U-Boot's distro boot finds it as
# /boot.scr on the virtio disk.  dax_uboot writes /boot.env next to it:
# spmem_boot=booti or bootefi and bootargs, imported here, so that one
# script serves every boot.  The device tree is U-Boot's control tree:
# the one QEMU built, with the sp-mem /reserved-memory nodes in it.
# bootefi hands it over with a UEFI memory map in which U-Boot made each
# no-map reserved-memory child EfiReservedMemoryType; the EFI stub loads
# the initramfs itself ("initrd=/initrd" in bootargs) from this file
# system.
load ${devtype} ${devnum}:${distro_bootpart} ${pxefile_addr_r} /boot.env
env import -t ${pxefile_addr_r} ${filesize}
echo spmem-uboot-script start ${spmem_boot} ${devtype} ${devnum}:${distro_bootpart} fdt ${fdtcontroladdr}
load ${devtype} ${devnum}:${distro_bootpart} ${kernel_addr_r} /Image
if test "${spmem_boot}" = booti; then
    load ${devtype} ${devnum}:${distro_bootpart} ${ramdisk_addr_r} /initrd
    echo spmem-uboot-script booti ${kernel_addr_r} ${ramdisk_addr_r}:${filesize} ${fdtcontroladdr}
    booti ${kernel_addr_r} ${ramdisk_addr_r}:${filesize} ${fdtcontroladdr}
else
    echo spmem-uboot-script bootefi ${kernel_addr_r} ${fdtcontroladdr}
    bootefi ${kernel_addr_r} ${fdtcontroladdr}
fi
echo spmem-uboot-script ${spmem_boot} failed
