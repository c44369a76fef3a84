#include "sim/row_engine.hpp"

#include "sim/estimators.hpp"

#include <algorithm>
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

void check_finite(std::span<const double> s) {
  for (std::size_t i = 0; i < s.size(); ++i)
    if (!std::isfinite(s[i]))
      throw std::runtime_error("score at column " + std::to_string(i) + " is not finite");
}

double max_of(std::span<const double> s) { return *std::max_element(s.begin(), s.end()); }

/// Collects the gaps (relative to `max`) that fall in the unresolved ranges.
struct RangeCollector {
  const std::vector<std::pair<double, double>>& ranges;  // ascending, disjoint
  double max;
  std::vector<double> members;
  void add(std::span<const double> s) {
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

GapMeasureBuilder::Options builder_options(const RowSettings& s) {
  return GapMeasureBuilder::Options{s.near_capacity, s.t_grid};
}

}  // namespace

MeasuredRow measure_row(const Model& model, std::uint64_t n, const Engine& start, const RowSettings& settings,
                        RowScratch& scratch) {
  if (n < 1) throw std::invalid_argument("row length must be >= 1");
  if (n <= RowScratch::kBlock) {
    Engine eng = start;
    scratch.block.resize(static_cast<std::size_t>(n));
    std::span<double> row(scratch.block.data(), static_cast<std::size_t>(n));
    model.draw(eng, n, 0, row);
    return measure_scores(row, settings);
  }
  MeasuredRow out;
  const double log_n = std::log(static_cast<double>(n));
  double mx = -std::numeric_limits<double>::infinity();
  for_each_block(model, n, start, scratch, [&](std::span<const double> s) {
    check_finite(s);
    mx = std::max(mx, max_of(s));
  });
  GapMeasureBuilder b(mx, builder_options(settings));
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
  check_finite(scores);
  MeasuredRow out;
  const double mx = max_of(scores);
  GapMeasureBuilder b(mx, builder_options(settings));
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
