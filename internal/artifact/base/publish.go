package base

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/goldsmith/goldsmith/internal/osrelease"
)

// Names of the managed base images and the images they build from.
const (
	BusyboxName  = "busybox-x86-container"
	Debian12Name = "debian-12-x86-container"
)

// Published is a base image pushed to a registry.
type Published struct {
	URIs      []string // repository@digest, then repository:tag
	OSVersion string   // PRETTY_NAME of the image's /etc/os-release
}

// Publisher builds base images and pushes them to a registry.
type Publisher struct {
	// Registry is host:port of the registry; Insecure uses plain HTTP.
	Registry string
	Insecure bool
	// Mirror is the Debian mirror ("" = the host's apt sources).
	Mirror string
}

// Build builds the named base image, pushes it as
// <Registry>/goldsmith/<name>:<tag> and returns its URIs.
func (p Publisher) Build(ctx context.Context, imageName, tag string) (*Published, error) {
	var img v1.Image
	var err error
	switch imageName {
	case BusyboxName:
		img, err = Busybox(ctx)
	case Debian12Name:
		img, err = Debian(ctx, "bookworm", p.Mirror)
	default:
		return nil, fmt.Errorf("unknown base image %q", imageName)
	}
	if err != nil {
		return nil, err
	}
	var opts []name.Option
	if p.Insecure {
		opts = append(opts, name.Insecure)
	}
	repo := p.Registry + "/goldsmith/" + imageName
	ref, err := name.NewTag(repo+":"+tag, opts...)
	if err != nil {
		return nil, fmt.Errorf("base image reference: %w", err)
	}
	if err := remote.Write(ref, img, remote.WithContext(ctx)); err != nil {
		return nil, fmt.Errorf("pushing %s: %w", ref, err)
	}
	digest, err := img.Digest()
	if err != nil {
		return nil, fmt.Errorf("digest of %s: %w", ref, err)
	}
	osv, err := OSVersion(img)
	if err != nil {
		return nil, err
	}
	return &Published{URIs: []string{repo + "@" + digest.String(), ref.String()}, OSVersion: osv}, nil
}

// OSVersion returns PRETTY_NAME from the image's /etc/os-release (or
// /usr/lib/os-release), "" when there is none.
func OSVersion(img v1.Image) (string, error) {
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	found := map[string]string{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", fmt.Errorf("reading image filesystem: %w", err)
		}
		n := strings.TrimPrefix(strings.TrimPrefix(h.Name, "./"), "/")
		if (n == "etc/os-release" || n == "usr/lib/os-release") && h.Typeflag == tar.TypeReg {
			data, _ := io.ReadAll(io.LimitReader(tr, 64<<10))
			if v := osrelease.PrettyName(data); v != "" {
				found[n] = v
			}
		}
	}
	if v, ok := found["etc/os-release"]; ok {
		return v, nil
	}
	return found["usr/lib/os-release"], nil
}
