// lowbias32 (narrow_rounding.h mix32) on the tier's 32-bit integer lanes: the random bits of the
// table initializers (init_body.h) and of stochastic rounding (optimizer_body.h), the same bits as
// the scalar function lane by lane. Included inside each tier's namespace and target region by
// the kernel bodies; no include guard.
inline typename Vec::I mix32_lanes(typename Vec::I x) {
  x = Vec::ixor(x, Vec::template ishr<16>(x));
  x = Vec::imul(x, Vec::ibroadcast(0x7feb352d));
  x = Vec::ixor(x, Vec::template ishr<15>(x));
  x = Vec::imul(x, Vec::ibroadcast(static_cast<int32_t>(0x846ca68bu)));
  return Vec::ixor(x, Vec::template ishr<16>(x));
}
