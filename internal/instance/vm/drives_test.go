package vm

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDrivesReadOnlyAndEncrypted boots with a read-only raw disk (vda) and
// a LUKS-encrypted qcow2 (vdb, passphrase passed as Drive.Secret); the
// guest reads vda and writes a file to vdb, which the host then reads
// back through RawView + Ext4 with the secret.
func TestDrivesReadOnlyAndEncrypted(t *testing.T) {
	kernel, mods := requireQEMU(t)
	requireTool(t, "mkfs.ext4", "debugfs", "qemu-img", "truncate")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	if err := os.MkdirAll(filepath.Join(tree, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tree, "etc", "marker"), []byte("from-vda\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ro := filepath.Join(dir, "ro.raw")
	run(t, "", "truncate", "-s", "16M", ro)
	run(t, "", "mkfs.ext4", "-q", "-F", "-d", tree, ro)
	plain := filepath.Join(dir, "rw.raw")
	run(t, "", "truncate", "-s", "16M", plain)
	run(t, "", "mkfs.ext4", "-q", "-F", plain)
	secret := []byte("vm-drive-secret")
	enc := filepath.Join(dir, "rw.qcow2")
	if err := Convert(ctx, plain, "raw", enc, "qcow2", ConvertOptions{Encrypt: secret, EncryptIterTime: 100 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	roSum := mustRead(t, ro)

	initrd := tinyInitrd(t, mods, []string{"virtio_pci", "virtio_blk"}, `
mkdir -p /a /b
mount -t ext4 -o ro /dev/vda /a && cat /a/etc/marker
if echo x > /a/try 2>/dev/null; then echo VDA-WRITABLE; fi
mount -t ext4 /dev/vdb /b && echo from-guest > /b/out && umount /b && echo VDB-WRITTEN`)
	m := startTiny(t, Config{
		Name: "drives", Kernel: kernel, Initrd: initrd,
		Drives: []Drive{{Path: ro, Format: "raw", ReadOnly: true}, {Path: enc, Format: "qcow2", Secret: secret}},
	})
	if err := m.Wait(ctx); err != nil {
		t.Fatalf("Wait: %v; console:\n%s", err, m.ConsoleTail(30))
	}
	console := m.ConsoleTail(30)
	if !strings.Contains(console, "from-vda") || !strings.Contains(console, "VDB-WRITTEN") || strings.Contains(console, "VDA-WRITABLE") {
		t.Fatalf("console:\n%s", console)
	}
	if secrets, _ := filepath.Glob(filepath.Join(m.RunDir(), ".secret-*")); len(secrets) != 0 {
		t.Errorf("secret files left in the run dir: %v", secrets)
	}
	if string(mustRead(t, ro)) != string(roSum) {
		t.Error("read-only drive changed")
	}
	raw, closeView, err := RawView(ctx, enc, "qcow2", secret, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer closeView()
	got, err := OpenExt4(raw, 0).ReadFile(ctx, "/out")
	if err != nil || string(got) != "from-guest\n" {
		t.Fatalf("/out on vdb = %q, %v", got, err)
	}
}
