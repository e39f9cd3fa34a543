package service

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/goldsmith/goldsmith/internal/api/gen"
)

func wantAPIError(t *testing.T, err error, code, msg string) {
	t.Helper()
	var ge *gen.Error
	if !errors.As(err, &ge) {
		t.Fatalf("got %v, want %s", err, code)
	}
	if ge.Code != code || !strings.Contains(ge.Message, msg) {
		t.Fatalf("got %s %q, want %s mentioning %q", ge.Code, ge.Message, code, msg)
	}
}

const (
	wfBuild = "arn:aws:imagebuilder:us-east-1:aws:workflow/build/build-image/x.x.x"
	wfTest  = "arn:aws:imagebuilder:us-east-1:aws:workflow/test/test-image/x.x.x"
	wfDist  = "arn:aws:imagebuilder:us-east-1:000000000000:workflow/distribution/d/1.0.0/1"
)

func TestImgCheckWorkflows(t *testing.T) {
	w := func(arns ...string) []gen.WorkflowConfiguration {
		var out []gen.WorkflowConfiguration
		for _, a := range arns {
			out = append(out, gen.WorkflowConfiguration{WorkflowArn: a})
		}
		return out
	}
	elevenTests := make([]string, 11)
	for i := range elevenTests {
		elevenTests[i] = wfTest
	}
	tests := []struct {
		name      string
		ws        []gen.WorkflowConfiguration
		role      string
		code, msg string
	}{
		{"none", nil, "", "", ""},
		{"build test dist", w(wfBuild, wfTest, wfTest, wfDist), "role", "", ""},
		{"no role", w(wfBuild), "", gen.CodeInvalidRequest, "executionRole is required"},
		{"two builds", w(wfBuild, wfBuild), "role", gen.CodeInvalidParameterValue, "at most one BUILD"},
		{"two distributions", w(wfDist, wfTest, wfDist), "role", gen.CodeInvalidParameterValue, "at most one DISTRIBUTION"},
		{"eleven", w(elevenTests...), "role", gen.CodeInvalidParameterValue, "at most 10"},
		{"not a workflow", w("arn:aws:imagebuilder:us-east-1:aws:component/x/1.0.0/1"), "role", gen.CodeInvalidParameterValue, "is not a workflow ARN"},
		{"duplicate parameter", []gen.WorkflowConfiguration{{WorkflowArn: wfTest, Parameters: []gen.WorkflowParameter{{Name: "a", Value: []string{"1"}}, {Name: "a", Value: []string{"2"}}}}}, "role", gen.CodeInvalidParameterValue, `parameter "a" is given more than once`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := imgCheckWorkflows(tt.ws, tt.role)
			if tt.code == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantAPIError(t, err, tt.code, tt.msg)
		})
	}
}

func TestImgCheckWorkflowParams(t *testing.T) {
	declared := []gen.WorkflowParameterDetail{
		{Name: "waitForActionAtEnd", Type: "boolean", DefaultValue: []string{"true"}},
		{Name: "topic", Type: "string"},
		{Name: "accounts", Type: "stringList", DefaultValue: []string{"1", "2"}},
	}
	p := func(name string, v ...string) gen.WorkflowParameter {
		return gen.WorkflowParameter{Name: name, Value: v}
	}
	tests := []struct {
		name   string
		params []gen.WorkflowParameter
		msg    string
	}{
		{"required given", []gen.WorkflowParameter{p("topic", "t")}, ""},
		{"list", []gen.WorkflowParameter{p("topic", "t"), p("accounts", "1", "2", "3")}, ""},
		{"missing required", nil, `"topic" has no default`},
		{"unknown", []gen.WorkflowParameter{p("topic", "t"), p("nope", "x")}, `"nope" is not declared; declared parameters: waitForActionAtEnd, topic, accounts`},
		{"two values for a scalar", []gen.WorkflowParameter{p("topic", "a", "b")}, "takes exactly one value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := imgCheckWorkflowParams(0, gen.WorkflowConfiguration{WorkflowArn: wfTest, Parameters: tt.params}, declared)
			if tt.msg == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantAPIError(t, err, gen.CodeInvalidParameterValue, tt.msg)
		})
	}
	err := imgCheckWorkflowParams(0, gen.WorkflowConfiguration{WorkflowArn: wfTest, Parameters: []gen.WorkflowParameter{p("x", "1")}}, nil)
	wantAPIError(t, err, gen.CodeInvalidParameterValue, "takes no parameters")
}

