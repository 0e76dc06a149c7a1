package expr

import (
	"math"
	"math/big"
	"math/bits"
	"sync"

	"github.com/cockroachdb/apd/v3"

	"github.com/viewd/viewd/pgcode"
)

// The transcendental numeric functions (ln, log, exp, and power with an
// exponent that is not a small integer) are computed in binary fixed
// point on math/big rather than with apd's Ln and Exp: at the 2,000 and
// more digits that power(10, 2030.1) needs, apd's Ln takes 0.6 s where
// PostgreSQL's ln_var takes 0.06 s, and a statement must not cost a
// second of CPU for a dozen characters of SQL.
//
// A fixed-point value is a *big.Int v standing for v / 2^p; p, its
// fraction bits, travels beside it. Every function below documents the
// absolute error of its result in units of 2^-p (ulps). Callers choose p
// from the decimal scale PostgreSQL's numeric.c chooses for the same
// function (select the result scale, then compute with guard digits and
// round), so the printed digits are PostgreSQL's, except in the rare
// case where the exact value lies within a few ulps of a rounding tie.

const (
	// fixGuard is the guard bits added to every working precision.
	fixGuard = 32
	// lnSteps is how many reduction constants ln(1+2^-j) ln uses:
	// after the reduction the atanh series gains 2*lnSteps bits a term.
	lnSteps = 48
	// bitsPerDigit is log2(10), rounded up.
	bitsPerDigit = 3.3219280948873626
)

// digitBits is the number of bits that hold digits decimal digits, at
// least 0.
func digitBits(digits int64) uint {
	if digits <= 0 {
		return 0
	}
	return uint(math.Ceil(float64(digits) * bitsPerDigit))
}

// lnConsts holds ln(2) and ln(1+2^-j) for j = 1..lnSteps at p fraction
// bits, each with an error under 4 ulps.
type lnConsts struct {
	ln2    *big.Int
	onePls [lnSteps + 1]*big.Int
}

// lnCache keeps the constants per working precision; precisions are
// rounded up to a multiple of 64 bits, so that rows of one query share
// one entry. It is bounded: past lnCacheMax entries it starts over.
var lnCache struct {
	sync.Mutex
	m map[uint]*lnConsts
}

const lnCacheMax = 32

// roundPrec rounds a working precision up to a multiple of 64 bits.
func roundPrec(p uint) uint { return (p + 63) &^ 63 }

// constsAt returns the constants at p fraction bits (p a multiple of 64).
func constsAt(p uint) *lnConsts {
	lnCache.Lock()
	defer lnCache.Unlock()
	if c, ok := lnCache.m[p]; ok {
		return c
	}
	if lnCache.m == nil || len(lnCache.m) >= lnCacheMax {
		lnCache.m = map[uint]*lnConsts{}
	}
	c := &lnConsts{ln2: atanhInv(3, p)}
	c.ln2.Lsh(c.ln2, 1)
	for j := 1; j <= lnSteps; j++ {
		// ln(1+2^-j) = 2 atanh(1/(2^(j+1)+1)).
		v := atanhInv(1<<(j+1)+1, p)
		c.onePls[j] = v.Lsh(v, 1)
	}
	lnCache.m[p] = c
	return c
}

// atanhInv returns atanh(1/q) at p fraction bits, q > 1, by its series
// sum 1/((2i+1) q^(2i+1)); every step is a division by a word, so the
// cost is linear in p per term. Error: under one ulp per term, and the
// guard bits absorb it.
func atanhInv(q uint64, p uint) *big.Int {
	w := p + fixGuard
	pow := new(big.Int).Lsh(big.NewInt(1), w)
	bq := new(big.Int).SetUint64(q)
	pow.Quo(pow, bq)
	hi, q2 := bits.Mul64(q, q)
	bq2 := new(big.Int).SetUint64(q2)
	sum := new(big.Int)
	t := new(big.Int)
	k := new(big.Int)
	for i := uint64(0); pow.Sign() != 0; i++ {
		k.SetUint64(2*i + 1)
		sum.Add(sum, t.Quo(pow, k))
		if hi == 0 {
			pow.Quo(pow, bq2)
		} else {
			pow.Quo(pow, bq)
			pow.Quo(pow, bq)
		}
	}
	return roundShift(sum, fixGuard)
}

