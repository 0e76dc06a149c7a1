package wire

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/viewd/viewd/internal/testenv"
	"github.com/viewd/viewd/pgcode"
	"github.com/xdg-go/scram"
)

// pgVerifier is the verifier PostgreSQL 15.18 stored for password
// "correct horse" (CREATE ROLE alice LOGIN PASSWORD 'correct horse';
// SELECT rolpassword FROM pg_authid): authenticating against it shows
// that the text form is read as PostgreSQL writes it.
const pgVerifier = "SCRAM-SHA-256$4096:7Tkfzi3ORJbPj0IlrqxSrw==$ZASxUVsl25tY7KglCRTdD5FeI3dlp9yraT3oyH8/NQs=:7E0SAVxf6t72nMp/nivqbUGvqtqYQModSeW9hSLcAhc="

// fakeAuth is an Authenticator over a fixed set of roles; the role
// "broken" makes the lookup fail.
type fakeAuth struct {
	roles   map[string]LoginInfo
	lookups atomic.Int32
}

func (a *fakeAuth) LookupLogin(ctx context.Context, user string) (LoginInfo, error) {
	a.lookups.Add(1)
	if user == "broken" {
		return LoginInfo{}, pgcode.New(pgcode.InternalError, "catalog unavailable")
	}
	return a.roles[user], nil
}

// makeVerifier derives a verifier for password the way a client would
// (xdg-go/scram's client side, PBKDF2 with a random salt).
func makeVerifier(t testing.TB, password string) string {
	t.Helper()
	cl, err := scram.SHA256.NewClient("", password, "")
	if err != nil {
		t.Fatal(err)
	}
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	creds, err := cl.GetStoredCredentialsWithError(scram.KeyFactors{Salt: string(salt), Iters: 4096})
	if err != nil {
		t.Fatal(err)
	}
	return FormatSCRAMVerifier(creds)
}

func testRoles(t testing.TB) *fakeAuth {
	return &fakeAuth{roles: map[string]LoginInfo{
		"alice":   {Exists: true, CanLogin: true, Superuser: true, Verifier: pgVerifier},
		"bob":     {Exists: true, CanLogin: true, Verifier: makeVerifier(t, "bob's, pw=")},
		"nopass":  {Exists: true, CanLogin: true},
		"nologin": {Exists: true, Verifier: makeVerifier(t, "pw")},
		"garbled": {Exists: true, CanLogin: true, Verifier: "SCRAM-SHA-256$4096:bm90$bad"},
	}}
}

// testTLS returns a server TLS configuration with a fresh self-signed
// certificate, and the certificate's file for sslrootcert.
func testTLS(t testing.TB) (*tls.Config, string) {
	t.Helper()
	certPEM, keyPEM, err := SelfSignedCertificate(time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "root.crt")
	if err := os.WriteFile(file, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{pair}}, file
}

func authServer(t *testing.T, opts ...Option) string {
	t.Helper()
	addr, stop := startServer(t, newFakeBackend(), opts...)
	t.Cleanup(stop)
	return addr
}

// dialPg connects with a libpq-style connection string and closes the
// connection at test end.
func dialPg(t *testing.T, connStr string) (*pgx.Conn, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, connStr)
	if err == nil {
		t.Cleanup(func() { conn.Close(context.Background()) })
	}
	return conn, err
}

func wantConnError(t *testing.T, err error, code, msg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("connected; want %s %q", code, msg)
	}
	pe := pgErr(t, err)
	if pe.Severity != "FATAL" || pe.Code != code || pe.Message != msg {
		t.Errorf("got %s %s %q, want FATAL %s %q", pe.Severity, pe.Code, pe.Message, code, msg)
	}
}

func dsn(addr, user, password, extra string) string {
	host, port, _ := net.SplitHostPort(addr)
	s := fmt.Sprintf("host=%s port=%s user=%s dbname=db connect_timeout=5", host, port, user)
	if password != "" {
		s += " password='" + strings.ReplaceAll(password, "'", `\'`) + "'"
	}
	return s + " " + extra
}

