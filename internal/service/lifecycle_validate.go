package service

import (
	"fmt"
	"regexp"
	"slices"

	"github.com/goldsmith/goldsmith/internal/api/gen"
)

// lifecycleSpec is what CreateLifecyclePolicy and UpdateLifecyclePolicy
// share.
type lifecycleSpec struct {
	Description       string
	Status            gen.LifecyclePolicyStatus
	ExecutionRole     string
	ResourceType      gen.LifecyclePolicyResourceType
	PolicyDetails     []gen.LifecyclePolicyDetail
	ResourceSelection *gen.LifecyclePolicyResourceSelection
}

var (
	// lifecycleRegion is the region form the LifecyclePolicyArn pattern
	// demands.
	lifecycleRegion = regexp.MustCompile(`^[a-z]{2,}(?:-[a-z]+)+-[0-9]+$`)
	lifecycleRole   = regexp.MustCompile(`^arn:aws(?:-[a-z]+)*:iam::([0-9]{12}):role/`)
)

// lifecycleStage orders the actions: an image is deprecated, then
// disabled, then deleted.
var lifecycleStage = map[gen.LifecyclePolicyDetailActionType]int{
	gen.LifecyclePolicyDetailActionTypeDEPRECATE: 0,
	gen.LifecyclePolicyDetailActionTypeDISABLE:   1,
	gen.LifecyclePolicyDetailActionTypeDELETE:    2,
}

// unitDays converts an AGE unit to days for comparing rules.
var unitDays = map[gen.LifecyclePolicyTimeUnit]int{
	gen.LifecyclePolicyTimeUnitDAYS: 1, gen.LifecyclePolicyTimeUnitWEEKS: 7,
	gen.LifecyclePolicyTimeUnitMONTHS: 30, gen.LifecyclePolicyTimeUnitYEARS: 365,
}

// checkLifecycle validates a lifecycle policy against the model's
// semantics (documents.md §3.7) and fills in the default status.
func (s *Service) checkLifecycle(c Caller, sp *lifecycleSpec) error {
	switch sp.Status {
	case "":
		sp.Status = gen.LifecyclePolicyStatusENABLED
	case gen.LifecyclePolicyStatusENABLED, gen.LifecyclePolicyStatusDISABLED:
	default:
		return invalidValue("status: %q must be ENABLED or DISABLED", sp.Status)
	}
	if m := lifecycleRole.FindStringSubmatch(sp.ExecutionRole); m != nil && m[1] != c.Account {
		return invalidValue("executionRole: role %q belongs to account %s; the execution role must be in the policy's account %s", sp.ExecutionRole, m[1], c.Account)
	}
	container := false
	switch sp.ResourceType {
	case gen.LifecyclePolicyResourceTypeAMIIMAGE:
	case gen.LifecyclePolicyResourceTypeCONTAINERIMAGE:
		container = true
	default:
		return invalidValue("resourceType: %q must be AMI_IMAGE or CONTAINER_IMAGE", sp.ResourceType)
	}
	if n := len(sp.PolicyDetails); n < 1 || n > 3 {
		return invalidValue("policyDetails: %d rules given; a policy has 1 to 3 rules", n)
	}
	byStage := map[gen.LifecyclePolicyDetailActionType]int{}
	for i := range sp.PolicyDetails {
		d := &sp.PolicyDetails[i]
		p := fmt.Sprintf("policyDetails[%d]", i)
		if err := s.checkLifecycleDetail(p, d, container); err != nil {
			return err
		}
		if j, dup := byStage[d.Action.Type]; dup {
			return invalidValue("%s.action.type: a policy has one rule per action; %s is already the action of policyDetails[%d]", p, d.Action.Type, j)
		}
		byStage[d.Action.Type] = i
	}
	if err := checkLifecycleOrder(sp.PolicyDetails); err != nil {
		return err
	}
	return checkResourceSelection(sp.ResourceSelection)
}

