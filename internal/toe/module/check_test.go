package module

import (
	"context"
	"reflect"
	"strings"
	"testing"
)

func TestNames(t *testing.T) {
	want := []string{
		"AppendFile", "Assert", "CopyFile", "CopyFolder", "CreateFile", "CreateFolder", "CreateSymlink",
		"DeleteFile", "DeleteFolder", "ExecuteBash", "ExecuteBinary", "ExecuteDocument", "ExecutePowerShell",
		"InstallMSI", "ListFiles", "MoveFile", "MoveFolder", "ReadFile", "Reboot", "S3Download", "S3Upload",
		"SetFileEncoding", "SetFileOwner", "SetFilePermissions", "SetFolderOwner", "SetFolderPermissions",
		"SetRegistry", "UninstallMSI", "UpdateOS", "WebDownload",
	}
	if got := Names(); !reflect.DeepEqual(got, want) {
		t.Errorf("Names() = %q", got)
	}
	for _, n := range want {
		m, ok := Lookup(n)
		if !ok || m.Name() != n {
			t.Errorf("Lookup(%s) = %v, %v", n, m, ok)
		}
	}
	if _, ok := Lookup("executebash"); ok {
		t.Error("lookup must be case-sensitive")
	}
}

// TestCheckAccepts covers inputs that must be valid, notably expressions
// in typed fields and YAML typing variants.
func TestCheckAccepts(t *testing.T) {
	tests := []struct{ action, in string }{
		{"ExecuteBash", "commands: ['echo {{ build.X.outputs.stdout }}']"},
		{"Reboot", "delaySeconds: '{{ Delay }}'"},
		{"Reboot", ""},
		{"UpdateOS", ""},
		{"UpdateOS", "include: []"},
		{"CreateFile", "- path: f\n  permissions: 0700\n  overwrite: 'false'\n  owner: 0\n  group: wheel"},
		{"CreateFile", "- path: f\n  permissions: '{{ Mode }}'\n  overwrite: '{{ Over }}'\n  encoding: '{{ Enc }}'"},
		{"CreateFolder", "- path: d\n  permissions: 777\n  owner: ec2-user"},
		{"SetFolderPermissions", "- path: '{{build.MakeStagingDIR.outputs.stdout}}'\n  permissions: 0700"},
		{"S3Download", "- source: 's3://{{ Bucket }}/{{ Key }}'\n  destination: /tmp/x"},
		{"S3Download", "- source: '{{ Source }}'\n  destination: /tmp/x\n  overwrite: True"},
		{"S3Upload", "- source: /tmp/logs/*\n  destination: s3://b/logs/\n  recurse: true\n  expectedBucketOwner: '<<your account number>>'"},
		{"WebDownload", "- source: '{{ source }}'\n  destination: /tmp/a\n  checksum: '{{ sha256 }}'\n  algorithm: SHA256"},
		{"WebDownload", "- source: HTTPS://x/y\n  destination: /tmp/\n  algorithm: sha-256\n  checksum: " + strings.Repeat("a", 64)},
		{"ExecuteDocument", "document: 'Sample-{{myForLoop.value}}.yaml'\nphases: test"},
		{"ExecutePowerShell", "file: C:\\x.ps1"},
		{"InstallMSI", "path: C:\\a.msi\nreboot: force\nlogOptions: '*vx'\nproperties: {A: b}"},
		{"SetRegistry", "- path: HKLM:\\SOFTWARE\\X\n  name: N\n  value: [a, b]\n  type: multi_sz"},
		{"Assert", "patternMatches: '^[a-z]+$'\nvalue: '{{ build.X.outputs.stdout }}'"},
		{"Assert", "and:\n  - fileExists: /etc/hosts\n  - not:\n      stringIsEmpty: x\n  - or: [{numberEquals: 1, value: 1}, {fileSHA256Equals: abc, path: /x}]"},
	}
	for _, tc := range tests {
		var in any
		if tc.in != "" {
			in = decodeYAML(t, tc.in)
		}
		if ps := mustModule(t, tc.action).Check(in); len(ps) > 0 {
			t.Errorf("%s %q: unexpected problems:%s", tc.action, tc.in, problemsString(ps))
		}
	}
}

