package module

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"unicode"
)

// windowsOnly is a Windows action module: its inputs are validated like
// AWSTOE does, but running it on this platform fails the step.
type windowsOnly struct {
	name  string
	check func(in any) []Problem
}

func (w windowsOnly) Name() string { return w.name }

func (w windowsOnly) Check(in any) []Problem { return w.check(in) }

func (w windowsOnly) Run(context.Context, *Env, any) (Result, error) {
	return Result{}, fmt.Errorf("%s is unsupported on this platform (%s)", w.name, runtime.GOOS)
}

var executePowerShellSpec = spec{{"commands", kStringList, false}, {"file", kString, false}}

// checkExecutePowerShell requires exactly one of commands and file.
func checkExecutePowerShell(in any) []Problem {
	return checkSingle(in, executePowerShellSpec, func(p *problems, m map[string]any) {
		_, hasCmds := m["commands"]
		_, hasFile := m["file"]
		switch {
		case hasCmds && hasFile:
			p.add("", "exactly one of commands and file must be given, not both")
		case !hasCmds && !hasFile:
			p.add("commands", "is required (or file)")
		}
	})
}

var msiSpec = spec{
	{"path", kString, true},
	{"reboot", kString, false},
	{"logOptions", kString, false},
	{"logFile", kString, false},
	{"properties", kStringMap, false},
	{"ignoreAuthenticodeSignatureErrors", kBool, false},
	{"allowUnsignedInstaller", kBool, false},
}

// checkMSI validates InstallMSI/UninstallMSI inputs.
func checkMSI(in any) []Problem {
	return checkSingle(in, msiSpec, func(p *problems, m map[string]any) {
		if s, ok := m["reboot"].(string); ok && !isExpr(s) {
			switch strings.ToLower(s) {
			case "allow", "force", "skip":
			default:
				p.add("reboot", "must be Allow, Force or Skip, got %q", s)
			}
		}
		if s, ok := m["logOptions"].(string); ok && !isExpr(s) {
			for _, c := range s {
				if !strings.ContainsRune("iwearucmopvx+!*", unicode.ToLower(c)) {
					p.add("logOptions", "invalid msiexec log flag %q in %q (accepted: i w e a r u c m o p v x + ! *)", c, s)
					break
				}
			}
		}
		if props, ok := m["properties"].(map[string]any); ok {
			for k := range props {
				switch strings.ToUpper(k) {
				case "REBOOT", "REBOOTPROMPT":
					p.add("properties."+k, "property %s is controlled by the module (use the reboot input)", k)
				}
			}
		}
	})
}

var setRegistrySpec = spec{
	{"path", kString, true},
	{"name", kString, true},
	{"value", kAny, true},
	{"type", kString, true},
}

var registryHives = []string{
	"HKEY_CLASSES_ROOT", "HKCR:", "HKEY_USERS", "HKU:", "HKEY_LOCAL_MACHINE", "HKLM:",
	"HKEY_CURRENT_CONFIG", "HKCC:", "HKEY_CURRENT_USER", "HKCU:",
}

// checkSetRegistry validates SetRegistry list items.
func checkSetRegistry(in any) []Problem {
	return checkItems(in, setRegistrySpec, func(p *problems, path string, m map[string]any) {
		if s, ok := m["path"].(string); ok && !isExpr(s) {
			up := strings.ToUpper(s)
			found := false
			for _, h := range registryHives {
				if strings.HasPrefix(up, h) {
					found = true
					break
				}
			}
			if !found {
				p.add(join(path, "path"), "must start with a registry hive (HKLM:, HKEY_LOCAL_MACHINE, HKCU:, …), got %q", s)
			}
		}
		if s, ok := m["type"].(string); ok && !isExpr(s) {
			switch strings.ToUpper(s) {
			case "BINARY", "DWORD", "QWORD", "SZ", "EXPAND_SZ", "MULTI_SZ":
			default:
				p.add(join(path, "type"), "must be one of BINARY, DWORD, QWORD, SZ, EXPAND_SZ, MULTI_SZ, got %q", s)
			}
		}
		if v, ok := m["value"].(map[string]any); ok {
			p.add(join(path, "value"), "must be a string, number or list, got %s", describe(v))
		}
	})
}
