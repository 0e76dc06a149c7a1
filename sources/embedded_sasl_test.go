package sources

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestEmbeddedLoopbackOnly: without SASL credentials the broker refuses
// any address other machines could reach, before binding it.
func TestEmbeddedLoopbackOnly(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0", "192.0.2.1:0"} {
		e, err := StartEmbedded(context.Background(), addr, WithEmbeddedLogger(quietLogger()))
		if !errors.Is(err, ErrEmbeddedNotLoopback) {
			if e != nil {
				e.Close()
			}
			t.Errorf("StartEmbedded(%q) = %v, want ErrEmbeddedNotLoopback", addr, err)
		}
	}
	for _, creds := range [][2]string{{"", "pw"}, {"u", ""}} {
		if _, err := StartEmbedded(context.Background(), "127.0.0.1:0", WithEmbeddedSASL(creds[0], creds[1])); err == nil {
			t.Errorf("SASL credentials %q accepted", creds)
		}
	}
}

// TestEmbeddedSASL: with credentials, a client must authenticate with
// SCRAM-SHA-256; ClientOpts carries them.
func TestEmbeddedSASL(t *testing.T) {
	e := startTestBroker(t, WithEmbeddedSASL("viewd", "s3cret"))
	// A refused client retries until its deadline: keep it short.
	produce := func(timeout time.Duration, opts ...kgo.Opt) error {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(e.Addrs()...), kgo.AllowAutoTopicCreation()}, opts...)...)
		if err != nil {
			return err
		}
		defer cl.Close()
		return cl.ProduceSync(ctx, &kgo.Record{Topic: "guarded", Value: []byte("v")}).FirstErr()
	}
	if err := produce(time.Second); err == nil {
		t.Error("a client without credentials produced")
	}
	wrong := *e.sasl
	wrong.Pass = "wrong"
	if err := produce(time.Second, (&Embedded{sasl: &wrong}).ClientOpts()...); err == nil {
		t.Error("a client with a wrong password produced")
	}
	if err := produce(10*time.Second, e.ClientOpts()...); err != nil {
		t.Fatalf("produce with the broker's credentials: %v", err)
	}
	if (&Embedded{}).ClientOpts() != nil {
		t.Error("ClientOpts without SASL is not empty")
	}
}