func TestPasswordAuthentication(t *testing.T) {
	addr := authServer(t, WithAuth(AuthPassword, testRoles(t)))
	conn, err := dialPg(t, dsn(addr, "alice", "correct horse", "sslmode=disable"))
	if err != nil {
		t.Fatalf("alice with the right password: %v", err)
	}
	if got := conn.PgConn().ParameterStatus("is_superuser"); got != "on" {
		t.Errorf("alice is_superuser = %q", got)
	}
	var n int64
	if err := conn.QueryRow(testCtx(t), "gen 1").Scan(&n, new(string)); err != nil || n != 1 {
		t.Errorf("query after login: %v", err)
	}
	conn, err = dialPg(t, dsn(addr, "bob", "bob's, pw=", "sslmode=disable"))
	if err != nil {
		t.Fatalf("bob with the right password: %v", err)
	}
	if got := conn.PgConn().ParameterStatus("is_superuser"); got != "off" {
		t.Errorf("bob is_superuser = %q", got)
	}

	fails := []struct{ user, password, code, msg string }{
		{"alice", "wrong", "28P01", `password authentication failed for user "alice"`},
		{"alice", "correct horse ", "28P01", `password authentication failed for user "alice"`},
		// Unknown roles and roles without a password fail like a wrong
		// password: PostgreSQL does not reveal which.
		{"mallory", "correct horse", "28P01", `password authentication failed for user "mallory"`},
		{"nopass", "", "28P01", `password authentication failed for user "nopass"`},
		{"nopass", "anything", "28P01", `password authentication failed for user "nopass"`},
		{"garbled", "x", "28P01", `password authentication failed for user "garbled"`},
		// LOGIN is checked after the password, as in PostgreSQL.
		{"nologin", "pw", "28000", `role "nologin" is not permitted to log in`},
		{"nologin", "wrong", "28P01", `password authentication failed for user "nologin"`},
		{"broken", "x", "XX000", "catalog unavailable"},
	}
	for _, f := range fails {
		_, err := dialPg(t, dsn(addr, f.user, f.password, "sslmode=disable"))
		wantConnError(t, err, f.code, f.msg)
	}
}

// TestMockSaltIsStable: an unknown role is shown the same salt each
// time, so that probing does not tell it from a real one.
func TestMockSaltIsStable(t *testing.T) {
	addr := authServer(t, WithAuth(AuthPassword, testRoles(t)))
	first := func(user string) string {
		f := dialFrontend(t, addr)
		f.send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: map[string]string{"user": user}})
		m := f.recv()
		if sasl, ok := m.(*pgproto3.AuthenticationSASL); !ok || strings.Join(sasl.AuthMechanisms, ",") != "SCRAM-SHA-256" {
			t.Fatalf("want AuthenticationSASL SCRAM-SHA-256 in the clear, got %#v", m)
		}
		f.send(&pgproto3.SASLInitialResponse{AuthMechanism: "SCRAM-SHA-256", Data: []byte("n,,n=,r=abcdefghijkl")})
		cont, ok := f.recv().(*pgproto3.AuthenticationSASLContinue)
		if !ok {
			t.Fatalf("no SASLContinue for %s", user)
		}
		_, rest, _ := strings.Cut(string(cont.Data), ",s=")
		return rest // salt and iterations
	}
	if a, b := first("mallory"), first("mallory"); a != b || !strings.HasSuffix(a, ",i=4096") {
		t.Errorf("mock salt for one user changed: %q then %q", a, b)
	}
	if a, b := first("mallory"), first("trudy"); a == b {
		t.Errorf("two unknown users got the same salt %q", a)
	}
}

