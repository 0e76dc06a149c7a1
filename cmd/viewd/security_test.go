package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/viewd/viewd/internal/viewdtest"
	"github.com/viewd/viewd/wire"
)

func TestListenIsLoopback(t *testing.T) {
	ctx := context.Background()
	for addr, want := range map[string]bool{
		"127.0.0.1:6875": true, "127.1.2.3:1": true, "[::1]:6875": true, "localhost:6875": true,
		"0.0.0.0:6875": false, "[::]:6875": false, ":6875": false, "192.0.2.7:6875": false, "[2001:db8::1]:1": false,
	} {
		got, err := listenIsLoopback(ctx, addr)
		if err != nil || got != want {
			t.Errorf("listenIsLoopback(%q) = %v, %v; want %v", addr, got, err, want)
		}
	}
	if _, err := listenIsLoopback(ctx, "no-port"); err == nil {
		t.Error("an address without a port was accepted")
	}
}

func TestResolveAuthMode(t *testing.T) {
	for _, c := range []struct {
		flag     string
		loopback bool
		want     wire.AuthMode
		err      bool
	}{
		{"", true, wire.AuthTrust, false},
		{"", false, wire.AuthPassword, false},
		{"trust", true, wire.AuthTrust, false},
		{"password", true, wire.AuthPassword, false},
		{"password", false, wire.AuthPassword, false},
		{"trust", false, 0, true},
		{"md5", true, 0, true},
	} {
		got, err := resolveAuthMode(c.flag, c.loopback, "0.0.0.0:6875")
		if (err != nil) != c.err || (err == nil && got != c.want) {
			t.Errorf("resolveAuthMode(%q, loopback %v) = %v, %v", c.flag, c.loopback, got, err)
		}
	}
}

// TestRunRefusesTrustBeyondLoopback: the check comes before anything
// starts, so nothing listens on the wide address, not even briefly.
func TestRunRefusesTrustBeyondLoopback(t *testing.T) {
	for _, listen := range []string{"0.0.0.0:0", "[::]:0", ":0"} {
		dir := filepath.Join(t.TempDir(), "data")
		err := run(config{listen: listen, authMode: "trust", dataDir: dir, logLevel: "error", tlsMode: "allow"})
		if err == nil || !strings.Contains(err.Error(), "--auth-mode trust is only allowed when listening on loopback") {
			t.Errorf("--listen %s --auth-mode trust: %v", listen, err)
		}
		if _, statErr := os.Stat(dir); !errors.Is(statErr, os.ErrNotExist) {
			t.Errorf("--listen %s: the data directory was created before the refusal", listen)
		}
	}
}

// TestRunRefusesWideEmbeddedKafka: the command line gives the embedded
// broker no credentials, so it stays on loopback.
func TestRunRefusesWideEmbeddedKafka(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	err := run(config{listen: "127.0.0.1:0", embeddedKafka: "0.0.0.0:0", dataDir: dir, logLevel: "error", tlsMode: "allow"})
	if err == nil || !strings.Contains(err.Error(), "--embedded-kafka-listen 0.0.0.0:0: the embedded broker has no authentication") {
		t.Errorf("--embedded-kafka-listen 0.0.0.0:0: %v", err)
	}
}

