package coord

import (
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
	"github.com/viewd/viewd/wire"
)

// userSession opens a session as role user.
func userSession(t testing.TB, c *Coordinator, user string) *testSession {
	t.Helper()
	ws, err := c.NewSession(context.Background(), wire.StartupParams{User: user, Database: "viewd"}, newRecClient())
	if err != nil {
		t.Fatalf("new session as %s: %v", user, err)
	}
	t.Cleanup(ws.Close)
	return &testSession{t: t, s: ws.(*session)}
}

func TestRoleDDLAndLogin(t *testing.T) {
	c := openTest(t, Config{})
	su := newTestSession(t, c)
	su.exec(
		"CREATE ROLE alice LOGIN PASSWORD 'secret-a' CREATEDB",
		"CREATE USER bob",
		"CREATE ROLE readers",
		"CREATE ROLE admins NOINHERIT CREATEROLE",
	)
	su.want("SELECT rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolpassword FROM pg_roles WHERE rolname = 'alice'",
		"alice f t f t t ********")
	su.want("SELECT rolcanlogin, rolpassword FROM pg_roles WHERE rolname = 'bob'", "t ********")
	su.want("SELECT rolcanlogin, rolinherit, rolcreaterole FROM pg_roles WHERE rolname = 'admins'", "f f t")
	su.want("SELECT count(*) FROM pg_authid WHERE rolpassword IS NOT NULL", "0")
	if got := su.query("SELECT usename FROM pg_user WHERE usename IN ('alice', 'bob', 'readers')"); strings.Join(got, ",") != "alice,bob" {
		t.Fatalf("pg_user: %v", got)
	}

	// The password is stored only as a SCRAM-SHA-256 verifier that the
	// password checks against.
	login, err := c.LoginRole("alice")
	if err != nil || !login.Exists || !login.CanLogin || login.Superuser {
		t.Fatalf("LoginRole(alice) = %+v, %v", login, err)
	}
	sec, err := wire.ParseSCRAMVerifier(login.Verifier)
	if err != nil || sec.Iters != 4096 || len(sec.Salt) != 16 || strings.Contains(login.Verifier, "secret-a") {
		t.Fatalf("verifier %q", login.Verifier)
	}
	again, err := scramVerifier("secret-a", []byte(sec.Salt), sec.Iters)
	if err != nil || again != login.Verifier {
		t.Fatalf("the verifier does not check the password: %q vs %q (%v)", again, login.Verifier, err)
	}
	for _, rec := range c.catalogRecs {
		if strings.Contains(string(rec), "secret-a") {
			t.Fatalf("the password is in the catalog: %s", rec)
		}
	}
	// A verifier given as the password is stored as it is.
	su.exec("ALTER ROLE bob PASSWORD '" + login.Verifier + "'")
	if l, _ := c.LoginRole("bob"); l.Verifier != login.Verifier {
		t.Fatalf("bob's verifier %q, want %q", l.Verifier, login.Verifier)
	}
	su.exec("ALTER ROLE bob PASSWORD NULL")
	if l, _ := c.LoginRole("bob"); l.Verifier != "" {
		t.Fatalf("PASSWORD NULL left %q", l.Verifier)
	}
	if l, _ := c.LoginRole("viewd"); !l.Exists || !l.CanLogin || !l.Superuser {
		t.Fatalf("LoginRole(viewd) = %+v", l)
	}
	if l, _ := c.LoginRole("nobody"); l.Exists {
		t.Fatalf("LoginRole(nobody) = %+v", l)
	}

	// Sessions only for roles that exist and may log in.
	for user, msg := range map[string]string{
		"nobody":  `role "nobody" does not exist`,
		"readers": `role "readers" is not permitted to log in`,
		"":        "no PostgreSQL user name specified in startup packet",
	} {
		_, err := c.NewSession(context.Background(), wire.StartupParams{User: user}, testClient{})
		if pe := pgcode.As(err); pe == nil || pe.Code != pgcode.InvalidAuthorizationSpec || pe.Message != msg {
			t.Fatalf("NewSession(%q): %v, want 28000 %s", user, err, msg)
		}
	}

	su.fails("CREATE ROLE alice", pgcode.DuplicateObject)
	su.fails("CREATE ROLE pg_x", pgcode.ReservedName)
	su.fails("CREATE ROLE public", pgcode.SyntaxError) // PostgreSQL's grammar refuses it
	su.fails("DROP ROLE nobody", pgcode.UndefinedObject)
	su.exec("DROP ROLE IF EXISTS nobody")
	su.fails("DROP ROLE viewd", pgcode.ObjectInUse)

	// Non-superusers: CREATEROLE manages non-superusers; others nothing
	// but their own password.
	a := userSession(t, c, "alice")
	a.fails("CREATE ROLE x", pgcode.InsufficientPrivilege)
	a.fails("ALTER ROLE bob LOGIN", pgcode.InsufficientPrivilege)
	a.exec("ALTER ROLE alice PASSWORD 'new'")
	a.fails("ALTER ROLE alice SUPERUSER", pgcode.InsufficientPrivilege)
	su.exec("GRANT admins TO alice")
	a.fails("CREATE ROLE x", pgcode.InsufficientPrivilege) // admins does not pass on CREATEROLE
	a.exec("SET ROLE admins", "CREATE ROLE x", "DROP ROLE x", "RESET ROLE")
	a.fails("SET ROLE readers", pgcode.InsufficientPrivilege)
	a.fails("SET ROLE nobody", pgcode.InvalidParameterValue)
}

