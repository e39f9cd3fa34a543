package workflowdoc

import (
	"slices"
	"sort"
	"strings"
)

// Workflow types (the stage a workflow runs in), as CreateWorkflow names them.
const (
	TypeBuild        = "BUILD"
	TypeTest         = "TEST"
	TypeDistribution = "DISTRIBUTION"
)

// valueKind is the shape an action input takes.
type valueKind int

const (
	kindAny        valueKind = iota
	kindString               // a scalar
	kindBool                 // true/false (also quoted)
	kindStringList           // a list of scalars
	kindStringMap            // a mapping of scalar values
	kindParamMap             // RunCommand parameters: name → scalar or list of scalars
	kindMapList              // a list of mappings (entries checked by fields)
)

// inputSpec describes one input of a step action.
type inputSpec struct {
	required bool
	kind     valueKind
	enum     []string             // allowed scalar values (kindString)
	fields   map[string]inputSpec // entries of a kindMapList
}

// ActionSpec describes one workflow step action (documents.md §2.5).
type ActionSpec struct {
	Name string
	// DefaultTimeout and MaxTimeout are in seconds; a step's timeoutSeconds
	// above MaxTimeout is refused.
	DefaultTimeout, MaxTimeout int
	// Stages lists the workflow types the action may appear in.
	Stages  []string
	Inputs  map[string]inputSpec
	Outputs []string // output names, addressable as $.stepOutputs.<step>.<name>
}

const (
	minute = 60
	hour   = 60 * minute
	day    = 24 * hour
)

var (
	allStages      = []string{TypeBuild, TypeTest, TypeDistribution}
	instanceInputs = map[string]inputSpec{"instanceId": {required: true, kind: kindString}}
	commandOutputs = []string{"runCommandId", "status", "output"}
	region         = inputSpec{required: true, kind: kindString}
)

func spec(name string, def, max int, stages []string, inputs map[string]inputSpec, outputs ...string) *ActionSpec {
	return &ActionSpec{Name: name, DefaultTimeout: def, MaxTimeout: max, Stages: stages, Inputs: inputs, Outputs: outputs}
}

// actions is the closed set of step actions, with their default and
// maximum timeouts, stages, inputs and outputs.
var actions = map[string]*ActionSpec{}

