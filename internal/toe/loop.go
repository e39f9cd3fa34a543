package toe

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Loop is a step's loop construct: a numeric for range or a forEach over a
// list or a delimited string.
type Loop struct {
	Name      string
	For       *ForRange
	ForEach   []*Value // list form (items may hold expressions)
	List      *Value   // delimited-string form
	Delimiter string   // for List; default ","
	Line      int
	Column    int
}

// ForRange is an inclusive numeric range. The fields keep their source
// values because they may reference parameters.
type ForRange struct {
	Start, End, UpdateBy *Value
}

var (
	loopNameRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)
	delimiters = map[string]bool{".": true, ",": true, ";": true, ":": true, "\n": true, "\t": true, " ": true, "-": true, "_": true}
)

func parseLoop(l *errList, v *Value, where, step string) *Loop {
	if v.Kind != KindMap {
		l.at(v, where, step, "loop", "must be a map with for or forEach, found a %s", v.Kind)
		return nil
	}
	lp := &Loop{Line: v.Line, Column: v.Column, Delimiter: ","}
	for i, k := range v.Keys {
		if k != "name" && k != "for" && k != "forEach" {
			l.at(v.KeyPos[i], where, step, "loop."+k, "unknown loop key %q (allowed: name, for, forEach)", k)
		}
	}
	if nv := v.Get("name"); !nv.IsNull() {
		switch {
		case nv.Kind != KindScalar || !loopNameRe.MatchString(nv.Text):
			l.at(nv, where, step, "loop.name", "invalid loop name %q (A-Z, a-z, 0-9, _ and -)", nv.String())
		case nv.Text == "loop":
			l.at(nv, where, step, "loop.name", "the loop name %q is reserved", nv.Text)
		default:
			lp.Name = nv.Text
		}
	}
	fv, ev := v.Get("for"), v.Get("forEach")
	switch {
	case fv != nil && ev != nil:
		l.at(v, where, step, "loop", "use either for or forEach, not both")
		return nil
	case fv == nil && ev == nil:
		l.at(v, where, step, "loop", "needs for or forEach")
		return nil
	case fv != nil:
		lp.For = parseFor(l, fv, where, step)
		if lp.For == nil {
			return nil
		}
	default:
		if !parseForEach(l, ev, lp, where, step) {
			return nil
		}
	}
	return lp
}

func parseFor(l *errList, v *Value, where, step string) *ForRange {
	if v.Kind != KindMap {
		l.at(v, where, step, "loop.for", "must be a map with start, end and updateBy, found a %s", v.Kind)
		return nil
	}
	for i, k := range v.Keys {
		if k != "start" && k != "end" && k != "updateBy" {
			l.at(v.KeyPos[i], where, step, "loop.for."+k, "unknown key %q (allowed: start, end, updateBy)", k)
		}
	}
	r := &ForRange{Start: v.Get("start"), End: v.Get("end"), UpdateBy: v.Get("updateBy")}
	ok := true
	for _, f := range []struct {
		name string
		val  *Value
	}{{"start", r.Start}, {"end", r.End}, {"updateBy", r.UpdateBy}} {
		field := "loop.for." + f.name
		switch {
		case f.val.IsNull():
			l.at(v, where, step, field, "required key is missing")
			ok = false
		case f.val.Kind != KindScalar:
			l.at(f.val, where, step, field, "must be an integer, found a %s", f.val.Kind)
			ok = false
		case strings.Contains(f.val.Text, "{{"):
			// parameter references are checked by Validate and at run time
		default:
			if _, err := strconv.Atoi(strings.TrimSpace(f.val.Text)); err != nil {
				l.at(f.val, where, step, field, "invalid value %q (must be an integer)", f.val.Text)
				ok = false
			}
		}
	}
	if !ok {
		return nil
	}
	if s, e, u, err := r.bounds(func(v *Value) (string, error) { return v.Text, nil }); err == nil {
		if err := checkRange(s, e, u); err != nil {
			l.at(v, where, step, "loop.for", "%v", err)
			return nil
		}
	}
	return r
}

