package service

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/goldsmith/goldsmith/internal/api/gen"
	"github.com/goldsmith/goldsmith/internal/store"
)

// managedAccount owns the Amazon-managed resources (owner=Amazon).
const managedAccount = "aws"

//go:embed managed/workflows/*.yaml managed/components/*.yaml
var managedFS embed.FS

// managedWorkflow is one Amazon-managed workflow goldsmith ships
// (documents.md §2.9; decision C14 for distribute-image).
type managedWorkflow struct {
	name, version, description string
	typ                        gen.WorkflowType
}

var managedWorkflows = []managedWorkflow{
	{"build-image", "1.0.3", "Workflow to build an AMI", gen.WorkflowTypeBUILD},
	{"test-image", "1.0.0", "Workflow to test an AMI", gen.WorkflowTypeTEST},
	{"build-container", "1.0.1", "Workflow to build a container image", gen.WorkflowTypeBUILD},
	{"test-container", "1.0.0", "Workflow to test a container image on its build instance", gen.WorkflowTypeTEST},
	{"distribute-image", "1.0.0", "Workflow to distribute an AMI as the attached distribution configuration describes", gen.WorkflowTypeDISTRIBUTION},
}

// managedComponent is one Amazon-managed component goldsmith ships, with
// a document written for Debian- and RHEL-family guests.
type managedComponent struct {
	name, version, description string
	typ                        gen.ComponentType
}

var managedComponents = []managedComponent{
	{"update-linux", "1.0.0", "Installs the latest operating system updates and reboots when they need it.", gen.ComponentTypeBUILD},
	{"reboot-linux", "1.0.0", "Reboots the instance.", gen.ComponentTypeBUILD},
	{"hello-world-linux", "1.0.0", "Prints Hello World in the build, validate and test phases.", gen.ComponentTypeBUILD},
	{"simple-boot-test-linux", "1.0.0", "Checks that the instance booted into a working system.", gen.ComponentTypeTEST},
	{"reboot-test-linux", "1.0.0", "Reboots the instance and checks that it comes back.", gen.ComponentTypeTEST},
}

// managedDocument returns an embedded document.
func managedDocument(dir, name string) ([]byte, error) {
	b, err := managedFS.ReadFile("managed/" + dir + "/" + name + ".yaml")
	if err != nil {
		return nil, fmt.Errorf("managed %s %s: %w", dir, name, err)
	}
	return b, nil
}

// SeedManaged stores the Amazon-managed workflows and components (account
// "aws", build 1) in every configured region. It is idempotent: a version
// that exists already is left alone, so restarts and several servers on
// one database are fine.
func (s *Service) SeedManaged(ctx context.Context) error {
	var err error
	for range 3 {
		if err = s.seedManaged(ctx); err == nil || !seedRace(err) {
			return err
		}
	}
	return err
}

// seedRace reports whether err means another server seeded concurrently.
func seedRace(err error) bool {
	var ge *gen.Error
	return errors.Is(err, store.ErrExists) || (errors.As(err, &ge) && ge.Code == gen.CodeResourceInUse)
}

// seedItem is one managed resource missing from the store.
type seedItem struct {
	region string
	wf     *managedWorkflow
	comp   *managedComponent
}

func (s *Service) seedManaged(ctx context.Context) error {
	exists := func(ctx context.Context, tx store.Tx, kind, region, name, version string) (bool, error) {
		rs, err := tx.List(ctx, store.ListQuery{Kind: kind, Accounts: []string{managedAccount}, Name: name, Version: version})
		if err != nil {
			return false, err
		}
		return len(inRegion(rs, region)) > 0, nil
	}
	missing := func(ctx context.Context, tx store.Tx) ([]seedItem, error) {
		var out []seedItem
		for _, region := range s.regions {
			for i := range managedWorkflows {
				w := &managedWorkflows[i]
				ok, err := exists(ctx, tx, workflowKind(w.typ), region, Slug(w.name), w.version)
				if err != nil {
					return nil, err
				}
				if !ok {
					out = append(out, seedItem{region: region, wf: w})
				}
			}
			for i := range managedComponents {
				mc := &managedComponents[i]
				ok, err := exists(ctx, tx, kindComponent, region, Slug(mc.name), mc.version)
				if err != nil {
					return nil, err
				}
				if !ok {
					out = append(out, seedItem{region: region, comp: mc})
				}
			}
		}
		return out, nil
	}
	var todo []seedItem
	if err := s.st.View(ctx, func(tx store.Tx) error {
		var err error
		todo, err = missing(ctx, tx)
		return err
	}); err != nil || len(todo) == 0 {
		return err
	}
	err := s.st.Update(ctx, func(tx store.Tx) error {
		var err error
		todo, err = missing(ctx, tx)
		if err != nil {
			return err
		}
		for _, it := range todo {
			if it.wf != nil {
				err = s.seedWorkflow(ctx, tx, it.region, it.wf)
			} else {
				err = s.seedComponent(ctx, tx, it.region, it.comp)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil && len(todo) > 0 {
		s.log.Info("seeded Amazon-managed resources", "count", len(todo), "regions", s.regions)
	}
	return err
}

func (s *Service) seedWorkflow(ctx context.Context, tx store.Tx, region string, w *managedWorkflow) error {
	doc, err := managedDocument("workflows", w.name)
	if err != nil {
		return err
	}
	params, err := inspectWorkflow(w.name, w.typ, doc)
	if err != nil {
		return fmt.Errorf("managed workflow %s: %w", w.name, err)
	}
	_, _, err = s.insertWorkflow(ctx, tx, newWorkflow{
		account: managedAccount, region: region, name: w.name, version: w.version, typ: w.typ,
		description: w.description, data: string(doc), params: params,
	}, false)
	return err
}

// seedComponent stores build 1 of a managed component with the same body
// as CreateComponent (componentRecord).
func (s *Service) seedComponent(ctx context.Context, tx store.Tx, region string, mc *managedComponent) error {
	doc, err := managedDocument("components", mc.name)
	if err != nil {
		return err
	}
	info, err := inspectDocument(mc.name, doc)
	if err != nil {
		return fmt.Errorf("managed component %s: %w", mc.name, err)
	}
	rec := &componentRecord{
		DisplayName: mc.name, Description: mc.description, Type: mc.typ, Platform: gen.PlatformLinux,
		Data: string(doc), Parameters: info.Parameters, Status: gen.ComponentStatusACTIVE,
	}
	rec.Digest = rec.digest(doc)
	body, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encoding component: %w", err)
	}
	a := ARN{Partition: "aws", Region: region, Account: managedAccount, Type: kindComponent, Name: Slug(mc.name), Version: mc.version, Build: 1}
	now := s.now().UTC()
	return tx.Insert(ctx, &store.Resource{ARN: a.String(), Kind: kindComponent, Account: managedAccount,
		Name: a.Name, Version: a.Version, Build: 1, Created: now, Updated: now, Body: body})
}