func TestRoleMembershipAndSetRole(t *testing.T) {
	c := openTest(t, Config{})
	su := newTestSession(t, c)
	su.exec("CREATE ROLE a", "CREATE ROLE b", "CREATE ROLE c", "CREATE ROLE u LOGIN",
		"GRANT a TO b", "GRANT b TO c", "GRANT c TO u")
	// Loops are refused, the trivial one included.
	if e := su.fails("GRANT c TO a", pgcode.InvalidGrantOperation); e.Message != `role "c" is a member of role "a"` {
		t.Fatalf("loop: %s", e.Message)
	}
	su.fails("GRANT a TO a", pgcode.InvalidGrantOperation)
	su.want("SELECT count(*) FROM pg_auth_members", "3")
	su.want("SELECT pg_has_role('u', 'a', 'MEMBER'), pg_has_role('a', 'u', 'MEMBER'), pg_has_role('u', 'a', 'USAGE')", "t f t")
	su.exec("ALTER ROLE b NOINHERIT")
	su.want("SELECT pg_has_role('u', 'a', 'MEMBER'), pg_has_role('u', 'a', 'USAGE'), pg_has_role('u', 'b', 'USAGE')", "t f t")

	s := userSession(t, c, "u")
	s.want("SELECT current_user, session_user, current_role", "u u u")
	s.want("SHOW is_superuser", "off")
	s.exec("SET ROLE a")
	s.want("SELECT current_user, session_user", "a u")
	s.exec("BEGIN", "SET ROLE b")
	s.want("SELECT current_user", "b")
	s.exec("ROLLBACK")
	s.want("SELECT current_user", "a")
	s.exec("RESET ROLE")
	s.want("SELECT current_user", "u")
	s.exec("SET ROLE NONE", "RESET ALL")
	s.want("SELECT current_user, session_user", "u u")
	s.fails("SET SESSION AUTHORIZATION viewd", pgcode.InsufficientPrivilege)

	su.exec("SET SESSION AUTHORIZATION u")
	su.want("SELECT current_user, session_user", "u u")
	su.want("SHOW is_superuser", "off")
	su.exec("SET SESSION AUTHORIZATION DEFAULT")
	su.want("SELECT current_user, session_user", "viewd viewd")
	su.want("SHOW is_superuser", "on")

	su.exec("REVOKE b FROM c")
	su.want("SELECT pg_has_role('u', 'a', 'MEMBER')", "f")
	su.exec("DROP ROLE c")
	su.want("SELECT count(*) FROM pg_auth_members", "1")
}

