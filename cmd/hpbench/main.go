// Command hpbench is Hallpass's load generator and benchmark harness
// (`make bench`). Against a running `hallpass serve` on loopback it measures
// (f) a raw Fiber JSON route as the ceiling, (a) GET auth/session with an app
// session token, (h) the same on a tenant whose HALLPASS_USER_SERIALIZER has
// three expressions, (b) the same with a JWT access token, (c) POST auth/login,
// (d) POST tokens/refresh per signing algorithm and (e) GET config spread over
// 10,000 tenants; it measures the argon2 and JWT-signing limits in the same
// run, checks the targets, optionally profiles each scenario and watches heap
// and goroutines over a soak run, then prints tables and writes JSON.
//
// It only ever talks to loopback (the server, its admin listener and
// Postgres), and every run is bounded in time and request count.
//
//	hpbench -target http://127.0.0.1:18100 -admin http://127.0.0.1:18101
//	hpbench prepare-db -admin-url postgres://…/postgres -name hallpass_bench
//	hpbench free-port [N]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"
)

// Bounds on the flags: bad input must not make a run unbounded.
const (
	maxDuration     = 60 * time.Second // one scenario's measurement
	maxWarmup       = 10 * time.Second
	maxSoak         = 5 * time.Minute
	maxTimeout      = time.Hour
	maxConcurrency  = 1024
	maxTenants      = 100_000
	maxRequestsCap  = 20_000_000
	defaultTenants  = 10_000
	defaultDuration = 10 * time.Second
)

var allScenarios = []string{"ceiling", "session", "serializer", "jwt", "login", "refresh", "config", "manage"}

// Config is the run's settings (in the JSON too).
type Config struct {
	Target       string        `json:"target"`
	Target2      string        `json:"target2,omitempty"`
	Admin        string        `json:"admin,omitempty"`
	Concurrency  int           `json:"concurrency"`
	Duration     time.Duration `json:"duration_ns"`
	Warmup       time.Duration `json:"warmup_ns"`
	Scenarios    []string      `json:"scenarios"`
	Algs         []string      `json:"algs"`
	Tenants      int           `json:"tenants"`
	OpenFraction float64       `json:"open_loop_fraction"`
	Soak         time.Duration `json:"soak_ns"`
	MaxRequests  int64         `json:"max_requests"`
	Timeout      time.Duration `json:"timeout_ns"`
	ProfileDir   string        `json:"profile_dir,omitempty"`
	Out          string        `json:"-"`
	DatabaseURL  string        `json:"-"`
	MasterKey    string        `json:"-"`
}