func TestTrustAuthentication(t *testing.T) {
	roles := testRoles(t)
	addr := authServer(t, WithAuth(AuthTrust, roles))
	for _, user := range []string{"nopass", "bob"} {
		conn, err := dialPg(t, dsn(addr, user, "", "sslmode=disable"))
		if err != nil {
			t.Fatalf("trust %s: %v", user, err)
		}
		if got := conn.PgConn().ParameterStatus("is_superuser"); got != "off" {
			t.Errorf("%s is_superuser = %q", user, got)
		}
	}
	_, err := dialPg(t, dsn(addr, "mallory", "", "sslmode=disable"))
	wantConnError(t, err, "28000", `role "mallory" does not exist`)
	_, err = dialPg(t, dsn(addr, "nologin", "", "sslmode=disable"))
	wantConnError(t, err, "28000", `role "nologin" is not permitted to log in`)
	if roles.lookups.Load() != 4 {
		t.Errorf("%d lookups, want 4", roles.lookups.Load())
	}
	// Without an Authenticator, trust takes any user (as before roles).
	addr = authServer(t)
	conn, err := dialPg(t, dsn(addr, "anyone", "", "sslmode=disable"))
	if err != nil {
		t.Fatal(err)
	}
	if got := conn.PgConn().ParameterStatus("is_superuser"); got != "on" {
		t.Errorf("is_superuser = %q", got)
	}
}

func isTLS(conn *pgx.Conn) bool {
	_, ok := conn.PgConn().Conn().(*tls.Conn)
	return ok
}

func TestTLSAndChannelBinding(t *testing.T) {
	cfg, rootCert := testTLS(t)
	addr := authServer(t, WithAuth(AuthPassword, testRoles(t)), WithTLS(cfg, TLSAllow))
	_, port, _ := net.SplitHostPort(addr)
	cases := []struct {
		extra string
		tls   bool
	}{
		{"sslmode=disable", false},
		{"sslmode=prefer", true},
		{"sslmode=require", true},
		{"sslmode=verify-full sslrootcert=" + rootCert, true},
		{"sslmode=require channel_binding=require", true},
		{"sslmode=require channel_binding=disable", true},
		{"sslmode=require sslnegotiation=direct", true},
	}
	for _, c := range cases {
		conn, err := dialPg(t, dsn(addr, "alice", "correct horse", c.extra))
		if err != nil {
			t.Errorf("%s: %v", c.extra, err)
			continue
		}
		if isTLS(conn) != c.tls {
			t.Errorf("%s: TLS %v, want %v", c.extra, isTLS(conn), c.tls)
		}
	}
	// verify-full checks the name: the certificate names localhost,
	// 127.0.0.1 and ::1.
	if _, err := dialPg(t, fmt.Sprintf("host=localhost port=%s user=alice password='correct horse' sslmode=verify-full sslrootcert=%s", port, rootCert)); err != nil {
		t.Errorf("verify-full with host localhost: %v", err)
	}
	// A certificate the client does not trust is refused by the client.
	_, otherRoot := testTLS(t)
	if _, err := dialPg(t, dsn(addr, "alice", "correct horse", "sslmode=verify-full sslrootcert="+otherRoot)); err == nil {
		t.Error("verify-full accepted a certificate from another root")
	}
	_, err := dialPg(t, dsn(addr, "alice", "wrong", "sslmode=require channel_binding=require"))
	wantConnError(t, err, "28P01", `password authentication failed for user "alice"`)
}

// tlsFrontend negotiates TLS with an SSLRequest and returns a protocol
// client over it.
func tlsFrontend(t *testing.T, addr string) *frontend {
	t.Helper()
	f := dialFrontend(t, addr)
	f.send(&pgproto3.SSLRequest{})
	var b [1]byte
	if _, err := f.nc.Read(b[:]); err != nil || b[0] != 'S' {
		t.Fatalf("SSLRequest answered %q %v", b, err)
	}
	tc := tls.Client(f.nc, &tls.Config{InsecureSkipVerify: true})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	return &frontend{t: t, nc: tc, fe: pgproto3.NewFrontend(tc, tc)}
}

func (f *frontend) recv() pgproto3.BackendMessage {
	f.t.Helper()
	m, err := f.fe.Receive()
	if err != nil {
		f.t.Fatal(err)
	}
	return m
}

