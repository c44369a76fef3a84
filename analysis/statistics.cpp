#include "analysis/statistics.hpp"

#include "sim/rng.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

namespace betacrit {

UniformIndex::UniformIndex(std::uint64_t hi) : hi_(hi) {
  constexpr std::uint64_t brange = std::numeric_limits<std::uint64_t>::max();
  if (hi == 0) return;
  if (hi == brange) {
    raw_ = true;
    return;
  }
  // Boost's bucket size for brange = 2^64 − 1 (it equals floor(2^64 / (hi + 1))).
  bucket_ = brange / (hi + 1);
  if (brange % (hi + 1) == hi) ++bucket_;
  inv_ = brange / bucket_;
  // w / bucket <= hi  <=>  w < (hi + 1)·bucket, which is at most 2^64.
  max_accepted_ = static_cast<std::uint64_t>(static_cast<U128>(hi + 1) * bucket_ - 1);
}

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

namespace {

/// The straightforward form: each resample copied and its median taken (median() drops
/// NaN). Used when the counting form below could differ: NaN among the values, or both
/// signed zeros (equal as numbers, different bits; which one nth_element returns depends
/// on its internals).
std::vector<double> bootstrap_medians_by_copy(std::span<const double> values, Engine& engine, int resamples) {
  const UniformIndex pick(values.size() - 1);
  std::vector<double> meds(static_cast<std::size_t>(std::max(resamples, 0))), sample(values.size());
  for (auto& m : meds) {
    for (auto& v : sample) v = values[pick(engine)];
    m = median(sample);
  }
  return meds;
}

}  // namespace

std::vector<double> bootstrap_medians(std::span<const double> values, Engine& engine, int resamples) {
  const std::size_t n = values.size();
  bool by_copy = n == 0 || n > std::numeric_limits<std::uint32_t>::max();
  bool plus_zero = false, minus_zero = false;
  for (double v : values) {
    by_copy = by_copy || std::isnan(v);
    if (v == 0) (std::signbit(v) ? minus_zero : plus_zero) = true;
  }
  if (by_copy || (plus_zero && minus_zero)) return bootstrap_medians_by_copy(values, engine, resamples);

  // Sort once; a resample is then the number of times each sorted position was drawn,
  // and its median is read off the cumulative counts. The draws are those of the copy
  // form (same picks from the same engine), and the order statistics are the same
  // values: equal values have equal bits here (no NaN, no mixed signed zeros).
  std::vector<std::uint32_t> order(n);
  std::iota(order.begin(), order.end(), std::uint32_t{0});
  std::sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) { return values[a] < values[b]; });
  std::vector<double> sorted(n);
  std::vector<std::uint32_t> rank(n);
  for (std::size_t j = 0; j < n; ++j) {
    sorted[j] = values[order[j]];
    rank[order[j]] = static_cast<std::uint32_t>(j);
  }
  // median() of n values: the h-th order statistic (0-based, h = n/2) when n is odd,
  // else 0.5·(order statistic h−1 + order statistic h).
  const std::size_t h = n / 2;
  const bool odd = n % 2 == 1;
  const std::size_t k_lower = odd ? h : h - 1;
  const UniformIndex pick(n - 1);
  std::vector<std::uint32_t> count(n);
  std::vector<double> meds(static_cast<std::size_t>(std::max(resamples, 0)));
  for (auto& m : meds) {
    std::memset(count.data(), 0, n * sizeof(std::uint32_t));
    for (std::size_t i = 0; i < n; ++i) ++count[rank[pick(engine)]];
    // Smallest j whose cumulative count exceeds k is order statistic k.
    std::size_t j = 0, cum = count[0];
    while (cum <= k_lower) cum += count[++j];
    const double lower = sorted[j];
    if (odd) {
      m = lower;
      continue;
    }
    while (cum <= h) cum += count[++j];
    const double upper = sorted[j];
    m = 0.5 * (lower + upper);
  }
  return meds;
}

std::vector<double> bootstrap_means(std::span<const double> values, Engine& engine, int resamples) {
  const UniformIndex pick(values.size() - 1);
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
