package app

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	ib "github.com/aws/aws-sdk-go-v2/service/imagebuilder"
	"github.com/aws/aws-sdk-go-v2/service/imagebuilder/types"
)

func TestIdempotencyAndDryRun(t *testing.T) { forEachStore(t, testIdempotencyAndDryRun) }

func testIdempotencyAndDryRun(t *testing.T, a *App) {
	c := client(a, "test", "test")
	ctx := context.Background()
	in := &ib.CreateComponentInput{Name: aws.String("idem"), SemanticVersion: aws.String("1.0.0"), Platform: types.PlatformLinux,
		Data: aws.String(helloDoc), ClientToken: aws.String("token-1")}
	first := must[*ib.CreateComponentOutput](t)(c.CreateComponent(ctx, in))
	again := must[*ib.CreateComponentOutput](t)(c.CreateComponent(ctx, in))
	if aws.ToString(again.ComponentBuildVersionArn) != aws.ToString(first.ComponentBuildVersionArn) || aws.ToString(again.ClientToken) != "token-1" {
		t.Errorf("replay = %+v, first = %+v", again, first)
	}
	if aws.ToString(again.RequestId) == aws.ToString(first.RequestId) {
		t.Error("replayed response reuses the first request ID")
	}
	builds := must[*ib.ListComponentBuildVersionsOutput](t)(c.ListComponentBuildVersions(ctx, &ib.ListComponentBuildVersionsInput{
		ComponentVersionArn: aws.String("arn:aws:imagebuilder:us-east-1:000000000000:component/idem/1.0.0")}))
	if len(builds.ComponentSummaryList) != 1 {
		t.Errorf("replay created %d builds", len(builds.ComponentSummaryList))
	}
	changed := *in
	changed.Description = aws.String("different")
	_, err := c.CreateComponent(ctx, &changed)
	wantCode(t, err, "IdempotentParameterMismatchException")

	_, err = c.CreateComponent(ctx, &ib.CreateComponentInput{Name: aws.String("dry"), SemanticVersion: aws.String("1.0.0"),
		Platform: types.PlatformLinux, Data: aws.String(helloDoc), DryRun: true})
	wantCode(t, err, "DryRunOperationException")
	_, err = c.GetComponent(ctx, &ib.GetComponentInput{ComponentBuildVersionArn: aws.String("arn:aws:imagebuilder:us-east-1:000000000000:component/dry/1.0.0/1")})
	wantCode(t, err, "ResourceNotFoundException")
	// A dry run that would fail reports the failure instead.
	_, err = c.CreateComponent(ctx, &ib.CreateComponentInput{Name: aws.String("dry"), SemanticVersion: aws.String("1.0.0"),
		Platform: types.PlatformLinux, Data: aws.String("phases: ["), DryRun: true})
	wantCode(t, err, "InvalidParameterValueException")
}

func TestTagsAndPolicies(t *testing.T) { forEachStore(t, testTagsAndPolicies) }

