package sources

import (
	"cmp"
	"container/heap"
	"encoding/json"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sort"
	"strings"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// txnRecord is a record of Debezium's transaction metadata topic.
type txnRecord struct {
	Status          string `json:"status"`
	ID              string `json:"id"`
	EventCount      int64  `json:"event_count"`
	DataCollections []struct {
		DataCollection string `json:"data_collection"`
		EventCount     int64  `json:"event_count"`
	} `json:"data_collections"`
}

func decodeTxnRecord(value []byte) (txnRecord, error) {
	var r txnRecord
	payload, _, err := splitEnvelope(value)
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(payload, &r); err != nil {
		return r, pgcode.Wrap(err, pgcode.InvalidJSONText, "invalid transaction metadata record: "+err.Error())
	}
	if r.ID == "" || (r.Status != "BEGIN" && r.Status != "END") {
		return r, pgcode.New(pgcode.DataException, "transaction metadata record without id or BEGIN/END status")
	}
	return r, nil
}

// tp names a partition of a topic.
type tp struct {
	topic     string
	partition int32
}

// rec is one record read and not yet released.
type rec struct {
	tp     tp
	offset int64
	spec   *SourceSpec // nil for transaction metadata records
	d      decoded
	owner  *txn // the transaction the record belongs to; nil: released alone
	done   bool
}

// partLog tracks one partition's records that are read but not released.
// Its frontier, the first offset not yet released, is the partition's
// resume position: the records before it are all in emitted units.
type partLog struct {
	next    int64 // the offset after the last record read
	pending []*rec
	hwm     int64
}

func (l *partLog) trim() {
	i := 0
	for i < len(l.pending) && l.pending[i].done {
		i++
	}
	l.pending = l.pending[i:]
}

func (l *partLog) frontier() int64 {
	l.trim()
	if len(l.pending) > 0 {
		return l.pending[0].offset
	}
	return l.next
}

// txn is an upstream transaction being assembled.
type txn struct {
	id   string
	recs []*rec
	// Debezium: END seen, its expected per-collection counts, counts seen.
	ended    bool
	expected map[string]int64
	seen     map[string]int64
	// Maxwell: commit record seen; records expected (-1: unknown).
	committed bool
	want      int64
	// CockroachDB: the HLC all its rows carry.
	hlc hlc
}

// Config declares the sources read together through one Assembler.
type Config struct {
	// Sources are the collections; all share one envelope, except that
	// NONE and UPSERT sources may be read alongside any other.
	Sources []SourceSpec
	// TxnTopic is Debezium's transaction metadata topic (TRANSACTION
	// METADATA); "" when transactions are not assembled across records.
	TxnTopic string
	// TxnStartOffsets are START OFFSETs for TxnTopic's partitions.
	TxnStartOffsets map[int32]int64
	// Resume, when set, restarts from a stored Checkpoint.
	Resume *Checkpoint
	// Contents returns a collection's contents at Resume; keyed and
	// retraction-checked envelopes rebuild their state from it. Required
	// with Resume for every envelope but NONE, unless Collections reads
	// the collection.
	Contents func(CollectionID) ([]Update, error)
	// Collections, when set, reads the collections as the sink has
	// applied them: a keyed or retraction-checked collection it can read
	// by the decoder's key keeps no state beyond the changes of the units
	// being released (collState.readThrough), and the caller reports each
	// emission with Applied.
	Collections CollectionReader
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// DecodeWorkers is how many goroutines decode records when a Reader
	// receives many at once (see decodepool.go); default GOMAXPROCS.
	DecodeWorkers int
}

// Assembler turns the records of related topics into Units that never
// split an upstream transaction, released in commit order, each carrying
// the checkpoint to resume from. It is transport-agnostic: the Kafka
// reader feeds it; tests feed it directly. It is not safe for concurrent
// use.
type Assembler struct {
	cfg      Config
	log      *slog.Logger
	byTopic  map[string][]*SourceSpec
	decoders map[CollectionID]decoder
	states   map[CollectionID]*collState
	status   map[CollectionID]*Status
	// packHint is each append-only collection's rows and bytes in its
	// last unit: the next unit's slab starts with that room.
	packHint map[CollectionID]packSize
	parts    map[tp]*partLog
	partList []tp // sorted, for deterministic checkpoints
	envelope Envelope

	txns  map[string]*txn
	queue []*txn // Debezium: transactions in END order

	// CockroachDB
	resolved     map[tp]hlc
	byHLC        hlcHeap // pending transactions, least HLC first
	releasedHLC  hlc
	ingestedColl map[string]bool // Debezium data collections read here

	batch *Unit // non-transactional records released so far

	// Debezium snapshots (snapshot.go): snapEnd is set once the end of
	// the snapshot being held is known (its last record, or a record
	// that is not a snapshot read).
	snapEnd bool
	units   []Unit
	errs    []*SourceError

	// Decoding (decodepool.go): one workspace per worker slot, and the
	// workers' job queue once StartDecoders has run.
	ws      []*workspace
	recs    []rec // slab for newRec
	jobs    chan *decodeJob
	decoded []decodedRec
	slots   [][]int
	// specs is each record's sources in a PushBatch (nil: not a data
	// record to decode), looked up once per record.
	specs [][]*SourceSpec

	// The topic and the partition of the last records looked up (a poll
	// brings records in runs of one partition): spares a map lookup
	// per record. Used on the assembler's goroutine only.
	lastTopic string
	lastSpecs []*SourceSpec
	lastTP    tp
	lastPart  *partLog
}

// NewAssembler validates cfg and builds an Assembler.
func NewAssembler(cfg Config) (*Assembler, error) {
	a := &Assembler{
		cfg: cfg, log: cfg.Logger,
		byTopic: map[string][]*SourceSpec{}, decoders: map[CollectionID]decoder{},
		states: map[CollectionID]*collState{}, status: map[CollectionID]*Status{},
		parts: map[tp]*partLog{}, txns: map[string]*txn{}, resolved: map[tp]hlc{},
		ingestedColl: map[string]bool{}, envelope: EnvelopeNone,
	}
	if a.log == nil {
		a.log = slog.Default()
	}
	n := cfg.DecodeWorkers
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	for i := 0; i < n; i++ {
		a.ws = append(a.ws, newWorkspace())
	}
	if len(cfg.Sources) == 0 {
		return nil, pgcode.New(pgcode.InvalidParameterValue, "sources: no sources")
	}
	for i := range cfg.Sources {
		s := &cfg.Sources[i]
		if s.Topic == "" {
			return nil, pgcode.New(pgcode.InvalidParameterValue, "sources: source %q has no topic", s.Name)
		}
		if _, dup := a.decoders[s.ID]; dup {
			return nil, pgcode.New(pgcode.InvalidParameterValue, "sources: duplicate collection id %d", s.ID)
		}
		switch s.Envelope {
		case EnvelopeDebezium, EnvelopeMaxwell, EnvelopeCockroach:
			if a.envelope != EnvelopeNone && a.envelope != s.Envelope {
				return nil, pgcode.New(pgcode.FeatureNotSupported, "sources: cannot read ENVELOPE %s and %s through one reader", a.envelope, s.Envelope)
			}
			a.envelope = s.Envelope
		}
		if prev := a.byTopic[s.Topic]; len(prev) > 0 && (s.Envelope != EnvelopeMaxwell || prev[0].Envelope != EnvelopeMaxwell) {
			return nil, pgcode.New(pgcode.FeatureNotSupported, "sources: topic %q is read by two sources; only ENVELOPE MAXWELL sources may share a topic", s.Topic)
		}
		d, err := newDecoder(s)
		if err != nil {
			return nil, err
		}
		a.decoders[s.ID] = d
		a.byTopic[s.Topic] = append(a.byTopic[s.Topic], s)
		a.status[s.ID] = &Status{Collection: s.ID, Name: s.Name, State: StateStarting}
		if s.Envelope == EnvelopeDebezium {
			a.ingestedColl[debeziumCollectionOf(s)] = true
		}
	}
	if cfg.TxnTopic != "" {
		if a.envelope != EnvelopeDebezium {
			return nil, pgcode.New(pgcode.InvalidParameterValue, "sources: a transaction metadata topic needs ENVELOPE DEBEZIUM sources")
		}
		if _, ok := a.byTopic[cfg.TxnTopic]; ok {
			return nil, pgcode.New(pgcode.InvalidParameterValue, "sources: topic %q is both data and transaction metadata", cfg.TxnTopic)
		}
	}
	if cfg.Resume != nil {
		if a.envelope == EnvelopeCockroach && cfg.Resume.Token != "" {
			h, err := parseHLC(cfg.Resume.Token)
			if err != nil {
				return nil, fmt.Errorf("sources: resume token: %w", err)
			}
			a.releasedHLC = h
		}
		for _, p := range cfg.Resume.Positions {
			a.AddPartition(p.Topic, p.Partition, p.Offset)
		}
	}
	return a, nil
}

// debeziumCollectionOf is the data collection name transaction metadata
// uses for s: its declared Collection, else the last two dot-separated
// parts of Debezium's topic name (prefix.schema.table).
func debeziumCollectionOf(s *SourceSpec) string {
	if s.Collection != "" {
		return s.Collection
	}
	parts := strings.Split(s.Topic, ".")
	if len(parts) >= 2 {
		return parts[len(parts)-2] + "." + parts[len(parts)-1]
	}
	return s.Topic
}

// Topics returns every topic the assembler reads, sorted.
func (a *Assembler) Topics() []string {
	var ts []string
	for t := range a.byTopic {
		ts = append(ts, t)
	}
	if a.cfg.TxnTopic != "" {
		ts = append(ts, a.cfg.TxnTopic)
	}
	sort.Strings(ts)
	return ts
}

// StartOffset returns where to start reading a partition: the resume
// checkpoint's position, else the START OFFSET, else 0.
func (a *Assembler) StartOffset(topic string, partition int32) int64 {
	if l, ok := a.parts[tp{topic, partition}]; ok {
		return l.frontier()
	}
	if topic == a.cfg.TxnTopic {
		return a.cfg.TxnStartOffsets[partition]
	}
	for _, s := range a.byTopic[topic] {
		if off, ok := s.StartOffsets[partition]; ok {
			return off
		}
	}
	return 0
}

// AddPartition registers a partition before reading it. CockroachDB
// sources wait for a resolved timestamp from every registered partition.
func (a *Assembler) AddPartition(topic string, partition int32, start int64) {
	k := tp{topic, partition}
	if _, ok := a.parts[k]; ok {
		return
	}
	a.parts[k] = &partLog{next: start, hwm: start}
	a.partList = append(a.partList, k)
	sort.Slice(a.partList, func(i, j int) bool {
		if a.partList[i].topic != a.partList[j].topic {
			return a.partList[i].topic < a.partList[j].topic
		}
		return a.partList[i].partition < a.partList[j].partition
	})
	if !a.releasedHLC.isZero() {
		a.resolved[k] = a.releasedHLC
	}
}

// NextOffset returns the offset after the last record read from a
// partition (its start before any record), and whether it is registered.
func (a *Assembler) NextOffset(topic string, partition int32) (int64, bool) {
	l, ok := a.parts[tp{topic, partition}]
	if !ok {
		return 0, false
	}
	return l.next, true
}

// FailPartition puts every collection that partition feeds (every
// collection, for the transaction metadata topic) into the errored state
// with err, located at offset, and returns the errors for the caller to
// report (Release does not report them again).
func (a *Assembler) FailPartition(topic string, partition int32, offset int64, err error) []*SourceError {
	var out []*SourceError
	for _, s := range a.cfg.Sources {
		if s.Topic != topic && topic != a.cfg.TxnTopic {
			continue
		}
		e := &SourceError{Collection: s.ID, Source: s.Name, Topic: topic, Partition: partition, Offset: offset, Err: err}
		if st, ok := a.status[s.ID]; ok {
			st.State = StateErrored
			st.LastError = e
		}
		out = append(out, e)
	}
	return out
}

// Applied tells the assembler that the sink has applied every unit
// released so far: the collections read through Config.Collections drop
// the changes they held.
func (a *Assembler) Applied() {
	for _, s := range a.states {
		s.applied()
	}
}

// SetHighWatermark records a partition's high watermark, for lag.
func (a *Assembler) SetHighWatermark(topic string, partition int32, hwm int64) {
	if l, ok := a.parts[tp{topic, partition}]; ok {
		l.hwm = hwm
	}
}

// loadState seeds the collections' state on first use after a resume.
func (a *Assembler) state(id CollectionID) *collState {
	if s, ok := a.states[id]; ok {
		return s
	}
	d := a.decoders[id]
	s := newCollState(d.keyCols(), d.tracked())
	a.states[id] = s
	if r := a.cfg.Collections; r != nil && d.tracked() {
		if cols, ok := r.KeyColumns(id); ok && slices.Equal(cols, d.keyCols()) {
			s.readThrough(r, id)
			return s
		}
	}
	if a.cfg.Resume != nil && d.tracked() && a.cfg.Contents != nil {
		rows, err := a.cfg.Contents(id)
		if err == nil {
			err = s.load(rows)
		}
		if err != nil {
			a.fail(&SourceError{Collection: id, Source: a.status[id].Name, Err: fmt.Errorf("restoring state: %w", err)})
		}
	}
	return s
}

func (a *Assembler) specOf(id CollectionID) *SourceSpec {
	for i := range a.cfg.Sources {
		if a.cfg.Sources[i].ID == id {
			return &a.cfg.Sources[i]
		}
	}
	return nil
}

// fail records e and puts its collection into the errored state.
func (a *Assembler) fail(e *SourceError) {
	a.errs = append(a.errs, e)
	if st, ok := a.status[e.Collection]; ok {
		st.State = StateErrored
		st.LastError = e
	}
	a.log.Warn("sources: bad input", "source", e.Source, "topic", e.Topic, "partition", e.Partition, "offset", e.Offset, "err", e.Err)
}

// Push hands one record to the assembler, in offset order per partition.
// It never fails: bad records are reported by the next Release.
func (a *Assembler) Push(m *Message) {
	var dr decodedRec
	if specs := a.dataSpecs(m); len(specs) > 0 {
		dr = a.decodeRecord(m, specs, a.ws[a.slotOf(m, specs, 0, 1)])
	}
	a.add(m, &dr)
}

// decodedRec is what decoding makes of one record, apart from the
// assembler's state: the source it belongs to and its decoding, or the
// error (with the transaction fields salvaged).
type decodedRec struct {
	spec *SourceSpec // nil: no source reads the topic, or a metadata record
	d    decoded
	err  error
}

// dataSpecs returns the sources that read m when it is a data record to
// decode (not transaction metadata, on a topic some source reads), else
// nil. It runs on the assembler's goroutine only.
func (a *Assembler) dataSpecs(m *Message) []*SourceSpec {
	if m.Topic == a.cfg.TxnTopic {
		return nil
	}
	if m.Topic != a.lastTopic || a.lastSpecs == nil {
		a.lastTopic, a.lastSpecs = m.Topic, a.byTopic[m.Topic]
	}
	return a.lastSpecs
}

// partLog returns the log of partition k, nil when not added.
func (a *Assembler) partLog(k tp) *partLog {
	if a.lastPart == nil || k != a.lastTP {
		a.lastTP, a.lastPart = k, a.parts[k]
	}
	return a.lastPart
}

// decodeRecord decodes a data record with the decoders of its topic's
// sources, specs (a Maxwell topic may carry several tables: the first
// source that does not skip it takes it). It reads only what NewAssembler
// set up, so workers run it concurrently, each with its own workspace.
func (a *Assembler) decodeRecord(m *Message, specs []*SourceSpec, w *workspace) decodedRec {
	var first decoded
	var firstErr error
	chosen := -1
	for i, s := range specs {
		d, err := a.decoders[s.ID].decode(m, w)
		if i == 0 {
			first, firstErr = d, err
		}
		if err != nil || !d.skip {
			first, firstErr, chosen = d, err, i
			break
		}
	}
	if chosen < 0 {
		chosen = 0
	}
	dr := decodedRec{spec: specs[chosen], d: first, err: firstErr}
	if firstErr != nil {
		// Keep the record in its transaction, if it can be told, so that
		// the transaction's other collections are not held back forever.
		dr.d = salvageTxn(dr.spec.Envelope, m.Value)
	}
	return dr
}

// newRec returns a record cut from a slab: records are many and short
// lived (released within a few polls), so one allocation serves many.
func (a *Assembler) newRec() *rec {
	if len(a.recs) == 0 {
		a.recs = make([]rec, 256)
	}
	r := &a.recs[0]
	a.recs = a.recs[1:]
	return r
}

// add records a decoded record: status, errors, and its place among the
// pending records of its partition and in its transaction.
func (a *Assembler) add(m *Message, dr *decodedRec) {
	k := tp{m.Topic, m.Partition}
	l := a.partLog(k)
	if l == nil {
		a.AddPartition(m.Topic, m.Partition, m.Offset)
		l = a.partLog(k)
	}
	if m.Offset < l.next {
		return // already read (a re-fetch after a reconnect)
	}
	l.next = m.Offset + 1
	if l.hwm < l.next {
		l.hwm = l.next
	}
	r := a.newRec()
	*r = rec{tp: k, offset: m.Offset}
	l.pending = append(l.pending, r)
	if m.Topic == a.cfg.TxnTopic {
		a.pushTxnRecord(r, m)
		return
	}
	if dr.spec == nil {
		r.done = true
		return
	}
	r.spec = dr.spec
	st := a.status[r.spec.ID]
	st.MessagesRead++
	st.BytesRead += int64(len(m.Key) + len(m.Value))
	if st.State == StateStarting {
		st.State = StateRunning
	}
	if dr.err != nil {
		a.fail(&SourceError{Collection: r.spec.ID, Source: r.spec.Name, Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Err: dr.err})
	}
	r.d = dr.d
	a.noteSnapshot(r)
	a.assign(r)
}

// salvageTxn reads the transaction fields of a record that failed to
// decode, so the record still counts towards its transaction.
func salvageTxn(env Envelope, value []byte) decoded {
	out := decoded{skip: true, xoffset: -1}
	switch env {
	case EnvelopeDebezium:
		payload, _, err := splitEnvelope(value)
		if err != nil {
			return out
		}
		var ev struct {
			Source      debeziumSource `json:"source"`
			Transaction *struct {
				ID string `json:"id"`
			} `json:"transaction"`
		}
		if json.Unmarshal(payload, &ev) == nil && ev.Transaction != nil {
			out.txnID = ev.Transaction.ID
			out.collection = debeziumCollection(ev.Source)
		}
	case EnvelopeMaxwell:
		var ev maxwellEvent
		if json.Unmarshal(value, &ev) == nil && !isNull(ev.XID) {
			out.txnID = strings.Trim(string(ev.XID), `"`)
			out.commit = ev.Commit
			if ev.XOffset != nil {
				out.xoffset = *ev.XOffset
			}
			out.collection = ev.Database + "." + ev.Table
		}
	}
	return out
}

func (a *Assembler) txnFor(id string) *txn {
	t, ok := a.txns[id]
	if !ok {
		t = &txn{id: id, seen: map[string]int64{}, want: -1}
		a.txns[id] = t
	}
	return t
}

// assign attaches a data record to its transaction, per envelope.
func (a *Assembler) assign(r *rec) {
	switch {
	case a.envelope == EnvelopeDebezium && a.cfg.TxnTopic != "" && r.d.txnID != "" && r.spec.Envelope == EnvelopeDebezium:
		t := a.txnFor(r.d.txnID)
		r.owner = t
		t.recs = append(t.recs, r)
		coll := debeziumCollectionOf(r.spec)
		t.seen[coll]++
	case a.envelope == EnvelopeMaxwell && r.d.txnID != "" && r.spec.Envelope == EnvelopeMaxwell:
		t := a.txnFor(r.d.txnID)
		r.owner = t
		t.recs = append(t.recs, r)
		if r.d.commit && !t.committed {
			t.committed = true
			if r.d.xoffset >= 0 {
				t.want = r.d.xoffset + 1
			}
		}
	case a.envelope == EnvelopeCockroach && r.spec.Envelope == EnvelopeCockroach:
		if r.d.resolved {
			if cur := a.resolved[r.tp]; r.d.hlc.compare(cur) > 0 {
				a.resolved[r.tp] = r.d.hlc
			}
			r.done = true
			return
		}
		if r.d.skip || r.d.txnID == "" {
			return // released alone
		}
		if r.d.hlc.compare(a.releasedHLC) <= 0 {
			// Re-delivered after a restart (changefeeds are at least
			// once): its transaction was released before.
			r.done = true
			return
		}
		t, ok := a.txns[r.d.txnID]
		if !ok {
			t = a.txnFor(r.d.txnID)
			t.hlc = r.d.hlc
			heap.Push(&a.byHLC, t)
		}
		r.owner = t
		t.recs = append(t.recs, r)
	}
}

func (a *Assembler) pushTxnRecord(r *rec, m *Message) {
	if m.Value == nil {
		r.done = true // a tombstone of the metadata topic
		return
	}
	tr, err := decodeTxnRecord(m.Value)
	if err != nil {
		// No collection owns the metadata topic: every source reading
		// through it is affected.
		for _, s := range a.cfg.Sources {
			a.fail(&SourceError{Collection: s.ID, Source: s.Name, Topic: m.Topic, Partition: m.Partition, Offset: m.Offset,
				Err: fmt.Errorf("transaction metadata: %w", err)})
		}
		return
	}
	t := a.txnFor(tr.ID)
	r.owner = t
	t.recs = append(t.recs, r)
	if tr.Status == "END" && !t.ended {
		t.ended = true
		t.expected = map[string]int64{}
		for _, dc := range tr.DataCollections {
			if a.ingestedColl[dc.DataCollection] {
				t.expected[dc.DataCollection] = dc.EventCount
			}
		}
		a.queue = append(a.queue, t)
	}
}

// complete reports whether t has every record it will ever have here.
func (a *Assembler) complete(t *txn) bool {
	switch a.envelope {
	case EnvelopeDebezium:
		if !t.ended {
			return false
		}
		for c, n := range t.expected {
			if t.seen[c] < n {
				return false
			}
		}
		return true
	case EnvelopeMaxwell:
		if !t.committed {
			return false
		}
		return t.want < 0 || int64(len(t.recs)) >= t.want
	}
	return false
}

// atHeads reports whether t's records are the first pending records of
// each of their partitions: releasing t then keeps every partition's
// released records a prefix, so checkpoints never skip a record.
func (a *Assembler) atHeads(t *txn) bool {
	// Transactions have few records: count them per partition in a small
	// slice rather than a map.
	type need struct {
		l *partLog
		n int
	}
	var buf [8]need
	needs := buf[:0]
	for _, r := range t.recs {
		l := a.parts[r.tp]
		found := false
		for i := range needs {
			if needs[i].l == l {
				needs[i].n++
				found = true
				break
			}
		}
		if !found {
			l.trim()
			if len(l.pending) == 0 || l.pending[0].owner != t {
				return false // fast path: another record heads the partition
			}
			needs = append(needs, need{l, 1})
		}
	}
	for _, nd := range needs {
		n := nd.n
		for _, p := range nd.l.pending {
			if n == 0 {
				break
			}
			if p.done {
				continue
			}
			if p.owner != t {
				return false
			}
			n--
		}
	}
	return true
}

// frontierHLC is the least resolved timestamp over every partition of the
// CockroachDB topics: every row at or below it has been read.
func (a *Assembler) frontierHLC() (hlc, bool) {
	var min hlc
	first := true
	for _, k := range a.partList {
		if len(a.byTopic[k.topic]) == 0 || a.byTopic[k.topic][0].Envelope != EnvelopeCockroach {
			continue
		}
		h, ok := a.resolved[k]
		if !ok {
			return hlc{}, false
		}
		if first || h.compare(min) < 0 {
			min, first = h, false
		}
	}
	return min, !first
}

// nextTxn returns the transaction to release next, if it is ready.
func (a *Assembler) nextTxn() *txn {
	switch a.envelope {
	case EnvelopeDebezium:
		// END records come in commit order: release strictly in it.
		if len(a.queue) == 0 {
			return nil
		}
		t := a.queue[0]
		if a.complete(t) && a.atHeads(t) {
			return t
		}
	case EnvelopeCockroach:
		if len(a.byHLC) == 0 {
			return nil
		}
		f, ok := a.frontierHLC()
		if !ok {
			return nil
		}
		if t := a.byHLC[0]; t.hlc.compare(f) <= 0 {
			return t
		}
	}
	return nil
}

// releaseMaxwell releases every committed Maxwell transaction whose
// records head their partitions. Commit records of transactions spread
// over several topics may arrive out of commit order, so transactions are
// not served from a queue: only a transaction that owns the head record of
// some partition can be at the head of all of its partitions, so the heads
// are the candidates. Transactions that share a partition are released in
// their order there (commit order per key); ones that share none commute.
func (a *Assembler) releaseMaxwell() bool {
	progress := false
	for again := true; again; {
		again = false
		for _, k := range a.partList {
			l := a.parts[k]
			l.trim()
			if len(l.pending) == 0 || l.pending[0].owner == nil {
				continue
			}
			if t := l.pending[0].owner; a.complete(t) && a.atHeads(t) {
				a.flushBatch()
				a.releaseTxn(t)
				a.releaseLoose()
				progress, again = true, true
			}
		}
	}
	return progress
}

// Release returns the Units that are complete, in commit order, and the
// errors found since the last call.
func (a *Assembler) Release() ([]Unit, []*SourceError) {
	for {
		progress := a.releaseSnapshot(false)
		progress = a.releaseLoose() || progress
		if a.envelope == EnvelopeMaxwell {
			if !a.releaseMaxwell() && !progress {
				break
			}
			continue
		}
		t := a.nextTxn()
		if t == nil {
			if !progress {
				break
			}
			continue
		}
		a.flushBatch()
		a.releaseTxn(t)
	}
	a.flushBatch()
	if a.Pending() == 0 {
		// Every record decoded so far is released: the rows the
		// workers kept (workspace.keep) are copied into units or
		// dropped.
		for _, w := range a.ws {
			w.recycleRows()
		}
	}
	units, errs := a.units, a.errs
	a.units, a.errs = nil, nil
	return units, errs
}

// releaseLoose releases records that belong to no transaction and are at
// the head of their partition into the current batch.
func (a *Assembler) releaseLoose() bool {
	progress := false
	for _, k := range a.partList {
		l := a.parts[k]
		for {
			l.trim()
			if len(l.pending) == 0 || l.pending[0].owner != nil || l.pending[0].d.snap != 0 {
				// Snapshot reads wait to be released together
				// (releaseSnapshot).
				break
			}
			r := l.pending[0]
			if a.batch == nil {
				a.batch = &Unit{Updates: map[CollectionID][]Update{}}
			}
			a.applyRec(a.batch, r)
			r.done, r.d = true, decoded{} // its rows are in the unit now
			a.batch.Records++
			progress = true
		}
	}
	return progress
}

func (a *Assembler) applyRec(u *Unit, r *rec) {
	for _, o := range r.d.ops {
		st := a.state(o.coll)
		if !st.tracked {
			// Append-only (ENVELOPE NONE): the row is packed into the
			// unit's slab for its collection, which the coordinator
			// hands to the input as it is.
			if o.after != nil {
				a.pack(u, o.coll, o.after)
			}
			continue
		}
		out, err := st.apply(o, u.Updates[o.coll])
		if err != nil {
			s := a.specOf(o.coll)
			a.fail(&SourceError{Collection: o.coll, Source: s.Name, Topic: r.tp.topic, Partition: r.tp.partition, Offset: r.offset, Err: err})
			continue
		}
		u.Updates[o.coll] = out
	}
}

func (a *Assembler) releaseTxn(t *txn) {
	u := Unit{Updates: map[CollectionID][]Update{}, TxnID: t.id}
	// Records are in arrival order, which is offset order per partition;
	// a key lives in one partition, so per key this is commit order.
	// Metadata records carry no ops.
	for _, r := range t.recs {
		a.applyRec(&u, r)
		r.done, r.d = true, decoded{} // its rows are in the unit now
		u.Records++
	}
	delete(a.txns, t.id)
	if len(a.queue) > 0 && a.queue[0] == t {
		a.queue[0] = nil
		a.queue = a.queue[1:] // Debezium releases only the queue's head
	}
	if a.envelope == EnvelopeCockroach {
		heap.Pop(&a.byHLC) // t is the least
		if t.hlc.compare(a.releasedHLC) > 0 {
			a.releasedHLC = t.hlc
		}
	}
	a.finish(&u)
}

func (a *Assembler) flushBatch() {
	if a.batch == nil {
		return
	}
	u := a.batch
	a.batch = nil
	a.finish(u)
}

// packSize is what one collection's rows took in a unit.
type packSize struct{ rows, bytes int }

// maxPacked bounds a collection's slab in one unit (row ends are uint32):
// past it the unit's rows of that collection go on as Updates.
var maxPacked = 1 << 30

// pack appends an inserted row of an untracked collection to the unit:
// to its packed slab, sized from the last unit's, or to its Updates once
// the slab is full.
//
// row may be cut from a decode worker's slab (workspace.keep), reused
// once every record is released: it is copied, never kept.
func (a *Assembler) pack(u *Unit, coll CollectionID, row repr.Row) {
	if us, ok := u.Updates[coll]; ok {
		u.Updates[coll] = append(us, Update{Row: slices.Clone(row), Diff: 1})
		return
	}
	p := u.Packed[coll]
	if p == nil {
		if u.Packed == nil {
			u.Packed = map[CollectionID]*PackedRows{}
		}
		hint := a.packHint[coll]
		p = &PackedRows{Data: make([]byte, 0, hint.bytes+hint.bytes/4), Ends: make([]uint32, 0, hint.rows+hint.rows/4)}
		p.Diffs = make([]repr.Diff, 0, cap(p.Ends))
		u.Packed[coll] = p
	}
	if len(p.Data)+len(row) > maxPacked {
		u.Updates[coll] = append(p.Updates(), Update{Row: slices.Clone(row), Diff: 1})
		delete(u.Packed, coll)
		return
	}
	p.Data = append(p.Data, row...)
	p.Ends = append(p.Ends, uint32(len(p.Data)))
	p.Diffs = append(p.Diffs, 1)
}

// finish stamps the unit's checkpoint and queues it. Units whose records
// produced no updates still advance the checkpoint; consecutive empty ones
// are merged.
func (a *Assembler) finish(u *Unit) {
	for id, us := range u.Updates {
		if len(us) == 0 {
			delete(u.Updates, id)
			continue
		}
		st := a.status[id]
		st.UpdatesEmitted += int64(len(us))
		st.UnitsEmitted++
	}
	for id, p := range u.Packed {
		if a.packHint == nil {
			a.packHint = map[CollectionID]packSize{}
		}
		a.packHint[id] = packSize{rows: p.Len(), bytes: len(p.Data)}
		st := a.status[id]
		st.UpdatesEmitted += int64(p.Len())
		st.UnitsEmitted++
	}
	u.Checkpoint = a.Checkpoint()
	if n := len(a.units); n > 0 && u.empty() && a.units[n-1].empty() {
		a.units[n-1].Checkpoint = u.Checkpoint
		a.units[n-1].Records += u.Records
		return
	}
	a.units = append(a.units, *u)
}

// Checkpoint returns the current resume point: per partition the first
// record not yet released.
func (a *Assembler) Checkpoint() Checkpoint {
	c := Checkpoint{Positions: make([]Position, 0, len(a.partList))}
	for _, k := range a.partList {
		c.Positions = append(c.Positions, Position{Topic: k.topic, Partition: k.partition, Offset: a.parts[k].frontier()})
	}
	if a.envelope == EnvelopeCockroach && !a.releasedHLC.isZero() {
		c.Token = a.releasedHLC.String()
	}
	return c
}

// Pending returns the number of records read but not yet released.
func (a *Assembler) Pending() int {
	n := 0
	for _, l := range a.parts {
		l.trim()
		for _, r := range l.pending {
			if !r.done {
				n++
			}
		}
	}
	return n
}

// Desc returns a collection's relation, once known (a Debezium source
// without declared columns learns it from its first event).
func (a *Assembler) Desc(id CollectionID) (d repr.RelationDesc, ok bool) {
	dec, found := a.decoders[id]
	if !found {
		return d, false
	}
	return dec.desc()
}

// KeyColumns returns the columns the collection's decoder keys its rows by
// (nil: none), and whether the collection keeps state at all (every
// envelope but NONE).
func (a *Assembler) KeyColumns(id CollectionID) ([]int, bool) {
	dec, found := a.decoders[id]
	if !found || !dec.tracked() {
		return nil, false
	}
	return dec.keyCols(), true
}

// MarkRunning moves every collection still starting to running: the reader
// has found its topics and reads them, whether or not messages arrive.
func (a *Assembler) MarkRunning() {
	for _, st := range a.status {
		if st.State == StateStarting {
			st.State = StateRunning
		}
	}
}

// Status returns every collection's status, ordered by collection id.
func (a *Assembler) Status() []Status {
	var out []Status
	pending := a.Pending()
	for _, s := range a.cfg.Sources {
		st := *a.status[s.ID]
		st.Offsets = nil
		for _, k := range a.partList {
			if k.topic != s.Topic && k.topic != a.cfg.TxnTopic {
				continue
			}
			l := a.parts[k]
			next := l.next
			st.Offsets = append(st.Offsets, PartitionStatus{Topic: k.topic, Partition: k.partition, NextOffset: next, HighWatermark: l.hwm, Lag: max(0, l.hwm-next)})
		}
		st.PendingRecords = pending
		st.HeldTransactions = len(a.txns)
		out = append(out, st)
	}
	slices.SortFunc(out, func(x, y Status) int { return cmp.Compare(x.Collection, y.Collection) })
	return out
}

// hlcHeap orders CockroachDB transactions by HLC.
type hlcHeap []*txn

func (h hlcHeap) Len() int           { return len(h) }
func (h hlcHeap) Less(i, j int) bool { return h[i].hlc.compare(h[j].hlc) < 0 }
func (h hlcHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *hlcHeap) Push(x any)        { *h = append(*h, x.(*txn)) }
func (h *hlcHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	*h = old[:len(old)-1]
	return t
}
