// The block normal draw (models/normal_block.hpp) against Boost's normal_distribution
// called draw by draw: the same bits for every block length, parameters, seed and
// instruction-set variant, the engine left in the same state, and Boost's slow paths
// (tail and wedge) hit many times on the way.
#include "models/model.hpp"
#include "models/normal_block.hpp"

#include <boost/random/normal_distribution.hpp>
#include <catch2/catch.hpp>

#include <bit>
#include <cstdint>
#include <limits>
#include <vector>

using namespace betacrit;
using normal_block_detail::Variant;

namespace {

/// Boost's normal_distribution<double>(mu, sigma), one call per draw.
std::vector<double> boost_loop(Engine& e, double mu, double sigma, std::size_t n) {
  boost::random::normal_distribution<double> dist(mu, sigma);
  std::vector<double> x(n);
  for (double& v : x) v = dist(e);
  return x;
}

/// The first index at which the bit patterns differ (n if none).
std::size_t first_difference(const std::vector<double>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::bit_cast<std::uint64_t>(a[i]) != std::bit_cast<std::uint64_t>(b[i])) return i;
  return a.size();
}

/// The ways of drawing a block: every variant this build and CPU have, and the dispatched
/// normal_block (-1).
std::vector<int> block_ways() {
  std::vector<int> ways = {-1};
  for (Variant v : {Variant::baseline, Variant::avx2, Variant::avx512})
    if (normal_block_detail::available(v)) ways.push_back(static_cast<int>(v));
  return ways;
}
void block_draw(int way, Engine& e, double mu, double sigma, std::span<double> out) {
  if (way < 0) normal_block(e, mu, sigma, out);
  else normal_block_detail::normal_block_with(static_cast<Variant>(way), e, mu, sigma, out);
}

/// Compares a block of n draws with Boost's loop from the same seed, and the next engine
/// output after them.
void check_block(int way, std::uint64_t seed, double mu, double sigma, std::size_t n) {
  CAPTURE(way, seed, mu, sigma, n);
  Engine ref(seed), blk(seed);
  const std::vector<double> want = boost_loop(ref, mu, sigma, n);
  std::vector<double> got(n);
  block_draw(way, blk, mu, sigma, got);
  CHECK(first_difference(want, got) == n);
  CHECK(ref() == blk());
}

// sigma = 1.7 and 0.75 make x·sigma inexact, so that a fused x·sigma + mu would show.
const std::vector<std::pair<double, double>> kParams = {{0.0, 1.0}, {0.3, 1.7}, {-3.0, 0.75}, {1e3, 1e-7}};

/// An engine that counts its words and remembers the first word of the current draw.
struct CountingEngine {
  using result_type = std::uint64_t;
  static constexpr result_type min() { return 0; }
  static constexpr result_type max() { return std::numeric_limits<result_type>::max(); }
  result_type operator()() {
    const result_type u = (*eng)();
    if (words++ == draw_start) first = u;
    return u;
  }
  Engine* eng;
  std::size_t words = 0, draw_start = 0;
  result_type first = 0;
};

/// Boost's loop, counting the draws that left the ziggurat's first branch (more than one
/// word): by the tail (bucket i = (u & 0xFF) >> 1 = 0 of the draw's first word u) or the
/// wedge test (i > 0).
struct SlowDraws {
  std::size_t tail = 0, wedge = 0;
};
std::vector<double> boost_loop_counted(Engine& e, double mu, double sigma, std::size_t n, SlowDraws& slow) {
  boost::random::normal_distribution<double> dist(mu, sigma);
  CountingEngine c{&e};
  std::vector<double> x(n);
  for (double& v : x) {
    c.draw_start = c.words;
    v = dist(c);
    if (c.words - c.draw_start > 1) ++((c.first & 0xFF) >> 1 == 0 ? slow.tail : slow.wedge);
  }
  return x;
}

}  // namespace

