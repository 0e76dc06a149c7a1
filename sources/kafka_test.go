package sources

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// recordingSink collects units and errors.
type recordingSink struct {
	mu    sync.Mutex
	units []Unit
	errs  []*SourceError
}

func (s *recordingSink) Emit(_ context.Context, u Unit) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.units = append(s.units, u)
	return nil
}

func (s *recordingSink) ReportError(e *SourceError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errs = append(s.errs, e)
}

func (s *recordingSink) snapshot() ([]Unit, []*SourceError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Unit(nil), s.units...), append([]*SourceError(nil), s.errs...)
}

func TestReaderBadInputIsolated(t *testing.T) {
	e := startTestBroker(t, WithTopic("good", 1), WithTopic("bad", 1))
	sink := &recordingSink{}
	cfg := ReaderConfig{Brokers: e.Addrs(), Config: Config{Logger: quietLogger(), Sources: []SourceSpec{
		{ID: 1, Name: "good", Topic: "good", Envelope: EnvelopeDebezium, Desc: acctDesc()},
		{ID: 2, Name: "bad", Topic: "bad", Envelope: EnvelopeDebezium, Desc: acctDesc()},
	}}}
	r, err := NewReader(cfg, sink)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()

	cl, err := kgo.NewClient(kgo.SeedBrokers(e.Addrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	produce := func(topic, v string) {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	produce("bad", `{"before":null,"after":{"id":1,"balance":5},"op":"c"}`)
	produce("bad", "\xde\xad garbage")                                          // offset 1
	produce("bad", `{"before":null,"after":{"id":"one","balance":5},"op":"c"}`) // offset 2: type mismatch
	produce("bad", `{"before":{"id":9,"balance":1},"after":null,"op":"d"}`)     // offset 3: not there
	for i := 0; i < 5; i++ {
		produce("good", `{"before":null,"after":{"id":`+string(rune('0'+i))+`,"balance":5},"op":"c"}`)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		units, errs := sink.snapshot()
		good := 0
		for _, u := range units {
			good += len(u.UpdatesOf(1))
		}
		if good == 5 && len(errs) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("good updates %d, errors %s", good, renderErrs(errs))
		}
		time.Sleep(20 * time.Millisecond)
	}
	_, errs := sink.snapshot()
	got := renderErrs(errs)
	for _, want := range []string{"bad partition 0 offset 1: expected a JSON object", "bad partition 0 offset 2: after: column \"id\"", "bad partition 0 offset 3: delete of a row that is not there"} {
		if !strings.Contains(got, want) {
			t.Errorf("errors lack %q:\n%s", want, got)
		}
	}
	st := r.Status()
	if st[0].State != StateRunning || st[1].State != StateErrored || st[1].LastError == nil {
		t.Errorf("status: %+v / %+v", st[0], st[1])
	}
	if st[0].MessagesRead != 5 || st[1].MessagesRead != 4 || st[0].UpdatesEmitted != 5 || st[0].Offsets[0].NextOffset != 5 || st[0].Offsets[0].Lag != 0 {
		t.Errorf("stats: %+v", st[0])
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
}

func TestReaderWaitsForTopics(t *testing.T) {
	e := startTestBroker(t)
	sink := &recordingSink{}
	cfg := ReaderConfig{Brokers: e.Addrs(), MetadataRetry: 20 * time.Millisecond, Config: Config{Logger: quietLogger(), Sources: []SourceSpec{
		{ID: 1, Name: "later", Topic: "later", Envelope: EnvelopeNone, Format: FormatText},
	}}}
	r, err := NewReader(cfg, sink)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	time.Sleep(150 * time.Millisecond)
	if st := r.Status(); st[0].State != StateStalled {
		t.Errorf("state before the topic exists = %s", st[0].State)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.Addrs()...), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "later", Value: []byte("hi")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	for {
		units, _ := sink.snapshot()
		if len(units) > 0 {
			expectText(t, "row", renderUnits(units), "unit 0 coll 1: ('hi') +1")
			break
		}
		if ctx.Err() != nil {
			t.Fatal("no unit")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
}

func TestSampleDebeziumDescAndStartOffset(t *testing.T) {
	e := startTestBroker(t, WithTopic("PostgreSQL_server.inventory.customers", 1))
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.Addrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	topic := "PostgreSQL_server.inventory.customers"
	for _, v := range []string{custRead, custCreate, custUpdate} {
		rec := &kgo.Record{Topic: topic, Key: []byte(`{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"}]},"payload":{"id":1}}`), Value: []byte(withSchema(v))}
		if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	d, err := SampleDebeziumDesc(ctx, e.Addrs(), topic, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if d.String() != "(id integer, first_name text, last_name text, email text)" || len(d.Keys) != 1 {
		t.Fatalf("desc %v keys %v", d, d.Keys)
	}
	// START OFFSET 1 skips the first event; the update then finds no row.
	sink := &recordingSink{}
	r, err := NewReader(ReaderConfig{Brokers: e.Addrs(), Config: Config{Logger: quietLogger(), Sources: []SourceSpec{
		{ID: 1, Name: "c", Topic: topic, Envelope: EnvelopeDebezium, Desc: &d, StartOffsets: map[int32]int64{0: 1}},
	}}}, sink)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(runCtx) }()
	for {
		units, errs := sink.snapshot()
		if len(units) > 0 && len(errs) > 0 {
			expectText(t, "from offset 1", renderUnits(units), "unit 0 coll 1: (2, 'Bob', 'Smith', 'bob@example.com') +1")
			if !strings.Contains(errs[0].Error(), "offset 2: update of a row that is not there") {
				t.Errorf("err = %v", errs[0])
			}
			break
		}
		if ctx.Err() != nil {
			t.Fatal("timed out")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got, ok := r.Desc(1); !ok || got.String() != d.String() {
		t.Errorf("reader desc %v", got)
	}
	stop()
	<-done
}

func TestReaderStallsOnIncompleteTransaction(t *testing.T) {
	e := startTestBroker(t, WithTopic("srv.public.a", 1), WithTopic("srv.public.b", 1), WithTopic("srv.transaction", 1))
	sink := &recordingSink{}
	cfg := ReaderConfig{Brokers: e.Addrs(), StallAfter: 100 * time.Millisecond, Config: dbzTxnConfig()}
	cfg.Logger = quietLogger()
	r, err := NewReader(cfg, sink)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.Addrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	produce := func(topic, v string) {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	// Transaction 1's END promises a record of b that never comes.
	produce("srv.transaction", txnBegin("1"))
	produce("srv.public.a", dbzAcct("c", "1", "null", `{"id":1,"balance":5}`, "public.a"))
	produce("srv.transaction", txnEnd("1", "public.a", 1, "public.b", 1))
	// Wait for the stall with all three records read: on a loaded machine
	// the reader can stall (after StallAfter) before END is produced.
	for r.StalledReason() == nil || r.Status()[0].PendingRecords < 3 {
		if ctx.Err() != nil {
			t.Fatalf("never stalled with the three records read: %+v", r.Status()[0])
		}
		time.Sleep(20 * time.Millisecond)
	}
	st := r.Status()
	if st[0].State != StateStalled || st[0].PendingRecords != 3 || st[0].HeldTransactions != 1 {
		t.Errorf("status %+v", st[0])
	}
	if units, _ := sink.snapshot(); len(units) != 0 {
		t.Errorf("released part of a transaction: %s", renderUnits(units))
	}
	// The missing record arrives: the transaction is released whole and the
	// stall clears.
	produce("srv.public.b", dbzAcct("c", "1", "null", `{"id":1,"balance":7}`, "public.b"))
	for {
		if units, _ := sink.snapshot(); len(units) > 0 {
			expectText(t, "whole", renderUnits(units), "unit 0 coll 1: (1, 5) +1\nunit 0 coll 2: (1, 7) +1")
			break
		}
		if ctx.Err() != nil {
			t.Fatal("never released")
		}
		time.Sleep(20 * time.Millisecond)
	}
	for r.StalledReason() != nil && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	if st := r.Status(); st[0].State != StateRunning {
		t.Errorf("state after release %s", st[0].State)
	}
	cancel()
	<-done
}
