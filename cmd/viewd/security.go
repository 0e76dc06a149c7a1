package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/viewd/viewd/wire"
)

// Files of the self-signed certificate generated into the data
// directory (PostgreSQL's default names).
const (
	generatedCertFile = "server.crt"
	generatedKeyFile  = "server.key"
	// generatedCertLife is the generated certificate's validity.
	generatedCertLife = 10 * 365 * 24 * time.Hour
)

// listenIsLoopback reports whether a listen address reaches only this
// machine: an IP in 127.0.0.0/8 or ::1, or a host name all of whose
// addresses are. An empty host or an unspecified IP (0.0.0.0, ::) listens
// on every interface.
func listenIsLoopback(ctx context.Context, addr string) (bool, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false, fmt.Errorf("listen address %q: %w", addr, err)
	}
	if host == "" {
		return false, nil
	}
	if host == "localhost" {
		return true, nil
	}
	if ip := net.ParseIP(host); ip != nil {
		return ip.IsLoopback(), nil
	}
	ips, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return false, fmt.Errorf("listen address %q: %w", addr, err)
	}
	for _, ip := range ips {
		if !ip.IP.IsLoopback() {
			return false, nil
		}
	}
	return len(ips) > 0, nil
}

// resolveAuthMode turns --auth-mode into a mode: empty means trust on
// loopback and password beyond it; trust beyond loopback is refused.
func resolveAuthMode(flagValue string, loopback bool, listen string) (wire.AuthMode, error) {
	if flagValue == "" {
		if loopback {
			return wire.AuthTrust, nil
		}
		return wire.AuthPassword, nil
	}
	mode, err := wire.ParseAuthMode(flagValue)
	if err != nil {
		return 0, fmt.Errorf("--auth-mode: %w", err)
	}
	if mode == wire.AuthTrust && !loopback {
		return 0, fmt.Errorf("--auth-mode trust is only allowed when listening on loopback, and --listen %s is reachable from other machines: use --auth-mode password (the default there), or listen on 127.0.0.1 or [::1]", listen)
	}
	return mode, nil
}

// loadTLS returns the TLS configuration for mode: the PEM pair named by
// --tls-cert and --tls-key, or else a self-signed certificate kept in
// dataDir (generated on first use, reused after). It returns nil for
// TLSDisable.
func loadTLS(mode wire.TLSMode, certFile, keyFile, dataDir string, log *slog.Logger) (*tls.Config, error) {
	if (certFile == "") != (keyFile == "") {
		return nil, errors.New("--tls-cert and --tls-key go together")
	}
	if mode == wire.TLSDisable {
		if certFile != "" {
			log.Warn("--tls-cert and --tls-key are ignored with --tls-mode disable")
		}
		return nil, nil
	}
	generated := certFile == ""
	if generated {
		certFile, keyFile = filepath.Join(dataDir, generatedCertFile), filepath.Join(dataDir, generatedKeyFile)
		if err := ensureSelfSigned(certFile, keyFile, log); err != nil {
			return nil, err
		}
	}
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load TLS certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("parse TLS certificate %s: %w", certFile, err)
	}
	fp := sha256.Sum256(leaf.Raw)
	log.Info("TLS enabled", "mode", mode, "cert", certFile, "self_signed", generated,
		"subject", leaf.Subject.String(), "not_after", leaf.NotAfter.Format(time.DateOnly), "sha256", hex.EncodeToString(fp[:]))
	if time.Now().After(leaf.NotAfter) {
		log.Warn("the TLS certificate has expired; clients that verify it will refuse to connect", "cert", certFile)
	}
	return &tls.Config{Certificates: []tls.Certificate{pair}}, nil
}

// ensureSelfSigned creates the self-signed certificate and key unless
// both exist. One without the other is an error: overwriting a key
// someone put there would be worse than stopping.
func ensureSelfSigned(certFile, keyFile string, log *slog.Logger) error {
	_, certErr := os.Stat(certFile)
	_, keyErr := os.Stat(keyFile)
	switch {
	case certErr == nil && keyErr == nil:
		return nil
	case certErr == nil || keyErr == nil:
		return fmt.Errorf("found only one of %s and %s: remove it, or name both with --tls-cert and --tls-key", certFile, keyFile)
	case !errors.Is(certErr, fs.ErrNotExist) || !errors.Is(keyErr, fs.ErrNotExist):
		return fmt.Errorf("TLS certificate: %w", errors.Join(certErr, keyErr))
	}
	certPEM, keyPEM, err := wire.SelfSignedCertificate(generatedCertLife)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(certFile), 0o755); err != nil {
		return fmt.Errorf("TLS certificate: %w", err)
	}
	// The key first: a crash between the two leaves a key without a
	// certificate, reported above, never a certificate without its key.
	if err := writeFileAtomic(keyFile, keyPEM, 0o600); err != nil {
		return err
	}
	if err := writeFileAtomic(certFile, certPEM, 0o644); err != nil {
		return err
	}
	log.Info("generated a self-signed TLS certificate; clients can verify it with sslrootcert="+certFile, "cert", certFile, "key", keyFile)
	return nil
}

// writeFileAtomic writes data to path through a temporary file renamed
// into place.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, perm); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
