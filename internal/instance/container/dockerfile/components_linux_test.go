package dockerfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goldsmith/goldsmith/internal/testsupport"
)

// TestRealBuildComponents stages the real goldsmith binary and a component
// (CreateFile, with a parameter; no shell needed) into a busybox build and
// checks the component's work is in the image, the staging is not, and
// toe's detailedoutput.json reached LogDir.
func TestRealBuildComponents(t *testing.T) {
	requireSandbox(t)
	if testing.Short() {
		t.Skip("builds the goldsmith binary; skipped with -short")
	}
	bin := testsupport.GoldsmithBinary(t)
	doc := `name: marker
schemaVersion: 1.0
parameters:
  - Content:
      type: string
      default: nothing
phases:
  - name: build
    steps:
      - name: Marker
        action: CreateFile
        inputs:
          - path: /etc/component-marker
            content: '{{ Content }}'
`
	ctxDir := t.TempDir()
	staged, err := Stage(t.Context(), ctxDir, bin, []Component{{Name: "marker", Document: []byte(doc),
		Parameters: map[string]string{"Content": "made-by-toe"}}}, "")
	if err != nil {
		t.Fatal(err)
	}
	df, err := Render("FROM {{{ imagebuilder:parentImage }}}\n{{{ imagebuilder:environments }}}\n{{{ imagebuilder:components }}}\n",
		Vars{ParentImage: "busybox", Environments: EnvironmentsBlock(staged.WorkingDirectory), Components: ComponentsBlock(staged)})
	if err != nil {
		t.Fatal(err)
	}
	logs := t.TempDir()
	var out strings.Builder
	res, err := realBuild(t, df, Options{ContextDir: ctxDir, LogDir: logs, Stdout: &out, Stderr: &out})
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	files := layerFiles(t, res.Image, 1)
	if got := strings.TrimSpace(files["etc/component-marker"].data); got != "made-by-toe" {
		t.Errorf("component marker = %q; output:\n%s", got, out.String())
	}
	for name := range files {
		if strings.HasPrefix(name, "goldsmith") {
			t.Errorf("staged %s is in the image", name)
		}
	}
	found, _ := filepath.Glob(filepath.Join(logs, "*", "detailedoutput.json"))
	if len(found) != 1 {
		t.Errorf("detailedoutput.json in LogDir: %v", found)
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	testsupport.Cleanup()
	os.Exit(code)
}
