package wire

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

// panicLog records the server's error logs; a recovered panic in a
// connection is logged there ("wire: panic ...").
type panicLog struct {
	mu   sync.Mutex
	msgs []string
}

func (h *panicLog) Enabled(context.Context, slog.Level) bool { return true }
func (h *panicLog) Handle(_ context.Context, r slog.Record) error {
	if r.Level < slog.LevelError {
		return nil
	}
	var b bytes.Buffer
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	h.mu.Lock()
	h.msgs = append(h.msgs, b.String())
	h.mu.Unlock()
	return nil
}
func (h *panicLog) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *panicLog) WithGroup(string) slog.Handler      { return h }

func (h *panicLog) panics() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, m := range h.msgs {
		if bytes.Contains([]byte(m), []byte("panic")) {
			out = append(out, m)
		}
	}
	return out
}

// encodeFrontend is the bytes of frontend messages, for seeds.
func encodeFrontend(msgs ...pgproto3.FrontendMessage) []byte {
	var out []byte
	for _, m := range msgs {
		var err error
		if out, err = m.Encode(out); err != nil {
			panic(err)
		}
	}
	return out
}

var fuzzStartup = encodeFrontend(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: map[string]string{"user": "u", "database": "d"}})

// fuzzPasswordStartup names a role with a SCRAM verifier, for the
// password mode.
var fuzzPasswordStartup = encodeFrontend(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: map[string]string{"user": "alice", "database": "d"}})

// fuzzAuth is fakeAuth's roles without its failing "broken" one (a lookup
// failure is the backend's XX000 by design, not a finding).
type fuzzAuth map[string]LoginInfo

func (a fuzzAuth) LookupLogin(_ context.Context, user string) (LoginInfo, error) {
	return a[user], nil
}

var fuzzRoles = fuzzAuth{
	"alice":   {Exists: true, CanLogin: true, Superuser: true, Verifier: pgVerifier},
	"nopass":  {Exists: true, CanLogin: true},
	"nologin": {Exists: true, Verifier: pgVerifier},
	"garbled": {Exists: true, CanLogin: true, Verifier: "SCRAM-SHA-256$4096:bm90$bad"},
}

// runConn serves one connection over net.Pipe, writes in to it, reads
// what the server sends until the output contains until (when not nil,
// within 5 s) or the server has been quiet for a moment, then closes the
// client side. It returns the server's output; it fails the test if the
// connection goroutine does not end within 5 s of the close.
func runConn(t *testing.T, srv *Server, in, until []byte) []byte {
	client, server := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.serveConn(context.Background(), server)
	}()
	var mu sync.Mutex
	var out []byte
	var last time.Time
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		buf := make([]byte, 4096)
		for {
			n, err := client.Read(buf)
			mu.Lock()
			out = append(out, buf[:n]...)
			last = time.Now()
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	_ = client.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, _ = client.Write(in) // the server may close before reading it all
	mu.Lock()
	last = time.Now()
	mu.Unlock()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		quiet, got := time.Since(last), until != nil && bytes.Contains(out, until)
		mu.Unlock()
		if got || (until == nil && quiet > 3*time.Millisecond) {
			break
		}
		select {
		case <-done:
		case <-time.After(time.Millisecond):
			continue
		}
		break
	}
	client.Close()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatalf("the connection goroutine did not end 5 s after the client closed")
	}
	<-readDone
	mu.Lock()
	defer mu.Unlock()
	return out
}