// TestCheckRejects covers wrong types and missing inputs: each case must
// produce a problem at the named field.
func TestCheckRejects(t *testing.T) {
	tests := []struct{ action, in, field string }{
		{"ExecuteBash", "", ""},
		{"ExecuteBash", "commands: echo hi", "commands"},
		{"ExecuteBash", "commands: []", "commands"},
		{"ExecuteBash", "commands: [[a]]", "commands[0]"},
		{"ExecuteBash", "commands: [x]\ncommand: [y]", "command"},
		{"ExecuteBash", "- commands: [x]", ""},
		{"ExecuteBinary", "arguments: [a]", "path"},
		{"ExecuteBinary", "path: x\narguments: a", "arguments"},
		{"ExecuteDocument", "phases: build", "document"},
		{"ExecuteDocument", "document: a.yml\nparameters: [{name: x}]", "parameters[0].value"},
		{"ExecuteDocument", "document: a.yml\nparameters: {x: y}", "parameters"},
		{"ExecuteDocument", "document: a.yml\nphases: 'build,,test'", "phases"},
		{"Reboot", "delaySeconds: soon", "delaySeconds"},
		{"Reboot", "delaySeconds: -1", "delaySeconds"},
		{"UpdateOS", "include: kernel", "include"},
		{"UpdateOS", "exlude: [a]", "exlude"},
		{"CreateFile", "path: /x", ""},
		{"CreateFile", "[]", ""},
		{"CreateFile", "- content: x", "[0].path"},
		{"CreateFile", "- path: /x\n  permissions: 0789", "[0].permissions"},
		{"CreateFile", "- path: /x\n  permissions: 448", "[0].permissions"},
		{"CreateFile", "- path: /x\n- path: /y\n  overwrite: maybe", "[1].overwrite"},
		{"CreateFile", "- path: /x\n  encoding: ebcdic", "[0].encoding"},
		{"CreateFile", "- path: /x\n  owner: 'bad user'", "[0].owner"},
		{"CreateFile", "- path: [a]", "[0].path"},
		{"CreateFolder", "- path: /x\n  group: 'a:b'", "[0].group"},
		{"AppendFile", "- path: /x\n  encoding: utf7", "[0].encoding"},
		{"CreateSymlink", "- path: /x", "[0].target"},
		{"CopyFile", "- source: /a/*/b\n  destination: /c/", "[0].source"},
		{"CopyFile", "- source: /a", "[0].destination"},
		{"MoveFolder", "- source: /a\n  destination: /b*", "[0].destination"},
		{"DeleteFile", "- path: /a/*/x", "[0].path"},
		{"DeleteFolder", "- path: /a\n  force: yes-please", "[0].force"},
		{"ListFiles", "- path: /a\n  recursive: 1", "[0].recursive"},
		{"ReadFile", "- path: /a\n  printFileContent: x", "[0].printFileContent"},
		{"SetFileOwner", "- path: /a", "[0].owner"},
		{"SetFolderOwner", "- path: /a\n  owner: u\n  recursive: nope", "[0].recursive"},
		{"SetFilePermissions", "- path: /a", "[0].permissions"},
		{"SetFilePermissions", "- path: /a\n  permissions: rwxr-xr-x", "[0].permissions"},
		{"SetFilePermissions", "- path: /a\n  permissions: 0755\n  recursive: true", "[0].recursive"},
		{"SetFolderPermissions", "- path: /a\n  permissions: 77777", "[0].permissions"},
		{"S3Download", "- source: C:\\myfolder\\*\n  destination: s3://b/p/\n  recurse: true", "[0].source"},
		{"S3Download", "- source: C:\\myfolder\\*\n  destination: s3://b/p/\n  recurse: true", "[0].recurse"},
		{"S3Download", "- source: s3://b/k\n  destination: s3://b/p/", "[0].destination"},
		{"S3Download", "- source: s3://bucket\n  destination: /x", "[0].source"},
		{"S3Download", "- source: s3:///key\n  destination: /x", "[0].source"},
		{"S3Upload", "- source: /x\n  destination: /y", "[0].destination"},
		{"S3Upload", "- source: /x\n  destination: s3://b/\n  recurse: sometimes", "[0].recurse"},
		{"WebDownload", "- source: ftp://x/y\n  destination: /y", "[0].source"},
		{"WebDownload", "- source: https://x/y\n  destination: /y\n  algorithm: CRC32\n  checksum: ab", "[0].algorithm"},
		{"WebDownload", "- source: https://x/y\n  destination: /y\n  algorithm: MD5\n  checksum: abc", "[0].checksum"},
		{"WebDownload", "- destination: /y", "[0].source"},
		{"ExecutePowerShell", "", "commands"},
		{"ExecutePowerShell", "commands: [a]\nfile: b.ps1", ""},
		{"ExecutePowerShell", "{}", "commands"},
		{"InstallMSI", "reboot: Allow", "path"},
		{"InstallMSI", "path: a.msi\nreboot: Sometimes", "reboot"},
		{"InstallMSI", "path: a.msi\nlogOptions: '*VZ'", "logOptions"},
		{"InstallMSI", "path: a.msi\nproperties: {REBOOT: ReallySuppress}", "properties.REBOOT"},
		{"UninstallMSI", "path: a.msi\nallowUnsignedInstaller: perhaps", "allowUnsignedInstaller"},
		{"SetRegistry", "- path: HKXX:\\a\n  name: n\n  value: v\n  type: SZ", "[0].path"},
		{"SetRegistry", "- path: HKLM:\\a\n  name: n\n  value: v\n  type: STRING", "[0].type"},
		{"SetRegistry", "- path: HKLM:\\a\n  value: v\n  type: SZ", "[0].name"},
		{"Assert", "", ""},
		{"Assert", "stringEquals: a", "value"},
		{"Assert", "stringEquals: a\nvalue: b\nfileExists: /x", ""},
		{"Assert", "frobnicate: a", ""},
		{"Assert", "patternMatches: '[a-'\nvalue: x", "patternMatches"},
		{"Assert", "and: x", "and"},
		{"Assert", "or:\n  - stringEquals: a", "or[0].value"},
		{"Assert", "fileMD5Equals: abc", "path"},
		{"Assert", "fileExists: /x\nthen: Skip", "then"},
	}
	for _, tc := range tests {
		var in any
		if tc.in != "" {
			in = decodeYAML(t, tc.in)
		}
		ps := mustModule(t, tc.action).Check(in)
		if !hasProblem(ps, tc.field) {
			t.Errorf("%s %q: want a problem at %q, got:%s", tc.action, tc.in, tc.field, problemsString(ps))
		}
		for _, p := range ps {
			if p.Msg == "" {
				t.Errorf("%s %q: empty message for %q", tc.action, tc.in, p.Field)
			}
		}
	}
}

