#include "sim/row_engine.hpp"

#include "sim/estimators.hpp"
#include "sim/cpu_dispatch.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace betacrit {

namespace {

constexpr std::size_t kMaxRefineMembers = std::size_t{1} << 25;

/// Calls visit(span) over the row's scores block by block, from a copy of `start`.
template <class Visit>
void for_each_block(const Model& model, std::uint64_t n, const Engine& start, RowScratch& scratch,
                    Visit&& visit) {
  Engine eng = start;
  const std::size_t cap = RowScratch::kBlock;
  scratch.block.resize(static_cast<std::size_t>(std::min<std::uint64_t>(n, cap)));
  for (std::uint64_t off = 0; off < n; off += cap) {
    const std::size_t len = static_cast<std::size_t>(std::min<std::uint64_t>(cap, n - off));
    std::span<double> out(scratch.block.data(), len);
    model.draw(eng, n, off, out);
    visit(std::span<const double>(out));
  }
}

typedef double MaxVec __attribute__((vector_size(32)));
typedef std::uint64_t BitsVec __attribute__((vector_size(32)));

/// The maximum of finite scores; throws naming the first non-finite score's column.
BETACRIT_CLONE_AVX2
double checked_max(std::span<const double> s, std::uint64_t first_column = 0) {
  // One branch-free pass four lanes wide; a score is not finite when its exponent bits are
  // all ones. The column is looked up only when something is wrong.
  constexpr std::uint64_t kExponent = 0x7FF0000000000000ULL;
  constexpr double kLow = -std::numeric_limits<double>::infinity();
  MaxVec m = {kLow, kLow, kLow, kLow};
  BitsVec bad = {0, 0, 0, 0};
  const BitsVec exponent = {kExponent, kExponent, kExponent, kExponent};
  std::size_t i = 0;
  for (; i + 4 <= s.size(); i += 4) {
    MaxVec x;
    std::memcpy(&x, s.data() + i, sizeof x);
    m = x > m ? x : m;
    BitsVec b;
    std::memcpy(&b, s.data() + i, sizeof b);
    bad |= (b & exponent) == exponent;
  }
  double mx = std::max(std::max(m[0], m[1]), std::max(m[2], m[3]));
  std::uint64_t any_bad = bad[0] | bad[1] | bad[2] | bad[3];
  for (; i < s.size(); ++i) {
    mx = s[i] > mx ? s[i] : mx;
    any_bad |= (std::bit_cast<std::uint64_t>(s[i]) & kExponent) == kExponent ? 1 : 0;
  }
  if (any_bad != 0) {
    for (std::size_t j = 0; j < s.size(); ++j)
      if (!std::isfinite(s[j]))
        throw std::runtime_error("score at column " + std::to_string(first_column + j) + " is not finite");
  }
  return mx;
}

/// Collects the gaps (relative to `max`) that fall in the unresolved ranges.
struct RangeCollector {
  const std::vector<std::pair<double, double>>& ranges;  // ascending, disjoint
  double max;
  std::vector<double> members;
  BETACRIT_CLONE_AVX2 void add(std::span<const double> s) {
    const double first = ranges.front().first, last = ranges.back().second;
    for (double x : s) {
      const double gap = max - x;
      if (gap < first || gap > last) continue;
      auto it = std::upper_bound(ranges.begin(), ranges.end(), gap,
                                 [](double v, const auto& r) { return v < r.first; });
      if (it == ranges.begin()) continue;
      --it;
      if (gap <= it->second) members.push_back(gap);
    }
    if (members.size() > kMaxRefineMembers)
      throw std::runtime_error("beta_acc refinement needs more than 2^25 exact gaps in one row");
  }
};

GapMeasureBuilder::Options builder_options(const RowSettings& s, double n) {
  GapMeasureBuilder::Options o;
  o.near_capacity = s.near_capacity;
  o.t_grid = s.t_grid;
  o.powers = row_powers(n);  // unit weights, n < 2^64
  return o;
}

}  // namespace

MeasuredRow measure_row(const Model& model, std::uint64_t n, const Engine& start, const RowSettings& settings,
                        RowScratch& scratch) {
  if (n < 1) throw std::invalid_argument("row length must be >= 1");
  if (n <= RowScratch::kInMemory) {
    // Drawn once, in the same blocks as a streamed row (the block size never changes a row).
    Engine eng = start;
    scratch.block.resize(static_cast<std::size_t>(n));
    for (std::uint64_t off = 0; off < n; off += RowScratch::kBlock) {
      const auto len = static_cast<std::size_t>(std::min<std::uint64_t>(RowScratch::kBlock, n - off));
      model.draw(eng, n, off, std::span<double>(scratch.block.data() + off, len));
    }
    return measure_scores(std::span<const double>(scratch.block.data(), static_cast<std::size_t>(n)), settings);
  }
  MeasuredRow out;
  const double log_n = std::log(static_cast<double>(n));
  double mx = -std::numeric_limits<double>::infinity();
  std::uint64_t column = 0;
  for_each_block(model, n, start, scratch, [&](std::span<const double> s) {
    mx = std::max(mx, checked_max(s, column));
    column += s.size();
  });
  GapMeasureBuilder b(mx, builder_options(settings, static_cast<double>(n)));
  for_each_block(model, n, start, scratch, [&](std::span<const double> s) { b.add_scores(s); });
  out.gaps = b.finish(log_n);
  out.passes = 2;
  const AccumulationResult acc = accumulation_search(out.gaps);
  if (acc.exact) {
    out.accumulation = acc.value;
  } else {
    RangeCollector c{acc.unresolved, mx, {}};
    for_each_block(model, n, start, scratch, [&](std::span<const double> s) { c.add(s); });
    out.accumulation = accumulation_refined(out.gaps, acc, std::move(c.members));
    out.passes = 3;
  }
  return out;
}

MeasuredRow measure_scores(std::span<const double> scores, const RowSettings& settings) {
  if (scores.empty()) throw std::invalid_argument("empty row");
  MeasuredRow out;
  const double mx = checked_max(scores);
  GapMeasureBuilder::Options options = builder_options(settings, static_cast<double>(scores.size()));
  options.near_capacity = std::min(options.near_capacity, RowSettings::kInMemoryNear);
  GapMeasureBuilder b(mx, std::move(options));
  b.add_scores(scores);
  out.gaps = b.finish(std::log(static_cast<double>(scores.size())));
  out.passes = 1;
  const AccumulationResult acc = accumulation_search(out.gaps);
  if (acc.exact) {
    out.accumulation = acc.value;
  } else {
    RangeCollector c{acc.unresolved, mx, {}};
    c.add(scores);
    out.accumulation = accumulation_refined(out.gaps, acc, std::move(c.members));
  }
  return out;
}

}  // namespace betacrit