// TestPrivilegeMatrix runs each statement as each role and checks that
// it is allowed or refused (42501) as PostgreSQL would.
func TestPrivilegeMatrix(t *testing.T) {
	c := openTest(t, Config{})
	su := newTestSession(t, c)
	su.exec(
		"CREATE ROLE owner LOGIN", "CREATE ROLE reader LOGIN", "CREATE ROLE writer LOGIN", "CREATE ROLE member LOGIN",
		"CREATE ROLE stranger LOGIN", "CREATE ROLE maker LOGIN CREATEDB",
		"CREATE SCHEMA s",
		"GRANT USAGE, CREATE ON SCHEMA s TO owner",
		"GRANT USAGE ON SCHEMA s TO reader, writer, stranger",
		"GRANT owner TO member",
	)
	o := userSession(t, c, "owner")
	o.exec(
		"CREATE TABLE s.t (a int PRIMARY KEY, b int)",
		"INSERT INTO s.t VALUES (1, 1), (2, 2)",
		"CREATE VIEW s.v AS SELECT a FROM s.t",
		"CREATE MATERIALIZED VIEW s.m AS SELECT count(*) AS n FROM s.t",
		"CREATE SOURCE s.src FROM LOAD GENERATOR COUNTER (TICK INTERVAL '1h')",
		"GRANT SELECT ON s.t, s.v, s.m, s.src TO reader",
		"GRANT INSERT, UPDATE, DELETE ON TABLE s.t TO writer",
	)
	// CREATE CONNECTION needs CREATE on the schema.
	userSession(t, c, "stranger").fails("CREATE CONNECTION s.k TO KAFKA (BROKER '127.0.0.1:1')", pgcode.InsufficientPrivilege)
	o.exec("CREATE CONNECTION s.k TO KAFKA (BROKER '127.0.0.1:1')")

	type check struct {
		stmt  string
		allow map[string]bool // roles allowed; others refused with 42501
	}
	all := func(roles ...string) map[string]bool {
		m := map[string]bool{"viewd": true}
		for _, r := range roles {
			m[r] = true
		}
		return m
	}
	checks := []check{
		{"SELECT count(*) FROM s.t", all("owner", "member", "reader")},
		{"SELECT count(*) FROM s.v", all("owner", "member", "reader")},
		{"SELECT n FROM s.m", all("owner", "member", "reader")},
		{"SELECT count(*) FROM s.src", all("owner", "member", "reader")},
		{"SELECT count(*) FROM s.t WHERE a IN (SELECT a FROM s.v)", all("owner", "member", "reader")},
		{"INSERT INTO s.t VALUES (10, 10)", all("owner", "member", "writer")},
		{"UPDATE s.t SET b = 5", all("owner", "member", "writer")},
		// Reading columns (WHERE) needs SELECT too.
		{"UPDATE s.t SET b = 6 WHERE a = 1", all("owner", "member")},
		{"DELETE FROM s.t WHERE a = 10", all("owner", "member")},
		{"INSERT INTO s.t VALUES (11, 11) RETURNING a", all("owner", "member")},
		{"COPY s.t TO STDOUT", all("owner", "member", "reader")},
		{"SUBSCRIBE TO s.m WITH (SNAPSHOT = false) UP TO mz_now()", all("owner", "member", "reader")},
		{"EXPLAIN SELECT * FROM s.t", all("owner", "member", "reader")},
		{"CREATE TABLE s.new (x int)", all("owner", "member")},
		{"CREATE VIEW s.nv AS SELECT * FROM s.t", all("owner", "member")},
		{"CREATE SOURCE s.nsrc FROM LOAD GENERATOR COUNTER (TICK INTERVAL '1h')", all("owner", "member")},
		{"CREATE TABLE public.p (x int)", all()},
		{"CREATE SCHEMA s2", all("maker")},
		{"CREATE INDEX t_b ON s.t (b)", all("owner", "member")},
		{"ALTER TABLE s.t RENAME TO t2", all("owner", "member")},
		{"ALTER VIEW s.v RENAME TO v2", all("owner", "member")},
		{"DROP MATERIALIZED VIEW s.m", all("owner", "member")},
		{"DROP SOURCE s.src", all("owner", "member")},
		{"DROP SCHEMA s CASCADE", all()},
		{"DROP CONNECTION s.k", all("owner", "member")},
		{"GRANT SELECT ON s.t TO stranger", all("owner", "member")},
		{"SELECT pg_cancel_backend(pg_backend_pid())", all("owner", "member", "reader", "writer", "stranger", "maker")},
	}
	// Statements that change the catalog are undone after a success, so
	// that every role sees the same objects; they run in a fresh
	// coordinator state by undoing with the superuser.
	undo := map[string][]string{
		"INSERT INTO s.t VALUES (10, 10)":                                       {"DELETE FROM s.t WHERE a = 10"},
		"INSERT INTO s.t VALUES (11, 11) RETURNING a":                           {"DELETE FROM s.t WHERE a = 11"},
		"CREATE TABLE s.new (x int)":                                            {"DROP TABLE s.new"},
		"CREATE VIEW s.nv AS SELECT * FROM s.t":                                 {"DROP VIEW s.nv"},
		"CREATE SOURCE s.nsrc FROM LOAD GENERATOR COUNTER (TICK INTERVAL '1h')": {"DROP SOURCE s.nsrc"},
		"CREATE TABLE public.p (x int)":                                         {"DROP TABLE public.p"},
		"CREATE SCHEMA s2":                                                      {"DROP SCHEMA s2"},
		"CREATE INDEX t_b ON s.t (b)":                                           {"DROP INDEX s.t_b"},
		"ALTER TABLE s.t RENAME TO t2":                                          {"ALTER TABLE s.t2 RENAME TO t"},
		"ALTER VIEW s.v RENAME TO v2":                                           {"ALTER VIEW s.v2 RENAME TO v"},
		"DROP MATERIALIZED VIEW s.m": {"SET ROLE owner", "CREATE MATERIALIZED VIEW s.m AS SELECT count(*) AS n FROM s.t",
			"GRANT SELECT ON s.m TO reader", "RESET ROLE"},
		"DROP SOURCE s.src": {"SET ROLE owner", "CREATE SOURCE s.src FROM LOAD GENERATOR COUNTER (TICK INTERVAL '1h')",
			"GRANT SELECT ON s.src TO reader", "RESET ROLE"},
		"GRANT SELECT ON s.t TO stranger": {"REVOKE SELECT ON s.t FROM stranger"},
		"DROP CONNECTION s.k":             {"SET ROLE owner", "CREATE CONNECTION s.k TO KAFKA (BROKER '127.0.0.1:1')", "RESET ROLE"},
	}
	sessions := map[string]*testSession{"viewd": su}
	for _, r := range []string{"owner", "reader", "writer", "member", "stranger", "maker"} {
		sessions[r] = userSession(t, c, r)
	}
	roles := []string{"owner", "member", "reader", "writer", "stranger", "maker", "viewd"}
	for _, ch := range checks {
		for _, r := range roles {
			if ch.stmt == "DROP SCHEMA s CASCADE" || ch.stmt == "DROP CONNECTION s.k" {
				if r == "viewd" {
					continue // checked last
				}
			}
			_, _, err := sessions[r].run(context.Background(), ch.stmt)
			switch {
			case ch.allow[r] && err != nil:
				t.Errorf("%s as %s: %v, want allowed", ch.stmt, r, err)
			case !ch.allow[r] && errCode(err) != string(pgcode.InsufficientPrivilege):
				t.Errorf("%s as %s: %v, want 42501", ch.stmt, r, err)
			case err == nil:
				su.exec(undo[ch.stmt]...)
			}
		}
	}
	// The messages are PostgreSQL's.
	if e := sessions["stranger"].fails("SELECT * FROM s.t", pgcode.InsufficientPrivilege); e.Message != "permission denied for table t" {
		t.Errorf("message %q", e.Message)
	}
	if e := sessions["reader"].fails("DROP VIEW s.v", pgcode.InsufficientPrivilege); e.Message != "must be owner of view v" {
		t.Errorf("message %q", e.Message)
	}
	if e := sessions["reader"].fails("SELECT * FROM public.nothere_or_not", pgcode.UndefinedTable); e == nil {
		t.Error("no error")
	}
	// USAGE on the connection a source uses.
	su.exec("GRANT CREATE ON SCHEMA s TO reader")
	if e := sessions["reader"].fails("CREATE SOURCE s.ks FROM KAFKA CONNECTION s.k (TOPIC 'x') FORMAT JSON", pgcode.InsufficientPrivilege); e.Message != "permission denied for connection k" {
		t.Errorf("message %q", e.Message)
	}
	su.exec("GRANT USAGE ON CONNECTION s.k TO reader")
	su.want("SELECT has_schema_privilege('reader', 's', 'CREATE'), has_table_privilege('reader', 's.t', 'SELECT'), has_table_privilege('reader', 's.t', 'INSERT'), has_table_privilege('stranger', 's.t', 'SELECT')",
		"t t f f")
	sessions["reader"].want("SELECT has_table_privilege('s.t', 'select'), has_any_column_privilege('s.t', 'UPDATE'), has_table_privilege('pg_class', 'SELECT')", "t f t")
	su.want("SELECT relacl FROM pg_class WHERE relname = 't'", "{owner=arwd/owner,reader=r/owner,writer=awd/owner}")
	su.want("SELECT nspacl FROM pg_namespace WHERE nspname = 's'", "{viewd=UC/viewd,owner=UC/viewd,reader=UC/viewd,writer=U/viewd,stranger=U/viewd}")
	su.want("SELECT count(*) FROM information_schema.table_privileges WHERE table_name = 't' AND grantee = 'writer'", "3")

	// Superusers may drop anything.
	su.exec("DROP CONNECTION s.k CASCADE", "DROP SCHEMA s CASCADE")
}

