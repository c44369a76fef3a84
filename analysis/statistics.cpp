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
  boost::random::uniform_int_distribution<std::size_t> pick(0, x.size() - 1);
  std::vector<double> meds(static_cast<std::size_t>(resamples)), sample(x.size());
  for (auto& m : meds) {
    for (auto& v : sample) v = x[pick(eng)];
    m = median(sample);
  }
  std::sort(meds.begin(), meds.end());
  auto pct = [&](double q) {  // linear interpolation between order statistics (numpy default)
    const double pos = q * static_cast<double>(meds.size() - 1);
    const std::size_t i = static_cast<std::size_t>(pos);
    const double f = pos - static_cast<double>(i);
    return i + 1 < meds.size() ? meds[i] * (1 - f) + meds[i + 1] * f : meds[i];
  };
  s.median_lo = pct(0.025);
  s.median_hi = pct(0.975);
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