// scramAs runs a SCRAM exchange by hand with conv, naming mech, and
// returns the server's last message.
func scramAs(t *testing.T, f *frontend, user, mech string, conv *scram.ClientConversation) pgproto3.BackendMessage {
	t.Helper()
	f.send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: map[string]string{"user": user}})
	if _, ok := f.recv().(*pgproto3.AuthenticationSASL); !ok {
		t.Fatal("no AuthenticationSASL")
	}
	c1, err := conv.Step("")
	if err != nil {
		t.Fatal(err)
	}
	f.send(&pgproto3.SASLInitialResponse{AuthMechanism: mech, Data: []byte(c1)})
	m := f.recv()
	cont, ok := m.(*pgproto3.AuthenticationSASLContinue)
	if !ok {
		return m
	}
	c2, err := conv.Step(string(cont.Data))
	if err != nil {
		t.Fatal(err)
	}
	f.send(&pgproto3.SASLResponse{Data: []byte(c2)})
	return f.recv()
}

// TestChannelBindingChecked: the server compares the client's binding
// data with its certificate's, and holds the mechanism to the GS2 flag.
func TestChannelBindingChecked(t *testing.T) {
	cfg, _ := testTLS(t)
	addr := authServer(t, WithAuth(AuthPassword, testRoles(t)), WithTLS(cfg, TLSAllow))
	client, err := scram.SHA256.NewClient("", "correct horse", "")
	if err != nil {
		t.Fatal(err)
	}
	wantErr := func(m pgproto3.BackendMessage, code, msg string) {
		t.Helper()
		e, ok := m.(*pgproto3.ErrorResponse)
		if !ok || e.Severity != "FATAL" || e.Code != code || e.Message != msg {
			t.Errorf("got %#v, want FATAL %s %q", m, code, msg)
		}
	}
	// The right binding data: the hash of the certificate the server sent.
	f := tlsFrontend(t, addr)
	cb, err := endpointHash(f.nc.(*tls.Conn).ConnectionState().PeerCertificates[0].Raw)
	if err != nil {
		t.Fatal(err)
	}
	good := scram.ChannelBinding{Type: scram.ChannelBindingTLSServerEndpoint, Data: cb}
	if m := scramAs(t, f, "alice", "SCRAM-SHA-256-PLUS", client.NewConversationWithChannelBinding(good)); func() bool { _, ok := m.(*pgproto3.AuthenticationSASLFinal); return !ok }() {
		t.Errorf("right channel binding: %#v", m)
	}
	// Data of another certificate (a man in the middle's).
	f = tlsFrontend(t, addr)
	bad := scram.ChannelBinding{Type: scram.ChannelBindingTLSServerEndpoint, Data: make([]byte, len(cb))}
	wantErr(scramAs(t, f, "alice", "SCRAM-SHA-256-PLUS", client.NewConversationWithChannelBinding(bad)), "08P01", "SCRAM channel binding check failed")
	// PLUS without binding data, and binding data under the plain name.
	f = tlsFrontend(t, addr)
	wantErr(scramAs(t, f, "alice", "SCRAM-SHA-256-PLUS", client.NewConversation()), "08P01", "malformed SCRAM message")
	f = tlsFrontend(t, addr)
	wantErr(scramAs(t, f, "alice", "SCRAM-SHA-256", client.NewConversationWithChannelBinding(good)), "08P01", "malformed SCRAM message")
	// A client that supports binding but believes the server does not
	// ("y") is told of the downgrade.
	f = tlsFrontend(t, addr)
	wantErr(scramAs(t, f, "alice", "SCRAM-SHA-256", client.NewConversationAdvertisingChannelBinding()), "08P01", "SCRAM channel binding negotiation error")
	// In the clear, PLUS is not offered and cannot be chosen.
	f = dialFrontend(t, addr)
	wantErr(scramAs(t, f, "alice", "SCRAM-SHA-256-PLUS", client.NewConversationWithChannelBinding(good)), "08P01", "client selected an invalid SASL authentication mechanism")
}