TEST_CASE("the block normal draw gives Boost's draws bit for bit, any block length", "[normal_block]") {
  REQUIRE(normal_block_detail::available(Variant::baseline));
  REQUIRE(normal_block_detail::available(normal_block_detail::best_variant()));
  const std::vector<std::size_t> short_lengths = {0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 63, 64, 65, 100, 511, 512, 513, 1000};
  for (int way : block_ways()) {
    for (const auto& [mu, sigma] : kParams) {
      // Many seeds: the last draws of a short block often leave the first branch and take
      // words past those buffered (from the engine itself).
      for (std::size_t n : short_lengths)
        for (std::uint64_t seed = 1; seed <= 60; ++seed) check_block(way, seed * 7919 + n, mu, sigma, n);
      for (std::uint64_t seed : {3u, 1234567u}) check_block(way, seed, mu, sigma, (std::size_t{1} << 17) + 3);
    }
  }
}

TEST_CASE("consecutive blocks continue one stream", "[normal_block]") {
  // As the row engine draws a long row: block after block from one engine.
  for (int way : block_ways()) {
    CAPTURE(way);
    Engine ref(99), blk(99);
    const std::size_t total = 300000;
    const std::vector<double> want = boost_loop(ref, 0.5, 3.0, total);
    std::vector<double> got(total);
    std::uint64_t h = 12345;
    for (std::size_t off = 0; off < total;) {
      h = splitmix64(h);
      const std::size_t len = std::min<std::size_t>(total - off, h % 3000);  // 0 … 2999
      block_draw(way, blk, 0.5, 3.0, std::span<double>(got.data() + off, len));
      off += len;
    }
    CHECK(first_difference(want, got) == total);
    CHECK(ref() == blk());
  }
}

TEST_CASE("long blocks: the tail and the wedge many times, same bits", "[normal_block]") {
  // About 2.8% of draws leave the first branch (0.06% by the tail): 4e6 draws take both
  // slow paths thousands of times, at every place within the buffered words.
  const std::size_t n = 4000037;
  for (std::uint64_t seed : {17u, 4242u}) {
    for (const auto& [mu, sigma] : {std::pair{0.0, 1.0}, std::pair{-2.5, 0.75}}) {
      CAPTURE(seed, mu, sigma);
      Engine ref(seed);
      SlowDraws slow;
      const std::vector<double> want = boost_loop_counted(ref, mu, sigma, n, slow);
      const std::uint64_t next = ref();
      CAPTURE(slow.tail, slow.wedge);
      CHECK(slow.tail >= 1000);    // expected 2276
      CHECK(slow.wedge >= 50000);  // expected about 108000
      for (int way : block_ways()) {
        CAPTURE(way);
        Engine blk(seed);
        std::vector<double> got(n);
        block_draw(way, blk, mu, sigma, got);
        CHECK(first_difference(want, got) == n);
        CHECK(blk() == next);
      }
    }
  }
}

TEST_CASE("gaussian and sparse_gap models draw Boost's normal draws", "[normal_block][models]") {
  const std::size_t n = 70001;
  {
    auto model = make_model("gaussian", {{"mu", -0.3}, {"sigma", 1.7}});
    Engine ref(5), blk(5);
    const std::vector<double> want = boost_loop(ref, -0.3, 1.7, n);
    std::vector<double> got(n);
    model->draw(blk, n, 0, got);
    CHECK(first_difference(want, got) == n);
    CHECK(ref() == blk());
  }
  {
    auto model = make_model("sparse_gap", {{"noise", 0.4}, {"signals", 3}});
    Engine ref(6), blk(6);
    const std::vector<double> want = boost_loop(ref, 0.0, 0.4, n - 3);
    std::vector<double> got(n);
    model->draw(blk, n, 0, got);
    const std::vector<double> jitter(got.begin() + 3, got.end());  // after the 3 signals
    CHECK(first_difference(want, jitter) == n - 3);
    CHECK(ref() == blk());
  }
}
