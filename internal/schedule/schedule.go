// Package schedule parses and evaluates the schedule expressions of image
// pipelines: the EventBridge dialect of cron (six fields, with `?`, `L`,
// `W` and `#`) and rate expressions.
//
// Semantics (documented decisions):
//   - cron(<minute> <hour> <day-of-month> <month> <day-of-week> <year>);
//     exactly one of day-of-month and day-of-week is `?`. Day-of-week runs
//     1-7 = SUN-SAT; names (JAN-DEC, SUN-SAT) are case-insensitive.
//   - `L` alone in day-of-week is Saturday (7), as in EventBridge; `nL` is
//     the last day n of the month; `n#k` the k-th day n of the month (k 1-5).
//     In day-of-month `L` is the last day, `LW` the last weekday, `nW` the
//     weekday nearest day n without leaving the month (no fire in a month
//     shorter than n).
//   - `/` steps are allowed in minute, hour, day-of-month, month and year;
//     ranges may wrap around (FRI-MON, 22-2) except in the year field.
//   - Expressions are evaluated in an IANA time zone. A wall-clock time that
//     does not exist (spring-forward gap) is skipped; one that occurs twice
//     (fall back) fires once, at its first occurrence — the behaviour
//     EventBridge Scheduler documents.
//   - rate(<n> <unit>): n a positive integer, unit minute|hour|day, singular
//     exactly when n is 1. Rates count from an anchor (the time the schedule
//     was set).
package schedule

import (
	"fmt"
	"math/bits"
	"regexp"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // IANA zones work without a system zoneinfo
)

// Years outside this range are not accepted by the year field.
const (
	MinYear = 1970
	MaxYear = 2199
)

// Expr is a parsed schedule expression.
type Expr struct {
	src  string
	rate time.Duration // > 0 for rate()
	cron *cronSpec
}

// String returns the expression as given.
func (e *Expr) String() string { return e.src }

// IsRate reports whether e is a rate() expression.
func (e *Expr) IsRate() bool { return e.rate > 0 }

// Rate returns the interval of a rate() expression (0 for cron).
func (e *Expr) Rate() time.Duration { return e.rate }

// Parse parses `cron(...)` or `rate(...)`.
func Parse(s string) (*Expr, error) {
	t := strings.TrimSpace(s)
	switch {
	case strings.HasPrefix(t, "cron(") && strings.HasSuffix(t, ")"):
		c, err := parseCron(t[len("cron(") : len(t)-1])
		if err != nil {
			return nil, fmt.Errorf("schedule expression %q: %w", s, err)
		}
		return &Expr{src: s, cron: c}, nil
	case strings.HasPrefix(t, "rate(") && strings.HasSuffix(t, ")"):
		d, err := parseRate(t[len("rate(") : len(t)-1])
		if err != nil {
			return nil, fmt.Errorf("schedule expression %q: %w", s, err)
		}
		return &Expr{src: s, rate: d}, nil
	}
	return nil, fmt.Errorf("schedule expression %q must be cron(<minute> <hour> <day-of-month> <month> <day-of-week> <year>) or rate(<value> <unit>)", s)
}

// timezonePattern is the model's Timezone pattern.
var timezonePattern = regexp.MustCompile(`^[a-zA-Z0-9]{2,}(?:/[a-zA-Z0-9-_+]+)*$`)

// LoadLocation returns the IANA time zone; "" is UTC.
func LoadLocation(tz string) (*time.Location, error) {
	if tz == "" {
		return time.UTC, nil
	}
	if !timezonePattern.MatchString(tz) || tz == "Local" {
		return nil, fmt.Errorf("timezone %q is not an IANA time zone name (e.g. America/Los_Angeles, Etc/UTC)", tz)
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, fmt.Errorf("timezone %q is not a known IANA time zone", tz)
	}
	return loc, nil
}

// Next returns the first time strictly after `after` at which e fires, and
// false if it never fires again. Rate expressions are anchored at `after`
// (the first run is one interval later); use NextSince for another anchor.
func (e *Expr) Next(after time.Time, loc *time.Location) (time.Time, bool) {
	return e.NextSince(after, after, loc)
}

// NextSince is Next for a rate() anchored at `anchor`: the first
// anchor + k·interval (k ≥ 1) strictly after `after`. For cron it equals
// Next(after).
func (e *Expr) NextSince(anchor, after time.Time, loc *time.Location) (time.Time, bool) {
	if loc == nil {
		loc = time.UTC
	}
	if e.rate > 0 {
		if after.Before(anchor) {
			return anchor.Add(e.rate), true
		}
		k := after.Sub(anchor)/e.rate + 1
		return anchor.Add(k * e.rate), true
	}
	return e.cron.next(after, loc)
}