// roundShift returns v / 2^n rounded to nearest, ties away from zero.
func roundShift(v *big.Int, n uint) *big.Int {
	if n == 0 {
		return v
	}
	neg := v.Sign() < 0
	a := new(big.Int).Abs(v)
	half := new(big.Int).Lsh(big.NewInt(1), n-1)
	a.Add(a, half)
	a.Rsh(a, n)
	if neg {
		a.Neg(a)
	}
	return a
}

// pow10 returns 10^n, n >= 0.
func pow10(n int64) *big.Int {
	return new(big.Int).Exp(big.NewInt(10), big.NewInt(n), nil)
}

// decimalToFix returns d (finite) at p fraction bits, truncated toward
// zero: an error under one ulp.
func decimalToFix(d *apd.Decimal, p uint) *big.Int {
	v := new(big.Int).Set(d.Coeff.MathBigInt())
	if d.Exponent >= 0 {
		v.Mul(v, pow10(int64(d.Exponent)))
		v.Lsh(v, p)
	} else {
		v.Lsh(v, p)
		v.Quo(v, pow10(-int64(d.Exponent)))
	}
	if d.Negative {
		v.Neg(v)
	}
	return v
}

// fixToDecimal returns v * 2^-p rounded to scale decimal places, half
// away from zero; p may be negative (v * 2^|p|).
func fixToDecimal(v *big.Int, p int64, scale int32) *apd.Decimal {
	n := new(big.Int).Mul(v, pow10(int64(scale)))
	if p <= 0 {
		n.Lsh(n, uint(-p))
	} else {
		n = roundShift(n, uint(p))
	}
	out := &apd.Decimal{Exponent: -scale}
	out.Negative = n.Sign() < 0
	out.Coeff.SetMathBigInt(n.Abs(n))
	return out
}

// lnFix returns ln(d) at p fraction bits for a finite d > 0, with an
// error of a few ulps. d = f * 2^k with f in [1, 2); ln(d) = k ln(2) +
// ln(f). f is brought under 1+2^-lnSteps by dividing out factors 1+2^-j
// (each a division by the word 2^j+1) whose logarithms are constants;
// what is left, ln(f) for f just above 1, is 2 atanh((f-1)/(f+1)), whose
// series then gains 2*lnSteps bits a term.
func lnFix(d *apd.Decimal, p uint) *big.Int {
	num := new(big.Int).Set(d.Coeff.MathBigInt())
	den := big.NewInt(1)
	if d.Exponent >= 0 {
		num.Mul(num, pow10(int64(d.Exponent)))
	} else {
		den = pow10(-int64(d.Exponent))
	}
	k := int64(num.BitLen() - den.BitLen())
	// The working precision covers k*ln(2)'s error and the series' ulps.
	w := roundPrec(p + fixGuard + uint(bits.Len64(uint64(abs64(k)))))
	f := scaleToUnit(num, den, k, w)
	one := new(big.Int).Lsh(big.NewInt(1), w)
	two := new(big.Int).Lsh(one, 1)
	if f.Cmp(two) >= 0 {
		f.Rsh(f, 1)
		k++
	} else if f.Cmp(one) < 0 {
		k--
		f = scaleToUnit(num, den, k, w)
	}
	c := constsAt(w)
	acc := new(big.Int).Mul(c.ln2, big.NewInt(k))
	thr := new(big.Int)
	t := new(big.Int)
	for j := 1; j <= lnSteps; j++ {
		thr.Rsh(one, uint(j))
		thr.Add(thr, one)
		div := new(big.Int).SetUint64(1<<j + 1)
		for f.Cmp(thr) >= 0 {
			// f / (1+2^-j) = f - f/(2^j+1).
			f.Sub(f, t.Quo(f, div))
			acc.Add(acc, c.onePls[j])
		}
	}
	// z = (f-1)/(f+1) < 2^-(lnSteps+1); ln(f) = 2(z + z^3/3 + z^5/5 ...).
	z := new(big.Int).Sub(f, one)
	z.Lsh(z, w)
	z.Quo(z, t.Add(f, one))
	z2 := new(big.Int).Mul(z, z)
	z2.Rsh(z2, w)
	sum := new(big.Int)
	term := z
	k2 := new(big.Int)
	for i := int64(1); term.Sign() != 0; i += 2 {
		sum.Add(sum, t.Quo(term, k2.SetInt64(i)))
		term.Mul(term, z2)
		term.Rsh(term, w)
	}
	acc.Add(acc, sum.Lsh(sum, 1))
	return roundShift(acc, w-p)
}

