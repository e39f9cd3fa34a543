// Package app assembles a goldsmith server from its configuration: store,
// service, API and HTTP listener.
package app

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/goldsmith/goldsmith/internal/api"
	"github.com/goldsmith/goldsmith/internal/api/sigv4"
	"github.com/goldsmith/goldsmith/internal/artifact"
	"github.com/goldsmith/goldsmith/internal/artifact/amistore"
	"github.com/goldsmith/goldsmith/internal/artifact/base"
	"github.com/goldsmith/goldsmith/internal/artifact/registry"
	"github.com/goldsmith/goldsmith/internal/config"
	"github.com/goldsmith/goldsmith/internal/engine"
	"github.com/goldsmith/goldsmith/internal/engine/vmbuild"
	"github.com/goldsmith/goldsmith/internal/instance/vm"
	"github.com/goldsmith/goldsmith/internal/keystore"
	"github.com/goldsmith/goldsmith/internal/service"
	"github.com/goldsmith/goldsmith/internal/store"
	"github.com/goldsmith/goldsmith/internal/store/memo"
	"github.com/goldsmith/goldsmith/internal/store/postgres"
	"github.com/goldsmith/goldsmith/internal/store/sqlite"
)

// App is a running goldsmith server.
type App struct {
	cfg  *config.Config
	log  *slog.Logger
	st   store.Store
	ln   net.Listener
	http *http.Server
	done chan error

	eng *engine.Engine // nil when builds are disabled

	// VM builds: the accelerator, the image store and the key store.
	accel string
	amis  *amistore.Store
	keys  *keystore.Dir

	// The built-in OCI registry, on its own listener.
	reg     *registry.Registry
	regLn   net.Listener
	regHTTP *http.Server
}

// Start opens the store, builds the API and starts serving on cfg.Listen
// (port 0 picks a free port; see Addr). cfg must have defaults applied.
func Start(ctx context.Context, cfg *config.Config, log *slog.Logger) (*App, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	a := &App{cfg: cfg, log: log, st: st, done: make(chan error, 1)}
	if err := a.build(ctx); err != nil {
		st.Close()
		return nil, err
	}
	return a, nil
}

func openStore(ctx context.Context, cfg *config.Config) (store.Store, error) {
	switch cfg.Store.Driver {
	case "postgres":
		st, err := postgres.Open(ctx, cfg.Store.URL)
		if err != nil {
			return nil, fmt.Errorf("opening postgres store: %w", err)
		}
		return st, nil
	default:
		path := cfg.Store.URL
		if path == "" {
			path = filepath.Join(cfg.DataDir, "goldsmith.db")
		}
		lock, err := lockFile(path + ".lock")
		if err != nil {
			return nil, err
		}
		st, err := sqlite.Open(ctx, path)
		if err != nil {
			lock.Close()
			return nil, fmt.Errorf("opening sqlite store %s: %w", path, err)
		}
		// One server holds the embedded database, so reads can be cached.
		return lockedStore{memo.New(st, &memo.Cache{}), lock}, nil
	}
}