func TestTLSRequire(t *testing.T) {
	cfg, _ := testTLS(t)
	b := newFakeBackend()
	addr, stop := startServer(t, b, WithAuth(AuthTrust, testRoles(t)), WithTLS(cfg, TLSRequire))
	t.Cleanup(stop)
	_, err := dialPg(t, dsn(addr, "bob", "", "sslmode=disable"))
	wantConnError(t, err, "28000", `SSL required: connection for host "127.0.0.1", user "bob", database "db" refused, no encryption`)
	conn, err := dialPg(t, dsn(addr, "bob", "", "sslmode=require"))
	if err != nil || !isTLS(conn) {
		t.Fatalf("sslmode=require: %v", err)
	}
	// pgx sends its CancelRequest over TLS (SSLRequest first) ...
	ctx := testCtx(t)
	wantCancelled(t, ctx, conn, func() { _ = conn.PgConn().CancelRequest(ctx) })
	// ... and one in the clear works too: PostgreSQL also takes it before
	// any encryption check.
	pid, key := conn.PgConn().PID(), conn.PgConn().SecretKey()
	wantCancelled(t, ctx, conn, func() {
		nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Error(err)
			return
		}
		defer nc.Close()
		buf, _ := (&pgproto3.CancelRequest{ProcessID: pid, SecretKey: key}).Encode(nil)
		_, _ = nc.Write(buf)
		_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, _ = nc.Read(make([]byte, 1)) // the server closes once it has cancelled
	})
}

// wantCancelled runs the fake backend's "sleep" on conn, calls cancel
// 50ms in and checks that the statement fails with 57014.
func wantCancelled(t *testing.T, ctx context.Context, conn *pgx.Conn, cancel func()) {
	t.Helper()
	go func() {
		time.Sleep(50 * time.Millisecond)
		cancel()
	}()
	_, err := conn.PgConn().Exec(ctx, "sleep").ReadAll()
	if pe := pgErr(t, err); pe.Code != "57014" {
		t.Errorf("cancelled sleep: %+v", pe)
	}
}

func TestTLSDisabled(t *testing.T) {
	addr := authServer(t, WithAuth(AuthTrust, testRoles(t)))
	if _, err := dialPg(t, dsn(addr, "bob", "", "sslmode=require")); err == nil || !strings.Contains(err.Error(), "server refused TLS") {
		t.Errorf("sslmode=require against a server without TLS: %v", err)
	}
	if _, err := dialPg(t, dsn(addr, "bob", "", "sslmode=prefer")); err != nil {
		t.Errorf("sslmode=prefer falls back to the clear: %v", err)
	}
	// A direct TLS handshake is closed at once.
	nc, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"postgresql"}})
	if err == nil {
		nc.Close()
		t.Error("direct TLS handshake succeeded with TLS disabled")
	}
}

// TestTLSHandshakeEdges: direct TLS must name ALPN "postgresql";
// plaintext sent right after an SSLRequest is never taken as part of the
// session (CVE-2021-23214).
func TestTLSHandshakeEdges(t *testing.T) {
	cfg, _ := testTLS(t)
	addr := authServer(t, WithTLS(cfg, TLSAllow))
	nc, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	fe := pgproto3.NewFrontend(nc, nc)
	fe.Send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: map[string]string{"user": "bob"}})
	_ = fe.Flush()
	if m, err := fe.Receive(); err == nil {
		t.Errorf("direct TLS without ALPN answered %#v", m)
	}

	f := dialFrontend(t, addr)
	ssl, _ := (&pgproto3.SSLRequest{}).Encode(nil)
	start, _ := (&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: map[string]string{"user": "bob"}}).Encode(nil)
	if _, err := f.nc.Write(append(ssl, start...)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1)
	if _, err := f.nc.Read(buf); err != nil || buf[0] != 'S' {
		t.Fatalf("SSLRequest answered %q %v", buf, err)
	}
	// The server now expects a ClientHello; the injected StartupMessage is
	// not one, so the handshake fails and nothing else comes back.
	rest := make([]byte, 64)
	n, _ := f.nc.Read(rest)
	if strings.Contains(string(rest[:n]), "AuthenticationOk") || (n > 0 && rest[0] == 'R') {
		t.Errorf("server answered injected plaintext: %q", rest[:n])
	}
}

