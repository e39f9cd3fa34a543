// Package toe is goldsmith's AWSTOE-compatible component engine: it parses,
// validates and runs AWSTOE component documents (documents.md §1).
//
//   - ParseDocument turns YAML or JSON into a Document, keeping line and
//     column of every element and the source text of scalars (an unquoted
//     0700 stays "0700"). It checks everything that does not depend on the
//     action modules: top-level keys, schemaVersion (1.0, "1.0" or 1),
//     parameters, constants, phases and the shape of steps, if and loop.
//     Errors are *DocumentError or ValidationErrors naming file, line,
//     step, field and the offending value.
//   - Validate adds the module checks (module.Lookup, Module.Check), the
//     ExecuteDocument restrictions and every {{ }} expression: unknown
//     variables, chaining to later or unknown steps, loop variables outside
//     their loop, chaining inside for bounds.
//   - Run executes documents in order and their phases in document order,
//     with parameters, constants, chaining, loops, conditions, retries,
//     per-step timeouts (context cancellation kills the module's process
//     group), onFailure and reboot/resume through a state file. It writes
//     the AWSTOE log folder TOE_<time>_UTC-0_<execution id> with
//     application.log, console.log, detailedoutput.json, chaining.json and
//     document.yaml, and reports progress through RunOptions.OnEvent.
//
// Decisions where the specification leaves room (documents.md §6): string
// comparisons are case-sensitive; a binary comparison tests value against
// the operator's operand ("numberLessThan: 2, value: 1" is true); custom
// phase names are allowed next to build/validate/test; loop variables
// outside a loop are a validation error (and stay verbatim at run time);
// a reboot stops the execution with status RebootRequested (exit code 194
// in the CLI) and a rerun with the same execution id resumes it.
package toe
