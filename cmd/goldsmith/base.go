package main

import (
	"cmp"
	"encoding/json"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/spf13/cobra"

	"github.com/goldsmith/goldsmith/internal/extclient"
	"github.com/goldsmith/goldsmith/internal/service"
)

func newBaseCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "base", Short: "Managed base images"}
	var endpoint, region string
	build := &cobra.Command{
		Use:       "build NAME",
		Short:     "Have the running server build a base image, push it to its registry and register it (owner Amazon)",
		Long:      "NAME is one of: busybox-x86-container, debian-12-x86-container. Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (default test/test).",
		Args:      cobra.ExactArgs(1),
		ValidArgs: service.BaseImageNames(),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := &extclient.Client{Endpoint: endpoint, Region: region, Credentials: aws.Credentials{
				AccessKeyID:     cmp.Or(os.Getenv("AWS_ACCESS_KEY_ID"), "test"),
				SecretAccessKey: cmp.Or(os.Getenv("AWS_SECRET_ACCESS_KEY"), "test"),
			}}
			out, err := c.BuildBaseImage(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(out)
		},
	}
	build.Flags().StringVar(&endpoint, "endpoint", cmp.Or(os.Getenv("GOLDSMITH_ENDPOINT"), "http://127.0.0.1:8600"), "goldsmith API endpoint (env GOLDSMITH_ENDPOINT)")
	build.Flags().StringVar(&region, "region", cmp.Or(os.Getenv("AWS_REGION"), os.Getenv("AWS_DEFAULT_REGION"), "us-east-1"), "region to register the image in")
	cmd.AddCommand(build)
	return cmd
}