// TestCancelRequestNeedsKey: a CancelRequest cancels only with the
// session's process ID and secret key both right.
func TestCancelRequestNeedsKey(t *testing.T) {
	_, addr, _ := testServer(t)
	conn := connect(t, addr, pgx.QueryExecModeCacheStatement)
	pid, key := conn.PgConn().PID(), conn.PgConn().SecretKey()
	other := connect(t, addr, pgx.QueryExecModeCacheStatement)
	if bytesEqual(key, other.PgConn().SecretKey()) && pid != other.PgConn().PID() {
		t.Errorf("two sessions share the secret key %x", key)
	}
	done := make(chan error, 1)
	go func() {
		_, err := conn.PgConn().Exec(context.Background(), "sleep").ReadAll()
		done <- err
	}()
	cancelWith := func(pid uint32, key []byte) {
		f := dialFrontend(t, addr)
		f.send(&pgproto3.CancelRequest{ProcessID: pid, SecretKey: key})
		// The server closes the connection without a reply.
		if _, err := f.nc.Read(make([]byte, 1)); err == nil {
			t.Error("cancel connection answered")
		}
	}
	time.Sleep(50 * time.Millisecond)
	wrong := append([]byte(nil), key...)
	wrong[0] ^= 1
	cancelWith(pid, wrong)
	cancelWith(pid^1, key)
	cancelWith(other.PgConn().PID(), other.PgConn().SecretKey())
	select {
	case err := <-done:
		t.Fatalf("statement ended by a CancelRequest with a wrong key: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	cancelWith(pid, key)
	select {
	case err := <-done:
		if pe := pgErr(t, err); pe.Code != "57014" {
			t.Errorf("cancelled: %+v", pe)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the right key did not cancel the statement")
	}
	var n int64
	if err := other.QueryRow(testCtx(t), "gen 1").Scan(&n, new(string)); err != nil {
		t.Errorf("other session after a cancel aimed at it with no statement: %v", err)
	}
}

func bytesEqual(a, b []byte) bool { return string(a) == string(b) }

func TestServeRefusesContradictions(t *testing.T) {
	for name, opts := range map[string][]Option{
		"password without authenticator": {WithAuth(AuthPassword, nil)},
		"require without certificate":    {WithTLS(nil, TLSRequire)},
		"allow with an empty config":     {WithTLS(&tls.Config{}, TLSAllow)},
	} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = NewServer(newFakeBackend(), nil, opts...).Serve(ctx, ln)
		cancel()
		if err == nil {
			t.Errorf("%s: Serve accepted", name)
		}
		if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
			t.Errorf("%s: listener left open", name)
		}
	}
}

func TestParseSCRAMVerifier(t *testing.T) {
	c, err := ParseSCRAMVerifier(pgVerifier)
	if err != nil {
		t.Fatal(err)
	}
	if c.Iters != 4096 || len(c.Salt) != 16 || len(c.StoredKey) != 32 || len(c.ServerKey) != 32 {
		t.Errorf("parsed %+v", c)
	}
	if got := FormatSCRAMVerifier(c); got != pgVerifier {
		t.Errorf("round trip %q", got)
	}
	for _, bad := range []string{
		"", "md5abc", "SCRAM-SHA-256$", "SCRAM-SHA-256$4096:c2FsdA==",
		"SCRAM-SHA-256$x:c2FsdA==$a:b", "SCRAM-SHA-256$0:c2FsdA==$a:b",
		"SCRAM-SHA-256$4096:!!$ZASxUVsl25tY7KglCRTdD5FeI3dlp9yraT3oyH8/NQs=:7E0SAVxf6t72nMp/nivqbUGvqtqYQModSeW9hSLcAhc=",
		"SCRAM-SHA-256$4096:c2FsdA==$c2hvcnQ=:7E0SAVxf6t72nMp/nivqbUGvqtqYQModSeW9hSLcAhc=",
	} {
		if _, err := ParseSCRAMVerifier(bad); err == nil {
			t.Errorf("ParseSCRAMVerifier(%q) accepted", bad)
		}
	}
}

// TestPsqlPasswordTLS: libpq (psql) authenticates with SCRAM over TLS,
// with channel binding, and sees the failures PostgreSQL's users know.
func TestPsqlPasswordTLS(t *testing.T) {
	psql, err := exec.LookPath("psql")
	if err != nil {
		testenv.SkipUnlessCI(t, "psql is not installed (Debian postgresql-client)")
	}
	cfg, rootCert := testTLS(t)
	addr := authServer(t, WithAuth(AuthPassword, testRoles(t)), WithTLS(cfg, TLSRequire))
	host, port, _ := net.SplitHostPort(addr)
	run := func(password string, env ...string) (string, error) {
		return runPsql(psql, append([]string{"PGPASSWORD=" + password, "PGHOST=" + host, "PGPORT=" + port, "PGUSER=alice", "PGDATABASE=db"}, env...), "-X", "-A", "-t", "-c", "gen 1")
	}
	for _, env := range [][]string{
		{"PGSSLMODE=require"},
		{"PGSSLMODE=require", "PGCHANNELBINDING=require"},
		{"PGSSLMODE=verify-full", "PGSSLROOTCERT=" + rootCert, "PGHOST=localhost"},
	} {
		if out, err := run("correct horse", env...); err != nil || out != "1|row 1\n" {
			t.Errorf("psql %v: %v\n%s", env, err, out)
		}
	}
	out, err := run("wrong", "PGSSLMODE=require")
	if err == nil || !strings.Contains(out, `FATAL:  password authentication failed for user "alice"`) {
		t.Errorf("psql with a wrong password: %v\n%s", err, out)
	}
	out, err = run("correct horse", "PGSSLMODE=disable")
	if err == nil || !strings.Contains(out, "FATAL:  SSL required") {
		t.Errorf("psql in the clear under require: %v\n%s", err, out)
	}
}

// runPsql runs psql with env added to the environment, bounded to 10s,
// and returns its combined output.
func runPsql(psql string, env []string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, psql, args...)
	cmd.Env = append(append(os.Environ(), "PGCONNECT_TIMEOUT=5", "PAGER=", "PSQL_PAGER="), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestStartupTimeoutCoversTLSAndAuth: a client that stalls in the TLS
// handshake or in the middle of SCRAM is dropped at the startup deadline.
func TestStartupTimeoutCoversTLSAndAuth(t *testing.T) {
	cfg, _ := testTLS(t)
	short := optionFunc(func(s *Server) { s.StartupTimeout = 200 * time.Millisecond })
	addr := authServer(t, WithAuth(AuthPassword, testRoles(t)), WithTLS(cfg, TLSAllow), short)
	closedSoon := func(what string, nc net.Conn) {
		t.Helper()
		start := time.Now()
		_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			if _, err := nc.Read(make([]byte, 256)); err != nil {
				break
			}
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("%s: connection kept for %v past a 200ms startup timeout", what, d)
		}
	}
	// Stalled before the ClientHello.
	f := dialFrontend(t, addr)
	f.send(&pgproto3.SSLRequest{})
	closedSoon("after SSLRequest", f.nc)
	// Stalled after AuthenticationSASL, over TLS.
	f = tlsFrontend(t, addr)
	f.send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: map[string]string{"user": "alice"}})
	if _, ok := f.recv().(*pgproto3.AuthenticationSASL); !ok {
		t.Fatal("no AuthenticationSASL")
	}
	closedSoon("during SCRAM", f.nc)
	// The server still serves.
	if _, err := dialPg(t, dsn(addr, "alice", "correct horse", "sslmode=require")); err != nil {
		t.Errorf("after stalled clients: %v", err)
	}
}
