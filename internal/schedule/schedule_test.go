package schedule

import (
	"strings"
	"testing"
	"time"
)

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestNext(t *testing.T) {
	tests := []struct {
		expr, tz, after, want string // want "" = never again
	}{
		// documents.md §3.3 and the EventBridge examples
		{"cron(0 10 * * ? *)", "", "2024-01-01T00:00:00Z", "2024-01-01T10:00:00Z"},
		{"cron(0 10 * * ? *)", "", "2024-01-01T10:00:00Z", "2024-01-02T10:00:00Z"},
		{"cron(15 12 * * ? *)", "", "2024-01-01T12:15:30Z", "2024-01-02T12:15:00Z"},
		{"cron(0 18 ? * MON-FRI *)", "", "2024-01-06T00:00:00Z", "2024-01-08T18:00:00Z"},
		{"cron(0 8 1 * ? *)", "", "2024-01-01T08:00:00Z", "2024-02-01T08:00:00Z"},
		{"cron(0/15 * * * ? *)", "", "2024-01-01T10:07:00Z", "2024-01-01T10:15:00Z"},
		{"cron(0/10 * ? * MON-FRI *)", "", "2024-01-05T23:55:00Z", "2024-01-08T00:00:00Z"},
		{"cron(5,35 14 * * ? *)", "", "2024-01-01T14:06:00Z", "2024-01-01T14:35:00Z"},
		{"cron(15 10 ? * 6L 2002-2005)", "", "2024-01-01T00:00:00Z", ""},
		{"cron(15 10 ? * 6L 2002-2005)", "", "2005-12-01T00:00:00Z", "2005-12-30T10:15:00Z"},
		{"cron(0 0 L * ? *)", "", "2024-02-10T00:00:00Z", "2024-02-29T00:00:00Z"},
		{"cron(0 0 L * ? *)", "", "2023-02-10T00:00:00Z", "2023-02-28T00:00:00Z"},
		{"cron(0 0 LW * ? *)", "", "2024-03-01T00:00:00Z", "2024-03-29T00:00:00Z"},
		{"cron(0 0 15W * ? *)", "", "2024-06-01T00:00:00Z", "2024-06-14T00:00:00Z"},
		{"cron(0 0 1W * ? *)", "", "2024-05-31T00:00:00Z", "2024-06-03T00:00:00Z"},
		{"cron(0 0 30W * ? *)", "", "2024-06-01T00:00:00Z", "2024-06-28T00:00:00Z"}, // 30 June 2024 is a Sunday
		{"cron(0 0 31W * ? *)", "", "2024-04-01T00:00:00Z", "2024-05-31T00:00:00Z"}, // April has no 31st
		{"cron(0 0 ? * L *)", "", "2024-01-01T00:00:00Z", "2024-01-06T00:00:00Z"},   // L alone = Saturday (C10)
		{"cron(0 0 ? * 5L *)", "", "2024-01-01T00:00:00Z", "2024-01-25T00:00:00Z"},  // last Thursday
		{"cron(0 0 ? * fri#2 *)", "", "2024-01-01T00:00:00Z", "2024-01-12T00:00:00Z"},
		{"cron(0 0 ? * tue#2 *)", "", "2024-01-01T00:00:00Z", "2024-01-09T00:00:00Z"},
		{"cron(0 0 ? * 2#5 *)", "", "2024-02-01T00:00:00Z", "2024-04-29T00:00:00Z"}, // fifth Monday
		{"cron(0 0 30 2 ? *)", "", "2024-01-01T00:00:00Z", ""},
		{"cron(0 0 29 2 ? *)", "", "2024-03-01T00:00:00Z", "2028-02-29T00:00:00Z"},
		{"cron(0 0 ? * FRI-MON *)", "", "2024-01-02T00:00:00Z", "2024-01-05T00:00:00Z"}, // Tue → Fri
		{"cron(0 0 ? * FRI-MON *)", "", "2024-01-07T00:00:00Z", "2024-01-08T00:00:00Z"}, // Sun → Mon
		{"cron(0 22-2/2 * * ? *)", "", "2024-01-01T01:00:00Z", "2024-01-01T02:00:00Z"},
		{"cron(0 22-2/2 * * ? *)", "", "2024-01-01T02:00:00Z", "2024-01-01T22:00:00Z"},
		{"cron(0 22-2/2 * * ? *)", "", "2024-01-01T22:00:00Z", "2024-01-02T00:00:00Z"},
		{"cron(0 0 1 1 ? 2030)", "", "2024-06-01T00:00:00Z", "2030-01-01T00:00:00Z"},
		{"cron(0 0 1 jan,Jul ? 2025/5)", "", "2025-02-01T00:00:00Z", "2025-07-01T00:00:00Z"},
		{"cron(0 0 1 jan,Jul ? 2025/5)", "", "2025-07-01T00:00:00Z", "2030-01-01T00:00:00Z"},
		{"cron(59 23 31 12 ? 2199)", "", "2199-12-31T23:59:00Z", ""},
		// time zones and DST
		{"cron(0 9 * * ? *)", "Europe/Berlin", "2024-07-01T00:00:00Z", "2024-07-01T07:00:00Z"},
		{"cron(0 9 * * ? *)", "Europe/Berlin", "2024-01-01T00:00:00Z", "2024-01-01T08:00:00Z"},
		{"cron(30 2 * * ? *)", "America/New_York", "2024-03-09T12:00:00Z", "2024-03-11T06:30:00Z"}, // 02:30 on 10 March does not exist
		{"cron(30 1 * * ? *)", "America/New_York", "2024-11-02T12:00:00Z", "2024-11-03T05:30:00Z"}, // first 01:30
		{"cron(30 1 * * ? *)", "America/New_York", "2024-11-03T05:30:00Z", "2024-11-04T06:30:00Z"}, // not the repeated 01:30
		{"cron(0 * * * ? *)", "America/New_York", "2024-11-03T05:30:00Z", "2024-11-03T07:00:00Z"},  // 01:00 EST repeats: skipped
		{"cron(0 0 * * ? *)", "Australia/Lord_Howe", "2024-04-06T00:00:00Z", "2024-04-06T13:00:00Z"},
		// rate: anchored at `after`
		{"rate(5 minutes)", "", "2024-01-01T00:00:00Z", "2024-01-01T00:05:00Z"},
		{"rate(1 hour)", "", "2024-01-01T00:00:00Z", "2024-01-01T01:00:00Z"},
		{"rate(2 days)", "America/New_York", "2024-01-01T00:00:00Z", "2024-01-03T00:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.expr+"@"+tt.tz+"/"+tt.after, func(t *testing.T) {
			e, err := Parse(tt.expr)
			if err != nil {
				t.Fatal(err)
			}
			loc, err := LoadLocation(tt.tz)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := e.Next(mustTime(t, tt.after), loc)
			if tt.want == "" {
				if ok {
					t.Fatalf("Next = %s, want never", got.UTC().Format(time.RFC3339))
				}
				return
			}
			if !ok {
				t.Fatalf("Next = never, want %s", tt.want)
			}
			if !got.Equal(mustTime(t, tt.want)) {
				t.Fatalf("Next = %s, want %s", got.UTC().Format(time.RFC3339), tt.want)
			}
			if !e.IsRate() && !e.Matches(got, loc) {
				t.Fatalf("Matches(%s) = false", got)
			}
		})
	}
}

