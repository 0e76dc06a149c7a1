package e2e

import (
	"bufio"
	"io"
	"strings"
)

// linePipe is an in-memory pipe read line by line.
type linePipe struct {
	r *bufio.Reader
}

func ioPipe() (*linePipe, *io.PipeWriter) {
	r, w := io.Pipe()
	return &linePipe{r: bufio.NewReader(r)}, w
}

func (p *linePipe) ReadLine() (string, error) {
	l, err := p.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(l, "\n"), nil
}
