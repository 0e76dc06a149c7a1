package sources

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
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

// TestMemberLikeAgreesWithMember: matching an expected key in place reads
// an object's members exactly as scanning each key does (keys, whether
// they need unescaping, cursor, errors), whatever key is expected.
func TestMemberLikeAgreesWithMember(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	keys := []string{"a", "ab", "abc", "é", "a b", `a\"b`, `a\u0062`, "a\x01", "a\xff", "", "a\"", "abcdefghijklmnop"}
	wants := []string{"", "a", "ab", "abc", "é", "a b", "abcdefghijklmnop", "abcdefghijklmnopq"}
	for range 20000 {
		var b strings.Builder
		b.WriteString("{")
		for i := range rng.IntN(4) {
			if i > 0 {
				b.WriteString([]string{",", " , ", ",\n"}[rng.IntN(3)])
			}
			b.WriteString(`"` + keys[rng.IntN(len(keys))] + `"` + []string{":", " : "}[rng.IntN(2)] + "1")
		}
		b.WriteString("}")
		doc := []byte(b.String())
		if rng.IntN(4) == 0 {
			doc = doc[:rng.IntN(len(doc)+1)]
		}
		var s1, s2 jsonScanner
		s1.reset(doc)
		s2.reset(doc)
		if s1.peek() != '{' {
			continue
		}
		s1.pos++
		s2.pos++
		for first := true; ; first = false {
			want := wants[rng.IntN(len(wants))]
			if !plainKey(want) {
				t.Fatalf("%q is not a plain key", want)
			}
			k1, p1, ok1, err1 := s1.member(first)
			k2, p2, ok2, isWant, err2 := s2.memberLike(first, want)
			if isWant && string(k2) != want {
				t.Fatalf("%q expecting %q: isWant with key %q", doc, want, k2)
			}
			if string(k1) != string(k2) || p1 != p2 || ok1 != ok2 || fmt.Sprint(err1) != fmt.Sprint(err2) || s1.pos != s2.pos {
				t.Fatalf("%q expecting %q: member %q %v %v %v at %d, memberLike %q %v %v %v at %d", doc, want, k1, p1, ok1, err1, s1.pos, k2, p2, ok2, err2, s2.pos)
			}
			if err1 != nil || !ok1 || s1.skip(1) != nil || s2.skip(1) != nil {
				break
			}
		}
	}
	for _, name := range []string{`a"b`, `a\b`, "a\nb", "a\xffb"} {
		if plainKey(name) {
			t.Errorf("plainKey(%q) = true", name)
		}
	}
}

// TestTrimJSONSpaceLikeBytesTrim: trimJSONSpace is bytes.Trim with JSON's
// whitespace as the cutset, nil results included.
func TestTrimJSONSpaceLikeBytesTrim(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	alphabet := []byte(" \t\r\n\v\fxn\x00")
	for range 20000 {
		b := make([]byte, rng.IntN(8))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		if rng.IntN(10) == 0 {
			b = nil
		}
		got, want := trimJSONSpace(b), bytes.Trim(b, " \t\r\n")
		if !bytes.Equal(got, want) || (got == nil) != (want == nil) {
			t.Fatalf("trimJSONSpace(%q) = %q (nil %v), bytes.Trim %q (nil %v)", b, got, got == nil, want, want == nil)
		}
	}
}