// Matches reports whether a cron expression fires at the wall-clock minute
// of t in loc (rate expressions never match: they have no calendar).
func (e *Expr) Matches(t time.Time, loc *time.Location) bool {
	if e.cron == nil {
		return false
	}
	if loc == nil {
		loc = time.UTC
	}
	w := t.In(loc)
	c := e.cron
	return c.years.has(w.Year()-MinYear) && has(c.month, int(w.Month())) && c.dayMatches(w.Year(), w.Month(), w.Day()) &&
		has(c.hour, w.Hour()) && has(c.minute, w.Minute())
}

// ---- rate ----

func parseRate(body string) (time.Duration, error) {
	f := strings.Fields(body)
	if len(f) != 2 {
		return 0, fmt.Errorf("rate needs a value and a unit, e.g. rate(5 minutes)")
	}
	if f[0] == "" || strings.TrimLeft(f[0], "0123456789") != "" || len(f[0]) > 9 {
		return 0, fmt.Errorf("rate value %q must be a positive integer", f[0])
	}
	n, _ := strconv.Atoi(f[0])
	if n < 1 {
		return 0, fmt.Errorf("rate value %q must be a positive integer", f[0])
	}
	unit := f[1]
	var d time.Duration
	switch strings.TrimSuffix(unit, "s") {
	case "minute":
		d = time.Minute
	case "hour":
		d = time.Hour
	case "day":
		d = 24 * time.Hour
	default:
		return 0, fmt.Errorf("rate unit %q must be minute(s), hour(s) or day(s)", unit)
	}
	plural := strings.HasSuffix(unit, "s")
	if n == 1 && plural {
		return 0, fmt.Errorf("rate value 1 needs the singular unit %q, not %q", strings.TrimSuffix(unit, "s"), unit)
	}
	if n > 1 && !plural {
		return 0, fmt.Errorf("rate value %d needs the plural unit %q, not %q", n, unit+"s", unit)
	}
	return time.Duration(n) * d, nil
}

// ---- cron ----

// yearSet holds the years MinYear..MaxYear (230 bits).
type yearSet [4]uint64

func (y *yearSet) set(i int)      { y[i/64] |= 1 << (i % 64) }
func (y *yearSet) has(i int) bool { return i >= 0 && i <= MaxYear-MinYear && y[i/64]&(1<<(i%64)) != 0 }
func has(set uint64, i int) bool  { return i >= 0 && i < 64 && set&(1<<i) != 0 }
func bitsFrom(set uint64) (out []int) {
	for set != 0 {
		i := bits.TrailingZeros64(set)
		out = append(out, i)
		set &^= 1 << i
	}
	return out
}

type cronSpec struct {
	minute, hour, dom, month, dow uint64
	years                         yearSet
	domAny, dowAny                bool // the field is `?`
	domLast, domLastWeekday       bool // L, LW
	domNearest                    int  // nW
	dowLast                       int  // nL
	dowNth, dowNthK               int  // n#k
}

type fieldSpec struct {
	name     string
	min, max int
	names    []string // names[i] is value min+i
	step     bool     // `/` allowed
	wrap     bool     // ranges may wrap around
}