func TestPrivilegesDurable(t *testing.T) {
	c := openTest(t, Config{})
	su := newTestSession(t, c)
	su.exec("CREATE ROLE alice LOGIN PASSWORD 'pw'", "CREATE ROLE bob LOGIN", "CREATE ROLE g", "GRANT g TO bob",
		"GRANT CREATE ON SCHEMA public TO alice")
	a := userSession(t, c, "alice")
	a.exec("CREATE TABLE t (x int)", "GRANT SELECT ON t TO g WITH GRANT OPTION", "CREATE VIEW v AS SELECT * FROM t")
	before, _ := c.LoginRole("alice")
	c = reopen(t, c)
	su = newTestSession(t, c)
	su.want("SELECT relowner = (SELECT oid FROM pg_roles WHERE rolname = 'alice'), relacl FROM pg_class WHERE relname = 't'", "t {alice=arwd/alice,g=r*/alice}")
	su.want("SELECT tableowner FROM pg_tables WHERE tablename = 't'", "alice")
	su.want("SELECT viewowner FROM pg_views WHERE viewname = 'v'", "alice")
	su.want("SELECT pg_has_role('bob', 'g', 'MEMBER')", "t")
	if after, _ := c.LoginRole("alice"); after != before {
		t.Fatalf("alice after restart %+v, before %+v", after, before)
	}
	b := userSession(t, c, "bob")
	b.want("SELECT count(*) FROM t", "0")
	b.fails("SELECT count(*) FROM v", pgcode.InsufficientPrivilege)
	b.fails("INSERT INTO t VALUES (1)", pgcode.InsufficientPrivilege)
	// bob may grant what g holds WITH GRANT OPTION, on nothing else.
	su.exec("CREATE ROLE carol LOGIN")
	b.exec("GRANT SELECT ON t TO carol")
	b.fails("GRANT INSERT ON t TO carol", pgcode.InsufficientPrivilege)
	// Revoking g's grant option needs CASCADE: bob granted through it.
	a = userSession(t, c, "alice")
	a.fails("REVOKE GRANT OPTION FOR SELECT ON t FROM g", pgcode.DependentObjectsStillExist)
	a.exec("REVOKE GRANT OPTION FOR SELECT ON t FROM g CASCADE")
	su.want("SELECT relacl FROM pg_class WHERE relname = 't'", "{alice=arwd/alice,g=r/alice}")
	// A view reads with its owner's rights, checked at each read.
	a.exec("GRANT SELECT ON v TO bob")
	b.want("SELECT count(*) FROM v", "0")
	su.exec("ALTER TABLE t OWNER TO bob")
	su.want("SELECT relacl FROM pg_class WHERE relname = 't'", "{bob=arwd/bob,g=r/bob}")
	b.fails("SELECT count(*) FROM v", pgcode.InsufficientPrivilege) // alice no longer reads t
	c = reopen(t, c)
	su = newTestSession(t, c)
	su.want("SELECT tableowner FROM pg_tables WHERE tablename = 't'", "bob")
}

