package registry

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/distribution/v3/registry/storage/driver/factory"
	"github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
	"golang.org/x/sys/unix"
)

// driverName is the storage driver the registry runs on: distribution's
// filesystem driver with group commit. The filesystem driver makes each
// file it writes durable on its own (an fsync of the file and one of its
// directory, some 40 per image push, a few milliseconds each on our
// disks); this one writes without syncing, and the registry makes the file
// system durable (syncfs(2)) before it acknowledges a change: a finished
// blob upload, a manifest or tag, a delete (Registry.ServeHTTP). What a
// client was told is stored is as durable as before; a crash can lose only
// upload sessions still in progress, which clients restart.
const driverName = "goldsmith-filesystem"

func init() {
	factory.Register(driverName, groupCommitFactory{})
}

type groupCommitFactory struct{}

func (groupCommitFactory) Create(ctx context.Context, parameters map[string]any) (storagedriver.StorageDriver, error) {
	root, ok := parameters["rootdirectory"].(string)
	if !ok || root == "" {
		return nil, errors.New("registry: the storage driver has no root directory")
	}
	inner, err := filesystem.FromParameters(map[string]any{"rootdirectory": root})
	if err != nil {
		return nil, err
	}
	return &groupCommitDriver{StorageDriver: inner, root: root}, nil
}

// groupCommitDriver is the filesystem driver with its two writing methods,
// PutContent and Writer, replaced by ones that do not sync. Its Name is
// still the filesystem driver's.
type groupCommitDriver struct {
	storagedriver.StorageDriver
	root string
}

// path checks a driver path and returns it on disk.
func (d *groupCommitDriver) path(p string) (string, error) {
	if !storagedriver.PathRegexp.MatchString(p) {
		return "", storagedriver.InvalidPathError{Path: p, DriverName: d.Name()}
	}
	return filepath.Join(d.root, filepath.FromSlash(p)), nil
}

// PutContent replaces the file at p atomically: a temporary file in the
// same directory renamed over it.
func (d *groupCommitDriver) PutContent(ctx context.Context, p string, content []byte) error {
	full, err := d.path(p)
	if err != nil {
		return err
	}
	dir := filepath.Dir(full)
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(full)+".*.tmp")
	if err != nil {
		return err
	}
	_, err = f.Write(content)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), full)
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return err
	}
	return nil
}

// Writer opens the file at p for writing, truncated or (appendTo) at its
// end.
func (d *groupCommitDriver) Writer(ctx context.Context, p string, appendTo bool) (storagedriver.FileWriter, error) {
	full, err := d.path(p)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(full), 0o777); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(full, os.O_WRONLY|os.O_CREATE, 0o666)
	if err != nil {
		return nil, err
	}
	var size int64
	if appendTo {
		size, err = f.Seek(0, io.SeekEnd)
	} else {
		err = f.Truncate(0)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return &fileWriter{f: f, bw: bufio.NewWriter(f), size: size}, nil
}

// fileWriter is a storagedriver.FileWriter that leaves syncing to the
// registry's commit points.
type fileWriter struct {
	f                            *os.File
	bw                           *bufio.Writer
	size                         int64
	closed, committed, cancelled bool
}

func (w *fileWriter) usable() error {
	switch {
	case w.closed:
		return errors.New("already closed")
	case w.committed:
		return errors.New("already committed")
	case w.cancelled:
		return errors.New("already cancelled")
	}
	return nil
}

func (w *fileWriter) Write(p []byte) (int, error) {
	if err := w.usable(); err != nil {
		return 0, err
	}
	n, err := w.bw.Write(p)
	w.size += int64(n)
	return n, err
}

func (w *fileWriter) Size() int64 { return w.size }

func (w *fileWriter) Close() error {
	if w.closed {
		return errors.New("already closed")
	}
	w.closed = true
	err := w.bw.Flush()
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	return err
}

func (w *fileWriter) Cancel(ctx context.Context) error {
	if w.closed {
		return errors.New("already closed")
	}
	w.cancelled, w.closed = true, true
	_ = w.f.Close()
	return os.Remove(w.f.Name())
}

func (w *fileWriter) Commit(ctx context.Context) error {
	if err := w.usable(); err != nil {
		return err
	}
	if err := w.bw.Flush(); err != nil {
		return err
	}
	w.committed = true
	return nil
}

// syncStorage makes everything written to the file system holding dir
// durable (syncfs(2)): what any request wrote before the call, so that
// concurrent requests need no ordering among them.
func syncStorage(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("registry: sync storage: %w", err)
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return fmt.Errorf("registry: sync storage: %w", err)
	}
	return nil
}
