// Command viewd runs the viewd server: a PostgreSQL-compatible endpoint over
// incrementally maintained views, fed by tables, Kafka CDC topics and load
// generators.
//
// With no flags it listens on 127.0.0.1:6875, keeps its state in
// ./viewd-data and runs an embedded Kafka-compatible broker on
// 127.0.0.1:9092, so that `psql -h localhost -p 6875` works at once.
//
// Security (security.go): --auth-mode defaults to trust on loopback and
// to password (SCRAM-SHA-256) on any other address, where trust is
// refused before anything starts. TLS is offered (--tls-mode allow) with
// --tls-cert/--tls-key or, without them, a self-signed certificate
// generated once into the data directory (server.crt, server.key).
// Roles come from the coordinator through the adapter in auth.go.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	_ "net/http/pprof" // served on --http-listen only
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/viewd/viewd/coord"
	"github.com/viewd/viewd/sources"
	"github.com/viewd/viewd/wire"
)

type config struct {
	listen        string
	dataDir       string
	workers       int
	logLevel      string
	kafkaBrokers  string
	embeddedKafka string
	embeddedSync  bool
	tickInterval  time.Duration
	retainHistory time.Duration
	httpListen    string
	maxQueryMem   string
	maxFlowMem    string
	memoryLimit   string
	compactLog    string
	authMode      string
	tlsMode       string
	tlsCert       string
	tlsKey        string
	// superuserPasswordFile holds the bootstrap superuser's password.
	superuserPasswordFile string
}

func main() {
	var cfg config
	flag.StringVar(&cfg.listen, "listen", "127.0.0.1:6875", "pgwire listen address `host:port`")
	flag.StringVar(&cfg.dataDir, "data-dir", "viewd-data", "data directory")
	flag.IntVar(&cfg.workers, "workers", runtime.NumCPU(), "dataflow worker count")
	flag.StringVar(&cfg.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	flag.StringVar(&cfg.kafkaBrokers, "kafka-brokers", "", "comma-separated Kafka brokers; when set, no embedded broker runs")
	flag.StringVar(&cfg.embeddedKafka, "embedded-kafka-listen", "127.0.0.1:9092", "listen address of the embedded Kafka-compatible broker (empty disables it)")
	flag.BoolVar(&cfg.embeddedSync, "embedded-kafka-sync", true, "fsync every batch the embedded broker acknowledges (false: a restart or kill -9 of viewd loses nothing, an OS crash or power loss may lose the latest batches)")
	flag.DurationVar(&cfg.tickInterval, "tick-interval", 10*time.Millisecond, "how often time advances when nothing forces it")
	flag.DurationVar(&cfg.retainHistory, "retain-history", 5*time.Second, "default history window kept readable for AS OF and SUBSCRIBE")
	flag.StringVar(&cfg.httpListen, "http-listen", "", "HTTP listen address `host:port` for /debug/pprof (empty: off)")
	flag.StringVar(&cfg.maxQueryMem, "max-query-memory", "", "memory one query may hold (sorts, transient dataflows) before it fails with 53200, e.g. 2GB, 512MB (default: a quarter of the machine's memory)")
	flag.StringVar(&cfg.maxFlowMem, "max-dataflow-memory", "", "memory one materialized view's dataflow may hold (arrangements) or produce in one step before the view fails with 53200 (its reads report it; the server goes on), e.g. 2GB (default: unlimited)")
	flag.StringVar(&cfg.memoryLimit, "memory-limit", "", "the Go runtime's soft memory limit: the collector works harder as the server's memory nears it, e.g. 8GB; off for none (default: $GOMEMLIMIT if set, else three quarters of the machine's or the container's memory)")
	flag.StringVar(&cfg.compactLog, "compact-log-bytes", "", "log size past which the table log is compacted into Arrow snapshot files, e.g. 64MB (default 64MB)")
	flag.StringVar(&cfg.authMode, "auth-mode", "", "client authentication: trust (no password; the role must exist and have LOGIN) or password (SCRAM-SHA-256); default trust when --listen is loopback, password otherwise; trust beyond loopback is refused")
	flag.StringVar(&cfg.tlsMode, "tls-mode", "allow", "TLS for pgwire clients: disable, allow (clients choose) or require (connections in the clear are refused)")
	flag.StringVar(&cfg.tlsCert, "tls-cert", "", "TLS certificate `file` (PEM); with --tls-key. Default: a self-signed certificate generated into the data directory (server.crt, server.key)")
	flag.StringVar(&cfg.tlsKey, "tls-key", "", "TLS private key `file` (PEM); with --tls-cert")
	flag.StringVar(&cfg.superuserPasswordFile, "superuser-password-file", "", "file holding the password of the bootstrap superuser viewd, read on a new data directory only (default: env VIEWD_SUPERUSER_PASSWORD; neither: no password)")
	flag.Parse()

	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "viewd:", err)
		os.Exit(1)
	}
}

