package service

import (
	"encoding/json"
	"strings"

	"github.com/goldsmith/goldsmith/internal/store"
)

// policyDoc is the small IAM-style resource policy goldsmith evaluates:
// Allow statements naming principal accounts and imagebuilder actions.
type policyDoc struct {
	Statement statements `json:"Statement"`
}

type statement struct {
	Effect    string          `json:"Effect"`
	Principal json.RawMessage `json:"Principal"`
	Action    stringOrList    `json:"Action"`
}

// statements accepts one statement object or a list of them.
type statements []statement

func (s *statements) UnmarshalJSON(b []byte) error {
	if t := strings.TrimSpace(string(b)); strings.HasPrefix(t, "{") {
		var one statement
		if err := json.Unmarshal(b, &one); err != nil {
			return err
		}
		*s = statements{one}
		return nil
	}
	var many []statement
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*s = many
	return nil
}

// stringOrList accepts "x" or ["x", "y"].
type stringOrList []string

func (s *stringOrList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = stringOrList{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*s = many
	return nil
}

// principals returns the account IDs (or "*") a Principal names: "*",
// {"AWS": "123456789012"}, {"AWS": ["arn:aws:iam::123456789012:root", ...]}.
func principals(raw json.RawMessage) []string {
	var star string
	if json.Unmarshal(raw, &star) == nil {
		return []string{star}
	}
	var m map[string]stringOrList
	if json.Unmarshal(raw, &m) != nil {
		return nil
	}
	var out []string
	for _, p := range m["AWS"] {
		if strings.HasPrefix(p, "arn:") {
			// arn:aws:iam::123456789012:root (or :user/...): the account field.
			if parts := strings.Split(p, ":"); len(parts) >= 5 {
				p = parts[4]
			}
		}
		out = append(out, p)
	}
	return out
}

// policyAllows reports whether policy lets account perform action
// ("imagebuilder:GetComponent"); actions may use a trailing '*'.
func policyAllows(policy, account, action string) bool {
	if policy == "" {
		return false
	}
	var doc policyDoc
	if json.Unmarshal([]byte(policy), &doc) != nil {
		return false
	}
	for _, st := range doc.Statement {
		if st.Effect != "Allow" {
			continue
		}
		who := false
		for _, p := range principals(st.Principal) {
			if p == "*" || p == account {
				who = true
			}
		}
		if !who {
			continue
		}
		for _, a := range st.Action {
			if actionMatches(a, action) {
				return true
			}
		}
	}
	return false
}

func actionMatches(pattern, action string) bool {
	pattern, action = strings.ToLower(pattern), strings.ToLower(action)
	if p, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(action, p)
	}
	return pattern == action
}

// readable reports whether the caller may read r: its own resources, the
// Amazon-managed ones, and those whose policy shares them with the
// caller's account for a Get action.
func readable(c Caller, r *store.Resource) bool {
	if canRead(c, r.Account) {
		return true
	}
	return policyAllows(r.Policy, c.Account, "imagebuilder:Get"+kindAction(r.Kind))
}

// sharedWith keeps the resources of other accounts whose policy shares them
// with the caller (for owner=Shared listings).
func sharedWith(c Caller, rs []*store.Resource) []*store.Resource {
	var out []*store.Resource
	for _, r := range rs {
		if r.Account != c.Account && r.Account != "aws" && readable(c, r) {
			out = append(out, r)
		}
	}
	return out
}

// kindAction names the Get action of a resource kind ("image-recipe" →
// "ImageRecipe").
func kindAction(kind string) string {
	if strings.HasPrefix(kind, "workflow/") {
		return "Workflow"
	}
	var b strings.Builder
	for _, part := range strings.Split(kind, "-") {
		if part != "" {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}