func (s *Service) checkLifecycleDetail(p string, d *gen.LifecyclePolicyDetail, container bool) error {
	a := d.Action
	if a == nil {
		return invalidValue("%s.action is required", p)
	}
	if _, ok := lifecycleStage[a.Type]; !ok {
		return invalidValue("%s.action.type: %q must be DEPRECATE, DISABLE or DELETE", p, a.Type)
	}
	if container && a.Type == gen.LifecyclePolicyDetailActionTypeDEPRECATE {
		return invalidValue("%s.action.type: DEPRECATE is not available for CONTAINER_IMAGE policies (use DISABLE or DELETE)", p)
	}
	if ir := a.IncludeResources; ir != nil {
		set := func(b *bool) bool { return b != nil && *b }
		ip := p + ".action.includeResources"
		switch {
		case container && (set(ir.Amis) || set(ir.Snapshots)):
			return invalidValue("%s: amis and snapshots apply to AMI_IMAGE policies, not CONTAINER_IMAGE", ip)
		case !container && set(ir.Containers):
			return invalidValue("%s: containers applies to CONTAINER_IMAGE policies, not AMI_IMAGE", ip)
		case set(ir.Containers) && a.Type != gen.LifecyclePolicyDetailActionTypeDELETE:
			return invalidValue("%s: containers can only be included in a DELETE action (ECR images cannot be %s)", ip, lowerAction(a.Type))
		case set(ir.Snapshots) && a.Type != gen.LifecyclePolicyDetailActionTypeDELETE:
			return invalidValue("%s: snapshots can only be included in a DELETE action", ip)
		case set(ir.Snapshots) && !set(ir.Amis):
			return invalidValue("%s: snapshots needs amis as well (a snapshot cannot be deleted while its AMI is registered)", ip)
		}
	}
	f := d.Filter
	if f == nil {
		return invalidValue("%s.filter is required", p)
	}
	fp := p + ".filter"
	if f.Value == nil {
		return invalidValue("%s.value is required", fp)
	}
	if v := *f.Value; v < 1 || v > 1000 {
		return invalidValue("%s.value: %d must be between 1 and 1000", fp, v)
	}
	switch f.Type {
	case gen.LifecyclePolicyDetailFilterTypeCOUNT:
		if f.Unit != "" {
			return invalidValue("%s.unit: %q applies to AGE filters only; a COUNT filter keeps the newest %d images", fp, f.Unit, *f.Value)
		}
		if f.RetainAtLeast != nil {
			return invalidValue("%s.retainAtLeast applies to AGE filters only; a COUNT filter's value already is the number of images kept", fp)
		}
	case gen.LifecyclePolicyDetailFilterTypeAGE:
		if _, ok := unitDays[f.Unit]; !ok {
			if f.Unit == "" {
				return invalidValue("%s.unit is required for an AGE filter (DAYS, WEEKS, MONTHS or YEARS)", fp)
			}
			return invalidValue("%s.unit: %q must be DAYS, WEEKS, MONTHS or YEARS", fp, f.Unit)
		}
		if r := f.RetainAtLeast; r != nil && (*r < 1 || *r > 10) {
			return invalidValue("%s.retainAtLeast: %d must be between 1 and 10", fp, *r)
		}
	default:
		return invalidValue("%s.type: %q must be AGE or COUNT", fp, f.Type)
	}
	if ex := d.ExclusionRules; ex != nil {
		ep := p + ".exclusionRules"
		if len(ex.TagMap) == 0 && ex.Amis == nil {
			return invalidValue("%s: give tagMap, amis or both", ep)
		}
		if am := ex.Amis; am != nil {
			if container {
				return invalidValue("%s.amis applies to AMI_IMAGE policies, not CONTAINER_IMAGE", ep)
			}
			for i, r := range am.Regions {
				if !slices.Contains(s.regions, r) {
					return invalidValue("%s.amis.regions[%d]: region %q is not a site of this server; configured regions: %v", ep, i, r, s.regions)
				}
			}
			if err := cfgUnique(ep+".amis.regions", am.Regions); err != nil {
				return err
			}
			if err := cfgUnique(ep+".amis.sharedAccounts", am.SharedAccounts); err != nil {
				return err
			}
			if ll := am.LastLaunched; ll != nil {
				if ll.Value == nil || *ll.Value < 1 || *ll.Value > 365 {
					return invalidValue("%s.amis.lastLaunched.value must be between 1 and 365", ep)
				}
				if _, ok := unitDays[ll.Unit]; !ok {
					return invalidValue("%s.amis.lastLaunched.unit: %q must be DAYS, WEEKS, MONTHS or YEARS", ep, ll.Unit)
				}
			}
		}
	}
	return nil
}

