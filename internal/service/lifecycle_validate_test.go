package service

import (
	"strings"
	"testing"

	"github.com/goldsmith/goldsmith/internal/api/gen"
)

func TestCheckLifecycle(t *testing.T) {
	s := &Service{regions: []string{"us-east-1", "eu-west-1"}}
	c := Caller{Account: "000000000000", Region: "us-east-1"}
	rule := func(action gen.LifecyclePolicyDetailActionType, typ gen.LifecyclePolicyDetailFilterType, v int32, unit gen.LifecyclePolicyTimeUnit) gen.LifecyclePolicyDetail {
		return gen.LifecyclePolicyDetail{Action: &gen.LifecyclePolicyDetailAction{Type: action}, Filter: &gen.LifecyclePolicyDetailFilter{Type: typ, Value: &v, Unit: unit}}
	}
	recipes := &gen.LifecyclePolicyResourceSelection{Recipes: []gen.LifecyclePolicyResourceSelectionRecipe{{Name: "my-recipe", SemanticVersion: "1.x.x"}}}
	base := func(mod func(*lifecycleSpec)) *lifecycleSpec {
		sp := &lifecycleSpec{ExecutionRole: "LifecycleRole", ResourceType: gen.LifecyclePolicyResourceTypeAMIIMAGE,
			PolicyDetails:     []gen.LifecyclePolicyDetail{rule("DELETE", "COUNT", 5, "")},
			ResourceSelection: recipes}
		if mod != nil {
			mod(sp)
		}
		return sp
	}
	cases := []struct {
		label string
		sp    *lifecycleSpec
		want  string
	}{
		{"ok", base(nil), ""},
		{"ok three stages by age", base(func(sp *lifecycleSpec) {
			sp.PolicyDetails = []gen.LifecyclePolicyDetail{rule("DEPRECATE", "AGE", 4, "WEEKS"), rule("DISABLE", "AGE", 2, "MONTHS"), rule("DELETE", "AGE", 1, "YEARS")}
		}), ""},
		{"ok tags", base(func(sp *lifecycleSpec) {
			sp.ResourceSelection = &gen.LifecyclePolicyResourceSelection{TagMap: map[string]string{"env": "dev"}}
		}), ""},
		{"role of another account", base(func(sp *lifecycleSpec) { sp.ExecutionRole = "arn:aws:iam::999999999999:role/r" }), "belongs to account 999999999999"},
		{"bad status", base(func(sp *lifecycleSpec) { sp.Status = "PAUSED" }), "status"},
		{"dup action", base(func(sp *lifecycleSpec) {
			sp.PolicyDetails = []gen.LifecyclePolicyDetail{rule("DELETE", "COUNT", 5, ""), rule("DELETE", "COUNT", 9, "")}
		}), "one rule per action"},
		{"count with unit", base(func(sp *lifecycleSpec) {
			sp.PolicyDetails = []gen.LifecyclePolicyDetail{rule("DELETE", "COUNT", 5, "DAYS")}
		}), "applies to AGE filters only"},
		{"count with retain", base(func(sp *lifecycleSpec) {
			d := rule("DELETE", "COUNT", 5, "")
			d.Filter.RetainAtLeast = i32p(2)
			sp.PolicyDetails = []gen.LifecyclePolicyDetail{d}
		}), "retainAtLeast applies to AGE"},
		{"age without unit", base(func(sp *lifecycleSpec) { sp.PolicyDetails = []gen.LifecyclePolicyDetail{rule("DELETE", "AGE", 5, "")} }), "unit is required"},
		{"value range", base(func(sp *lifecycleSpec) {
			sp.PolicyDetails = []gen.LifecyclePolicyDetail{rule("DELETE", "COUNT", 1001, "")}
		}), "between 1 and 1000"},
		{"order by age", base(func(sp *lifecycleSpec) {
			sp.PolicyDetails = []gen.LifecyclePolicyDetail{rule("DEPRECATE", "AGE", 90, "DAYS"), rule("DELETE", "AGE", 1, "MONTHS")}
		}), "policyDetails[1] (DELETE images older than 1 MONTHS) would act before policyDetails[0]"},
		{"order by count", base(func(sp *lifecycleSpec) {
			sp.PolicyDetails = []gen.LifecyclePolicyDetail{rule("DISABLE", "COUNT", 10, ""), rule("DELETE", "COUNT", 5, "")}
		}), "would act before"},
		{"mixed filter types are not compared", base(func(sp *lifecycleSpec) {
			sp.PolicyDetails = []gen.LifecyclePolicyDetail{rule("DISABLE", "AGE", 10, "YEARS"), rule("DELETE", "COUNT", 1, "")}
		}), ""},
		{"container deprecate", base(func(sp *lifecycleSpec) {
			sp.ResourceType = gen.LifecyclePolicyResourceTypeCONTAINERIMAGE
			sp.PolicyDetails = []gen.LifecyclePolicyDetail{rule("DEPRECATE", "COUNT", 5, "")}
		}), "DEPRECATE is not available for CONTAINER_IMAGE"},
		{"container amis", base(func(sp *lifecycleSpec) {
			sp.ResourceType = gen.LifecyclePolicyResourceTypeCONTAINERIMAGE
			d := rule("DELETE", "COUNT", 5, "")
			d.Action.IncludeResources = &gen.LifecyclePolicyDetailActionIncludeResources{Amis: boolp(true)}
			sp.PolicyDetails = []gen.LifecyclePolicyDetail{d}
		}), "amis and snapshots apply to AMI_IMAGE"},
		{"ami containers", base(func(sp *lifecycleSpec) {
			d := rule("DELETE", "COUNT", 5, "")
			d.Action.IncludeResources = &gen.LifecyclePolicyDetailActionIncludeResources{Containers: boolp(true)}
			sp.PolicyDetails = []gen.LifecyclePolicyDetail{d}
		}), "containers applies to CONTAINER_IMAGE"},
		{"snapshots on disable", base(func(sp *lifecycleSpec) {
			d := rule("DISABLE", "COUNT", 5, "")
			d.Action.IncludeResources = &gen.LifecyclePolicyDetailActionIncludeResources{Amis: boolp(true), Snapshots: boolp(true)}
			sp.PolicyDetails = []gen.LifecyclePolicyDetail{d}
		}), "snapshots can only be included in a DELETE"},
		{"snapshots without amis", base(func(sp *lifecycleSpec) {
			d := rule("DELETE", "COUNT", 5, "")
			d.Action.IncludeResources = &gen.LifecyclePolicyDetailActionIncludeResources{Snapshots: boolp(true)}
			sp.PolicyDetails = []gen.LifecyclePolicyDetail{d}
		}), "snapshots needs amis"},
		{"exclusion empty", base(func(sp *lifecycleSpec) {
			sp.PolicyDetails[0].ExclusionRules = &gen.LifecyclePolicyDetailExclusionRules{}
		}), "give tagMap, amis or both"},
		{"exclusion region", base(func(sp *lifecycleSpec) {
			sp.PolicyDetails[0].ExclusionRules = &gen.LifecyclePolicyDetailExclusionRules{Amis: &gen.LifecyclePolicyDetailExclusionRulesAmis{Regions: []string{"us-west-2"}}}
		}), `regions[0]: region "us-west-2" is not a site`},
		{"exclusion amis on containers", base(func(sp *lifecycleSpec) {
			sp.ResourceType = gen.LifecyclePolicyResourceTypeCONTAINERIMAGE
			sp.PolicyDetails[0].ExclusionRules = &gen.LifecyclePolicyDetailExclusionRules{Amis: &gen.LifecyclePolicyDetailExclusionRulesAmis{IsPublic: boolp(true)}}
		}), "amis applies to AMI_IMAGE"},
		{"exclusion last launched", base(func(sp *lifecycleSpec) {
			sp.PolicyDetails[0].ExclusionRules = &gen.LifecyclePolicyDetailExclusionRules{Amis: &gen.LifecyclePolicyDetailExclusionRulesAmis{LastLaunched: &gen.LifecyclePolicyDetailExclusionRulesAmisLastLaunched{Value: i32p(30), Unit: "FORTNIGHTS"}}}
		}), "lastLaunched.unit"},
		{"selection both", base(func(sp *lifecycleSpec) {
			sp.ResourceSelection = &gen.LifecyclePolicyResourceSelection{Recipes: recipes.Recipes, TagMap: map[string]string{"a": "b"}}
		}), "not both"},
		{"selection none", base(func(sp *lifecycleSpec) { sp.ResourceSelection = &gen.LifecyclePolicyResourceSelection{} }), "give recipes or tagMap"},
		{"selection missing", base(func(sp *lifecycleSpec) { sp.ResourceSelection = nil }), "resourceSelection is required"},
		{"selection bad wildcard", base(func(sp *lifecycleSpec) {
			sp.ResourceSelection = &gen.LifecyclePolicyResourceSelection{Recipes: []gen.LifecyclePolicyResourceSelectionRecipe{{Name: "r", SemanticVersion: "x.1.x"}}}
		}), "every node after the first 'x'"},
		{"selection dup", base(func(sp *lifecycleSpec) {
			sp.ResourceSelection = &gen.LifecyclePolicyResourceSelection{Recipes: []gen.LifecyclePolicyResourceSelectionRecipe{{Name: "My Recipe", SemanticVersion: "1.0.0"}, {Name: "my-recipe", SemanticVersion: "1.0.0"}}}
		}), "already selected"},
	}
	for _, tc := range cases {
		err := s.checkLifecycle(c, tc.sp)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.label, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want it to contain %q", tc.label, err, tc.want)
		}
	}
	sp := base(nil)
	if err := s.checkLifecycle(c, sp); err != nil || sp.Status != gen.LifecyclePolicyStatusENABLED {
		t.Errorf("default status = %q (%v), want ENABLED", sp.Status, err)
	}
}
