package loadgen

import (
	"math"
	"math/bits"
	"strconv"
	"unsafe"

	"github.com/viewd/viewd/repr"
)

// nexmark is NEXMARK's online auction in the standard model of the
// Nexmark benchmark's generator (Apache Beam's NexmarkGenerator, which
// Flink's and Feldera's Nexmark suites also use):
//
//   - of every 50 events, 1 person, 3 auctions and 46 bids, in that order
//     (event n is a person when n%50 == 0, an auction when n%50 is 1-3);
//   - person and auction ids are consecutive from 1000; an auction's seller
//     and a bid's bidder are a hot person (the latest multiple of 100) 3
//     times in 4, else one of the 1,000 latest persons (up to 10 ahead of
//     the newest: the model lets events refer to persons not yet seen); a
//     bid's auction is a hot auction (the latest multiple of 100) 1 time in
//     2, else one of the 100 auctions in flight (or up to 10 ahead);
//   - event n's timestamp is Epoch + n*TickInterval (the inter-event
//     delay); an auction expires a random time within twice the span of
//     the 1,666 events in which its 100 successors are created;
//   - prices are round(10^(6u)*100) for a uniform u; categories 10-14; a
//     bid's channel is one of four hot channels 1 time in 2, else one of
//     10,000; names, e-mails, cities, states and credit cards as the model
//     draws them; `extra` pads each event to the model's average sizes
//     (person 200, auction 500, bid 100 bytes).
//
// As in the model, each event is drawn from a random stream seeded by its
// number (and Seed), so event n is computed without the events before it:
// the machine has no state, and seek is free.
type nexmark struct {
	opts    Options
	epochNs int64
	delayNs int64
	// scratch for strings built per event
	buf []byte
}

const (
	nexPerson = iota
	nexAuction
	nexBid
)

// The model's constants (Beam's GeneratorConfig and generator classes).
const (
	nexPersonProportion  = 1
	nexAuctionProportion = 3
	nexBidProportion     = 46
	nexTotalProportion   = nexPersonProportion + nexAuctionProportion + nexBidProportion
	nexFirstPersonID     = 1000
	nexFirstAuctionID    = 1000
	nexFirstCategoryID   = 10
	nexNumCategories     = 5
	nexActivePeople      = 1000
	nexInFlightAuctions  = 100
	nexPersonIDLead      = 10
	nexAuctionIDLead     = 10
	nexHotSellerRatio    = 100
	nexHotAuctionRatio   = 100
	nexHotBidderRatio    = 100
	nexHotSellersRatio   = 4 // a hot seller 3 times in 4
	nexHotAuctionsRatio  = 2 // a hot auction 1 time in 2
	nexHotBiddersRatio   = 4 // a hot bidder 3 times in 4
	nexHotChannelsRatio  = 2
	nexChannels          = 10_000
	nexAvgPersonBytes    = 200
	nexAvgAuctionBytes   = 500
	nexAvgBidBytes       = 100
)

var (
	nexCities     = []string{"Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland", "Bend", "Redmond", "Seattle", "Kent", "Cheyenne"}
	nexStates     = []string{"AZ", "CA", "ID", "OR", "WA", "WY"}
	nexFirstNames = []string{"Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter"}
	nexLastNames  = []string{"Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris"}
	nexHotChans   = []string{"Google", "Facebook", "Baidu", "Apple"}
	nexHotURLs    = []string{"https://www.nexmark.com/googl/item.htm?query=1", "https://www.nexmark.com/faceb/item.htm?query=1",
		"https://www.nexmark.com/baidu/item.htm?query=1", "https://www.nexmark.com/apple/item.htm?query=1"}
)

func newNexmark(opts Options) *nexmark {
	return &nexmark{opts: opts, epochNs: opts.Epoch.UnixNano(), delayNs: opts.TickInterval.Nanoseconds()}
}

func (n *nexmark) collections() []Collection {
	ts := repr.TypeTimestampTz
	return []Collection{
		{Name: "person", Desc: desc([]int{0}, "id", repr.TypeInt8, "name", repr.TypeText, "email_address", repr.TypeText, "credit_card", repr.TypeText,
			"city", repr.TypeText, "state", repr.TypeText, "date_time", ts, "extra", repr.TypeText)},
		{Name: "auction", Desc: desc([]int{0}, "id", repr.TypeInt8, "item_name", repr.TypeText, "description", repr.TypeText, "initial_bid", repr.TypeInt8,
			"reserve", repr.TypeInt8, "date_time", ts, "expires", ts, "seller", repr.TypeInt8, "category", repr.TypeInt8, "extra", repr.TypeText)},
		{Name: "bid", Desc: desc(nil, "auction", repr.TypeInt8, "bidder", repr.TypeInt8, "price", repr.TypeInt8, "channel", repr.TypeText,
			"url", repr.TypeText, "date_time", ts, "extra", repr.TypeText)},
	}
}

