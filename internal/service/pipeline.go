package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/goldsmith/goldsmith/internal/api/gen"
	"github.com/goldsmith/goldsmith/internal/schedule"
	"github.com/goldsmith/goldsmith/internal/store"
)

// A pipeline is stored as a gen.ImagePipeline body (Tags empty, kept in
// store.Resource.Tags). dateNextRun is not stored: it is computed from the
// schedule whenever the pipeline is read, so it never goes stale. For
// rate() schedules the interval counts from dateUpdated, the time the
// schedule was last set by Create/UpdateImagePipeline.

// pipelineSpec is what Create and UpdateImagePipeline have in common.
type pipelineSpec struct {
	inputs      buildInputs
	description string
	tests       *gen.ImageTestsConfiguration
	enhanced    *bool
	schedule    *gen.Schedule
	status      gen.PipelineStatus
	imageTags   map[string]string
	scanning    *gen.ImageScanningConfiguration
	logging     *gen.PipelineLoggingConfiguration
}

// pipeCheckSchedule validates a schedule and fills the default start
// condition; it returns a copy.
func pipeCheckSchedule(sc *gen.Schedule) (*gen.Schedule, error) {
	if sc == nil {
		return nil, nil
	}
	out := *sc
	if out.ScheduleExpression != "" {
		if _, err := schedule.Parse(out.ScheduleExpression); err != nil {
			return nil, invalidValue("schedule.scheduleExpression: %v", err)
		}
	}
	if _, err := schedule.LoadLocation(out.Timezone); err != nil {
		return nil, invalidValue("schedule.timezone: %v", err)
	}
	if out.PipelineExecutionStartCondition == "" {
		out.PipelineExecutionStartCondition = gen.PipelineExecutionStartConditionEXPRESSIONMATCHANDDEPENDENCYUPDATESAVAILABLE
	}
	if out.AutoDisablePolicy != nil && out.AutoDisablePolicy.FailureCount == nil {
		return nil, apiError(gen.CodeInvalidRequest, "schedule.autoDisablePolicy.failureCount is required")
	}
	return &out, nil
}

// pipeNextRun computes dateNextRun: only for an ENABLED pipeline whose
// schedule has an expression.
func pipeNextRun(p *gen.ImagePipeline, now time.Time) string {
	if p.Status != gen.PipelineStatusENABLED || p.Schedule == nil || p.Schedule.ScheduleExpression == "" {
		return ""
	}
	e, err := schedule.Parse(p.Schedule.ScheduleExpression)
	if err != nil {
		return ""
	}
	loc, err := schedule.LoadLocation(p.Schedule.Timezone)
	if err != nil {
		return ""
	}
	anchor, err := time.Parse("2006-01-02T15:04:05.000Z", p.DateUpdated)
	if err != nil {
		anchor = now
	}
	t, ok := e.NextSince(anchor, now, loc)
	if !ok {
		return ""
	}
	return timestamp(t)
}

// checkPipelineSpec applies the rules that need no stored resource and
// fills defaults.
func (ps *pipelineSpec) check() error {
	if err := ps.inputs.check(); err != nil {
		return err
	}
	sc, err := pipeCheckSchedule(ps.schedule)
	if err != nil {
		return err
	}
	ps.schedule = sc
	switch ps.status {
	case "":
		ps.status = gen.PipelineStatusENABLED
	case gen.PipelineStatusENABLED, gen.PipelineStatusDISABLED:
	default:
		return invalidValue("status %q must be ENABLED or DISABLED", ps.status)
	}
	return imgCheckScanning(ps.scanning, ps.inputs.containerRecipeArn != "")
}

// fill writes the spec into a pipeline body.
func (ps *pipelineSpec) fill(p *gen.ImagePipeline, in *resolvedInputs) {
	p.Description = ps.description
	p.Platform = in.platform
	p.EnhancedImageMetadataEnabled = imgBool(ps.enhanced, true)
	p.ImageRecipeArn = ps.inputs.imageRecipeArn
	p.ContainerRecipeArn = ps.inputs.containerRecipeArn
	p.InfrastructureConfigurationArn = ps.inputs.infraArn
	p.DistributionConfigurationArn = ps.inputs.distArn
	p.ImageTestsConfiguration = imgTestsConfig(ps.tests)
	p.Schedule = ps.schedule
	p.Status = ps.status
	p.ImageScanningConfiguration = ps.scanning
	p.ImageTags = ps.imageTags
	p.ExecutionRole = ps.inputs.executionRole
	p.Workflows = ps.inputs.workflows
	p.LoggingConfiguration = ps.logging
}

