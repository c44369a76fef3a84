// The block normal draw (models/normal_block.hpp).
//
// Boost 1.74's normal_distribution<double> on a 64-bit engine (boost/random/
// normal_distribution.hpp, detail/int_float_pair.hpp) starts every draw from one engine
// word u: bucket = u & 0xFF; bit 11 of u cleared ("zero out unused bits"); r = double(u >> 8)
// · 2^-56. With i = bucket >> 1 and sign = +1 for an odd bucket, −1 for an even one,
// x = r · table_x[i], and if x < table_x[i + 1] the unit draw is x·sign: one word. Otherwise
// (2.8% of draws) it takes the tail (i = 0) or the wedge test, with more engine words, and
// may start over. normal_distribution returns unit·sigma + mean.
//
// Whether a word passes that first branch, and the draw it then gives, depend on the word
// alone, not on where it falls in the sequence of draws. So the block is drawn in rounds:
//  1. take m = min(buffer, draws left) words from the engine. Every draw takes at least one
//     word, the buffered ones first, so the sequential loop would use every one of them;
//  2. put every buffered word through the first branch, several at a time on vectors, with
//     no branch: its draw y[w] and one bit "passes";
//  3. read the draws off in order: a run of passing words is a run of draws; a word that
//     does not pass starts a draw made by Boost's own normal_distribution, from an engine
//     adaptor that serves the buffered words from that one on, in order, then the engine
//     itself — the draw sees exactly the words it would see in the sequential loop — and the
//     runs resume at the first word it left unused.
// The engine ends where the sequential loop leaves it, and every draw has its bits.
//
// Same bits on vectors. Every lane does the scalar operations of Boost's first branch, in
// the same order, each rounding like its scalar counterpart:
//  * double(v) for v = (u with bit 11 cleared) >> 8 < 2^56. With AVX-512 DQ, vcvtqq2pd:
//    correctly rounded like the scalar conversion (cvtsi2sd; v is below 2^63). Otherwise as
//    (hi·2^32 − 2^52) + (2^52 + lo), hi = v >> 32 < 2^24, lo = v mod 2^32: 2^84 + hi·2^32
//    and 2^52 + lo are exact doubles read off the bit patterns 0x453…|hi and 0x433…|lo,
//    the difference (2^84 + hi·2^32) − (2^84 + 2^52) = hi·2^32 − 2^52 is exact (a
//    representable result), so the one rounding is that of the final sum, whose exact
//    value is v: the correctly rounded double(v). (Round to nearest, the only rounding mode
//    the program uses.)
//  * ·2^-56 (Boost's 1/2^56) is exact; x = r·table_x[i] and x < table_x[i + 1] as in Boost.
//  * x·sign multiplies x ≥ 0 (never NaN) by ±1.0: exact, i.e. the sign bit flipped when
//    sign = −1 (0·(−1) = −0, as the flip gives).
//  * ·sigma, then + mean: two roundings, never a fused multiply-add. AVX-512 has FMA
//    instructions and GCC contracts a·b + c in C++ by default, so this file is compiled with
//    -ffp-contract=off (CMakeLists.txt): nothing here is fused, Boost's slow path included.
#include "models/normal_block.hpp"

#include "sim/cpu_dispatch.hpp"

#include <boost/random/normal_distribution.hpp>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <type_traits>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(BETACRIT_NO_CLONES)
#define BETACRIT_NORMAL_BLOCK_X86_VARIANTS 1
#endif

namespace betacrit {
namespace {

// The engine's words are 64 bits, all of them random (min 0, max 2^64 − 1): the case of
// Boost's generate_int_float_pair that the first branch below computes.
static_assert(std::is_same_v<Engine::result_type, std::uint64_t> && Engine::word_size == 64);

/// The engine as Boost's distributions see it, serving the buffered words first (from
/// `pos`, in order) and then the engine itself.
struct BufferedEngine {
  using result_type = std::uint64_t;
  static constexpr result_type min() { return 0; }
  static constexpr result_type max() { return std::numeric_limits<result_type>::max(); }
  result_type operator()() { return pos < end ? words[pos++] : (*eng)(); }

