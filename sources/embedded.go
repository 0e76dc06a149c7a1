package sources

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// DefaultEmbeddedAddr is where the embedded broker listens by default.
const DefaultEmbeddedAddr = "127.0.0.1:9092"

// Embedded is an in-process Kafka-compatible broker (franz-go's kfake) for
// a one-command start: it creates topics on first produce, as Kafka does by
// default. It has no authentication unless given SASL credentials
// (WithEmbeddedSASL), so without them it listens on loopback only
// (ErrEmbeddedNotLoopback otherwise). With WithDataDir it keeps its log (topics, records, offsets,
// consumer groups) in a directory and reloads it on start; without, every
// record lives in memory only.
type Embedded struct {
	cluster *kfake.Cluster
	addrs   []string
	sasl    *scram.Auth // nil without WithEmbeddedSASL
}

// ErrEmbeddedNotLoopback refuses an embedded broker without SASL
// credentials on an address other machines can reach.
var ErrEmbeddedNotLoopback = errors.New("sources: the embedded broker has no authentication without SASL credentials, so it listens on loopback (127.0.0.1, ::1) only")

// EmbeddedOption configures StartEmbedded.
type EmbeddedOption func(*embeddedConfig)

type embeddedConfig struct {
	partitions int
	topics     map[string]int32
	logger     *slog.Logger
	dataDir    string
	syncWrites bool
	sasl       *scram.Auth
}

// WithEmbeddedSASL makes the broker require SASL/SCRAM-SHA-256 with the
// given superuser credentials from every client (ClientOpts gives them to
// an in-process one); it may then listen beyond loopback. Both must be
// non-empty.
func WithEmbeddedSASL(user, password string) EmbeddedOption {
	return func(c *embeddedConfig) { c.sasl = &scram.Auth{User: user, Pass: password} }
}

// WithDataDir keeps the broker's log in dir (created if needed) and
// reloads it on start, so topics, records and committed offsets survive a
// restart, kill -9 included: a produce is acknowledged only after its
// batch is written to the log file. Without WithSyncWrites the write is
// not fsynced, so the operating system may lose the latest acknowledged
// batches if it crashes or the machine loses power.
func WithDataDir(dir string) EmbeddedOption {
	return func(c *embeddedConfig) { c.dataDir = dir }
}

// WithSyncWrites fsyncs every produced batch before it is acknowledged
// (with WithDataDir), so acknowledged records survive an operating system
// crash or power loss too, at the cost of one fsync per batch.
func WithSyncWrites(on bool) EmbeddedOption {
	return func(c *embeddedConfig) { c.syncWrites = on }
}

// WithDefaultPartitions sets the partition count of auto-created topics
// (default 1, so that a topic is totally ordered unless asked otherwise).
func WithDefaultPartitions(n int) EmbeddedOption {
	return func(c *embeddedConfig) { c.partitions = n }
}

// WithTopic creates topic with the given partitions at start.
func WithTopic(topic string, partitions int32) EmbeddedOption {
	return func(c *embeddedConfig) { c.topics[topic] = partitions }
}

// WithEmbeddedLogger sets the logger (default slog.Default()).
func WithEmbeddedLogger(l *slog.Logger) EmbeddedOption {
	return func(c *embeddedConfig) { c.logger = l }
}

