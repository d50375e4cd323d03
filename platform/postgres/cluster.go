package postgres

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrNoBinaries means no PostgreSQL server binaries were found.
var ErrNoBinaries = errors.New("no PostgreSQL server found (initdb, pg_ctl): install it (Debian/Ubuntu: apt-get install -y postgresql) or set DATABASE_URL")

// Cluster is a private PostgreSQL cluster that procfin runs itself, under a
// directory of its own, reachable only through a Unix socket in that
// directory. When procfin runs as root, the server runs as the postgres user,
// since PostgreSQL refuses to run as root.
type Cluster struct {
	Dir      string            // the cluster's home: data, socket, log
	Settings map[string]string // extra postgresql.conf settings, given at start
	Database string            // database to create and connect to; "procfin" if empty

	binDir  string
	runAs   *syscall.Credential
	started bool // this Cluster started the server, so Stop stops it
}

// binGlob is where Debian and Ubuntu install PostgreSQL's server binaries.
var binGlob = "/usr/lib/postgresql/*/bin"

// FindBinDir returns the directory holding initdb and pg_ctl: from PATH,
// else the newest /usr/lib/postgresql/*/bin.
func FindBinDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		dir := filepath.Dir(p)
		if _, err := os.Stat(filepath.Join(dir, "pg_ctl")); err == nil {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob(binGlob)
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", ErrNoBinaries
}

func versionOf(binDir string) float64 {
	v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(binDir)), 64)
	return v
}

func (c *Cluster) dataDir() string { return filepath.Join(c.Dir, "data") }
func (c *Cluster) logFile() string { return filepath.Join(c.Dir, "postgres.log") }

// SocketDir is the directory of the server's Unix socket. A socket path is
// limited to about 100 bytes, so a deep Dir gets its socket under the
// temporary directory instead, named after Dir.
func (c *Cluster) SocketDir() string {
	dir := filepath.Join(c.Dir, "run")
	if len(dir)+len("/.s.PGSQL.5432") < 100 {
		return dir
	}
	sum := sha256.Sum256([]byte(c.Dir))
	return filepath.Join(os.TempDir(), "procfin-pg-"+hex.EncodeToString(sum[:6]))
}

// URL is the connection URL of the cluster's database.
func (c *Cluster) URL() string {
	db := c.Database
	if db == "" {
		db = "procfin"
	}
	q := url.Values{"host": {c.SocketDir()}, "port": {"5432"}, "sslmode": {"disable"}}
	return (&url.URL{Scheme: "postgres", User: url.User("procfin"), Path: "/" + db, RawQuery: q.Encode()}).String()
}

// Start initialises the cluster on first use, starts the server unless it
// is already running, and creates the database. It holds a file lock
// meanwhile, so concurrent starts (test packages) do not race.
func (c *Cluster) Start(ctx context.Context) error {
	abs, err := filepath.Abs(c.Dir)
	if err != nil {
		return err
	}
	c.Dir = abs
	if c.binDir == "" {
		if c.binDir, err = FindBinDir(); err != nil {
			return err
		}
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return fmt.Errorf("running as root, and PostgreSQL refuses to: create a postgres user (apt-get install -y postgresql does) or set DATABASE_URL")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		c.runAs = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", c.Dir, err)
	}
	unlock, err := lockFile(filepath.Join(c.Dir, "cluster.lock"))
	if err != nil {
		return err
	}
	defer unlock()

	if _, err := os.Stat(filepath.Join(c.dataDir(), "PG_VERSION")); err != nil {
		if err := c.initdb(ctx); err != nil {
			return err
		}
	}
	if !c.running(ctx) {
		if err := c.start(ctx); err != nil {
			return err
		}
		c.started = true
	}
	return c.createDatabase(ctx)
}

func (c *Cluster) initdb(ctx context.Context) error {
	_ = os.RemoveAll(c.dataDir()) // a failed earlier initdb leaves debris
	if err := c.ownedDir(c.dataDir(), 0o700); err != nil {
		return err
	}
	out, err := c.command(ctx, "initdb", "-D", c.dataDir(), "-U", "procfin", "--auth=trust",
		"-E", "UTF8", "--no-locale", "--no-instructions").CombinedOutput()
	if err != nil {
		return c.explain("initdb", err, out)
	}
	return nil
}

func (c *Cluster) running(ctx context.Context) bool {
	return c.command(ctx, "pg_ctl", "status", "-D", c.dataDir()).Run() == nil
}

