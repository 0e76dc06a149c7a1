package sources

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// ReaderConfig configures a Reader: the sources read together, and how to
// reach Kafka.
type ReaderConfig struct {
	Config
	// Brokers are the seed brokers ("127.0.0.1:9092").
	Brokers []string
	// ClientOpts are extra franz-go options (TLS, SASL, ...).
	ClientOpts []kgo.Opt
	// MetadataRetry is how long to wait between attempts to find the
	// topics' partitions; default 500ms.
	MetadataRetry time.Duration
	// StallAfter is how long records may be held back (a transaction
	// waiting for its END, its other records, its commit or a resolved
	// timestamp) with nothing released before the sources report
	// StateStalled; default 30s.
	StallAfter time.Duration
	// CheckInterval is how often the partitions' log start offsets and
	// high-water marks are compared with the reader's positions (see
	// offsets.go); default 1s. Fetch errors that hint at moved offsets
	// trigger a check at once.
	CheckInterval time.Duration
	// SnapshotQuiet is how long a reader that is caught up waits for more
	// records before it releases the Debezium snapshot reads it holds
	// when no record marked the snapshot's end (snapshot.go); default 30s,
	// as StallAfter: Debezium pauses between the tables of a snapshot while
	// it selects the next one, and at 2s a loaded machine released half a
	// snapshot (the end marker, when it is in a topic the reader does not
	// read, never comes, so this is the only release then).
	SnapshotQuiet time.Duration
}

// Reader reads the topics of related sources through one franz-go client,
// by direct partition assignment (no consumer group: positions are the
// coordinator's), and feeds them through an Assembler to a Sink. Each
// poll's records are decoded on the Assembler's decode workers
// (Config.DecodeWorkers, decodepool.go) and assembled in poll order on
// Run's goroutine.
type Reader struct {
	cfg  ReaderConfig
	sink Sink
	asm  *Assembler
	log  *slog.Logger

	// lastRelease is when a unit was last emitted or nothing was held.
	lastRelease time.Time

	mu      sync.Mutex
	status  []Status
	held    error // records held back too long
	descs   map[CollectionID]repr.RelationDesc
	stalled error
	// waitingTxn is set while the transaction metadata topic does not
	// exist yet: data topics are read meanwhile.
	waitingTxn error
	// lastRecord is when a poll last returned records (Run's goroutine).
	lastRecord time.Time

	// Owned by Run's goroutine.
	stored   map[tp]bool         // partitions with a stored resume position
	assigned map[tp]bool         // partitions being read
	topicIDs map[string][16]byte // the topics' IDs when reading started
}

// NewReader validates cfg. Reading starts with Run.
func NewReader(cfg ReaderConfig, sink Sink) (*Reader, error) {
	if len(cfg.Brokers) == 0 {
		return nil, pgcode.New(pgcode.InvalidParameterValue, "sources: no Kafka brokers")
	}
	if cfg.MetadataRetry <= 0 {
		cfg.MetadataRetry = 500 * time.Millisecond
	}
	if cfg.StallAfter <= 0 {
		cfg.StallAfter = 30 * time.Second
	}
	if cfg.CheckInterval <= 0 {
		cfg.CheckInterval = time.Second
	}
	if cfg.SnapshotQuiet <= 0 {
		cfg.SnapshotQuiet = 30 * time.Second
	}
	asm, err := NewAssembler(cfg.Config)
	if err != nil {
		return nil, err
	}
	r := &Reader{cfg: cfg, sink: sink, asm: asm, log: asm.log,
		stored: map[tp]bool{}, assigned: map[tp]bool{}, topicIDs: map[string][16]byte{}}
	if cfg.Resume != nil {
		for _, p := range cfg.Resume.Positions {
			r.stored[tp{p.Topic, p.Partition}] = true
		}
	}
	r.status = asm.Status()
	return r, nil
}

// Status returns every collection's status and statistics. Safe for
// concurrent use with Run.
func (r *Reader) Status() []Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Status, len(r.status))
	copy(out, r.status)
	for i := range out {
		if out[i].State == StateErrored {
			continue
		}
		if why := r.stalledLocked(); why != nil {
			out[i].State = StateStalled
			out[i].LastError = &SourceError{Collection: out[i].Collection, Source: out[i].Name, Where: "reader", Err: why}
		} else if r.waitingTxn != nil {
			// Running (snapshot reads flow), with the reason
			// transactions wait.
			out[i].LastError = &SourceError{Collection: out[i].Collection, Source: out[i].Name, Where: "reader", Err: r.waitingTxn}
		}
	}
	return out
}

