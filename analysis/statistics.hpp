#pragma once
// Statistics of per-row critical β values (SPEC §1 conventions: SEM with ddof = 1,
// 1000 bootstrap resamples seeded from the config seed).
#include "sim/rng.hpp"

#include <cstdint>
#include <limits>
#include <span>
#include <string_view>
#include <type_traits>
#include <vector>

namespace betacrit {

/// Column names of critical/<estimator>_summary, in order.
inline constexpr std::string_view kCriticalSummaryColumns[] = {"median", "median_lo", "median_hi",
                                                               "mean_log", "sem_log"};

struct CriticalSummary {
  double median = 0, median_lo = 0, median_hi = 0;  ///< median and its 95% bootstrap CI
  double mean_log = 0, sem_log = 0;                 ///< mean and SEM of log β over rows with β > 0
};

/// The index boost::random::uniform_int_distribution<std::uint64_t>(0, hi) draws from
/// `Engine`, bit for bit: the same values from the same engine outputs, rejections
/// included (Boost 1.74's generate_uniform_int for an engine of 64 full bits: w / bucket
/// size, redrawn while above hi). The constants are computed once, and the division by
/// the bucket size is a multiplication by its reciprocal with an exact one-step correction.
/// Any engine whose outputs are 64-bit words spanning [0, 2^64 − 1] may be passed.
class UniformIndex {
  __extension__ using U128 = unsigned __int128;

 public:
  explicit UniformIndex(std::uint64_t hi);

  template <class Eng>
  std::uint64_t operator()(Eng& engine) const {
    static_assert(std::is_same_v<typename Eng::result_type, std::uint64_t>, "an engine of 64-bit words");
    if (hi_ == 0) return 0;               // Boost consumes nothing for a single value
    if (raw_) return engine();            // hi spans the engine's whole range
    for (;;) {
      const std::uint64_t w = engine();
      if (w > max_accepted_) continue;    // w / bucket > hi: rejected
      // q0 = floor(w·inv / 2^64) is floor(w / bucket) or one less (inv = floor((2^64−1)/bucket)).
      const std::uint64_t q0 = static_cast<std::uint64_t>((static_cast<U128>(w) * inv_) >> 64);
      return q0 + static_cast<std::uint64_t>(w - q0 * bucket_ >= bucket_);
    }
  }

 private:
  // A Mersenne Twister of 64-bit words: outputs span [0, 2^64 − 1], Boost's path assumed here.
  static_assert(std::is_same_v<Engine::result_type, std::uint64_t> && Engine::word_size == 64,
                "UniformIndex reproduces Boost's path for an engine of 64 full bits");
  std::uint64_t hi_ = 0, bucket_ = 1, inv_ = 0, max_accepted_ = 0;
  bool raw_ = false;
};

/// Median of the values (NaN entries are skipped; NaN when none remain).
double median(std::vector<double> values);

/// Percentile of ascending `sorted` values with linear interpolation between order
/// statistics (numpy's default); NaN when empty.
double percentile_sorted(std::span<const double> sorted, double q);

/// Medians of `resamples` bootstrap resamples (with replacement) of `values`, in draw
/// order, drawing from `engine`. `values` must be non-empty and NaN-free.
std::vector<double> bootstrap_medians(std::span<const double> values, Engine& engine, int resamples);

/// Means of `resamples` bootstrap resamples of `values` (non-empty), drawing from `engine`.
std::vector<double> bootstrap_means(std::span<const double> values, Engine& engine, int resamples);

/// Summary of one (model, n, estimator) column of per-row values. Non-finite values are
/// skipped; log statistics use the positive values only. `bootstrap_seed` makes the CI
/// reproducible; `resamples` defaults to 1000.
CriticalSummary summarize_critical(std::span<const double> per_row, std::uint64_t bootstrap_seed,
                                   int resamples = 1000);

}  // namespace betacrit