func TestPipeCheckSchedule(t *testing.T) {
	sc, err := pipeCheckSchedule(&gen.Schedule{ScheduleExpression: "cron(0 8 ? * MON *)", Timezone: "Europe/Paris"})
	if err != nil {
		t.Fatal(err)
	}
	if sc.PipelineExecutionStartCondition != gen.PipelineExecutionStartConditionEXPRESSIONMATCHANDDEPENDENCYUPDATESAVAILABLE {
		t.Fatalf("default start condition = %q", sc.PipelineExecutionStartCondition)
	}
	sc, err = pipeCheckSchedule(&gen.Schedule{ScheduleExpression: "rate(1 day)", PipelineExecutionStartCondition: gen.PipelineExecutionStartConditionEXPRESSIONMATCHONLY})
	if err != nil || sc.PipelineExecutionStartCondition != gen.PipelineExecutionStartConditionEXPRESSIONMATCHONLY {
		t.Fatalf("%v %+v", err, sc)
	}
	if sc, err := pipeCheckSchedule(nil); sc != nil || err != nil {
		t.Fatalf("nil schedule: %v %v", sc, err)
	}
	_, err = pipeCheckSchedule(&gen.Schedule{ScheduleExpression: "cron(0 8 * * * *)"})
	wantAPIError(t, err, gen.CodeInvalidParameterValue, "schedule.scheduleExpression")
	_, err = pipeCheckSchedule(&gen.Schedule{ScheduleExpression: "rate(1 days)"})
	wantAPIError(t, err, gen.CodeInvalidParameterValue, "singular")
	_, err = pipeCheckSchedule(&gen.Schedule{ScheduleExpression: "rate(1 day)", Timezone: "Mars/Olympus_Mons"})
	wantAPIError(t, err, gen.CodeInvalidParameterValue, "schedule.timezone")
}

func TestPipeNextRun(t *testing.T) {
	now := time.Date(2024, 3, 9, 12, 0, 0, 0, time.UTC)
	p := func(status gen.PipelineStatus, expr, tz, updated string) *gen.ImagePipeline {
		return &gen.ImagePipeline{Status: status, DateUpdated: updated,
			Schedule: &gen.Schedule{ScheduleExpression: expr, Timezone: tz}}
	}
	tests := []struct {
		name string
		p    *gen.ImagePipeline
		want string
	}{
		{"cron", p("ENABLED", "cron(0 8 * * ? *)", "", ""), "2024-03-10T08:00:00.000Z"},
		{"cron in a zone across DST", p("ENABLED", "cron(30 2 * * ? *)", "America/New_York", ""), "2024-03-11T06:30:00.000Z"},
		{"rate from dateUpdated", p("ENABLED", "rate(5 hours)", "", "2024-03-09T09:30:00.000Z"), "2024-03-09T14:30:00.000Z"},
		{"disabled", p("DISABLED", "cron(0 8 * * ? *)", "", ""), ""},
		{"no expression", p("ENABLED", "", "", ""), ""},
		{"no schedule", &gen.ImagePipeline{Status: "ENABLED"}, ""},
		{"never again", p("ENABLED", "cron(0 0 1 1 ? 2020)", "", ""), ""},
	}
	for _, tt := range tests {
		if got := pipeNextRun(tt.p, now); got != tt.want {
			t.Errorf("%s: dateNextRun = %q, want %q", tt.name, got, tt.want)
		}
	}
}
