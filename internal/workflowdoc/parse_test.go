package workflowdoc

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// corpusTypes is the workflow type each corpus document was created with
// (testdata/corpus/SOURCES.md); documents not listed must pass as some type.
var corpusTypes = map[string]string{
	"approval-gate-build.yml":                         TypeBuild,
	"awscli-create-workflow-my-example-workflow.yaml": TypeBuild,
	"awscli-get-workflow-wait-for-action-at-end.yaml": TypeBuild,
	"cdk-workflow-data-build-image.yaml":              TypeBuild,
	"cloudsnorkel-build-container-docker-setup.json":  TypeBuild,
	"packer-build.yml":                                TypeBuild,
	"tf-acc-test-image-replica.yaml":                  TypeTest,
}

func corpusFiles(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob("testdata/corpus/*")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range files {
		if filepath.Ext(f) != ".md" {
			out = append(out, f)
		}
	}
	if len(out) < 8 {
		t.Fatalf("corpus has %d documents, want at least 8", len(out))
	}
	return out
}

// TestCorpus: every corpus document validates (for its type), every
// NEGATIVE one is refused with a message naming its line.
func TestCorpus(t *testing.T) {
	located := regexp.MustCompile(`^[^:]+:\d+(:\d+)?: `)
	for _, f := range corpusFiles(t) {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			doc, err := Parse(name, data)
			if strings.Contains(name, "NEGATIVE") {
				if err == nil {
					t.Fatal("NEGATIVE document was accepted")
				}
				var es Errors
				if !errors.As(err, &es) || len(es) == 0 {
					t.Fatalf("error is not Errors: %v", err)
				}
				for _, e := range es {
					if e.Line == 0 || !located.MatchString(e.Error()) {
						t.Errorf("error without a line: %v", e)
					}
				}
				t.Logf("refused: %v", err)
				return
			}
			if err != nil {
				t.Fatalf("valid document refused: %v", err)
			}
			if len(doc.Steps) == 0 {
				t.Fatal("no steps parsed")
			}
			types := []string{TypeBuild, TypeTest, TypeDistribution}
			if typ, ok := corpusTypes[name]; ok {
				types = []string{typ}
			}
			var typeErr error
			for _, typ := range types {
				if typeErr = doc.CheckType(name, typ); typeErr == nil {
					break
				}
			}
			if typeErr != nil {
				t.Fatalf("document refused for its type: %v", typeErr)
			}
		})
	}
}

func TestNegativeCorpusMessages(t *testing.T) {
	data, err := os.ReadFile("testdata/corpus/cdk-minimal-test-workflow-NEGATIVE.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Parse("neg.yaml", data)
	for _, want := range []string{
		`neg.yaml:4:5: steps[0] (launch-instance): inputs.waitFor: LaunchInstance requires input "waitFor"`,
		`neg.yaml:9:7: steps[1] (run-command): inputs.commands: unknown input "commands" for RunCommand`,
		`steps[1] (run-command): inputs.instanceId: RunCommand requires input "instanceId"`,
		`steps[1] (run-command): inputs.documentName: RunCommand requires input "documentName"`,
		`neg.yaml:11:5: steps[2] (terminate-instance): inputs.instanceId: TerminateInstance requires input "instanceId"`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v\nlacks %q", err, want)
		}
	}
}

