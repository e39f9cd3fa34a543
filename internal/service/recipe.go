package service

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goldsmith/goldsmith/internal/api/gen"
	"github.com/goldsmith/goldsmith/internal/store"
)

const (
	kindImageRecipe     = "image-recipe"
	kindContainerRecipe = "container-recipe"
	// maxUserDataOverride is the longest userDataOverride (base64 text).
	maxUserDataOverride = 21847
)

// nextRecipeVersion allocates the version a create with selector sel
// stands for: sel itself when it has no `x`; otherwise the highest
// existing version matching sel with the first `x` node incremented and
// the nodes after it set to 0, or sel with every `x` set to 0 when no
// version matches.
func nextRecipeVersion(sel Version, existing []Version) (Version, error) {
	if !sel.IsWildcard() {
		return sel, nil
	}
	var top *Version
	for i := range existing {
		if sel.Matches(existing[i]) && (top == nil || existing[i].Compare(*top) > 0) {
			top = &existing[i]
		}
	}
	zero := func(n int) int { return max(n, 0) }
	if top == nil {
		return Version{zero(sel.Major), zero(sel.Minor), zero(sel.Patch)}, nil
	}
	v := *top
	switch {
	case sel.Major == Wildcard:
		v = Version{v.Major + 1, 0, 0}
	case sel.Minor == Wildcard:
		v = Version{v.Major, v.Minor + 1, 0}
	default:
		v = Version{v.Major, v.Minor, v.Patch + 1}
	}
	if v.Major > maxVersionNode || v.Minor > maxVersionNode || v.Patch > maxVersionNode {
		return Version{}, apiError(gen.CodeInvalidVersionNumber, "semanticVersion %q: the next free version after %s exceeds %d in a node", sel, *top, maxVersionNode)
	}
	return v, nil
}

// errRecipeVersionTaken reports that another create inserted the version a
// wildcard selector allocated; maxRecipeAttempts bounds the retries.
var errRecipeVersionTaken = errors.New("recipe version taken concurrently")

const maxRecipeAttempts = 5

// recipeDraft is what a create of either recipe kind has in common; the
// kind-specific part validates and renders the body inside the write.
type recipeDraft struct {
	kind, name, version string
	tags                map[string]string
	components          []gen.ComponentConfiguration
	// body returns the JSON body of the recipe stored under arn/version
	// (components and parent image are resolved in tx).
	body func(tx store.Tx, arn, version string, created time.Time) ([]byte, error)
}

// createRecipe allocates the version, refuses an existing name+version,
// stores the recipe and its references to its components.
func (s *Service) createRecipe(ctx context.Context, c Caller, d recipeDraft) (string, *gen.LatestVersionReferences, error) {
	sel, err := ParseVersion(d.version, true)
	if err != nil {
		return "", nil, apiError(gen.CodeInvalidVersionNumber, "semanticVersion: %v", err)
	}
	if err := checkComponentCount(d.components); err != nil {
		return "", nil, err
	}
	base := ARN{Partition: "aws", Region: c.Region, Account: c.Account, Type: d.kind, Name: Slug(d.name)}
	var arn string
	var refs *gen.LatestVersionReferences
	for attempt := 1; ; attempt++ {
		err = s.st.Update(ctx, func(tx store.Tx) error {
			arn, refs, err = s.insertRecipe(ctx, tx, c, d, sel, base)
			return err
		})
		// A concurrent create took the version a wildcard allocated: allocate again.
		if !errors.Is(err, errRecipeVersionTaken) || attempt == maxRecipeAttempts {
			break
		}
	}
	if errors.Is(err, errRecipeVersionTaken) {
		return "", nil, apiError(gen.CodeResourceInUse, "%s %s: concurrent creates keep taking the next free version; retry", d.kind, base)
	}
	if err != nil {
		return "", nil, err
	}
	return arn, refs, nil
}

