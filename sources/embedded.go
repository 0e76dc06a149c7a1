package sources

import (
	"context"
	"fmt"
	"log/slog"
	"net"

	"github.com/twmb/franz-go/pkg/kfake"
)

// DefaultEmbeddedAddr is where the embedded broker listens by default.
const DefaultEmbeddedAddr = "127.0.0.1:9092"

// Embedded is an in-process Kafka-compatible broker (franz-go's kfake) for
// a one-command start: it creates topics on first produce, as Kafka does by
// default, and keeps every record in memory only.
type Embedded struct {
	cluster *kfake.Cluster
	addrs   []string
}

// EmbeddedOption configures StartEmbedded.
type EmbeddedOption func(*embeddedConfig)

type embeddedConfig struct {
	partitions int
	topics     map[string]int32
	logger     *slog.Logger
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
	// kfake listens on 127.0.0.1:<port>; ListenFn substitutes our address.
	ln, err := net.Listen("tcp", listenAddr)
	if err != nil {
		return nil, fmt.Errorf("sources: embedded broker: %w", err)
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
	c, err := kfake.NewCluster(kopts...)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("sources: embedded broker: %w", err)
	}
	e := &Embedded{cluster: c, addrs: c.ListenAddrs()}
	cfg.logger.Info("sources: embedded Kafka-compatible broker started; data is kept in memory only and lost on exit",
		"addr", e.addrs, "auto_create_topics", true, "default_partitions", cfg.partitions)
	go func() {
		<-ctx.Done()
		e.Close()
	}()
	return e, nil
}

// Addrs returns the host:port the broker listens on.
func (e *Embedded) Addrs() []string { return e.addrs }

// Cluster returns the underlying kfake cluster, for tests.
func (e *Embedded) Cluster() *kfake.Cluster { return e.cluster }

// Close stops the broker. It is safe to call more than once.
func (e *Embedded) Close() { e.cluster.Close() }
