package sources

import (
	"context"
	"hash/maphash"
	"slices"
	"sync"
)

// Decoding a poll's records in parallel.
//
// A Reader's poll returns records of many partitions at once. PushBatch
// decodes them on the decode workers (DecodeWorkers goroutines, the
// caller's own included), then adds them to the assembler one by one in
// the poll's order, exactly as Push would have: per-partition order,
// transaction assembly, status and errors are those of sequential
// decoding, because decoding reads no assembler state and the assembler's
// state is changed only afterwards, by one goroutine.
//
// Work is split so that every worker gets a share even when one partition
// carries most records: the records of sources whose decoding carries
// nothing from one message to the next (every envelope but DEBEZIUM) are
// cut into contiguous runs, one per worker; a Debezium partition goes
// whole to one worker, always the same (a hash of topic and partition),
// because an event without a schema block takes the semantics of the last
// schema block that worker saw on it.
//
// Memory is bounded by the poll (franz-go's fetch limits): the workers'
// queue is unbuffered and holds one job per worker at most, and results
// go into one slice reused from poll to poll.

// minParallelDecode is the least number of records worth handing to the
// workers; fewer are decoded by the caller.
const minParallelDecode = 128

// decodeJob is one worker's share of a poll: the indexes of its records.
type decodeJob struct {
	a    *Assembler
	msgs []Message
	idx  []int
	w    *workspace
	done *sync.WaitGroup
}

func (j *decodeJob) run() {
	for _, i := range j.idx {
		j.a.decoded[i] = j.a.decodeRecord(&j.msgs[i], j.a.specs[i], j.w)
	}
	j.done.Done()
}

// StartDecoders starts the decode workers; they stop when ctx is
// cancelled. Without them PushBatch decodes on the caller's goroutine.
func (a *Assembler) StartDecoders(ctx context.Context) {
	if len(a.ws) < 2 || a.jobs != nil {
		return
	}
	a.jobs = make(chan *decodeJob)
	for i := 1; i < len(a.ws); i++ {
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case j := <-a.jobs:
					j.run()
				}
			}
		}()
	}
}

var slotSeed = maphash.MakeSeed()

// slotOf returns the worker slot that decodes msgs[i] of n, read by
// specs.
func (a *Assembler) slotOf(m *Message, specs []*SourceSpec, i, n int) int {
	if len(a.ws) == 1 {
		return 0
	}
	if len(specs) > 0 && specs[0].Envelope == EnvelopeDebezium {
		var h maphash.Hash
		h.SetSeed(slotSeed)
		h.WriteString(m.Topic)
		h.WriteByte(byte(m.Partition))
		h.WriteByte(byte(m.Partition >> 8))
		return int(h.Sum64() % uint64(len(a.ws)))
	}
	return i * len(a.ws) / n
}

// PushBatch hands records to the assembler, in offset order per
// partition, as Push would one by one, decoding them on the workers first
// when there are enough of them. ctx bounds the wait for a free worker;
// once cancelled, the remaining work is done on the caller's goroutine.
func (a *Assembler) PushBatch(ctx context.Context, msgs []Message) {
	if len(msgs) == 0 {
		return
	}
	a.specs = slices.Grow(a.specs[:0], len(msgs))[:len(msgs)]
	for i := range msgs {
		a.specs[i] = a.dataSpecs(&msgs[i])
	}
	a.prepareDescs(msgs)
	a.decoded = slices.Grow(a.decoded[:0], len(msgs))[:len(msgs)]
	if a.jobs == nil || len(msgs) < minParallelDecode {
		for i := range msgs {
			if specs := a.specs[i]; len(specs) > 0 {
				a.decoded[i] = a.decodeRecord(&msgs[i], specs, a.ws[a.slotOf(&msgs[i], specs, i, len(msgs))])
			}
		}
	} else {
		a.decodeParallel(ctx, msgs)
	}
	for i := range msgs {
		a.add(&msgs[i], &a.decoded[i])
		a.decoded[i] = decodedRec{}
	}
}

func (a *Assembler) decodeParallel(ctx context.Context, msgs []Message) {
	for len(a.slots) < len(a.ws) {
		a.slots = append(a.slots, nil)
	}
	for s := range a.slots {
		a.slots[s] = a.slots[s][:0]
	}
	for i := range msgs {
		if specs := a.specs[i]; len(specs) > 0 {
			s := a.slotOf(&msgs[i], specs, i, len(msgs))
			a.slots[s] = append(a.slots[s], i)
		}
	}
	var wg sync.WaitGroup
	jobs := make([]decodeJob, len(a.ws))
	for s := range a.ws {
		jobs[s] = decodeJob{a: a, msgs: msgs, idx: a.slots[s], w: a.ws[s], done: &wg}
	}
	for s := 1; s < len(jobs); s++ {
		if len(jobs[s].idx) == 0 {
			continue
		}
		wg.Add(1)
		select {
		case a.jobs <- &jobs[s]:
		case <-ctx.Done():
			jobs[s].run()
		}
	}
	wg.Add(1)
	jobs[0].run()
	wg.Wait()
}

// prepareDescs derives, in record order, the columns of Debezium sources
// declared without them, so that the first event with a schema block
// decides them whichever worker decodes it.
func (a *Assembler) prepareDescs(msgs []Message) {
	for i := range msgs {
		m := &msgs[i]
		if len(a.specs[i]) == 0 || m.Value == nil {
			continue
		}
		for _, s := range a.specs[i] {
			if s.Envelope != EnvelopeDebezium {
				continue
			}
			if dd, ok := a.decoders[s.ID].(*debeziumDecoder); ok && dd.cur.Load() == nil && !isNullText(m.Value) {
				_, _ = dd.descFor(m) // an error is reported when the record is decoded
			}
		}
	}
}