func TestRunRejectsInvalidInputs(t *testing.T) {
	env, _, _ := testEnv(t)
	for _, name := range Names() {
		_, err := mustModule(t, name).Run(context.Background(), env, []any{"not", "valid"})
		if err == nil {
			t.Errorf("%s: Run accepted invalid inputs", name)
		}
	}
}

func TestWindowsOnlyModulesFailOnLinux(t *testing.T) {
	env, _, _ := testEnv(t)
	for _, name := range []string{"ExecutePowerShell", "InstallMSI", "UninstallMSI", "SetRegistry"} {
		_, err := mustModule(t, name).Run(context.Background(), env, nil)
		if err == nil || err.Error() != name+" is unsupported on this platform (linux)" {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func TestCheckToleratesTypedScalars(t *testing.T) {
	// The contract passes scalars as source text, but typed Go values must
	// not break Check.
	in := []any{map[string]any{"path": "/x", "overwrite": false, "permissions": "0644"}}
	if ps := mustModule(t, "CreateFile").Check(in); len(ps) > 0 {
		t.Errorf("problems:%s", problemsString(ps))
	}
	if ps := mustModule(t, "Reboot").Check(map[string]any{"delaySeconds": 5}); len(ps) > 0 {
		t.Errorf("problems:%s", problemsString(ps))
	}
}