func init() {
	for _, a := range []*ActionSpec{
		spec("LaunchInstance", 75*minute, 12*hour, allStages, map[string]inputSpec{
			"waitFor":               {required: true, kind: kindString, enum: []string{"ssmAgent"}},
			"imageIdOverride":       {kind: kindString},
			"instanceTypesOverride": {kind: kindStringList},
			"healthCheck":           {kind: kindString, enum: []string{"RUNNING", "STATUS_CHECK_PASSED"}},
		}, "instanceId"),
		spec("ExecuteComponents", 12*hour, 24*hour, []string{TypeBuild, TypeTest}, instanceInputs, commandOutputs...),
		spec("BootstrapInstanceForContainer", 60*minute, 12*hour, allStages, instanceInputs, commandOutputs...),
		// C6: build workflows only.
		spec("CollectImageMetadata", 30*minute, 12*hour, []string{TypeBuild}, instanceInputs, "osVersion", "associationId"),
		spec("CollectImageScanFindings", 120*minute, 12*hour, []string{TypeTest}, instanceInputs, commandOutputs...),
		spec("SanitizeInstance", 60*minute, 12*hour, allStages, instanceInputs, commandOutputs...),
		spec("RunSysPrep", 60*minute, 12*hour, allStages, instanceInputs, commandOutputs...),
		spec("CreateImage", 12*hour, 3*day, allStages, instanceInputs, "imageId"),
		spec("CreateImageFromIso", 12*hour, 12*hour, allStages, instanceInputs, "amiName", "snapshotId", "architecture"),
		spec("RegisterImage", 9*hour, 12*hour, allStages, map[string]inputSpec{
			"architecture":        {kind: kindString, enum: []string{"i386", "x86_64", "arm64", "x86_64_mac", "arm64_mac"}},
			"blockDeviceMapping":  {kind: kindAny},
			"bootMode":            {kind: kindString, enum: []string{"legacy-bios", "uefi", "uefi-preferred"}},
			"description":         {kind: kindString},
			"enaSupport":          {kind: kindBool},
			"imageLocation":       {kind: kindString},
			"imdsSupport":         {kind: kindString, enum: []string{"v2.0"}},
			"includeSnapshotTags": {kind: kindBool},
			"kernelId":            {kind: kindString},
			"ramdiskId":           {kind: kindString},
			"rootDeviceName":      {kind: kindString},
			"sriovNetSupport":     {kind: kindString},
			"tpmSupport":          {kind: kindString, enum: []string{"v2.0"}},
			"uefiData":            {kind: kindString},
			"virtualizationType":  {kind: kindString, enum: []string{"hvm", "paravirtual"}},
		}, "imageId"),
		spec("RunCommand", 12*hour, 12*hour, allStages, map[string]inputSpec{
			"instanceId":      {required: true, kind: kindString},
			"documentName":    {required: true, kind: kindString},
			"parameters":      {kind: kindParamMap},
			"documentVersion": {kind: kindString},
		}, commandOutputs...),
		spec("WaitForSSMAgent", 60*minute, 3*hour, allStages, instanceInputs, "status"),
		spec("WaitForAction", 3*day, 7*day, allStages, map[string]inputSpec{
			"snsTopicArn":        {kind: kindString},
			"lambdaFunctionName": {kind: kindString},
			"payload":            {kind: kindString},
		}, "action", "reason"),
		spec("ExecuteStateMachine", 6*hour, 24*hour, allStages, map[string]inputSpec{
			"stateMachineArn": {required: true, kind: kindString},
			"input":           {kind: kindString},
		}, "executionArn", "output"),
		spec("TerminateInstance", 30*minute, 12*hour, allStages, map[string]inputSpec{
			"instanceId":         {required: true, kind: kindString},
			"waitForTermination": {kind: kindBool},
		}),
		spec("DistributeImage", 6*hour, 12*hour, []string{TypeDistribution}, map[string]inputSpec{
			"distributions": {kind: kindMapList, fields: map[string]inputSpec{
				"region": region, "name": {kind: kindString}, "description": {kind: kindString},
				"targetAccountIds": {kind: kindStringList}, "amiTags": {kind: kindStringMap}, "kmsKeyId": {kind: kindString},
			}},
		}, "distributedImages"),
		spec("ModifyImageAttributes", 2*hour, 3*hour, []string{TypeDistribution}, map[string]inputSpec{
			"distributedImages": {required: true, kind: kindAny},
			"attributes": {kind: kindMapList, fields: map[string]inputSpec{
				"region": region, "launchPermission": {kind: kindAny},
			}},
		}, "modifiedImages"),
		spec("ApplyImageConfigurations", 6*hour, 12*hour, []string{TypeDistribution}, map[string]inputSpec{
			"distributedImages": {required: true, kind: kindAny},
			"configurations": {kind: kindMapList, fields: map[string]inputSpec{
				"region": region, "licenseConfigurationArns": {kind: kindStringList},
				"launchTemplateConfigurations": {kind: kindAny}, "s3ExportConfiguration": {kind: kindAny},
				"fastLaunchConfigurations": {kind: kindAny}, "ssmParameterConfigurations": {kind: kindAny},
			}},
		}, "configuredImages"),
		spec("DistributeContainerImage", 2*hour, 12*hour, []string{TypeDistribution}, instanceInputs, "status", "succeededRegions", "failedRegions"),
	} {
		actions[a.Name] = a
	}
}

// Action returns the specification of a step action.
func Action(name string) (*ActionSpec, bool) {
	a, ok := actions[name]
	return a, ok
}

// Actions lists the names of every step action, sorted.
func Actions() []string {
	out := make([]string, 0, len(actions))
	for n := range actions {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// hasOutput reports whether the action produces the named output
// (case-insensitively: older documents write WaitForSSMAgent's "Status").
func (a *ActionSpec) hasOutput(name string) bool {
	return slices.ContainsFunc(a.Outputs, func(o string) bool { return strings.EqualFold(o, name) })
}

// amiDistributionActions cannot be mixed with DistributeContainerImage.
var amiDistributionActions = []string{"DistributeImage", "ModifyImageAttributes", "ApplyImageConfigurations"}

// systemVariables are the $.imagebuilder.<var> names (compared
// case-insensitively: the guide once writes Platform).
var systemVariables = []string{
	"cloudWatchLogGroup", "cloudWatchLogStream", "collectImageMetadata", "collectImageScanFindings",
	"imageBuildNumber", "imageId", "imageName", "imageType", "imageVersionNumber", "instanceProfileName",
	"platform", "s3Logs", "securityGroups", "sourceImageARN", "subnetId", "terminateInstanceOnFailure",
	"workflowPhase", "workingDirectory", "dateTime",
}

// SystemVariables lists the $.imagebuilder variables a document may read.
func SystemVariables() []string { return slices.Clone(systemVariables) }
