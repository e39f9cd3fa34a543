// Package extclient calls goldsmith's own operations (under /goldsmith/),
// signed with SigV4 like the Image Builder API.
package extclient

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Client addresses a goldsmith server.
type Client struct {
	Endpoint    string // e.g. http://127.0.0.1:8600
	Region      string
	Credentials aws.Credentials
	HTTP        *http.Client // nil: a client without timeout (builds take a while)
}

// Error is an error answer of the server.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s (HTTP %d)", e.Code, e.Message, e.Status) }

// BuildBaseImageOutput is the answer of BuildBaseImage.
type BuildBaseImageOutput struct {
	ImageBuildVersionArn string   `json:"imageBuildVersionArn"`
	ImageUris            []string `json:"imageUris,omitempty"`
	ImageID              string   `json:"imageId,omitempty"` // VM bases
}

// BuildBaseImage asks the server to build and register a base image.
func (c *Client) BuildBaseImage(ctx context.Context, name string) (*BuildBaseImageOutput, error) {
	var out BuildBaseImageOutput
	if err := c.call(ctx, "BuildBaseImage", map[string]string{"name": name}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func (c *Client) call(ctx context.Context, op string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(c.Endpoint, "/")+"/goldsmith/"+op, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	req.Header.Set("Content-Type", "application/json")
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(ctx, c.Credentials, req, hex.EncodeToString(sum[:]), "imagebuilder", c.Region, time.Now()); err != nil {
		return fmt.Errorf("%s: signing: %w", op, err)
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%s: reading answer: %w", op, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Message string `json:"message"`
		}
		_ = json.Unmarshal(raw, &e)
		return &Error{Status: resp.StatusCode, Code: resp.Header.Get("X-Amzn-ErrorType"), Message: e.Message}
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s: decoding answer: %w", op, err)
	}
	return nil
}