func testTagsAndPolicies(t *testing.T, a *App) {
	c := client(a, "test", "test")
	ctx := context.Background()
	arn := createComponent(t, c, "tagged", "1.0.0", helloDoc, func(in *ib.CreateComponentInput) {
		in.Tags = map[string]string{"a": "1"}
	}).ComponentBuildVersionArn

	must[*ib.TagResourceOutput](t)(c.TagResource(ctx, &ib.TagResourceInput{ResourceArn: arn, Tags: map[string]string{"b": "2", "c": "3"}}))
	must[*ib.UntagResourceOutput](t)(c.UntagResource(ctx, &ib.UntagResourceInput{ResourceArn: arn, TagKeys: []string{"a", "c", "missing"}}))
	tags := must[*ib.ListTagsForResourceOutput](t)(c.ListTagsForResource(ctx, &ib.ListTagsForResourceInput{ResourceArn: arn}))
	if len(tags.Tags) != 1 || tags.Tags["b"] != "2" {
		t.Errorf("tags = %v", tags.Tags)
	}
	unknown := aws.String("arn:aws:imagebuilder:us-east-1:000000000000:component/nope/1.0.0/1")
	_, err := c.TagResource(ctx, &ib.TagResourceInput{ResourceArn: unknown, Tags: map[string]string{"x": "y"}})
	wantCode(t, err, "ResourceNotFoundException")
	_, err = c.ListTagsForResource(ctx, &ib.ListTagsForResourceInput{ResourceArn: aws.String("not-an-arn")})
	wantCode(t, err, "InvalidParameterException")

	_, err = c.GetComponentPolicy(ctx, &ib.GetComponentPolicyInput{ComponentArn: arn})
	wantCode(t, err, "ResourceNotFoundException")
	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["111111111111"]},"Action":["imagebuilder:GetComponent"],"Resource":["*"]}]}`
	put := must[*ib.PutComponentPolicyOutput](t)(c.PutComponentPolicy(ctx, &ib.PutComponentPolicyInput{ComponentArn: arn, Policy: aws.String(policy)}))
	if aws.ToString(put.ComponentArn) != aws.ToString(arn) {
		t.Errorf("put echoed %s", aws.ToString(put.ComponentArn))
	}
	got := must[*ib.GetComponentPolicyOutput](t)(c.GetComponentPolicy(ctx, &ib.GetComponentPolicyInput{ComponentArn: arn}))
	if aws.ToString(got.Policy) != policy {
		t.Errorf("policy = %s", aws.ToString(got.Policy))
	}
	_, err = c.PutComponentPolicy(ctx, &ib.PutComponentPolicyInput{ComponentArn: arn, Policy: aws.String(`{"Version":"2012-10-17"}`)})
	wantCode(t, err, "InvalidParameterValueException")
	_, err = c.PutComponentPolicy(ctx, &ib.PutComponentPolicyInput{ComponentArn: unknown, Policy: aws.String(policy)})
	wantCode(t, err, "ResourceNotFoundException")
}

func TestAccountsAreIsolated(t *testing.T) { forEachStore(t, testAccountsAreIsolated) }

func testAccountsAreIsolated(t *testing.T, a *App) {
	ca, cb := client(a, "test", "test"), client(a, "other", "othersecret")
	ctx := context.Background()
	arn := createComponent(t, ca, "mine", "1.0.0", helloDoc).ComponentBuildVersionArn
	outB := createComponent(t, cb, "mine", "1.0.0", helloDoc)
	if !strings.Contains(aws.ToString(outB.ComponentBuildVersionArn), ":111111111111:component/mine/1.0.0/1") {
		t.Errorf("account B's ARN = %s", aws.ToString(outB.ComponentBuildVersionArn))
	}
	_, err := cb.GetComponent(ctx, &ib.GetComponentInput{ComponentBuildVersionArn: arn})
	wantCode(t, err, "ResourceNotFoundException")
	_, err = cb.DeleteComponent(ctx, &ib.DeleteComponentInput{ComponentBuildVersionArn: arn})
	wantCode(t, err, "ResourceNotFoundException")
	_, err = cb.TagResource(ctx, &ib.TagResourceInput{ResourceArn: arn, Tags: map[string]string{"x": "y"}})
	wantCode(t, err, "ResourceNotFoundException")
	list := must[*ib.ListComponentsOutput](t)(cb.ListComponents(ctx, &ib.ListComponentsInput{}))
	if len(list.ComponentVersionList) != 1 || aws.ToString(list.ComponentVersionList[0].Owner) != accountB {
		t.Errorf("B lists %+v", list.ComponentVersionList)
	}
	shared := must[*ib.ListComponentsOutput](t)(cb.ListComponents(ctx, &ib.ListComponentsInput{Owner: types.OwnershipShared}))
	if len(shared.ComponentVersionList) != 0 {
		t.Errorf("nothing is shared yet, B sees %+v", shared.ComponentVersionList)
	}

	// A shares the component with B through a resource policy.
	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":["imagebuilder:GetComponent","imagebuilder:ListComponents"],"Resource":"*"}]}`
	must[*ib.PutComponentPolicyOutput](t)(ca.PutComponentPolicy(ctx, &ib.PutComponentPolicyInput{ComponentArn: arn, Policy: aws.String(policy)}))
	got := must[*ib.GetComponentOutput](t)(cb.GetComponent(ctx, &ib.GetComponentInput{ComponentBuildVersionArn: arn}))
	if aws.ToString(got.Component.Owner) != accountA {
		t.Errorf("shared component owner = %s", aws.ToString(got.Component.Owner))
	}
	shared = must[*ib.ListComponentsOutput](t)(cb.ListComponents(ctx, &ib.ListComponentsInput{Owner: types.OwnershipShared}))
	if len(shared.ComponentVersionList) != 1 || aws.ToString(shared.ComponentVersionList[0].Owner) != accountA {
		t.Errorf("B's shared list = %+v", shared.ComponentVersionList)
	}
	// Sharing grants reading, not changing.
	_, err = cb.DeleteComponent(ctx, &ib.DeleteComponentInput{ComponentBuildVersionArn: arn})
	wantCode(t, err, "ResourceNotFoundException")
}

