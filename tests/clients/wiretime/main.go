// Command wiretime is a pgwire proxy that measures a server's time per
// client round trip, over the wire: from the first message a client sends
// after the server was ready until the server's next ReadyForQuery. It
// prints one line per round trip:
//
//	connection-number  start-unix-µs  milliseconds  statements
//
// where statements are the round trip's Query texts ("Q:") and Parse texts
// ("P:"), whitespace collapsed. A client's own time (process start, driver
// work between round trips) is not counted, so the figures compare servers,
// not clients. Statements of the form SELECT 'mark NAME' delimit calls:
// the -sum flag, given a file of such lines, prints the median and range
// of each named call's total server time (the round trips after a mark
// and before the next one on the same connection).
//
//	go run ./tests/clients/wiretime -listen 127.0.0.1:27100 -target 127.0.0.1:6875 > rt.log
//	go run ./tests/clients/wiretime -sum rt.log
//
// SSL and GSS encryption requests are declined (the proxy reads the
// protocol in the clear). It is a measuring tool for README's client
// figures, not part of viewd.
package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:27100", "address to listen on")
	target := flag.String("target", "127.0.0.1:6875", "server address")
	sum := flag.String("sum", "", "summarise a log of round trips by marked call, then exit")
	flag.Parse()
	if *sum != "" {
		if err := summarise(*sum, os.Stdout); err != nil {
			log.Fatalf("wiretime: %v", err)
		}
		return
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("wiretime: %v", err)
	}
	var out sync.Mutex
	for id := 1; ; id++ {
		c, err := ln.Accept()
		if err != nil {
			log.Fatalf("wiretime: %v", err)
		}
		go proxy(c, *target, id, &out)
	}
}

// readMsg reads one message: typed (a type byte, then length and body) or
// untyped (the startup packet's length and body).
func readMsg(r *bufio.Reader, typed bool) (byte, []byte, error) {
	var t byte
	if typed {
		b, err := r.ReadByte()
		if err != nil {
			return 0, nil, err
		}
		t = b
	}
	var lb [4]byte
	if _, err := io.ReadFull(r, lb[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(lb[:])
	if n < 4 || n > 1<<30 {
		return 0, nil, errors.New("bad message length")
	}
	body := make([]byte, n-4)
	_, err := io.ReadFull(r, body)
	return t, body, err
}

func frame(t byte, body []byte) []byte {
	var out []byte
	if t != 0 {
		out = append(out, t)
	}
	out = binary.BigEndian.AppendUint32(out, uint32(len(body)+4))
	return append(out, body...)
}

const (
	sslRequest = 80877103
	gssRequest = 80877104
)

// roundTrip is what the client sent since the server was last ready.
type roundTrip struct {
	mu     sync.Mutex
	busy   bool
	ready  bool // the server has been ready once (startup is not timed)
	start  time.Time
	stmts  []string
	connID int
}

func proxy(c net.Conn, target string, id int, out *sync.Mutex) {
	defer c.Close()
	cr := bufio.NewReader(c)
	var startup []byte
	for {
		_, body, err := readMsg(cr, false)
		if err != nil || len(body) < 4 {
			return
		}
		if code := binary.BigEndian.Uint32(body[:4]); code == sslRequest || code == gssRequest {
			if _, err := c.Write([]byte{'N'}); err != nil {
				return
			}
			continue
		}
		startup = body
		break
	}
	s, err := net.Dial("tcp", target)
	if err != nil {
		log.Printf("wiretime: %v", err)
		return
	}
	defer s.Close()
	if _, err := s.Write(frame(0, startup)); err != nil {
		return
	}
	rt := &roundTrip{connID: id}
	go func() {
		defer c.Close()
		sr := bufio.NewReader(s)
		for {
			t, body, err := readMsg(sr, true)
			if err != nil {
				return
			}
			if _, err := c.Write(frame(t, body)); err != nil {
				return
			}
			if t == 'Z' {
				rt.finish(out)
			}
		}
	}()
	for {
		t, body, err := readMsg(cr, true)
		if err != nil {
			return
		}
		rt.begin(t, body)
		if _, err := s.Write(frame(t, body)); err != nil {
			return
		}
	}
}

func (rt *roundTrip) begin(t byte, body []byte) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if !rt.busy {
		rt.busy, rt.start = true, time.Now()
	}
	switch t {
	case 'Q':
		rt.stmts = append(rt.stmts, "Q:"+oneLine(strings.TrimRight(string(body), "\x00")))
	case 'P':
		if parts := strings.SplitN(string(body), "\x00", 3); len(parts) == 3 {
			rt.stmts = append(rt.stmts, "P:"+oneLine(parts[1]))
		}
	}
}

func (rt *roundTrip) finish(out *sync.Mutex) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.busy && rt.ready {
		d := time.Since(rt.start)
		out.Lock()
		fmt.Printf("%d\t%d\t%.3f\t%s\n", rt.connID, rt.start.UnixMicro(), float64(d.Microseconds())/1000, strings.Join(rt.stmts, " ;; "))
		out.Unlock()
	}
	rt.busy, rt.ready, rt.stmts = false, true, nil
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

var markRE = regexp.MustCompile(`SELECT 'mark ([^']*)'`)

// summarise prints, per marked call, how many there were and the median,
// least and greatest total server time.
func summarise(path string, w io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	type open struct {
		name string
		ms   float64
	}
	cur := map[string]*open{}
	calls := map[string][]float64{}
	var names []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), "\t", 4)
		if len(parts) < 4 {
			continue
		}
		conn, stmts := parts[0], parts[3]
		if m := markRE.FindStringSubmatch(stmts); m != nil {
			if o := cur[conn]; o != nil {
				if _, seen := calls[o.name]; !seen {
					names = append(names, o.name)
				}
				calls[o.name] = append(calls[o.name], o.ms)
			}
			cur[conn] = &open{name: m[1]}
			if m[1] == "end" {
				delete(cur, conn)
			}
			continue
		}
		ms, err := strconv.ParseFloat(parts[2], 64)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if o := cur[conn]; o != nil {
			o.ms += ms
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	for _, n := range names {
		v := append([]float64(nil), calls[n]...)
		sort.Float64s(v)
		med := v[len(v)/2]
		if len(v)%2 == 0 {
			med = (v[len(v)/2-1] + v[len(v)/2]) / 2
		}
		fmt.Fprintf(w, "%-24s n=%d median %.1f ms (min %.1f, max %.1f)\n", n, len(v), med, v[0], v[len(v)-1])
	}
	return nil
}
