// Package docsource fetches component documents named by ExecuteDocument
// steps that are not local paths: s3:// URIs (any S3-compatible endpoint)
// and component ARNs (read from a goldsmith server with GetComponent).
package docsource

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/imagebuilder"

	"github.com/goldsmith/goldsmith/internal/artifact"
)

// maxDocumentBytes bounds a fetched document.
const maxDocumentBytes = 1 << 20

// Server addresses the goldsmith (or Image Builder) endpoint that component
// ARNs are read from.
type Server struct {
	Endpoint        string // e.g. http://127.0.0.1:8600; "" = component ARNs are refused
	Region          string
	AccessKeyID     string
	SecretAccessKey string
}

// Loader fetches documents.
type Loader struct {
	fetch  *artifact.Fetcher
	client *imagebuilder.Client
}

// New returns a Loader reading s3:// URIs with s3 and component ARNs from srv.
func New(s3 artifact.S3Options, srv Server) *Loader {
	l := &Loader{fetch: artifact.NewFetcher(s3)}
	if srv.Endpoint != "" {
		region := srv.Region
		if region == "" {
			region = "us-east-1"
		}
		l.client = imagebuilder.New(imagebuilder.Options{
			Region:       region,
			BaseEndpoint: aws.String(srv.Endpoint),
			Credentials:  credentials.NewStaticCredentialsProvider(srv.AccessKeyID, srv.SecretAccessKey, ""),
		})
	}
	return l
}

// Load returns the document named by source.
func (l *Loader) Load(ctx context.Context, source string) ([]byte, error) {
	switch {
	case strings.HasPrefix(source, "s3://"):
		return l.fetch.Fetch(ctx, source, maxDocumentBytes)
	case strings.HasPrefix(source, "arn:") && strings.Contains(source, ":component/"):
		if l.client == nil {
			return nil, fmt.Errorf("component %s: no server endpoint is configured (--endpoint)", source)
		}
		out, err := l.client.GetComponent(ctx, &imagebuilder.GetComponentInput{ComponentBuildVersionArn: aws.String(source)})
		if err != nil {
			return nil, fmt.Errorf("component %s: %w", source, err)
		}
		if out.Component == nil || aws.ToString(out.Component.Data) == "" {
			return nil, fmt.Errorf("component %s has no document", source)
		}
		return []byte(aws.ToString(out.Component.Data)), nil
	default:
		return nil, errors.New("unsupported document source " + source + " (local path, s3:// URI or component ARN)")
	}
}
