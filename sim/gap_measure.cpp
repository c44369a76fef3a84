#include "sim/gap_measure.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <stdexcept>

namespace betacrit {

namespace {
constexpr int kShift = 52 - kBucketMantissaBits;
constexpr std::size_t kPerBlock = std::size_t{1} << kBucketMantissaBits;
constexpr std::size_t kBlocks = 2047;  // finite binary exponents

// Contributions with β·Δ_min > log(weight) + kNegligible are below e^-60 relative to m >= 1.
constexpr double kNegligible = 60.0;
}  // namespace

GapSums GapMeasure::sums(double beta) const {
  GapSums out{m, 0.0};
  // Buckets are ascending and no bucket weighs more than n: once β·Δ_min exceeds
  // log n + kNegligible, every later bucket is negligible too.
  const double cutoff = std::log(std::max(n, 1.0)) + kNegligible;
  for (const GapBucket& b : buckets) {
    const double w = b.weight();
    if (beta * b.min_gap > cutoff) break;
    if (b.is_atom()) {
      const double y = beta * b.min_gap;
      const double e = std::exp(-y);
      out.s0 += w * e;
      out.t1 += w * y * e;
      continue;
    }
    const double bc = beta * b.center;
    const double x = beta * b.half_width;
    double a0 = 0, a1 = 0, coef = 1;
    for (int j = 0; j <= kTaylorOrder; ++j) {
      a0 += coef * b.power[j];
      a1 += coef * b.power[j + 1];
      coef *= -x / (j + 1);
    }
    const double e = std::exp(-bc);
    out.s0 += e * a0;
    out.t1 += e * (bc * a0 + x * a1);
  }
  return out;
}

double GapMeasure::positive_weight() const {
  double w = 0;
  for (const auto& b : buckets) w += b.weight();
  return w;
}

double GapMeasure::min_gap() const {
  return buckets.empty() ? std::numeric_limits<double>::infinity() : buckets.front().min_gap;
}

double GapMeasure::mean_gap() const {
  double w = 0, s = 0;
  for (const auto& b : buckets) {
    w += b.weight();
    s += b.center * b.power[0] + b.half_width * b.power[1];
  }
  return w > 0 ? s / w : 0.0;
}

GapMeasureBuilder::GapMeasureBuilder(double max_score, Options options)
    : max_(max_score), options_(std::move(options)), blocks_(kBlocks) {
  if (!std::isfinite(max_score)) throw std::invalid_argument("row maximum is not finite");
  if (!std::is_sorted(options_.t_grid.begin(), options_.t_grid.end()))
    throw std::invalid_argument("gap grid must be ascending");
  count_hist_.assign(options_.t_grid.size() + 1, 0.0);
  near_.reserve(2 * options_.near_capacity + 1);
}
GapMeasureBuilder::~GapMeasureBuilder() = default;
GapMeasureBuilder::GapMeasureBuilder(GapMeasureBuilder&&) noexcept = default;
GapMeasureBuilder& GapMeasureBuilder::operator=(GapMeasureBuilder&&) noexcept = default;

void GapMeasureBuilder::add_gap(double gap) {
  if (gap == 0.0) {
    m_ += 1;
    total_ += 1;
    return;
  }
  bucket_add(gap, 1.0);
  count_add(gap, 1.0);
  near_add(gap);
  total_ += 1;
}

void GapMeasureBuilder::add_weighted_gap(double gap, double weight) {
  if (!(weight > 0) || !std::isfinite(weight)) throw std::invalid_argument("gap weight must be positive and finite");
  if (gap == 0.0) {
    m_ += weight;
  } else {
    if (!(gap > 0) || !std::isfinite(gap))
      throw std::invalid_argument("gap must be positive and finite (score above the maximum, or overflow)");
    weighted_.emplace_back(gap, weight);
    count_add(gap, weight);
  }
  total_ += weight;
}

void GapMeasureBuilder::bucket_add(double gap, double weight) {
  if (!(gap > 0) || !std::isfinite(gap))
    throw std::invalid_argument("gap must be positive and finite (score above the maximum, or overflow)");
  const std::uint64_t key = std::bit_cast<std::uint64_t>(gap) >> kShift;
  const std::size_t block = key >> kBucketMantissaBits;
  const std::size_t slot = key & (kPerBlock - 1);
  auto& blk = blocks_[block];
  if (!blk) {
    blk = std::make_unique<GapBucket[]>(kPerBlock);
    for (std::size_t i = 0; i < kPerBlock; ++i) {
      const std::uint64_t k = (static_cast<std::uint64_t>(block) << kBucketMantissaBits) | i;
      const double lo = std::bit_cast<double>(k << kShift);
      const double hi = std::bit_cast<double>((k + 1) << kShift);
      blk[i].center = 0.5 * (lo + hi);
      blk[i].half_width = 0.5 * (hi - lo);
    }
  }
  GapBucket& b = blk[slot];
  b.min_gap = std::min(b.min_gap, gap);
  b.max_gap = std::max(b.max_gap, gap);
  const double v = (gap - b.center) / b.half_width;
  double p = weight;
  b.power[0] += p;
  for (int j = 1; j < kPowers; ++j) {
    p *= v;
    b.power[j] += p;
  }
}

void GapMeasureBuilder::count_add(double gap, double weight) {
  const auto& t = options_.t_grid;
  const std::size_t j = static_cast<std::size_t>(std::lower_bound(t.begin(), t.end(), gap) - t.begin());
  count_hist_[j] += weight;  // j == t.size(): beyond the grid
}

void GapMeasureBuilder::near_add(double gap) {
  if (options_.near_capacity == 0 || !(gap < near_threshold_)) return;
  near_.push_back(gap);
  if (near_.size() >= 2 * options_.near_capacity) {
    const std::size_t k = options_.near_capacity;
    std::nth_element(near_.begin(), near_.begin() + static_cast<std::ptrdiff_t>(k - 1), near_.end());
    near_threshold_ = near_[k - 1];
    near_.resize(k);
    near_truncated_ = true;
  }
}

GapMeasure GapMeasureBuilder::finish(double log_n) {
  GapMeasure g;
  g.n = total_;
  g.log_n = log_n;
  g.m = m_;
  for (auto& blk : blocks_) {
    if (!blk) continue;
    for (std::size_t i = 0; i < kPerBlock; ++i)
      if (blk[i].power[0] > 0) g.buckets.push_back(blk[i]);
  }
  if (!weighted_.empty()) {
    // Weighted gaps are exact atoms (centre = the gap, half-width 0), merged into the
    // ascending order of min_gap that sums() and accumulation_search rely on.
    std::sort(weighted_.begin(), weighted_.end());
    std::vector<GapBucket> merged;
    merged.reserve(g.buckets.size() + weighted_.size());
    auto it = g.buckets.begin();
    for (std::size_t i = 0; i < weighted_.size();) {
      const double gap = weighted_[i].first;
      double w = 0;
      for (; i < weighted_.size() && weighted_[i].first == gap; ++i) w += weighted_[i].second;
      for (; it != g.buckets.end() && it->min_gap <= gap; ++it) merged.push_back(*it);
      GapBucket atom;
      atom.center = gap;
      atom.half_width = 0;
      atom.min_gap = atom.max_gap = gap;
      atom.power[0] = w;
      merged.push_back(atom);
    }
    merged.insert(merged.end(), it, g.buckets.end());
    g.buckets = std::move(merged);
    near_threshold_ = std::min(near_threshold_, weighted_.front().first);
    near_truncated_ = true;
  }
  std::sort(near_.begin(), near_.end());
  g.near = std::move(near_);
  g.near_complete_below = near_truncated_ ? near_threshold_ : std::numeric_limits<double>::infinity();
  g.t_grid = options_.t_grid;
  g.count_at_t.resize(g.t_grid.size());
  double c = 0;
  for (std::size_t j = 0; j < g.t_grid.size(); ++j) {
    c += count_hist_[j];
    g.count_at_t[j] = c;
  }
  return g;
}

}  // namespace betacrit
