package service

import (
	"context"
	"strconv"
	"strings"

	"github.com/goldsmith/goldsmith/internal/api/gen"
	"github.com/goldsmith/goldsmith/internal/store"
)

// maxRecipeComponents is the number of components a recipe may list.
const maxRecipeComponents = 20

// recipeComponent is one resolved entry of a recipe's components.
type recipeComponent struct {
	field string // "components[i]"
	r     *store.Resource
	rec   *componentRecord
}

// checkComponentCount enforces 1..20 components.
func checkComponentCount(cfgs []gen.ComponentConfiguration) error {
	switch {
	case len(cfgs) == 0:
		return invalidValue("components: a recipe needs at least one build component")
	case len(cfgs) > maxRecipeComponents:
		return invalidValue("components: %d components given; a recipe may have at most %d", len(cfgs), maxRecipeComponents)
	}
	return nil
}

// resolveRecipeComponents resolves every component ARN as GetComponent
// does (the newest readable build matching a version or wildcard ARN, or
// the exact build) and checks its parameters against the component's
// declared parameters.
func (s *Service) resolveRecipeComponents(ctx context.Context, tx store.Tx, c Caller, cfgs []gen.ComponentConfiguration) ([]recipeComponent, error) {
	if err := checkComponentCount(cfgs); err != nil {
		return nil, err
	}
	out := make([]recipeComponent, 0, len(cfgs))
	build := false
	for i, cfg := range cfgs {
		field := "components[" + strconv.Itoa(i) + "]"
		r, _, err := resolveBuild(ctx, tx, c, kindComponent, cfg.ComponentArn)
		if err != nil {
			if recipeIsNotFound(err) {
				return nil, invalidValue("%s.componentArn %q: no such component exists for account %s", field, cfg.ComponentArn, c.Account)
			}
			return nil, err
		}
		rec, err := s.decodeComponent(r)
		if err != nil {
			return nil, err
		}
		if rec.Status == gen.ComponentStatusDISABLED {
			return nil, invalidValue("%s.componentArn %q: component %s is DISABLED", field, cfg.ComponentArn, r.ARN)
		}
		if err := checkComponentParameters(field, cfg.ComponentArn, rec.Parameters, cfg.Parameters); err != nil {
			return nil, err
		}
		if rec.Type == gen.ComponentTypeBUILD {
			build = true
		}
		out = append(out, recipeComponent{field: field, r: r, rec: rec})
	}
	if !build {
		return nil, invalidValue("components: a recipe needs at least one BUILD component; all %d are TEST components", len(cfgs))
	}
	return out, nil
}

// checkComponentParameters checks the parameters a recipe gives one
// component: each must be declared by the component's document, be given
// once, with one value (at least one for StringList) of the declared type;
// declared parameters without a default must be given.
func checkComponentParameters(field, arn string, declared []gen.ComponentParameterDetail, given []gen.ComponentParameter) error {
	byName := make(map[string]gen.ComponentParameterDetail, len(declared))
	for _, d := range declared {
		byName[d.Name] = d
	}
	seen := map[string]bool{}
	for j, p := range given {
		pf := field + ".parameters[" + strconv.Itoa(j) + "]"
		d, ok := byName[p.Name]
		if !ok {
			names := make([]string, 0, len(declared))
			for _, d := range declared {
				names = append(names, d.Name)
			}
			known := "it declares no parameters"
			if len(names) > 0 {
				known = "it declares " + strings.Join(names, ", ")
			}
			return invalidValue("%s: component %s has no parameter %q (%s)", pf, arn, p.Name, known)
		}
		if seen[p.Name] {
			return invalidValue("%s: parameter %q of component %s is given more than once", pf, p.Name, arn)
		}
		seen[p.Name] = true
		switch {
		case d.Type == "StringList" && len(p.Value) == 0:
			return invalidValue("%s: parameter %q of component %s is a StringList and needs at least one value", pf, p.Name, arn)
		case d.Type != "StringList" && len(p.Value) != 1:
			return invalidValue("%s: parameter %q of component %s is a %s and takes exactly one value, not %d", pf, p.Name, arn, recipeParamType(d), len(p.Value))
		}
		for _, v := range p.Value {
			switch d.Type {
			case "Integer":
				if _, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err != nil {
					return invalidValue("%s: parameter %q of component %s is an Integer; %q is not one", pf, p.Name, arn, v)
				}
			case "Boolean":
				if !strings.EqualFold(v, "true") && !strings.EqualFold(v, "false") {
					return invalidValue("%s: parameter %q of component %s is a Boolean; %q is neither true nor false", pf, p.Name, arn, v)
				}
			}
		}
	}
	for _, d := range declared {
		if !seen[d.Name] && len(d.DefaultValue) == 0 {
			return invalidValue("%s.parameters: parameter %q of component %s has no default value and must be given", field, d.Name, arn)
		}
	}
	return nil
}

func recipeParamType(d gen.ComponentParameterDetail) string {
	if d.Type == "" {
		return "String"
	}
	return d.Type
}

// recipePlatform decides a recipe's platform (the parent image's when
// known, else the first component's) and checks that every component is
// written for it.
func recipePlatform(parent gen.Platform, parentField string, comps []recipeComponent) (gen.Platform, error) {
	platform, from := parent, parentField
	if platform == "" && len(comps) > 0 {
		platform, from = comps[0].rec.Platform, comps[0].field+".componentArn"
	}
	for _, rc := range comps {
		if rc.rec.Platform != "" && rc.rec.Platform != platform {
			return "", invalidValue("%s.componentArn: component %s is for %s, but the recipe's platform is %s (from %s)", rc.field, rc.r.ARN, rc.rec.Platform, platform, from)
		}
	}
	return platform, nil
}
