#include "crc32.h"

#include <array>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define TIDEMQ_CRC32_PCLMUL 1
#include <immintrin.h>
#endif

namespace tidemq {
namespace {

// Slicing-by-8 tables, built once at compile time.
constexpr std::array<std::array<uint32_t, 256>, 8> MakeTables() {
  std::array<std::array<uint32_t, 256>, 8> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (0xEDB88320u ^ (c >> 1)) : (c >> 1);
    t[0][i] = c;
  }
  for (uint32_t i = 0; i < 256; ++i) {
    for (int s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xFF];
  }
  return t;
}

constexpr auto kTables = MakeTables();

// The table loop on the CRC register (pre- and post-inversion are the callers').
uint32_t TableUpdate(uint32_t c, const uint8_t* data, size_t length) {
  while (length >= 8) {
    uint32_t lo = (uint32_t(data[0]) | uint32_t(data[1]) << 8 | uint32_t(data[2]) << 16 |
                   uint32_t(data[3]) << 24) ^
                  c;
    uint32_t hi = uint32_t(data[4]) | uint32_t(data[5]) << 8 | uint32_t(data[6]) << 16 |
                  uint32_t(data[7]) << 24;
    c = kTables[7][lo & 0xFF] ^ kTables[6][(lo >> 8) & 0xFF] ^ kTables[5][(lo >> 16) & 0xFF] ^
        kTables[4][lo >> 24] ^ kTables[3][hi & 0xFF] ^ kTables[2][(hi >> 8) & 0xFF] ^
        kTables[1][(hi >> 16) & 0xFF] ^ kTables[0][hi >> 24];
    data += 8;
    length -= 8;
  }
  while (length--) c = kTables[0][(c ^ *data++) & 0xFF] ^ (c >> 8);
  return c;
}

#ifdef TIDEMQ_CRC32_PCLMUL

// Folding with carry-less multiplication (the method of Intel's 2009 paper "Fast CRC Computation
// for Generic Polynomials Using PCLMULQDQ"; its bit-reflected constants for this polynomial):
// a 128-bit value v standing for the bytes read so far is replaced by
// v.lo * K.lo XOR v.hi * K.hi XOR (the next 16 bytes), where K holds x^(d+32) and x^(d-32) mod P
// for a distance of d bits. That keeps the value congruent to the input read so far, so at the
// end its 16 bytes go through the table loop from a zero register like any other 16 bytes.
__attribute__((target("pclmul,sse2"))) inline __m128i FoldInto(__m128i v, __m128i k, __m128i next) {
  const __m128i lo = _mm_clmulepi64_si128(v, k, 0x00);
  const __m128i hi = _mm_clmulepi64_si128(v, k, 0x11);
  return _mm_xor_si128(_mm_xor_si128(lo, hi), next);
}

// `length` is at least 64 and a multiple of 16; `c` and the result are the CRC register.
__attribute__((target("pclmul,sse2"))) uint32_t FoldUpdate(uint32_t c, const uint8_t* data,
                                                            size_t length) {
  const __m128i over512 = _mm_set_epi64x(0x01c6e41596, 0x0154442bd4);
  const __m128i over128 = _mm_set_epi64x(0x00ccaa009e, 0x01751997d0);
  auto at = [](const uint8_t* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); };
  // Four independent lanes 64 bytes apart while at least 64 bytes are left, then one.
  __m128i lane[4] = {_mm_xor_si128(at(data), _mm_cvtsi32_si128(int(c))), at(data + 16), at(data + 32),
                     at(data + 48)};
  for (data += 64, length -= 64; length >= 64; data += 64, length -= 64) {
    for (int i = 0; i < 4; ++i) lane[i] = FoldInto(lane[i], over512, at(data + 16 * i));
  }
  __m128i v = lane[0];
  for (int i = 1; i < 4; ++i) v = FoldInto(v, over128, lane[i]);
  for (; length >= 16; data += 16, length -= 16) v = FoldInto(v, over128, at(data));
  alignas(16) uint8_t last[16];
  _mm_store_si128(reinterpret_cast<__m128i*>(last), v);
  return TableUpdate(0, last, 16);
}

// Below this the fold's fixed cost (constants, the last 16 bytes through the tables) is not worth it.
constexpr size_t kFoldMinBytes = 64;

bool HasPclmul() {
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("pclmul");
  }();
  return has;
}

#endif  // TIDEMQ_CRC32_PCLMUL

}  // namespace

uint32_t Crc32Table(const uint8_t* data, size_t length, uint32_t seed) {
  return ~TableUpdate(~seed, data, length);
}

bool Crc32Accelerated() {
#ifdef TIDEMQ_CRC32_PCLMUL
  return HasPclmul();
#else
  return false;
#endif
}

uint32_t Crc32(const uint8_t* data, size_t length, uint32_t seed) {
  uint32_t c = ~seed;
#ifdef TIDEMQ_CRC32_PCLMUL
  if (length >= kFoldMinBytes && HasPclmul()) {
    const size_t folded = length & ~size_t(15);
    c = FoldUpdate(c, data, folded);
    data += folded;
    length -= folded;
  }
#endif
  return ~TableUpdate(c, data, length);
}

}  // namespace tidemq
