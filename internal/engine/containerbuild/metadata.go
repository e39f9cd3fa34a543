package containerbuild

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/goldsmith/goldsmith/internal/instance/container"
	"github.com/goldsmith/goldsmith/internal/osrelease"
)

// Files of the image the metadata comes from (relative to its root).
const (
	etcOSRelease    = "etc/os-release"
	usrOSRelease    = "usr/lib/os-release"
	dpkgStatus      = "var/lib/dpkg/status"
	apkInstalled    = "lib/apk/db/installed"
	maxMetadataFile = 64 << 20
)

// imageMetadata reads the OS version and the installed packages from the
// image's flattened filesystem (the parent's part from cache when it holds
// it; cache may be nil).
func imageMetadata(img v1.Image, cache *container.LayerCache) (osVersion string, pkgs []Package, err error) {
	files, err := readFilesLayered(img, cache, etcOSRelease, usrOSRelease, dpkgStatus, apkInstalled)
	if err != nil {
		return "", nil, err
	}
	osr, ok := files[etcOSRelease]
	if !ok {
		osr = files[usrOSRelease]
	}
	osVersion = osrelease.OSVersion(osr)
	if data, ok := files[dpkgStatus]; ok {
		pkgs = append(pkgs, parseDpkgStatus(data)...)
	}
	if data, ok := files[apkInstalled]; ok {
		pkgs = append(pkgs, parseApkInstalled(data)...)
	}
	sort.Slice(pkgs, func(i, j int) bool {
		if pkgs[i].Name != pkgs[j].Name {
			return pkgs[i].Name < pkgs[j].Name
		}
		return pkgs[i].Version < pkgs[j].Version
	})
	return osVersion, pkgs, nil
}

// readImageFiles returns the contents of the named regular files of the
// flattened image. A name that is a symlink in the image is followed once
// within the wanted set's directories (Debian's /etc/os-release points to
// ../usr/lib/os-release), which is why both are asked for.
func readImageFiles(img v1.Image, names ...string) (map[string][]byte, error) {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	out := map[string][]byte{}
	links := map[string]string{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading the image's filesystem: %w", err)
		}
		n := path.Clean(strings.TrimPrefix(strings.TrimPrefix(h.Name, "./"), "/"))
		if !want[n] {
			continue
		}
		switch h.Typeflag {
		case tar.TypeReg:
			data, err := io.ReadAll(io.LimitReader(tr, maxMetadataFile))
			if err != nil {
				return nil, fmt.Errorf("reading /%s of the image: %w", n, err)
			}
			out[n] = data
		case tar.TypeSymlink:
			t := h.Linkname
			if !path.IsAbs(t) {
				t = path.Join(path.Dir(n), t)
			}
			links[n] = path.Clean(strings.TrimPrefix(t, "/"))
		}
	}
	for n, t := range links {
		if data, ok := out[t]; ok {
			out[n] = data
		}
	}
	return out, nil
}

// parseDpkgStatus lists the installed packages of a dpkg status file
// (deb822 paragraphs; a package counts when its Status ends in
// "installed").
func parseDpkgStatus(data []byte) []Package {
	var out []Package
	var name, version, status string
	flush := func() {
		if name != "" && strings.HasSuffix(strings.TrimSpace(status), " installed") {
			out = append(out, Package{Name: name, Version: version})
		}
		name, version, status = "", "", ""
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" {
			flush()
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			continue // a continuation line
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch strings.ToLower(k) {
		case "package":
			name = v
		case "version":
			version = v
		case "status":
			status = v
		}
	}
	flush()
	return out
}

// parseApkInstalled lists the packages of an apk installed database
// (blocks of "X:value" lines separated by blank lines; P is the name, V the
// version).
func parseApkInstalled(data []byte) []Package {
	var out []Package
	var p Package
	flush := func() {
		if p.Name != "" {
			out = append(out, p)
		}
		p = Package{}
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		line = strings.TrimRight(line, "\r")
		if line == "" {
			flush()
			continue
		}
		if len(line) < 2 || line[1] != ':' {
			continue
		}
		switch line[0] {
		case 'P':
			p.Name = line[2:]
		case 'V':
			p.Version = line[2:]
		}
	}
	flush()
	return out
}
