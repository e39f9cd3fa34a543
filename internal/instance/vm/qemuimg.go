package vm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// ErrISO is returned by Inspect for ISO 9660 images, which are not disks.
var ErrISO = errors.New("ISO 9660 images are not supported as disk images")

// ImageInfo is what qemu-img info reports about a disk image.
type ImageInfo struct {
	Format      string // qcow2 | raw | vmdk | vpc | vhdx ...
	VirtualSize int64
	ActualSize  int64
	BackingFile string
	Encrypted   bool
}

// ConvertOptions tune Convert.
type ConvertOptions struct {
	Subformat string // vmdk/vpc subformat (e.g. "fixed" for VHD, "streamOptimized" for VMDK)
	ForceSize bool   // vpc force_size=on (keeps the exact virtual size)
	SrcSecret []byte // the source is a LUKS qcow2 with this passphrase
	Encrypt   []byte // the output qcow2 is LUKS-encrypted with this passphrase
	// EncryptIterTime is the LUKS key-derivation time (0 = qemu's 2 s
	// default; below ~100 ms qemu-img fails with "Unable to get accurate CPU
	// usage"). Every later open of the image pays about this much CPU.
	EncryptIterTime time.Duration
}

// pbkdfFlake is qemu's LUKS PBKDF benchmark failing because the thread
// CPU clock did not advance (coarse accounting on some host kernels, more
// often under load); a new attempt usually succeeds.
const pbkdfFlake = "Unable to get accurate CPU usage"

// qemuImg runs qemu-img and returns stdout, or an error with stderr.
func qemuImg(ctx context.Context, args ...string) ([]byte, error) {
	for attempt := 1; ; attempt++ {
		cmd := exec.CommandContext(ctx, "qemu-img", args...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if err == nil {
			return stdout.Bytes(), nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("qemu-img %s: %w", args[0], ctx.Err())
		}
		msg := strings.TrimSpace(stderr.String())
		if attempt < 8 && strings.Contains(msg, pbkdfFlake) {
			// It fails in bursts on a loaded machine: wait a little longer
			// each time.
			select {
			case <-ctx.Done():
				return nil, fmt.Errorf("qemu-img %s: %w", args[0], ctx.Err())
			case <-time.After(time.Duration(attempt) * 25 * time.Millisecond):
			}
			continue
		}
		return nil, fmt.Errorf("qemu-img %s: %w: %s", args[0], err, msg)
	}
}

// writeSecret stores a passphrase in a fresh 0600 file in dir (or the
// temp dir) for QEMU's --object secret,file=...; the caller removes it.
func writeSecret(dir string, secret []byte) (string, error) {
	f, err := os.CreateTemp(dir, ".secret-*")
	if err != nil {
		return "", fmt.Errorf("creating secret file: %w", err)
	}
	if _, err := f.Write(secret); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", fmt.Errorf("writing secret file: %w", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("writing secret file: %w", err)
	}
	return f.Name(), nil
}

// secretSet turns passphrases into qemu-img --object arguments backed by
// 0600 temp files; remove deletes the files.
type secretSet struct {
	args  []string
	files []string
}

func (s *secretSet) add(id string, secret []byte) error {
	f, err := writeSecret("", secret)
	if err != nil {
		return err
	}
	s.files = append(s.files, f)
	s.args = append(s.args, "--object", "secret,id="+id+",format=raw,file="+qemuOpt(f))
	return nil
}

func (s *secretSet) remove() {
	for _, f := range s.files {
		_ = os.Remove(f)
	}
}

// isISO reports whether path has the ISO 9660 "CD001" signature at byte 32769.
func isISO(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	b := make([]byte, 5)
	if _, err := f.ReadAt(b, 32769); err != nil {
		if errors.Is(err, io.EOF) {
			return false, nil
		}
		return false, err
	}
	return string(b) == "CD001", nil
}

// hasVHDFooter reports whether the last 512 bytes are a VHD footer ("conectix").
func hasVHDFooter(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return false, err
	}
	if !st.Mode().IsRegular() || st.Size() < 512 {
		return false, nil
	}
	b := make([]byte, 8)
	if _, err := f.ReadAt(b, st.Size()-512); err != nil {
		return false, err
	}
	return string(b) == "conectix", nil
}

