package dockerfile

import (
	"fmt"
	"html"
	"regexp"
	"strings"
)

// Vars are the values of the Image Builder placeholders of a container
// recipe's Dockerfile template (documents.md §3.4).
type Vars struct {
	// ParentImage replaces {{{ imagebuilder:parentImage }}}: the resolved
	// parent image reference (a registry reference; the caller maps Image
	// Builder image ARNs to the reference their image was pushed to).
	ParentImage string
	// Environments replaces {{{ imagebuilder:environments }}}; normally the
	// output of EnvironmentsBlock.
	Environments string
	// Components replaces {{{ imagebuilder:components }}}; normally the
	// output of ComponentsBlock.
	Components string
}

// Placeholder names (the part after "imagebuilder:").
const (
	PlaceholderParentImage  = "parentImage"
	PlaceholderEnvironments = "environments"
	PlaceholderComponents   = "components"
)

// tagPattern matches a Mustache tag: {{ x }}, {{{ x }}} or {{& x }}, with any
// spacing inside the braces. Group 1 is the third opening brace or "&",
// group 2 the tag name, group 3 the third closing brace.
var tagPattern = regexp.MustCompile(`\{\{(\{|&)?\s*([^{}]*?)\s*(\})?\}\}`)

// RenderError is a template error located at a line of the template.
type RenderError struct {
	Line int    // 1-based line of the template
	Tag  string // the offending tag as written, if any
	Msg  string
}

func (e *RenderError) Error() string {
	if e.Tag != "" {
		return fmt.Sprintf("dockerfile template line %d: %s: %s", e.Line, e.Tag, e.Msg)
	}
	return fmt.Sprintf("dockerfile template line %d: %s", e.Line, e.Msg)
}

// Render expands the Image Builder placeholders of a Dockerfile template the
// way Image Builder's Mustache rendering does:
//
//   - {{{ imagebuilder:parentImage }}}, {{{ imagebuilder:environments }}} and
//     {{{ imagebuilder:components }}} (any spacing inside the braces) expand to
//     v's fields unescaped, as do the {{& imagebuilder:x }} forms; the
//     double-brace form {{ imagebuilder:x }} expands HTML-escaped, as Mustache
//     does;
//   - an unknown imagebuilder: placeholder is an error naming it;
//   - any other Mustache tag ({{ name }}, sections, comments) is an error:
//     Image Builder would silently render it empty, goldsmith refuses it
//     rather than build something the author did not write;
//   - a template without {{{ imagebuilder:parentImage }}} must have its own
//     FROM instruction.
func Render(template string, v Vars) (string, error) {
	var b strings.Builder
	sawParent := false
	last := 0
	for _, m := range tagPattern.FindAllStringSubmatchIndex(template, -1) {
		tag := template[m[0]:m[1]]
		line := 1 + strings.Count(template[:m[0]], "\n")
		open := ""
		if m[2] >= 0 {
			open = template[m[2]:m[3]]
		}
		name := template[m[4]:m[5]]
		closeTriple := m[6] >= 0
		if (open == "{") != closeTriple {
			return "", &RenderError{Line: line, Tag: tag, Msg: "unbalanced braces"}
		}
		key, ok := strings.CutPrefix(name, "imagebuilder:")
		if !ok {
			return "", &RenderError{Line: line, Tag: tag,
				Msg: "not an Image Builder placeholder (Image Builder's Mustache rendering would replace it with nothing; remove it)"}
		}
		var val string
		switch strings.TrimSpace(key) {
		case PlaceholderParentImage:
			val, sawParent = v.ParentImage, true
			if strings.TrimSpace(val) == "" {
				return "", &RenderError{Line: line, Tag: tag, Msg: "no parent image given"}
			}
		case PlaceholderEnvironments:
			val = v.Environments
		case PlaceholderComponents:
			val = v.Components
		default:
			return "", &RenderError{Line: line, Tag: tag, Msg: fmt.Sprintf("unknown placeholder imagebuilder:%s (known: parentImage, environments, components)", strings.TrimSpace(key))}
		}
		if open == "" {
			val = html.EscapeString(val)
		}
		b.WriteString(template[last:m[0]])
		b.WriteString(strings.TrimRight(val, "\n"))
		last = m[1]
	}
	b.WriteString(template[last:])
	out := b.String()
	if !sawParent && !hasFrom(out) {
		return "", &RenderError{Line: 1, Msg: "the template has neither {{{ imagebuilder:parentImage }}} nor a FROM instruction"}
	}
	return out, nil
}

// hasFrom reports whether a rendered Dockerfile has a line starting with a
// FROM instruction (comments and parser directives are skipped).
func hasFrom(dockerfile string) bool {
	for l := range strings.SplitSeq(dockerfile, "\n") {
		f := strings.Fields(l)
		if len(f) > 0 && strings.EqualFold(f[0], "FROM") {
			return true
		}
	}
	return false
}