func main() {
	if os.Getenv("GOGC") == "" {
		// The generator's own collections would show up as server latency
		// in the open-loop percentiles.
		debug.SetGCPercent(400)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "prepare-db" {
		return prepareDB(ctx, args[1:], stdout, stderr)
	}
	if len(args) >= 1 && args[0] == "free-port" {
		return freePorts(args[1:], stdout, stderr)
	}
	cfg, err := parseFlags(args, getenv, stderr)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "hpbench:", err)
		}
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	rep, err := bench(ctx, cfg, stderr)
	if rep != nil {
		rep.print(stdout)
		if werr := rep.writeJSON(cfg.Out); werr != nil {
			fmt.Fprintln(stderr, "hpbench: writing JSON:", werr)
			return 1
		}
		fmt.Fprintln(stdout, "\nJSON:", cfg.Out)
	}
	if err != nil {
		fmt.Fprintln(stderr, "hpbench:", err)
		return 1
	}
	return 0
}

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	fs := flag.NewFlagSet("hpbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c Config
	var scenarios, algs string
	fs.StringVar(&c.Target, "target", "", "base URL of the server's public listener (loopback only), e.g. http://127.0.0.1:18100")
	fs.StringVar(&c.Target2, "target2", "", "a second server process on the same Postgres and Redis (loopback only): (a) is measured again with the workers split over both")
	fs.StringVar(&c.Admin, "admin", "", "base URL of the server's admin listener (HALLPASS_ADMIN_LISTEN, loopback only): server metrics, memory, profiles, soak")
	fs.IntVar(&c.Concurrency, "c", 32, fmt.Sprintf("concurrent workers (closed loop), 1..%d", maxConcurrency))
	fs.DurationVar(&c.Duration, "d", defaultDuration, fmt.Sprintf("measured duration of each scenario (max %s)", maxDuration))
	fs.DurationVar(&c.Warmup, "warmup", time.Second, fmt.Sprintf("unrecorded warmup before each scenario (max %s)", maxWarmup))
	fs.StringVar(&scenarios, "scenarios", strings.Join(allScenarios, ","), "comma-separated: "+strings.Join(allScenarios, ","))
	fs.StringVar(&algs, "algs", "EdDSA,ES256,HS256,RS256", "signing algorithms for the refresh scenario")
	fs.IntVar(&c.Tenants, "tenants", defaultTenants, fmt.Sprintf("tenants for the config scenario (max %d)", maxTenants))
	fs.Float64Var(&c.OpenFraction, "open", 0.5, "also run auth/session open-loop at this fraction of its closed-loop peak (0: skip)")
	fs.DurationVar(&c.Soak, "soak", 0, fmt.Sprintf("mixed-load run watching server heap and goroutines (needs -admin; max %s; 0: skip)", maxSoak))
	fs.Int64Var(&c.MaxRequests, "max-requests", 5_000_000, fmt.Sprintf("stop a scenario after this many requests (max %d)", maxRequestsCap))
	fs.DurationVar(&c.Timeout, "timeout", 15*time.Minute, fmt.Sprintf("hard deadline for the whole run (max %s)", maxTimeout))
	fs.StringVar(&c.ProfileDir, "profile", "", "write CPU and allocation profiles of each scenario here (needs -admin)")
	fs.StringVar(&c.Out, "out", "", "JSON report path (default .data/bench/<timestamp>.json)")
	fs.StringVar(&c.DatabaseURL, "database-url", getenv("HALLPASS_DATABASE_URL"), "the server's Postgres (loopback) for creating bench tenants; default $HALLPASS_DATABASE_URL")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	c.MasterKey = getenv("HALLPASS_MASTER_KEY")
	c.Scenarios = splitList(scenarios)
	c.Algs = splitList(algs)
	if c.Out == "" {
		c.Out = ".data/bench/" + time.Now().UTC().Format("20060102T150405Z") + ".json"
	}
	return c, c.validate()
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// validate rejects anything that would make the run unbounded or aim it
// anywhere but loopback (the addresses are checked again when resolved).
func (c Config) validate() error {
	switch {
	case c.Target == "":
		return errors.New("-target is required")
	case c.Concurrency < 1 || c.Concurrency > maxConcurrency:
		return fmt.Errorf("-c %d: must be 1..%d", c.Concurrency, maxConcurrency)
	case c.Duration < 100*time.Millisecond || c.Duration > maxDuration:
		return fmt.Errorf("-d %s: must be 100ms..%s", c.Duration, maxDuration)
	case c.Warmup < 0 || c.Warmup > maxWarmup:
		return fmt.Errorf("-warmup %s: must be 0..%s", c.Warmup, maxWarmup)
	case c.Tenants < 1 || c.Tenants > maxTenants:
		return fmt.Errorf("-tenants %d: must be 1..%d", c.Tenants, maxTenants)
	case c.OpenFraction < 0 || c.OpenFraction > 1:
		return fmt.Errorf("-open %g: must be 0..1", c.OpenFraction)
	case c.Soak < 0 || c.Soak > maxSoak:
		return fmt.Errorf("-soak %s: must be 0..%s", c.Soak, maxSoak)
	case c.Soak > 0 && c.Admin == "":
		return errors.New("-soak needs -admin (it reads the server's heap and goroutines)")
	case c.ProfileDir != "" && c.Admin == "":
		return errors.New("-profile needs -admin (profiles come from its /debug/pprof/)")
	case c.MaxRequests < 1 || c.MaxRequests > maxRequestsCap:
		return fmt.Errorf("-max-requests %d: must be 1..%d", c.MaxRequests, maxRequestsCap)
	case c.Timeout <= 0 || c.Timeout > maxTimeout:
		return fmt.Errorf("-timeout %s: must be >0 and at most %s", c.Timeout, maxTimeout)
	case len(c.Scenarios) == 0:
		return errors.New("-scenarios: none given")
	}
	for _, s := range c.Scenarios {
		if !slices.Contains(allScenarios, s) {
			return fmt.Errorf("-scenarios: unknown %q (have %s)", s, strings.Join(allScenarios, ","))
		}
	}
	for _, a := range c.Algs {
		if !slices.Contains([]string{"EdDSA", "ES256", "HS256", "RS256"}, a) {
			return fmt.Errorf("-algs: unsupported %q (EdDSA, ES256, HS256, RS256)", a)
		}
	}
	needsDB := slices.Contains(c.Scenarios, "config") || slices.ContainsFunc(c.Scenarios, func(s string) bool {
		return s == "session" || s == "serializer" || s == "jwt" || s == "login" || s == "refresh" || s == "manage"
	})
	if needsDB && (c.DatabaseURL == "" || c.MasterKey == "") {
		return errors.New("creating the bench tenants needs HALLPASS_DATABASE_URL and HALLPASS_MASTER_KEY (the server's)")
	}
	return nil
}

func (c Config) has(s string) bool { return slices.Contains(c.Scenarios, s) }

func prepareDB(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hpbench prepare-db", flag.ContinueOnError)
	fs.SetOutput(stderr)
	admin := fs.String("admin-url", os.Getenv("HALLPASS_TEST_DATABASE_URL"), "URL of a database on the cluster to connect to for CREATE DATABASE (default $HALLPASS_TEST_DATABASE_URL)")
	name := fs.String("name", "hallpass_bench", "the bench database, dropped and created anew")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *admin == "" {
		fmt.Fprintln(stderr, "hpbench prepare-db: -admin-url (or HALLPASS_TEST_DATABASE_URL) is required")
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	u, err := prepareDatabase(ctx, *admin, *name)
	if err != nil {
		fmt.Fprintln(stderr, "hpbench prepare-db:", err)
		return 1
	}
	fmt.Fprintln(stdout, u)
	return 0
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func cores() int { return runtime.NumCPU() }

// freePorts prints n (default 1, at most 16) distinct loopback ports free
// right now, one per line, for make bench to hand to the server.
func freePorts(args []string, stdout, stderr io.Writer) int {
	n := 1
	if len(args) == 1 {
		if _, err := fmt.Sscan(args[0], &n); err != nil || n < 1 || n > 16 {
			fmt.Fprintln(stderr, "hpbench free-port [N]: N must be 1..16")
			return 2
		}
	} else if len(args) > 1 {
		fmt.Fprintln(stderr, "hpbench free-port [N]")
		return 2
	}
	for range n {
		// Held open until all are chosen, so the ports differ.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fmt.Fprintln(stderr, "hpbench free-port:", err)
			return 1
		}
		defer ln.Close()
		fmt.Fprintln(stdout, ln.Addr().(*net.TCPAddr).Port)
	}
	return 0
}
