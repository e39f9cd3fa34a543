package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/goldsmith/goldsmith/internal/api/gen"
	"github.com/goldsmith/goldsmith/internal/artifact/amistore"
	"github.com/goldsmith/goldsmith/internal/instance/vm"
	"github.com/goldsmith/goldsmith/internal/osrelease"
)

// keyImport is the extra key of an imported image's body holding the
// import request (written by the service).
const keyImport = "goldsmithImport"

// importDisk runs the import of a user's disk image (ImportDiskImage):
// PENDING → CREATING, fetch the file, detect its format (qcow2, raw, VMDK,
// VHD; an ISO or an unreadable file fails the import), store it as a
// standalone qcow2 under a new image ID, → AVAILABLE with the image ID in
// outputResources.amis.
func (b *imageBuild) importDisk(bctx, jobCtx context.Context, d *imageDoc) error {
	switch d.status() {
	case gen.ImageStatusPENDING, gen.ImageStatusCREATING:
	default:
		return nil
	}
	_, err := updateImage(bctx, b.e.o.Store, b.arn, []gen.ImageStatus{gen.ImageStatusPENDING, gen.ImageStatusCREATING},
		func(d *imageDoc) error {
			d.State = &gen.ImageState{Status: gen.ImageStatusCREATING}
			return nil
		})
	if errors.Is(err, errStateChanged) {
		return nil
	}
	if err != nil {
		return err
	}
	dir := filepath.Join(b.e.o.ScratchRoot, BuildKey(b.arn))
	b.scratch = dir
	b.cleanup = func(context.Context) error { return os.RemoveAll(dir) }
	amis, osv, err := b.runImport(bctx, d, dir)
	if err != nil {
		return b.finishImport(bctx, jobCtx, nil, "", err)
	}
	return b.finishImport(bctx, jobCtx, amis, osv, nil)
}

func (b *imageBuild) runImport(ctx context.Context, d *imageDoc, dir string) ([]gen.Ami, string, error) {
	var imp struct {
		URI         string `json:"uri"`
		Description string `json:"description"`
	}
	if raw, ok := d.extra[keyImport]; ok {
		if err := json.Unmarshal(raw, &imp); err != nil {
			return nil, "", fmt.Errorf("reading the import request: %w", err)
		}
	}
	if imp.URI == "" {
		return nil, "", errors.New("VM Import/Export tasks (ImportVmImage) cannot be imported: goldsmith has no EC2; use ImportDiskImage with a disk image file")
	}
	svc := b.e.o.VM.Services
	if svc.AMIs == nil || b.e.o.VM.Download == nil {
		return nil, "", errors.New("disk imports are not configured on this server")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, "", fmt.Errorf("import scratch: %w", err)
	}
	src := filepath.Join(dir, "source")
	if p, ok := strings.CutPrefix(imp.URI, "file://"); ok {
		src = p
	} else if err := b.e.o.VM.Download(ctx, imp.URI, src); err != nil {
		return nil, "", fmt.Errorf("fetching %s: %w", imp.URI, err)
	}
	info, err := vm.Inspect(ctx, src)
	if errors.Is(err, vm.ErrISO) {
		return nil, "", fmt.Errorf("%s is an ISO 9660 image, not a disk image: import a disk image (qcow2, raw, VMDK or VHD)", imp.URI)
	}
	if err != nil {
		return nil, "", fmt.Errorf("%s is not a readable disk image: %w", imp.URI, err)
	}
	if info.BackingFile != "" {
		return nil, "", fmt.Errorf("%s has a backing file (%s); import a standalone image", imp.URI, info.BackingFile)
	}
	disk := filepath.Join(dir, "disk.qcow2")
	if err := vm.Convert(ctx, src, info.Format, disk, "qcow2", vm.ConvertOptions{}); err != nil {
		return nil, "", fmt.Errorf("converting %s (%s) to qcow2: %w", imp.URI, info.Format, err)
	}
	osv := d.OsVersion
	if osv == "" {
		if raw, closeRaw, err := vm.RawView(ctx, disk, "qcow2", nil, dir); err == nil {
			if fs, _, _, err := vm.FindRoot(ctx, raw); err == nil {
				if data, err := fs.ReadFile(ctx, "/etc/os-release"); err == nil {
					osv = osrelease.OSVersion(data)
				}
			}
			closeRaw()
		}
	}
	id, err := amistore.NewID()
	if err != nil {
		return nil, "", err
	}
	a := &amistore.AMI{ID: id, Region: b.region, Owner: b.account, Name: d.Name + " " + d.Version,
		Description: imp.Description, VirtualSize: info.VirtualSize, SourceImage: b.arn, OSVersion: osv}
	if err := svc.AMIs.Put(ctx, a, disk, true); err != nil {
		return nil, "", err
	}
	return []gen.Ami{{Region: b.region, Image: id, Name: a.Name, Description: a.Description, AccountId: b.account,
		State: &gen.ImageState{Status: gen.ImageStatusAVAILABLE}}}, osv, nil
}

// finishImport ends an import AVAILABLE or FAILED (CANCELLED when asked),
// unless the server is stopping (the next start runs it again).
func (b *imageBuild) finishImport(bctx, jobCtx context.Context, amis []gen.Ami, osv string, err error) error {
	if err != nil && bctx.Err() != nil && (errors.Is(context.Cause(bctx), errStopping) || jobCtx.Err() != nil) {
		return nil
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(bctx), writeTimeout)
	defer cancel()
	if b.cleanup != nil {
		if cerr := b.cleanup(wctx); cerr != nil {
			b.e.log.WarnContext(wctx, "removing the import's scratch directory", "arn", b.arn, "err", cerr)
		}
	}
	status, reason := gen.ImageStatusAVAILABLE, ""
	switch {
	case err == nil:
	case errors.Is(context.Cause(bctx), errCancelled):
		status, reason = gen.ImageStatusCANCELLED, "cancelled by CancelImageCreation"
	default:
		status, reason = gen.ImageStatusFAILED, "import failed: "+err.Error()
	}
	_, uerr := updateImage(wctx, b.e.o.Store, b.arn, []gen.ImageStatus{gen.ImageStatusCREATING}, func(d *imageDoc) error {
		d.State = &gen.ImageState{Status: status, Reason: reason}
		if status == gen.ImageStatusAVAILABLE {
			d.OutputResources = &gen.OutputResources{Amis: amis}
			if osv != "" {
				d.OsVersion = osv
			}
		}
		delete(d.extra, keyCancel)
		return nil
	})
	if errors.Is(uerr, errStateChanged) {
		return nil
	}
	return uerr
}

// keepForDebug reports whether a failed VM build keeps its scratch
// directory (terminateInstanceOnFailure false) for `goldsmith debug`.
func (b *imageBuild) keepForDebug(_ context.Context, status gen.ImageStatus) bool {
	return status == gen.ImageStatusFAILED && b.keepOnFailure
}