func TestDropRoleDependencies(t *testing.T) {
	c := openTest(t, Config{})
	su := newTestSession(t, c)
	su.exec("CREATE ROLE alice LOGIN", "CREATE ROLE bob", "GRANT CREATE ON SCHEMA public TO alice")
	a := userSession(t, c, "alice")
	a.exec("CREATE TABLE t (x int)", "GRANT SELECT ON t TO bob")
	e := su.fails("DROP ROLE alice", pgcode.DependentObjectsStillExist)
	if e.Message != `role "alice" cannot be dropped because some objects depend on it` ||
		!strings.Contains(e.Detail, "owner of table public.t") || !strings.Contains(e.Detail, "privileges for schema public") {
		t.Fatalf("DROP ROLE alice: %s / %s", e.Message, e.Detail)
	}
	e = su.fails("DROP ROLE bob", pgcode.DependentObjectsStillExist)
	if !strings.Contains(e.Detail, "privileges for table public.t") {
		t.Fatalf("DROP ROLE bob: %s", e.Detail)
	}
	su.exec("REASSIGN OWNED BY alice TO viewd", "DROP OWNED BY alice", "DROP OWNED BY bob")
	su.want("SELECT tableowner, relacl FROM pg_tables JOIN pg_class ON relname = tablename WHERE tablename = 't'", "viewd {viewd=arwd/viewd}")
	su.exec("DROP ROLE bob")
	su.exec("DROP ROLE alice")
	if l, _ := c.LoginRole("alice"); l.Exists {
		t.Fatal("alice still logs in")
	}
	c = reopen(t, c)
	if l, _ := c.LoginRole("alice"); l.Exists {
		t.Fatal("alice is back after a restart")
	}
}

func TestBootstrapRoles(t *testing.T) {
	dir := t.TempDir()
	c := openTest(t, Config{DataDir: dir, SuperuserPassword: "boot", OSUser: "osuser"})
	su := newTestSession(t, c)
	if got := su.query("SELECT rolname || ' ' || rolsuper || ' ' || rolcanlogin FROM pg_roles"); strings.Join(got, ",") != "osuser true true,pg_signal_backend false false,viewd true true" {
		t.Fatalf("roles: %v", got)
	}
	l, _ := c.LoginRole("viewd")
	sec, err := wire.ParseSCRAMVerifier(l.Verifier)
	if err != nil {
		t.Fatalf("viewd's verifier %q", l.Verifier)
	}
	if v, _ := scramVerifier("boot", []byte(sec.Salt), sec.Iters); v != l.Verifier {
		t.Fatal("viewd's verifier does not check the bootstrap password")
	}
	userSession(t, c, "osuser").want("SELECT current_user, current_setting('is_superuser')", "osuser on")
	// Later starts keep the roles as they are.
	c.Close()
	c = openTest(t, Config{DataDir: dir, SuperuserPassword: "other", OSUser: "someone"})
	if l2, _ := c.LoginRole("viewd"); l2.Verifier != l.Verifier {
		t.Fatal("a restart changed viewd's password")
	}
	if l2, _ := c.LoginRole("someone"); l2.Exists {
		t.Fatal("a restart made a role for another OS user")
	}
	// Without a password, viewd has none.
	c2 := openTest(t, Config{})
	if l, _ := c2.LoginRole("viewd"); l.Verifier != "" || !l.Superuser {
		t.Fatalf("viewd without a password: %+v", l)
	}
}

func TestSignalBackendPrivilege(t *testing.T) {
	c := openTest(t, Config{})
	su := newTestSession(t, c)
	su.exec("CREATE ROLE alice LOGIN", "CREATE ROLE bob LOGIN", "CREATE ROLE ops LOGIN")
	a := userSession(t, c, "alice")
	a2 := userSession(t, c, "alice")
	b := userSession(t, c, "bob")
	ops := userSession(t, c, "ops")
	pid := func(s *testSession) string { return s.one("SELECT pg_backend_pid()") }
	a.want("SELECT pg_cancel_backend("+pid(a2)+")", "t")
	e := b.fails("SELECT pg_cancel_backend("+pid(a)+")", pgcode.InsufficientPrivilege)
	if e.Message != "must be a member of the role whose query is being canceled or member of pg_signal_backend" {
		t.Fatalf("message %q", e.Message)
	}
	b.fails("SELECT pg_terminate_backend("+pid(a)+")", pgcode.InsufficientPrivilege)
	if e := a.fails("SELECT pg_cancel_backend("+pid(su)+")", pgcode.InsufficientPrivilege); e.Message != "must be a superuser to cancel superuser query" {
		t.Fatalf("message %q", e.Message)
	}
	su.exec("GRANT pg_signal_backend TO ops")
	ops.want("SELECT pg_cancel_backend("+pid(b)+")", "t")
	su.want("SELECT pg_cancel_backend("+pid(a)+")", "t")
	su.want("SELECT usename FROM pg_stat_activity WHERE pid = "+pid(ops), "ops")
}

