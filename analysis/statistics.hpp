#pragma once
// Statistics of per-row critical β values (SPEC §1 conventions: SEM with ddof = 1,
// 1000 bootstrap resamples seeded from the config seed).
#include "sim/rng.hpp"

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace betacrit {

/// Column names of critical/<estimator>_summary, in order.
inline constexpr std::string_view kCriticalSummaryColumns[] = {"median", "median_lo", "median_hi",
                                                               "mean_log", "sem_log"};

struct CriticalSummary {
  double median = 0, median_lo = 0, median_hi = 0;  ///< median and its 95% bootstrap CI
  double mean_log = 0, sem_log = 0;                 ///< mean and SEM of log β over rows with β > 0
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
