#pragma once
// Functions compiled twice, for the x86-64 baseline and for AVX2, the version picked once
// at load time from the CPU (GCC function multiversioning). Used on hot loops only.
//  * The clones compute the same bits: arithmetic is element-wise (scalar, or GCC vector
//    extensions whose lanes round like scalars), and AVX2 does not bring FMA contraction.
//  * The AVX2 clone is VEX-encoded throughout, so it never pays the SSE/AVX transition
//    penalty that legacy-SSE code can pay after vector code elsewhere in the process (the
//    C library's own AVX-512 memcpy/memset included); docs/performance.md measures it.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(BETACRIT_NO_CLONES)
#define BETACRIT_CLONE_AVX2 __attribute__((target_clones("default", "avx2")))
#else
#define BETACRIT_CLONE_AVX2
#endif

#include <span>

namespace betacrit {

/// Marks the upper halves of the vector registers clean (vzeroupper) where the CPU has
/// AVX: legacy-SSE code that runs next (the random engine's refill, for one) then runs at
/// full speed whatever vector code ran before. A no-op elsewhere.
inline void clear_upper_vector_state() {
#if defined(__GNUC__) && defined(__x86_64__)
  static const bool has_avx = __builtin_cpu_supports("avx");
  if (has_avx) asm volatile("vzeroupper" ::: "memory");
#endif
}

/// out[i] = draw() for every i, in order: the models' block draw loops. Cloned like the
/// rest (the draw functor inlines into each clone), so the same numbers come out faster.
template <class Draw>
BETACRIT_CLONE_AVX2 void fill_draws(std::span<double> out, Draw&& draw) {
  clear_upper_vector_state();
  for (double& x : out) x = draw();
}

}  // namespace betacrit