func (r *Reader) publish() {
	st := r.asm.Status()
	now := time.Now()
	descs := make(map[CollectionID]repr.RelationDesc, len(st))
	for i := range st {
		st[i].Updated = now
		if d, ok := r.asm.Desc(st[i].Collection); ok {
			descs[st[i].Collection] = d
		}
	}
	var held error
	if pending := r.asm.Pending(); pending == 0 {
		r.lastRelease = now
	} else if wait := now.Sub(r.lastRelease); wait > r.cfg.StallAfter {
		held = fmt.Errorf("sources: %d records held back for %v waiting for their transactions to complete", pending, wait.Round(time.Millisecond))
	}
	r.mu.Lock()
	if held != nil && r.held == nil {
		r.log.Warn("sources: stalled", "err", held)
	}
	r.status = st
	r.descs = descs
	r.held = held
	r.mu.Unlock()
}

// StalledReason returns why the sources are stalled, or nil.
func (r *Reader) StalledReason() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stalledLocked()
}

func (r *Reader) stalledLocked() error {
	if r.stalled != nil {
		return r.stalled
	}
	return r.held
}

// Desc returns a collection's relation once known: at once for declared
// columns, after the first event for a Debezium source whose columns come
// from its schema block. Safe for concurrent use with Run.
func (r *Reader) Desc(id CollectionID) (repr.RelationDesc, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	d, ok := r.descs[id]
	return d, ok
}

// SampleDebeziumDesc derives a Debezium source's columns (and primary key)
// from the newest event on topic, for CREATE SOURCE without a column list.
// It fails with 42P17 when the topic holds no event with a schema block
// within the timeout.
func SampleDebeziumDesc(ctx context.Context, brokers []string, topic string, timeout time.Duration, opts ...kgo.Opt) (repr.RelationDesc, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	meta, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, opts...)...)
	if err != nil {
		return repr.RelationDesc{}, fmt.Errorf("sources: kafka client: %w", err)
	}
	defer meta.Close()
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, meta)
	if err != nil {
		return repr.RelationDesc{}, fmt.Errorf("sources: kafka metadata: %w", err)
	}
	if len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != 0 || len(resp.Topics[0].Partitions) == 0 {
		return repr.RelationDesc{}, pgcode.New(pgcode.UndefinedObject, "topic %q not found", topic)
	}
	assign := map[int32]kgo.Offset{}
	for _, p := range resp.Topics[0].Partitions {
		assign[p.Partition] = kgo.NewOffset().AtEnd().Relative(-1)
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: assign})}, opts...)...)
	if err != nil {
		return repr.RelationDesc{}, fmt.Errorf("sources: kafka client: %w", err)
	}
	defer cl.Close()
	for ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		var found *kgo.Record
		fs.EachRecord(func(rec *kgo.Record) {
			if rec.Value != nil && (found == nil || rec.Timestamp.After(found.Timestamp)) {
				found = rec
			}
		})
		if found != nil {
			return DeriveDebeziumDesc(found.Value, found.Key)
		}
	}
	return repr.RelationDesc{}, pgcode.New(pgcode.InvalidObjectDefinition, "no Debezium event on topic %q to derive columns from", topic).
		WithHint("Declare the columns, or wait for the connector to write its first event.")
}

func (r *Reader) setWaitingTxn(err error) {
	r.mu.Lock()
	r.waitingTxn = err
	r.mu.Unlock()
}

// pollTxnTopic starts reading the transaction metadata topic once it
// exists (see discover).
func (r *Reader) pollTxnTopic(ctx context.Context, cl *kgo.Client) {
	r.mu.Lock()
	waiting := r.waitingTxn != nil
	r.mu.Unlock()
	if !waiting {
		return
	}
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(r.cfg.TxnTopic)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil || len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != 0 || len(resp.Topics[0].Partitions) == 0 {
		return
	}
	assign, err := r.startCheck(ctx, cl, map[string]int32{r.cfg.TxnTopic: int32(len(resp.Topics[0].Partitions))})
	if err != nil {
		return
	}
	cl.AddConsumePartitions(assign)
	r.setWaitingTxn(nil)
	r.log.Info("sources: reading the transaction metadata topic", "topic", r.cfg.TxnTopic)
}

