// Package dockerfile renders, parses and executes the Dockerfile templates of
// Image Builder container recipes, daemonless: every filesystem instruction runs
// in a runc sandbox over overlayfs (package container) and the sandbox's upper
// directory becomes an OCI layer appended to the base image with
// go-containerregistry.
package dockerfile