// insertRecipe allocates the version in tx, renders and stores the recipe
// and records its references to its components.
func (s *Service) insertRecipe(ctx context.Context, tx store.Tx, c Caller, d recipeDraft, sel Version, base ARN) (string, *gen.LatestVersionReferences, error) {
	existing, err := tx.List(ctx, store.ListQuery{Kind: d.kind, Accounts: []string{c.Account}, Name: base.Name})
	if err != nil {
		return "", nil, err
	}
	existing = inRegion(existing, c.Region)
	var versions []Version
	for _, r := range existing {
		if v, err := ParseVersion(r.Version, false); err == nil {
			versions = append(versions, v)
		}
	}
	ver, err := nextRecipeVersion(sel, versions)
	if err != nil {
		return "", nil, err
	}
	a := base
	a.Version = ver.String()
	arn := a.String()
	if slices.ContainsFunc(existing, func(r *store.Resource) bool { return r.ARN == arn }) {
		return "", nil, apiError(gen.CodeResourceAlreadyExists, "%s %s already exists; versions are immutable, create a new version", d.kind, arn)
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	body, err := d.body(tx, arn, a.Version, now)
	if err != nil {
		return "", nil, err
	}
	r := &store.Resource{ARN: arn, Kind: d.kind, Account: c.Account, Name: a.Name, Version: a.Version,
		Created: now, Updated: now, Body: body, Tags: d.tags}
	if err := tx.Insert(ctx, r); err != nil {
		if errors.Is(err, store.ErrExists) && sel.IsWildcard() {
			return "", nil, errRecipeVersionTaken
		}
		if errors.Is(err, store.ErrExists) {
			return "", nil, apiError(gen.CodeResourceAlreadyExists, "%s %s already exists; versions are immutable, create a new version", d.kind, arn)
		}
		return "", nil, err
	}
	targets := make([]string, 0, len(d.components))
	for _, cfg := range d.components {
		if !slices.Contains(targets, cfg.ComponentArn) {
			targets = append(targets, cfg.ComponentArn)
		}
	}
	if err := tx.SetRefs(ctx, arn, targets); err != nil {
		return "", nil, err
	}
	return arn, latestRefs(append(existing, r), ver), nil
}

// getRecipe resolves a recipe ARN (an exact version, or `x` wildcards
// resolved to the newest readable match) and the latest version references
// among the versions the caller can read.
func getRecipe(ctx context.Context, tx store.Tx, c Caller, kind, arn string) (*store.Resource, *gen.LatestVersionReferences, error) {
	if a, err := ParseARN(arn); err != nil || a.Type != kind || a.Build != 0 {
		return nil, nil, notFound("%s %q does not exist", kind, arn)
	}
	r, all, err := resolveBuild(ctx, tx, c, kind, arn)
	if err != nil {
		return nil, nil, err
	}
	visible := all[:0:0]
	for _, o := range all {
		if readable(c, o) {
			visible = append(visible, o)
		}
	}
	v, _ := ParseVersion(r.Version, false)
	return r, latestRefs(visible, v), nil
}

// deleteRecipe deletes the caller's recipe version unless a pipeline or an
// image still references it: by its exact ARN, or through a wildcard ARN no
// other version of the recipe would satisfy.
func (s *Service) deleteRecipe(ctx context.Context, kind, arn string) error {
	c, err := caller(ctx)
	if err != nil {
		return err
	}
	return s.st.Update(ctx, func(tx store.Tx) error {
		r, err := s.ownedResource(ctx, tx, c, kind, arn)
		if err != nil {
			return err
		}
		users, err := dependants(ctx, tx, r)
		if err != nil {
			return err
		}
		if len(users) > 0 {
			return apiError(gen.CodeResourceDependency, "%s %s is still used by %s", kind, arn, strings.Join(users, ", "))
		}
		return tx.Delete(ctx, r.ARN)
	})
}

// dependants lists the resources that depend on the versioned resource r
// (a recipe version or a component/workflow/image build): those naming its
// exact ARN, and those naming a selector — its version ARN, or a wildcard
// version — that no other stored version or build would still satisfy.
func dependants(ctx context.Context, tx store.Tx, r *store.Resource) ([]string, error) {
	a, err := ParseARN(r.ARN)
	if err != nil {
		return nil, fmt.Errorf("stored ARN %q: %w", r.ARN, err)
	}
	v, err := ParseVersion(r.Version, false)
	if err != nil {
		return nil, fmt.Errorf("stored version of %s: %w", r.ARN, err)
	}
	users, err := tx.RefsTo(ctx, r.ARN)
	if err != nil {
		return nil, err
	}
	var siblings []*store.Resource
	selectors := []Version{{v.Major, v.Minor, Wildcard}, {v.Major, Wildcard, Wildcard}, {Wildcard, Wildcard, Wildcard}}
	if r.Build > 0 {
		// A build is also named by its version ARN.
		a.Build = 0
		selectors = append([]Version{v}, selectors...)
	}
	for _, sel := range selectors {
		w := a
		w.Version = sel.String()
		refs, err := tx.RefsTo(ctx, w.String())
		if err != nil {
			return nil, err
		}
		if len(refs) == 0 {
			continue
		}
		if siblings == nil {
			all, err := tx.List(ctx, store.ListQuery{Kind: r.Kind, Accounts: []string{r.Account}, Name: r.Name})
			if err != nil {
				return nil, err
			}
			siblings = inRegion(all, a.Region)
		}
		other := slices.ContainsFunc(siblings, func(o *store.Resource) bool {
			ov, err := ParseVersion(o.Version, false)
			return err == nil && o.ARN != r.ARN && sel.Matches(ov)
		})
		if !other {
			users = append(users, refs...)
		}
	}
	slices.Sort(users)
	return slices.Compact(users), nil
}

// checkWorkingDirectory accepts an absolute path for the platform.
func checkWorkingDirectory(dir string, platform gen.Platform) error {
	if dir == "" {
		return nil
	}
	if platform == gen.PlatformWindows {
		if !recipeWindowsAbs.MatchString(dir) {
			return invalidValue("workingDirectory %q must be an absolute Windows path (C:\\...)", dir)
		}
		return nil
	}
	if !strings.HasPrefix(dir, "/") {
		return invalidValue("workingDirectory %q must be an absolute path", dir)
	}
	return nil
}

var (
	recipeWindowsAbs  = regexp.MustCompile(`^[A-Za-z]:[\\/]`)
	bdmDeviceName     = regexp.MustCompile(`^(?:/dev/)?[a-z][a-z0-9]*$`)
	bdmVirtualName    = regexp.MustCompile(`^ephemeral[0-9]+$`)
	bdmSnapshotID     = regexp.MustCompile(`^snap-[0-9a-f]{8}(?:[0-9a-f]{9})?$`)
	bdmIopsVolumes    = []gen.EbsVolumeType{gen.EbsVolumeTypeIo1, gen.EbsVolumeTypeIo2, gen.EbsVolumeTypeGp3}
	bdmMinVolumeSizes = map[gen.EbsVolumeType]int32{gen.EbsVolumeTypeIo1: 4, gen.EbsVolumeTypeIo2: 4, gen.EbsVolumeTypeSc1: 125, gen.EbsVolumeTypeSt1: 125}
)

// checkBlockDeviceMappings applies EC2's rules to a recipe's block device
// mappings: a unique device name each, exactly one of ebs, virtualName and
// noDevice, iops only (and for io1/io2 necessarily) on provisioned-IOPS
// volume types, throughput only on gp3, a KMS key only on encrypted volumes.
func checkBlockDeviceMappings(field string, ms []gen.InstanceBlockDeviceMapping) error {
	seen := map[string]bool{}
	for i, m := range ms {
		f := field + "[" + strconv.Itoa(i) + "]"
		if m.DeviceName == "" {
			return invalidValue("%s.deviceName is required", f)
		}
		if !bdmDeviceName.MatchString(m.DeviceName) {
			return invalidValue("%s.deviceName %q is not a device name (/dev/sda1, /dev/xvdb, xvdf)", f, m.DeviceName)
		}
		if seen[m.DeviceName] {
			return invalidValue("%s.deviceName %q is mapped more than once", f, m.DeviceName)
		}
		seen[m.DeviceName] = true
		n := 0
		if m.Ebs != nil {
			n++
		}
		if m.VirtualName != "" {
			n++
			if !bdmVirtualName.MatchString(m.VirtualName) {
				return invalidValue("%s.virtualName %q must be ephemeral<N>", f, m.VirtualName)
			}
		}
		if m.NoDevice != nil {
			n++
			if *m.NoDevice != "" {
				return invalidValue("%s.noDevice must be the empty string (it suppresses the device), not %q", f, *m.NoDevice)
			}
		}
		if n != 1 {
			return apiError(gen.CodeInvalidParameterCombination, "%s: give exactly one of ebs, virtualName and noDevice for device %s", f, m.DeviceName)
		}
		if m.Ebs != nil {
			if err := checkEbs(f+".ebs", m.Ebs); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkEbs(f string, e *gen.EbsInstanceBlockDeviceSpecification) error {
	vt := e.VolumeType
	if vt == "" {
		vt = gen.EbsVolumeTypeGp2
	}
	if e.Iops != nil && !slices.Contains(bdmIopsVolumes, vt) {
		return invalidValue("%s.iops can only be set for io1, io2 and gp3 volumes, not %s", f, vt)
	}
	if e.Iops == nil && (vt == gen.EbsVolumeTypeIo1 || vt == gen.EbsVolumeTypeIo2) {
		return invalidValue("%s.iops is required for %s volumes", f, vt)
	}
	if e.Throughput != nil && vt != gen.EbsVolumeTypeGp3 {
		return invalidValue("%s.throughput can only be set for gp3 volumes, not %s", f, vt)
	}
	if e.KmsKeyId != "" && (e.Encrypted == nil || !*e.Encrypted) {
		return invalidValue("%s.kmsKeyId %q needs encrypted set to true", f, e.KmsKeyId)
	}
	if e.SnapshotId != "" && !bdmSnapshotID.MatchString(e.SnapshotId) {
		return invalidValue("%s.snapshotId %q is not a snapshot ID (snap-<8 or 17 hex digits>)", f, e.SnapshotId)
	}
	if e.VolumeSize != nil {
		if minSize := bdmMinVolumeSizes[vt]; *e.VolumeSize < minSize {
			return invalidValue("%s.volumeSize %d GiB is below the %d GiB minimum of %s volumes", f, *e.VolumeSize, minSize, vt)
		}
	}
	return nil
}

// checkUserData accepts a userDataOverride as AWS does: base64 text of at
// most 21,847 characters.
func checkUserData(ud string) error {
	if ud == "" {
		return nil
	}
	if len(ud) > maxUserDataOverride {
		return invalidValue("additionalInstanceConfiguration.userDataOverride is %d characters long; at most %d are allowed", len(ud), maxUserDataOverride)
	}
	if _, err := base64.StdEncoding.DecodeString(ud); err != nil {
		return invalidValue("additionalInstanceConfiguration.userDataOverride must be base64: %v", err)
	}
	return nil
}

// viewRecipe returns the recipe version an ARN names (wildcards resolve to
// the newest readable match), decoded, with its latest-version references.
func viewRecipe[T any](ctx context.Context, s *Service, kind, arn string) (*T, *store.Resource, *gen.LatestVersionReferences, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	var (
		rec  *T
		res  *store.Resource
		refs *gen.LatestVersionReferences
	)
	err = s.st.View(ctx, func(tx store.Tx) error {
		r, lv, err := getRecipe(ctx, tx, c, kind, arn)
		if err != nil {
			return err
		}
		if rec, err = decodeAs[T](r); err != nil {
			return err
		}
		res, refs = r, lv
		return nil
	})
	if err != nil {
		return nil, nil, nil, err
	}
	return rec, res, refs, nil
}