func (r *Reader) setStalled(err error) {
	r.mu.Lock()
	r.stalled = err
	r.mu.Unlock()
}

// Run reads until ctx is cancelled (returning nil) or the Sink fails
// (returning its error). A Reader runs once: to restart, build a new one
// with Config.Resume. Upstream trouble (an unreachable broker, a missing
// topic) stalls the sources and is retried; bad records are reported
// through the Sink and error their collection only.
func (r *Reader) Run(ctx context.Context) error {
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(r.cfg.Brokers...),
		kgo.FetchMaxWait(200 * time.Millisecond),
		kgo.WithLogger(kgoLogger{r.log}),
		// An out-of-range position is an error to report (offsets.go),
		// never a silent reset.
		kgo.ConsumeResetOffset(kgo.NoResetOffset()),
	}, r.cfg.ClientOpts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("sources: kafka client: %w", err)
	}
	defer cl.Close()

	parts, err := r.discover(ctx, cl)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	assign, err := r.startCheck(ctx, cl, parts)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	cl.AddConsumePartitions(assign)
	r.lastRelease = time.Now()
	r.asm.MarkRunning()
	r.publish()
	r.log.Info("sources: reading", "topics", r.asm.Topics())

	// Poll in bounded waits so that status (lag, stalls) is refreshed
	// while upstream is idle.
	wait := min(time.Second, r.cfg.StallAfter/2, r.cfg.CheckInterval)
	lastCheck := time.Now()
	outOfRange := map[tp]bool{}
	// The decode workers stop when Run returns, whatever the reason.
	decodeCtx, stopDecoders := context.WithCancel(ctx)
	defer stopDecoders()
	r.asm.StartDecoders(decodeCtx)
	var msgs []Message
	for {
		pollCtx, cancel := context.WithTimeout(ctx, wait)
		fetches := cl.PollFetches(pollCtx)
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		var fetchErr error
		fetches.EachError(func(topic string, p int32, err error) {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return
			}
			if isOffsetFetchError(err) {
				outOfRange[tp{topic, p}] = true
			}
			fetchErr = fmt.Errorf("sources: fetching %s/%d: %w", topic, p, err)
		})
		if fetchErr != nil {
			r.log.Warn("sources: fetch failed", "err", fetchErr)
		}
		r.setStalled(fetchErr)
		msgs = msgs[:0]
		fetches.EachPartition(func(p kgo.FetchTopicPartition) {
			for _, rec := range p.Records {
				msgs = append(msgs, Message{Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset, Key: rec.Key, Value: rec.Value, Timestamp: rec.Timestamp})
			}
		})
		if len(msgs) > 0 {
			r.lastRecord = time.Now()
		}
		r.asm.PushBatch(ctx, msgs)
		clear(msgs) // drop the references to the records' bytes
		fetches.EachPartition(func(p kgo.FetchTopicPartition) {
			if p.HighWatermark >= 0 {
				r.asm.SetHighWatermark(p.Topic, p.Partition, p.HighWatermark)
			}
		})
		if len(outOfRange) > 0 || time.Since(lastCheck) >= r.cfg.CheckInterval {
			r.runCheck(ctx, cl, outOfRange)
			r.pollTxnTopic(ctx, cl)
			lastCheck = time.Now()
		}
		if time.Since(r.lastRecord) >= r.cfg.SnapshotQuiet && r.asm.SnapshotHeld() > 0 && r.asm.caughtUp() {
			r.asm.ReleaseSnapshot()
		}
		units, errs := r.asm.Release()
		for _, e := range errs {
			r.sink.ReportError(e)
		}
		if len(units) > 0 {
			r.lastRelease = time.Now()
		}
		if err := r.emit(ctx, units); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("sources: emitting: %w", err)
		}
		r.asm.Applied()
		r.publish()
	}
}

// emit hands released units to the sink: all at once when it can take
// them (BatchSink), else one by one.
func (r *Reader) emit(ctx context.Context, units []Unit) error {
	if len(units) == 0 {
		return nil
	}
	if bs, ok := r.sink.(BatchSink); ok && len(units) > 1 {
		return bs.EmitAll(ctx, units)
	}
	for _, u := range units {
		if err := r.sink.Emit(ctx, u); err != nil {
			return err
		}
	}
	return nil
}

