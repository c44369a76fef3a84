#include "analysis/statistics.hpp"

#include "sim/rng.hpp"

#include <boost/random/uniform_int_distribution.hpp>

#include <algorithm>
#include <cmath>
#include <limits>

namespace betacrit {

double median(std::vector<double> v) {
  v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return std::isnan(x); }), v.end());
  if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
  const std::size_t h = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(h), v.end());
  const double upper = v[h];
  if (v.size() % 2 == 1) return upper;
  const double lower = *std::max_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(h));
  return 0.5 * (lower + upper);
}

double percentile_sorted(std::span<const double> sorted, double q) {
  if (sorted.empty()) return std::numeric_limits<double>::quiet_NaN();
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const std::size_t i = static_cast<std::size_t>(pos);
  const double f = pos - static_cast<double>(i);
  return i + 1 < sorted.size() ? sorted[i] * (1 - f) + sorted[i + 1] * f : sorted[i];
}

std::vector<double> bootstrap_medians(std::span<const double> values, Engine& engine, int resamples) {
  boost::random::uniform_int_distribution<std::size_t> pick(0, values.size() - 1);
  std::vector<double> meds(static_cast<std::size_t>(std::max(resamples, 0))), sample(values.size());
  for (auto& m : meds) {
    for (auto& v : sample) v = values[pick(engine)];
    m = median(sample);
  }
  return meds;
}

std::vector<double> bootstrap_means(std::span<const double> values, Engine& engine, int resamples) {
  boost::random::uniform_int_distribution<std::size_t> pick(0, values.size() - 1);
  std::vector<double> means(static_cast<std::size_t>(std::max(resamples, 0)));
  for (auto& m : means) {
    double sum = 0;
    for (std::size_t i = 0; i < values.size(); ++i) sum += values[pick(engine)];
    m = sum / static_cast<double>(values.size());
  }
  return means;
}

CriticalSummary summarize_critical(std::span<const double> per_row, std::uint64_t bootstrap_seed, int resamples) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::vector<double> x;
  for (double v : per_row)
    if (std::isfinite(v)) x.push_back(v);
  CriticalSummary s{nan, nan, nan, nan, nan};
  if (x.empty()) return s;
  s.median = median(x);
  // Percentile bootstrap of the median.
  Engine eng(splitmix64(bootstrap_seed));
  std::vector<double> meds = bootstrap_medians(x, eng, resamples);
  std::sort(meds.begin(), meds.end());
  s.median_lo = percentile_sorted(meds, 0.025);
  s.median_hi = percentile_sorted(meds, 0.975);
  std::vector<double> logs;
  for (double v : x)
    if (v > 0) logs.push_back(std::log(v));
  if (!logs.empty()) {
    double mean = 0;
    for (double l : logs) mean += l;
    mean /= static_cast<double>(logs.size());
    s.mean_log = mean;
    if (logs.size() > 1) {
      double ss = 0;
      for (double l : logs) ss += (l - mean) * (l - mean);
      s.sem_log = std::sqrt(ss / static_cast<double>(logs.size() - 1) / static_cast<double>(logs.size()));
    }
  }
  return s;
}

}  // namespace betacrit