// Inspect detects an image's format with qemu-img info (a fixed VHD,
// which qemu-img probes as raw, is reported as vpc). ISO images are
// refused with ErrISO; unreadable files give an error naming the path.
func Inspect(ctx context.Context, path string) (ImageInfo, error) {
	iso, err := isISO(path)
	if err != nil {
		return ImageInfo{}, fmt.Errorf("inspecting %s: %w", path, err)
	}
	if iso {
		return ImageInfo{}, fmt.Errorf("inspecting %s: %w", path, ErrISO)
	}
	args := []string{"info", "--output=json", "-U"}
	if vhd, err := hasVHDFooter(path); err != nil {
		return ImageInfo{}, fmt.Errorf("inspecting %s: %w", path, err)
	} else if vhd {
		// qemu-img probes a fixed VHD (a raw disk plus a 512-byte footer) as raw.
		args = append(args, "-f", "vpc")
	}
	out, err := qemuImg(ctx, append(args, path)...)
	if err != nil {
		return ImageInfo{}, fmt.Errorf("inspecting %s: %w", path, err)
	}
	var raw struct {
		Format      string `json:"format"`
		VirtualSize int64  `json:"virtual-size"`
		ActualSize  int64  `json:"actual-size"`
		BackingFile string `json:"backing-filename"`
		Full        string `json:"full-backing-filename"`
		Encrypted   bool   `json:"encrypted"`
	}
	if err := json.Unmarshal(out, &raw); err != nil {
		return ImageInfo{}, fmt.Errorf("inspecting %s: parsing qemu-img info: %w", path, err)
	}
	info := ImageInfo{Format: raw.Format, VirtualSize: raw.VirtualSize, ActualSize: raw.ActualSize, BackingFile: raw.BackingFile, Encrypted: raw.Encrypted}
	if raw.Full != "" {
		info.BackingFile = raw.Full
	}
	return info, nil
}

// CreateOverlay creates a qcow2 at path backed by backing (format
// backingFormat). size 0 keeps the backing image's virtual size. With a
// secret the overlay itself is LUKS-encrypted with that passphrase (an
// encrypted backing file needs an explicit size).
func CreateOverlay(ctx context.Context, backing, backingFormat, path string, size int64, secret []byte) error {
	var s secretSet
	defer s.remove()
	args := []string{"create", "-q", "-f", "qcow2", "-F", backingFormat, "-b", backing}
	opts := ""
	if secret != nil {
		if err := s.add("sec0", secret); err != nil {
			return err
		}
		opts = "encrypt.format=luks,encrypt.key-secret=sec0"
	}
	args = append(args[:1], append(s.args, args[1:]...)...)
	if opts != "" {
		args = append(args, "-o", opts)
	}
	args = append(args, path)
	if size > 0 {
		args = append(args, strconv.FormatInt(size, 10))
	}
	if _, err := qemuImg(ctx, args...); err != nil {
		return fmt.Errorf("creating overlay %s on %s: %w", path, backing, err)
	}
	return nil
}

// imageOpts returns a qemu-img --image-opts spec for an encrypted qcow2.
func imageOpts(path, secretID string) string {
	return "driver=qcow2,encrypt.key-secret=" + secretID + ",file.filename=" + qemuOpt(path)
}

// Convert copies src (format srcFormat) into a new image dst of dstFormat
// using qemu-img convert -W (out-of-order writes).
func Convert(ctx context.Context, src, srcFormat, dst, dstFormat string, o ConvertOptions) error {
	var s secretSet
	defer s.remove()
	args := []string{"convert", "-W", "-O", dstFormat}
	var opts []string
	if o.Subformat != "" {
		opts = append(opts, "subformat="+o.Subformat)
	}
	if o.ForceSize {
		opts = append(opts, "force_size=on")
	}
	if o.Encrypt != nil {
		if dstFormat != "qcow2" {
			return fmt.Errorf("converting %s: encryption needs qcow2 output, not %s", src, dstFormat)
		}
		if err := s.add("dstsec", o.Encrypt); err != nil {
			return err
		}
		opts = append(opts, "encrypt.format=luks", "encrypt.key-secret=dstsec")
		if o.EncryptIterTime > 0 {
			opts = append(opts, "encrypt.iter-time="+strconv.FormatInt(o.EncryptIterTime.Milliseconds(), 10))
		}
	}
	if len(opts) > 0 {
		args = append(args, "-o", strings.Join(opts, ","))
	}
	if o.SrcSecret != nil {
		if srcFormat != "qcow2" {
			return fmt.Errorf("converting %s: a source secret needs a qcow2 source, not %s", src, srcFormat)
		}
		if err := s.add("srcsec", o.SrcSecret); err != nil {
			return err
		}
		args = append(args, "--image-opts")
		args = append(append(args, s.args...), imageOpts(src, "srcsec"), dst)
	} else {
		args = append(append(args, s.args...), "-f", srcFormat, src, dst)
	}
	if _, err := qemuImg(ctx, args...); err != nil {
		_ = os.Remove(dst)
		return fmt.Errorf("converting %s (%s) to %s (%s): %w", src, srcFormat, dst, dstFormat, err)
	}
	return nil
}

// Resize sets an image's virtual size (growing or shrinking; shrinking
// is allowed for raw and qcow2 only when the data fits).
func Resize(ctx context.Context, path, format string, size int64) error {
	args := []string{"resize", "-q", "-f", format}
	info, err := Inspect(ctx, path)
	if err != nil {
		return err
	}
	if size < info.VirtualSize {
		args = append(args, "--shrink")
	}
	args = append(args, path, strconv.FormatInt(size, 10))
	if _, err := qemuImg(ctx, args...); err != nil {
		return fmt.Errorf("resizing %s to %d bytes: %w", path, size, err)
	}
	return nil
}