// discover waits until every topic exists and returns its partition count.
func (r *Reader) discover(ctx context.Context, cl *kgo.Client) (map[string]int32, error) {
	topics := r.asm.Topics()
	for attempt := 0; ; attempt++ {
		req := kmsg.NewPtrMetadataRequest()
		for _, t := range topics {
			rt := kmsg.NewMetadataRequestTopic()
			rt.Topic = kmsg.StringPtr(t)
			req.Topics = append(req.Topics, rt)
		}
		resp, err := req.RequestWith(ctx, cl)
		var missing []string
		parts := map[string]int32{}
		if err == nil {
			for _, t := range resp.Topics {
				if t.Topic == nil {
					continue
				}
				if t.ErrorCode == kerr.UnknownTopicOrPartition.Code && r.storedTopic(*t.Topic) {
					// Read before and now gone: startCheck reports its
					// partitions.
					parts[*t.Topic] = 0
					continue
				}
				if t.ErrorCode != 0 || len(t.Partitions) == 0 {
					missing = append(missing, *t.Topic)
					continue
				}
				parts[*t.Topic] = int32(len(t.Partitions))
			}
			for _, t := range topics {
				if _, ok := parts[t]; !ok && !contains(missing, t) {
					missing = append(missing, t)
				}
			}
			if len(missing) == 1 && missing[0] == r.cfg.TxnTopic && !r.storedTopic(r.cfg.TxnTopic) {
				// Debezium writes its transaction topic with the first
				// streamed transaction: a connector that has only taken
				// its snapshot has none yet. Read the data topics (the
				// snapshot needs no transaction metadata) and look for
				// it again at every check.
				r.setWaitingTxn(fmt.Errorf("sources: waiting for the transaction metadata topic %q (Debezium creates it with the first streamed transaction): snapshot records are ingested, transactions are held until it exists", r.cfg.TxnTopic))
				r.setStalled(nil)
				return parts, nil
			}
			if len(missing) == 0 {
				r.setStalled(nil)
				return parts, nil
			}
			err = fmt.Errorf("sources: topics not found: %v", missing)
		} else {
			err = fmt.Errorf("sources: kafka metadata: %w", err)
		}
		if attempt > 0 {
			r.setStalled(err)
		}
		if attempt%20 == 1 {
			r.log.Warn("sources: waiting for topics", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(r.cfg.MetadataRetry):
		}
	}
}

// storedTopic reports whether a stored resume position names topic at an
// offset past 0, i.e. records of it were read.
func (r *Reader) storedTopic(topic string) bool {
	if r.cfg.Resume == nil {
		return false
	}
	for _, p := range r.cfg.Resume.Positions {
		if p.Topic == topic && p.Offset > 0 {
			return true
		}
	}
	return false
}

// startCheck runs before the first fetch: it lists every partition's log
// start and high-water mark (retrying, with the sources stalled, until the
// cluster answers for all of them), checks stored resume positions against
// them, and returns the partitions to read from where. Partitions that
// fail the check are reported and not read.
func (r *Reader) startCheck(ctx context.Context, cl *kgo.Client, parts map[string]int32) (map[string]map[int32]kgo.Offset, error) {
	var all []tp
	for topic, n := range parts {
		for p := int32(0); p < n; p++ {
			all = append(all, tp{topic, p})
		}
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].topic != all[j].topic {
			return all[i].topic < all[j].topic
		}
		return all[i].partition < all[j].partition
	})
	var metas map[string]topicMeta
	var bounds map[tp]partBounds
	for attempt := 0; ; attempt++ {
		var err error
		metas, bounds, err = fetchBounds(ctx, cl, r.asm.Topics(), all)
		if err == nil && len(bounds) == len(all) {
			break
		}
		if err == nil {
			err = fmt.Errorf("sources: log start and high-water mark of %d of %d partitions not known yet", len(all)-len(bounds), len(all))
		}
		if attempt > 0 {
			r.setStalled(err)
		}
		if attempt%20 == 1 {
			r.log.Warn("sources: waiting for partition offsets", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(r.cfg.MetadataRetry):
		}
	}
	r.setStalled(nil)
	for t, m := range metas {
		if m.exists {
			r.topicIDs[t] = m.id
		}
	}
	assign := map[string]map[int32]kgo.Offset{}
	for _, k := range all {
		start := r.asm.StartOffset(k.topic, k.partition)
		b := bounds[k]
		if r.stored[k] {
			if err := offsetProblem(k.topic, k.partition, "resume offset", start, b); err != nil {
				r.failPartition(cl, k, start, err)
				continue
			}
		} else {
			if start < b.logStart {
				r.log.Info("sources: starting at the log start offset; earlier records were deleted before the source was created",
					"topic", k.topic, "partition", k.partition, "start_offset", start, "log_start", b.logStart)
				start = b.logStart
			}
			if start > b.hwm {
				r.failPartition(cl, k, start, pgcode.New(errOffsets, "topic %q partition %d: START OFFSET %d is past the high-water mark %d", k.topic, k.partition, start, b.hwm))
				continue
			}
		}
		r.asm.AddPartition(k.topic, k.partition, start)
		if assign[k.topic] == nil {
			assign[k.topic] = map[int32]kgo.Offset{}
		}
		assign[k.topic][k.partition] = kgo.NewOffset().At(start)
		r.assigned[k] = true
	}
	if r.cfg.Resume != nil {
		for _, p := range r.cfg.Resume.Positions {
			if n, ok := parts[p.Topic]; ok && p.Partition >= n {
				r.failPartition(cl, tp{p.Topic, p.Partition}, p.Offset, partitionGone(p.Topic, p.Partition, "resume offset", p.Offset))
			}
		}
	}
	return assign, nil
}

