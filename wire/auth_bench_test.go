package wire

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// BenchmarkConnect measures a pgx connection's setup and close against
// each authentication and TLS combination: what a client without a
// connection pool pays per connection. The SCRAM key derivation (PBKDF2,
// 4096 iterations) is the client's; the server only hashes.
func BenchmarkConnect(b *testing.B) {
	roles := testRoles(b)
	cfg, _ := testTLS(b)
	for _, c := range []struct {
		name, user, password, sslmode string
		opts                          []Option
	}{
		{"trust-noauth-plain", "bob", "", "disable", nil},
		{"trust-plain", "bob", "", "disable", []Option{WithAuth(AuthTrust, roles)}},
		{"scram-plain", "alice", "correct horse", "disable", []Option{WithAuth(AuthPassword, roles)}},
		{"trust-tls", "bob", "", "require", []Option{WithAuth(AuthTrust, roles), WithTLS(cfg, TLSAllow)}},
		{"scram-plus-tls", "alice", "correct horse", "require", []Option{WithAuth(AuthPassword, roles), WithTLS(cfg, TLSAllow)}},
	} {
		b.Run(c.name, func(b *testing.B) {
			addr, stop := startServer(b, newFakeBackend(), c.opts...)
			defer stop()
			pcfg, err := pgconn.ParseConfig(dsn(addr, c.user, c.password, "sslmode="+c.sslmode))
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.ResetTimer()
			for range b.N {
				conn, err := pgconn.ConnectConfig(ctx, pcfg)
				if err != nil {
					b.Fatal(err)
				}
				conn.Close(ctx)
			}
		})
	}
}
