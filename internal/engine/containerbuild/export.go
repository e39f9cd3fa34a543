package containerbuild

import "context"

// Stepper runs the steps of one stage and reports each (RUNNING, then its
// end) to onStep. The VM stages (package vmbuild) use it, so that both kinds
// of build report steps the same way.
type Stepper struct{ s stepper }

// NewStepper returns a Stepper reporting to onStep (which may be nil).
func NewStepper(onStep StepFunc) *Stepper { return &Stepper{s: stepper{onStep: onStep}} }

// Run executes fn as the step name/action; see stepper.run.
func (s *Stepper) Run(ctx context.Context, name, action string, inputs map[string]string,
	fn func(outputs map[string]string) (string, error)) error {
	return s.s.run(ctx, name, action, inputs, fn)
}

// Skip records a SKIPPED step.
func (s *Stepper) Skip(name, action, msg string) error { return s.s.skip(name, action, msg) }

// Steps are the steps run so far.
func (s *Stepper) Steps() []Step { return s.s.steps }

// DescribeToeFailure names the first failure of a toe detailedoutput.json:
// component, phase, step, action and message. paths[i] is the document
// path toe was given for comps[i]. "" when data reports no failure.
func DescribeToeFailure(data []byte, paths []string, comps []Component) string {
	staged := make([]stagedComponent, 0, len(comps))
	for i, c := range comps {
		if i < len(paths) {
			staged = append(staged, stagedComponent{path: paths[i], comp: c})
		}
	}
	return describeFailure(data, staged)
}
