// Package config reads goldsmith's server configuration: a YAML file whose
// values command-line flags may override.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Defaults of the embedded configuration.
const (
	DefaultListen    = "127.0.0.1:8600"
	DefaultDataDir   = "./goldsmith-data"
	DefaultRegion    = "us-east-1"
	DefaultAccount   = "000000000000"
	DefaultAccessKey = "test"
	DefaultSecret    = "test"
)

// Config is the whole server configuration.
type Config struct {
	Listen  string `yaml:"listen"`
	DataDir string `yaml:"dataDir"`
	Region  string `yaml:"region"`
	// Regions are the sites distributions may target; default: Region.
	Regions  []string  `yaml:"regions"`
	Accounts []Account `yaml:"accounts"`
	Store    Store     `yaml:"store"`
	S3       S3        `yaml:"s3"`
	Keys     Keys      `yaml:"keys"`
	Registry Registry  `yaml:"registry"`
	Build    Build     `yaml:"build"`
	// ECR maps a region to the registry that stands in for its ECR
	// (default: the built-in registry).
	ECR      map[string]ExternalRegistry `yaml:"ecr"`
	LogLevel string                      `yaml:"logLevel"` // debug, info, warn, error
}

// Account is one account ID with its access keys.
type Account struct {
	ID          string       `yaml:"id"`
	Credentials []Credential `yaml:"credentials"`
}

// Credential is one access key pair.
type Credential struct {
	AccessKeyID     string `yaml:"accessKeyId"`
	SecretAccessKey string `yaml:"secretAccessKey"`
}

// Store selects the database.
type Store struct {
	Driver string `yaml:"driver"` // sqlite (default) or postgres
	URL    string `yaml:"url"`    // postgres URL; sqlite: file path (default <dataDir>/goldsmith.db)
}

// S3 configures the S3-compatible endpoint used to read s3:// URIs.
type S3 struct {
	Endpoint        string `yaml:"endpoint"`
	Region          string `yaml:"region"`
	AccessKeyID     string `yaml:"accessKeyId"`
	SecretAccessKey string `yaml:"secretAccessKey"`
	UsePathStyle    bool   `yaml:"usePathStyle"`
}

// Registry configures the built-in OCI registry (durable under
// <dataDir>/registry).
type Registry struct {
	Listen string `yaml:"listen"` // default 127.0.0.1:8601
}

// ExternalRegistry is an OCI registry images are pushed to.
type ExternalRegistry struct {
	Address  string `yaml:"address"` // host[:port]
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	Insecure bool   `yaml:"insecure"` // plain http
}

// Build configures the build engine.
type Build struct {
	// Disabled leaves images PENDING (no engine runs); for API-only use.
	Disabled bool `yaml:"disabled"`
	// GoldsmithBinary is the static goldsmith binary staged into builds
	// (default: the running executable).
	GoldsmithBinary string `yaml:"goldsmithBinary"`
	// AgentBinary is the static binary VM build instances boot as /init
	// (default: goldsmith-agent next to goldsmithBinary when it exists,
	// else goldsmithBinary).
	AgentBinary string `yaml:"agentBinary"`
	// RunnerBinary is the static binary container builds run as PID 1 of
	// their sandboxes, so that the RUN steps of a layer share one runc
	// container (default: goldsmith-runner next to goldsmithBinary when it
	// exists; else each RUN is a container of its own).
	RunnerBinary string `yaml:"runnerBinary"`
	// MaxBuilds bounds concurrent builds (default 2).
	MaxBuilds int `yaml:"maxBuilds"`
	// Accel is the QEMU accelerator of VM build instances: auto (default:
	// kvm where usable, else tcg), kvm or tcg.
	Accel string `yaml:"accel"`
	// InstanceLimit bounds the life of each build instance (default 2h).
	InstanceLimit time.Duration `yaml:"instanceLimit"`
}

