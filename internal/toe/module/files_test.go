package module

import (
	"context"
	"os"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// tree describes files for setup and assertions: path → content; a path
// ending with "/" is a folder; content "->x" is a symlink to x.
type tree map[string]string

func writeTree(t *testing.T, root string, tr tree) {
	t.Helper()
	keys := make([]string, 0, len(tr))
	for k := range tr {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p := filepath.Join(root, k)
		if strings.HasSuffix(k, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(tr[k], "->"); ok {
			if err := os.Symlink(target, p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, []byte(tr[k]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// readTree lists everything under root in the tree format.
func readTree(t *testing.T, root string) tree {
	t.Helper()
	out := tree{}
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			out[rel] = "->" + l
		case fi.IsDir():
			out[rel+"/"] = ""
		default:
			b, _ := os.ReadFile(p)
			out[rel] = string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func diffTree(want, got tree) string {
	var b strings.Builder
	for k, v := range want {
		if g, ok := got[k]; !ok {
			b.WriteString("\n  missing " + k)
		} else if g != v {
			b.WriteString("\n  " + k + ": got " + strconv.Quote(g) + ", want " + strconv.Quote(v))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			b.WriteString("\n  unexpected " + k)
		}
	}
	return b.String()
}

func TestFileModules(t *testing.T) {
	tests := []struct {
		name    string
		action  string
		setup   tree
		inputs  string // YAML, relative paths resolve against the work dir
		want    tree   // nil: not checked
		wantErr string
		outputs map[string]string // expected outputs (values relative to work dir where "$W" appears)
	}{
		{name: "CreateFile with parents", action: "CreateFile",
			inputs: "- path: a/b/c.txt\n  content: hello\n- path: ./empty.txt",
			want:   tree{"a/": "", "a/b/": "", "a/b/c.txt": "hello", "empty.txt": ""}},
		{name: "CreateFile keeps backslash escapes literally", action: "CreateFile",
			inputs: `- path: s.txt` + "\n" + `  content: ABCD\nRandom\tvalues`,
			want:   tree{"s.txt": `ABCD\nRandom\tvalues`}},
		{name: "CreateFile overwrites by default", action: "CreateFile", setup: tree{"f": "old"},
			inputs: "- path: f\n  content: new", want: tree{"f": "new"}},
		{name: "CreateFile overwrite false", action: "CreateFile", setup: tree{"f": "old"},
			inputs: "- path: f\n  content: new\n  overwrite: false", want: tree{"f": "old"}, wantErr: "overwrite is false"},
		{name: "CreateFile utf-16", action: "CreateFile",
			inputs: "- path: u\n  content: hé\n  encoding: UTF-16", want: tree{"u": "h\x00\xe9\x00"}},
		{name: "CreateFile utf-32-BE", action: "CreateFile",
			inputs: "- path: u\n  content: h\n  encoding: utf-32-BE", want: tree{"u": "\x00\x00\x00h"}},
		{name: "CreateFile on folder", action: "CreateFile", setup: tree{"d/": ""},
			inputs: "- path: d", wantErr: "is a folder"},
		{name: "AppendFile", action: "AppendFile", setup: tree{"f": "a"},
			inputs: "- path: f\n  content: b\n- path: f", want: tree{"f": "ab"}},
		{name: "AppendFile utf-32", action: "AppendFile", setup: tree{"f": ""},
			inputs: "- path: f\n  content: x\n  encoding: UTF-32", want: tree{"f": "x\x00\x00\x00"}},
		{name: "AppendFile missing file", action: "AppendFile",
			inputs: "- path: nope\n  content: b", wantErr: "no such file"},
		{name: "CreateFolder", action: "CreateFolder", setup: tree{"x/keep": "1"},
			inputs: "- path: a/b/\n- path: x", want: tree{"a/": "", "a/b/": "", "x/": "", "x/keep": "1"}},
		{name: "CreateFolder overwrite false", action: "CreateFolder", setup: tree{"x/": ""},
			inputs: "- path: x\n  overwrite: false", wantErr: "overwrite is false"},
		{name: "CreateFolder over file", action: "CreateFolder", setup: tree{"x": ""},
			inputs: "- path: x", wantErr: "not a folder"},
		{name: "CreateSymlink", action: "CreateSymlink", setup: tree{"t.txt": "t"},
			inputs: "- path: l/link.txt\n  target: t.txt",
			want:   tree{"t.txt": "t", "l/": "", "l/link.txt": "->$W/t.txt"}},
		{name: "CreateSymlink exists without force", action: "CreateSymlink", setup: tree{"t": "", "l": "->t"},
			inputs: "- path: l\n  target: t", wantErr: "force is false"},
		{name: "CreateSymlink force replaces link", action: "CreateSymlink", setup: tree{"t": "", "u": "", "l": "->t"},
			inputs: "- path: l\n  target: u\n  force: true", want: tree{"t": "", "u": "", "l": "->$W/u"}},
		{name: "CreateSymlink never replaces a file", action: "CreateSymlink", setup: tree{"t": "", "l": "x"},
			inputs: "- path: l\n  target: t\n  force: true", wantErr: "not a symbolic link"},
		{name: "CreateSymlink missing target", action: "CreateSymlink",
			inputs: "- path: l\n  target: nope", wantErr: "no such file"},
		{name: "CopyFile to new name", action: "CopyFile", setup: tree{"s/a.txt": "A"},
			inputs: "- source: s/a.txt\n  destination: d/new.txt",
			want:   tree{"s/": "", "s/a.txt": "A", "d/": "", "d/new.txt": "A"}},
		{name: "CopyFile into folder keeps name", action: "CopyFile", setup: tree{"s/a.txt": "A"},
			inputs: "- source: s/a.txt\n  destination: d/",
			want:   tree{"s/": "", "s/a.txt": "A", "d/": "", "d/a.txt": "A"}},
		{name: "CopyFile onto existing folder lands inside", action: "CopyFile", setup: tree{"a.txt": "A", "d/": ""},
			inputs: "- source: a.txt\n  destination: d", want: tree{"a.txt": "A", "d/": "", "d/a.txt": "A"}},
		{name: "CopyFile wildcard", action: "CopyFile", setup: tree{"s/Sample1": "1", "s/Sample2": "2", "s/other": "o", "s/SampleDir/": ""},
			inputs: "- source: s/Sample*\n  destination: d/",
			want: tree{"s/": "", "s/Sample1": "1", "s/Sample2": "2", "s/other": "o", "s/SampleDir/": "",
				"d/": "", "d/Sample1": "1", "d/Sample2": "2"}},
		{name: "CopyFile wildcard without match", action: "CopyFile", setup: tree{"s/x": ""},
			inputs: "- source: s/Sample*\n  destination: d/", wantErr: "no file matches"},
		{name: "CopyFile overwrite false", action: "CopyFile", setup: tree{"a": "A", "b": "B"},
			inputs: "- source: a\n  destination: b\n  overwrite: false", want: tree{"a": "A", "b": "B"}, wantErr: "overwrite is false"},
		{name: "CopyFile overwrites by default", action: "CopyFile", setup: tree{"a": "A", "b": "B"},
			inputs: "- source: a\n  destination: b", want: tree{"a": "A", "b": "A"}},
		{name: "CopyFile missing source", action: "CopyFile",
			inputs: "- source: nope\n  destination: b", wantErr: "no such file"},
		{name: "CopyFile source is a folder", action: "CopyFile", setup: tree{"d/": ""},
			inputs: "- source: d\n  destination: e", wantErr: "is a folder"},
		{name: "CopyFile onto itself", action: "CopyFile", setup: tree{"a": "A"},
			inputs: "- source: a\n  destination: ./a", want: tree{"a": "A"}, wantErr: "same"},
		{name: "MoveFile", action: "MoveFile", setup: tree{"s/a.txt": "A"},
			inputs: "- source: s/a.txt\n  destination: d/b.txt", want: tree{"s/": "", "d/": "", "d/b.txt": "A"}},
		{name: "MoveFile wildcard", action: "MoveFile", setup: tree{"s/x.log": "1", "s/y.log": "2", "s/z.txt": "3"},
			inputs: "- source: s/*.log\n  destination: d/",
			want:   tree{"s/": "", "s/z.txt": "3", "d/": "", "d/x.log": "1", "d/y.log": "2"}},
		{name: "MoveFile overwrite false", action: "MoveFile", setup: tree{"a": "A", "b": "B"},
			inputs: "- source: a\n  destination: b\n  overwrite: false", want: tree{"a": "A", "b": "B"}, wantErr: "overwrite is false"},
		{name: "CopyFolder to new name", action: "CopyFolder", setup: tree{"s/x": "1", "s/sub/y": "2", "s/l": "->x"},
			inputs: "- source: s\n  destination: d/copy",
			want: tree{"s/": "", "s/x": "1", "s/sub/": "", "s/sub/y": "2", "s/l": "->x",
				"d/": "", "d/copy/": "", "d/copy/x": "1", "d/copy/sub/": "", "d/copy/sub/y": "2", "d/copy/l": "->x"}},
		{name: "CopyFolder into folder keeps name", action: "CopyFolder", setup: tree{"s/x": "1"},
			inputs: "- source: s\n  destination: d/",
			want:   tree{"s/": "", "s/x": "1", "d/": "", "d/s/": "", "d/s/x": "1"}},
		{name: "CopyFolder wildcard", action: "CopyFolder", setup: tree{"p/Sample1/x": "1", "p/Sample2/": "", "p/Samplefile": "f"},
			inputs: "- source: p/Sample*\n  destination: d/",
			want: tree{"p/": "", "p/Sample1/": "", "p/Sample1/x": "1", "p/Sample2/": "", "p/Samplefile": "f",
				"d/": "", "d/Sample1/": "", "d/Sample1/x": "1", "d/Sample2/": ""}},
		{name: "CopyFolder replaces existing", action: "CopyFolder", setup: tree{"s/x": "1", "d/old": "o"},
			inputs: "- source: s\n  destination: d", want: tree{"s/": "", "s/x": "1", "d/": "", "d/x": "1"}},
		{name: "CopyFolder overwrite false", action: "CopyFolder", setup: tree{"s/x": "1", "d/old": "o"},
			inputs: "- source: s\n  destination: d\n  overwrite: false", wantErr: "overwrite is false"},
		{name: "CopyFolder into itself", action: "CopyFolder", setup: tree{"s/x": "1"},
			inputs: "- source: s\n  destination: s/inner", wantErr: "into itself"},
		{name: "MoveFolder", action: "MoveFolder", setup: tree{"s/x": "1"},
			inputs: "- source: s\n  destination: a/b/", want: tree{"a/": "", "a/b/": "", "a/b/s/": "", "a/b/s/x": "1"}},
		{name: "MoveFolder source is a file", action: "MoveFolder", setup: tree{"s": "1"},
			inputs: "- source: s\n  destination: d", wantErr: "not a folder"},
		{name: "DeleteFile", action: "DeleteFile", setup: tree{"a": "", "b": ""},
			inputs: "- path: a\n- path: missing", want: tree{"b": ""}},
		{name: "DeleteFile wildcard keeps folders", action: "DeleteFile", setup: tree{"d/x.log": "", "d/y.log": "", "d/z.txt": "", "d/dir.log/": ""},
			inputs: "- path: d/*log", want: tree{"d/": "", "d/z.txt": "", "d/dir.log/": ""}},
		{name: "DeleteFile all in folder", action: "DeleteFile", setup: tree{"d/x": "", "d/y": ""},
			inputs: "- path: d/*", want: tree{"d/": ""}},
		{name: "DeleteFile on folder", action: "DeleteFile", setup: tree{"d/": ""},
			inputs: "- path: d", wantErr: "is a folder"},
		{name: "DeleteFolder empty", action: "DeleteFolder", setup: tree{"d/": ""},
			inputs: "- path: d/\n- path: missing", want: tree{}},
		{name: "DeleteFolder not empty without force", action: "DeleteFolder", setup: tree{"d/x": ""},
			inputs: "- path: d", wantErr: "not empty"},
		{name: "DeleteFolder force", action: "DeleteFolder", setup: tree{"d/x/y": "", "keep": ""},
			inputs: "- path: d\n  force: 'true'", want: tree{"keep": ""}},
		{name: "ListFiles", action: "ListFiles", setup: tree{"d/b": "", "d/a": "", "d/sub/c": ""},
			inputs: "- path: d", outputs: map[string]string{"files": "$W/d/a,$W/d/b"}},
		{name: "ListFiles recursive with pattern", action: "ListFiles", setup: tree{"d/a.log": "", "d/b.txt": "", "d/sub/c.log": ""},
			inputs: "- path: d/\n  recursive: true\n  fileNamePattern: '*log'", outputs: map[string]string{"files": "$W/d/a.log,$W/d/sub/c.log"}},
		{name: "ListFiles missing folder", action: "ListFiles", inputs: "- path: nope", wantErr: "no such file"},
		{name: "ReadFile", action: "ReadFile", setup: tree{"f": "content\n"},
			inputs: "- path: f", outputs: map[string]string{"content": "content\n"}},
		{name: "ReadFile utf-16 with BOM through symlink", action: "ReadFile", setup: tree{"f": "\xff\xfeh\x00i\x00", "l": "->f"},
			inputs: "- path: l\n  encoding: utf-16", outputs: map[string]string{"content": "hi"}},
		{name: "ReadFile missing", action: "ReadFile", inputs: "- path: nope", wantErr: "no such file"},
		{name: "SetFileEncoding utf8 to utf16-BE", action: "SetFileEncoding", setup: tree{"f": "hi"},
			inputs: "- path: f\n  encoding: utf16-BE", want: tree{"f": "\x00h\x00i"}},
		{name: "SetFileEncoding utf16 BOM to utf8", action: "SetFileEncoding", setup: tree{"f": "\xff\xfeh\x00i\x00"},
			inputs: "- path: f", want: tree{"f": "hi"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env, _, _ := testEnv(t)
			w := env.WorkDir
			writeTree(t, w, tc.setup)
			res, err := mustModule(t, tc.action).Run(context.Background(), env, decodeYAML(t, tc.inputs))
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("err = %v, want containing %q", err, tc.wantErr)
			}
			if tc.want != nil {
				want := tree{}
				for k, v := range tc.want {
					want[k] = strings.ReplaceAll(v, "$W", w)
				}
				if d := diffTree(want, readTree(t, w)); d != "" {
					t.Errorf("tree differs:%s", d)
				}
			}
			for k, v := range tc.outputs {
				if got := res.Outputs[k]; got != strings.ReplaceAll(v, "$W", w) {
					t.Errorf("output %s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestPermissionModules(t *testing.T) {
	env, _, _ := testEnv(t)
	w := env.WorkDir
	writeTree(t, w, tree{"f": "", "d/x": "", "d/sub/y": ""})
	run := func(action, in string) {
		t.Helper()
		if _, err := mustModule(t, action).Run(context.Background(), env, decodeYAML(t, in)); err != nil {
			t.Fatalf("%s: %v", action, err)
		}
	}
	mode := func(p string) os.FileMode {
		t.Helper()
		fi, err := os.Lstat(filepath.Join(w, p))
		if err != nil {
			t.Fatal(err)
		}
		return fi.Mode() & (os.ModePerm | os.ModeSetuid | os.ModeSetgid | os.ModeSticky)
	}
	run("SetFilePermissions", "- path: f\n  permissions: 0640")
	if got := mode("f"); got != 0o640 {
		t.Errorf("f mode %v", got)
	}
	run("SetFilePermissions", "- path: f\n  permissions: 4755")
	if got := mode("f"); got != 0o755|os.ModeSetuid {
		t.Errorf("f mode %v, want setuid 0755", got)
	}
	run("SetFolderPermissions", "- path: d/\n  permissions: '0700'")
	for _, p := range []string{"d", "d/x", "d/sub", "d/sub/y"} {
		if got := mode(p); got != 0o700 {
			t.Errorf("%s mode %v, want 0700 (recursive by default)", p, got)
		}
	}
	run("SetFolderPermissions", "- path: d\n  permissions: 755\n  recursive: false")
	if mode("d") != 0o755 || mode("d/x") != 0o700 {
		t.Errorf("non-recursive: d %v d/x %v", mode("d"), mode("d/x"))
	}
	run("CreateFile", "- path: g\n  permissions: 0600")
	run("CreateFolder", "- path: e/f\n  permissions: 0750")
	if mode("g") != 0o600 || mode("e/f") != 0o750 {
		t.Errorf("create modes: g %v e/f %v", mode("g"), mode("e/f"))
	}
	if _, err := mustModule(t, "SetFilePermissions").Run(context.Background(), env, decodeYAML(t, "- path: d\n  permissions: 0644")); err == nil {
		t.Error("SetFilePermissions on a folder: no error")
	}
	if _, err := mustModule(t, "SetFolderPermissions").Run(context.Background(), env, decodeYAML(t, "- path: f\n  permissions: 0644")); err == nil {
		t.Error("SetFolderPermissions on a file: no error")
	}
}

func TestOwnerModules(t *testing.T) {
	env, _, _ := testEnv(t)
	w := env.WorkDir
	writeTree(t, w, tree{"f": "", "d/x": ""})
	me, err := user.Current()
	if err != nil {
		t.Skip("no current user:", err)
	}
	grp, err := user.LookupGroupId(me.Gid)
	if err != nil {
		t.Skip("no current group:", err)
	}
	// Setting the current owner works without privileges, by name and id.
	for _, in := range []string{
		"- path: f\n  owner: " + me.Username,
		"- path: f\n  owner: '" + me.Uid + "'\n  group: " + grp.Name,
		"- path: f\n  owner: " + me.Uid + "\n  group: " + me.Gid,
	} {
		if _, err := mustModule(t, "SetFileOwner").Run(context.Background(), env, decodeYAML(t, in)); err != nil {
			t.Errorf("SetFileOwner %q: %v", in, err)
		}
	}
	if _, err := mustModule(t, "SetFolderOwner").Run(context.Background(), env, decodeYAML(t, "- path: d\n  owner: "+me.Username)); err != nil {
		t.Errorf("SetFolderOwner: %v", err)
	}
	if _, err := mustModule(t, "CreateFile").Run(context.Background(), env, decodeYAML(t, "- path: n\n  owner: "+me.Username+"\n  group: "+grp.Name)); err != nil {
		t.Errorf("CreateFile with owner: %v", err)
	}
	_, err = mustModule(t, "SetFileOwner").Run(context.Background(), env, decodeYAML(t, "- path: f\n  owner: no-such-user-xyz"))
	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("unknown user: %v", err)
	}
	_, err = mustModule(t, "SetFolderOwner").Run(context.Background(), env, decodeYAML(t, "- path: d\n  owner: "+me.Username+"\n  group: no-such-group-xyz"))
	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("unknown group: %v", err)
	}
	if os.Geteuid() == 0 {
		// As root, numeric ids unknown to the user database are applied as is.
		if _, err := mustModule(t, "SetFolderOwner").Run(context.Background(), env, decodeYAML(t, "- path: d\n  owner: 54321\n  group: 54322")); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"d", "d/x"} {
			fi, err := os.Lstat(filepath.Join(w, p))
			if err != nil {
				t.Fatal(err)
			}
			st := fi.Sys().(*syscall.Stat_t)
			if st.Uid != 54321 || st.Gid != 54322 {
				t.Errorf("%s owned by %d:%d, want 54321:54322", p, st.Uid, st.Gid)
			}
		}
	}
}

func TestReadFilePrint(t *testing.T) {
	env, out, _ := testEnv(t)
	writeTree(t, env.WorkDir, tree{"f": "shown"})
	if _, err := mustModule(t, "ReadFile").Run(context.Background(), env, decodeYAML(t, "- path: f\n  printFileContent: true")); err != nil {
		t.Fatal(err)
	}
	if out.String() != "shown\n" {
		t.Errorf("console = %q", out.String())
	}
}

func TestMoveAcrossFileSystems(t *testing.T) {
	other, err := os.MkdirTemp("/dev/shm", "move-test-")
	if err != nil {
		t.Skip("no /dev/shm:", err)
	}
	defer os.RemoveAll(other)
	env, _, _ := testEnv(t)
	var a, b syscall.Stat_t
	if syscall.Stat(other, &a) != nil || syscall.Stat(env.WorkDir, &b) != nil || a.Dev == b.Dev {
		t.Skip("/dev/shm is on the same file system as the temp dir")
	}
	writeTree(t, other, tree{"f.txt": "F", "d/x": "X", "d/l": "->x"})
	in := "- source: " + other + "/f.txt\n  destination: moved/\n"
	if _, err := mustModule(t, "MoveFile").Run(context.Background(), env, decodeYAML(t, in)); err != nil {
		t.Fatal(err)
	}
	in = "- source: " + other + "/d\n  destination: dir"
	if _, err := mustModule(t, "MoveFolder").Run(context.Background(), env, decodeYAML(t, in)); err != nil {
		t.Fatal(err)
	}
	want := tree{"moved/": "", "moved/f.txt": "F", "dir/": "", "dir/x": "X", "dir/l": "->x"}
	if d := diffTree(want, readTree(t, env.WorkDir)); d != "" {
		t.Errorf("destination differs:%s", d)
	}
	if d := diffTree(tree{}, readTree(t, other)); d != "" {
		t.Errorf("sources not removed:%s", d)
	}
}