func TestParseModel(t *testing.T) {
	doc, err := Parse("w.yaml", []byte(`
name: wf
description: d
schemaVersion: "1.0"
parameters:
  - name: flag
    type: boolean
    default: true
  - name: hosts
    type: stringList
    default: [a, b]
  - name: count
    type: integer
  - name: untyped
steps:
  - name: Launch
    action: LaunchInstance
    timeoutSeconds: 600
    inputs:
      waitFor: ssmAgent
      instanceTypesOverride: [t3.micro, local.small]
  - name: Wait
    action: WaitForAction
    onFailure: continue
    rollbackEnabled: false
    if:
      and:
        - booleanEquals: true
          value: $.parameters.flag
        - not:
            numberGreaterThan: 3
            value: $.parameters.count
  - name: Terminate
    action: TerminateInstance
    inputs:
      instanceId.$: $.stepOutputs.Launch.instanceId
outputs:
  - name: InstanceId
    value: $.stepOutputs.Launch.instanceId
`))
	if err != nil {
		t.Fatal(err)
	}
	if doc.Name != "wf" || doc.SchemaVersion != "1.0" || len(doc.Steps) != 3 || len(doc.Outputs) != 1 {
		t.Fatalf("doc = %+v", doc)
	}
	p := doc.Parameters
	if len(p) != 4 || p[0].Type != "boolean" || strings.Join(p[0].Default, ",") != "true" ||
		p[1].Type != "stringList" || strings.Join(p[1].Default, ",") != "a,b" ||
		p[2].Default != nil || p[3].Type != "string" {
		t.Fatalf("parameters = %+v", p)
	}
	launch, wait, term := doc.Steps[0], doc.Steps[1], doc.Steps[2]
	if launch.TimeoutSeconds != 600 || !launch.TimeoutSet || launch.OnFailure != "Abort" {
		t.Errorf("launch = %+v", launch)
	}
	if wait.OnFailure != "Continue" || wait.RollbackEnabled != "false" || wait.TimeoutSeconds != 3*day {
		t.Errorf("wait = %+v", wait)
	}
	if wait.If == nil || wait.If.Op != "and" || len(wait.If.Children) != 2 || wait.If.Children[1].Op != "not" ||
		wait.If.Children[1].Children[0].Operand != "3" || wait.If.Children[0].Value != "$.parameters.flag" {
		t.Errorf("if = %+v", wait.If)
	}
	if term.TimeoutSeconds != 30*minute || term.Inputs == nil {
		t.Errorf("terminate = %+v", term)
	}
}

