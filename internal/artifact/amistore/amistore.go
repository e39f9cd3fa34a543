// Package amistore keeps goldsmith's machine images ("AMIs"): one
// standalone qcow2 disk per image ID and region, with its metadata, under a
// directory of the data dir:
//
//	<root>/<region>/<ami-id>/disk.qcow2
//	<root>/<region>/<ami-id>/ami.json
//
// An image ID is "ami-" followed by 17 hex digits, like EC2's. Images are
// written under a temporary name and renamed into place, so a reader never
// sees half an image, and a crash leaves only a ".tmp-" directory that Sweep
// removes.
package amistore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// DiskFile and MetaFile are the names of an image's files.
const (
	DiskFile = "disk.qcow2"
	MetaFile = "ami.json"
)

// ErrNotFound is returned for an image ID that is not stored in the region.
var ErrNotFound = errors.New("image not found")

var (
	idPattern     = regexp.MustCompile(`^ami-[0-9a-f]{17}$`)
	regionPattern = regexp.MustCompile(`^[a-z0-9-]{1,64}$`)
)

// ValidID reports whether id looks like an image ID.
func ValidID(id string) bool { return idPattern.MatchString(id) }

// LaunchPermission says who besides the owner may launch (build from) an
// image.
type LaunchPermission struct {
	UserIDs                []string `json:"userIds,omitempty"`
	UserGroups             []string `json:"userGroups,omitempty"` // "all" makes the image public
	OrganizationArns       []string `json:"organizationArns,omitempty"`
	OrganizationalUnitArns []string `json:"organizationalUnitArns,omitempty"`
}