// StartEmbedded starts the broker on listenAddr ("" means
// DefaultEmbeddedAddr; port 0 picks a free port). It stops when ctx is
// cancelled or Close is called.
func StartEmbedded(ctx context.Context, listenAddr string, opts ...EmbeddedOption) (*Embedded, error) {
	cfg := embeddedConfig{partitions: 1, topics: map[string]int32{}, logger: slog.Default()}
	for _, o := range opts {
		o(&cfg)
	}
	if listenAddr == "" {
		listenAddr = DefaultEmbeddedAddr
	}
	host, _, err := net.SplitHostPort(listenAddr)
	if err != nil {
		return nil, fmt.Errorf("sources: embedded broker address %q: %w", listenAddr, err)
	}
	if cfg.sasl != nil && (cfg.sasl.User == "" || cfg.sasl.Pass == "") {
		return nil, errors.New("sources: embedded broker: SASL needs a user name and a password")
	}
	// Every interface (empty host, 0.0.0.0, ::) or another literal address
	// is refused before binding; a host name is checked on the address it
	// bound.
	if ip := net.ParseIP(host); cfg.sasl == nil && (host == "" || ip != nil && !ip.IsLoopback()) {
		return nil, fmt.Errorf("%w: refusing %s", ErrEmbeddedNotLoopback, listenAddr)
	}
	// kfake listens on 127.0.0.1:<port>; ListenFn substitutes our address.
	ln, err := net.Listen("tcp", listenAddr)
	if err != nil {
		return nil, fmt.Errorf("sources: embedded broker: %w", err)
	}
	if tcp, ok := ln.Addr().(*net.TCPAddr); cfg.sasl == nil && (!ok || !tcp.IP.IsLoopback()) {
		ln.Close()
		return nil, fmt.Errorf("%w: %s listens on %s", ErrEmbeddedNotLoopback, listenAddr, ln.Addr())
	}
	_, portStr, _ := net.SplitHostPort(ln.Addr().String())
	var port int
	fmt.Sscan(portStr, &port)
	used := false
	kopts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(port),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(cfg.partitions),
		kfake.ListenFn(func(network, address string) (net.Listener, error) {
			if !used {
				used = true
				return ln, nil
			}
			return net.Listen(network, net.JoinHostPort(host, "0"))
		}),
	}
	for t, n := range cfg.topics {
		kopts = append(kopts, kfake.SeedTopics(n, t))
	}
	if cfg.sasl != nil {
		kopts = append(kopts, kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", cfg.sasl.User, cfg.sasl.Pass))
	}
	if cfg.dataDir != "" {
		if err := recoverAutoCreatedTopics(cfg.dataDir, cfg.logger); err != nil {
			ln.Close()
			return nil, fmt.Errorf("sources: embedded broker: %w", err)
		}
		kopts = append(kopts, kfake.DataDir(cfg.dataDir))
		if cfg.syncWrites {
			kopts = append(kopts, kfake.SyncWrites())
		}
	}
	c, err := kfake.NewCluster(kopts...)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("sources: embedded broker: %w", err)
	}
	e := &Embedded{cluster: c, addrs: c.ListenAddrs(), sasl: cfg.sasl}
	if cfg.dataDir == "" {
		cfg.logger.Info("sources: embedded Kafka-compatible broker started; data is kept in memory only and lost on exit",
			"addr", e.addrs, "sasl", cfg.sasl != nil, "auto_create_topics", true, "default_partitions", cfg.partitions)
	} else {
		cfg.logger.Info("sources: embedded Kafka-compatible broker started; its log is kept on disk",
			"addr", e.addrs, "sasl", cfg.sasl != nil, "dir", cfg.dataDir, "fsync_per_batch", cfg.syncWrites, "auto_create_topics", true, "default_partitions", cfg.partitions)
	}
	go func() {
		<-ctx.Done()
		e.Close()
	}()
	return e, nil
}

// Addrs returns the host:port the broker listens on.
func (e *Embedded) Addrs() []string { return e.addrs }

// ClientOpts returns the franz-go options a client needs to talk to the
// broker: SASL/SCRAM-SHA-256 with its credentials under WithEmbeddedSASL,
// none otherwise.
func (e *Embedded) ClientOpts() []kgo.Opt {
	if e.sasl == nil {
		return nil
	}
	return []kgo.Opt{kgo.SASL(e.sasl.AsSha256Mechanism())}
}

// Cluster returns the underlying kfake cluster, for tests.
func (e *Embedded) Cluster() *kfake.Cluster { return e.cluster }

