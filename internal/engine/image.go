package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/goldsmith/goldsmith/internal/api/gen"
	"github.com/goldsmith/goldsmith/internal/store"
)

// imageKind is the store kind of images.
const imageKind = "image"

// Extra keys of the stored image body, beside the gen.Image members.
const (
	// keyPackages holds the OS packages DistributeStage found
	// ([]gen.ImagePackage), for ListImagePackages.
	keyPackages = "goldsmithPackages"
	// keyCancel marks an image whose build was asked to stop
	// (CancelImageCreation), so that a build resumed elsewhere stops too.
	keyCancel = "goldsmithCancelRequested"
)

// imageDoc is a decoded image body: the gen.Image members plus every other
// key of the stored JSON (goldsmithImport, goldsmithPackages, ...), kept
// verbatim when the body is written back.
type imageDoc struct {
	gen.Image
	extra map[string]json.RawMessage
}

// imageKeys returns the JSON member names of gen.Image.
func imageKeys() map[string]bool {
	t := reflect.TypeFor[gen.Image]()
	keys := make(map[string]bool, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" {
			name = f.Name
		}
		keys[name] = true
	}
	return keys
}

func decodeImage(r *store.Resource) (*imageDoc, error) {
	d := &imageDoc{}
	if err := json.Unmarshal(r.Body, &d.Image); err != nil {
		return nil, fmt.Errorf("decoding image %s: %w", r.ARN, err)
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(r.Body, &all); err != nil {
		return nil, fmt.Errorf("decoding image %s: %w", r.ARN, err)
	}
	keys := imageKeys()
	for k, v := range all {
		if !keys[k] {
			if d.extra == nil {
				d.extra = map[string]json.RawMessage{}
			}
			d.extra[k] = v
		}
	}
	return d, nil
}

func (d *imageDoc) encode() ([]byte, error) {
	body, err := json.Marshal(&d.Image)
	if err != nil {
		return nil, fmt.Errorf("encoding image %s: %w", d.Arn, err)
	}
	if len(d.extra) == 0 {
		return body, nil
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(body, &all); err != nil {
		return nil, fmt.Errorf("encoding image %s: %w", d.Arn, err)
	}
	for k, v := range d.extra {
		all[k] = v
	}
	body, err = json.Marshal(all)
	if err != nil {
		return nil, fmt.Errorf("encoding image %s: %w", d.Arn, err)
	}
	return body, nil
}

func (d *imageDoc) setExtra(key string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding %s: %w", key, err)
	}
	if d.extra == nil {
		d.extra = map[string]json.RawMessage{}
	}
	d.extra[key] = raw
	return nil
}

func (d *imageDoc) cancelRequested() bool {
	var b bool
	return d.extra[keyCancel] != nil && json.Unmarshal(d.extra[keyCancel], &b) == nil && b
}

func (d *imageDoc) status() gen.ImageStatus {
	if d.State == nil {
		return ""
	}
	return d.State.Status
}

// running reports whether an image in state s is being built.
func running(s gen.ImageStatus) bool {
	switch s {
	case gen.ImageStatusBUILDING, gen.ImageStatusTESTING, gen.ImageStatusDISTRIBUTING, gen.ImageStatusINTEGRATING:
		return true
	}
	return false
}

// errStateChanged reports that an image was not in the state an update
// expected (another worker or a cancel got there first).
var errStateChanged = errors.New("image state changed")

// loadImage reads an image.
func loadImage(ctx context.Context, st store.Store, arn string) (*imageDoc, *store.Resource, error) {
	var d *imageDoc
	var res *store.Resource
	err := st.View(ctx, func(tx store.Tx) error {
		r, err := tx.Get(ctx, arn)
		if err != nil {
			return err
		}
		if r.Kind != imageKind {
			return fmt.Errorf("%s is a %s, not an image: %w", arn, r.Kind, store.ErrNotFound)
		}
		d, err = decodeImage(r)
		res = r
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("reading image %s: %w", arn, err)
	}
	return d, res, nil
}

// updateImage changes an image in one transaction when its state is one of
// from (any state when from is empty); otherwise it returns errStateChanged
// (wrapped) and changes nothing. fn edits the decoded body.
func updateImage(ctx context.Context, st store.Store, arn string, from []gen.ImageStatus, fn func(*imageDoc) error) (*imageDoc, error) {
	var out *imageDoc
	err := st.Update(ctx, func(tx store.Tx) error {
		var err error
		out, err = updateImageIn(ctx, tx, arn, from, fn)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("updating image %s: %w", arn, err)
	}
	return out, nil
}

// updateImageIn is updateImage within tx.
func updateImageIn(ctx context.Context, tx store.Tx, arn string, from []gen.ImageStatus, fn func(*imageDoc) error) (*imageDoc, error) {
	r, err := tx.Get(ctx, arn)
	if err != nil {
		return nil, err
	}
	d, err := decodeImage(r)
	if err != nil {
		return nil, err
	}
	if len(from) > 0 && !containsStatus(from, d.status()) {
		return nil, fmt.Errorf("%w: image is %s", errStateChanged, d.status())
	}
	if err := fn(d); err != nil {
		return nil, err
	}
	if r.Body, err = d.encode(); err != nil {
		return nil, err
	}
	r.Updated = time.Now().UTC()
	if err := tx.Replace(ctx, r); err != nil {
		return nil, err
	}
	return d, nil
}

func containsStatus(list []gen.ImageStatus, s gen.ImageStatus) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// imageARN is the parsed build-version ARN of an image:
// arn:<partition>:imagebuilder:<region>:<account>:image/<name>/<version>/<build>.
type imageARN struct {
	Region, Account, Name, Version, Build string
}

func parseImageARN(arn string) (imageARN, error) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "imagebuilder" {
		return imageARN{}, fmt.Errorf("%q is not an Image Builder ARN", arn)
	}
	res := strings.Split(parts[5], "/")
	if len(res) != 4 || res[0] != imageKind || res[1] == "" || res[2] == "" || res[3] == "" {
		return imageARN{}, fmt.Errorf("%q is not an image build version ARN", arn)
	}
	return imageARN{Region: parts[3], Account: parts[4], Name: res[1], Version: res[2], Build: res[3]}, nil
}

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }

// Packages returns the OS packages a build recorded for the image (none
// until a build with a package database has distributed it).
func Packages(r *store.Resource) ([]gen.ImagePackage, error) {
	var doc struct {
		Packages []gen.ImagePackage `json:"goldsmithPackages"`
	}
	if err := json.Unmarshal(r.Body, &doc); err != nil {
		return nil, fmt.Errorf("decoding packages of %s: %w", r.ARN, err)
	}
	return doc.Packages, nil
}