// CreateImagePipeline creates a pipeline after checking every resource it
// references.
func (s *Service) CreateImagePipeline(ctx context.Context, in *gen.CreateImagePipelineRequest) (*gen.CreateImagePipelineResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	ps := pipelineSpec{
		inputs: buildInputs{
			imageRecipeArn: in.ImageRecipeArn, containerRecipeArn: in.ContainerRecipeArn,
			infraArn: in.InfrastructureConfigurationArn, distArn: in.DistributionConfigurationArn,
			workflows: in.Workflows, executionRole: in.ExecutionRole,
		},
		description: in.Description, tests: in.ImageTestsConfiguration, enhanced: in.EnhancedImageMetadataEnabled,
		schedule: in.Schedule, status: in.Status, imageTags: in.ImageTags, scanning: in.ImageScanningConfiguration,
		logging: in.LoggingConfiguration,
	}
	if err := ps.check(); err != nil {
		return nil, err
	}
	a := ARN{Partition: "aws", Region: c.Region, Account: c.Account, Type: pipeKind, Name: Slug(in.Name)}
	arn := a.String()
	err = s.st.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.Get(ctx, arn); err == nil {
			return apiError(gen.CodeResourceAlreadyExists, "image pipeline %s already exists", arn)
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		res, err := ps.inputs.resolve(ctx, tx, c)
		if err != nil {
			return err
		}
		now := s.now().UTC()
		p := gen.ImagePipeline{Arn: arn, Name: in.Name, DateCreated: timestamp(now), DateUpdated: timestamp(now)}
		ps.fill(&p, res)
		body, err := json.Marshal(&p)
		if err != nil {
			return fmt.Errorf("encoding image pipeline: %w", err)
		}
		r := &store.Resource{ARN: arn, Kind: pipeKind, Account: c.Account, Name: a.Name,
			Created: now, Updated: now, Body: body, Tags: in.Tags}
		if err := tx.Insert(ctx, r); err != nil {
			if errors.Is(err, store.ErrExists) {
				return apiError(gen.CodeResourceAlreadyExists, "image pipeline %s already exists", arn)
			}
			return err
		}
		return tx.SetRefs(ctx, arn, res.refs)
	})
	if err != nil {
		return nil, err
	}
	return &gen.CreateImagePipelineResponse{ImagePipelineArn: arn}, nil
}

// UpdateImagePipeline replaces a pipeline's settings: like the service, it
// does not merge; omitted optional members return to their defaults.
func (s *Service) UpdateImagePipeline(ctx context.Context, in *gen.UpdateImagePipelineRequest) (*gen.UpdateImagePipelineResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	ps := pipelineSpec{
		inputs: buildInputs{
			imageRecipeArn: in.ImageRecipeArn, containerRecipeArn: in.ContainerRecipeArn,
			infraArn: in.InfrastructureConfigurationArn, distArn: in.DistributionConfigurationArn,
			workflows: in.Workflows, executionRole: in.ExecutionRole,
		},
		description: in.Description, tests: in.ImageTestsConfiguration, enhanced: in.EnhancedImageMetadataEnabled,
		schedule: in.Schedule, status: in.Status, imageTags: in.ImageTags, scanning: in.ImageScanningConfiguration,
		logging: in.LoggingConfiguration,
	}
	if err := ps.check(); err != nil {
		return nil, err
	}
	err = s.st.Update(ctx, func(tx store.Tx) error {
		r, err := s.ownedResource(ctx, tx, c, pipeKind, in.ImagePipelineArn)
		if err != nil {
			return err
		}
		p, err := pipeDecode(r)
		if err != nil {
			return err
		}
		res, err := ps.inputs.resolve(ctx, tx, c)
		if err != nil {
			return err
		}
		now := s.now().UTC()
		ps.fill(p, res)
		p.DateUpdated = timestamp(now)
		if r.Body, err = json.Marshal(p); err != nil {
			return fmt.Errorf("encoding image pipeline: %w", err)
		}
		r.Updated = now
		if err := tx.Replace(ctx, r); err != nil {
			return err
		}
		return tx.SetRefs(ctx, r.ARN, res.refs)
	})
	if err != nil {
		return nil, err
	}
	return &gen.UpdateImagePipelineResponse{ImagePipelineArn: in.ImagePipelineArn}, nil
}