  const std::uint64_t* words;
  std::size_t pos, end;
  Engine* eng;
};

/// {table_x[i], table_x[i + 1]} of Boost's normal ziggurat, i = 0 … 127: one 16-byte load
/// per lane gives both.
struct alignas(16) XPair {
  double x, next;
};
struct PairTable {
  XPair p[128];
};
const PairTable& pair_table() {
  static const PairTable t = [] {
    const double* tx = boost::random::detail::normal_table<double>::table_x;
    PairTable pt;
    for (int i = 0; i < 128; ++i) pt.p[i] = {tx[i], tx[i + 1]};
    return pt;
  }();
  return t;
}
/// The pair of word u (i = (u & 0xFF) >> 1).
inline const double* pair_of(const PairTable& t, std::uint64_t u) { return &t.p[(u >> 1) & 0x7F].x; }

// GCC vector types of W lanes (a vector_size attribute cannot depend on a template argument).
template <int W>
struct Vec;
template <>
struct Vec<2> {
  typedef double F __attribute__((vector_size(16)));
  typedef std::uint64_t U __attribute__((vector_size(16)));
};
template <>
struct Vec<4> {
  typedef double F __attribute__((vector_size(32)));
  typedef std::uint64_t U __attribute__((vector_size(32)));
};
template <>
struct Vec<8> {
  typedef double F __attribute__((vector_size(64)));
  typedef std::uint64_t U __attribute__((vector_size(64)));
};

/// double(v) for v < 2^56 in every lane, correctly rounded: (hi·2^32 − 2^52) + (2^52 + lo).
template <class V>
inline void to_double_by_halves(const typename V::U& v, typename V::F& d) {
  const typename V::U hi = (v >> 32) | 0x4530000000000000u;          // bits of 2^84 + hi·2^32
  const typename V::U lo = (v & 0xFFFFFFFFu) | 0x4330000000000000u;  // bits of 2^52 + lo
  // (A GCC vector cast between vectors of one size keeps the bits.)
  d = ((typename V::F)hi - 0x1.00000001p84) + (typename V::F)lo;
}

// What differs between instruction sets. Each variant has W lanes and:
//   take_words   m engine words into dst (the engine's code compiled for the variant);
//   to_double    double(v) for v < 2^56, correctly rounded;
//   lookup       table_x[i] and table_x[i + 1] of each lane's word;
//   less_bits    bit l set where x[l] < b[l].
// Everything else is one code for all.

/// x86-64 baseline (SSE2), or any other machine (generic vector code).
struct BaselineIsa {
  static constexpr int W = 2;
  using V = Vec<2>;
  [[gnu::noinline, gnu::flatten]] static void take_words(Engine& eng, std::uint64_t* __restrict dst, std::size_t m) {
    for (std::size_t w = 0; w < m; ++w) dst[w] = eng();
  }
  static void to_double(const V::U& v, V::F& d) { to_double_by_halves<V>(v, d); }
  static void lookup(const PairTable& t, const std::uint64_t* words, V::F& a, V::F& b) {
    V::F p0, p1;
    std::memcpy(&p0, pair_of(t, words[0]), sizeof p0);
    std::memcpy(&p1, pair_of(t, words[1]), sizeof p1);
    a = __builtin_shufflevector(p0, p1, 0, 2);
    b = __builtin_shufflevector(p0, p1, 1, 3);
  }
  static unsigned less_bits(const V::F& x, const V::F& b) {
#if defined(__x86_64__)
    return static_cast<unsigned>(_mm_movemask_pd(_mm_cmplt_pd(x, b)));
#else
    return (x[0] < b[0] ? 1u : 0u) | (x[1] < b[1] ? 2u : 0u);
#endif
  }
};

#ifdef BETACRIT_NORMAL_BLOCK_X86_VARIANTS
#define BETACRIT_TARGET_AVX2 gnu::target("avx2,bmi,bmi2")
#define BETACRIT_TARGET_AVX512 gnu::target("avx512f,avx512dq,bmi,bmi2")

/// AVX2: 4 lanes.
struct Avx2Isa {
  static constexpr int W = 4;
  using V = Vec<4>;
  [[BETACRIT_TARGET_AVX2, gnu::noinline, gnu::flatten]] static void take_words(Engine& eng,
                                                                              std::uint64_t* __restrict dst,
                                                                              std::size_t m) {
    for (std::size_t w = 0; w < m; ++w) dst[w] = eng();
  }
  [[BETACRIT_TARGET_AVX2]] static void to_double(const V::U& v, V::F& d) { to_double_by_halves<V>(v, d); }
  [[BETACRIT_TARGET_AVX2]] static void lookup(const PairTable& t, const std::uint64_t* words, V::F& a, V::F& b) {
    // Four 16-byte loads beat two gathers here (docs/performance.md).
    const __m256d p02 =
        _mm256_insertf128_pd(_mm256_castpd128_pd256(_mm_load_pd(pair_of(t, words[0]))), _mm_load_pd(pair_of(t, words[2])), 1);
    const __m256d p13 =
        _mm256_insertf128_pd(_mm256_castpd128_pd256(_mm_load_pd(pair_of(t, words[1]))), _mm_load_pd(pair_of(t, words[3])), 1);
    a = _mm256_unpacklo_pd(p02, p13);
    b = _mm256_unpackhi_pd(p02, p13);
  }
  [[BETACRIT_TARGET_AVX2]] static unsigned less_bits(const V::F& x, const V::F& b) {
    return static_cast<unsigned>(_mm256_movemask_pd(_mm256_cmp_pd(x, b, _CMP_LT_OQ)));
  }
};

/// AVX-512 (F and DQ): 8 lanes, the conversion in one instruction, the compare into a mask.
struct Avx512Isa {
  static constexpr int W = 8;
  using V = Vec<8>;
  [[BETACRIT_TARGET_AVX512, gnu::noinline, gnu::flatten]] static void take_words(Engine& eng,
                                                                                std::uint64_t* __restrict dst,
                                                                                std::size_t m) {
    for (std::size_t w = 0; w < m; ++w) dst[w] = eng();
  }
  [[BETACRIT_TARGET_AVX512]] static void to_double(const V::U& v, V::F& d) {
    d = _mm512_cvtepi64_pd(reinterpret_cast<__m512i>(v));
  }
  [[BETACRIT_TARGET_AVX512]] static void lookup(const PairTable& t, const std::uint64_t* words, V::F& a, V::F& b) {
    const auto pair = [&](int l) { return _mm_load_pd(pair_of(t, words[l])); };
    __m512d even = _mm512_zextpd128_pd512(pair(0));
    even = _mm512_insertf64x2(even, pair(2), 1);
    even = _mm512_insertf64x2(even, pair(4), 2);
    even = _mm512_insertf64x2(even, pair(6), 3);
    __m512d odd = _mm512_zextpd128_pd512(pair(1));
    odd = _mm512_insertf64x2(odd, pair(3), 1);
    odd = _mm512_insertf64x2(odd, pair(5), 2);
    odd = _mm512_insertf64x2(odd, pair(7), 3);
    a = __builtin_shufflevector(even, odd, 0, 8, 2, 10, 4, 12, 6, 14);
    b = __builtin_shufflevector(even, odd, 1, 9, 3, 11, 5, 13, 7, 15);
  }
  [[BETACRIT_TARGET_AVX512]] static unsigned less_bits(const V::F& x, const V::F& b) {
    return static_cast<unsigned>(_mm512_cmp_pd_mask(x, b, _CMP_LT_OQ));
  }
};
#endif

/// Boost's first branch on the W words at `words`: y[l] = the draw of word l
/// (x·sign·sigma + mean); returns bit l set if word l passes (x < table_x[i + 1]).
template <class Isa>
inline unsigned first_branch(const PairTable& t, const std::uint64_t* words, const typename Isa::V::F& sigma,
                             const typename Isa::V::F& mu, double* y) {
  using F = typename Isa::V::F;
  using U = typename Isa::V::U;
  U u;
  std::memcpy(&u, words, sizeof u);
  const U v = (u & ~(std::uint64_t{1} << 11)) >> 8;  // < 2^56
  F d, a, b;
  Isa::to_double(v, d);
  const F r = d * 0x1p-56;
  Isa::lookup(t, words, a, b);
  const F x = r * a;
  const unsigned pass = Isa::less_bits(x, b);
  const U flip = ((u & 1) ^ 1) << 63;  // sign = −1 for an even bucket
  const F draw = (F)((U)x ^ flip) * sigma + mu;
  std::memcpy(y, &draw, sizeof draw);
  return pass;
}

constexpr std::size_t kBufferWords = 512;

/// The block draw with vectors of Isa::W lanes (see the top of this file).
template <class Isa>
inline void draw_block(Engine& eng, double mu, double sigma, double* out, std::size_t n) {
  constexpr int W = Isa::W;
  constexpr std::size_t Cap = kBufferWords;
  static_assert(Cap % 64 == 0 && 64 % W == 0);
  const PairTable& table = pair_table();
  boost::random::normal_distribution<double> boost_dist(mu, sigma);
  typename Isa::V::F vsigma, vmu;
  for (int l = 0; l < W; ++l) vsigma[l] = sigma, vmu[l] = mu;

  std::uint64_t words[Cap];
  double y[Cap];
  std::uint64_t pass[Cap / 64 + 1];  // bit w: word w passes; one more word of zeros ends every run
  std::size_t k = 0;                 // out[0, k) are final
  while (k < n) {
    // 1. At most as many words as draws left.
    const std::size_t m = std::min(Cap, n - k);
    Isa::take_words(eng, words, m);

    // 2. The first branch for every word, W at a time; the last m mod W words stay untested
    // (bit 0: Boost's code takes them).
    std::fill(std::begin(pass), std::end(pass), std::uint64_t{0});
    const std::size_t tested = m - m % W;
    for (std::size_t w = 0; w < tested; w += W)
      pass[w / 64] |= std::uint64_t{first_branch<Isa>(table, words + w, vsigma, vmu, y + w)} << (w % 64);

    // 3. The draws in order. Words [w, m) are unused; m − w ≤ n − k.
    std::size_t w = 0;
    for (;;) {
      // The first word at or after w that does not pass (at most `tested`).
      std::size_t f = w;
      std::uint64_t fails = ~pass[f / 64] >> (f % 64);
      while (fails == 0) {
        f = (f / 64 + 1) * 64;
        fails = ~pass[f / 64];
      }
      f += static_cast<std::size_t>(std::countr_zero(fails));
      std::memcpy(out + k, y + w, (f - w) * sizeof(double));
      k += f - w;
      if (f >= m) break;
      BufferedEngine be{words, f, m, &eng};
      out[k++] = boost_dist(be);
      if (be.pos >= m) break;  // it used the last buffered word, perhaps more from the engine
      w = be.pos;
    }
  }
}

[[gnu::flatten]] void draw_baseline(Engine& eng, double mu, double sigma, double* out, std::size_t n) {
  draw_block<BaselineIsa>(eng, mu, sigma, out, n);
}

#ifdef BETACRIT_NORMAL_BLOCK_X86_VARIANTS
[[BETACRIT_TARGET_AVX2, gnu::flatten]] void draw_avx2(Engine& eng, double mu, double sigma, double* out,
                                                     std::size_t n) {
  draw_block<Avx2Isa>(eng, mu, sigma, out, n);
}
[[BETACRIT_TARGET_AVX512, gnu::flatten]] void draw_avx512(Engine& eng, double mu, double sigma, double* out,
                                                         std::size_t n) {
  draw_block<Avx512Isa>(eng, mu, sigma, out, n);
}
#endif

}  // namespace

namespace normal_block_detail {

bool available(Variant v) {
  switch (v) {
    case Variant::baseline:
      return true;
#ifdef BETACRIT_NORMAL_BLOCK_X86_VARIANTS
    case Variant::avx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2");
    case Variant::avx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
             __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2");
#else
    case Variant::avx2:
    case Variant::avx512:
      return false;
#endif
  }
  return false;
}

void normal_block_with(Variant v, Engine& eng, double mu, double sigma, std::span<double> out) {
  if (!available(v)) throw std::invalid_argument("normal_block_with: this build or CPU lacks the variant");
  switch (v) {
#ifdef BETACRIT_NORMAL_BLOCK_X86_VARIANTS
    case Variant::avx512:
      draw_avx512(eng, mu, sigma, out.data(), out.size());
      return;
    case Variant::avx2:
      draw_avx2(eng, mu, sigma, out.data(), out.size());
      return;
#endif
    default:
      draw_baseline(eng, mu, sigma, out.data(), out.size());
      return;
  }
}

Variant best_variant() {
  static const Variant best = available(Variant::avx512) ? Variant::avx512
                              : available(Variant::avx2) ? Variant::avx2
                                                         : Variant::baseline;
  return best;
}

}  // namespace normal_block_detail

void normal_block(Engine& eng, double mu, double sigma, std::span<double> out) {
  // Legacy-SSE code (the baseline variant, the C library) runs slowly after vector code
  // that left the upper register halves dirty (docs/performance.md).
  clear_upper_vector_state();
  normal_block_detail::normal_block_with(normal_block_detail::best_variant(), eng, mu, sigma, out);
}

}  // namespace betacrit
