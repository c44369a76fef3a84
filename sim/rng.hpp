#pragma once
// Reproducible random streams: one stream per row, derived from
// (config seed, model label, row length, row index). Nothing else enters the key,
// so adding, removing or reordering models, changing the thread count, the order
// of work or interrupting and resuming a run changes no row's numbers.
#include <boost/random/mersenne_twister.hpp>

#include <cstdint>
#include <string_view>

namespace betacrit {

/// The engine every model draws from (Boost.Random's 64-bit Mersenne Twister).
using Engine = boost::random::mt19937_64;
inline constexpr const char* kEngineName = "boost::random::mt19937_64";
inline constexpr const char* kStreamScheme =
    "key = splitmix64 chain over (seed, fnv1a64(label), n (or bits of log2_n in tail mode), "
    "row); engine seeded with key";

/// SplitMix64 finaliser: a bijective 64-bit mixer.
constexpr std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

/// FNV-1a 64-bit hash of a label.
constexpr std::uint64_t fnv1a64(std::string_view s) {
  std::uint64_t h = 0xCBF29CE484222325ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001B3ULL;
  }
  return h;
}

/// Stream key of one row. `n_key` is n in exact mode (or the bit pattern of log2 n in
/// tail mode, distinguished by `domain`), `row` the row index within (model, n).
constexpr std::uint64_t row_stream_key(std::uint64_t seed, std::string_view label,
                                       std::uint64_t n_key, std::uint64_t row,
                                       std::uint64_t domain = 0) {
  std::uint64_t k = splitmix64(seed);
  k = splitmix64(k ^ fnv1a64(label));
  k = splitmix64(k ^ n_key);
  k = splitmix64(k ^ domain);
  return splitmix64(k ^ row);
}

/// A fresh engine for one row.
inline Engine row_engine(std::uint64_t seed, std::string_view label, std::uint64_t n_key,
                         std::uint64_t row, std::uint64_t domain = 0) {
  return Engine(row_stream_key(seed, label, n_key, row, domain));
}

}  // namespace betacrit
