package e2e

import (
	"context"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/viewd/viewd/internal/viewdtest"
)

// connectAs opens a connection as role user, or returns the error.
func connectAs(t *testing.T, srv *viewdtest.Server, user string) (*pgx.Conn, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, "postgres://"+user+"@"+srv.Addr+"/viewd?sslmode=disable")
	if err == nil {
		t.Cleanup(func() { c.Close(context.Background()) })
	}
	return c, err
}

// TestRolesBootstrapAndLogin is the first start as a user sees it: the
// superuser viewd (its password from --superuser-password-file) and a
// superuser role for the OS user exist; only roles that exist and may log
// in get a session; roles, owners and grants survive a restart.
func TestRolesBootstrapAndLogin(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := viewdtest.Start(t, viewdtest.Options{DataDir: dir, Args: []string{"--superuser-password-file", pwFile}})
	c := srv.Connect(t)
	expectRows(t, c, "SELECT rolname, rolsuper, rolcanlogin, rolpassword FROM pg_roles WHERE rolname = 'viewd'", "viewd|t|t|********")
	if !strings.Contains(srv.Log(), "created the bootstrap roles") {
		t.Fatalf("no bootstrap in the log:\n%s", srv.Log())
	}
	if u, err := user.Current(); err == nil && u.Username != "viewd" {
		osc, err := connectAs(t, srv, u.Username)
		if err != nil {
			t.Fatalf("connect as the OS user %s: %v", u.Username, err)
		}
		expectRows(t, osc, "SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user", u.Username+"|t")
	}
	for _, q := range []string{"CREATE ROLE alice LOGIN", "CREATE ROLE nologin", "CREATE TABLE t (x int)", "INSERT INTO t VALUES (1)",
		"CREATE TABLE hidden (x int)", "GRANT SELECT ON t TO alice"} {
		exec1(t, c, q)
	}
	for user, want := range map[string]string{"nobody": `role "nobody" does not exist`, "nologin": `role "nologin" is not permitted to log in`} {
		_, err := connectAs(t, srv, user)
		if sqlstate(err) != "28000" || !strings.Contains(err.Error(), want) {
			t.Fatalf("connect as %s: %v, want 28000 %s", user, err, want)
		}
	}
	check := func(srv *viewdtest.Server) {
		a, err := connectAs(t, srv, "alice")
		if err != nil {
			t.Fatalf("connect as alice: %v", err)
		}
		expectRows(t, a, "SELECT current_user, session_user, count(*) FROM t GROUP BY 1, 2", "alice|alice|1")
		_, err = a.Exec(ctxT(t), "SELECT * FROM hidden")
		if sqlstate(err) != "42501" {
			t.Fatalf("alice reads hidden: %v", err)
		}
		_, err = a.Exec(ctxT(t), "DROP TABLE t")
		if sqlstate(err) != "42501" {
			t.Fatalf("alice drops t: %v", err)
		}
	}
	check(srv)
	srv.Stop()
	srv = viewdtest.Start(t, viewdtest.Options{DataDir: dir, Args: []string{"--superuser-password-file", pwFile}})
	if strings.Contains(srv.Log(), "created the bootstrap roles") {
		t.Fatal("the restart bootstrapped the roles again")
	}
	check(srv)
}