func TestNextSinceRate(t *testing.T) {
	e, err := Parse("rate(10 minutes)")
	if err != nil {
		t.Fatal(err)
	}
	anchor := mustTime(t, "2024-01-01T00:03:00Z")
	for after, want := range map[string]string{
		"2023-12-31T00:00:00Z": "2024-01-01T00:13:00Z",
		"2024-01-01T00:03:00Z": "2024-01-01T00:13:00Z",
		"2024-01-01T00:13:00Z": "2024-01-01T00:23:00Z",
		"2024-01-01T05:00:01Z": "2024-01-01T05:03:00Z",
	} {
		got, ok := e.NextSince(anchor, mustTime(t, after), nil)
		if !ok || !got.Equal(mustTime(t, want)) {
			t.Errorf("NextSince(%s) = %s, want %s", after, got.Format(time.RFC3339), want)
		}
	}
	if e.Rate() != 10*time.Minute {
		t.Errorf("Rate = %s", e.Rate())
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ expr, msg string }{
		{"cron(0 10 * * * *)", "one of them must be '?'"},
		{"cron(0 10 ? * ? *)", "cannot both be '?'"},
		{"cron(0 10 * *)", "exactly 6 fields"},
		{"cron(0 10 * * ? * *)", "exactly 6 fields"},
		{"cron(60 * * * ? *)", `minute "60"`},
		{"cron(0 24 * * ? *)", `hour "24"`},
		{"cron(0 0 32 * ? *)", `day-of-month "32"`},
		{"cron(0 0 0 * ? *)", `day-of-month "0"`},
		{"cron(0 0 ? * 8 *)", `day-of-week "8"`},
		{"cron(0 0 ? * 0 *)", `day-of-week "0"`},
		{"cron(0 0 ? * MON#6 *)", "after '#'"},
		{"cron(0 0 ? * MON#0 *)", "after '#'"},
		{"cron(0 0 ? * 1/2 *)", "'/' is not allowed"},
		{"cron(0 0 * 13 ? *)", `month "13"`},
		{"cron(0 0 * FOO ? *)", `month "FOO"`},
		{"cron(0 0 * * ? 1969)", `year "1969"`},
		{"cron(0 0 * * ? 2200)", `year "2200"`},
		{"cron(0 0 * * ? 2030-2025)", "reversed"},
		{"cron(0 0 L,5 * ? *)", "'L' and 'W'"},
		{"cron(0 0 1-5W * ? *)", "'W' follows a single day"},
		{"cron(0 0 ? * MON,5L *)", "'L' follows a single day"},
		{"cron(0 0 ? * L,MON *)", "'L' cannot be combined"},
		{"cron(0/0 * * * ? *)", "step"},
		{"cron(0/61 * * * ? *)", "step"},
		{"cron(0,,5 * * * ? *)", "empty list element"},
		{"cron(? * * * ? *)", "'?' is only allowed"},
		{"cron(0 0 * * ?)", "exactly 6 fields"},
		{"rate(1 hours)", "singular"},
		{"rate(5 hour)", "plural"},
		{"rate(0 minutes)", "positive integer"},
		{"rate(-1 minutes)", "positive integer"},
		{"rate(5 weeks)", "minute(s), hour(s) or day(s)"},
		{"rate(5)", "a value and a unit"},
		{"daily", "must be cron("},
		{"cron(0 10 * * ? *", "must be cron("},
		{"", "must be cron("},
	}
	for _, tt := range tests {
		_, err := Parse(tt.expr)
		if err == nil {
			t.Errorf("Parse(%q) succeeded", tt.expr)
			continue
		}
		if !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("Parse(%q) = %v, want it to mention %q", tt.expr, err, tt.msg)
		}
	}
}

