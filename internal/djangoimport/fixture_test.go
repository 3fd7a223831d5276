package djangoimport_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// python is Debian's interpreter, which python3-django and
// python3-django-allauth install into (not a pyenv's or a venv's).
const python = "/usr/bin/python3"

// djangoSource creates a database on the test cluster, builds the fixture
// project's schema in it with Django's `manage.py migrate` and fills it
// with testdata/djangoproject/populate.py; it returns the database's DSN
// and drops it when the test ends.
func djangoSource(t *testing.T) string {
	t.Helper()
	if err := exec.Command(python, "-c", "import django, allauth, psycopg2, argon2, bcrypt").Run(); err != nil {
		t.Fatalf("Debian's python3-django, python3-django-allauth, python3-psycopg2, python3-argon2 and python3-bcrypt are needed (make test installs them: scripts/django.sh): %v", err)
	}
	admin := os.Getenv("HALLPASS_TEST_DATABASE_URL")
	if admin == "" {
		t.Fatal("HALLPASS_TEST_DATABASE_URL is not set: run the tests with `make test`")
	}
	ctx := context.Background()
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "hp_django_" + hex.EncodeToString(b[:])
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE DATABASE "`+name+`"`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), admin)
		if err == nil {
			_, _ = c.Exec(context.Background(), `DROP DATABASE IF EXISTS "`+name+`" WITH (FORCE)`)
			_ = c.Close(context.Background())
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	pw, _ := u.User.Password()
	env := append(os.Environ(), "HP_DJANGO_DB_NAME="+name, "HP_DJANGO_DB_HOST="+u.Hostname(), "HP_DJANGO_DB_PORT="+u.Port(),
		"HP_DJANGO_DB_USER="+u.User.Username(), "HP_DJANGO_DB_PASSWORD="+pw, "PYTHONDONTWRITEBYTECODE=1")
	dir, _ := filepath.Abs(filepath.Join("testdata", "djangoproject"))
	for _, args := range [][]string{{"manage.py", "migrate", "-v0"}, {"populate.py"}} {
		cmd := exec.Command(python, args...)
		cmd.Dir, cmd.Env = dir, env
		start := time.Now()
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		t.Logf("%v (%s): %s", args, time.Since(start).Round(time.Millisecond), out)
	}
	return u.String()
}