func lowerAction(t gen.LifecyclePolicyDetailActionType) string {
	switch t {
	case gen.LifecyclePolicyDetailActionTypeDEPRECATE:
		return "deprecated"
	case gen.LifecyclePolicyDetailActionTypeDISABLE:
		return "disabled"
	}
	return "deleted"
}

// checkLifecycleOrder refuses rules whose thresholds contradict the stage
// order DEPRECATE → DISABLE → DELETE: with filters of the same type, a
// later stage must not act sooner (a smaller age, or fewer images kept)
// than an earlier one.
func checkLifecycleOrder(ds []gen.LifecyclePolicyDetail) error {
	threshold := func(f *gen.LifecyclePolicyDetailFilter) int {
		if f.Type == gen.LifecyclePolicyDetailFilterTypeAGE {
			return int(*f.Value) * unitDays[f.Unit]
		}
		return int(*f.Value)
	}
	describe := func(f *gen.LifecyclePolicyDetailFilter) string {
		if f.Type == gen.LifecyclePolicyDetailFilterTypeAGE {
			return fmt.Sprintf("images older than %d %s", *f.Value, f.Unit)
		}
		return fmt.Sprintf("all but the newest %d images", *f.Value)
	}
	for i := range ds {
		for j := range ds {
			a, b := &ds[i], &ds[j]
			if lifecycleStage[a.Action.Type] >= lifecycleStage[b.Action.Type] || a.Filter.Type != b.Filter.Type {
				continue
			}
			if threshold(b.Filter) < threshold(a.Filter) {
				return invalidValue("policyDetails[%d] (%s %s) would act before policyDetails[%d] (%s %s); a later stage (DEPRECATE, then DISABLE, then DELETE) needs an equal or larger %s",
					j, b.Action.Type, describe(b.Filter), i, a.Action.Type, describe(a.Filter), map[bool]string{true: "age", false: "count"}[a.Filter.Type == gen.LifecyclePolicyDetailFilterTypeAGE])
			}
		}
	}
	return nil
}

// checkResourceSelection validates what a policy applies to: recipes or
// tags, exactly one of them.
func checkResourceSelection(rs *gen.LifecyclePolicyResourceSelection) error {
	if rs == nil {
		return invalidValue("resourceSelection is required")
	}
	switch {
	case len(rs.Recipes) > 0 && len(rs.TagMap) > 0:
		return invalidValue("resourceSelection: select by recipes or by tagMap, not both")
	case len(rs.Recipes) == 0 && len(rs.TagMap) == 0:
		return invalidValue("resourceSelection: give recipes or tagMap")
	case len(rs.Recipes) > 50:
		return invalidValue("resourceSelection.recipes: %d recipes given; at most 50", len(rs.Recipes))
	}
	seen := map[string]int{}
	for i, r := range rs.Recipes {
		p := fmt.Sprintf("resourceSelection.recipes[%d]", i)
		if r.Name == "" {
			return invalidValue("%s.name is required", p)
		}
		if r.SemanticVersion == "" {
			return invalidValue("%s.semanticVersion is required", p)
		}
		v, err := ParseVersion(r.SemanticVersion, true)
		if err != nil {
			return invalidValue("%s.semanticVersion: %v", p, err)
		}
		key := Slug(r.Name) + "/" + v.String()
		if j, dup := seen[key]; dup {
			return invalidValue("%s: recipe %s %s is already selected at recipes[%d]", p, r.Name, r.SemanticVersion, j)
		}
		seen[key] = i
	}
	return nil
}