func checkRange(start, end, by int) error {
	switch {
	case by == 0:
		return fmt.Errorf("updateBy must not be 0")
	case start < end && by < 0, start > end && by > 0:
		return fmt.Errorf("the range %d..%d with updateBy %d never ends", start, end, by)
	case (end-start)/by+1 > maxIterations:
		return fmt.Errorf("the range %d..%d with updateBy %d has more than %d iterations", start, end, by, maxIterations)
	}
	return nil
}

const maxIterations = 100000

// bounds resolves the range fields with resolve (which substitutes
// parameter expressions) and parses them.
func (r *ForRange) bounds(resolve func(*Value) (string, error)) (start, end, by int, err error) {
	var n [3]int
	for i, v := range []*Value{r.Start, r.End, r.UpdateBy} {
		s, err := resolve(v)
		if err != nil {
			return 0, 0, 0, err
		}
		if n[i], err = strconv.Atoi(strings.TrimSpace(s)); err != nil {
			return 0, 0, 0, fmt.Errorf("loop bound %q is not an integer", s)
		}
	}
	return n[0], n[1], n[2], nil
}

func parseForEach(l *errList, v *Value, lp *Loop, where, step string) bool {
	switch v.Kind {
	case KindList:
		for _, it := range v.Items {
			if it.Kind != KindScalar && it.Kind != KindNull {
				l.at(it, where, step, "loop.forEach", "list items must be strings, found a %s", it.Kind)
				return false
			}
		}
		lp.ForEach = v.Items
		if lp.ForEach == nil {
			lp.ForEach = []*Value{}
		}
	case KindMap:
		for i, k := range v.Keys {
			if k != "list" && k != "delimiter" {
				l.at(v.KeyPos[i], where, step, "loop.forEach."+k, "unknown key %q (allowed: list, delimiter)", k)
			}
		}
		lv := v.Get("list")
		switch {
		case lv.IsNull():
			l.at(v, where, step, "loop.forEach.list", "required key is missing")
			return false
		case lv.Kind != KindScalar:
			l.at(lv, where, step, "loop.forEach.list", "must be a delimited string, found a %s", lv.Kind)
			return false
		}
		lp.List = lv
		if dv := v.Get("delimiter"); !dv.IsNull() {
			if dv.Kind != KindScalar || !delimiters[dv.Text] {
				l.at(dv, where, step, "loop.forEach.delimiter", "invalid delimiter %q (one of . , ; : newline tab space - _)", dv.String())
				return false
			}
			lp.Delimiter = dv.Text
		}
	default:
		l.at(v, where, step, "loop.forEach", "must be a list or a map with list and delimiter, found a %s", v.Kind)
		return false
	}
	return true
}

// iteration is one loop pass: its 0-based index and its value.
type iteration struct {
	Index int
	Value string
}

// iterations expands the loop. resolve substitutes expressions in a value.
func (lp *Loop) iterations(resolve func(*Value) (string, error)) ([]iteration, error) {
	var out []iteration
	switch {
	case lp.For != nil:
		s, e, u, err := lp.For.bounds(resolve)
		if err != nil {
			return nil, err
		}
		if err := checkRange(s, e, u); err != nil {
			return nil, err
		}
		for i, n := 0, s; (u > 0 && n <= e) || (u < 0 && n >= e); i, n = i+1, n+u {
			out = append(out, iteration{Index: i, Value: strconv.Itoa(n)})
		}
	case lp.List != nil:
		s, err := resolve(lp.List)
		if err != nil {
			return nil, err
		}
		if s == "" {
			return nil, nil
		}
		for i, part := range strings.Split(s, lp.Delimiter) {
			out = append(out, iteration{Index: i, Value: part})
		}
	default:
		for i, it := range lp.ForEach {
			s, err := resolve(it)
			if err != nil {
				return nil, err
			}
			out = append(out, iteration{Index: i, Value: s})
		}
	}
	return out, nil
}
