package faults

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Redis is a private redis-server on a free 127.0.0.1 port, without
// persistence: a restart brings it back empty, as a crashed cache node would.
type Redis struct {
	// Port stays the same across Kill and Start.
	Port int
	// Dir is its working directory (and log).
	Dir string

	bin  string
	mu   sync.Mutex
	proc *proc
}

// StartRedis starts a redis-server; the test's cleanup kills it and deletes
// its directory, even when the test fails. A missing redis-server fails the
// test with a message saying how to install it.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	bin, err := lookBin("HALLPASS_REDIS_SERVER", []string{"/usr/bin/redis-server"}, "redis-server",
		"install Redis (`make services` installs it from Debian packages) or set HALLPASS_REDIS_SERVER")
	if err != nil {
		t.Fatal(err)
	}
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "hallpass-faults-redis-")
	if err != nil {
		t.Fatal(err)
	}
	r := &Redis{Port: port, Dir: dir, bin: bin}
	t.Cleanup(r.destroy)
	r.Start(t)
	return r
}

// Addr is host:port for a client.
func (r *Redis) Addr() string { return "127.0.0.1:" + strconv.Itoa(r.Port) }

// LogPath is the server's log file.
func (r *Redis) LogPath() string { return filepath.Join(r.Dir, "redis.log") }

// Start starts the server (empty) on its port and waits until it answers
// PING. A port briefly held after Kill is retried for up to 10 s.
func (r *Redis) Start(t testing.TB) {
	t.Helper()
	if err := r.start(); err != nil {
		t.Fatal(err)
	}
}

func (r *Redis) start() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.proc != nil && !r.proc.exited() {
		return nil
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		cmd := owner{}.command(r.Dir, r.bin, "--bind", "127.0.0.1", "--port", strconv.Itoa(r.Port),
			"--protected-mode", "yes", "--save", "", "--appendonly", "no", "--daemonize", "no",
			"--dir", r.Dir, "--logfile", "")
		pr, err := start("redis-server", cmd, r.LogPath())
		if err != nil {
			return err
		}
		track(pr)
		for {
			if ping(r.Addr()) == nil {
				r.proc = pr
				return nil
			}
			if pr.exited() {
				untrack(pr)
				break
			}
			if time.Now().After(deadline) {
				pr.kill()
				untrack(pr)
				return fmt.Errorf("faults: redis-server on %s not answering PING within 10 s; log:\n%s", r.Addr(), tail(r.LogPath(), 2000))
			}
			time.Sleep(20 * time.Millisecond)
		}
		// Exited: most likely the port is still held; try again.
		if time.Now().After(deadline) {
			return fmt.Errorf("faults: redis-server %w on %s (%v); log:\n%s", errExited, r.Addr(), pr.err, tail(r.LogPath(), 2000))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Kill SIGKILLs the server (no shutdown, no save) and waits until it is gone.
func (r *Redis) Kill(t testing.TB) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.proc == nil {
		return
	}
	r.proc.kill()
	untrack(r.proc)
	r.proc = nil
}

// Pause stops the server with SIGSTOP: connections stay open and commands
// hang, as with a stalled or partitioned Redis. Resume continues it.
func (r *Redis) Pause(t testing.TB) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.proc == nil || r.proc.exited() {
		t.Fatal("faults: pause: redis-server is not running")
	}
	if err := r.proc.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatalf("faults: pause redis-server: %v", err)
	}
}

// Resume continues a paused server (SIGCONT).
func (r *Redis) Resume(t testing.TB) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.proc == nil || r.proc.exited() {
		t.Fatal("faults: resume: redis-server is not running")
	}
	if err := r.proc.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatalf("faults: resume redis-server: %v", err)
	}
}

// Running reports whether the server process runs.
func (r *Redis) Running() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.proc != nil && !r.proc.exited()
}

// NumSub returns how many clients subscribe to channel (PUBSUB NUMSUB).
func (r *Redis) NumSub(channel string) (int, error) {
	c, err := net.DialTimeout("tcp", r.Addr(), time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	cmd := fmt.Sprintf("*3\r\n$6\r\nPUBSUB\r\n$6\r\nNUMSUB\r\n$%d\r\n%s\r\n", len(channel), channel)
	if _, err := c.Write([]byte(cmd)); err != nil {
		return 0, err
	}
	// *2 / $len / channel / :count
	rd := bufio.NewReader(c)
	var lines []string
	for range 4 {
		l, err := rd.ReadString('\n')
		if err != nil {
			return 0, err
		}
		lines = append(lines, strings.TrimRight(l, "\r\n"))
	}
	if !strings.HasPrefix(lines[3], ":") {
		return 0, fmt.Errorf("faults: PUBSUB NUMSUB: unexpected reply %q", lines)
	}
	return strconv.Atoi(lines[3][1:])
}

func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if strings.TrimSpace(line) != "+PONG" {
		return fmt.Errorf("faults: PING answered %q", line)
	}
	return nil
}

func (r *Redis) destroy() {
	r.mu.Lock()
	pr := r.proc
	r.proc = nil
	r.mu.Unlock()
	if pr != nil {
		pr.kill()
		untrack(pr)
	}
	_ = os.RemoveAll(r.Dir)
}