func (a *App) build(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			_ = a.stopRegistry(ctx)
		}
	}()
	keysDir := a.cfg.Keys.Dir
	if keysDir == "" {
		keysDir = filepath.Join(a.cfg.DataDir, "keys")
	}
	keys, err := keystore.Open(keysDir)
	if err != nil {
		return err
	}
	if err := a.startRegistry(ctx); err != nil {
		return err
	}
	amis, err := amistore.Open(filepath.Join(a.cfg.DataDir, "amis"))
	if err != nil {
		return err
	}
	accelSetting := a.cfg.Build.Accel
	if accelSetting == "" {
		accelSetting = "auto"
	}
	accel, err := vm.DetectAccel(accelSetting)
	if err != nil {
		return fmt.Errorf("build.accel: %w", err)
	}
	a.accel, a.amis, a.keys = accel, amis, keys
	svc, err := service.New(service.Options{
		Store: a.st, Keys: keys, Logger: a.log, Regions: a.cfg.Regions,
		Fetcher: artifact.NewFetcher(artifact.S3Options(a.cfg.S3)),
		Bases: basePublisher{p: base.Publisher{Registry: a.RegistryAddr(), Insecure: true},
			workRoot: filepath.Join(a.cfg.DataDir, "builds"), accel: accel, log: a.log},
		AMIs: amis,
	})
	if err != nil {
		return err
	}
	if err := svc.SeedManaged(ctx); err != nil {
		return err
	}
	if err := a.startEngine(ctx, svc); err != nil {
		return err
	}
	tokenKey, err := secretFile(filepath.Join(a.cfg.DataDir, "token.key"))
	if err != nil {
		return err
	}
	creds := map[string]sigv4.Credentials{}
	for _, acct := range a.cfg.Accounts {
		for _, c := range acct.Credentials {
			creds[c.AccessKeyID] = sigv4.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, Account: acct.ID}
		}
	}
	verifier := &sigv4.Verifier{Service: "imagebuilder", Lookup: func(id string) (sigv4.Credentials, bool) {
		c, ok := creds[id]
		return c, ok
	}}
	apiServer, err := api.New(api.Config{
		Handler: svc, Authenticator: api.SigV4{Verifier: verifier}, Idempotency: svc.Idempotency(),
		TokenKey: tokenKey, Logger: a.log, Extensions: svc,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", a.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", a.cfg.Listen, err)
	}
	a.ln = ln
	a.http = &http.Server{Handler: apiServer, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(a.log.Handler(), slog.LevelWarn)}
	go func() {
		err := a.http.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		a.done <- err
	}()
	return nil
}

// secretFile returns the 32-byte secret kept at path, creating it once.
func secretFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil && len(b) == 32 {
		return b, nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	b = make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	return b, nil
}

// lockedStore releases the database lock when the store closes.
type lockedStore struct {
	store.Store
	lock *os.File
}

func (l lockedStore) Close() error {
	err := l.Store.Close()
	if cerr := l.lock.Close(); err == nil {
		err = cerr
	}
	return err
}

// Addr is the address the API listens on.
func (a *App) Addr() string { return a.ln.Addr().String() }

// URL is the API's base URL.
func (a *App) URL() string { return "http://" + a.Addr() }

// Done is closed-with-result when the HTTP server stops on its own.
func (a *App) Done() <-chan error { return a.done }

// Shutdown stops accepting requests, waits for those in flight (until ctx
// ends) and closes the store.
func (a *App) Shutdown(ctx context.Context) error {
	err := a.http.Shutdown(ctx)
	if a.eng != nil {
		if eerr := a.eng.Stop(ctx); err == nil {
			err = eerr
		}
	}
	if rerr := a.stopRegistry(ctx); err == nil {
		err = rerr
	}
	if cerr := a.st.Close(); err == nil {
		err = cerr
	}
	return err
}

// startRegistry serves the built-in OCI registry (durable under
// <dataDir>/registry) on its own listener.
func (a *App) startRegistry(ctx context.Context) error {
	reg, err := registry.New(ctx, filepath.Join(a.cfg.DataDir, "registry"), a.log.With("component", "registry"))
	if err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	ln, err := net.Listen("tcp", a.cfg.Registry.Listen)
	if err != nil {
		reg.Close()
		return fmt.Errorf("registry listen %s: %w", a.cfg.Registry.Listen, err)
	}
	a.reg, a.regLn = reg, ln
	a.regHTTP = &http.Server{Handler: reg, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(a.log.Handler(), slog.LevelWarn)}
	go func() {
		if err := a.regHTTP.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("registry stopped", "error", err)
		}
	}()
	return nil
}

// stopRegistry shuts the registry's listener down and closes it.
func (a *App) stopRegistry(ctx context.Context) error {
	if a.reg == nil {
		return nil
	}
	err := a.regHTTP.Shutdown(ctx)
	if cerr := a.reg.Close(); err == nil {
		err = cerr
	}
	a.reg = nil
	return err
}

