package app

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	ib "github.com/aws/aws-sdk-go-v2/service/imagebuilder"
	"github.com/aws/aws-sdk-go-v2/service/imagebuilder/types"
)

// TestComponentWildcardDependency: a recipe naming component/x/1.x.x keeps
// the last build matching it from being deleted, but not one that has a
// newer sibling still matching.
func TestComponentWildcardDependency(t *testing.T) {
	a := startServer(t)
	c := client(a, "test", "test")
	ctx := context.Background()
	b1 := createComponent(t, c, "dep", "1.0.0", helloDoc).ComponentBuildVersionArn
	b2 := createComponent(t, c, "dep", "1.1.0", helloDoc).ComponentBuildVersionArn
	_, err := c.CreateImageRecipe(ctx, &ib.CreateImageRecipeInput{
		Name: aws.String("uses-dep"), SemanticVersion: aws.String("1.0.0"),
		ParentImage: aws.String("arn:aws:imagebuilder:us-east-1:aws:image/debian-12-x86/x.x.x"),
		Components:  []types.ComponentConfiguration{{ComponentArn: aws.String("arn:aws:imagebuilder:us-east-1:000000000000:component/dep/1.x.x")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	// 1.0.0/1 can go: 1.1.0/1 still satisfies 1.x.x.
	must[*ib.DeleteComponentOutput](t)(c.DeleteComponent(ctx, &ib.DeleteComponentInput{ComponentBuildVersionArn: b1}))
	// 1.1.0/1 is the last match.
	_, err = c.DeleteComponent(ctx, &ib.DeleteComponentInput{ComponentBuildVersionArn: b2})
	wantCode(t, err, "ResourceDependencyException")
}