func run(cfg config) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.logLevel)); err != nil {
		return fmt.Errorf("bad --log-level %q: %w", cfg.logLevel, err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(logger)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// Security settings are checked before anything starts.
	loopback, err := listenIsLoopback(ctx, cfg.listen)
	if err != nil {
		return err
	}
	authMode, err := resolveAuthMode(cfg.authMode, loopback, cfg.listen)
	if err != nil {
		return err
	}
	tlsMode, err := wire.ParseTLSMode(cfg.tlsMode)
	if err != nil {
		return fmt.Errorf("--tls-mode: %w", err)
	}

	brokers := splitList(cfg.kafkaBrokers)
	if len(brokers) == 0 && cfg.embeddedKafka != "" {
		dir := filepath.Join(cfg.dataDir, "kafka")
		emb, err := sources.StartEmbedded(ctx, cfg.embeddedKafka, sources.WithEmbeddedLogger(logger),
			sources.WithDataDir(dir), sources.WithSyncWrites(cfg.embeddedSync))
		if errors.Is(err, sources.ErrEmbeddedNotLoopback) {
			return fmt.Errorf("--embedded-kafka-listen %s: the embedded broker has no authentication when started from the command line, so it listens on loopback only (e.g. 127.0.0.1:9092); to serve other machines, run a Kafka broker and pass --kafka-brokers", cfg.embeddedKafka)
		}
		if err != nil {
			return fmt.Errorf("start embedded Kafka broker: %w", err)
		}
		defer emb.Close()
		brokers = emb.Addrs()
		logger.Info("embedded Kafka-compatible broker running; its log is kept in the data directory", "listen", cfg.embeddedKafka, "dir", dir, "fsync_per_batch", cfg.embeddedSync)
	}

	memLimit, err := applyMemoryLimit(cfg.memoryLimit)
	if err != nil {
		return err
	}
	if memLimit != math.MaxInt64 {
		logger.Info("soft memory limit", "bytes", memLimit)
	}
	maxMem, err := parseSize(cfg.maxQueryMem)
	if err != nil {
		return fmt.Errorf("--max-query-memory: %w", err)
	}
	maxFlowMem, err := parseSize(cfg.maxFlowMem)
	if err != nil {
		return fmt.Errorf("--max-dataflow-memory: %w", err)
	}
	compactLog, err := parseSize(cfg.compactLog)
	if err != nil {
		return fmt.Errorf("--compact-log-bytes: %w", err)
	}
	password, err := superuserPassword(cfg.superuserPasswordFile)
	if err != nil {
		return err
	}
	osUser := ""
	if u, err := user.Current(); err == nil {
		osUser = u.Username
	}
	c, err := coord.Open(ctx, coord.Config{
		SuperuserPassword: password,
		OSUser:            osUser,
		DataDir:           cfg.dataDir,
		Workers:           cfg.workers,
		Logger:            logger,
		KafkaBrokers:      brokers,
		TickInterval:      cfg.tickInterval,
		RetainHistory:     cfg.retainHistory,
		MaxQueryMemory:    maxMem,
		MaxDataflowMemory: maxFlowMem,
		CompactLogBytes:   compactLog,
	})
	if err != nil {
		return err
	}
	defer c.Close()

	auth, err := newAuthenticator(c, authMode)
	if err != nil {
		return err
	}
	// After coord.Open: the data directory is locked, so two servers
	// never generate a certificate at once.
	tlsCfg, err := loadTLS(tlsMode, cfg.tlsCert, cfg.tlsKey, cfg.dataDir, logger)
	if err != nil {
		return err
	}

	if cfg.httpListen != "" {
		hln, err := net.Listen("tcp", cfg.httpListen)
		if err != nil {
			return fmt.Errorf("listen on %s: %w", cfg.httpListen, err)
		}
		hs := &http.Server{Handler: http.DefaultServeMux, ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := hs.Serve(hln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				logger.Error("http server stopped", "err", err)
			}
		}()
		defer hs.Close()
		logger.Info("debug HTTP server running", "listen", hln.Addr().String(), "pprof", "/debug/pprof/")
	}

	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.listen, err)
	}
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok && authMode == wire.AuthTrust && !tcp.IP.IsLoopback() {
		ln.Close()
		return fmt.Errorf("--auth-mode trust is only allowed on loopback, and %s resolved to %s", cfg.listen, tcp.IP)
	}
	if !loopback && tlsMode != wire.TLSRequire {
		logger.Warn("listening beyond loopback without --tls-mode require: clients may connect in the clear, where SCRAM keeps the password secret but not the queries and their results", "listen", cfg.listen, "tls", tlsMode)
	}
	logger.Info("viewd is ready", "pgwire", ln.Addr().String(), "data-dir", cfg.dataDir, "workers", cfg.workers, "auth", authMode, "tls", tlsMode)
	srv := wire.NewServer(c, logger, wire.WithAuth(authMode, auth), wire.WithTLS(tlsCfg, tlsMode))
	if err := srv.Serve(ctx, ln); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("serve: %w", err)
	}
	logger.Info("viewd shutting down")
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// parseSize reads a byte size such as 512MB, 2GB, 1.5GiB or 1048576
// (units kB, MB, GB, TB and their KiB forms are powers of 1024, as
// PostgreSQL's memory settings are). Empty means 0 (the default).
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	units := []struct {
		suffix string
		mult   float64
	}{{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40}, {"kb", 1 << 10}, {"mb", 1 << 20}, {"gb", 1 << 30}, {"tb", 1 << 40}, {"b", 1}}
	num, mult := strings.ToLower(s), 1.0
	for _, u := range units {
		if strings.HasSuffix(num, u.suffix) {
			num, mult = strings.TrimSpace(strings.TrimSuffix(num, u.suffix)), u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("invalid size %q (want e.g. 512MB or 2GB)", s)
	}
	return int64(v * mult), nil
}

// superuserPassword returns the bootstrap superuser's password: the
// file's contents (without a final newline) when a file is named,
// otherwise $VIEWD_SUPERUSER_PASSWORD ("" for none).
func superuserPassword(file string) (string, error) {
	if file == "" {
		return os.Getenv("VIEWD_SUPERUSER_PASSWORD"), nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("--superuser-password-file: %w", err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}
