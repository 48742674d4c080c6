// The table initializers' body, written once over vec_traits.h and included by init.cc inside each
// tier's namespace (scalar first: the other tiers call its one-element functions for the ends of a
// range). What it computes is spelled out in src/init.ts, the TypeScript twin, which gives the
// same bits: element i of a stream is a function of the seed's two keys and i alone (a counter-based
// generator), and every step is one IEEE float32 operation (or exact integer arithmetic), so the
// table does not depend on the tier, the thread count or how the work is split.
//
//   bits(i)     h = mix32(lo32(i) + k0); h = mix32(h ^ hi32(i) ^ k1)   (mix32: "lowbias32")
//   uniform     u = (bits(i) >> 8) * 2^-24 in [0, 1); out = low + range * u
//   normal      elements 2k and 2k + 1 from bits(2k) and bits(2k + 1) (Box-Muller):
//               v = (bits(2k) >> 8) + 1, ln = log(v * 2^-24) (Cephes' logf, from v's mantissa and
//               exponent), r = sqrt(-2 ln); w = bits(2k + 1) >> 8, quadrant q = w >> 22, f = (w &
//               0x3fffff) * 2^-22, (c, s) = (cos, sin)(pi/2 f) by Taylor polynomials, rotated by q;
//               out = mean + std * (r * c), mean + std * (r * s)
//   truncNormal torch's method: p = lo + range * u (lo = 2 cdf(a') - 1), erfinv(p) (Giles' single-
//               precision polynomials; log as above from p's bits), out = clamp(erfinv * scale +
//               mean, a, b)
namespace init_impl {

using V = Vec::V;
using I = Vec::I;
using Mask = Vec::Mask;
constexpr int W = Vec::kWidth;

#define NNE_F(x) static_cast<float>(x)

#include "mix32_lanes.h"

// The random bits of counters whose low words are `lo` (hi_key = hi32 ^ k1, the same for all lanes).
inline I bits_at(I lo, uint32_t k0, uint32_t hi_key) {
  const I h = mix32_lanes(Vec::iadd(lo, Vec::ibroadcast(static_cast<int32_t>(k0))));
  return mix32_lanes(Vec::ixor(h, Vec::ibroadcast(static_cast<int32_t>(hi_key))));
}

// log(m * 2^e) for m in [0.5, 1) (Cephes logf).
inline V log_parts(V m, V e) {
  const V one = Vec::broadcast(1.0f);
  const Mask small = Vec::greater(Vec::broadcast(NNE_F(0.707106781186547524)), m);
  const V x = Vec::select(small, Vec::sub(Vec::add(m, m), one), Vec::sub(m, one));
  e = Vec::select(small, Vec::sub(e, one), e);
  const V z = Vec::mul(x, x);
  V p = Vec::broadcast(NNE_F(7.0376836292E-2));
  p = Vec::add(Vec::mul(p, x), Vec::broadcast(NNE_F(-1.1514610310E-1)));
  p = Vec::add(Vec::mul(p, x), Vec::broadcast(NNE_F(1.1676998740E-1)));
  p = Vec::add(Vec::mul(p, x), Vec::broadcast(NNE_F(-1.2420140846E-1)));
  p = Vec::add(Vec::mul(p, x), Vec::broadcast(NNE_F(1.4249322787E-1)));
  p = Vec::add(Vec::mul(p, x), Vec::broadcast(NNE_F(-1.6668057665E-1)));
  p = Vec::add(Vec::mul(p, x), Vec::broadcast(NNE_F(2.0000714765E-1)));
  p = Vec::add(Vec::mul(p, x), Vec::broadcast(NNE_F(-2.4999993993E-1)));
  p = Vec::add(Vec::mul(p, x), Vec::broadcast(NNE_F(3.3333331174E-1)));
  V y = Vec::mul(Vec::mul(p, x), z);
  y = Vec::add(y, Vec::mul(Vec::broadcast(NNE_F(-2.12194440e-4)), e));
  y = Vec::add(y, Vec::mul(Vec::broadcast(-0.5f), z));
  const V r = Vec::add(x, y);
  return Vec::add(r, Vec::mul(Vec::broadcast(0.693359375f), e));
}

// The Taylor coefficients of sin(pi/2 f) and cos(pi/2 f) in f, as float32.
constexpr double kHalfPi = 1.5707963267948966;
inline V sin_quarter(V f, V f2) {
  V p = Vec::broadcast(NNE_F(-(kHalfPi * kHalfPi * kHalfPi * kHalfPi * kHalfPi * kHalfPi * kHalfPi * kHalfPi * kHalfPi * kHalfPi * kHalfPi) / 39916800.0));
  p = Vec::add(Vec::mul(p, f2), Vec::broadcast(NNE_F((kHalfPi * kHalfPi * kHalfPi * kHalfPi * kHalfPi * kHalfPi * kHalfPi * kHalfPi * kHalfPi) / 362880.0)));
  p = Vec::add(Vec::mul(p, f2), Vec::broadcast(NNE_F(-(kHalfPi * kHalfPi * kHalfPi * kHalfPi * kHalfPi * kHalfPi * kHalfPi) / 5040.0)));
  p = Vec::add(Vec::mul(p, f2), Vec::broadcast(NNE_F((kHalfPi * kHalfPi * kHalfPi * kHalfPi * kHalfPi) / 120.0)));
  p = Vec::add(Vec::mul(p, f2), Vec::broadcast(NNE_F(-(kHalfPi * kHalfPi * kHalfPi) / 6.0)));
  p = Vec::add(Vec::mul(p, f2), Vec::broadcast(NNE_F(kHalfPi)));
  return Vec::mul(p, f);
}
inline V cos_quarter(V f2) {
  V p = Vec::broadcast(NNE_F((kHalfPi * kHalfPi * kHalfPi * kHalfPi * kHalfPi * kHalfPi * kHalfPi * kHalfPi * kHalfPi * kHalfPi * kHalfPi * kHalfPi) / 479001600.0));
  p = Vec::add(Vec::mul(p, f2), Vec::broadcast(NNE_F(-(kHalfPi * kHalfPi * kHalfPi * kHalfPi * kHalfPi * kHalfPi * kHalfPi * kHalfPi * kHalfPi * kHalfPi) / 3628800.0)));
  p = Vec::add(Vec::mul(p, f2), Vec::broadcast(NNE_F((kHalfPi * kHalfPi * kHalfPi * kHalfPi * kHalfPi * kHalfPi * kHalfPi * kHalfPi) / 40320.0)));
  p = Vec::add(Vec::mul(p, f2), Vec::broadcast(NNE_F(-(kHalfPi * kHalfPi * kHalfPi * kHalfPi * kHalfPi * kHalfPi) / 720.0)));
  p = Vec::add(Vec::mul(p, f2), Vec::broadcast(NNE_F((kHalfPi * kHalfPi * kHalfPi * kHalfPi) / 24.0)));
  p = Vec::add(Vec::mul(p, f2), Vec::broadcast(NNE_F(-(kHalfPi * kHalfPi) / 2.0)));
  return Vec::add(Vec::mul(p, f2), Vec::broadcast(1.0f));
}

// Elements 2k and 2k + 1 of the normal stream for the pairs k whose counter 2k has low word
// `even_lo` (lanes) and high word hi (hi_key = hi ^ k1).
inline void normal_pairs(const InitParams& p, I even_lo, uint32_t hi_key, V* o0, V* o1) {
  const I a = bits_at(even_lo, p.k0, hi_key);
  const I b = bits_at(Vec::iadd(even_lo, Vec::ibroadcast(1)), p.k0, hi_key);
  // u1 = v * 2^-24 in (0, 1]: v's float is exact; its exponent field gives e with v = m * 2^e.
  const I v = Vec::iadd(Vec::ishr<8>(a), Vec::ibroadcast(1));
  const I vbits = Vec::as_int(Vec::itof(v));
  const V m = Vec::as_float(Vec::ior(Vec::iand(vbits, Vec::ibroadcast(0x007fffff)), Vec::ibroadcast(0x3f000000)));
  const V e = Vec::itof(Vec::iadd(Vec::ishr<23>(vbits), Vec::ibroadcast(-150)));  // exponent of v * 2^-24
  const V ln = log_parts(m, e);
  const V r = Vec::sqrt(Vec::mul(Vec::broadcast(-2.0f), ln));
  const I w = Vec::ishr<8>(b);
  const I q = Vec::ishr<22>(w);
  const V f = Vec::mul(Vec::itof(Vec::iand(w, Vec::ibroadcast(0x3fffff))), Vec::broadcast(NNE_F(1.0 / 4194304.0)));
  const V f2 = Vec::mul(f, f);
  const V s = sin_quarter(f, f2);
  const V c = cos_quarter(f2);
  const Mask swap = Vec::nonzero(Vec::iand(q, Vec::ibroadcast(1)));
  V cs = Vec::select(swap, s, c);
  V sn = Vec::select(swap, c, s);
  cs = Vec::select(Vec::nonzero(Vec::iand(Vec::iadd(q, Vec::ibroadcast(1)), Vec::ibroadcast(2))), Vec::neg(cs), cs);
  sn = Vec::select(Vec::nonzero(Vec::iand(q, Vec::ibroadcast(2))), Vec::neg(sn), sn);
  const V mean = Vec::broadcast(p.p[0]);
  const V std = Vec::broadcast(p.p[1]);
  *o0 = Vec::add(mean, Vec::mul(std, Vec::mul(r, cs)));
  *o1 = Vec::add(mean, Vec::mul(std, Vec::mul(r, sn)));
}

inline V uniform01(I h) { return Vec::mul(Vec::itof(Vec::ishr<8>(h)), Vec::broadcast(NNE_F(1.0 / 16777216.0))); }

// erfinv(x) for x in (-1, 1) (Giles, "Approximating the erfinv function", single precision).
inline V erfinv(V x) {
  const V one = Vec::broadcast(1.0f);
  V t = Vec::mul(Vec::sub(one, x), Vec::add(one, x));
  t = Vec::max(t, Vec::broadcast(NNE_F(1.1754943508222875e-38)));  // 2^-126: x = +-1 stays finite
  const I tbits = Vec::as_int(t);
  const V m = Vec::as_float(Vec::ior(Vec::iand(tbits, Vec::ibroadcast(0x007fffff)), Vec::ibroadcast(0x3f000000)));
  const V e = Vec::itof(Vec::iadd(Vec::ishr<23>(tbits), Vec::ibroadcast(-126)));
  const V w = Vec::neg(log_parts(m, e));
  const V w1 = Vec::sub(w, Vec::broadcast(2.5f));
  V p1 = Vec::broadcast(NNE_F(2.81022636e-08));
  p1 = Vec::add(Vec::broadcast(NNE_F(3.43273939e-07)), Vec::mul(p1, w1));
  p1 = Vec::add(Vec::broadcast(NNE_F(-3.5233877e-06)), Vec::mul(p1, w1));
  p1 = Vec::add(Vec::broadcast(NNE_F(-4.39150654e-06)), Vec::mul(p1, w1));
  p1 = Vec::add(Vec::broadcast(NNE_F(0.00021858087)), Vec::mul(p1, w1));
  p1 = Vec::add(Vec::broadcast(NNE_F(-0.00125372503)), Vec::mul(p1, w1));
  p1 = Vec::add(Vec::broadcast(NNE_F(-0.00417768164)), Vec::mul(p1, w1));
  p1 = Vec::add(Vec::broadcast(NNE_F(0.246640727)), Vec::mul(p1, w1));
  p1 = Vec::add(Vec::broadcast(NNE_F(1.50140941)), Vec::mul(p1, w1));
  const V w2 = Vec::sub(Vec::sqrt(w), Vec::broadcast(3.0f));
  V p2 = Vec::broadcast(NNE_F(-0.000200214257));
  p2 = Vec::add(Vec::broadcast(NNE_F(0.000100950558)), Vec::mul(p2, w2));
  p2 = Vec::add(Vec::broadcast(NNE_F(0.00134934322)), Vec::mul(p2, w2));
  p2 = Vec::add(Vec::broadcast(NNE_F(-0.00367342844)), Vec::mul(p2, w2));
  p2 = Vec::add(Vec::broadcast(NNE_F(0.00573950773)), Vec::mul(p2, w2));
  p2 = Vec::add(Vec::broadcast(NNE_F(-0.0076224613)), Vec::mul(p2, w2));
  p2 = Vec::add(Vec::broadcast(NNE_F(0.00943887047)), Vec::mul(p2, w2));
  p2 = Vec::add(Vec::broadcast(NNE_F(1.00167406)), Vec::mul(p2, w2));
  p2 = Vec::add(Vec::broadcast(NNE_F(2.83297682)), Vec::mul(p2, w2));
  const Mask central = Vec::greater(Vec::broadcast(5.0f), w);  // w < 5
  return Vec::mul(Vec::select(central, p1, p2), x);
}

// Element values of the per-element kinds (uniform, truncNormal) for counters with low words lo.
inline V element_values(const InitParams& p, I lo, uint32_t hi_key) {
  const V u = uniform01(bits_at(lo, p.k0, hi_key));
  const V x = Vec::add(Vec::broadcast(p.p[0]), Vec::mul(Vec::broadcast(p.p[1]), u));
  if (p.kind == InitKind::uniform) return x;
  const V y = Vec::add(Vec::mul(erfinv(x), Vec::broadcast(p.p[2])), Vec::broadcast(p.p[3]));
  return Vec::min(Vec::max(y, Vec::broadcast(p.p[4])), Vec::broadcast(p.p[5]));
}

#if defined(NNE_SCALAR_TIER)
// One element of the stream, in the scalar tier (the others call it for the ends of a range).
inline float element(const InitParams& p, uint64_t i) {
  const uint32_t hi_key = static_cast<uint32_t>(i >> 32) ^ p.k1;
  if (p.kind == InitKind::normal) {
    V o0, o1;
    normal_pairs(p, static_cast<I>(static_cast<uint32_t>(i & ~uint64_t{1})), hi_key, &o0, &o1);
    return (i & 1) ? o1 : o0;
  }
  return element_values(p, static_cast<I>(static_cast<uint32_t>(i)), hi_key);
}
#endif

#undef NNE_F

}  // namespace init_impl

