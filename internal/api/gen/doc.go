// Package gen is the Image Builder wire layer generated from the stripped API
// model in model/imagebuilder.json: request and response structures, enums,
// constraint validation, error shapes and the route table of all operations.
//
// Regenerate with `go generate ./...`; never edit the *_gen.go files by hand.
package gen

//go:generate go run ../../../tools/modelgen gen model/imagebuilder.json .