// Close stops the broker. It is safe to call more than once.
func (e *Embedded) Close() { e.cluster.Close() }

// kfake writes topics.json when a topic is created by CreateTopics (or an
// admin call) and on a clean shutdown, but not when a topic is created
// automatically by a Metadata request, which is how producers create
// topics on first use (franz-go with AllowAutoTopicCreation, kcat,
// librdkafka). The records of such a topic are written to its partition
// directories at once, yet after a kill -9 the reloaded cluster does not
// know the topic and ignores them. recoverAutoCreatedTopics closes that gap
// before kfake loads the directory: every partition directory whose topic
// topics.json does not list is added to it, with a fresh topic ID (the
// lost one was never written anywhere) and as many partitions as the
// highest partition directory needs.
//
// It depends on kfake's on-disk layout as of the pinned version:
// topics.json holds {"version","topics":[{"name","id","partitions",
// "replicas"}]}, ids are base64 UUIDs, and each partition's log lives in
// partitions/<url.PathEscape(topic)>-<partition>. Fields it does not know
// are kept as they are.
func recoverAutoCreatedTopics(dir string, log *slog.Logger) error {
	entries, err := os.ReadDir(filepath.Join(dir, "partitions"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading partition directories: %w", err)
	}
	onDisk := map[string]int{} // topic -> partitions needed
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		name := e.Name()
		i := strings.LastIndexByte(name, '-')
		if i <= 0 {
			continue
		}
		p, err := strconv.Atoi(name[i+1:])
		if err != nil || p < 0 {
			continue
		}
		topic, err := url.PathUnescape(name[:i])
		if err != nil {
			continue
		}
		onDisk[topic] = max(onDisk[topic], p+1)
	}
	if len(onDisk) == 0 {
		return nil
	}
	path := filepath.Join(dir, "topics.json")
	var doc map[string]json.RawMessage
	raw, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		doc = map[string]json.RawMessage{"version": json.RawMessage("1")}
	case err != nil:
		return fmt.Errorf("reading %s: %w", path, err)
	default:
		if err := json.Unmarshal(raw, &doc); err != nil {
			return fmt.Errorf("parsing %s: %w", path, err)
		}
	}
	var topics []map[string]json.RawMessage
	if t, ok := doc["topics"]; ok && string(t) != "null" {
		if err := json.Unmarshal(t, &topics); err != nil {
			return fmt.Errorf("parsing %s: %w", path, err)
		}
	}
	known := map[string]bool{}
	for _, t := range topics {
		var name string
		if err := json.Unmarshal(t["name"], &name); err == nil {
			known[name] = true
		}
	}
	added := 0
	for topic, parts := range onDisk {
		if known[topic] {
			continue
		}
		var id [16]byte
		if _, err := rand.Read(id[:]); err != nil {
			return fmt.Errorf("topic id: %w", err)
		}
		t := map[string]json.RawMessage{}
		for k, v := range map[string]any{"name": topic, "id": base64.StdEncoding.EncodeToString(id[:]), "partitions": parts, "replicas": 1} {
			b, err := json.Marshal(v)
			if err != nil {
				return fmt.Errorf("encoding topic %q: %w", topic, err)
			}
			t[k] = b
		}
		topics = append(topics, t)
		added++
		log.Warn("sources: embedded broker: recovering a topic created on first produce that was not yet in topics.json (viewd stopped without a clean shutdown)",
			"topic", topic, "partitions", parts)
	}
	if added == 0 {
		return nil
	}
	b, err := json.Marshal(topics)
	if err != nil {
		return fmt.Errorf("encoding topics: %w", err)
	}
	doc["topics"] = b
	out, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("encoding topics: %w", err)
	}
	return writeFileSync(path, out)
}

// writeFileSync replaces path with data atomically and durably.
func writeFileSync(path string, data []byte) error {
	tmp := path + ".viewd.tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("writing %s: %w", tmp, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("syncing %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("renaming %s: %w", tmp, err)
	}
	return nil
}
