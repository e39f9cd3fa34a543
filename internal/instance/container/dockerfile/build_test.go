package dockerfile

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestBuildConfig(t *testing.T) {
	tests := []struct {
		name   string
		df     string
		args   map[string]string
		check  func(t *testing.T, c v1.ConfigFile)
		refGot string
	}{
		{name: "ENV", df: "ENV A=1 B=\"two words\"\nENV PATH=/x:$PATH", check: func(t *testing.T, c v1.ConfigFile) {
			want := []string{"PATH=/x:/bin:/usr/bin", "A=1", "B=two words"}
			if !reflect.DeepEqual(c.Config.Env, want) {
				t.Errorf("Env = %q, want %q", c.Config.Env, want)
			}
		}},
		{name: "ARG default and substitution", df: "ARG V=3\nARG W=${V}0\nENV X=$V Y=${W}", check: func(t *testing.T, c v1.ConfigFile) {
			if !slices.Contains(c.Config.Env, "X=3") || !slices.Contains(c.Config.Env, "Y=30") || hasEnv(c.Config.Env, "V") {
				t.Errorf("Env = %q", c.Config.Env)
			}
		}},
		{name: "ARG from build args", df: "ARG V=3\nENV X=$V", args: map[string]string{"V": "9"}, check: func(t *testing.T, c v1.ConfigFile) {
			if !slices.Contains(c.Config.Env, "X=9") {
				t.Errorf("Env = %q", c.Config.Env)
			}
		}},
		{name: "ENV wins over ARG", df: "ARG V=arg\nENV V=env\nLABEL v=$V", check: func(t *testing.T, c v1.ConfigFile) {
			if c.Config.Labels["v"] != "env" {
				t.Errorf("Labels = %v", c.Config.Labels)
			}
		}},
		{name: "undeclared arg is empty", df: "LABEL v=x${NOPE}y", args: map[string]string{"NOPE": "z"}, check: func(t *testing.T, c v1.ConfigFile) {
			if c.Config.Labels["v"] != "xy" {
				t.Errorf("Labels = %v", c.Config.Labels)
			}
		}},
		{name: "WORKDIR", df: "WORKDIR /app\nWORKDIR sub/../dir\nWORKDIR $HOME", check: func(t *testing.T, c v1.ConfigFile) {
			if c.Config.WorkingDir != "/app/dir" {
				t.Errorf("WorkingDir = %q", c.Config.WorkingDir)
			}
		}},
		{name: "USER", df: "ARG U=nobody\nUSER $U", check: func(t *testing.T, c v1.ConfigFile) {
			if c.Config.User != "nobody" {
				t.Errorf("User = %q", c.Config.User)
			}
		}},
		{name: "LABEL", df: "LABEL a=b \"c d\"=e\nLABEL a=z", check: func(t *testing.T, c v1.ConfigFile) {
			if !reflect.DeepEqual(c.Config.Labels, map[string]string{"a": "z", "c d": "e"}) {
				t.Errorf("Labels = %v", c.Config.Labels)
			}
		}},
		{name: "MAINTAINER", df: "MAINTAINER Jane <j@example.com>", check: func(t *testing.T, c v1.ConfigFile) {
			if c.Author != "Jane <j@example.com>" {
				t.Errorf("Author = %q", c.Author)
			}
		}},
		{name: "ENTRYPOINT drops inherited CMD", df: "ENTRYPOINT exec /bin/app", check: func(t *testing.T, c v1.ConfigFile) {
			if !reflect.DeepEqual(c.Config.Entrypoint, []string{"/bin/sh", "-c", "exec /bin/app"}) || c.Config.Cmd != nil {
				t.Errorf("Entrypoint = %q Cmd = %q", c.Config.Entrypoint, c.Config.Cmd)
			}
		}},
		{name: "CMD then ENTRYPOINT keeps CMD", df: "CMD [\"-v\"]\nENTRYPOINT [\"/bin/app\"]", check: func(t *testing.T, c v1.ConfigFile) {
			if !reflect.DeepEqual(c.Config.Entrypoint, []string{"/bin/app"}) || !reflect.DeepEqual(c.Config.Cmd, []string{"-v"}) {
				t.Errorf("Entrypoint = %q Cmd = %q", c.Config.Entrypoint, c.Config.Cmd)
			}
		}},
		{name: "EXPOSE", df: "ARG P=8080\nEXPOSE 80 53/udp $P 7000-7001/TCP", check: func(t *testing.T, c v1.ConfigFile) {
			want := map[string]struct{}{"80/tcp": {}, "53/udp": {}, "8080/tcp": {}, "7000-7001/tcp": {}}
			if !reflect.DeepEqual(c.Config.ExposedPorts, want) {
				t.Errorf("ExposedPorts = %v", c.Config.ExposedPorts)
			}
		}},
		{name: "VOLUME", df: "VOLUME /data [\"/logs\"]\nVOLUME [\"/cache\"]", check: func(t *testing.T, c v1.ConfigFile) {
			if _, ok := c.Config.Volumes["/cache"]; !ok || len(c.Config.Volumes) < 2 {
				t.Errorf("Volumes = %v", c.Config.Volumes)
			}
		}},
		{name: "SHELL changes shell forms", df: "SHELL [\"/bin/bash\", \"-ec\"]\nCMD echo hi", check: func(t *testing.T, c v1.ConfigFile) {
			if !reflect.DeepEqual(c.Config.Cmd, []string{"/bin/bash", "-ec", "echo hi"}) || !reflect.DeepEqual(c.Config.Shell, []string{"/bin/bash", "-ec"}) {
				t.Errorf("Cmd = %q Shell = %q", c.Config.Cmd, c.Config.Shell)
			}
		}},
		{name: "HEALTHCHECK", df: "HEALTHCHECK --interval=5s --timeout=2s --retries=4 CMD [\"/bin/true\"]", check: func(t *testing.T, c v1.ConfigFile) {
			h := c.Config.Healthcheck
			if h == nil || h.Interval != 5*time.Second || h.Timeout != 2*time.Second || h.Retries != 4 || !reflect.DeepEqual(h.Test, []string{"CMD", "/bin/true"}) {
				t.Errorf("Healthcheck = %+v", h)
			}
		}},
		{name: "STOPSIGNAL", df: "STOPSIGNAL SIGINT", check: func(t *testing.T, c v1.ConfigFile) {
			if c.Config.StopSignal != "SIGINT" {
				t.Errorf("StopSignal = %q", c.Config.StopSignal)
			}
		}},
		{name: "ONBUILD", df: "ONBUILD RUN echo child", check: func(t *testing.T, c v1.ConfigFile) {
			if !reflect.DeepEqual(c.Config.OnBuild, []string{"RUN echo child"}) {
				t.Errorf("OnBuild = %q", c.Config.OnBuild)
			}
		}},
		{name: "history", df: "ENV A=1\nRUN true", check: func(t *testing.T, c v1.ConfigFile) {
			if len(c.History) != 3 || c.History[1].CreatedBy != "ENV A=1" || !c.History[1].EmptyLayer || c.History[2].EmptyLayer {
				t.Errorf("History = %+v", c.History)
			}
			if c.OS != "linux" || len(c.RootFS.DiffIDs) != 2 {
				t.Errorf("os %q, %d diff ids", c.OS, len(c.RootFS.DiffIDs))
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeRuntime{}
			res, err := fakeBuild(t, f, "ARG B=base\nFROM $B\n"+tc.df+"\n", Options{Args: tc.args})
			if err != nil {
				t.Fatal(err)
			}
			cf, err := res.Image.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, *cf)
			if f.opened != f.closed {
				t.Errorf("%d sandboxes opened, %d closed", f.opened, f.closed)
			}
			for _, s := range res.Steps {
				if s.Status != StepCompleted || s.End.Before(s.Start) {
					t.Errorf("step %+v", s)
				}
			}
		})
	}
}