// startEngine starts the build engine on the server's database and
// attaches it to the service (unless builds are disabled).
func (a *App) startEngine(ctx context.Context, svc *service.Service) error {
	if a.cfg.Build.Disabled {
		return nil
	}
	binary := a.cfg.Build.GoldsmithBinary
	if binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("build engine: locating the goldsmith binary: %w", err)
		}
		binary = exe
	}
	dsn := a.cfg.Store.URL
	if a.cfg.Store.Driver != "postgres" && dsn == "" {
		dsn = filepath.Join(a.cfg.DataDir, "goldsmith.db")
	}
	fetcher := artifact.NewFetcher(artifact.S3Options(a.cfg.S3))
	eng, err := engine.New(ctx, engine.Options{
		Store: a.st, QueueDriver: a.cfg.Store.Driver, QueueDSN: dsn, Inputs: svc,
		RegistryAddr: a.RegistryAddr(), LocalRegistry: a.reg, GoldsmithBinary: binary,
		RunnerBinary: besideGoldsmith(a.cfg.Build.RunnerBinary, binary, "goldsmith-runner"),
		ScratchRoot:  filepath.Join(a.cfg.DataDir, "builds"), LogRoot: filepath.Join(a.cfg.DataDir, "logs"),
		LayerCacheDir: filepath.Join(a.cfg.DataDir, "layers"),
		MaxBuilds:     a.cfg.Build.MaxBuilds, Logger: a.log.With("component", "engine"),
		Registries: externalRegistries(a.cfg.ECR),
		UploadLogs: fetcher.UploadDir,
		VM: engine.VMOptions{
			Accel: a.accel, Limit: a.cfg.Build.InstanceLimit, Download: fetcher.Download,
			AgentBinary:  cmp.Or(besideGoldsmith(a.cfg.Build.AgentBinary, binary, "goldsmith-agent"), binary),
			BootCacheDir: filepath.Join(a.cfg.DataDir, "bootcache"),
			Services:     vmbuild.Services{AMIs: a.amis, Upload: fetcher.UploadFile, Wrap: a.keys.Encrypt},
		},
	})
	if err != nil {
		return fmt.Errorf("build engine: %w", err)
	}
	if err := eng.Start(ctx); err != nil {
		return fmt.Errorf("build engine: %w", err)
	}
	svc.SetBuilds(eng)
	a.eng = eng
	return nil
}

// besideGoldsmith is a configured helper binary (the VM agent, the sandbox
// runner), else the one called name next to the goldsmith binary when it
// is there, else "" (none: the caller falls back to the goldsmith binary
// as agent, and runs no sandbox runner).
func besideGoldsmith(configured, goldsmith, name string) string {
	if configured != "" {
		return configured
	}
	next := filepath.Join(filepath.Dir(goldsmith), name)
	if st, err := os.Stat(next); err == nil && st.Mode().IsRegular() {
		return next
	}
	return ""
}

// externalRegistries converts the configured ECR stand-ins.
func externalRegistries(ecr map[string]config.ExternalRegistry) map[string]engine.Registry {
	out := make(map[string]engine.Registry, len(ecr))
	for region, r := range ecr {
		out[region] = engine.Registry{Address: r.Address, Username: r.Username, Password: r.Password, Insecure: r.Insecure}
	}
	return out
}

// debian12Disk is the managed VM base image goldsmith builds.
const debian12Disk = "debian-12-x86"

// basePublisher adapts the base image builders to the service: container
// bases are pushed by the publisher, VM bases built as disks under
// workRoot.
type basePublisher struct {
	p        base.Publisher
	workRoot string
	accel    string
	log      *slog.Logger
}

func (b basePublisher) Build(ctx context.Context, name, version string) (*service.BaseImage, error) {
	if name == debian12Disk {
		return b.buildDisk(ctx)
	}
	pub, err := b.p.Build(ctx, name, version)
	if err != nil {
		return nil, err
	}
	return &service.BaseImage{URIs: pub.URIs, OSVersion: pub.OSVersion}, nil
}

// buildDisk builds the Debian 12 disk in a work directory and leaves only
// the disk, next to it, for the service to move into the image store.
func (b basePublisher) buildDisk(ctx context.Context) (*service.BaseImage, error) {
	if err := os.MkdirAll(b.workRoot, 0o700); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(b.workRoot, "base-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	d, err := base.DebianDisk(ctx, base.DiskOptions{Dir: filepath.Join(dir, "work"), Accel: b.accel, Logger: b.log})
	if err != nil {
		return nil, err
	}
	out := dir + ".qcow2"
	if err := os.Rename(d.Path, out); err != nil {
		return nil, err
	}
	return &service.BaseImage{Disk: out, VirtualSize: d.VirtualSize, OSVersion: d.OSVersion}, nil
}

// RegistryAddr is the host:port of the built-in OCI registry.
func (a *App) RegistryAddr() string { return a.regLn.Addr().String() }
