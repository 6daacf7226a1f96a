# U-Boot boot script of the sp-mem U-Boot guest (scenarios/uboot).
# Compiled with "mkimage -A arm64 -T script -C none"; U-Boot's distro boot
# finds it as /boot.scr on the virtio disk and sources it with devtype,
# devnum and distro_bootpart set.  The kernel and initramfs sit next to it
# on the same file system.  The device tree handed to booti is U-Boot's
# own control tree: the one QEMU built, with the sp-mem /reserved-memory
# nodes in it.
echo spmem-uboot-script start ${devtype} ${devnum}:${distro_bootpart} fdt ${fdtcontroladdr}
# nokaslr: as in linux-dt, so that MemTotal compares exactly.
setenv bootargs "console=ttyAMA0 panic=-1 quiet nokaslr rdinit=/init"
load ${devtype} ${devnum}:${distro_bootpart} ${kernel_addr_r} /Image
load ${devtype} ${devnum}:${distro_bootpart} ${ramdisk_addr_r} /initrd
echo spmem-uboot-script booti ${kernel_addr_r} ${ramdisk_addr_r}:${filesize} ${fdtcontroladdr}
booti ${kernel_addr_r} ${ramdisk_addr_r}:${filesize} ${fdtcontroladdr}
echo spmem-uboot-script booti failed
