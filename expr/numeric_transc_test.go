package expr

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/cockroachdb/apd/v3"
)

// randDecimal returns a positive decimal of 1-40 digits with an exponent
// in [-minExp, maxExp].
func randDecimal(rng *rand.Rand, minExp, maxExp int) *apd.Decimal {
	n := 1 + rng.Intn(40)
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + rng.Intn(10))
	}
	b[0] = byte('1' + rng.Intn(9))
	d, _, err := apd.NewFromString(fmt.Sprintf("%se%d", b, rng.Intn(maxExp+minExp+1)-minExp))
	if err != nil {
		panic(err)
	}
	return d
}

// randBelow returns a decimal of either sign, of 1-40 digits, under
// 10^intDigits in magnitude.
func randBelow(rng *rand.Rand, intDigits int) *apd.Decimal {
	d := randDecimal(rng, 0, 0)
	d.Exponent = int32(rng.Intn(intDigits+1)) - int32(d.NumDigits()) - int32(rng.Intn(31))
	d.Negative = rng.Intn(2) == 0
	return d
}

// reference rounds f's value, computed by apd at the given precision, to
// got's scale: an oracle independent of the fixed-point code.
func reference(t *testing.T, got *apd.Decimal, prec uint32, f func(c *apd.Context, d *apd.Decimal) error) *apd.Decimal {
	t.Helper()
	c := apd.BaseContext.WithPrecision(prec)
	c.MaxExponent, c.MinExponent = apd.MaxExponent, apd.MinExponent
	want := new(apd.Decimal)
	if err := f(c, want); err != nil {
		t.Fatal(err)
	}
	c.Rounding = apd.RoundHalfUp
	c.Precision = prec + 50
	if _, err := c.Quantize(want, want, got.Exponent); err != nil {
		t.Fatal(err)
	}
	return want
}

// weightDigits is a precision that covers d's integer digits and scale
// decimal places, plus 30 guard digits.
func weightDigits(d *apd.Decimal, scale int32) uint32 {
	w := int64(d.Exponent) + int64(d.NumDigits())
	return uint32(max(w, 1) + int64(scale) + 30)
}

// TestNumericTranscendentalAgreesWithApd checks ln, log, exp and power
// against apd's slower arbitrary-precision functions on random inputs,
// digit for digit at the scale PostgreSQL's rules give.
func TestNumericTranscendentalAgreesWithApd(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	n := 300
	if testing.Short() {
		n = 60
	}
	for i := 0; i < n; i++ {
		x := randDecimal(rng, 60, 60)
		got := numericLn(x)
		want := reference(t, got, weightDigits(got, -got.Exponent), func(c *apd.Context, d *apd.Decimal) error {
			_, err := c.Ln(d, x)
			return err
		})
		if got.Cmp(want) != 0 || got.Exponent != want.Exponent {
			t.Fatalf("ln(%s) = %s, want %s", x, got, want)
		}

		b := randDecimal(rng, 10, 10)
		if b.Cmp(apd.New(1, 0)) != 0 {
			got, err := numericLog(b, x)
			if err != nil {
				t.Fatalf("log(%s, %s): %v", b, x, err)
			}
			want := reference(t, got, weightDigits(got, -got.Exponent)+20, func(c *apd.Context, d *apd.Decimal) error {
				var lb, lx apd.Decimal
				if _, err := c.Ln(&lb, b); err != nil {
					return err
				}
				if _, err := c.Ln(&lx, x); err != nil {
					return err
				}
				_, err := c.Quo(d, &lx, &lb)
				return err
			})
			if got.Cmp(want) != 0 {
				t.Fatalf("log(%s, %s) = %s, want %s", b, x, got, want)
			}
		}

		e := randBelow(rng, 3)
		gotE, err := numericExp(e)
		if err != nil {
			t.Fatalf("exp(%s): %v", e, err)
		}
		wantE := reference(t, gotE, weightDigits(gotE, -gotE.Exponent), func(c *apd.Context, d *apd.Decimal) error {
			_, err := c.Exp(d, e)
			return err
		})
		if gotE.Cmp(wantE) != 0 {
			t.Fatalf("exp(%s) = %s, want %s", e, gotE, wantE)
		}

		base := randDecimal(rng, 5, 3)
		y := randBelow(rng, 2)
		if !isInt(y) {
			gotP, err := numericPower(base, y)
			if err != nil {
				continue // beyond exp's limit: checked by the .slt tests
			}
			wantP := reference(t, gotP, weightDigits(gotP, -gotP.Exponent), func(c *apd.Context, d *apd.Decimal) error {
				_, err := c.Pow(d, base, y)
				return err
			})
			if gotP.Cmp(wantP) != 0 {
				t.Fatalf("%s ^ %s = %s, want %s", base, y, gotP, wantP)
			}
		}
	}
}

func isInt(d *apd.Decimal) bool {
	var i, f apd.Decimal
	d.Modf(&i, &f)
	return f.IsZero()
}

// TestNumericPowerLargeResult: a power with 2,000 integer digits, the
// input FuzzFrontEnd's engine reported as a hang when apd's Ln took 0.8 s
// for it; every digit agrees with apd.
func TestNumericPowerLargeResult(t *testing.T) {
	x, y := apd.New(10, 0), apd.New(20301, -1)
	got, err := numericPower(x, y)
	if err != nil {
		t.Fatal(err)
	}
	// 2031 integer digits and y's one decimal (power_var's scale).
	if got.NumDigits() != 2032 || got.Exponent != -1 {
		t.Fatalf("10 ^ 2030.1 has %d digits at exponent %d, want 2032 at -1", got.NumDigits(), got.Exponent)
	}
	if testing.Short() {
		return
	}
	want := reference(t, got, 2070, func(c *apd.Context, d *apd.Decimal) error {
		_, err := c.Pow(d, x, y)
		return err
	})
	if got.Cmp(want) != 0 {
		t.Fatalf("10 ^ 2030.1 differs from apd's")
	}
}

func BenchmarkNumericPowerLarge(b *testing.B) {
	x, y := apd.New(10, 0), apd.New(20301, -1)
	for i := 0; i < b.N; i++ {
		if _, err := numericPower(x, y); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNumericLn(b *testing.B) {
	x := apd.New(123456789, -3)
	for i := 0; i < b.N; i++ {
		numericLn(x)
	}
}