// DefaultRegistryListen is where the built-in registry listens by default.
const DefaultRegistryListen = "127.0.0.1:8601"

// Keys configures the local key store standing in for KMS.
type Keys struct {
	Dir string `yaml:"dir"` // default <dataDir>/keys
}

// Load reads a configuration file; unknown keys are errors.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return &c, nil
}

var (
	accountID = regexp.MustCompile(`^[0-9]{12}$`)
	regionRE  = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
)

// DefaultAccounts reports whether no accounts are configured, in which case
// ApplyDefaults installs the emulator convention (test/test).
func (c *Config) DefaultAccounts() bool { return len(c.Accounts) == 0 }

// ApplyDefaults fills unset values and checks the result.
func (c *Config) ApplyDefaults() error {
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if c.DataDir == "" {
		c.DataDir = DefaultDataDir
	}
	if c.Region == "" {
		c.Region = DefaultRegion
	}
	if c.Registry.Listen == "" {
		c.Registry.Listen = DefaultRegistryListen
	}
	if len(c.Regions) == 0 {
		c.Regions = []string{c.Region}
	}
	if c.Store.Driver == "" {
		c.Store.Driver = "sqlite"
	}
	if c.LogLevel == "" {
		c.LogLevel = "info"
	}
	if len(c.Accounts) == 0 {
		c.Accounts = []Account{{ID: DefaultAccount, Credentials: []Credential{{AccessKeyID: DefaultAccessKey, SecretAccessKey: DefaultSecret}}}}
	}
	return c.Validate()
}

// Validate checks the configuration and names the offending field.
func (c *Config) Validate() error {
	if !regionRE.MatchString(c.Region) {
		return fmt.Errorf("config: region %q is not a region name like us-east-1", c.Region)
	}
	for i, r := range c.Regions {
		if !regionRE.MatchString(r) {
			return fmt.Errorf("config: regions[%d] %q is not a region name like us-east-1", i, r)
		}
	}
	for region, r := range c.ECR {
		if !regionRE.MatchString(region) {
			return fmt.Errorf("config: ecr key %q is not a region name like us-east-1", region)
		}
		if r.Address == "" || strings.Contains(r.Address, "/") {
			return fmt.Errorf("config: ecr.%s.address %q must be host[:port]", region, r.Address)
		}
	}
	switch c.Store.Driver {
	case "sqlite":
	case "postgres":
		if c.Store.URL == "" {
			return errors.New("config: store.url (--database-url) is required with the postgres store")
		}
	default:
		return fmt.Errorf("config: store.driver %q must be sqlite or postgres", c.Store.Driver)
	}
	switch c.Build.Accel {
	case "", "auto", "kvm", "tcg":
	default:
		return fmt.Errorf("config: build.accel %q must be auto, kvm or tcg", c.Build.Accel)
	}
	if c.Build.InstanceLimit < 0 {
		return fmt.Errorf("config: build.instanceLimit %v must not be negative", c.Build.InstanceLimit)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("config: logLevel %q must be debug, info, warn or error", c.LogLevel)
	}
	keys := map[string]bool{}
	for i, a := range c.Accounts {
		if !accountID.MatchString(a.ID) {
			return fmt.Errorf("config: accounts[%d].id %q must be 12 digits", i, a.ID)
		}
		if len(a.Credentials) == 0 {
			return fmt.Errorf("config: accounts[%d] (%s) has no credentials", i, a.ID)
		}
		for j, cr := range a.Credentials {
			if cr.AccessKeyID == "" || cr.SecretAccessKey == "" {
				return fmt.Errorf("config: accounts[%d].credentials[%d] needs accessKeyId and secretAccessKey", i, j)
			}
			if keys[cr.AccessKeyID] {
				return fmt.Errorf("config: access key %q is configured twice", cr.AccessKeyID)
			}
			keys[cr.AccessKeyID] = true
		}
	}
	return nil
}
