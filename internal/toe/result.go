package toe

import (
	"encoding/json"
	"time"
)

// Status is the AWSTOE status of an execution, document, phase, step or
// loop iteration.
type Status string

// Statuses. Running is only seen in events; RebootRequested marks an
// execution stopped to let the caller reboot (rerun with the same
// execution id to resume).
const (
	StatusRunning                   Status = "Running"
	StatusSuccess                   Status = "Success"
	StatusFailed                    Status = "Failed"
	StatusIgnoredFailure            Status = "IgnoredFailure"
	StatusSuccessWithIgnoredFailure Status = "SuccessWithIgnoredFailure"
	StatusSkipped                   Status = "Skipped"
	StatusCancelled                 Status = "Cancelled"
	StatusRebootRequested           Status = "RebootRequested"
)

// Succeeded reports whether s counts as success for Image Builder.
func (s Status) Succeeded() bool {
	return s == StatusSuccess || s == StatusSuccessWithIgnoredFailure || s == StatusSkipped
}

// Execution is the result of Run; it is also the content of
// detailedoutput.json.
type Execution struct {
	ExecutionID            string            `json:"executionId"`
	Status                 Status            `json:"status"`
	StartTime              time.Time         `json:"startTime"`
	EndTime                time.Time         `json:"endTime"`
	FailureMessage         string            `json:"failureMessage"`
	ExecutedStepCount      int               `json:"executedStepCount"`
	FailedStepCount        int               `json:"failedStepCount"`
	IgnoredFailedStepCount int               `json:"ignoredFailedStepCount"`
	LogURL                 string            `json:"logUrl"`
	Documents              []*DocumentResult `json:"documents"`
}

// DocumentResult is one document's result.
type DocumentResult struct {
	Name           string         `json:"name"`
	FilePath       string         `json:"filePath"`
	Description    string         `json:"description"`
	Status         Status         `json:"status"`
	StartTime      time.Time      `json:"startTime"`
	EndTime        time.Time      `json:"endTime"`
	FailureMessage string         `json:"failureMessage"`
	Phases         []*PhaseResult `json:"phases"`
}

// PhaseResult is one phase's result.
type PhaseResult struct {
	Name           string        `json:"name"`
	Status         Status        `json:"status"`
	StartTime      time.Time     `json:"startTime"`
	EndTime        time.Time     `json:"endTime"`
	FailureMessage string        `json:"failureMessage"`
	Steps          []*StepResult `json:"steps"`
}

// StepResult is one step's result. Inputs and Outputs are JSON strings as
// in AWSTOE's detailed output; Outputs is an array of output objects.
type StepResult struct {
	Name           string             `json:"name"`
	Action         string             `json:"action"`
	Status         Status             `json:"status"`
	FailureMessage string             `json:"failureMessage"`
	TimeoutSeconds int                `json:"timeoutSeconds"`
	OnFailure      string             `json:"onFailure"`
	MaxAttempts    int                `json:"maxAttempts"`
	Attempts       int                `json:"attempts"`
	ExitCode       int                `json:"exitCode"`
	StartTime      time.Time          `json:"startTime"`
	EndTime        time.Time          `json:"endTime"`
	Inputs         string             `json:"inputs"`
	Outputs        string             `json:"outputs"`
	Loop           *LoopResult        `json:"loop,omitempty"`
	DetailedOutput []*IterationResult `json:"detailedOutput,omitempty"`
}

// LoopResult describes a step's loop.
type LoopResult struct {
	Name             string `json:"name,omitempty"`
	Type             string `json:"type"` // "for" or "forEach"
	Iterations       int    `json:"iterations"`
	FailedIterations []int  `json:"failedIterations,omitempty"`
}

// IterationResult is one loop iteration (of the last attempt).
type IterationResult struct {
	Index          int       `json:"index"`
	Value          string    `json:"value"`
	Status         Status    `json:"status"`
	StartTime      time.Time `json:"startTime"`
	EndTime        time.Time `json:"endTime"`
	Inputs         string    `json:"inputs"`
	Outputs        string    `json:"outputs"`
	FailureMessage string    `json:"failureMessage"`
	ExitCode       int       `json:"exitCode"`
}

// Summary is the JSON summary AWSTOE prints at the end of a run (and
// ExecuteDocument returns).
type Summary struct {
	ExecutedStepCount      int    `json:"executedStepCount"`
	ExecutionID            string `json:"executionId"`
	FailedStepCount        int    `json:"failedStepCount"`
	FailureMessage         string `json:"failureMessage"`
	IgnoredFailedStepCount int    `json:"ignoredFailedStepCount"`
	LogURL                 string `json:"logUrl"`
	Status                 Status `json:"status"`
}

// Summary returns the execution's summary.
func (e *Execution) Summary() Summary {
	return Summary{ExecutedStepCount: e.ExecutedStepCount, ExecutionID: e.ExecutionID,
		FailedStepCount: e.FailedStepCount, FailureMessage: e.FailureMessage,
		IgnoredFailedStepCount: e.IgnoredFailedStepCount, LogURL: e.LogURL, Status: e.Status}
}

// EventKind says what an Event reports.
type EventKind string

// Event kinds.
const (
	EventExecutionStarted  EventKind = "ExecutionStarted"
	EventDocumentStarted   EventKind = "DocumentStarted"
	EventPhaseStarted      EventKind = "PhaseStarted"
	EventStepStarted       EventKind = "StepStarted"
	EventStepAttempt       EventKind = "StepAttempt"
	EventIterationFinished EventKind = "IterationFinished"
	EventStepFinished      EventKind = "StepFinished"
	EventPhaseFinished     EventKind = "PhaseFinished"
	EventDocumentFinished  EventKind = "DocumentFinished"
	EventExecutionFinished EventKind = "ExecutionFinished"
)

// Event is one progress notification (RunOptions.OnEvent).
type Event struct {
	Time        time.Time `json:"time"`
	Kind        EventKind `json:"kind"`
	ExecutionID string    `json:"executionId"`
	Document    string    `json:"document,omitempty"`
	Phase       string    `json:"phase,omitempty"`
	Step        string    `json:"step,omitempty"`
	Action      string    `json:"action,omitempty"`
	Attempt     int       `json:"attempt,omitempty"`
	Iteration   int       `json:"iteration,omitempty"`
	Status      Status    `json:"status,omitempty"`
	Message     string    `json:"message,omitempty"`
}

func jsonString(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "null"
	}
	return string(b)
}