// TestParseErrors: each broken document is refused with a located message
// naming the step and field.
func TestParseErrors(t *testing.T) {
	const head = "schemaVersion: 1.0\nsteps:\n"
	launch := "  - name: Launch\n    action: LaunchInstance\n    inputs:\n      waitFor: ssmAgent\n"
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"yaml", "steps: [", "w.yaml:1: not valid YAML or JSON"},
		{"empty", "", "the document is empty"},
		{"not a mapping", "- a\n- b\n", "w.yaml:1:1: a workflow document must be a mapping"},
		{"no schema", "steps:\n" + launch, "w.yaml:1:1: schemaVersion: is required"},
		{"bad schema", "schemaVersion: 2.0\nsteps:\n" + launch, `w.yaml:1:16: schemaVersion: "2.0" is not supported`},
		{"unknown top key", head + launch + "phases: []\n", `w.yaml:7:1: phases: unknown key "phases"`},
		{"no steps", "schemaVersion: 1.0\n", "steps: is required"},
		{"empty steps", "schemaVersion: 1.0\nsteps: []\n", "steps: needs at least one step"},
		{"too many steps", head + strings.Repeat(launch, 16), "16 steps; at most 15"},
		{"bad step name", head + "  - name: 1bad\n    action: WaitForAction\n", `w.yaml:3:11: steps[0] (1bad): name: "1bad" must start with a letter`},
		{"one-letter step name", head + "  - name: A\n    action: WaitForAction\n", `name: "A" must start with a letter`},
		{"duplicate step", head + launch + launch, `w.yaml:7:11: steps[1] (Launch): name: step name "Launch" is already used by steps[0]`},
		{"missing name", head + "  - action: WaitForAction\n", "w.yaml:3:5: steps[0]: name: is required"},
		{"missing action", head + "  - name: Wait\n", "w.yaml:3:5: steps[0] (Wait): action: is required"},
		{"unknown action", head + "  - name: Wait\n    action: Sleep\n", `w.yaml:4:13: steps[0] (Wait): action: "Sleep" is not a workflow step action`},
		{"unknown step key", head + "  - name: Wait\n    action: WaitForAction\n    waitSeconds: 5\n", `w.yaml:5:5: steps[0] (Wait): waitSeconds: unknown key "waitSeconds"`},
		{"timeoutInSeconds", head + "  - name: Wait\n    action: WaitForAction\n    timeoutInSeconds: 5\n", "the key is timeoutSeconds"},
		{"timeout above max", head + launch + "    timeoutSeconds: 43201\n", "w.yaml:7:21: steps[0] (Launch): timeoutSeconds: 43201 exceeds the maximum of 43200 seconds for LaunchInstance"},
		{"timeout zero", head + launch + "    timeoutSeconds: 0\n", "timeoutSeconds: 0 must be at least 1"},
		{"timeout text", head + launch + "    timeoutSeconds: soon\n", "is not a whole number of seconds"},
		{"onFailure", head + launch + "    onFailure: Ignore\n", `onFailure: "Ignore" is not allowed; use Abort or Continue`},
		{"rollbackEnabled", head + launch + "    rollbackEnabled: maybe\n", "rollbackEnabled: \"maybe\" must be true, false or a JSONPath"},
		{"missing required input", head + "  - name: Launch\n    action: LaunchInstance\n", `inputs.waitFor: LaunchInstance requires input "waitFor"`},
		{"bad enum", head + "  - name: Launch\n    action: LaunchInstance\n    inputs:\n      waitFor: ssh\n", `w.yaml:6:16: steps[0] (Launch): inputs.waitFor: "ssh" is not allowed; use ssmAgent`},
		{"unknown input", head + launch + "      sleep: 5\n", `inputs.sleep: unknown input "sleep" for LaunchInstance`},
		{"input twice", head + launch + "      waitFor.$: $.parameters.x\n", `input "waitFor" is given twice`},
		{"list input", head + launch + "      instanceTypesOverride: t3.micro\n", "inputs.instanceTypesOverride: must be a list of strings"},
		{"bool input", head + launch + "  - name: Stop\n    action: TerminateInstance\n    inputs:\n      instanceId: i-1\n      waitForTermination: soon\n", `inputs.waitForTermination: "soon" is not a boolean`},
		{"step output of later step", head + "  - name: Run\n    action: ExecuteComponents\n    inputs:\n      instanceId.$: $.stepOutputs.Launch.instanceId\n" + launch,
			`w.yaml:6:21: steps[0] (Run): inputs.instanceId.$: "$.stepOutputs.Launch.instanceId" refers to step "Launch", which does not run before this one`},
		{"step output of itself", head + "  - name: Run\n    action: ExecuteComponents\n    inputs:\n      instanceId.$: $.stepOutputs.Run.runCommandId\n", "which does not run before this one"},
		{"unknown step", head + launch + "  - name: Run\n    action: ExecuteComponents\n    inputs:\n      instanceId.$: $.stepOutputs.Nope.instanceId\n", `refers to step "Nope", which does not exist`},
		{"unknown output", head + launch + "  - name: Run\n    action: ExecuteComponents\n    inputs:\n      instanceId.$: $.stepOutputs.Launch.imageId\n", `step Launch (LaunchInstance) has no output "imageId" (outputs: instanceId)`},
		{"no output name", head + launch + "  - name: Run\n    action: ExecuteComponents\n    inputs:\n      instanceId.$: $.stepOutputs.Launch\n", "must name a step and an output"},
		{"undeclared parameter", head + "  - name: Wait\n    action: WaitForAction\n    inputs:\n      snsTopicArn.$: $.parameters.topic\n", `refers to parameter "topic", which the document does not declare`},
		{"unknown system variable", head + "  - name: Wait\n    action: WaitForAction\n    if:\n      stringEquals: AMI\n      value: $.imagebuilder.flavour\n", `w.yaml:7:14: steps[0] (Wait): if.value: "$.imagebuilder.flavour": "flavour" is not an Image Builder system variable`},
		{"unknown root", head + "  - name: Wait\n    action: WaitForAction\n    inputs:\n      payload.$: $.context.x\n", `unknown root "context"`},
		{"bad jsonpath", head + "  - name: Wait\n    action: WaitForAction\n    inputs:\n      payload.$: $.parameters..x\n", "is not a supported JSONPath"},
		{".$ literal", head + "  - name: Wait\n    action: WaitForAction\n    inputs:\n      payload.$: hello\n", `inputs.payload.$: "hello" is neither a JSONPath`},
		{".$ not scalar", head + "  - name: Wait\n    action: WaitForAction\n    inputs:\n      payload.$: [a]\n", "a .$ input takes a JSONPath string"},
		{"interpolation", head + "  - name: Wait\n    action: WaitForAction\n    inputs:\n      payload: 'AMI {{ $.parameters.nope }}'\n", `refers to parameter "nope"`},
		{"if not mapping", head + "  - name: Wait\n    action: WaitForAction\n    if: true\n", "if: a condition must be a mapping"},
		{"if unknown op", head + "  - name: Wait\n    action: WaitForAction\n    if:\n      stringContains: a\n      value: b\n", `if.stringContains: unknown condition operator "stringContains"`},
		{"if two ops", head + "  - name: Wait\n    action: WaitForAction\n    if:\n      stringEquals: a\n      numberEquals: 1\n      value: b\n", "a condition has one operator"},
		{"if no value", head + "  - name: Wait\n    action: WaitForAction\n    if:\n      stringEquals: a\n", "if.value: stringEquals needs a value"},
		{"if bool operand", head + "  - name: Wait\n    action: WaitForAction\n    if:\n      booleanEquals: yes please\n      value: $.imagebuilder.collectImageMetadata\n", `if.booleanEquals: "yes please" is not a boolean`},
		{"if number operand", head + "  - name: Wait\n    action: WaitForAction\n    if:\n      numberEquals: one\n      value: $.imagebuilder.imageBuildNumber\n", `"one" is not a number`},
		{"if empty and", head + "  - name: Wait\n    action: WaitForAction\n    if:\n      and: []\n", "and takes a list of 1 to 10 conditions"},
		{"if too deep", head + "  - name: Wait\n    action: WaitForAction\n    if:\n      not:\n        not:\n          not:\n            not:\n              not:\n                stringEquals: a\n                value: b\n", "conditions nest at most 4 levels deep"},
		{"param type", "schemaVersion: 1.0\nparameters:\n  - name: p\n    type: float\nsteps:\n" + launch, `w.yaml:4:11: parameters[0] (p): type: "float" is not a parameter type`},
		{"param default", "schemaVersion: 1.0\nparameters:\n  - name: p\n    type: integer\n    default: x\nsteps:\n" + launch, `parameters[0] (p): default: "x" is not an integer`},
		{"param dup", "schemaVersion: 1.0\nparameters:\n  - name: p\n  - name: p\nsteps:\n" + launch, `parameter "p" is declared twice`},
		{"param no name", "schemaVersion: 1.0\nparameters:\n  - type: string\nsteps:\n" + launch, "parameters[0]: name: is required"},
		{"output not path", head + launch + "outputs:\n  - name: Id\n    value: ami-1\n", `w.yaml:9:12: outputs[0] (Id): value: "ami-1" must be a JSONPath`},
		{"output dup", head + launch + "outputs:\n  - name: Id\n    value: $.stepOutputs.Launch.instanceId\n  - name: Id\n    value: $.stepOutputs.Launch.instanceId\n", `output "Id" is declared twice`},
		{"output unknown step", head + launch + "outputs:\n  - name: Id\n    value: $.stepOutputs.Create.imageId\n", `refers to step "Create", which does not exist`},
		{"distribution entry region", head + "  - name: Dist\n    action: DistributeImage\n    inputs:\n      distributions:\n        - name: x\n", "inputs.distributions[0].region: is required"},
		{"distribution unknown field", head + "  - name: Dist\n    action: DistributeImage\n    inputs:\n      distributions:\n        - region: us-east-1\n          color: red\n", `unknown field "color"`},
		{"container and ami distribution", head + "  - name: Push\n    action: DistributeContainerImage\n    inputs:\n      instanceId: i-1\n  - name: Dist\n    action: DistributeImage\n", "DistributeContainerImage (step Push) cannot be combined with DistributeImage (step Dist)"},
		{"modify needs images", head + "  - name: Modify\n    action: ModifyImageAttributes\n", `ModifyImageAttributes requires input "distributedImages"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("w.yaml", []byte(tc.doc))
			if err == nil {
				t.Fatalf("accepted; want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q\nlacks %q", err, tc.want)
			}
		})
	}
}

// TestParseAccepts: documents the rules allow (documents.md §2.3–2.5).
func TestParseAccepts(t *testing.T) {
	for _, tc := range []struct{ name, doc string }{
		{"schema 1", "schemaVersion: 1\nsteps:\n  - name: Wait\n    action: WaitForAction\n"},
		{"bare jsonpath input", "schemaVersion: 1.0\nsteps:\n  - name: Launch\n    action: LaunchInstance\n    inputs: {waitFor: ssmAgent}\n  - name: Run\n    action: ExecuteComponents\n    inputs:\n      instanceId: $.stepOutputs.Launch.instanceId\n"},
		{"template .$ value", "schemaVersion: 1.0\nparameters:\n  - name: max\nsteps:\n  - name: Check\n    action: ExecuteStateMachine\n    inputs:\n      stateMachineArn: arn:aws:states:us-east-1:111122223333:stateMachine:x\n      input.$: |\n        {\"imageId\": \"{{ $.workflowOutputs.ImageId }}\", \"max\": \"{{ $.parameters.max }}\"}\n"},
		{"placeholders and variables", "schemaVersion: 1.0\nparameters:\n  - name: acct\n    default: ''\nsteps:\n  - name: Dist\n    action: DistributeImage\n    inputs:\n      distributions:\n        - region: ${AWS::Region}\n          name: 'x-{{ imagebuilder:buildDate }}'\n          amiTags: {Release: approved}\n  - name: Share\n    action: ModifyImageAttributes\n    if:\n      not:\n        stringEquals: ''\n        value: $.parameters.acct\n    inputs:\n      distributedImages.$: $.stepOutputs.Dist.distributedImages\n      attributes:\n        - region: ${SecondRegion}\n          launchPermission:\n            userIds: ['{{ $.parameters.acct }}']\n"},
		{"indexed output", "schemaVersion: 1.0\nsteps:\n  - name: Launch\n    action: LaunchInstance\n    inputs: {waitFor: ssmAgent}\n  - name: Get\n    action: RunCommand\n    inputs:\n      instanceId.$: $.stepOutputs.Launch.instanceId\n      documentName: AWS-RunShellScript\n      parameters: {commands: [cat /x]}\noutputs:\n  - name: ImageId\n    value: $.stepOutputs.Get.output[0]\n"},
		{"wait reason as instance", "schemaVersion: 1.0\nsteps:\n  - name: Wait\n    action: WaitForAction\n    inputs: {lambdaFunctionName: f}\n  - name: Run\n    action: ExecuteComponents\n    inputs:\n      instanceId.$: $.stepOutputs.Wait.reason\n"},
		{"register nested .$", "schemaVersion: 1.0\nsteps:\n  - name: Iso\n    action: CreateImageFromIso\n    inputs: {instanceId: i-1}\n  - name: Reg\n    action: RegisterImage\n    inputs:\n      architecture.$: $.stepOutputs.Iso.architecture\n      bootMode: uefi\n      blockDeviceMapping:\n        - DeviceName: /dev/xvda\n          Ebs:\n            SnapshotId.$: $.stepOutputs.Iso.snapshotId\n"},
		{"ssm status casing", "schemaVersion: 1.0\nsteps:\n  - name: Ssm\n    action: WaitForSSMAgent\n    inputs: {instanceId: i-1}\noutputs:\n  - name: S\n    value: $.stepOutputs.Ssm.Status\n"},
		{"platform casing", "schemaVersion: 1.0\nsteps:\n  - name: Wait\n    action: WaitForAction\n    if:\n      stringEquals: Linux\n      value: $.imagebuilder.Platform\n"},
		{"json", `{"schemaVersion": "1.0", "steps": [{"name": "Wait", "action": "WaitForAction"}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Parse("w.yaml", []byte(tc.doc)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestBareJSONPathWarns(t *testing.T) {
	doc, err := Parse("w.yaml", []byte("schemaVersion: 1.0\nsteps:\n  - name: Launch\n    action: LaunchInstance\n    inputs: {waitFor: ssmAgent}\n  - name: Stop\n    action: TerminateInstance\n    inputs:\n      instanceId: $.stepOutputs.Launch.instanceId\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.Warnings) != 1 || !strings.Contains(doc.Warnings[0].Error(), "w.yaml:9:19: steps[1] (Stop): inputs.instanceId: ") {
		t.Fatalf("warnings = %v", doc.Warnings)
	}
	if _, err := Parse("w.yaml", []byte("schemaVersion: 1.0\nsteps:\n  - name: Stop\n    action: TerminateInstance\n    inputs:\n      instanceId: $.stepOutputs.Gone.instanceId\n")); err == nil {
		t.Fatal("a bare JSONPath to a missing step was accepted")
	}
}

func TestCheckType(t *testing.T) {
	for _, tc := range []struct {
		action, typ string
		ok          bool
	}{
		{"ExecuteComponents", TypeBuild, true},
		{"ExecuteComponents", TypeTest, true},
		{"ExecuteComponents", TypeDistribution, false},
		{"CollectImageScanFindings", TypeTest, true},
		{"CollectImageScanFindings", TypeBuild, false},
		{"CollectImageMetadata", TypeBuild, true},
		{"CollectImageMetadata", TypeTest, false},
		{"DistributeImage", TypeDistribution, true},
		{"DistributeImage", TypeBuild, false},
		{"DistributeContainerImage", TypeTest, false},
		{"WaitForAction", TypeDistribution, true},
		{"LaunchInstance", TypeTest, true},
	} {
		a := actions[tc.action]
		var in strings.Builder
		for n, s := range a.Inputs {
			if s.required {
				in.WriteString("      " + n + ": x\n")
			}
		}
		if tc.action == "LaunchInstance" {
			in.Reset()
			in.WriteString("      waitFor: ssmAgent\n")
		}
		src := "schemaVersion: 1.0\nsteps:\n  - name: Step\n    action: " + tc.action + "\n"
		if in.Len() > 0 {
			src += "    inputs:\n" + in.String()
		}
		doc, err := Parse("w.yaml", []byte(src))
		if err != nil {
			t.Fatalf("%s: %v", tc.action, err)
		}
		err = doc.CheckType("w.yaml", tc.typ)
		if (err == nil) != tc.ok {
			t.Errorf("%s in %s: err = %v, want ok=%v", tc.action, tc.typ, err, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "w.yaml:3:5: steps[0] (Step): action: action "+tc.action+" is not allowed in a "+tc.typ+" workflow") {
			t.Errorf("message: %v", err)
		}
	}
}

func TestAliasBomb(t *testing.T) {
	src := "schemaVersion: 1.0\na: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\nsteps:\n  - name: Wait\n    action: WaitForAction\n    inputs:\n      payload: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
	if _, err := Parse("w.yaml", []byte(src)); err == nil {
		t.Fatal("accepted")
	}
}

func TestParsePath(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
		ok   bool
	}{
		{"$.stepOutputs.A.output[0]", "stepOutputs,A,output,[0]", true},
		{"$.imagebuilder.s3Logs.s3BucketName", "imagebuilder,s3Logs,s3BucketName", true},
		{"$", "", false},
		{"$.", "", false},
		{"$.a[x]", "", false},
		{"stepOutputs.A", "", false},
	} {
		got, err := ParsePath(tc.in)
		if (err == nil) != tc.ok || (tc.ok && strings.Join(got, ",") != tc.want) {
			t.Errorf("ParsePath(%q) = %v, %v", tc.in, got, err)
		}
	}
}

// FuzzParse: Parse never panics, and what it accepts has steps with known
// actions and located errors otherwise. Seeds: the corpus.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/corpus/*")
	for _, file := range files {
		if filepath.Ext(file) == ".md" {
			continue
		}
		if b, err := os.ReadFile(file); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("schemaVersion: 1.0\nsteps:\n  - name: W\n    action: WaitForAction\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := Parse("f.yaml", data)
		if err != nil {
			var es Errors
			if !errors.As(err, &es) || len(es) == 0 {
				t.Fatalf("error is not Errors: %v", err)
			}
			return
		}
		if len(doc.Steps) == 0 || len(doc.Steps) > MaxSteps {
			t.Fatalf("accepted %d steps", len(doc.Steps))
		}
		for _, st := range doc.Steps {
			if _, ok := Action(st.Action); !ok {
				t.Fatalf("accepted unknown action %q", st.Action)
			}
			_ = doc.CheckType("f.yaml", TypeBuild)
		}
	})
}
