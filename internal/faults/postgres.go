package faults

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hallpass/hallpass/migrations"
)

// pgBinHint says how to get the Postgres binaries.
const pgBinHint = "install PostgreSQL 15 (`make services` installs it from Debian packages) or set HALLPASS_PG_BIN to its bin directory"

// Postgres is a private PostgreSQL cluster: its own data directory in a
// temporary directory, listening on a free 127.0.0.1 port, fsync off.
type Postgres struct {
	// Port is the cluster's TCP port on 127.0.0.1; it stays the same across
	// Stop and Start.
	Port int
	// Dir holds data/, run/ (the socket) and postgres.log.
	Dir string

	bin      string
	owner    owner
	password string

	mu   sync.Mutex
	proc *proc
}

const pgSuperuser = "hallpass"

// StartPostgres initialises (initdb, as the `postgres` account when the test
// runs as root) and starts a cluster; the test's cleanup stops it and
// deletes its files, even when the test fails. Missing binaries fail the
// test with a message saying how to install them.
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	p, err := newPostgres()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.destroy)
	if err := p.initdb(); err != nil {
		t.Fatal(err)
	}
	if err := p.start(); err != nil {
		t.Fatal(err)
	}
	return p
}

func newPostgres() (*Postgres, error) {
	initdb, err := lookBin("HALLPASS_PG_INITDB", pgCandidates("initdb"), "initdb", pgBinHint)
	if err != nil {
		return nil, err
	}
	bin := filepath.Dir(initdb)
	if _, err := os.Stat(filepath.Join(bin, "postgres")); err != nil {
		return nil, fmt.Errorf("faults: %s has initdb but no postgres binary: %s", bin, pgBinHint)
	}
	o, err := serverOwner()
	if err != nil {
		return nil, err
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	dir, err := tempBase(o, "hallpass-faults-pg-")
	if err != nil {
		return nil, err
	}
	var pw [16]byte
	_, _ = rand.Read(pw[:])
	return &Postgres{Port: port, Dir: dir, bin: bin, owner: o, password: hex.EncodeToString(pw[:])}, nil
}

func pgCandidates(name string) []string {
	var out []string
	if d := os.Getenv("HALLPASS_PG_BIN"); d != "" {
		out = append(out, filepath.Join(d, name))
	}
	return append(out, "/usr/lib/postgresql/15/bin/"+name)
}

func (p *Postgres) dataDir() string { return filepath.Join(p.Dir, "data") }
func (p *Postgres) sockDir() string { return filepath.Join(p.Dir, "run") }

// LogPath is the server's log file.
func (p *Postgres) LogPath() string { return filepath.Join(p.Dir, "postgres.log") }

func (p *Postgres) initdb() error {
	pwfile := filepath.Join(p.Dir, ".pw")
	if err := os.WriteFile(pwfile, []byte(p.password+"\n"), 0o600); err != nil {
		return err
	}
	defer os.Remove(pwfile)
	if err := os.Mkdir(p.sockDir(), 0o700); err != nil {
		return err
	}
	if p.owner.cred != nil {
		for _, f := range []string{pwfile, p.sockDir()} {
			if err := os.Chown(f, p.owner.uid, p.owner.gid); err != nil {
				return err
			}
		}
	}
	cmd := p.owner.command(p.Dir, filepath.Join(p.bin, "initdb"), "-D", p.dataDir(), "-U", pgSuperuser,
		"--pwfile="+pwfile, "--auth-host=scram-sha-256", "--auth-local=scram-sha-256",
		"--encoding=UTF8", "--no-locale", "--no-instructions", "--no-sync")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("faults: initdb (as %s) failed: %v\n%s", p.owner.name, err, out)
	}
	conf := strings.Join([]string{
		"",
		"# faults: a throwaway cluster",
		"listen_addresses = '127.0.0.1'",
		fmt.Sprintf("port = %d", p.Port),
		"unix_socket_directories = '" + strings.ReplaceAll(p.sockDir(), "'", "''") + "'",
		"fsync = off",
		"synchronous_commit = off",
		"full_page_writes = off",
		"max_connections = 200",
		"shared_buffers = 32MB",
		"",
	}, "\n")
	f, err := os.OpenFile(filepath.Join(p.dataDir(), "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.WriteString(conf)
	return err
}

// URL is the connection URL of database db as the cluster's superuser.
func (p *Postgres) URL(db string) string {
	return fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/%s?sslmode=disable", pgSuperuser, p.password, p.Port, db)
}

// CreateDatabase creates database name and applies every migration to it
// (migrations.Up); it returns its URL.
func (p *Postgres) CreateDatabase(t testing.TB, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, p.URL("postgres"))
	if err != nil {
		t.Fatalf("faults: connect to the private cluster: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE DATABASE "`+name+`"`); err != nil {
		t.Fatalf("faults: create database: %v", err)
	}
	url := p.URL(name)
	if _, err := migrations.Up(ctx, url); err != nil {
		t.Fatalf("faults: migrate: %v", err)
	}
	return url
}

// start runs the postmaster as a child and waits until it accepts
// connections.
func (p *Postgres) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.proc != nil && !p.proc.exited() {
		return nil
	}
	cmd := p.owner.command(p.Dir, filepath.Join(p.bin, "postgres"), "-D", p.dataDir())
	pr, err := start("postgres", cmd, p.LogPath())
	if err != nil {
		return err
	}
	track(pr)
	p.proc = pr
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := pgx.Connect(ctx, p.URL("postgres"))
		if err == nil {
			_ = conn.Close(ctx)
			cancel()
			return nil
		}
		cancel()
		if pr.exited() {
			untrack(pr)
			return fmt.Errorf("faults: postgres %w (%v); log:\n%s", errExited, pr.err, tail(p.LogPath(), 2000))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("faults: postgres on port %d not ready within 60 s (%v); log:\n%s", p.Port, err, tail(p.LogPath(), 2000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Start starts a stopped cluster on the same port and waits until it
// accepts connections.
func (p *Postgres) Start(t testing.TB) {
	t.Helper()
	if err := p.start(); err != nil {
		t.Fatal(err)
	}
}

// Stop shuts the cluster down as `pg_ctl stop -m fast` does (SIGINT to the
// postmaster: sessions are terminated, in-flight transactions roll back)
// and waits for it to exit.
func (p *Postgres) Stop(t testing.TB) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.proc == nil {
		return
	}
	if !p.proc.signal(syscall.SIGINT, 60*time.Second) {
		t.Fatalf("faults: postgres did not shut down within 60 s; log:\n%s", tail(p.LogPath(), 2000))
	}
	untrack(p.proc)
	p.proc = nil
}

// Restart is `pg_ctl restart -m fast`: Stop, then Start.
func (p *Postgres) Restart(t testing.TB) {
	t.Helper()
	p.Stop(t)
	p.Start(t)
}

// Running reports whether the postmaster runs.
func (p *Postgres) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.proc != nil && !p.proc.exited()
}

// destroy stops the cluster at once (immediate shutdown, then SIGKILL of its
// process group, which holds only the postmaster and its children) and
// deletes its files.
func (p *Postgres) destroy() {
	p.mu.Lock()
	pr := p.proc
	p.proc = nil
	p.mu.Unlock()
	if pr != nil {
		if !pr.signal(syscall.SIGQUIT, 10*time.Second) {
			_ = syscall.Kill(-pr.cmd.Process.Pid, syscall.SIGKILL)
			pr.kill()
		}
		untrack(pr)
	}
	_ = os.RemoveAll(p.Dir)
}
