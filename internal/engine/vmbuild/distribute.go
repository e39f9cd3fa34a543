package vmbuild

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/goldsmith/goldsmith/internal/api/gen"
	"github.com/goldsmith/goldsmith/internal/artifact/amistore"
	"github.com/goldsmith/goldsmith/internal/engine/containerbuild"
	"github.com/goldsmith/goldsmith/internal/instance/vm"
)

// Services are what the distribution stage writes to.
type Services struct {
	AMIs *amistore.Store
	// Upload puts a file at s3://bucket/key (S3-compatible endpoint).
	Upload func(ctx context.Context, bucket, key, file string) error
	// Wrap seals a disk passphrase under a KMS key ID (aad binds it to the
	// image ID).
	Wrap func(ctx context.Context, keyID string, secret, aad []byte) ([]byte, error)
}

// DistributeResult lists the registered images and the exports.
type DistributeResult struct {
	AMIs    []gen.Ami
	Exports []string // s3:// URIs
}

// luksIterTime is the key-derivation time of encrypted images: their
// passphrase is 256 random bits, so a slow derivation adds no strength,
// only seconds to every open.
const luksIterTime = 50 * time.Millisecond

// exportFormats maps an S3 export format to qemu-img's output format.
var exportFormats = map[gen.DiskImageFormat]struct {
	format, ext string
	opts        vm.ConvertOptions
}{
	gen.DiskImageFormatRAW:  {"raw", "raw", vm.ConvertOptions{}},
	gen.DiskImageFormatVMDK: {"vmdk", "vmdk", vm.ConvertOptions{}},
	gen.DiskImageFormatVHD:  {"vpc", "vhd", vm.ConvertOptions{Subformat: "fixed", ForceSize: true}},
}

// DistributeStage registers the captured disk as an image in every
// distribution entry's region (and for every target account), named by the
// entry's AMI name template, with its tags, launch permission and
// encryption, and exports it to S3 where asked. Without a distribution
// configuration the image is registered in the build's region under the
// image's name.
func DistributeStage(ctx context.Context, s Spec, dists []gen.Distribution, built time.Time, svc Services,
	onStep containerbuild.StepFunc) (*DistributeResult, error) {
	b, err := readBuild(s)
	if err != nil {
		return nil, errors.New("the build stage's captured disk is missing; the build must run again")
	}
	st := containerbuild.NewStepper(onStep)
	if len(dists) == 0 {
		dists = []gen.Distribution{{Region: s.Region}}
	}
	// Images an earlier, interrupted attempt registered go first; the
	// images of a distribution that fails go too.
	if _, err := svc.AMIs.DeleteFrom(s.ImageARN); err != nil {
		return nil, fmt.Errorf("removing an earlier attempt's images: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			_, _ = svc.AMIs.DeleteFrom(s.ImageARN)
		}
	}()
	res := &DistributeResult{}
	// The exports (conversions and uploads) run concurrently with each other
	// and with the registrations; each export step waits for its own.
	type exported struct {
		uri string
		err error
	}
	ectx, cancel := context.WithCancel(ctx)
	defer cancel()
	exports := make([]chan exported, len(dists))
	for i, d := range dists {
		if x := d.S3ExportConfiguration; x != nil {
			exports[i] = make(chan exported, 1)
			go func() {
				uri, err := s.export(ectx, b.Disk, x, i, svc)
				exports[i] <- exported{uri, err}
			}()
		}
	}
	defer func() { // wait for every export before the scratch dir may go
		cancel()
		for _, ch := range exports {
			if ch != nil {
				<-ch
			}
		}
	}()
	err = st.Run(ctx, "DistributeImage", "DistributeImage", map[string]string{"disk": b.Disk},
		func(out map[string]string) (string, error) {
			for _, d := range dists {
				amis, err := s.register(ctx, d, b, built, svc)
				if err != nil {
					return "", fmt.Errorf("distributing to %s: %w", d.Region, err)
				}
				res.AMIs = append(res.AMIs, amis...)
			}
			var ids []string
			for _, a := range res.AMIs {
				ids = append(ids, a.Region+":"+a.Image)
			}
			out["images"] = strings.Join(ids, ",")
			return fmt.Sprintf("%d images registered", len(res.AMIs)), nil
		})
	if err != nil {
		return nil, err
	}
	for i, d := range dists {
		x := d.S3ExportConfiguration
		if x == nil {
			continue
		}
		name := "ExportImage-" + d.Region
		err := st.Run(ctx, name, "ExportImage", map[string]string{"format": string(x.DiskImageFormat), "s3Bucket": x.S3Bucket, "s3Prefix": x.S3Prefix},
			func(out map[string]string) (string, error) {
				var e exported
				select {
				case e = <-exports[i]:
					exports[i] <- e // for the deferred wait
				case <-ctx.Done():
					return "", ctx.Err()
				}
				if e.err != nil {
					return "", e.err
				}
				res.Exports = append(res.Exports, e.uri)
				out["uri"] = e.uri
				return "exported to " + e.uri, nil
			})
		if err != nil {
			return nil, err
		}
	}
	ok = true
	return res, nil
}

