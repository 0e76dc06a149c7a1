package sources

import (
	"math/rand/v2"
	"testing"
	"unicode/utf8"
)

// TestPlainRun: the eight-bytes-at-a-time scan stops where a byte-by-byte
// one does, for random strings built from the bytes at the edges of each
// class ('"', '\\', control characters, 0x80 and up) at every offset.
func TestPlainRun(t *testing.T) {
	naive := func(b []byte) int {
		for i, c := range b {
			if c == '"' || c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
				return i
			}
		}
		return len(b)
	}
	edges := []byte{0x00, 0x1f, 0x20, 0x21, '"', 0x23, 0x5b, '\\', 0x5d, 'a', 0x7f, 0x80, 0xc3, 0xff, 0x01, 0x02}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		n := rng.IntN(40)
		b := make([]byte, n)
		for i := range b {
			b[i] = 'a' + byte(rng.IntN(26))
		}
		// Zero to three special bytes anywhere.
		for range rng.IntN(4) {
			if n > 0 {
				b[rng.IntN(n)] = edges[rng.IntN(len(edges))]
			}
		}
		if got, want := plainRun(b), naive(b); got != want {
			t.Fatalf("plainRun(%q) = %d, want %d", b, got, want)
		}
	}
}
