package toe

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// MaxDocumentDepth bounds ExecuteDocument nesting (a document may call
// documents that call documents, no deeper).
const MaxDocumentDepth = 3

// runDocumentFunc returns the module.Env.RunDocument hook for steps of
// parent: it runs another document as a nested execution with its own
// execution id and a log sub-folder of this execution.
func (r *runner) runDocumentFunc(parent *Document) func(ctx context.Context, source string, phases []string, params map[string]string) (map[string]any, error) {
	return func(ctx context.Context, source string, phases []string, params map[string]string) (map[string]any, error) {
		if r.opts.depth+1 > MaxDocumentDepth {
			return nil, fmt.Errorf("ExecuteDocument: documents may be nested at most %d levels deep", MaxDocumentDepth)
		}
		name, data, err := r.loadNested(ctx, parent, source)
		if err != nil {
			return nil, err
		}
		ancestors := append([]string{documentKey(parent.File)}, r.opts.ancestors...)
		for _, a := range ancestors {
			if a == documentKey(name) {
				return nil, fmt.Errorf("ExecuteDocument: %s would run itself again (cycle through %s)", source, strings.Join(ancestors, " ← "))
			}
		}
		doc, err := ParseDocument(name, data)
		if err != nil {
			return nil, fmt.Errorf("ExecuteDocument: %w", err)
		}
		sub := r.opts
		sub.Documents = []*Document{doc}
		sub.Phases = phases
		sub.Parameters = params
		sub.ExecutionID = newUUID()
		sub.LogDirectory = r.logDir
		sub.StateDirectory = r.logDir
		sub.OnEvent = nil
		sub.Stdout = r.console
		sub.depth = r.opts.depth + 1
		sub.ancestors = ancestors
		sub.noState = true
		exec, err := Run(ctx, sub)
		if err != nil {
			return nil, fmt.Errorf("ExecuteDocument %s: %w", source, err)
		}
		out := map[string]any{}
		s, _ := json.Marshal(exec.Summary())
		_ = json.Unmarshal(s, &out)
		var detailed any
		d, _ := json.Marshal(exec)
		_ = json.Unmarshal(d, &detailed)
		out["detailedOutput"] = detailed
		if !exec.Status.Succeeded() {
			return out, fmt.Errorf("ExecuteDocument %s finished with status %s: %s", source, exec.Status, exec.FailureMessage)
		}
		return out, nil
	}
}

// documentKey identifies a document for cycle detection.
func documentKey(name string) string {
	if strings.Contains(name, "://") || strings.HasPrefix(name, "arn:") {
		return name
	}
	if abs, err := filepath.Abs(name); err == nil {
		return abs
	}
	return name
}

// loadNested reads an ExecuteDocument source: a local path (relative to the
// working directory, else to the calling document), or anything else
// through RunOptions.LoadDocument.
func (r *runner) loadNested(ctx context.Context, parent *Document, source string) (string, []byte, error) {
	if strings.HasPrefix(source, "s3://") || strings.HasPrefix(source, "arn:") || strings.Contains(source, "://") {
		if r.opts.LoadDocument == nil {
			return "", nil, fmt.Errorf("ExecuteDocument: cannot fetch %s: no document loader is configured", source)
		}
		data, err := r.opts.LoadDocument(ctx, source)
		if err != nil {
			return "", nil, fmt.Errorf("ExecuteDocument: fetching %s: %w", source, err)
		}
		return source, data, nil
	}
	candidates := []string{source}
	if !filepath.IsAbs(source) {
		candidates = nil
		if r.opts.WorkDir != "" {
			candidates = append(candidates, filepath.Join(r.opts.WorkDir, source))
		} else {
			candidates = append(candidates, source)
		}
		candidates = append(candidates, filepath.Join(filepath.Dir(parent.File), source))
	}
	var firstErr error
	for _, c := range candidates {
		data, err := os.ReadFile(c)
		if err == nil {
			return c, data, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return "", nil, fmt.Errorf("ExecuteDocument: reading %s: %w", source, firstErr)
}