func (c *Cluster) start(ctx context.Context) error {
	if err := c.ownedDir(c.SocketDir(), 0o700); err != nil {
		return err
	}
	if err := c.ownedFile(c.logFile()); err != nil {
		return err
	}
	opts := []string{"-c listen_addresses=''", "-c unix_socket_directories='" + c.SocketDir() + "'", "-p 5432"}
	keys := make([]string, 0, len(c.Settings))
	for k := range c.Settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		opts = append(opts, fmt.Sprintf("-c %s=%s", k, c.Settings[k]))
	}
	cmd := c.command(ctx, "pg_ctl", "start", "-D", c.dataDir(), "-l", c.logFile(), "-w", "-t", "60",
		"-o", strings.Join(opts, " "))
	// pg_ctl's server must outlive neither us nor a signal to our process
	// group meant for us: run it in its own session so ^C reaches only us,
	// and we stop it ourselves.
	cmd.SysProcAttr.Setsid = true
	if out, err := cmd.CombinedOutput(); err != nil {
		logTail, _ := os.ReadFile(c.logFile())
		if len(logTail) > 600 {
			logTail = logTail[len(logTail)-600:]
		}
		return c.explain("pg_ctl start", err, append(out, logTail...))
	}
	return nil
}

func (c *Cluster) createDatabase(ctx context.Context) error {
	name := c.Database
	if name == "" {
		name = "procfin"
	}
	admin, err := WithDatabase(c.URL(), "postgres")
	if err != nil {
		return err
	}
	db, err := Open(ctx, admin, PoolConfig{MaxOpenConns: 1})
	if err != nil {
		return err
	}
	defer db.Close()
	var exists bool
	if err := db.GetContext(ctx, &exists, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name); err != nil {
		return err
	}
	if !exists {
		if _, err := db.ExecContext(ctx, `CREATE DATABASE `+quoteIdent(name)); err != nil {
			return fmt.Errorf("create database %s: %w", name, err)
		}
	}
	return nil
}

// Stop stops the server if this Cluster started it.
func (c *Cluster) Stop(ctx context.Context) error {
	if !c.started {
		return nil
	}
	c.started = false
	out, err := c.command(ctx, "pg_ctl", "stop", "-D", c.dataDir(), "-m", "fast", "-w", "-t", "60").CombinedOutput()
	if err != nil {
		return c.explain("pg_ctl stop", err, out)
	}
	return nil
}

// StopServer stops the cluster's server whoever started it.
func (c *Cluster) StopServer(ctx context.Context) error {
	c.started = true
	if err := c.prepare(); err != nil {
		return err
	}
	if !c.running(ctx) {
		return nil
	}
	return c.Stop(ctx)
}

func (c *Cluster) prepare() error {
	var err error
	if c.binDir == "" {
		if c.binDir, err = FindBinDir(); err != nil {
			return err
		}
	}
	if os.Geteuid() == 0 && c.runAs == nil {
		u, err := user.Lookup("postgres")
		if err != nil {
			return err
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		c.runAs = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	return nil
}

func (c *Cluster) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(c.binDir, name), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.runAs}
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.Dir = c.Dir
	cmd.Stdin = nil
	return cmd
}

// ownedDir creates dir with mode perm, owned by the server's user.
func (c *Cluster) ownedDir(dir string, perm os.FileMode) error {
	if err := os.MkdirAll(dir, perm); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	if err := os.Chmod(dir, perm); err != nil {
		return err
	}
	if c.runAs != nil {
		if err := os.Chown(dir, int(c.runAs.Uid), int(c.runAs.Gid)); err != nil {
			return fmt.Errorf("give %s to the postgres user: %w", dir, err)
		}
	}
	return nil
}

func (c *Cluster) ownedFile(path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	f.Close()
	if c.runAs != nil {
		return os.Chown(path, int(c.runAs.Uid), int(c.runAs.Gid))
	}
	return nil
}

func (c *Cluster) explain(step string, err error, out []byte) error {
	msg := strings.TrimSpace(string(bytes.ToValidUTF8(out, nil)))
	if c.runAs != nil && strings.Contains(msg, "Permission denied") {
		return fmt.Errorf("%s: the postgres user cannot use %s (a parent directory is closed to it): set PROCFIN_DATA_DIR to a directory it can reach, or set DATABASE_URL", step, c.Dir)
	}
	return fmt.Errorf("%s: %w: %s", step, err, msg)
}

func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