func TestBuildRun(t *testing.T) {
	f := &fakeRuntime{run: func(root string, p process) int {
		_ = os.WriteFile(filepath.Join(root, "marker"), []byte(strings.Join(p.Args, " ")), 0o644)
		return 0
	}}
	var steps []Step
	res, err := fakeBuild(t, f, "FROM base\nARG V=1\nENV E=2\nWORKDIR /w\nUSER app\nRUN echo $V $E\nRUN [\"/bin/x\", \"a b\"]\n",
		Options{OnStep: func(s Step) { steps = append(steps, s) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.runs) != 2 {
		t.Fatalf("%d runs", len(f.runs))
	}
	r := f.runs[0]
	if !reflect.DeepEqual(r.Args, []string{"/bin/sh", "-c", "echo $V $E"}) || r.Cwd != "/w" || r.User != "app" {
		t.Errorf("run 1 = %+v", r)
	}
	if !slices.Contains(r.Env, "V=1") || !slices.Contains(r.Env, "E=2") || !slices.Contains(r.Env, "PATH=/bin:/usr/bin") {
		t.Errorf("run env = %q", r.Env)
	}
	if !reflect.DeepEqual(f.runs[1].Args, []string{"/bin/x", "a b"}) {
		t.Errorf("run 2 = %q", f.runs[1].Args)
	}
	cf, _ := res.Image.ConfigFile()
	if hasEnv(cf.Config.Env, "V") {
		t.Errorf("build arg leaked into the image: %q", cf.Config.Env)
	}
	files := layerFiles(t, res.Image, 1)
	if files["marker"].data != "/bin/x a b" {
		t.Errorf("marker = %q", files["marker"].data)
	}
	if _, ok := files["w"]; !ok {
		t.Errorf("WORKDIR /w not created: %v", slices.Collect(mapsKeysFE(files)))
	}
	// FROM, ARG, ENV, WORKDIR, USER, RUN, RUN, commit: each starts and ends.
	if len(steps) != 16 || len(res.Steps) != 8 || steps[10].Status != StepRunning || steps[11].Line != 6 {
		t.Errorf("%d notifications, %d steps: %+v", len(steps), len(res.Steps), steps)
	}
}

func mapsKeysFE(m map[string]fileEntry) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func TestBuildLayers(t *testing.T) {
	df := "FROM base\nRUN a\nCOPY x /x\nRUN b\nENV E=1\nRUN c\nWORKDIR /w\nLABEL l=1\n"
	for _, tc := range []struct {
		squash bool
		layers int
	}{{false, 1 + 2}, {true, 1 + 1}} {
		f := &fakeRuntime{}
		ctxDir := t.TempDir()
		if err := os.WriteFile(filepath.Join(ctxDir, "x"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		res, err := fakeBuild(t, f, df, Options{Squash: tc.squash, ContextDir: ctxDir})
		if err != nil {
			t.Fatal(err)
		}
		layers, _ := res.Image.Layers()
		cf, _ := res.Image.ConfigFile()
		nonEmpty := 0
		for _, h := range cf.History {
			if !h.EmptyLayer {
				nonEmpty++
			}
		}
		if len(layers) != tc.layers || nonEmpty != tc.layers || f.opened != tc.layers-1 || f.closed != f.opened {
			t.Errorf("squash=%v: %d layers, %d non-empty history entries, %d sandboxes (%d closed)", tc.squash, len(layers), nonEmpty, f.opened, f.closed)
		}
		for _, l := range layers[1:] {
			mt, _ := l.MediaType()
			if mt != "application/vnd.oci.image.layer.v1.tar+gzip" {
				t.Errorf("layer media type %s", mt)
			}
		}
	}
}

func TestBuildRunFailure(t *testing.T) {
	f := &fakeRuntime{run: func(root string, p process) int {
		_, _ = p.Stdout.Write([]byte(strings.Repeat("x", 5000) + "\nlast words\n"))
		return 3
	}}
	var out bytes.Buffer
	scratch := t.TempDir()
	res, err := fakeBuild(t, f, "FROM base\nENV A=1\n\nRUN exit 3\nRUN never\n", Options{Stdout: &out, ScratchDir: scratch})
	var se *StepError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v", err)
	}
	if se.ExitCode != 3 || se.Step.Line != 4 || se.Step.Index != 2 || !strings.Contains(se.Tail, "last words") || len(se.Tail) > tailSize {
		t.Errorf("step error = %+v", se)
	}
	for _, want := range []string{"line 4", "RUN exit 3", "exit code 3", "last words"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if res == nil || len(res.Steps) != 3 || res.Steps[2].Status != StepFailed || res.Steps[2].ExitCode != 3 {
		t.Errorf("steps = %+v", res)
	}
	if out.Len() < 5000 {
		t.Errorf("stdout not passed through (%d bytes)", out.Len())
	}
	if f.opened != 1 || f.closed != 1 || len(f.runs) != 1 {
		t.Errorf("opened %d closed %d runs %d", f.opened, f.closed, len(f.runs))
	}
	if entries, _ := os.ReadDir(scratch); len(entries) != 0 {
		t.Errorf("scratch dir keeps %v after a failure", entries)
	}
}

func TestBuildErrors(t *testing.T) {
	tests := []struct{ name, df, want string }{
		{"unknown base", "FROM nope\n", "resolving the base image nope"},
		{"platform", "FROM --platform=linux/arm64 base\n", "platform linux/arm64 is not supported"},
		{"copy without context", "FROM base\nCOPY a /a\n", "no build context"},
		{"bad port", "FROM base\nEXPOSE http\n", "invalid port"},
		{"url after expansion", "FROM base\nARG U=http://x/y\nADD $U /y\n", "is a URL"},
		{"chown unknown user", "FROM base\nCOPY --chown=ghost a /a\n", "ghost"},
		{"parse error", "FROM base\nBOGUS x\n", "line 2: BOGUS: unknown instruction"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := Options{}
			if strings.Contains(tc.df, "chown") || strings.Contains(tc.df, "ADD") {
				o.ContextDir = t.TempDir()
				_ = os.WriteFile(filepath.Join(o.ContextDir, "a"), nil, 0o644)
			}
			_, err := fakeBuild(t, &fakeRuntime{}, tc.df, o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestBuildCopy(t *testing.T) {
	ctxDir := t.TempDir()
	write := func(name, data string, mode os.FileMode) {
		p := filepath.Join(ctxDir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("a.txt", "A", 0o600)
	write("b.txt", "B", 0o644)
	write("dir/sub/c.txt", "C", 0o644)
	write("run.sh", "#!/bin/sh", 0o755)
	if err := os.Symlink("c.txt", filepath.Join(ctxDir, "dir/sub/link")); err != nil {
		t.Fatal(err)
	}
	var tgz bytes.Buffer
	gz := gzip.NewWriter(&tgz)
	tw := tar.NewWriter(gz)
	_ = tw.WriteHeader(&tar.Header{Name: "pkg/", Typeflag: tar.TypeDir, Mode: 0o755, Uid: 7, Gid: 8})
	_ = tw.WriteHeader(&tar.Header{Name: "pkg/f", Typeflag: tar.TypeReg, Mode: 0o640, Size: 1, Uid: 7, Gid: 8})
	_, _ = tw.Write([]byte("F"))
	_ = tw.Close()
	_ = gz.Close()
	write("pkg.tar.gz", tgz.String(), 0o644)

	df := `FROM base
WORKDIR /app
COPY a.txt .
COPY *.txt /multi/
COPY dir /tree
COPY --chown=app --chmod=750 run.sh /usr/local/bin/run
COPY --chown=nobody:staff b.txt /owned
COPY pkg.tar.gz /copied/
ADD pkg.tar.gz /opt/
ADD --chown=0:0 pkg.tar.gz /root-owned/
`
	res, err := fakeBuild(t, &fakeRuntime{}, df, Options{ContextDir: ctxDir})
	if err != nil {
		t.Fatal(err)
	}
	files := layerFiles(t, res.Image, 1)
	check := func(name, data string, mode int64, uid, gid int) {
		t.Helper()
		e, ok := files[name]
		if !ok {
			t.Errorf("%s missing from the layer", name)
			return
		}
		if e.data != data || e.h.Mode&0o7777 != mode || e.h.Uid != uid || e.h.Gid != gid {
			t.Errorf("%s = %q mode %o owner %d:%d; want %q %o %d:%d", name, e.data, e.h.Mode&0o7777, e.h.Uid, e.h.Gid, data, mode, uid, gid)
		}
	}
	check("app/a.txt", "A", 0o600, 0, 0)
	check("multi/a.txt", "A", 0o600, 0, 0)
	check("multi/b.txt", "B", 0o644, 0, 0)
	check("tree/sub/c.txt", "C", 0o644, 0, 0)
	check("usr/local/bin/run", "#!/bin/sh", 0o750, 1000, 1001)
	check("owned", "B", 0o644, 65534, 50)
	check("copied/pkg.tar.gz", tgz.String(), 0o644, 0, 0)
	check("opt/pkg/f", "F", 0o640, 7, 8)
	check("root-owned/pkg/f", "F", 0o640, 0, 0)
	if l := files["tree/sub/link"]; l.h == nil || l.h.Typeflag != tar.TypeSymlink || l.h.Linkname != "c.txt" {
		t.Errorf("symlink = %+v", l.h)
	}
	if _, ok := files["tree/dir"]; ok {
		t.Error("COPY dir copied the directory itself, not its contents")
	}
}

func TestBuildStagedComponents(t *testing.T) {
	ctxDir := t.TempDir()
	bin := filepath.Join(t.TempDir(), "goldsmith")
	if err := os.WriteFile(bin, []byte("#!binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	staged, err := Stage(t.Context(), ctxDir, bin, []Component{
		{Name: "hello world", Document: []byte("name: a\n"), Parameters: map[string]string{"p": "v w", "a": "1"}},
		{Name: "second", Document: []byte("name: b\n")},
	}, "/work")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(staged.Paths, []string{"/goldsmith/components/01-hello-world.yml", "/goldsmith/components/02-second.yml"}) {
		t.Errorf("paths = %q", staged.Paths)
	}
	cfg, err := os.ReadFile(filepath.Join(ctxDir, ".goldsmith", "toe.json"))
	if err != nil || !strings.Contains(string(cfg), `"name": "p"`) || !strings.Contains(string(cfg), `"value": "v w"`) {
		t.Errorf("toe.json = %s (%v)", cfg, err)
	}
	tmpl := "FROM {{{ imagebuilder:parentImage }}}\n{{{ imagebuilder:environments }}}\n{{{ imagebuilder:components }}}\nRUN after\n"
	df, err := Render(tmpl, Vars{ParentImage: "base", Environments: EnvironmentsBlock(staged.WorkingDirectory), Components: ComponentsBlock(staged)})
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeRuntime{run: func(root string, p process) int {
		if p.Args[0] != "/goldsmith/bin/goldsmith" {
			return 0
		}
		for _, want := range []string{"goldsmith/bin/goldsmith", "goldsmith/toe.json", "goldsmith/components/02-second.yml"} {
			if _, err := os.Stat(filepath.Join(root, want)); err != nil {
				return 10
			}
		}
		d := filepath.Join(root, "goldsmith/logs/TOE_1")
		_ = os.MkdirAll(d, 0o755)
		_ = os.WriteFile(filepath.Join(d, "detailedoutput.json"), []byte(`{"ok":true}`), 0o644)
		_ = os.WriteFile(filepath.Join(root, "work-product"), []byte("made"), 0o644)
		return 0
	}}
	logs := t.TempDir()
	res, err := fakeBuild(t, f, df, Options{ContextDir: ctxDir, LogDir: logs})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/goldsmith/bin/goldsmith", "toe", "run", "--config", "/goldsmith/toe.json", "--phases", "build,validate",
		"--log-directory", "/goldsmith/logs", "--working-directory", "/work"}
	if len(f.runs) != 2 || !reflect.DeepEqual(f.runs[0].Args, want) || f.runs[0].Cwd != "/work" {
		t.Fatalf("runs = %+v", f.runs)
	}
	files := layerFiles(t, res.Image, 1)
	for name := range files {
		if strings.HasPrefix(name, "goldsmith") {
			t.Errorf("staged file %s is in the image", name)
		}
	}
	if files["work-product"].data != "made" {
		t.Error("the component's work is missing")
	}
	if data, err := os.ReadFile(filepath.Join(logs, "TOE_1", "detailedoutput.json")); err != nil || string(data) != `{"ok":true}` {
		t.Errorf("detailedoutput.json = %q, %v", data, err)
	}
}

func TestBuildScratch(t *testing.T) {
	ctxDir := t.TempDir()
	_ = os.WriteFile(filepath.Join(ctxDir, "app"), []byte("bin"), 0o755)
	res, err := fakeBuild(t, &fakeRuntime{}, "FROM scratch\nCOPY app /app\nENTRYPOINT [\"/app\"]\n", Options{ContextDir: ctxDir})
	if err != nil {
		t.Fatal(err)
	}
	layers, _ := res.Image.Layers()
	cf, _ := res.Image.ConfigFile()
	if len(layers) != 1 || cf.OS != "linux" || cf.Architecture == "" {
		t.Errorf("%d layers, config %+v", len(layers), cf)
	}
}

func TestBuildCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	f := &fakeRuntime{run: func(string, process) int { cancel(); return 0 }}
	o := Options{ScratchDir: t.TempDir(), rt: f.runtime()}
	base := fakeBase(t)
	o.Base = func(context.Context, string) (v1.Image, error) { return base, nil }
	_, err := Build(ctx, "FROM base\nRUN a\nRUN b\n", o)
	if !errors.Is(err, context.Canceled) || f.closed != 1 {
		t.Fatalf("err = %v, closed %d", err, f.closed)
	}
}

// TestBuildDeferClose: with DeferClose, a successful Build returns with
// its last sandbox open and hands over one function that closes it and
// removes the kept upper directories; the image is complete before that.
// A failed Build hands over nothing and has closed everything.
func TestBuildDeferClose(t *testing.T) {
	tests := []struct {
		name       string
		df         string
		fail       bool
		openAtEnd  int // sandboxes still open when Build returns
		wantCalled bool
	}{
		{"one layer", "FROM base\nRUN a\n", false, 1, true},
		{"two layers", "FROM base\nRUN a\nENV E=1\nRUN b\n", false, 1, true},
		{"no filesystem instruction", "FROM base\nENV E=1\n", false, 0, true},
		{"failure", "FROM base\nRUN a\nENV E=1\nRUN fail\n", true, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeRuntime{run: func(root string, p process) int {
				if strings.Contains(strings.Join(p.Args, " "), "fail") {
					return 1
				}
				return 0
			}}
			scratch := t.TempDir()
			var later []func() error
			res, err := fakeBuild(t, f, tt.df, Options{ScratchDir: scratch,
				DeferClose: func(c func() error) { later = append(later, c) }})
			if (err != nil) != tt.fail {
				t.Fatalf("Build = %v", err)
			}
			if got := len(later) == 1; got != tt.wantCalled || len(later) > 1 {
				t.Fatalf("DeferClose called %d times", len(later))
			}
			if open := f.opened - f.closed; open != tt.openAtEnd {
				t.Fatalf("%d sandboxes open when Build returned, want %d", open, tt.openAtEnd)
			}
			if tt.fail {
				return
			}
			layers, err := res.Image.Layers()
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range layers {
				if _, err := l.Digest(); err != nil {
					t.Fatal(err)
				}
			}
			if err := later[0](); err != nil {
				t.Fatal(err)
			}
			if f.opened != f.closed {
				t.Fatalf("%d sandboxes opened, %d closed", f.opened, f.closed)
			}
			entries, _ := os.ReadDir(scratch)
			for _, e := range entries {
				if !strings.HasPrefix(e.Name(), "layer-") {
					t.Errorf("scratch keeps %s after the deferred close", e.Name())
				}
			}
		})
	}
}