var (
	fMinute = fieldSpec{name: "minute", min: 0, max: 59, step: true, wrap: true}
	fHour   = fieldSpec{name: "hour", min: 0, max: 23, step: true, wrap: true}
	fDom    = fieldSpec{name: "day-of-month", min: 1, max: 31, step: true, wrap: true}
	fMonth  = fieldSpec{name: "month", min: 1, max: 12, step: true, wrap: true,
		names: []string{"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}}
	fDow = fieldSpec{name: "day-of-week", min: 1, max: 7, wrap: true,
		names: []string{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}}
	fYear = fieldSpec{name: "year", min: MinYear, max: MaxYear, step: true}
)

func parseCron(body string) (*cronSpec, error) {
	f := strings.Fields(body)
	if len(f) != 6 {
		return nil, fmt.Errorf("cron needs exactly 6 fields (minute hour day-of-month month day-of-week year), got %d", len(f))
	}
	c := &cronSpec{}
	var err error
	if c.minute, err = parseField(f[0], fMinute); err != nil {
		return nil, err
	}
	if c.hour, err = parseField(f[1], fHour); err != nil {
		return nil, err
	}
	if c.month, err = parseField(f[3], fMonth); err != nil {
		return nil, err
	}
	if err := c.parseYears(f[5]); err != nil {
		return nil, err
	}
	c.domAny, c.dowAny = f[2] == "?", f[4] == "?"
	switch {
	case c.domAny && c.dowAny:
		return nil, fmt.Errorf("day-of-month and day-of-week cannot both be '?': exactly one of them must be '?'")
	case !c.domAny && !c.dowAny:
		return nil, fmt.Errorf("day-of-month %q and day-of-week %q cannot both be given: one of them must be '?'", f[2], f[4])
	case c.dowAny:
		if err := c.parseDom(f[2]); err != nil {
			return nil, err
		}
	default:
		if err := c.parseDow(f[4]); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (c *cronSpec) parseYears(s string) error {
	_, err := parseFieldWith(s, fYear, func(i int) { c.years.set(i - MinYear) })
	return err
}

func (c *cronSpec) parseDom(s string) error {
	u := strings.ToUpper(s)
	switch {
	case u == "L":
		c.domLast = true
		return nil
	case u == "LW":
		c.domLastWeekday = true
		return nil
	case strings.HasSuffix(u, "W"):
		n, err := value(u[:len(u)-1], fDom)
		if err != nil {
			return fmt.Errorf("day-of-month %q: 'W' follows a single day 1-31: %w", s, err)
		}
		c.domNearest = n
		return nil
	case strings.Contains(u, "L") || strings.Contains(u, "W"):
		return fmt.Errorf("day-of-month %q: 'L' and 'W' cannot be combined with lists or ranges (use L, LW or <day>W)", s)
	}
	var err error
	c.dom, err = parseField(s, fDom)
	return err
}

func (c *cronSpec) parseDow(s string) error {
	u := strings.ToUpper(s)
	if i := strings.IndexByte(u, '#'); i >= 0 {
		n, err := value(u[:i], fDow)
		if err != nil {
			return fmt.Errorf("day-of-week %q: %w", s, err)
		}
		k, err := strconv.Atoi(u[i+1:])
		if err != nil || k < 1 || k > 5 || len(u[i+1:]) != 1 {
			return fmt.Errorf("day-of-week %q: the number after '#' must be 1-5", s)
		}
		c.dowNth, c.dowNthK = n, k
		return nil
	}
	if u == "L" {
		c.dow = 1 << 7 // EventBridge: L alone is the last day of the week, Saturday
		return nil
	}
	if strings.HasSuffix(u, "L") {
		n, err := value(u[:len(u)-1], fDow)
		if err != nil {
			return fmt.Errorf("day-of-week %q: 'L' follows a single day 1-7 or SUN-SAT: %w", s, err)
		}
		c.dowLast = n
		return nil
	}
	if strings.Contains(u, "L") {
		return fmt.Errorf("day-of-week %q: 'L' cannot be combined with lists or ranges", s)
	}
	var err error
	c.dow, err = parseField(s, fDow)
	return err
}

func parseField(s string, fs fieldSpec) (uint64, error) {
	var set uint64
	_, err := parseFieldWith(s, fs, func(i int) { set |= 1 << i })
	return set, err
}

// parseFieldWith parses a list of `*`, values, ranges and steps, calling
// add for every value selected.
func parseFieldWith(s string, fs fieldSpec, add func(int)) (int, error) {
	if s == "" {
		return 0, fmt.Errorf("%s is empty", fs.name)
	}
	if s == "?" {
		return 0, fmt.Errorf("%s %q: '?' is only allowed in day-of-month or day-of-week", fs.name, s)
	}
	count := 0
	for _, item := range strings.Split(s, ",") {
		if item == "" {
			return 0, fmt.Errorf("%s %q: empty list element", fs.name, s)
		}
		rng, stepStr, hasStep := strings.Cut(item, "/")
		step := 1
		if hasStep {
			if !fs.step {
				return 0, fmt.Errorf("%s %q: '/' is not allowed in %s", fs.name, s, fs.name)
			}
			n, err := strconv.Atoi(stepStr)
			if err != nil || n < 1 || n > fs.max-fs.min+1 || strings.TrimLeft(stepStr, "0123456789") != "" {
				return 0, fmt.Errorf("%s %q: step %q must be an integer from 1 to %d", fs.name, s, stepStr, fs.max-fs.min+1)
			}
			step = n
		}
		var lo, hi int
		switch {
		case rng == "*":
			lo, hi = fs.min, fs.max
		case strings.Contains(rng, "-"):
			a, b, _ := strings.Cut(rng, "-")
			var err error
			if lo, err = value(a, fs); err != nil {
				return 0, fmt.Errorf("%s %q: %w", fs.name, s, err)
			}
			if hi, err = value(b, fs); err != nil {
				return 0, fmt.Errorf("%s %q: %w", fs.name, s, err)
			}
			if hi < lo && !fs.wrap {
				return 0, fmt.Errorf("%s %q: range %d-%d is reversed", fs.name, s, lo, hi)
			}
		default:
			v, err := value(rng, fs)
			if err != nil {
				return 0, fmt.Errorf("%s %q: %w", fs.name, s, err)
			}
			lo, hi = v, v
			if hasStep {
				hi = fs.max // a/b: from a to the end in steps of b
			}
		}
		span := hi - lo
		if span < 0 {
			span += fs.max - fs.min + 1 // wrapping range
		}
		for off := 0; off <= span; off += step {
			v := lo + off
			if v > fs.max {
				v -= fs.max - fs.min + 1
			}
			add(v)
			count++
		}
	}
	return count, nil
}

// value parses one number or name of a field.
func value(s string, fs fieldSpec) (int, error) {
	if s == "" {
		return 0, fmt.Errorf("missing value")
	}
	u := strings.ToUpper(s)
	for i, n := range fs.names {
		if u == n {
			return fs.min + i, nil
		}
	}
	if strings.TrimLeft(s, "0123456789") != "" || len(s) > 4 {
		if len(fs.names) > 0 {
			return 0, fmt.Errorf("value %q is not a number %d-%d or a name %s-%s", s, fs.min, fs.max, fs.names[0], fs.names[len(fs.names)-1])
		}
		return 0, fmt.Errorf("value %q is not a number %d-%d", s, fs.min, fs.max)
	}
	n, _ := strconv.Atoi(s)
	if n < fs.min || n > fs.max {
		return 0, fmt.Errorf("value %d is out of range %d-%d", n, fs.min, fs.max)
	}
	return n, nil
}

func daysIn(y int, m time.Month) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

func weekday(y int, m time.Month, d int) int { // 1 = Sunday … 7 = Saturday
	return int(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Weekday()) + 1
}

// nearestWeekday is the Monday-Friday day nearest day n of the month,
// without leaving the month; 0 if the month has no day n.
func nearestWeekday(y int, m time.Month, n int) int {
	last := daysIn(y, m)
	if n > last {
		return 0
	}
	switch weekday(y, m, n) {
	case 7: // Saturday
		if n == 1 {
			return 3
		}
		return n - 1
	case 1: // Sunday
		if n == last {
			return n - 2
		}
		return n + 1
	}
	return n
}

func (c *cronSpec) dayMatches(y int, m time.Month, d int) bool {
	last := daysIn(y, m)
	if d > last {
		return false
	}
	if c.dowAny { // day-of-month rules
		switch {
		case c.domLast:
			return d == last
		case c.domLastWeekday:
			return d == nearestWeekday(y, m, last)
		case c.domNearest > 0:
			return d == nearestWeekday(y, m, c.domNearest)
		}
		return has(c.dom, d)
	}
	wd := weekday(y, m, d)
	switch {
	case c.dowLast > 0:
		return wd == c.dowLast && d+7 > last
	case c.dowNth > 0:
		return wd == c.dowNth && (d-1)/7+1 == c.dowNthK
	}
	return has(c.dow, wd)
}

// next finds the first wall-clock match in loc strictly after `after`.
func (c *cronSpec) next(after time.Time, loc *time.Location) (time.Time, bool) {
	start := after.In(loc).AddDate(0, 0, -1) // a day of slack around DST shifts
	hours, minutes := bitsFrom(c.hour), bitsFrom(c.minute)
	if len(hours) == 0 || len(minutes) == 0 {
		return time.Time{}, false
	}
	for y := max(start.Year(), MinYear); y <= MaxYear; y++ {
		if !c.years.has(y - MinYear) {
			continue
		}
		for m := time.January; m <= time.December; m++ {
			if !has(c.month, int(m)) || (y == start.Year() && m < start.Month()) {
				continue
			}
			for d := 1; d <= daysIn(y, m); d++ {
				if (y == start.Year() && m == start.Month() && d < start.Day()) || !c.dayMatches(y, m, d) {
					continue
				}
				for _, h := range hours {
					for _, mi := range minutes {
						t, ok := wallTime(y, m, d, h, mi, loc)
						if ok && t.After(after) {
							return t, true
						}
					}
				}
			}
		}
	}
	return time.Time{}, false
}

// wallTime returns the first instant at which the clock in loc shows the
// given minute; false if that wall-clock time does not exist there.
func wallTime(y int, m time.Month, d, h, mi int, loc *time.Location) (time.Time, bool) {
	asUTC := time.Date(y, m, d, h, mi, 0, 0, time.UTC)
	var best time.Time
	found := false
	for _, probe := range []time.Time{asUTC.Add(-26 * time.Hour), asUTC.Add(26 * time.Hour)} {
		_, off := probe.In(loc).Zone()
		u := asUTC.Add(-time.Duration(off) * time.Second)
		w := u.In(loc)
		if w.Year() != y || w.Month() != m || w.Day() != d || w.Hour() != h || w.Minute() != mi {
			continue
		}
		if !found || u.Before(best) {
			best, found = u, true
		}
	}
	if !found { // zones with more than one shift within a day: ask time.Date
		u := time.Date(y, m, d, h, mi, 0, 0, loc)
		if u.Year() == y && u.Month() == m && u.Day() == d && u.Hour() == h && u.Minute() == mi {
			return u, true
		}
		return time.Time{}, false
	}
	return best.In(loc), true
}
