package containerbuild

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Names and actions of the steps of the distribution stage.
const (
	StepDistribute      = "DistributeContainerImage"
	StepCollectMetadata = "CollectImageMetadata"

	ActionDistributeImage = "DistributeImage"
	ActionCollectMetadata = "CollectImageMetadata"
)

// DistributeStage pushes the built image to Target.Repository, tagged with
// Target.Tags and "<Version>-<Build>", and reads the OS version
// (/etc/os-release) and the installed packages (dpkg status or apk
// installed database) from the image. ImageURIs are repository@digest and
// repository:tag for every tag. Pushing again is harmless (the registry
// already has the blobs).
func DistributeStage(ctx context.Context, s Spec, onStep StepFunc) (*DistributeResult, error) {
	st := &stepper{onStep: onStep}
	res := &DistributeResult{}
	err := distributeStage(ctx, s, st, res)
	res.Steps = st.steps
	if err != nil {
		return res, fmt.Errorf("distribution stage: %w", err)
	}
	return res, nil
}

func distributeStage(ctx context.Context, s Spec, st *stepper, res *DistributeResult) error {
	if err := s.validate(); err != nil {
		return err
	}
	repo, tags, err := s.target()
	if err != nil {
		return err
	}
	img, digest, err := readImage(s)
	if err != nil {
		return err
	}
	// The metadata is read from the local layout while the push runs.
	type metadata struct {
		osVersion string
		pkgs      []Package
		err       error
	}
	meta := make(chan metadata, 1)
	go func() {
		osv, pkgs, err := imageMetadata(img, s.LayerCache)
		meta <- metadata{osv, pkgs, err}
	}()
	inputs := map[string]string{"repository": repo.Name(), "tags": strings.Join(tags, ",")}
	err = st.run(ctx, StepDistribute, ActionDistributeImage, inputs, func(out map[string]string) (string, error) {
		if err := push(ctx, s.Target, s.BuiltIn, repo, tags, img); err != nil {
			<-meta // do not leave the reader behind
			return "", err
		}
		res.Digest = digest.String()
		res.ImageURIs = append(res.ImageURIs, repo.Digest(digest.String()).Name())
		for _, t := range tags {
			res.ImageURIs = append(res.ImageURIs, repo.Tag(t).Name())
		}
		out["imageUris"] = strings.Join(res.ImageURIs, ",")
		out["digest"] = res.Digest
		return "", nil
	})
	if err != nil {
		return err
	}
	return st.run(ctx, StepCollectMetadata, ActionCollectMetadata, nil, func(out map[string]string) (string, error) {
		var m metadata
		select {
		case m = <-meta:
		case <-ctx.Done():
			return "", ctx.Err()
		}
		if m.err != nil {
			return "", m.err
		}
		res.OSVersion, res.Packages = m.osVersion, m.pkgs
		if res.Packages == nil {
			res.Packages = []Package{}
		}
		out["osVersion"] = m.osVersion
		out["packageCount"] = fmt.Sprint(len(m.pkgs))
		return "", nil
	})
}

// target parses the target repository and returns the tags to push:
// Target.Tags (in order, without duplicates) and then "<Version>-<Build>".
func (s Spec) target() (name.Repository, []string, error) {
	if s.Target.Repository == "" {
		return name.Repository{}, nil, errors.New("no target repository")
	}
	var opts []name.Option
	if s.Target.Insecure {
		opts = append(opts, name.Insecure)
	}
	repo, err := name.NewRepository(s.Target.Repository, append(opts, name.StrictValidation)...)
	if err != nil {
		return name.Repository{}, nil, fmt.Errorf("target repository %q: %w", s.Target.Repository, err)
	}
	if s.Version == "" || s.Build == "" {
		return name.Repository{}, nil, errors.New("no image version and build number for the <version>-<build> tag")
	}
	var tags []string
	for _, t := range append(slices.Clone(s.Target.Tags), s.Version+"-"+s.Build) {
		if slices.Contains(tags, t) {
			continue
		}
		if _, err := name.NewTag(repo.Name()+":"+t, append(opts, name.StrictValidation)...); err != nil {
			return name.Repository{}, nil, fmt.Errorf("tag %q: %w", t, err)
		}
		tags = append(tags, t)
	}
	return repo, tags, nil
}

// push stores img with every tag through the built-in registry when the
// target is on it; else it pushes through one pusher (one connection
// setup): the layers and the configuration are checked and uploaded at the
// same time, then the tags' manifests are put at the same time.
func push(ctx context.Context, target Target, builtIn BuiltIn, repo name.Repository, tags []string, img v1.Image) error {
	if path, ok := builtIn.local(repo); ok {
		return builtIn.Store.Push(ctx, path, tags, img)
	}
	p, err := remote.NewPusher(remote.WithContext(ctx), target.auth())
	if err != nil {
		return fmt.Errorf("pushing to %s: %w", repo.Name(), err)
	}
	layers, err := img.Layers()
	if err != nil {
		return fmt.Errorf("pushing to %s: %w", repo.Name(), err)
	}
	cfg, err := partial.ConfigLayer(img)
	if err != nil {
		return fmt.Errorf("pushing to %s: %w", repo.Name(), err)
	}
	if err := concurrently(append(layers, cfg), func(l v1.Layer) error {
		if err := p.Upload(ctx, repo, l); err != nil {
			d, _ := l.Digest()
			return fmt.Errorf("pushing blob %s to %s: %w", d, repo.Name(), err)
		}
		return nil
	}); err != nil {
		return err
	}
	return concurrently(tags, func(t string) error {
		if err := p.Put(ctx, repo.Tag(t), img); err != nil {
			return fmt.Errorf("pushing %s: %w", repo.Tag(t).Name(), err)
		}
		return nil
	})
}

// concurrently calls f for every item at the same time and joins the
// errors.
func concurrently[T any](items []T, f func(T) error) error {
	errs := make([]error, len(items))
	var wg sync.WaitGroup
	for i, it := range items {
		wg.Go(func() { errs[i] = f(it) })
	}
	wg.Wait()
	return errors.Join(errs...)
}