func TestVerifierFormat(t *testing.T) {
	// RFC 7677's example salt and password, the keys derived as RFC 5802
	// defines them, with the standard library.
	salt, _ := base64.StdEncoding.DecodeString("W22ZaJ0SNY7soEsUEjb6gQ==")
	v, err := scramVerifier("pencil", salt, 4096)
	if err != nil {
		t.Fatal(err)
	}
	salted, err := pbkdf2.Key(sha256.New, "pencil", salt, 4096, 32)
	if err != nil {
		t.Fatal(err)
	}
	mac := func(key []byte, msg string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(msg))
		return h.Sum(nil)
	}
	stored := sha256.Sum256(mac(salted, "Client Key"))
	b64 := base64.StdEncoding.EncodeToString
	want := "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$" + b64(stored[:]) + ":" + b64(mac(salted, "Server Key"))
	if v != want {
		t.Fatalf("verifier %s, want %s", v, want)
	}
	for _, bad := range []string{"SCRAM-SHA-256$x:abc$def:ghi", "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$short:short", "md5abc"} {
		if _, err := wire.ParseSCRAMVerifier(bad); err == nil {
			t.Errorf("ParseSCRAMVerifier(%q) accepted it", bad)
		}
	}
	if _, err := passwordVerifier("md5" + strings.Repeat("a", 32)); pgcode.Of(err) != pgcode.FeatureNotSupported {
		t.Errorf("an MD5 hash: %v", err)
	}
}

// TestCachedLookupPrivileges: a prepared point read answered from its
// cached lookup plan is checked like any read, for the role running it
// now and the grants of now.
func TestCachedLookupPrivileges(t *testing.T) {
	c := openTest(t, Config{})
	su := newTestSession(t, c)
	su.exec("CREATE ROLE alice LOGIN", "CREATE TABLE kv (k int PRIMARY KEY, v int)", "INSERT INTO kv VALUES (1, 10)",
		"GRANT SELECT ON kv TO alice")
	a := userSession(t, c, "alice")
	ctx := context.Background()
	st, err := a.s.Prepare(ctx, "SELECT v FROM kv WHERE k = $1", nil)
	if err != nil {
		t.Fatal(err)
	}
	read := func() error {
		_, _, err := a.runPrepared(ctx, st, []repr.Datum{repr.Int4Datum(1)})
		return err
	}
	for i := 0; i < 2; i++ {
		if err := read(); err != nil {
			t.Fatalf("read %d as alice: %v", i, err)
		}
	}
	if tmpl := st.(*statement).template; tmpl == nil || tmpl.none {
		t.Fatal("the point read was not cached as a lookup")
	}
	su.exec("REVOKE SELECT ON kv FROM alice")
	if err := read(); errCode(err) != string(pgcode.InsufficientPrivilege) {
		t.Fatalf("after REVOKE: %v", err)
	}
	su.exec("GRANT SELECT ON kv TO alice")
	if err := read(); err != nil {
		t.Fatalf("after GRANT: %v", err)
	}
	su.exec("CREATE ROLE nobody", "GRANT nobody TO alice")
	a.exec("SET ROLE nobody")
	if err := read(); errCode(err) != string(pgcode.InsufficientPrivilege) {
		t.Fatalf("after SET ROLE: %v", err)
	}
}

// TestRolesSurviveCompaction: roles, owners and grants are catalog
// records, which a compaction of the log writes back.
func TestRolesSurviveCompaction(t *testing.T) {
	cfg := Config{DataDir: t.TempDir(), CompactLogBytes: 1, CompactSnapshotRatio: -1}
	c := openTest(t, cfg)
	su := newTestSession(t, c)
	su.exec("CREATE ROLE alice LOGIN PASSWORD 'pw'", "CREATE ROLE g", "GRANT g TO alice", "GRANT CREATE ON SCHEMA public TO alice")
	a := userSession(t, c, "alice")
	a.exec("CREATE TABLE t (x int)", "GRANT SELECT ON t TO g", "INSERT INTO t VALUES (1)")
	before, _ := c.LoginRole("alice")
	waitCompacted(t, c)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c = openTest(t, cfg)
	if after, _ := c.LoginRole("alice"); after != before {
		t.Fatalf("alice after compaction and restart %+v, before %+v", after, before)
	}
	su = newTestSession(t, c)
	su.want("SELECT tableowner, relacl::text FROM pg_tables JOIN pg_class ON relname = tablename WHERE tablename = 't'", "alice {alice=arwd/alice,g=r/alice}")
	su.want("SELECT nspacl::text FROM pg_namespace WHERE nspname = 'public'", "{viewd=UC/viewd,=U/viewd,alice=C/viewd}")
	su.want("SELECT pg_has_role('alice', 'g', 'USAGE')", "t")
}