// seek is free: events do not depend on the ones before.
func (n *nexmark) seek(int64) {}

// nexKind is the kind of event number e.
func nexKind(e int64) int {
	switch off := e % nexTotalProportion; {
	case off < nexPersonProportion:
		return nexPerson
	case off < nexPersonProportion+nexAuctionProportion:
		return nexAuction
	}
	return nexBid
}

// lastPerson is the base-0 id of the latest person at or before event e.
func lastPerson(e int64) int64 {
	epoch, off := e/nexTotalProportion, e%nexTotalProportion
	if off >= nexPersonProportion {
		off = nexPersonProportion - 1
	}
	return epoch*nexPersonProportion + off
}

// lastAuction is the base-0 id of the latest auction at or before event e
// (-1 before the first).
func lastAuction(e int64) int64 {
	epoch, off := e/nexTotalProportion, e%nexTotalProportion
	switch {
	case off < nexPersonProportion:
		epoch--
		off = nexAuctionProportion - 1
	case off >= nexPersonProportion+nexAuctionProportion:
		off = nexAuctionProportion - 1
	default:
		off -= nexPersonProportion
	}
	return epoch*nexAuctionProportion + off
}

// nextPerson is a base-0 person id for event e: one of the active people,
// or a little ahead of the newest.
func nextPerson(r *splitmix, e int64) int64 {
	people := lastPerson(e) + 1
	active := min(people, nexActivePeople)
	return people - active + r.int63n(active+nexPersonIDLead)
}

// nextAuction is a base-0 auction id for event e: one in flight, or a
// little ahead of the newest.
func nextAuction(r *splitmix, e int64) int64 {
	hi := lastAuction(e)
	lo := max(hi-nexInFlightAuctions, 0)
	return lo + r.int63n(hi-lo+1+nexAuctionIDLead)
}

// price is the model's price: round(10^(6u) * 100).
func price(r *splitmix) int64 { return int64(math.Round(math.Pow(10, r.float64()*6) * 100)) }

// micros is event e's timestamp.
func (n *nexmark) micros(e int64) int64 { return (n.epochNs + e*n.delayNs) / 1000 }

func (n *nexmark) tick(e int64, b *batch) {
	r := &splitmix{s: uint64(n.opts.Seed)*0x9E3779B97F4A7C15 ^ uint64(e)}
	r.next()
	at := n.micros(e)
	switch nexKind(e) {
	case nexPerson:
		name := pick2(r, nexFirstNames) + " " + pick2(r, nexLastNames)
		n.buf = r.appendString(n.buf[:0], 7)
		n.buf = append(n.buf, '@')
		n.buf = r.appendString(n.buf, 5)
		n.buf = append(n.buf, ".com"...)
		email := string(n.buf)
		n.buf = n.buf[:0]
		for i := 0; i < 4; i++ {
			if i > 0 {
				n.buf = append(n.buf, ' ')
			}
			v := r.intn(10000)
			n.buf = append(n.buf, byte('0'+v/1000), byte('0'+v/100%10), byte('0'+v/10%10), byte('0'+v%10))
		}
		card := string(n.buf)
		city, state := pick2(r, nexCities), pick2(r, nexStates)
		size := 8 + len(name) + len(email) + len(card) + len(city) + len(state)
		b.begin(nexPerson)
		b.push(i8(lastPerson(e) + nexFirstPersonID))
		b.push(txt(name))
		b.push(txt(email))
		b.push(txt(card))
		b.push(txt(city))
		b.push(txt(state))
		b.push(repr.TimestampTzDatum(at))
		n.pushExtra(b, r, size, nexAvgPersonBytes)
		b.end(1)
	case nexAuction:
		seller := nextPerson(r, e)
		if r.intn(nexHotSellersRatio) > 0 {
			seller = lastPerson(e) / nexHotSellerRatio * nexHotSellerRatio
		}
		category := int64(nexFirstCategoryID + r.intn(nexNumCategories))
		initial := price(r)
		// The auction lasts up to twice the time its 100 successors take
		// to appear.
		horizon := (n.micros(e+nexInFlightAuctions*nexTotalProportion/nexAuctionProportion) - at) / 1000
		expires := at + (1+r.int63n(max(horizon*2, 1)))*1000
		n.buf = r.appendString(n.buf[:0], 20)
		item := string(n.buf)
		n.buf = r.appendString(n.buf[:0], 100)
		descr := string(n.buf)
		reserve := initial + price(r)
		size := 8 + len(item) + len(descr) + 8 + 8 + 8 + 8 + 8
		b.begin(nexAuction)
		b.push(i8(lastAuction(e) + nexFirstAuctionID))
		b.push(txt(item))
		b.push(txt(descr))
		b.push(i8(initial))
		b.push(i8(reserve))
		b.push(repr.TimestampTzDatum(at))
		b.push(repr.TimestampTzDatum(expires))
		b.push(i8(seller + nexFirstPersonID))
		b.push(i8(category))
		n.pushExtra(b, r, size, nexAvgAuctionBytes)
		b.end(1)
	default:
		auction := nextAuction(r, e)
		if r.intn(nexHotAuctionsRatio) > 0 {
			auction = lastAuction(e) / nexHotAuctionRatio * nexHotAuctionRatio
		}
		bidder := nextPerson(r, e)
		if r.intn(nexHotBiddersRatio) > 0 {
			bidder = lastPerson(e)/nexHotBidderRatio*nexHotBidderRatio + 1
		}
		pr := price(r)
		b.begin(nexBid)
		b.push(i8(auction + nexFirstAuctionID))
		b.push(i8(bidder + nexFirstPersonID))
		b.push(i8(pr))
		if r.intn(nexHotChannelsRatio) > 0 {
			i := r.intn(len(nexHotChans))
			b.push(txt(nexHotChans[i]))
			b.push(txt(nexHotURLs[i]))
		} else {
			// Built in the scratch buffer and pushed at once: no string
			// is allocated for them.
			c := r.intn(nexChannels)
			n.buf = strconv.AppendInt(append(n.buf[:0], "channel-"...), int64(c), 10)
			b.push(scratchText(n.buf))
			n.buf = append(n.buf[:0], "https://www.nexmark.com/"...)
			n.buf = r.appendString(n.buf, 5)
			n.buf = append(n.buf, "/item.htm?query=1&channel_id="...)
			n.buf = strconv.AppendInt(n.buf, int64(c), 10)
			b.push(scratchText(n.buf))
		}
		b.push(repr.TimestampTzDatum(at))
		n.pushExtra(b, r, 8+8+8+8, nexAvgBidBytes)
		b.end(1)
	}
}