// pipeDecode returns the stored pipeline body.
func pipeDecode(r *store.Resource) (*gen.ImagePipeline, error) {
	var p gen.ImagePipeline
	if err := json.Unmarshal(r.Body, &p); err != nil {
		return nil, fmt.Errorf("decoding image pipeline %s: %w", r.ARN, err)
	}
	return &p, nil
}

// pipelineOf renders a stored pipeline for a response.
func (s *Service) pipelineOf(r *store.Resource) (*gen.ImagePipeline, error) {
	p, err := pipeDecode(r)
	if err != nil {
		return nil, err
	}
	p.Arn = r.ARN
	p.Tags = r.Tags
	p.DateNextRun = pipeNextRun(p, s.now())
	return p, nil
}

// pipeReadable returns a pipeline the caller can read.
func pipeReadable(ctx context.Context, tx store.Tx, c Caller, arn string) (*store.Resource, error) {
	r, err := tx.Get(ctx, arn)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (r.Kind != pipeKind || !readable(c, r))) {
		return nil, notFound("image pipeline %q does not exist", arn)
	}
	return r, err
}

// GetImagePipeline returns a pipeline with its next scheduled run.
func (s *Service) GetImagePipeline(ctx context.Context, in *gen.GetImagePipelineRequest) (*gen.GetImagePipelineResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var out gen.GetImagePipelineResponse
	err = s.st.View(ctx, func(tx store.Tx) error {
		out = gen.GetImagePipelineResponse{}
		r, err := pipeReadable(ctx, tx, c, in.ImagePipelineArn)
		if err != nil {
			return err
		}
		out.ImagePipeline, err = s.pipelineOf(r)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// ListImagePipelines lists the caller's pipelines.
func (s *Service) ListImagePipelines(ctx context.Context, in *gen.ListImagePipelinesRequest) (*gen.ListImagePipelinesResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	filters, err := newFilterSet(in.Filters, "description", "distributionConfigurationArn", "imageRecipeArn",
		"infrastructureConfigurationArn", "name", "status")
	if err != nil {
		return nil, err
	}
	var out gen.ListImagePipelinesResponse
	err = s.st.View(ctx, func(tx store.Tx) error {
		out = gen.ListImagePipelinesResponse{}
		all, err := listByOwner(ctx, tx, c, pipeKind, gen.OwnershipSelf)
		if err != nil {
			return err
		}
		var picked []*store.Resource
		bodies := map[string]*gen.ImagePipeline{}
		for _, r := range all {
			p, err := s.pipelineOf(r)
			if err != nil {
				return err
			}
			if !filters.match("name", p.Name, r.Name) || !filters.match("description", p.Description) ||
				!filters.match("status", string(p.Status)) || !filters.match("imageRecipeArn", p.ImageRecipeArn) ||
				!filters.match("infrastructureConfigurationArn", p.InfrastructureConfigurationArn) ||
				!filters.match("distributionConfigurationArn", p.DistributionConfigurationArn) {
				continue
			}
			bodies[r.ARN] = p
			picked = append(picked, r)
		}
		page, next := paginate(picked, in.NextToken, in.MaxResults)
		for _, r := range page {
			out.ImagePipelineList = append(out.ImagePipelineList, *bodies[r.ARN])
		}
		out.NextToken = next
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteImagePipeline deletes a pipeline; its images remain.
func (s *Service) DeleteImagePipeline(ctx context.Context, in *gen.DeleteImagePipelineRequest) (*gen.DeleteImagePipelineResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	err = s.st.Update(ctx, func(tx store.Tx) error {
		r, err := s.ownedResource(ctx, tx, c, pipeKind, in.ImagePipelineArn)
		if err != nil {
			return err
		}
		if err := imgRefuseIfUsed(ctx, tx, "image pipeline", r.ARN); err != nil {
			return err
		}
		return tx.Delete(ctx, r.ARN)
	})
	if err != nil {
		return nil, err
	}
	return &gen.DeleteImagePipelineResponse{ImagePipelineArn: in.ImagePipelineArn}, nil
}
