// Package containerbuild runs the three stages of an Image Builder container
// image build: BuildStage (render the recipe's Dockerfile template with the
// components staged in, build it daemonless from the parent image),
// TestStage (the components' test phase in a fresh sandbox from the built
// image) and DistributeStage (push with the tags, collect the OS version and
// the package list). Cleanup removes what the stages keep.
//
// The stages are independent calls: the durable engine calls them one by
// one, in fresh processes if need be, with the same Spec. Everything a
// stage hands to the next lives on disk under Spec.ScratchDir:
//
//	<ScratchDir>/image/       the built image, an OCI image layout (BuildStage)
//	<ScratchDir>/build.json   the built image's manifest digest (BuildStage, last)
//	<ScratchDir>/build/       BuildStage's working directory (removed when it ends)
//	<ScratchDir>/test/        TestStage's sandbox (removed when it ends)
//
// A stage started again (after a crash or a restart) first removes what a
// previous attempt of the same stage left, sandboxes included (runc
// containers and overlay mounts, see container.Cleanup), and redoes its
// work. Logs go to Spec.LogDir/<stage>/ and outlive Cleanup.
package containerbuild