// runCheck compares the partitions being read with their current log
// start, high-water mark and topic ID, and stops and reports those that
// moved (offsets.go). A partition whose fetch failed out of range but
// passes the check is read again from its position. A failed request is
// retried at the next check.
func (r *Reader) runCheck(ctx context.Context, cl *kgo.Client, outOfRange map[tp]bool) {
	parts := make([]tp, 0, len(r.assigned))
	for k := range r.assigned {
		parts = append(parts, k)
	}
	metas, bounds, err := fetchBounds(ctx, cl, r.asm.Topics(), parts)
	if err != nil {
		r.log.Debug("sources: offset check failed; retrying", "err", err)
		return
	}
	for _, k := range parts {
		next, _ := r.asm.NextOffset(k.topic, k.partition)
		m, known := metas[k.topic]
		b, haveBounds := bounds[k]
		var problem error
		switch {
		case known && (!m.exists || k.partition >= m.partitions):
			problem = partitionGone(k.topic, k.partition, "next offset to read", next)
		case haveBounds && offsetProblem(k.topic, k.partition, "next offset to read", next, b) != nil:
			problem = offsetProblem(k.topic, k.partition, "next offset to read", next, b)
		case known && m.id != [16]byte{} && r.topicIDs[k.topic] != [16]byte{} && m.id != r.topicIDs[k.topic]:
			hwm := "unknown"
			if haveBounds {
				hwm = fmt.Sprint(b.hwm)
			}
			problem = pgcode.New(errOffsets, "topic %q partition %d: the topic was deleted and created again while the source read it (next offset to read %d, high-water mark of the new topic %s)", k.topic, k.partition, next, hwm).
				WithHint(resumeHint)
		case !haveBounds:
			continue
		}
		if problem != nil {
			r.failPartition(cl, k, next, problem)
			delete(outOfRange, k)
			continue
		}
		if outOfRange[k] {
			// A position momentarily out of range (a leader change):
			// franz-go stopped the partition; read it again.
			delete(outOfRange, k)
			cl.RemoveConsumePartitions(map[string][]int32{k.topic: {k.partition}})
			cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{k.topic: {k.partition: kgo.NewOffset().At(next)}})
		}
	}
}

// failPartition stops reading a partition whose offsets moved and errors
// the collections it feeds.
func (r *Reader) failPartition(cl *kgo.Client, k tp, offset int64, err error) {
	if r.assigned[k] {
		delete(r.assigned, k)
		cl.RemoveConsumePartitions(map[string][]int32{k.topic: {k.partition}})
	}
	r.log.Error("sources: partition offsets moved under the source; it is no longer read", "topic", k.topic, "partition", k.partition, "offset", offset, "err", err)
	for _, e := range r.asm.FailPartition(k.topic, k.partition, offset, err) {
		r.sink.ReportError(e)
	}
	r.publish()
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// kgoLogger routes franz-go's logs to slog at warn and above.
type kgoLogger struct{ l *slog.Logger }

func (k kgoLogger) Level() kgo.LogLevel { return kgo.LogLevelWarn }

func (k kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	lv := slog.LevelWarn
	if level == kgo.LogLevelError {
		lv = slog.LevelError
	}
	k.l.Log(context.Background(), lv, "kafka: "+msg, keyvals...)
}
