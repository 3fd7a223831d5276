package faults

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// FreePort returns a TCP port on 127.0.0.1 that nothing listens on now.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("faults: free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// proc is one server process started by this package: a direct child of the
// test binary, so that it can be signalled by pid and reaped.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited and been reaped
	err  error         // its exit status, valid after done
}

// owner is the OS account a server runs as: the current one, or (when the
// test runs as root, which Postgres refuses) an unprivileged account.
type owner struct {
	name     string
	uid, gid int
	cred     *syscall.Credential // nil: run as the current user
}

// serverOwner picks who runs Postgres: as root, the `postgres` account
// (override with HALLPASS_FAULTS_PG_USER); otherwise the current user.
func serverOwner() (owner, error) {
	if os.Geteuid() != 0 {
		return owner{name: strconv.Itoa(os.Geteuid()), uid: os.Geteuid(), gid: os.Getegid()}, nil
	}
	name := os.Getenv("HALLPASS_FAULTS_PG_USER")
	if name == "" {
		name = "postgres"
	}
	u, err := user.Lookup(name)
	if err != nil {
		return owner{}, fmt.Errorf("faults: running as root, Postgres must run as an unprivileged user, and %q does not exist (%v); "+
			"install PostgreSQL 15 (`make services` does) or set HALLPASS_FAULTS_PG_USER", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return owner{name: name, uid: uid, gid: gid,
		cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}}, nil
}

// command builds a command run as o, in dir, that the kernel kills if the
// test binary dies (Go sets the parent-death signal after switching
// credentials, so it survives the switch).
func (o owner) command(dir, bin string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LC_ALL=C", "LANG=C")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: o.cred, Pdeathsig: syscall.SIGKILL, Setpgid: true}
	return cmd
}

// start starts cmd with its output appended to logPath.
func start(name string, cmd *exec.Cmd, logPath string) (*proc, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child has its own descriptor
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("faults: start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// signal sends sig to the process (never to anything else) and waits up to
// wait for it to exit; it reports whether it did.
func (p *proc) signal(sig syscall.Signal, wait time.Duration) bool {
	if p.exited() {
		return true
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
		return true
	case <-time.After(wait):
		return false
	}
}

// kill SIGKILLs the process and waits for it to be reaped.
func (p *proc) kill() {
	if !p.signal(syscall.SIGKILL, 10*time.Second) {
		panic(fmt.Sprintf("faults: %s (pid %d) survived SIGKILL for 10 s", p.name, p.cmd.Process.Pid))
	}
}

// tempBase makes a private directory under a temporary directory every
// ancestor of which o can traverse (a Postgres data directory must be
// reachable by its owner), owned by o.
func tempBase(o owner, prefix string) (string, error) {
	var tried []string
	for _, parent := range []string{os.TempDir(), "/tmp", "/var/tmp"} {
		if !traversable(parent, o) {
			tried = append(tried, parent)
			continue
		}
		dir, err := os.MkdirTemp(parent, prefix)
		if err != nil {
			tried = append(tried, parent+" ("+err.Error()+")")
			continue
		}
		if o.cred != nil {
			if err := os.Chown(dir, o.uid, o.gid); err != nil {
				_ = os.RemoveAll(dir)
				return "", err
			}
		}
		return dir, nil
	}
	return "", fmt.Errorf("faults: no temporary directory that user %s can traverse (tried %v)", o.name, tried)
}

// traversable reports whether every directory on path's way is searchable by o.
func traversable(path string, o owner) bool {
	path, err := filepath.Abs(path)
	if err != nil {
		return false
	}
	for p := path; ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil || !fi.IsDir() {
			return false
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		mode := fi.Mode().Perm()
		switch {
		case o.cred == nil && os.Geteuid() == 0:
		case ok && int(st.Uid) == o.uid:
			if mode&0o100 == 0 {
				return false
			}
		case ok && int(st.Gid) == o.gid:
			if mode&0o010 == 0 {
				return false
			}
		default:
			if mode&0o001 == 0 {
				return false
			}
		}
		if p == "/" || p == filepath.Dir(p) {
			return true
		}
	}
}

// tail returns the last n bytes of a log file, for failure messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	if len(b) > n {
		b = b[len(b)-n:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return string(b)
}

// lookBin finds a server binary: the env override, then the given
// candidates, then PATH. The error says how to get it.
func lookBin(env string, candidates []string, name, hint string) (string, error) {
	if v := os.Getenv(env); v != "" {
		if fi, err := os.Stat(v); err == nil && !fi.IsDir() {
			return v, nil
		}
		return "", fmt.Errorf("faults: %s=%q is not an executable", env, v)
	}
	for _, c := range candidates {
		if fi, err := os.Stat(c); err == nil && !fi.IsDir() {
			return c, nil
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("faults: %s not found (looked at %s, %v and PATH): %s", name, env, candidates, hint)
}

// errExited is returned when a server exits while we wait for it.
var errExited = errors.New("exited")

// registry of live processes, so a test binary that is interrupted can
// still kill them from KillAll (the kernel's parent-death signal covers a
// crash).
var (
	liveMu sync.Mutex
	live   = map[*proc]struct{}{}
)

func track(p *proc) {
	liveMu.Lock()
	live[p] = struct{}{}
	liveMu.Unlock()
}

func untrack(p *proc) {
	liveMu.Lock()
	delete(live, p)
	liveMu.Unlock()
}

// KillAll SIGKILLs every server this package started that still runs.
func KillAll() {
	liveMu.Lock()
	ps := make([]*proc, 0, len(live))
	for p := range live {
		ps = append(ps, p)
	}
	liveMu.Unlock()
	for _, p := range ps {
		p.kill()
		untrack(p)
	}
}
