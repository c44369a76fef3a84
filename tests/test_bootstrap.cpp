// The fast bootstrap against the straightforward one: UniformIndex against Boost's
// uniform_int_distribution (values and engine outputs consumed, bit for bit), the counting
// bootstrap median against copy + median() of each resample, the means against Boost's
// picks, and fit_critical's independence of the thread count.
#include "analysis/fit.hpp"
#include "analysis/statistics.hpp"
#include "sim/rng.hpp"

#include <boost/random/normal_distribution.hpp>
#include <boost/random/uniform_int_distribution.hpp>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

using namespace betacrit;

namespace {

constexpr std::uint64_t kMax64 = std::numeric_limits<std::uint64_t>::max();

/// An engine of 64-bit words that replays a fixed list (cyclically) and counts its calls.
struct ScriptedEngine {
  using result_type = std::uint64_t;
  static constexpr result_type min() { return 0; }
  static constexpr result_type max() { return kMax64; }
  std::vector<std::uint64_t> words;
  std::size_t calls = 0;
  result_type operator()() { return words[calls++ % words.size()]; }
};

/// The bootstrap medians as they were computed before the counting form: each resample
/// drawn with Boost's distribution, copied, and its median() taken.
std::vector<double> medians_by_copy(const std::vector<double>& values, Engine& eng, int resamples) {
  boost::random::uniform_int_distribution<std::size_t> pick(0, values.size() - 1);
  std::vector<double> meds(static_cast<std::size_t>(std::max(resamples, 0))), sample(values.size());
  for (auto& m : meds) {
    for (auto& v : sample) v = values[pick(eng)];
    m = median(sample);
  }
  return meds;
}

std::vector<double> means_by_boost(const std::vector<double>& values, Engine& eng, int resamples) {
  boost::random::uniform_int_distribution<std::size_t> pick(0, values.size() - 1);
  std::vector<double> means(static_cast<std::size_t>(std::max(resamples, 0)));
  for (auto& m : means) {
    double sum = 0;
    for (std::size_t i = 0; i < values.size(); ++i) sum += values[pick(eng)];
    m = sum / static_cast<double>(values.size());
  }
  return means;
}

std::vector<std::uint64_t> bits(const std::vector<double>& v) {
  std::vector<std::uint64_t> b;
  for (double x : v) b.push_back(std::bit_cast<std::uint64_t>(x));
  return b;
}

/// Draws `count` picks from [0, hi] both ways from equally seeded engines; true when every
/// value and the engine states afterwards agree.
bool picks_agree(std::uint64_t hi, std::size_t count, std::uint64_t seed) {
  Engine a(seed), b(seed);
  boost::random::uniform_int_distribution<std::uint64_t> boost_pick(0, hi);
  const UniformIndex fast(hi);
  for (std::size_t k = 0; k < count; ++k)
    if (boost_pick(a) != fast(b)) return false;
  return a == b;
}

}  // namespace