// out[j] = element start + j of the stream, for j < count.
inline void init_fill(const InitParams& p, float* out, uint64_t start, int64_t count) {
  using init_impl::W;
  int64_t j = 0;
  if (p.kind == InitKind::normal) {
    if (count > 0 && (start & 1)) {  // the odd element of a pair: alone
      out[0] = ::nne::scalar_tier::init_impl::element(p, start);
      j = 1;
    }
    for (; count - j >= 2 * W; j += 2 * W) {
      const uint64_t i = start + static_cast<uint64_t>(j);  // even
      const uint32_t lo = static_cast<uint32_t>(i);
      if (W > 1 && lo > UINT32_MAX - static_cast<uint32_t>(2 * W - 1)) {  // the block crosses a high word
        for (int64_t k = 0; k < 2 * W; ++k) out[j + k] = ::nne::scalar_tier::init_impl::element(p, i + static_cast<uint64_t>(k));
        continue;
      }
      const Vec::I even_lo = Vec::iadd(Vec::ibroadcast(static_cast<int32_t>(lo)), Vec::ishl<1>(Vec::iota()));
      Vec::V o0, o1;
      init_impl::normal_pairs(p, even_lo, static_cast<uint32_t>(i >> 32) ^ p.k1, &o0, &o1);
      Vec::store_interleaved(out + j, o0, o1);
    }
  } else {
    for (; count - j >= W; j += W) {
      const uint64_t i = start + static_cast<uint64_t>(j);
      const uint32_t lo = static_cast<uint32_t>(i);
      if (W > 1 && lo > UINT32_MAX - static_cast<uint32_t>(W - 1)) {
        for (int64_t k = 0; k < W; ++k) out[j + k] = ::nne::scalar_tier::init_impl::element(p, i + static_cast<uint64_t>(k));
        continue;
      }
      const Vec::I lanes = Vec::iadd(Vec::ibroadcast(static_cast<int32_t>(lo)), Vec::iota());
      Vec::store(out + j, init_impl::element_values(p, lanes, static_cast<uint32_t>(i >> 32) ^ p.k1));
    }
  }
  for (; j < count; ++j) out[j] = ::nne::scalar_tier::init_impl::element(p, start + static_cast<uint64_t>(j));
}
