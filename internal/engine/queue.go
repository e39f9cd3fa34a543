package engine

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver
)

// River settings.
const (
	queueName = "goldsmith_builds"
	// buildWallClock is the longest an image build may run.
	buildWallClock = 2 * time.Hour
	// rescueAfter is above the build wall clock, so that River's rescuer
	// never runs a build twice; restarts are handled by Start.
	rescueAfter = buildWallClock + 30*time.Minute
)

// buildArgs is the one job kind: build (or resume) one image. The image
// row is the source of truth; the job is only a wake-up. Boot is the
// engine instance that enqueued it, so that jobs are unique per image
// within one server run, while a restarted server enqueues afresh.
type buildArgs struct {
	ImageArn string `json:"imageArn"`
	Boot     string `json:"boot"`
}

func (buildArgs) Kind() string { return "image_build" }

func (buildArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: queueName, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// buildWorker runs image_build jobs.
type buildWorker struct {
	river.WorkerDefaults[buildArgs]
	e *Engine
}

func (w *buildWorker) Work(ctx context.Context, job *river.Job[buildArgs]) error {
	return w.e.build(ctx, job.Args.ImageArn)
}

func (w *buildWorker) Timeout(*river.Job[buildArgs]) time.Duration { return buildWallClock }

// queue hides River's generic client type (one per driver).
type queue interface {
	insert(ctx context.Context, args buildArgs) error
	start(ctx context.Context) error
	stop(ctx context.Context) error
	close()
}

type riverQueue[TTx any] struct {
	client  *river.Client[TTx]
	closeFn func()
}

func (q *riverQueue[TTx]) insert(ctx context.Context, args buildArgs) error {
	if _, err := q.client.Insert(ctx, args, nil); err != nil {
		return fmt.Errorf("enqueueing the build of %s: %w", args.ImageArn, err)
	}
	return nil
}

func (q *riverQueue[TTx]) start(ctx context.Context) error {
	if err := q.client.Start(ctx); err != nil {
		return fmt.Errorf("starting the job queue: %w", err)
	}
	return nil
}

func (q *riverQueue[TTx]) stop(ctx context.Context) error {
	if err := q.client.Stop(ctx); err != nil {
		return fmt.Errorf("stopping the job queue: %w", err)
	}
	return nil
}

func (q *riverQueue[TTx]) close() { q.closeFn() }

// newRiver migrates River's tables and makes a client on the driver.
func newRiver[TTx any](ctx context.Context, driver riverdriver.Driver[TTx], workers *river.Workers, maxBuilds int,
	log *slog.Logger, closeFn func()) (*riverQueue[TTx], error) {
	m, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: log})
	if err != nil {
		return nil, fmt.Errorf("river migrator: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return nil, fmt.Errorf("migrating river's tables: %w", err)
	}
	client, err := river.NewClient(driver, &river.Config{
		Queues:               map[string]river.QueueConfig{queueName: {MaxWorkers: maxBuilds}},
		Workers:              workers,
		JobTimeout:           buildWallClock,
		RescueStuckJobsAfter: rescueAfter,
		MaxAttempts:          5,
		FetchPollInterval:    500 * time.Millisecond,
		Logger:               log,
	})
	if err != nil {
		return nil, fmt.Errorf("river client: %w", err)
	}
	return &riverQueue[TTx]{client: client, closeFn: closeFn}, nil
}

// openQueue opens the driver connection named by o and returns the queue.
func openQueue(ctx context.Context, o *Options, workers *river.Workers) (queue, error) {
	log := o.Logger.With("component", "river")
	switch o.QueueDriver {
	case "sqlite":
		// _txlock=immediate: River's transactions write, and a deferred one
		// that reads first cannot wait for the lock when it upgrades.
		dsn := o.QueueDSN + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_txlock=immediate"
		db, err := sql.Open("sqlite", dsn)
		if err != nil {
			return nil, fmt.Errorf("opening the job queue database %s: %w", o.QueueDSN, err)
		}
		db.SetMaxOpenConns(1)
		q, err := newRiver(ctx, riversqlite.New(db), workers, o.MaxBuilds, log, func() { _ = db.Close() })
		if err != nil {
			_ = db.Close()
			return nil, err
		}
		return q, nil
	case "postgres":
		pool, err := pgxpool.New(ctx, o.QueueDSN)
		if err != nil {
			return nil, fmt.Errorf("connecting the job queue to PostgreSQL: %w", err)
		}
		q, err := newRiver(ctx, riverpgxv5.New(pool), workers, o.MaxBuilds, log, pool.Close)
		if err != nil {
			pool.Close()
			return nil, err
		}
		return q, nil
	default:
		return nil, fmt.Errorf("job queue driver %q: want sqlite or postgres", o.QueueDriver)
	}
}
