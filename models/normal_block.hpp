#pragma once
// A block of Boost.Random normal draws, bit for bit what a loop of
// boost::random::normal_distribution<double>(mu, sigma)(eng) gives, about twice as fast.
#include "sim/rng.hpp"

#include <cstddef>
#include <span>

namespace betacrit {

/// out[k] = boost::random::normal_distribution<double>(mu, sigma)(eng) for k = 0, 1, …, in
/// order: the same bits, and `eng` is left exactly where that loop leaves it. Boost's
/// ziggurat takes one engine word per draw except on its slow path (2.8% of draws); those
/// one-word draws are computed several at a time on vectors, every other draw by Boost's
/// own code (models/normal_block.cpp).
void normal_block(Engine& eng, double mu, double sigma, std::span<double> out);

namespace normal_block_detail {
/// The compiled variants of the block draw (x86-64 baseline, AVX2, AVX-512); they give the
/// same bits, and normal_block runs the fastest one the CPU has.
enum class Variant { baseline, avx2, avx512 };
/// Whether this build has the variant and the CPU runs it.
bool available(Variant v);
/// The variant normal_block runs.
Variant best_variant();
/// normal_block with a given variant (tests compare the variants bit for bit); throws
/// std::invalid_argument if it is not available.
void normal_block_with(Variant v, Engine& eng, double mu, double sigma, std::span<double> out);
}  // namespace normal_block_detail

}  // namespace betacrit
