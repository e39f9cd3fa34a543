package service

import (
	"context"
	"errors"
	"strconv"

	"github.com/goldsmith/goldsmith/internal/api/gen"
	"github.com/goldsmith/goldsmith/internal/engine"
	"github.com/goldsmith/goldsmith/internal/store"
)

// Workflow executions are recorded by the build engine (internal/engine);
// these calls read them. Lifecycle executions come with the scheduler.

// pageIndex returns the [start, end) window of a list of n items for an
// index cursor, and the next cursor ("" on the last page).
func pageIndex(n int, cursor string, maxResults *int32) (int, int, string, error) {
	start := 0
	if cursor != "" {
		i, err := strconv.Atoi(cursor)
		if err != nil || i < 0 || i > n {
			return 0, 0, "", apiError(gen.CodeInvalidPaginationToken, "nextToken is not valid for this list")
		}
		start = i
	}
	size := defaultPageSize
	if maxResults != nil {
		size = int(*maxResults)
	}
	end := min(start+size, n)
	if end < n {
		return start, end, strconv.Itoa(end), nil
	}
	return start, end, "", nil
}

// readableImage returns the image an exact build ARN names if the caller
// may read it.
func readableImage(ctx context.Context, tx store.Tx, c Caller, arn string) (*store.Resource, error) {
	r, err := tx.Get(ctx, arn)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (r.Kind != imgKind || !readable(c, r))) {
		return nil, notFound("image %q does not exist", arn)
	}
	return r, err
}

// readableExecution returns a workflow execution whose image the caller
// may read; ResourceNotFoundException otherwise.
func readableExecution(ctx context.Context, tx store.Tx, c Caller, id string) (*engine.Execution, *store.Resource, error) {
	ex, res, err := engine.ExecutionByID(ctx, tx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, notFound("workflow execution %q does not exist", id)
	}
	if err != nil {
		return nil, nil, err
	}
	if _, err := readableImage(ctx, tx, c, ex.ImageBuildVersionArn); err != nil {
		return nil, nil, notFound("workflow execution %q does not exist", id)
	}
	return ex, res, nil
}