// scaleToUnit returns num/den * 2^(w-k), truncated.
func scaleToUnit(num, den *big.Int, k int64, w uint) *big.Int {
	s := int64(w) - k
	f := new(big.Int)
	if s >= 0 {
		f.Lsh(num, uint(s))
		return f.Quo(f, den)
	}
	f.Lsh(den, uint(-s))
	return f.Quo(num, f)
}

// expFix returns exp(x) for x at p fraction bits as e * 2^(k-p), e in
// [2^p/sqrt(2), 2^p*sqrt(2)], with a relative error of a few 2^-p
// (plus x's own error). x = k ln(2) + r with |r| <= ln(2)/2; exp(r) is
// the Taylor series of r/2^s squared s times, s about sqrt(p), which
// balances the series' terms against the squarings.
func expFix(x *big.Int, p uint) (*big.Int, int64) {
	s := uint(math.Sqrt(float64(p)))
	w := roundPrec(p + fixGuard + s)
	c := constsAt(w)
	xw := new(big.Int).Lsh(x, w-p)
	q, r := new(big.Int).DivMod(xw, c.ln2, new(big.Int))
	// DivMod's r is in [0, ln2): move it to [-ln2/2, ln2/2].
	if new(big.Int).Lsh(r, 1).Cmp(c.ln2) > 0 {
		q.Add(q, big.NewInt(1))
		r.Sub(r, c.ln2)
	}
	k := q.Int64()
	r.Rsh(r, s)
	one := new(big.Int).Lsh(big.NewInt(1), w)
	sum := new(big.Int).Set(one)
	term := new(big.Int).Set(one)
	n := new(big.Int)
	for i := int64(1); term.Sign() != 0; i++ {
		term.Mul(term, r)
		term.Rsh(term, w)
		term.Quo(term, n.SetInt64(i))
		sum.Add(sum, term)
	}
	for i := uint(0); i < s; i++ {
		sum.Mul(sum, sum)
		sum.Rsh(sum, w)
	}
	return roundShift(sum, w-p), k
}

// lnBits returns the fraction bits that carry a logarithm to scale
// decimal places.
func lnBits(scale int64) uint { return digitBits(scale) + fixGuard }

// numericLn is ln(x) for a finite x > 0 at PostgreSQL's numeric_ln
// scale: 16 significant digits at least, and x's scale.
func numericLn(x *apd.Decimal) *apd.Decimal {
	rscale := clampScale(max(int64(numericMinSigDigits)-estimateLnDweight(x), int64(dscale(x))))
	p := lnBits(int64(rscale))
	return fixToDecimal(lnFix(x, p), int64(p), rscale)
}

// numericLog is log_var(b, x): ln(x)/ln(b) for finite b, x > 0 with
// PostgreSQL's scales: the result's from the estimated weights of the two
// logarithms, and each logarithm to 8 more significant digits than the
// result has.
func numericLog(b, x *apd.Decimal) (*apd.Decimal, error) {
	bw, xw := estimateLnDweight(b), estimateLnDweight(x)
	rw := xw - bw
	rscale := clampScale(max(int64(numericMinSigDigits)-rw, int64(dscale(b)), int64(dscale(x))))
	pb := lnBits(int64(rscale) + rw - bw + 8)
	px := lnBits(int64(rscale) + rw - xw + 8)
	lb := lnFix(b, pb)
	if lb.Sign() == 0 {
		return nil, errDivByZero()
	}
	lx := lnFix(x, px)
	pq := lnBits(int64(rscale))
	// q = (lx/2^px) / (lb/2^pb) at pq bits.
	lx.Lsh(lx, pq+pb)
	lb.Lsh(lb, px)
	q := lx.Quo(lx, lb)
	return fixToDecimal(q, int64(pq), rscale), nil
}

