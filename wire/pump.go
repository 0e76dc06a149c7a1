package wire

import (
	"context"
	"io"
	"net"
)

// pump reads the client's bytes on its own goroutine so that a closed
// connection is noticed while the connection goroutine is busy executing
// (a SUBSCRIBE that sends nothing for minutes must still stop when its
// client goes away). Bytes read are handed over in order through a bounded
// channel; the bound is the back-pressure on a client that pipelines more
// than the server consumes.
type pump struct {
	ctx    context.Context
	ch     chan []byte
	cur    []byte
	err    error // set before ch is closed
	onDone func(error)
}

const (
	pumpChunk = 32 << 10
	pumpDepth = 16
)

// startPump starts reading nc. onDone is called once, from the pump
// goroutine, when reading fails (EOF, reset, closed by us).
func startPump(ctx context.Context, nc net.Conn, onDone func(error)) *pump {
	p := &pump{ctx: ctx, ch: make(chan []byte, pumpDepth), onDone: onDone}
	go p.run(nc)
	return p
}

func (p *pump) run(nc net.Conn) {
	buf := make([]byte, pumpChunk)
	for {
		n, err := nc.Read(buf)
		if n > 0 {
			chunk := append([]byte(nil), buf[:n]...)
			select {
			case p.ch <- chunk:
			case <-p.ctx.Done():
				p.err = context.Cause(p.ctx)
				close(p.ch)
				return
			}
		}
		if err != nil {
			p.err = err
			close(p.ch)
			p.onDone(err)
			return
		}
	}
}

// Read implements io.Reader for pgproto3. It returns the bytes received in
// order; once they are exhausted it returns the read error, or the
// connection context's cause when that is cancelled first.
func (p *pump) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	for len(p.cur) == 0 {
		var ok bool
		select {
		case p.cur, ok = <-p.ch:
		default:
			select {
			case p.cur, ok = <-p.ch:
			case <-p.ctx.Done():
				return 0, context.Cause(p.ctx)
			}
		}
		if !ok {
			if p.err == nil {
				return 0, io.EOF
			}
			return 0, p.err
		}
	}
	n := copy(b, p.cur)
	p.cur = p.cur[n:]
	return n, nil
}