func TestLoadTLS(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	dir := t.TempDir()
	if cfg, err := loadTLS(wire.TLSDisable, "", "", dir, log); cfg != nil || err != nil {
		t.Errorf("disable: %v %v", cfg, err)
	}
	if _, err := os.Stat(filepath.Join(dir, generatedCertFile)); !errors.Is(err, os.ErrNotExist) {
		t.Error("disable generated a certificate")
	}
	first, err := loadTLS(wire.TLSAllow, "", "", dir, log)
	if err != nil {
		t.Fatal(err)
	}
	second, err := loadTLS(wire.TLSRequire, "", "", dir, log)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first.Certificates[0].Certificate[0], second.Certificates[0].Certificate[0]) {
		t.Error("the generated certificate was not reused")
	}
	leaf := first.Certificates[0].Leaf
	if leaf.Subject.CommonName != "localhost" || leaf.VerifyHostname("127.0.0.1") != nil || leaf.VerifyHostname("::1") != nil || leaf.VerifyHostname("localhost") != nil {
		t.Errorf("certificate names: CN %q, DNS %v, IP %v", leaf.Subject.CommonName, leaf.DNSNames, leaf.IPAddresses)
	}
	if fi, err := os.Stat(filepath.Join(dir, generatedKeyFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file: %v %v", fi.Mode(), err)
	}
	// Explicit files are used as given.
	other := t.TempDir()
	certPEM, keyPEM, err := wire.SelfSignedCertificate(time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(other, "c.pem"), filepath.Join(other, "k.pem")
	_ = os.WriteFile(certFile, certPEM, 0o644)
	_ = os.WriteFile(keyFile, keyPEM, 0o600)
	given, err := loadTLS(wire.TLSAllow, certFile, keyFile, dir, log)
	if err != nil || bytes.Equal(given.Certificates[0].Certificate[0], first.Certificates[0].Certificate[0]) {
		t.Errorf("--tls-cert/--tls-key not used: %v", err)
	}
	if _, err := loadTLS(wire.TLSAllow, certFile, "", dir, log); err == nil {
		t.Error("--tls-cert without --tls-key accepted")
	}
	if _, err := loadTLS(wire.TLSAllow, keyFile, certFile, dir, log); err == nil {
		t.Error("swapped certificate and key accepted")
	}
	// Half a generated pair is not silently replaced.
	half := t.TempDir()
	_ = os.WriteFile(filepath.Join(half, generatedKeyFile), keyPEM, 0o600)
	if _, err := loadTLS(wire.TLSAllow, "", "", half, log); err == nil || !strings.Contains(err.Error(), "found only one") {
		t.Errorf("a key without its certificate: %v", err)
	}
}

// TestServerTLSEndToEnd runs the viewd binary with --tls-mode require:
// a client verifying the generated certificate connects, one in the clear
// is refused, and a restart serves the same certificate.
func TestServerTLSEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds and runs the viewd binary (CI does not pass -short, so it runs there)")
	}
	s := viewdtest.Start(t, viewdtest.Options{Args: []string{"--tls-mode", "require"}})
	rootCert := filepath.Join(s.DataDir, generatedCertFile)
	before, err := os.ReadFile(rootCert)
	if err != nil {
		t.Fatal(err)
	}
	connect := func(params string) (*pgx.Conn, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, fmt.Sprintf("postgres://viewd@%s/viewd?%s", s.Addr, params))
		if err == nil {
			t.Cleanup(func() { c.Close(context.Background()) })
		}
		return c, err
	}
	c, err := connect("sslmode=verify-full&sslrootcert=" + rootCert)
	if err != nil {
		t.Fatalf("verify-full against the generated certificate: %v", err)
	}
	var one int
	if err := c.QueryRow(context.Background(), "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Errorf("SELECT 1 over TLS: %v", err)
	}
	_, err = connect("sslmode=disable")
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "28000" || !strings.HasPrefix(pe.Message, "SSL required") {
		t.Errorf("in the clear under --tls-mode require: %v", err)
	}
	s.Stop()
	s = viewdtest.Start(t, viewdtest.Options{DataDir: s.DataDir, Args: []string{"--tls-mode", "require"}})
	after, err := os.ReadFile(rootCert)
	if err != nil || !bytes.Equal(before, after) {
		t.Errorf("the certificate changed across a restart: %v", err)
	}
	if _, err := connect("sslmode=verify-full&sslrootcert=" + rootCert); err != nil {
		t.Errorf("verify-full after a restart: %v", err)
	}
}

// TestBinaryRefusesTrustBeyondLoopback runs the binary as a user would.
func TestBinaryRefusesTrustBeyondLoopback(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds the viewd binary (CI does not pass -short, so it runs there)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, viewdtest.Binary(t), "--listen", "0.0.0.0:0", "--auth-mode", "trust",
		"--data-dir", filepath.Join(t.TempDir(), "data"), "--embedded-kafka-listen", "").CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(string(out), "viewd: --auth-mode trust is only allowed when listening on loopback") {
		t.Errorf("exit %v, output:\n%s", err, out)
	}
}
