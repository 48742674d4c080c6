// init_fill: the table initializers of every tier.
#include "test_support.h"

namespace nne_test {

// The initializers: values pinned from the TypeScript twin (src/init.ts, seed 2026's keys), at the
// start of the stream and across the 2^32 counter boundary, and every start and length against
// the scalar tier's fill (which the pinned values check too).
void test_init(const nne::Kernels& kernels) {
  struct Pinned {
    nne::InitKind kind;
    float p[6];
    uint64_t start;
    uint32_t bits[10];
  };
  const Pinned pinned[] = {
      {nne::InitKind::normal, {0.5f, 2, 0, 0, 0, 0}, 0,
       {0xbf8c722eu, 0x3fd67cedu, 0x3ef06017u, 0x4039b720u, 0x40551435u, 0x3f0f7231u, 0x400ebaf6u, 0xbff14a94u, 0x403d441eu, 0xbed2b04au}},
      {nne::InitKind::normal, {0.5f, 2, 0, 0, 0, 0}, 4294967291u,
       {0xbea8363au, 0x3f04aa63u, 0x3f97dee2u, 0x3e79aa46u, 0xbea36e42u, 0x40182092u, 0xbfa8004eu, 0x3edfbd2eu, 0x3f3fb1d1u, 0xbf90f71fu}},
      {nne::InitKind::uniform, {-1, 3, 0, 0, 0, 0}, 0,
       {0x3f55b5b0u, 0x3e49c340u, 0x3eeac198u, 0xbe79c9c4u, 0x3dd1bc30u, 0xbf7d64d1u, 0x3c5c2d00u, 0x3fc65ac6u, 0x3e8add88u, 0x3fea4a9cu}},
      {nne::InitKind::uniform, {-1, 3, 0, 0, 0, 0}, 4294967291u,
       {0x3f1a24b0u, 0x3fea047au, 0xbe867d0au, 0x3fde3780u, 0x3f8d79f4u, 0x3e8fd4a8u, 0x3fd11166u, 0x3ffcd9d8u, 0xbe06bb10u, 0x3f914796u}},
      {nne::InitKind::trunc_normal, {-0.9f, 1.8f, 1.4142135f, 0.25f, -1, 1.5f}, 0,
       {0x3f01262eu, 0x3ca53220u, 0x3e600b6du, 0xbeaf43e6u, 0xbd5b7990u, 0xbf800000u, 0xbdfee430u, 0x3f92b292u, 0x3d9de878u, 0x3fc00000u}},
      {nne::InitKind::trunc_normal, {-0.9f, 1.8f, 1.4142135f, 0.25f, -1, 1.5f}, 4294967291u,
       {0x3ea75b8eu, 0x3fc00000u, 0xbeb7e82cu, 0x3fb0acf9u, 0x3f38ddeeu, 0x3dad0f1eu, 0x3f9f4acdu, 0x3fc00000u, 0xbe7a37eeu, 0x3f3f4cceu}},
  };
  const nne::Kernels& scalar = nne::kernels_for(nne::Tier::scalar);
  for (const Pinned& pin : pinned) {
    nne::InitParams p{pin.kind, 1009825174u, 3702902197u, {}};
    std::memcpy(p.p, pin.p, sizeof p.p);
    std::vector<float> out(12, kGuard);
    kernels.init_fill(p, out.data() + 1, pin.start, 10);
    CHECK(same_bits(out[0], kGuard) && same_bits(out[11], kGuard), "init kind %d wrote outside its range", static_cast<int>(pin.kind));
    for (int j = 0; j < 10; ++j) {
      uint32_t bits;
      std::memcpy(&bits, &out[static_cast<size_t>(j) + 1], sizeof bits);
      CHECK(bits == pin.bits[j], "init kind %d start %llu element %d: 0x%08x, pinned 0x%08x", static_cast<int>(pin.kind),
            static_cast<unsigned long long>(pin.start), j, bits, pin.bits[j]);
    }
    for (const uint64_t base : {uint64_t{0}, uint64_t{4294967296u - 70}, uint64_t{1} << 45}) {
      std::vector<float> whole(300);
      scalar.init_fill(p, whole.data(), base, 300);
      for (const int64_t offset : {0, 1, 2, 3, 17, 64}) {
        for (const int64_t length : {0, 1, 2, 5, 16, 33, 64, 129, 236}) {
          std::vector<float> part(static_cast<size_t>(length) + 2, kGuard);
          kernels.init_fill(p, part.data() + 1, base + static_cast<uint64_t>(offset), length);
          CHECK(same_bits(part[0], kGuard) && same_bits(part[static_cast<size_t>(length) + 1], kGuard),
                "init kind %d start %llu length %lld wrote outside its range", static_cast<int>(pin.kind),
                static_cast<unsigned long long>(base + offset), static_cast<long long>(length));
          for (int64_t j = 0; j < length; ++j) {
            CHECK(same_bits(part[static_cast<size_t>(j) + 1], whole[static_cast<size_t>(offset + j)]),
                  "init kind %d start %llu element %lld differs from the scalar tier", static_cast<int>(pin.kind),
                  static_cast<unsigned long long>(base + offset), static_cast<long long>(j));
          }
        }
      }
    }
  }
}

}  // namespace nne_test
