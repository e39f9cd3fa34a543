// Package container is goldsmith's daemonless build sandbox: an overlayfs
// (an upper directory over read-only lower directories) used as the root of
// short-lived runc containers, and the conversion between upper directories
// and OCI image layers.
//
// A Sandbox is opened over the unpacked layers of a base image. Each Run is
// one `runc run` of one process whose root is the overlay's merged view, so
// changes persist in the upper directory from one Run to the next.
// WriteLayer turns the upper directory into an uncompressed OCI layer tar
// (whiteouts and opaque directories included) and Unpack applies such a
// layer onto a directory. Cleanup removes what a crashed server left.
//
// runc keeps its state under StateRoot, separate from the host's runc, and
// every container id starts with "goldsmith-". The overlay is mounted in the
// caller's mount namespace (goldsmith runs as root); Close and Cleanup
// unmount it. The sandbox needs Linux, root, runc and overlayfs.
package container