// FuzzConn feeds arbitrary bytes to a server connection as a client
// would send them, from the startup phase on (withStartup prepends a
// valid StartupMessage so that the frontend messages are reached; with
// password the server asks for SCRAM-SHA-256, so the bytes after it
// reach the SASL exchange): the
// server must not panic (a recovered panic is logged and answered with
// XX000), must not answer XX000 for anything, must end the connection
// when the client goes, and must go on serving a well-behaved client.
// CI runs it for a few seconds; README's "Fuzzing" runs it for hours.
func FuzzConn(f *testing.F) {
	q := func(s string) []byte { return encodeFrontend(&pgproto3.Query{String: s}) }
	ext := encodeFrontend(
		&pgproto3.Parse{Name: "s", Query: "echo int8 text", ParameterOIDs: []uint32{20, 25}},
		&pgproto3.Bind{DestinationPortal: "p", PreparedStatement: "s", ParameterFormatCodes: []int16{1, 0}, Parameters: [][]byte{{0, 0, 0, 0, 0, 0, 0, 7}, []byte("x")}},
		&pgproto3.Describe{ObjectType: 'P', Name: "p"},
		&pgproto3.Execute{Portal: "p", MaxRows: 1},
		&pgproto3.Close{ObjectType: 'S', Name: "s"},
		&pgproto3.Sync{},
	)
	sasl := func(mech, first string) []byte {
		return encodeFrontend(&pgproto3.SASLInitialResponse{AuthMechanism: mech, Data: []byte(first)})
	}
	for _, seed := range []struct {
		in                    []byte
		withStartup, password bool
	}{
		{sasl("SCRAM-SHA-256", "n,,n=,r=abcdefghijkl"), true, true},
		{append(sasl("SCRAM-SHA-256", "n,,n=,r=abcdefghijkl"), encodeFrontend(&pgproto3.SASLResponse{Data: []byte("c=biws,r=abcdefghijkl,p=AAAA")})...), true, true},
		{sasl("SCRAM-SHA-256-PLUS", "p=tls-server-end-point,,n=,r=x"), true, true},
		{sasl("MD5", ""), true, true},
		{encodeFrontend(&pgproto3.PasswordMessage{Password: "pw"}), true, true},
		{fuzzPasswordStartup, false, true},
		{q("values"), true, false},
		{append(q("gen 5"), encodeFrontend(&pgproto3.Terminate{})...), true, false},
		{ext, true, false},
		{encodeFrontend(&pgproto3.Parse{Query: "types"}, &pgproto3.Bind{ResultFormatCodes: []int16{1}}, &pgproto3.Execute{}, &pgproto3.Sync{}), true, false},
		{encodeFrontend(&pgproto3.CopyData{Data: []byte("1\n")}, &pgproto3.CopyDone{}, &pgproto3.CopyFail{Message: "x"}), true, false},
		{encodeFrontend(&pgproto3.Flush{}, &pgproto3.FunctionCall{Function: 1}), true, false},
		{[]byte{'Q', 0xff, 0xff, 0xff, 0xff}, true, false},
		{[]byte{'Q', 0, 0, 0, 3}, true, false},
		{fuzzStartup, false, false},
		{encodeFrontend(&pgproto3.SSLRequest{}), false, false},
		{encodeFrontend(&pgproto3.GSSEncRequest{}), false, false},
		{encodeFrontend(&pgproto3.CancelRequest{ProcessID: 1, SecretKey: []byte{0, 0, 0, 2}}), false, false},
		{[]byte{0, 0, 0, 8, 0, 3, 0, 0}, false, false},
		{[]byte{0, 0, 0, 9, 0, 3, 0, 0, 'u'}, false, false},
		{[]byte("GET / HTTP/1.1\r\n\r\n"), false, false},
	} {
		f.Add(seed.in, seed.withStartup, seed.password)
	}
	f.Fuzz(func(t *testing.T, in []byte, withStartup, password bool) {
		logs := &panicLog{}
		be := newFakeBackend()
		be.fuzzing = true
		var opts []Option
		startup := fuzzStartup
		if password {
			opts = append(opts, WithAuth(AuthPassword, fuzzRoles))
			startup = fuzzPasswordStartup
		}
		srv := NewServer(be, slog.New(logs), opts...)
		srv.StartupTimeout = 2 * time.Second
		if withStartup {
			in = append(append([]byte(nil), startup...), in...)
		}
		out := runConn(t, srv, in, nil)
		if p := logs.panics(); len(p) > 0 {
			t.Fatalf("the connection panicked: %s", p[0])
		}
		if bytes.Contains(out, []byte("CXX000\x00")) {
			t.Fatalf("the server answered XX000: %q", out)
		}
		// A well-behaved client is still served (in password mode: asked
		// for SCRAM-SHA-256).
		served := []byte("SELECT 4\x00Z") // the four rows of "values", then ReadyForQuery
		if password {
			served = []byte("SCRAM-SHA-256\x00")
		}
		after := runConn(t, srv, append(append([]byte(nil), startup...), q("values")...), served)
		if !bytes.Contains(after, served) {
			t.Fatalf("a later connection was not served: %q", after)
		}
	})
}