func TestAuthentication(t *testing.T) {
	a := startServer(t)
	ctx := context.Background()
	cases := []struct{ key, secret, code string }{
		{"test", "wrong", "InvalidSignatureException"},
		{"nobody", "test", "UnrecognizedClientException"},
	}
	for _, tc := range cases {
		_, err := client(a, tc.key, tc.secret).ListComponents(ctx, &ib.ListComponentsInput{})
		wantCode(t, err, tc.code)
	}
	// A clock 20 minutes off is refused.
	skewed := ib.New(ib.Options{Region: "us-east-1", BaseEndpoint: aws.String(a.URL()), RetryMaxAttempts: 1,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"}, nil
		})}, func(o *ib.Options) {
		o.HTTPSignerV4 = skewSigner{v4.NewSigner(), -20 * time.Minute}
	})
	_, err := skewed.ListComponents(ctx, &ib.ListComponentsInput{})
	wantCode(t, err, "InvalidSignatureException")

	// Nothing executes for an unsigned request.
	resp, err := http.Post(a.URL()+"/ListComponents", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 || resp.Header.Get("X-Amzn-ErrorType") != "MissingAuthenticationTokenException" || resp.Header.Get("x-amzn-RequestId") == "" {
		t.Errorf("unsigned: %d %v", resp.StatusCode, resp.Header)
	}
}

type skewSigner struct {
	s    *v4.Signer
	skew time.Duration
}

func (s skewSigner) SignHTTP(ctx context.Context, creds aws.Credentials, r *http.Request, payloadHash, service, region string, t time.Time, opts ...func(*v4.SignerOptions)) error {
	return s.s.SignHTTP(ctx, creds, r, payloadHash, service, region, t.Add(s.skew), opts...)
}

// signedRequest sends a raw request signed by the SDK's signer.
func signedRequest(t *testing.T, a *App, method, path string, body string) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, a.URL()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	sum := sha256Hex(body)
	err = v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"}, req, sum, "imagebuilder", "us-east-1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var doc map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatalf("%s %s: body is not JSON: %s", method, path, raw)
		}
	}
	return resp, doc
}

func TestWireProtocol(t *testing.T) {
	a := startServer(t)
	c := client(a, "test", "test")
	arn := aws.ToString(createComponent(t, c, "wire", "1.0.0", helloDoc).ComponentBuildVersionArn)

	cases := []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"empty list body", "POST", "/ListComponents", "", 200, ""},
		{"get by query", "GET", "/GetComponent?componentBuildVersionArn=" + url.QueryEscape(arn), "", 200, ""},
		{"tags escaped arn", "GET", "/tags/" + url.PathEscape(arn), "", 200, ""},
		{"unknown op", "POST", "/NoSuchOperation", "{}", 404, "UnknownOperationException"},
		{"bad json", "PUT", "/CreateComponent", "{not json", 400, "InvalidRequestException"},
		{"wrong json type", "POST", "/ListComponents", `{"maxResults":"ten"}`, 400, "InvalidRequestException"},
		{"missing required", "GET", "/GetComponent", "", 400, "InvalidRequestException"},
		{"bad arn", "GET", "/GetComponent?componentBuildVersionArn=" + url.QueryEscape("arn:aws:s3:::bucket/key"), "", 400, "InvalidRequestException"},
		{"bad arn on delete", "DELETE", "/DeleteComponent?componentBuildVersionArn=" + url.QueryEscape(strings.TrimSuffix(arn, "/1")+"/x"), "", 400, "InvalidRequestException"},
		{"unknown arn", "GET", "/GetComponent?componentBuildVersionArn=" + url.QueryEscape(strings.Replace(arn, "wire", "nope", 1)), "", 404, "ResourceNotFoundException"},
		{"not available yet", "PUT", "/RetryImage", `{"imageBuildVersionArn":"arn:aws:imagebuilder:us-east-1:000000000000:image/r/1.0.0/1","clientToken":"t"}`, 400, "ClientException"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, doc := signedRequest(t, a, tc.method, tc.path, tc.body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d (%v)", resp.StatusCode, tc.status, doc)
			}
			if resp.Header.Get("x-amzn-RequestId") == "" || resp.Header.Get("Content-Type") != "application/json" {
				t.Errorf("headers %v", resp.Header)
			}
			if tc.code != "" {
				if resp.Header.Get("X-Amzn-ErrorType") != tc.code {
					t.Errorf("X-Amzn-ErrorType %q, want %q", resp.Header.Get("X-Amzn-ErrorType"), tc.code)
				}
				if msg, _ := doc["message"].(string); msg == "" {
					t.Errorf("no message in %v", doc)
				}
			} else if strings.HasPrefix(tc.path, "/GetComponent") || strings.HasPrefix(tc.path, "/ListComponents") {
				if doc["requestId"] != resp.Header.Get("x-amzn-RequestId") {
					t.Errorf("requestId %v != header %s", doc["requestId"], resp.Header.Get("x-amzn-RequestId"))
				}
			}
		})
	}
}