// GetWorkflowExecution returns one workflow execution of an image build.
func (s *Service) GetWorkflowExecution(ctx context.Context, in *gen.GetWorkflowExecutionRequest) (*gen.GetWorkflowExecutionResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var out gen.GetWorkflowExecutionResponse
	err = s.st.View(ctx, func(tx store.Tx) error {
		ex, _, err := readableExecution(ctx, tx, c, in.WorkflowExecutionId)
		if err != nil {
			return err
		}
		m := ex.WorkflowExecutionMetadata
		out = gen.GetWorkflowExecutionResponse{
			WorkflowBuildVersionArn: m.WorkflowBuildVersionArn, WorkflowExecutionId: m.WorkflowExecutionId,
			ImageBuildVersionArn: ex.ImageBuildVersionArn, Type: m.Type, Status: m.Status, Message: m.Message,
			TotalStepCount: m.TotalStepCount, TotalStepsSucceeded: m.TotalStepsSucceeded,
			TotalStepsFailed: m.TotalStepsFailed, TotalStepsSkipped: m.TotalStepsSkipped,
			StartTime: m.StartTime, EndTime: m.EndTime, ParallelGroup: m.ParallelGroup,
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// ListWorkflowExecutions lists the workflow executions of an image build.
func (s *Service) ListWorkflowExecutions(ctx context.Context, in *gen.ListWorkflowExecutionsRequest) (*gen.ListWorkflowExecutionsResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var out gen.ListWorkflowExecutionsResponse
	err = s.st.View(ctx, func(tx store.Tx) error {
		out = gen.ListWorkflowExecutionsResponse{ImageBuildVersionArn: in.ImageBuildVersionArn}
		img, err := readableImage(ctx, tx, c, in.ImageBuildVersionArn)
		if err != nil {
			return err
		}
		exs, err := engine.Executions(ctx, tx, img.Account, img.ARN)
		if err != nil {
			return err
		}
		start, end, next, err := pageIndex(len(exs), in.NextToken, in.MaxResults)
		if err != nil {
			return err
		}
		for _, ex := range exs[start:end] {
			out.WorkflowExecutions = append(out.WorkflowExecutions, ex.WorkflowExecutionMetadata)
		}
		out.NextToken = next
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// GetWorkflowStepExecution returns one step execution.
func (s *Service) GetWorkflowStepExecution(ctx context.Context, in *gen.GetWorkflowStepExecutionRequest) (*gen.GetWorkflowStepExecutionResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var out gen.GetWorkflowStepExecutionResponse
	err = s.st.View(ctx, func(tx store.Tx) error {
		st, _, err := engine.StepByID(ctx, tx, in.StepExecutionId)
		if errors.Is(err, store.ErrNotFound) {
			return notFound("workflow step execution %q does not exist", in.StepExecutionId)
		}
		if err != nil {
			return err
		}
		if _, err := readableImage(ctx, tx, c, st.ImageBuildVersionArn); err != nil {
			return notFound("workflow step execution %q does not exist", in.StepExecutionId)
		}
		m := st.WorkflowStepMetadata
		out = gen.GetWorkflowStepExecutionResponse{
			StepExecutionId: m.StepExecutionId, WorkflowBuildVersionArn: st.WorkflowBuildVersionArn,
			WorkflowExecutionId: st.WorkflowExecutionId, ImageBuildVersionArn: st.ImageBuildVersionArn,
			Name: m.Name, Description: m.Description, Action: m.Action, Status: m.Status,
			RollbackStatus: m.RollbackStatus, Message: m.Message, Inputs: m.Inputs, Outputs: m.Outputs,
			StartTime: m.StartTime, EndTime: m.EndTime, OnFailure: st.OnFailure, TimeoutSeconds: st.TimeoutSeconds,
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// ListWorkflowStepExecutions lists the steps of a workflow execution.
func (s *Service) ListWorkflowStepExecutions(ctx context.Context, in *gen.ListWorkflowStepExecutionsRequest) (*gen.ListWorkflowStepExecutionsResponse, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var out gen.ListWorkflowStepExecutionsResponse
	err = s.st.View(ctx, func(tx store.Tx) error {
		out = gen.ListWorkflowStepExecutionsResponse{WorkflowExecutionId: in.WorkflowExecutionId}
		ex, res, err := readableExecution(ctx, tx, c, in.WorkflowExecutionId)
		if err != nil {
			return err
		}
		steps, err := engine.Steps(ctx, tx, res.Account, in.WorkflowExecutionId)
		if err != nil {
			return err
		}
		start, end, next, err := pageIndex(len(steps), in.NextToken, in.MaxResults)
		if err != nil {
			return err
		}
		for _, st := range steps[start:end] {
			out.Steps = append(out.Steps, st.WorkflowStepMetadata)
		}
		out.WorkflowBuildVersionArn, out.ImageBuildVersionArn, out.NextToken = ex.WorkflowBuildVersionArn, ex.ImageBuildVersionArn, next
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// GetLifecycleExecution returns a lifecycle policy execution.
func (s *Service) GetLifecycleExecution(_ context.Context, in *gen.GetLifecycleExecutionRequest) (*gen.GetLifecycleExecutionResponse, error) {
	return nil, notFound("lifecycle execution %q does not exist (this release runs no lifecycle policies yet)", in.LifecycleExecutionId)
}

// GetMarketplaceResource returns AWS Marketplace component data. goldsmith
// has no marketplace, so no such resource exists.
func (s *Service) GetMarketplaceResource(_ context.Context, in *gen.GetMarketplaceResourceRequest) (*gen.GetMarketplaceResourceResponse, error) {
	return nil, notFound("marketplace resource %q does not exist: goldsmith serves no AWS Marketplace components", in.ResourceArn)
}