// pushExtra pushes the model's padding: random letters bringing an event
// of size bytes to about avg (within 20%), or "" when it is already past.
func (n *nexmark) pushExtra(b *batch, r *splitmix, size, avg int) {
	if size > avg {
		b.push(txt(""))
		return
	}
	want := avg - size
	delta := int(math.Round(float64(want) * 0.2))
	l := want - delta
	if delta > 0 {
		l += r.intn(2 * delta)
	}
	n.buf = r.appendLetters(n.buf[:0], l)
	b.push(scratchText(n.buf))
}

// scratchText is a text datum aliasing b, for pushing at once: it must
// not outlive the next change to b.
func scratchText(b []byte) repr.Datum {
	if len(b) == 0 {
		return txt("")
	}
	return repr.TextDatum(unsafe.String(&b[0], len(b)))
}

func pick2(r *splitmix, xs []string) string { return xs[r.intn(len(xs))] }

// splitmix is SplitMix64: a small, fast, seedable random stream, one per
// event.
type splitmix struct{ s uint64 }

func (r *splitmix) next() uint64 {
	r.s += 0x9E3779B97F4A7C15
	z := r.s
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

// int63n returns a uniform value in [0, n); n > 0.
func (r *splitmix) int63n(n int64) int64 {
	hi, _ := bits.Mul64(r.next(), uint64(n))
	return int64(hi)
}

func (r *splitmix) intn(n int) int { return int(r.int63n(int64(n))) }

// float64 returns a uniform value in [0, 1).
func (r *splitmix) float64() float64 { return float64(r.next()>>11) / (1 << 53) }

// appendString appends the model's random string: 1 to max-1 characters,
// lowercase letters with a space about one time in 13.
func (r *splitmix) appendString(buf []byte, maxLen int) []byte {
	l := 1 + r.intn(maxLen-1)
	for i := 0; i < l; i++ {
		v := r.next()
		if v%13 == 0 {
			buf = append(buf, ' ')
		} else {
			buf = append(buf, byte('a'+(v>>8)%26))
		}
	}
	return buf
}

// appendLetters appends l random lowercase letters: a run of the letter
// pool at a random place (drawing every letter would cost half the
// event).
func (r *splitmix) appendLetters(buf []byte, l int) []byte {
	for l > 0 {
		k := min(l, len(letterPool)/2)
		off := r.intn(len(letterPool) - k)
		buf = append(buf, letterPool[off:off+k]...)
		l -= k
	}
	return buf
}

// letterPool is 8 KiB of random lowercase letters, the same in every run.
var letterPool = func() []byte {
	r := &splitmix{s: 42}
	b := make([]byte, 8<<10)
	for i := range b {
		b[i] = byte('a' + r.next()%26)
	}
	return b
}()