func TestLoadLocation(t *testing.T) {
	for tz, ok := range map[string]bool{
		"": true, "UTC": true, "America/Los_Angeles": true, "Etc/GMT+5": true, "Europe/Berlin": true,
		"Mars/Olympus": false, "Local": false, "../etc/passwd": false, "America/": false,
	} {
		loc, err := LoadLocation(tz)
		if (err == nil) != ok {
			t.Errorf("LoadLocation(%q) = %v, %v", tz, loc, err)
		}
	}
}

// TestNextAgainstScan cross-checks next() with a minute-by-minute scan.
func TestNextAgainstScan(t *testing.T) {
	exprs := []string{
		"cron(*/7 */5 * * ? *)", "cron(30 1,2,3 * * ? *)", "cron(0 0-3 ? * SUN *)", "cron(15 * LW 3,11 ? *)",
		"cron(0 2 ? * 1L *)", "cron(45 1 ? 11 SUN#1 *)", "cron(0,30 * 10W * ? *)",
	}
	zones := []string{"UTC", "America/New_York", "Europe/London", "Australia/Lord_Howe"}
	start := mustTime(t, "2024-02-25T00:00:00Z")
	end := start.Add(300 * 24 * time.Hour)
	for _, s := range exprs {
		e, err := Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		for _, z := range zones {
			loc, _ := LoadLocation(z)
			// The expected firings: every instant whose wall-clock minute
			// matches, the repeated wall-clock minutes of a fall-back
			// counted once.
			var want []time.Time
			seen := map[string]bool{}
			for u := start.Add(time.Minute); u.Before(end); u = u.Add(time.Minute) {
				if !e.Matches(u, loc) {
					continue
				}
				k := u.In(loc).Format("2006-01-02T15:04")
				if seen[k] {
					continue
				}
				seen[k] = true
				want = append(want, u)
			}
			var got []time.Time
			for u := start; ; {
				n, ok := e.Next(u, loc)
				if !ok || !n.Before(end) {
					break
				}
				got = append(got, n)
				u = n
			}
			if len(got) != len(want) {
				t.Fatalf("%s in %s: %d firings, scan finds %d", s, z, len(got), len(want))
			}
			for i := range got {
				if !got[i].Equal(want[i]) {
					t.Fatalf("%s in %s: firing %d = %s, scan %s", s, z, i, got[i].UTC(), want[i].UTC())
				}
			}
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"cron(0 10 * * ? *)", "cron(0/15 * ? * MON-FRI *)", "cron(0 0 L * ? *)", "cron(0 0 LW * ? *)",
		"cron(0 0 15W * ? *)", "cron(0 0 ? * 5L *)", "cron(0 0 ? * fri#2 *)", "cron(0 0 ? * L 2030-2040)",
		"cron(0 22-2/2 * * ? *)", "cron(0 0 30 2 ? *)", "rate(5 minutes)", "rate(1 day)", "rate(1 hours)",
		"cron(0 0 ? * FRI-MON 2025/3)", "cron(", "rate()", "cron(0 0 * * ? 2199)",
	} {
		f.Add(s, "America/New_York")
	}
	after := time.Date(2024, 3, 9, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s, tz string) {
		e, err := Parse(s)
		if err != nil {
			return
		}
		loc, err := LoadLocation(tz)
		if err != nil {
			loc = time.UTC
		}
		n, ok := e.Next(after, loc)
		if !ok {
			return
		}
		if !n.After(after) {
			t.Fatalf("%q: Next(%s) = %s is not after", s, after, n)
		}
		if !e.IsRate() {
			if n.Second() != 0 || n.Nanosecond() != 0 {
				t.Fatalf("%q: Next = %s is not on a minute", s, n)
			}
			if !e.Matches(n, loc) {
				t.Fatalf("%q: Next = %s does not match", s, n)
			}
		}
	})
}
