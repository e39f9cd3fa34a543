// Package vm runs QEMU build instances (direct kernel boot with a
// goldsmith-made initramfs, agent on the second serial port) and wraps the
// disk-image tools goldsmith needs: qemu-img (inspect, overlay, convert,
// resize), a partition-table parser, and read-only ext4 access through
// debugfs, so no image is ever mounted on the host.
package vm
