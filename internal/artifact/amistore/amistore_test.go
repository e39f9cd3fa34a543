package amistore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestNewIDAndValid(t *testing.T) {
	seen := map[string]bool{}
	for range 50 {
		id, err := NewID()
		if err != nil {
			t.Fatal(err)
		}
		if !ValidID(id) || seen[id] {
			t.Fatalf("NewID() = %q (valid %v, repeated %v)", id, ValidID(id), seen[id])
		}
		seen[id] = true
	}
	for _, bad := range []string{"", "ami-123", "ami-0123456789abcdef01", "ami-0123456789ABCDEF0", "img-0123456789abcdef0", "ami-0123456789abcdef0/.."} {
		if ValidID(bad) {
			t.Errorf("ValidID(%q) = true", bad)
		}
	}
}

func TestCanLaunch(t *testing.T) {
	tests := []struct {
		name    string
		ami     AMI
		account string
		want    bool
	}{
		{"owner", AMI{Owner: "111111111111"}, "111111111111", true},
		{"stranger", AMI{Owner: "111111111111"}, "222222222222", false},
		{"managed", AMI{Owner: "aws"}, "222222222222", true},
		{"granted", AMI{Owner: "111111111111", Launch: &LaunchPermission{UserIDs: []string{"222222222222"}}}, "222222222222", true},
		{"granted other", AMI{Owner: "111111111111", Launch: &LaunchPermission{UserIDs: []string{"333333333333"}}}, "222222222222", false},
		{"public", AMI{Owner: "111111111111", Launch: &LaunchPermission{UserGroups: []string{"all"}}}, "222222222222", true},
		{"organisation only", AMI{Owner: "111111111111", Launch: &LaunchPermission{OrganizationArns: []string{"arn:aws:organizations::111111111111:organization/o-abc"}}}, "222222222222", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.ami.CanLaunch(tt.account); got != tt.want {
				t.Errorf("CanLaunch(%s) = %v, want %v", tt.account, got, tt.want)
			}
		})
	}
}

func TestPutGetFindDelete(t *testing.T) {
	ctx := context.Background()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "d.qcow2")
	if err := os.WriteFile(src, []byte("disk bytes"), 0o600); err != nil {
		t.Fatal(err)
	}
	id, _ := NewID()
	a := &AMI{ID: id, Region: "eu-west-1", Owner: "111111111111", Name: "n", VirtualSize: 10}
	if err := s.Put(ctx, a, src, false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(src); err != nil {
		t.Fatalf("a copy must keep the source: %v", err)
	}
	if err := s.Put(ctx, a, src, false); err == nil {
		t.Fatal("a second Put of the same ID must fail")
	}
	got, err := s.Get("eu-west-1", id)
	if err != nil || got.Name != "n" || got.Created.IsZero() {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	if _, err := s.Get("us-east-1", id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get in another region = %v, want ErrNotFound", err)
	}
	if f, err := s.Find("us-east-1", id); err != nil || f.Region != "eu-west-1" {
		t.Fatalf("Find = %+v, %v", f, err)
	}
	disk, _ := s.Disk("eu-west-1", id)
	if b, err := os.ReadFile(disk); err != nil || string(b) != "disk bytes" {
		t.Fatalf("disk = %q, %v", b, err)
	}
	id2, _ := NewID()
	if err := s.Put(ctx, &AMI{ID: id2, Region: "eu-west-1"}, src, true); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(src); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a move must take the source: %v", err)
	}
	got.Tags = map[string]string{"k": "v"}
	if err := s.Update(got); err != nil {
		t.Fatal(err)
	}
	if g, _ := s.Get("eu-west-1", id); g.Tags["k"] != "v" {
		t.Fatalf("Update not kept: %+v", g)
	}
	if err := s.Delete("eu-west-1", id); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("eu-west-1", id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after Delete: %v", err)
	}
	if _, err := s.Get("eu-west-1", "../../etc"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a path is not an ID: %v", err)
	}
	if _, err := s.Get("../x", id2); err == nil {
		t.Fatal("a path is not a region")
	}
}

func TestSweep(t *testing.T) {
	root := t.TempDir()
	s, _ := Open(root)
	left := filepath.Join(root, "eu-west-1", ".tmp-ami-0123456789abcdef0-1")
	if err := os.MkdirAll(left, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := s.Sweep(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(left); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Sweep left %s", left)
	}
}

func TestDeleteFrom(t *testing.T) {
	ctx := context.Background()
	s, _ := Open(t.TempDir())
	src := filepath.Join(t.TempDir(), "d.qcow2")
	if err := os.WriteFile(src, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	put := func(region, source string) string {
		id, _ := NewID()
		if err := s.Put(ctx, &AMI{ID: id, Region: region, SourceImage: source}, src, false); err != nil {
			t.Fatal(err)
		}
		return id
	}
	put("us-east-1", "arn:a")
	put("us-west-2", "arn:a")
	keep := put("us-east-1", "arn:b")
	n, err := s.DeleteFrom("arn:a")
	if err != nil || n != 2 {
		t.Fatalf("DeleteFrom = %d, %v; want 2", n, err)
	}
	if _, err := s.Get("us-east-1", keep); err != nil {
		t.Fatalf("another image's AMI was removed: %v", err)
	}
}
