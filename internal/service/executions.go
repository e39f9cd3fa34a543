package service

import (
	"context"

	"github.com/goldsmith/goldsmith/internal/api/gen"
)

// Workflow and lifecycle executions are created by the build engine and the
// lifecycle scheduler of later releases. Until then none exists, so every
// lookup answers ResourceNotFoundException (which clients such as Terraform
// expect for unknown IDs) rather than a generic "not available" error.

// GetWorkflowExecution returns a workflow execution.
func (s *Service) GetWorkflowExecution(_ context.Context, in *gen.GetWorkflowExecutionRequest) (*gen.GetWorkflowExecutionResponse, error) {
	return nil, notFound("workflow execution %q does not exist (this release runs no builds yet)", in.WorkflowExecutionId)
}

// GetWorkflowStepExecution returns a workflow step execution.
func (s *Service) GetWorkflowStepExecution(_ context.Context, in *gen.GetWorkflowStepExecutionRequest) (*gen.GetWorkflowStepExecutionResponse, error) {
	return nil, notFound("workflow step execution %q does not exist (this release runs no builds yet)", in.StepExecutionId)
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