// numericExpLimit is exp_var's guard: |x| >= 6000 overflows (or, for a
// negative x, is zero at the result scale), NUMERIC_MAX_RESULT_SCALE * 3.
const numericExpLimit = 6000

// numericMaxResultScale is NUMERIC_MAX_RESULT_SCALE.
const numericMaxResultScale = numericMaxDispScale * 2

// numericExp is exp(x) for a finite x at PostgreSQL's numeric_exp scale.
func numericExp(x *apd.Decimal) (*apd.Decimal, error) {
	xf, _ := x.Float64()
	val := xf * math.Log10E
	val = min(max(val, -numericMaxResultScale), numericMaxResultScale)
	rscale := clampScale(max(int64(numericMinSigDigits)-int64(val), int64(dscale(x))))
	if math.Abs(xf) >= numericExpLimit {
		if xf > 0 {
			return nil, errNumericOverflow()
		}
		return &apd.Decimal{Exponent: -rscale}, nil
	}
	return expToScale(x, int64(xf*math.Log10E), rscale), nil
}

// expToScale returns exp(x) rounded to rscale decimal places, x finite
// with |x| < numericExpLimit and dweight its estimated decimal weight.
func expToScale(x *apd.Decimal, dweight int64, rscale int32) *apd.Decimal {
	sig := 1 + dweight + int64(rscale)
	if sig <= 0 {
		// Under half a unit of the last place: zero at rscale.
		return &apd.Decimal{Exponent: -rscale}
	}
	p := digitBits(sig+8) + fixGuard
	e, k := expFix(decimalToFix(x, p), p)
	return fixToDecimal(e, int64(p)-k, rscale)
}

// numericPowerReal is power_var's general case, x^y = exp(y ln(x)), for
// finite x > 0 and a y that is not an integer of int32's range: ln(x) to
// 8 significant digits first, for the result's weight and scale (and the
// overflow test), then to as many digits as the result has, plus 8.
func numericPowerReal(x, y *apd.Decimal) (*apd.Decimal, error) {
	lnw := estimateLnDweight(x)
	lowScale := max(8-lnw, 0)
	low := fixToDecimal(lnFix(x, lnBits(lowScale)), int64(lnBits(lowScale)), int32(lowScale))
	var prod apd.Decimal
	if _, err := numExact.Mul(&prod, low, y); err != nil {
		return nil, errNumericOverflow()
	}
	val, _ := prod.Float64()
	if math.Abs(val) > numericExpLimit*1.0033 { // NUMERIC_MAX_RESULT_SCALE * 3.01
		if val > 0 {
			return nil, errNumericOverflow()
		}
		return &apd.Decimal{Exponent: -numericMaxDispScale}, nil
	}
	lnval := val
	val *= math.Log10E
	rscale := clampScale(max(int64(numericMinSigDigits)-int64(val), int64(dscale(x)), int64(dscale(y))))
	if math.Abs(lnval) >= numericExpLimit {
		// exp_var's own limit, under power_var's fuzzy one.
		if lnval > 0 {
			return nil, errNumericOverflow()
		}
		return &apd.Decimal{Exponent: -rscale}, nil
	}
	sig := max(int64(rscale)+int64(val), 0)
	// ln(x) at (sig+8) significant digits; its product with y then has
	// as many, the product being under 6021 in magnitude.
	pl := lnBits(sig - lnw + 8)
	l := lnFix(x, pl)
	// n = l * y at pl bits: exact in y's digits, one more ulp.
	n := l.Mul(l, y.Coeff.MathBigInt())
	if y.Exponent >= 0 {
		n.Mul(n, pow10(int64(y.Exponent)))
	} else {
		n.Quo(n, pow10(-int64(y.Exponent)))
	}
	if y.Negative {
		n.Neg(n)
	}
	if 1+int64(val)+int64(rscale) <= 0 {
		return &apd.Decimal{Exponent: -rscale}, nil
	}
	e, k := expFix(n, pl)
	return fixToDecimal(e, int64(pl)-k, rscale), nil
}

// errNumericOverflow is numeric's 22003.
func errNumericOverflow() error {
	return errorf(pgcode.NumericValueOutOfRange, "value overflows numeric format")
}