TEST_CASE("UniformIndex draws what Boost's uniform_int_distribution draws", "[bootstrap][pick]") {
  // Small ranges (no rejection in practice), powers of two and their neighbours, ranges
  // whose bucket is 1 or 2 (rejection about half or a third of the time), and the full
  // 64-bit range (raw engine words).
  const std::uint64_t two63 = std::uint64_t{1} << 63;
  const std::vector<std::uint64_t> counts = {1,
                                             2,
                                             3,
                                             5,
                                             255,
                                             256,
                                             257,
                                             1000,
                                             (std::uint64_t{1} << 31) + 11,
                                             std::uint64_t{1} << 32,
                                             (std::uint64_t{1} << 32) + 1,
                                             kMax64 / 3 + 1,
                                             two63 - 1,
                                             two63,
                                             two63 + 1,
                                             two63 + 5,
                                             kMax64 - 1,
                                             kMax64};
  std::uint64_t seed = 1;
  for (std::uint64_t m : counts) {
    INFO("m = " << m);
    CHECK(picks_agree(m - 1, 1'000'000, seed++));
  }
  // hi = 2^64 − 1: every engine word is a value.
  CHECK(picks_agree(kMax64, 100'000, seed++));

  // Random ranges of every bit length.
  Engine g(2024);
  int disagree = 0;
  for (int bitlen = 1; bitlen <= 64; ++bitlen)
    for (int rep = 0; rep < 4; ++rep) {
      const std::uint64_t top = bitlen == 64 ? kMax64 : (std::uint64_t{1} << bitlen) - 1;
      const std::uint64_t hi = (g() & top) | (std::uint64_t{1} << (bitlen - 1));
      if (!picks_agree(hi, 20'000, seed++)) ++disagree;
    }
  CHECK(disagree == 0);
}

TEST_CASE("UniformIndex agrees with Boost on the words at bucket and rejection edges", "[bootstrap][pick]") {
  // Words just below, at and above multiples of the bucket size (computed here as
  // floor(2^64 / (hi + 1))), at the largest accepted word and beyond it; each call must
  // return Boost's value after consuming the same words.
  __extension__ using U128 = unsigned __int128;
  const std::vector<std::uint64_t> his = {1,  2,  4,  254, 255, 256, 999, (std::uint64_t{1} << 31) + 10,
                                          (std::uint64_t{1} << 32) - 1, kMax64 / 3, (std::uint64_t{1} << 63) - 1,
                                          std::uint64_t{1} << 63, (std::uint64_t{1} << 63) + 4, kMax64 - 1};
  for (std::uint64_t hi : his) {
    INFO("hi = " << hi);
    const U128 two64 = U128{1} << 64;
    const std::uint64_t bucket = static_cast<std::uint64_t>(two64 / (U128{hi} + 1));
    std::vector<std::uint64_t> words = {0, 1, kMax64, kMax64 - 1};
    for (U128 k : {U128{1}, U128{2}, U128{3}, U128{hi} / 2, U128{hi}, U128{hi} + 1, U128{hi} + 2}) {
      const U128 edge = k * bucket;
      for (int d = -2; d <= 2; ++d) {  // edge + d
        const U128 step = static_cast<U128>(d < 0 ? -d : d);
        if (d < 0 && edge < step) continue;
        const U128 w = d < 0 ? edge - step : edge + step;
        if (w < two64) words.push_back(static_cast<std::uint64_t>(w));
      }
    }
    ScriptedEngine a{words}, b{words};
    boost::random::uniform_int_distribution<std::uint64_t> boost_pick(0, hi);
    const UniformIndex fast(hi);
    bool same = true;
    // Start a call at every word of the script (3 passes).
    for (std::size_t call = 0; call < 3 * words.size(); ++call) {
      const std::uint64_t x = boost_pick(a), y = fast(b);
      same = same && x == y && a.calls == b.calls;
    }
    CHECK(same);
    CHECK(a.calls >= 3 * words.size());
  }
}

TEST_CASE("UniformIndex over one value consumes no engine output, as Boost", "[bootstrap][pick]") {
  Engine a(5), b(5);
  boost::random::uniform_int_distribution<std::uint64_t> boost_pick(0, 0);
  const UniformIndex fast(0);
  for (int k = 0; k < 10; ++k) {
    CHECK(boost_pick(a) == 0);
    CHECK(fast(b) == 0);
  }
  CHECK(a == b);
  CHECK(b == Engine(5));
}

TEST_CASE("counting bootstrap medians equal copy + median() of each resample", "[bootstrap][median]") {
  Engine g(99);
  boost::random::normal_distribution<double> z;
  boost::random::uniform_int_distribution<int> small(0, 3);
  const std::vector<std::size_t> sizes = {1, 2, 3, 4, 5, 6, 7, 8, 15, 16, 31, 32, 100, 255, 256, 257, 1000};
  // Kinds of data: distinct values; heavy ties; all equal; signed values with infinities;
  // zeros of one sign among others; both signed zeros (the copy path); NaN (the copy path).
  const std::vector<std::string> kinds = {"distinct", "ties", "constant", "inf", "minus_zero", "both_zeros", "nan"};
  int cases = 0;
  for (std::size_t n : sizes)
    for (const std::string& kind : kinds) {
      std::vector<double> v(n);
      for (auto& x : v) {
        if (kind == "distinct") x = std::exp(z(g));
        else if (kind == "ties") x = small(g);
        else if (kind == "constant") x = 2.5;
        else if (kind == "inf") x = small(g) == 0 ? (z(g) < 0 ? -INFINITY : INFINITY) : z(g);
        else if (kind == "minus_zero") x = small(g) == 0 ? -0.0 : small(g);
        else if (kind == "both_zeros") x = small(g) <= 1 ? (small(g) < 2 ? -0.0 : 0.0) : small(g) - 1.0;
        else x = small(g) == 0 ? std::numeric_limits<double>::quiet_NaN() : z(g);
      }
      const std::uint64_t seed = 1000 + static_cast<std::uint64_t>(cases++);
      for (int resamples : {0, 1, 7, 200}) {
        Engine a(seed), b(seed);
        const auto expected = medians_by_copy(v, a, resamples);
        const auto got = bootstrap_medians(v, b, resamples);
        INFO("n = " << n << ", " << kind << ", resamples " << resamples);
        CHECK(bits(got) == bits(expected));
        CHECK(a == b);
      }
    }
  CHECK(cases == static_cast<int>(sizes.size() * kinds.size()));
}

TEST_CASE("bootstrap means equal the sums over Boost's picks", "[bootstrap][mean]") {
  Engine g(7);
  boost::random::normal_distribution<double> z;
  for (std::size_t n : {1, 2, 3, 17, 256, 1001}) {
    std::vector<double> v(n);
    for (auto& x : v) x = std::exp(2 * z(g));
    Engine a(n), b(n);
    const auto expected = means_by_boost(v, a, 300);
    const auto got = bootstrap_means(v, b, 300);
    INFO("n = " << n);
    CHECK(bits(got) == bits(expected));
    CHECK(a == b);
  }
}

TEST_CASE("fit_critical gives the same bits on any thread count", "[bootstrap][threads]") {
  // Log-normal rows around A·L^γ at six row lengths, some rows non-finite or tied.
  Engine g(31);
  boost::random::normal_distribution<double> z;
  CriticalSeries cs;
  for (int e : {8, 10, 12, 14, 16, 18}) {
    const double L = e * std::log(2.0);
    cs.log_n.push_back(L);
    std::vector<double> rows(301);
    for (std::size_t r = 0; r < rows.size(); ++r) rows[r] = 0.8 * std::pow(L, 0.6) * std::exp(0.3 * z(g));
    rows[3] = std::numeric_limits<double>::quiet_NaN();
    rows[4] = INFINITY;
    rows[5] = rows[6];
    cs.rows.push_back(std::move(rows));
  }
  FitOptions one;
  one.seed = 77;
  one.resamples = 500;
  one.threads = 1;
  const FitResult ref = fit_critical(cs, one);
  REQUIRE(ref.points.size() == 6);
  for (int threads : {2, 3, 5}) {
    FitOptions o = one;
    o.threads = threads;
    const FitResult r = fit_critical(cs, o);
    INFO("threads = " << threads);
    CHECK(r.to_json().dump() == ref.to_json().dump());
    for (std::size_t i = 0; i < r.points.size(); ++i) {
      CHECK(std::bit_cast<std::uint64_t>(r.points[i].median_lo) == std::bit_cast<std::uint64_t>(ref.points[i].median_lo));
      CHECK(std::bit_cast<std::uint64_t>(r.points[i].sigma_log) == std::bit_cast<std::uint64_t>(ref.points[i].sigma_log));
      CHECK(std::bit_cast<std::uint64_t>(r.points[i].mean_hi) == std::bit_cast<std::uint64_t>(ref.points[i].mean_hi));
    }
    CHECK(std::bit_cast<std::uint64_t>(r.plain.boot_lo) == std::bit_cast<std::uint64_t>(ref.plain.boot_lo));
    CHECK(std::bit_cast<std::uint64_t>(r.corrected.boot_hi) == std::bit_cast<std::uint64_t>(ref.corrected.boot_hi));
  }
  // The bootstrap CIs exist (the comparison above is not between NaNs).
  CHECK(std::isfinite(ref.plain.boot_lo));
  CHECK(std::isfinite(ref.corrected.boot_hi));
}