// BenchmarkPointReadAsRole measures a prepared point read (a cached
// lookup) as the superuser, whose statements skip the privilege check,
// and as a role granted SELECT through a group, whose statements are
// checked (membership walk, ACL scan) under the coordinator's lock.
func BenchmarkPointReadAsRole(b *testing.B) {
	c := openTest(b, Config{})
	su := newTestSession(b, c)
	su.exec("CREATE TABLE kv (k int PRIMARY KEY, v int)", "INSERT INTO kv SELECT g, g FROM generate_series(1, 1000) g",
		"CREATE ROLE readers", "CREATE ROLE alice LOGIN", "GRANT readers TO alice", "GRANT SELECT ON kv TO readers")
	for _, user := range []string{"viewd", "alice"} {
		b.Run(user, func(b *testing.B) {
			s := userSession(b, c, user)
			ctx := context.Background()
			st, err := s.s.Prepare(ctx, "SELECT v FROM kv WHERE k = $1", nil)
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, _, err := s.runPrepared(ctx, st, []repr.Datum{repr.Int4Datum(int32(i%1000 + 1))}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestGrantForms covers the other forms of GRANT and of role creation.
func TestGrantForms(t *testing.T) {
	c := openTest(t, Config{})
	su := newTestSession(t, c)
	su.exec("CREATE ROLE team", "CREATE ROLE alice LOGIN IN ROLE team", "CREATE ROLE lead LOGIN", "CREATE ROLE grp ROLE alice ADMIN lead",
		"GRANT team TO lead WITH ADMIN OPTION",
		"CREATE SCHEMA AUTHORIZATION team", "CREATE SCHEMA s AUTHORIZATION alice",
		"CREATE TABLE team.a (x int)", "CREATE TABLE team.b (x int)", "CREATE VIEW team.c AS SELECT * FROM team.a")
	su.want("SELECT string_agg(nspname || ':' || pg_get_userbyid(nspowner), ',' ORDER BY nspname) FROM pg_namespace WHERE nspname IN ('team', 's')", "s:alice,team:team")
	// alice is a member of team (IN ROLE) and of grp (ROLE); lead of grp
	// with ADMIN OPTION (ADMIN).
	su.want("SELECT pg_has_role('alice', 'team', 'MEMBER'), pg_has_role('alice', 'grp', 'MEMBER'), pg_has_role('grp', 'alice', 'MEMBER')", "t t f")
	su.want("SELECT admin_option FROM pg_auth_members WHERE roleid = (SELECT oid FROM pg_roles WHERE rolname = 'grp') AND member = (SELECT oid FROM pg_roles WHERE rolname = 'lead')", "t")
	lead := userSession(t, c, "lead")
	// ADMIN OPTION lets lead grant team and grp, not alice.
	su.exec("CREATE ROLE bob LOGIN")
	lead.exec("GRANT team TO bob", "GRANT grp TO bob", "REVOKE grp FROM bob")
	lead.fails("GRANT alice TO bob", pgcode.InsufficientPrivilege)

	// ON ALL TABLES IN SCHEMA covers tables and views; USAGE on the schema
	// is still needed.
	su.exec("GRANT SELECT ON ALL TABLES IN SCHEMA team TO bob")
	b := userSession(t, c, "bob")
	su.exec("REVOKE team FROM bob")
	b.fails("SELECT * FROM team.c", pgcode.InsufficientPrivilege) // no USAGE on team
	su.exec("GRANT USAGE ON SCHEMA team TO bob")
	b.exec("SELECT * FROM team.a", "SELECT * FROM team.b", "SELECT * FROM team.c")
	b.fails("INSERT INTO team.a VALUES (1)", pgcode.InsufficientPrivilege)
	// EXPLAIN is checked like the statement it explains.
	b.exec("EXPLAIN SELECT * FROM team.a")
	su.exec("REVOKE ALL ON ALL TABLES IN SCHEMA team FROM bob")
	b.fails("EXPLAIN SELECT * FROM team.a", pgcode.InsufficientPrivilege)
	b.fails("EXPLAIN CREATE MATERIALIZED VIEW m AS SELECT * FROM team.a", pgcode.InsufficientPrivilege)
	// CREATE SCHEMA AUTHORIZATION needs to be able to become the owner.
	su.exec("ALTER ROLE bob CREATEDB")
	b.fails("CREATE SCHEMA x AUTHORIZATION alice", pgcode.InsufficientPrivilege)
	b.exec("CREATE SCHEMA AUTHORIZATION bob")
	c = reopen(t, c)
	su = newTestSession(t, c)
	su.want("SELECT string_agg(nspname || ':' || pg_get_userbyid(nspowner), ',' ORDER BY nspname) FROM pg_namespace WHERE nspname IN ('team', 's', 'bob')", "bob:bob,s:alice,team:team")
}

func TestDefaultPrivileges(t *testing.T) {
	c := openTest(t, Config{})
	su := newTestSession(t, c)
	su.exec("CREATE ROLE alice LOGIN CREATEDB", "CREATE ROLE bob LOGIN", "CREATE ROLE carol LOGIN", "GRANT CREATE ON SCHEMA public TO alice")
	a := userSession(t, c, "alice")
	a.exec("ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO bob",
		"CREATE SCHEMA s", "ALTER DEFAULT PRIVILEGES IN SCHEMA s GRANT INSERT ON TABLES TO carol",
		"ALTER DEFAULT PRIVILEGES GRANT USAGE ON SCHEMAS TO PUBLIC")
	a.fails("ALTER DEFAULT PRIVILEGES FOR ROLE bob GRANT SELECT ON TABLES TO alice", pgcode.InsufficientPrivilege)
	a.fails("ALTER DEFAULT PRIVILEGES IN SCHEMA s GRANT USAGE ON SCHEMAS TO bob", pgcode.InvalidGrantOperation)
	a.exec("CREATE TABLE t (x int)", "CREATE VIEW v AS SELECT * FROM t", "CREATE TABLE s.u (x int)", "CREATE SCHEMA s2")
	su.want("SELECT string_agg(relname || ':' || coalesce(relacl::text, '-'), ' ' ORDER BY relname) FROM pg_class WHERE relname IN ('t', 'v', 'u')",
		"t:{alice=arwd/alice,bob=r/alice} u:{alice=arwd/alice,bob=r/alice,carol=a/alice} v:{alice=r/alice,bob=r/alice}")
	su.want("SELECT nspacl::text FROM pg_namespace WHERE nspname = 's2'", "{alice=UC/alice,=U/alice}")
	su.want("SELECT count(*) FROM pg_default_acl", "3")
	// Objects of others, and those made before, are not affected.
	su.exec("CREATE TABLE other (x int)")
	su.want("SELECT relacl IS NULL FROM pg_class WHERE relname = 'other'", "t")
	userSession(t, c, "bob").want("SELECT count(*) FROM t", "0")
	e := su.fails("DROP ROLE bob", pgcode.DependentObjectsStillExist)
	if !strings.Contains(e.Detail, "privileges for default privileges on new relations belonging to role alice") {
		t.Fatalf("detail: %s", e.Detail)
	}
	// Durable, and revocable.
	c = reopen(t, c)
	a = userSession(t, c, "alice")
	a.exec("ALTER DEFAULT PRIVILEGES REVOKE SELECT ON TABLES FROM bob", "CREATE TABLE t2 (x int)")
	su = newTestSession(t, c)
	su.want("SELECT relacl IS NULL FROM pg_class WHERE relname = 't2'", "t")
	su.want("SELECT count(*) FROM pg_default_acl", "2")
	su.exec("DROP OWNED BY alice CASCADE")
	su.want("SELECT count(*) FROM pg_default_acl", "0")
}

// TestReplaceViewKeepsPrivileges: CREATE OR REPLACE VIEW keeps the view's
// owner and grants (a member of the owning role may replace it), and a
// replacement the role may not read leaves the old view in place.
func TestReplaceViewKeepsPrivileges(t *testing.T) {
	c := openTest(t, Config{})
	su := newTestSession(t, c)
	su.exec("CREATE ROLE owner", "CREATE ROLE alice LOGIN IN ROLE owner", "CREATE ROLE bob LOGIN",
		"CREATE TABLE t (x int)", "CREATE TABLE secret (x int)", "GRANT SELECT ON t TO owner", "GRANT CREATE ON SCHEMA public TO owner")
	a := userSession(t, c, "alice")
	a.exec("SET ROLE owner", "CREATE VIEW v AS SELECT x FROM t", "GRANT SELECT ON v TO bob", "RESET ROLE")
	a.exec("CREATE OR REPLACE VIEW v AS SELECT x + 1 AS x FROM t")
	a.fails("CREATE OR REPLACE VIEW v AS SELECT x FROM secret", pgcode.InsufficientPrivilege)
	want := "owner {owner=r/owner,bob=r/owner}"
	q := "SELECT viewowner, relacl::text FROM pg_views JOIN pg_class ON relname = viewname WHERE viewname = 'v'"
	su.want(q, want)
	c = reopen(t, c)
	su = newTestSession(t, c)
	su.want(q, want)
	userSession(t, c, "bob").want("SELECT count(*) FROM v", "0")
}

// TestSecretPrivileges: a secret is an ordinary item for privileges: a
// connection may name it only with USAGE on it, and its value is never
// shown.
func TestSecretPrivileges(t *testing.T) {
	c := openTest(t, Config{})
	su := newTestSession(t, c)
	su.exec("CREATE ROLE alice LOGIN", "GRANT CREATE ON SCHEMA public TO alice",
		"CREATE SECRET pgpass AS 'hunter2'")
	a := userSession(t, c, "alice")
	conn := "CREATE CONNECTION pg TO POSTGRES (HOST '127.0.0.1', PORT 1, USER 'u', PASSWORD SECRET pgpass, DATABASE 'd')"
	if e := a.fails(conn, pgcode.InsufficientPrivilege); e.Message != "permission denied for secret pgpass" {
		t.Fatalf("message %q", e.Message)
	}
	a.fails("DROP SECRET pgpass", pgcode.InsufficientPrivilege)
	su.exec("GRANT USAGE ON SECRET pgpass TO alice")
	a.exec(conn)
	a.want("SHOW SECRETS", "pgpass")
	if got := su.one("SHOW CREATE SECRET pgpass"); strings.Contains(got, "hunter2") {
		t.Fatalf("SHOW CREATE SECRET shows the value: %q", got)
	}
}