// register stores the image in one distribution entry's region, for the
// owner and each target account.
func (s Spec) register(ctx context.Context, d gen.Distribution, b *BuildResult, built time.Time, svc Services) ([]gen.Ami, error) {
	region := d.Region
	if region == "" {
		region = s.Region
	}
	c := d.AmiDistributionConfiguration
	if c == nil {
		c = &gen.AmiDistributionConfiguration{}
	}
	name := RenderAMIName(c.Name, built, s.Version+"/"+s.Build)
	if name == "" {
		name = s.Name + " " + s.Version + "/" + s.Build
	}
	accounts := append([]string{s.Account}, c.TargetAccountIds...)
	var out []gen.Ami
	for _, acct := range accounts {
		id, err := amistore.NewID()
		if err != nil {
			return nil, err
		}
		a := &amistore.AMI{ID: id, Region: region, Owner: acct, Name: name, Description: c.Description,
			Tags: c.AmiTags, VirtualSize: 0, SourceImage: s.ImageARN, OSVersion: b.OSVersion}
		if lp := c.LaunchPermission; lp != nil {
			a.Launch = &amistore.LaunchPermission{UserIDs: lp.UserIds, UserGroups: lp.UserGroups,
				OrganizationArns: lp.OrganizationArns, OrganizationalUnitArns: lp.OrganizationalUnitArns}
		}
		disk := b.Disk
		if c.KmsKeyId != "" {
			if svc.Wrap == nil {
				return nil, errors.New("kmsKeyId is set but this server has no key store")
			}
			secret := make([]byte, 32)
			if _, err := rand.Read(secret); err != nil {
				return nil, fmt.Errorf("disk key: %w", err)
			}
			pass := []byte(fmt.Sprintf("%x", secret))
			wrapped, err := svc.Wrap(ctx, c.KmsKeyId, pass, []byte(id))
			if err != nil {
				return nil, fmt.Errorf("wrapping the disk key with %s: %w", c.KmsKeyId, err)
			}
			enc := filepath.Join(s.ScratchDir, id+".qcow2")
			if err := vm.Convert(ctx, b.Disk, "qcow2", enc, "qcow2", vm.ConvertOptions{Encrypt: pass, EncryptIterTime: luksIterTime}); err != nil {
				return nil, fmt.Errorf("encrypting the image: %w", err)
			}
			a.KMSKeyID, a.WrappedSecret, disk = c.KmsKeyId, wrapped, enc
		}
		if info, err := vm.Inspect(ctx, b.Disk); err == nil {
			a.VirtualSize = info.VirtualSize
		}
		if err := svc.AMIs.Put(ctx, a, disk, disk != b.Disk); err != nil {
			return nil, err
		}
		out = append(out, gen.Ami{Region: region, Image: id, Name: name, Description: c.Description, AccountId: acct,
			State: &gen.ImageState{Status: gen.ImageStatusAVAILABLE}})
	}
	return out, nil
}

// export converts the captured disk and uploads it to S3.
func (s Spec) export(ctx context.Context, disk string, x *gen.S3ExportConfiguration, n int, svc Services) (string, error) {
	f, ok := exportFormats[x.DiskImageFormat]
	if !ok {
		return "", fmt.Errorf("s3ExportConfiguration.diskImageFormat %q is not RAW, VMDK or VHD", x.DiskImageFormat)
	}
	if svc.Upload == nil {
		return "", errors.New("this server has no S3 endpoint configured for exports")
	}
	file := filepath.Join(s.ScratchDir, fmt.Sprintf("export-%d.%s", n, f.ext))
	defer os.Remove(file)
	if err := vm.Convert(ctx, disk, "qcow2", file, f.format, f.opts); err != nil {
		return "", fmt.Errorf("converting to %s: %w", x.DiskImageFormat, err)
	}
	key := path.Join(x.S3Prefix, fmt.Sprintf("%s-%s-%s.%s", s.Name, s.Version, s.Build, f.ext))
	key = strings.TrimPrefix(key, "/")
	if err := svc.Upload(ctx, x.S3Bucket, key, file); err != nil {
		return "", fmt.Errorf("uploading to s3://%s/%s: %w", x.S3Bucket, key, err)
	}
	return "s3://" + x.S3Bucket + "/" + key, nil
}

var amiVar = regexp.MustCompile(`\{\{\s*imagebuilder:(buildDate|buildVersion)(?::([^}\s]+))?\s*\}\}`)

// RenderAMIName fills {{ imagebuilder:buildDate }} (or a custom Java-style
// date pattern after a colon) and {{ imagebuilder:buildVersion }}. The
// default date looks like AWS's, with ':' replaced because AMI names
// forbid it: 2023-05-17T21-17-23.099935Z.
func RenderAMIName(tmpl string, built time.Time, buildVersion string) string {
	return amiVar.ReplaceAllStringFunc(tmpl, func(m string) string {
		sub := amiVar.FindStringSubmatch(m)
		if sub[1] == "buildVersion" {
			return strings.ReplaceAll(buildVersion, "/", "-")
		}
		if sub[2] != "" {
			return built.UTC().Format(javaLayout(sub[2]))
		}
		return strings.ReplaceAll(built.UTC().Format("2006-01-02T15:04:05.000000Z"), ":", "-")
	})
}

// javaLayout turns a Java date pattern (yyyy, MM, dd, HH, mm, ss) into a Go
// layout; other letters are kept.
func javaLayout(p string) string {
	r := strings.NewReplacer("yyyy", "2006", "yy", "06", "MM", "01", "dd", "02", "HH", "15", "mm", "04", "ss", "05", "SSS", "000")
	return r.Replace(p)
}