// AMI is the metadata of one stored image.
type AMI struct {
	ID          string            `json:"id"`
	Region      string            `json:"region"`
	Owner       string            `json:"owner"` // account ID ("aws" for managed bases)
	Name        string            `json:"name"`
	Description string            `json:"description,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
	// Launch lists the other accounts allowed to use the image.
	Launch      *LaunchPermission `json:"launchPermission,omitempty"`
	VirtualSize int64             `json:"virtualSize"`
	// KMSKeyID names the key that wraps WrappedSecret, the LUKS passphrase
	// of an encrypted disk ("" = not encrypted).
	KMSKeyID      string    `json:"kmsKeyId,omitempty"`
	WrappedSecret []byte    `json:"wrappedSecret,omitempty"`
	SourceImage   string    `json:"sourceImage,omitempty"` // Image Builder image ARN
	OSVersion     string    `json:"osVersion,omitempty"`
	Created       time.Time `json:"created"`
}

// Encrypted reports whether the image's disk is LUKS-encrypted.
func (a *AMI) Encrypted() bool { return a.KMSKeyID != "" }

// CanLaunch reports whether account may build from the image: the owner,
// an account named in the launch permission, or anyone when the image is
// public (user group "all"). Organisations are not modelled: goldsmith has
// no AWS Organizations, so organisation grants admit nobody else.
func (a *AMI) CanLaunch(account string) bool {
	if a.Owner == account || a.Owner == "aws" {
		return true
	}
	if a.Launch == nil {
		return false
	}
	return slices.Contains(a.Launch.UserIDs, account) || slices.Contains(a.Launch.UserGroups, "all")
}

// Store is the image directory.
type Store struct{ root string }

// Open returns the store rooted at root, creating it.
func Open(root string) (*Store, error) {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("amistore: %w", err)
	}
	return &Store{root: root}, nil
}

// NewID returns a fresh image ID.
func NewID() (string, error) {
	var b [9]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("amistore: image ID: %w", err)
	}
	return "ami-" + hex.EncodeToString(b[:])[:17], nil
}

func (s *Store) dir(region, id string) (string, error) {
	if !regionPattern.MatchString(region) {
		return "", fmt.Errorf("amistore: region %q is not a region name", region)
	}
	if !ValidID(id) {
		return "", fmt.Errorf("amistore: %q is not an image ID (ami- and 17 hex digits): %w", id, ErrNotFound)
	}
	return filepath.Join(s.root, region, id), nil
}

// Put stores disk (a standalone qcow2) as image a.ID in a.Region. With
// move the file is renamed into the store when it is on the same file
// system (else copied); without it, it is hard-linked (else copied), so
// the caller must not write the source afterwards. An image ID that exists
// already is an error.
func (s *Store) Put(ctx context.Context, a *AMI, disk string, move bool) error {
	dir, err := s.dir(a.Region, a.ID)
	if err != nil {
		return err
	}
	if _, err := os.Stat(dir); err == nil {
		return fmt.Errorf("amistore: image %s exists in %s", a.ID, a.Region)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return fmt.Errorf("amistore: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".tmp-"+a.ID+"-")
	if err != nil {
		return fmt.Errorf("amistore: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			_ = os.RemoveAll(tmp)
		}
	}()
	dst := filepath.Join(tmp, DiskFile)
	// Stored disks are never written again, so an unmoved disk may share
	// its data with the source by a hard link.
	placed := false
	if move {
		placed = os.Rename(disk, dst) == nil
	} else {
		placed = os.Link(disk, dst) == nil
	}
	if !placed {
		if err := copyFile(ctx, disk, dst); err != nil {
			return fmt.Errorf("amistore: storing the disk of %s: %w", a.ID, err)
		}
	}
	if a.Created.IsZero() {
		a.Created = time.Now().UTC()
	}
	if err := writeMeta(filepath.Join(tmp, MetaFile), a); err != nil {
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("amistore: %w", err)
	}
	ok = true
	return nil
}

// Get returns the metadata of image id in region.
func (s *Store) Get(region, id string) (*AMI, error) {
	dir, err := s.dir(region, id)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(dir, MetaFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("image %s in %s: %w", id, region, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("amistore: %w", err)
	}
	var a AMI
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, fmt.Errorf("amistore: reading %s: %w", id, err)
	}
	return &a, nil
}

// Find looks an image ID up in every region, the given region first.
func (s *Store) Find(region, id string) (*AMI, error) {
	if a, err := s.Get(region, id); err == nil || !errors.Is(err, ErrNotFound) {
		return a, err
	}
	regions, err := os.ReadDir(s.root)
	if err != nil {
		return nil, fmt.Errorf("amistore: %w", err)
	}
	for _, r := range regions {
		if !r.IsDir() || r.Name() == region {
			continue
		}
		if a, err := s.Get(r.Name(), id); err == nil || !errors.Is(err, ErrNotFound) {
			return a, err
		}
	}
	return nil, fmt.Errorf("image %s: %w", id, ErrNotFound)
}

// Disk returns the path of the image's disk.
func (s *Store) Disk(region, id string) (string, error) {
	dir, err := s.dir(region, id)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, DiskFile), nil
}

// Update rewrites the metadata of a stored image.
func (s *Store) Update(a *AMI) error {
	dir, err := s.dir(a.Region, a.ID)
	if err != nil {
		return err
	}
	if _, err := os.Stat(dir); err != nil {
		return fmt.Errorf("image %s in %s: %w", a.ID, a.Region, ErrNotFound)
	}
	return writeMeta(filepath.Join(dir, MetaFile), a)
}

// Delete removes an image; a missing one is not an error.
func (s *Store) Delete(region, id string) error {
	dir, err := s.dir(region, id)
	if err != nil {
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("amistore: %w", err)
	}
	return nil
}

// DeleteFrom removes every stored image made from the Image Builder image
// sourceImage (in any region) and returns how many it removed.
func (s *Store) DeleteFrom(sourceImage string) (int, error) {
	regions, err := os.ReadDir(s.root)
	if err != nil {
		return 0, fmt.Errorf("amistore: %w", err)
	}
	n := 0
	for _, r := range regions {
		if !r.IsDir() {
			continue
		}
		ids, err := os.ReadDir(filepath.Join(s.root, r.Name()))
		if err != nil {
			return n, fmt.Errorf("amistore: %w", err)
		}
		for _, e := range ids {
			if !ValidID(e.Name()) {
				continue
			}
			a, err := s.Get(r.Name(), e.Name())
			if err != nil || a.SourceImage != sourceImage {
				continue
			}
			if err := s.Delete(r.Name(), e.Name()); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}

// Sweep removes what an interrupted Put left behind.
func (s *Store) Sweep() error {
	regions, err := os.ReadDir(s.root)
	if err != nil {
		return fmt.Errorf("amistore: %w", err)
	}
	for _, r := range regions {
		entries, err := os.ReadDir(filepath.Join(s.root, r.Name()))
		if err != nil {
			continue
		}
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".tmp-") {
				if err := os.RemoveAll(filepath.Join(s.root, r.Name(), e.Name())); err != nil {
					return fmt.Errorf("amistore: %w", err)
				}
			}
		}
	}
	return nil
}

func writeMeta(path string, a *AMI) error {
	b, err := json.MarshalIndent(a, "", "  ")
	if err != nil {
		return fmt.Errorf("amistore: %w", err)
	}
	tmp := path + ".new"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("amistore: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("amistore: %w", err)
	}
	return nil
}

// copyFile copies src to dst keeping holes out of the way: a qcow2 has
// none worth keeping, so a plain copy with a context check per chunk.
func copyFile(ctx context.Context, src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	buf := make([]byte, 4<<20)
	for {
		if err := ctx.Err(); err != nil {
			out.Close()
			return err
		}
		n, rerr := in.Read(buf)
		if n > 0 {
			if _, err := out.Write(buf[:n]); err != nil {
				out.Close()
				return err
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			out.Close()
			return rerr
		}
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
