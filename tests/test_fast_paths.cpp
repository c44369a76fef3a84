// The row engine's fast paths against direct computations: the multiresolution index
// behind GapMeasure::sums/sums2, buckets with fewer power sums, the vectorised (and
// CPU-dispatched) accumulation loop, grid-split buckets for N_n(t), the near-gap
// selection from bucket counts, Newton root finding, and in-memory rows.
#include "models/model.hpp"
#include "reference.hpp"
#include "sim/estimators.hpp"
#include "sim/gap_measure.hpp"
#include "sim/observables.hpp"
#include "sim/row_engine.hpp"
#include "sim/tail_row.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

using namespace betacrit;

namespace {

std::vector<double> draw(const Model& model, std::uint64_t n, std::uint64_t row, std::uint64_t seed = 41) {
  std::vector<double> s(n);
  Engine e = row_engine(seed, model.type(), n, row);
  for (std::uint64_t off = 0; off < n; off += RowScratch::kBlock) {
    const auto len = static_cast<std::size_t>(std::min<std::uint64_t>(RowScratch::kBlock, n - off));
    model.draw(e, n, off, std::span<double>(s.data() + off, len));
  }
  return s;
}

std::vector<double> grid(double t_max, int count) {
  std::vector<double> t;
  for (int j = 1; j <= count; ++j) t.push_back(t_max * j / count);
  return t;
}

GapMeasure build(const std::vector<double>& s, int powers, std::size_t near = 4096,
                 std::vector<double> t_grid = grid(4.0, 64)) {
  GapMeasureBuilder::Options o;
  o.near_capacity = near;
  o.t_grid = std::move(t_grid);
  o.powers = powers;
  GapMeasureBuilder b(*std::max_element(s.begin(), s.end()), o);
  b.add_scores(s);
  return b.finish(std::log(static_cast<double>(s.size())));
}

/// S0, T1 = Σ βΔ e^{-βΔ} and T2 = Σ (βΔ)² e^{-βΔ} in long double, term by term.
struct DirectSums {
  long double s0 = 0, t1 = 0, t2 = 0;
};
DirectSums direct_sums(const std::vector<double>& s, long double beta) {
  const long double M = *std::max_element(s.begin(), s.end());
  DirectSums d;
  for (double x : s) {
    const long double y = beta * (M - static_cast<long double>(x));
    const long double e = std::exp(-y);
    d.s0 += e;
    d.t1 += y * e;
    d.t2 += y * y * e;
  }
  return d;
}

/// Agreement of the sums at β: S0 relative, T1 and T2 on the scale that H and dH/dβ see.
void check_sums(const GapSums2& got, const DirectSums& want, double tol) {
  const long double scale1 = want.s0 + want.t1;
  const long double scale2 = want.s0 + want.t1 + want.t2;
  CHECK(std::fabs(got.s0 - want.s0) <= tol * want.s0);
  CHECK(std::fabs(got.t1 - want.t1) <= tol * scale1);
  CHECK(std::fabs(got.t2 - want.t2) <= 10 * tol * scale2);
}

const std::vector<double> kBetas = {0.0, 1e-3, 0.05, 0.3, 1.0, 2.7, 8.0, 20.0, 75.0, 300.0, 2e3, 1e5};

}  // namespace

TEST_CASE("index sums equal a direct long-double sum for every model and many beta", "[fast][index]") {
  const std::vector<std::pair<std::string, ParamValues>> models = {
      {"gaussian", {}},           {"gumbel", {{"scale", 0.5}}}, {"weibull_tail", {{"shape", 4}}},
      {"student_t", {{"nu", 3}}}, {"pareto", {{"alpha", 2}}},   {"sparse_gap", {{"noise", 0.3}, {"signals", 2}}},
      {"sparse_gap", {}}};
  for (const auto& [type, params] : models) {
    auto model = make_model(type, params);
    for (std::uint64_t n : {std::uint64_t{7}, std::uint64_t{1000}, std::uint64_t{40000}}) {
      if (n < model->min_n()) continue;
      const auto s = draw(*model, n, 3);
      for (int powers : {kPowers, kRowPowers, kShortRowPowers}) {
        const GapMeasure g = build(s, powers);
        CAPTURE(type, n, powers, g.buckets.size(), g.index.size());
        REQUIRE(g.index_buckets == g.buckets.size());
        REQUIRE_FALSE(g.index.empty());
        for (double beta : kBetas) {
          CAPTURE(beta);
          const DirectSums d = direct_sums(s, beta);
          const GapSums a = g.sums(beta);
          const GapSums2 a2 = g.sums2(beta);
          check_sums({a.s0, a.t1, a2.t2}, d, 1e-12);
          // sums and sums2 walk the same nodes: identical S0 and T1.
          CHECK(a2.s0 == a.s0);
          CHECK(a2.t1 == a.t1);
          const GapSums b = g.sums_from_buckets(beta);
          check_sums({b.s0, b.t1, static_cast<double>(d.t2)}, d, 1e-12);
        }
      }
    }
  }
}

TEST_CASE("index over gaps spanning hundreds of octaves, ties and atoms", "[fast][index]") {
  // Gaps from 1e-200 to 1e+200 and a tied top: levels far apart, atoms, long chains.
  std::vector<double> s = {0.0, 0.0, -1e-200, -3e-150, -2e-100, -1e-50, -1e-20, -1e-10, -0.5, -0.5, -0.5,
                           -1.0, -1.0 - 1e-15, -2.0, -1e10, -5e50, -1e100, -1e150, -1e200};
  for (int i = 0; i < 300; ++i) s.push_back(-std::ldexp(1.0, i - 150) * (1.0 + i * 1e-3));
  for (int powers : {kPowers, kRowPowers, kShortRowPowers}) {
    const GapMeasure g = build(s, powers, 8);
    REQUIRE(g.m == 2);
    REQUIRE_FALSE(g.index.empty());
    for (double beta : {0.0, 1e-200, 1e-120, 1e-60, 1e-12, 1.0, 1e9, 1e40, 1e120, 1e190}) {
      CAPTURE(powers, beta);
      const DirectSums d = direct_sums(s, beta);
      const GapSums a = g.sums(beta);
      check_sums({a.s0, a.t1, g.sums2(beta).t2}, d, 1e-12);
    }
  }
}

TEST_CASE("fewer power sums per bucket keep the observables of the full series", "[fast][powers]") {
  auto model = make_model("gaussian", {});
  const auto s = draw(*model, 200000, 1);
  const GapMeasure full = build(s, kPowers);
  for (int powers : {kRowPowers, kShortRowPowers}) {
    CAPTURE(powers);
    const GapMeasure row = build(s, powers);
    REQUIRE(row.bucket_powers == powers);
    REQUIRE(full.buckets.size() == row.buckets.size());
    std::size_t differ = 0;
    for (std::size_t i = 0; i < row.buckets.size(); ++i) {
      for (int j = powers; j < kPowers; ++j) differ += row.buckets[i].power[static_cast<std::size_t>(j)] != 0;
      for (std::size_t j = 0; j < static_cast<std::size_t>(powers); ++j)
        differ += row.buckets[i].power[j] != full.buckets[i].power[j];
      differ += row.buckets[i].min_gap != full.buckets[i].min_gap || row.buckets[i].max_gap != full.buckets[i].max_gap;
    }
    CHECK(differ == 0);
    for (double beta = 0.01; beta < 1e4; beta *= 1.7) {
      const auto a = observables_at(full, beta), b = observables_at(row, beta);
      CAPTURE(beta);
      CHECK(std::fabs(a.entropy - b.entropy) <= 1e-12 * std::max(1.0, a.entropy));
      CHECK(std::fabs(a.max_weight / b.max_weight - 1) <= 1e-12);
      CHECK(std::fabs(a.collision / b.collision - 1) <= 1e-12);
    }
  }
}

TEST_CASE("a bucket with eight power sums errs by at most the truncation bound", "[fast][powers]") {
  // The bound of docs/performance.md: with P_0..P_7, a bucket's S0 errs by at most
  // x^8 e^{2x}/8! of its own S0 and its T1 = β·S1 by (y + 8)·x^8 e^{2x}/8! of it, where
  // x = β·half_width and y = β·centre (|v| <= 1). Checked bucket by bucket against the
  // full series, from the x of the rows that keep eight sums up to x = 1/2.
  auto model = make_model("gaussian", {});
  const auto s = draw(*model, 100000, 5);
  const GapMeasure full = build(s, kPowers);
  const GapMeasure row = build(s, kShortRowPowers);
  REQUIRE(full.buckets.size() == row.buckets.size());
  const double x_short = std::log(kShortRowMaxN) / 256;  // the largest x that matters for those rows
  double worst_ratio = 0;
  for (std::size_t i = 0; i < row.buckets.size(); ++i) {
    if (full.buckets[i].is_atom()) continue;
    for (double x : {1e-3, 0.01, 0.03, x_short, 0.15, 0.3, 0.5}) {
      const double beta = x / full.buckets[i].half_width;
      const double y = beta * full.buckets[i].center;
      auto one = [&](const GapMeasure& g) {
        GapMeasure b;
        b.n = 1e300;  // no cutoff
        b.log_n = std::log(b.n);
        b.bucket_powers = g.bucket_powers;
        b.buckets = {g.buckets[i]};
        const GapSums r = b.sums_from_buckets(beta);
        return GapSums{r.s0 * std::exp(y), r.t1 * std::exp(y)};  // without the common e^{-y}
      };
      const GapSums a = one(full), b = one(row);
      const double bound = std::pow(x, 8) * std::exp(2 * x) / 40320.0;
      const double round = 1e-15 * (a.s0 + a.t1);
      CAPTURE(i, x, y, a.s0, b.s0, a.t1, b.t1, bound);
      CHECK(std::fabs(a.s0 - b.s0) <= bound * a.s0 + round);
      CHECK(std::fabs(a.t1 - b.t1) <= (y + 8) * bound * a.s0 + round);
      if (x >= 0.15) worst_ratio = std::max(worst_ratio, std::fabs(a.s0 - b.s0) / (bound * a.s0));
    }
  }
  // The bound is not vacuous: at x >= 0.15 some bucket comes within a factor 100 of it.
  CHECK(worst_ratio > 0.01);
}

TEST_CASE("rows up to 2^24 scores keep eight power sums, longer rows ten", "[fast][powers]") {
  CHECK(row_powers(1) == kShortRowPowers);
  CHECK(row_powers(kShortRowMaxN) == kShortRowPowers);
  CHECK(row_powers(kShortRowMaxN + 1) == kRowPowers);
  CHECK(row_powers(std::ldexp(1.0, 60)) == kRowPowers);
  auto model = make_model("gaussian", {});
  RowScratch scratch;
  RowSettings settings;
  settings.t_grid = grid(4.0, 16);
  const MeasuredRow r = measure_row(*model, 5000, row_engine(3, "gaussian", 5000, 0), settings, scratch);
  CHECK(r.gaps.bucket_powers == kShortRowPowers);
}

TEST_CASE("the dispatched accumulation loop gives the same bits as one gap at a time", "[fast][dispatch]") {
  // add_scores runs a loop cloned per instruction set (AVX2 where the CPU has it); add_gap
  // runs the baseline code. Element-wise arithmetic makes them agree bit for bit.
  auto model = make_model("student_t", {{"nu", 3}});
  const auto s = draw(*model, 50000, 9);
  const double mx = *std::max_element(s.begin(), s.end());
  for (int powers : {kPowers, kRowPowers, kShortRowPowers}) {
    GapMeasureBuilder::Options o;
    o.near_capacity = 100;
    o.t_grid = grid(4.0, 64);
    o.powers = powers;
    GapMeasureBuilder a(mx, o), b(mx, o);
    a.add_scores(s);
    for (double x : s) b.add_gap(mx - x);
    const GapMeasure ga = a.finish(std::log(5e4)), gb = b.finish(std::log(5e4));
    REQUIRE(ga.buckets.size() == gb.buckets.size());
    for (std::size_t i = 0; i < ga.buckets.size(); ++i) {
      CHECK(std::memcmp(ga.buckets[i].power.data(), gb.buckets[i].power.data(), sizeof(double) * kPowers) == 0);
      CHECK(ga.buckets[i].min_gap == gb.buckets[i].min_gap);
      CHECK(ga.buckets[i].max_gap == gb.buckets[i].max_gap);
    }
    CHECK(ga.near == gb.near);
    CHECK(ga.near_complete_below == gb.near_complete_below);
    CHECK(ga.count_at_t == gb.count_at_t);
    CHECK(ga.m == gb.m);
  }
}

TEST_CASE("grid points split buckets so that N(t) is exact", "[fast][grid]") {
  auto model = make_model("gaussian", {});
  auto s = draw(*model, 30000, 2);
  const double mx = *std::max_element(s.begin(), s.end());
  // Fine grid (several points per bucket), points equal to gaps, and points <= 0.
  std::vector<double> t = {-1.0, 0.0};
  for (int j = 1; j <= 2000; ++j) t.push_back(6.0 * j / 2000);
  for (int i = 0; i < 200; ++i) t.push_back(mx - s[static_cast<std::size_t>(i) * 7]);
  std::sort(t.begin(), t.end());
  const GapMeasure g = build(s, kRowPowers, 64, t);
  for (std::size_t j = 0; j < t.size(); ++j) {
    const auto direct = std::count_if(s.begin(), s.end(), [&](double x) {
      const double gap = mx - x;
      return gap > 0 && gap <= t[j];
    });
    CAPTURE(j, t[j]);
    CHECK(g.count_at_t[j] == static_cast<double>(direct));
  }
  std::size_t straddling = 0;
  for (const auto& b : g.buckets)
    for (double tj : t) straddling += (b.max_gap <= tj || b.min_gap > tj) ? 0 : 1;
  CHECK(straddling == 0);
  // The split buckets keep the sums exact as well.
  for (double beta : {0.1, 3.0, 40.0}) {
    const DirectSums d = direct_sums(s, beta);
    check_sums({g.sums(beta).s0, g.sums(beta).t1, static_cast<double>(d.t2)}, d, 1e-12);
  }
}

TEST_CASE("near holds every gap below its bound, ascending, and β_acc stays exact", "[fast][near]") {
  const std::vector<std::pair<std::string, ParamValues>> models = {
      {"gaussian", {}}, {"gumbel", {}}, {"pareto", {{"alpha", 1.5}}}, {"sparse_gap", {{"signals", 3}}},
      {"sparse_gap", {{"noise", 0.01}}}};
  for (const auto& [type, params] : models) {
    auto model = make_model(type, params);
    for (std::uint64_t n : {std::uint64_t{50}, std::uint64_t{20000}, std::uint64_t{120000}}) {
      const auto s = draw(*model, n, 5);
      const double mx = *std::max_element(s.begin(), s.end());
      std::vector<double> gaps;
      for (double x : s)
        if (mx - x > 0) gaps.push_back(mx - x);
      std::sort(gaps.begin(), gaps.end());
      for (std::size_t k : {std::size_t{1}, std::size_t{8}, std::size_t{300}, std::size_t{4096}}) {
        RowSettings settings;
        settings.near_capacity = k;
        settings.t_grid = grid(4.0, 16);
        const MeasuredRow row = measure_scores(s, settings);
        const GapMeasure& g = row.gaps;
        const std::size_t kept = std::min(k, RowSettings::kInMemoryNear);  // rows in memory keep fewer
        CAPTURE(type, n, k, kept, g.near.size(), g.near_complete_below);
        CHECK(std::is_sorted(g.near.begin(), g.near.end()));
        // Exactly the gaps below the bound, in order.
        const auto below = static_cast<std::size_t>(
            std::lower_bound(gaps.begin(), gaps.end(), g.near_complete_below) - gaps.begin());
        REQUIRE(g.near.size() == below);
        CHECK(std::equal(g.near.begin(), g.near.end(), gaps.begin()));
        // At least K of them unless one bucket alone would overfill near; at most 3K/2 otherwise.
        if (gaps.size() <= kept) CHECK(std::isinf(g.near_complete_below));
        CHECK(g.near.size() <= std::max<std::size_t>(3 * kept / 2, kept + 1));
        const long double acc = reference::direct_accumulation(s);
        if (acc == 0) CHECK(row.accumulation == 0);
        else CHECK(std::fabs(row.accumulation / static_cast<double>(acc) - 1) < 1e-14);
      }
    }
  }
}

TEST_CASE("weighted gaps are exact atoms beside the unit gaps", "[fast][near]") {
  GapMeasureBuilder::Options o;
  o.near_capacity = 10;
  o.t_grid = grid(4.0, 8);
  o.powers = kRowPowers;
  GapMeasureBuilder b(0.0, o);
  std::vector<double> unit;
  std::vector<std::pair<double, double>> weighted;
  for (int i = 1; i <= 500; ++i) {
    const double gap = 0.001 * ((i * 7919) % 500 + 1);
    unit.push_back(gap);
    b.add_gap(gap);
    if (i % 50 == 0) {
      weighted.emplace_back(3.0 + i * 1e-3, 1e6 * i);
      b.add_weighted_gap(weighted.back().first, weighted.back().second);
    }
  }
  const GapMeasure g = b.finish(std::log(500 + 10 * 1e6));
  std::sort(unit.begin(), unit.end());
  // near: every unit gap below its bound, in order, at least K of them.
  const auto below = static_cast<std::size_t>(
      std::lower_bound(unit.begin(), unit.end(), g.near_complete_below) - unit.begin());
  REQUIRE(g.near.size() == below);
  CHECK(std::equal(g.near.begin(), g.near.end(), unit.begin()));
  CHECK(g.near.size() >= 10);
  // N(t) and S0 count the weighted atoms exactly.
  for (std::size_t j = 0; j < g.t_grid.size(); ++j) {
    double want = static_cast<double>(std::upper_bound(unit.begin(), unit.end(), g.t_grid[j]) - unit.begin());
    for (const auto& [gap, w] : weighted) want += gap <= g.t_grid[j] ? w : 0;
    CHECK(g.count_at_t[j] == want);
  }
  CHECK(g.index_buckets == g.buckets.size());  // the atoms sit in the index too
  for (double beta : {0.0, 0.5, 3.0, 20.0, 300.0, 1e4}) {
    long double s0 = 0;
    for (double x : unit) s0 += std::exp(-static_cast<long double>(beta) * x);
    for (const auto& [gap, w] : weighted) s0 += w * std::exp(-static_cast<long double>(beta) * gap);
    CHECK(std::fabs(g.sums(beta).s0 - s0) <= 1e-12 * s0);
  }
}

TEST_CASE("tail-mode rows are summed through the index as through their buckets", "[fast][index]") {
  RowSettings settings;
  settings.t_grid = grid(4.0, 16);
  for (const char* type : {"gaussian", "gumbel"}) {
    auto model = make_model(type, {});
    for (double log2_n : {24.0, 200.0}) {
      const MeasuredRow row = measure_tail_row(*model, log2_n, row_engine(41, type, 0, 1, 1), settings);
      const GapMeasure& g = row.gaps;
      CAPTURE(type, log2_n, g.buckets.size(), g.index.size());
      CHECK(g.index_buckets == g.buckets.size());
      for (double beta : {0.0, 0.01, 0.3, 1.0, 3.0, 10.0, 100.0}) {
        CAPTURE(beta);
        const GapSums a = g.sums(beta), b = g.sums_from_buckets(beta);
        CHECK(std::fabs(a.s0 - b.s0) <= 1e-12 * b.s0);
        CHECK(std::fabs(a.t1 - b.t1) <= 1e-12 * (b.s0 + b.t1));
      }
    }
  }
}

TEST_CASE("hand-made buckets that are not dyadic are summed directly", "[fast][index]") {
  GapMeasure g;
  g.n = 11;
  g.m = 1;
  g.log_n = std::log(11.0);
  GapBucket b;
  b.center = 0.3;  // not the centre of a dyadic interval
  b.half_width = 0.1;
  b.min_gap = 0.25;
  b.max_gap = 0.35;
  for (std::size_t j = 0; j < b.power.size(); j += 2) b.power[j] = 10 * std::pow(0.5, j);  // five gaps at v = ±0.5
  g.buckets.push_back(b);
  g.build_index();
  CHECK(g.index_buckets != g.buckets.size());  // not used
  for (double beta : {0.0, 1.0, 10.0}) {
    const GapSums a = g.sums(beta), want = g.sums_from_buckets(beta);
    CHECK(a.s0 == want.s0);
    CHECK(a.t1 == want.t1);
    const long double direct = 1 + 5 * std::exp(-0.25L * beta) + 5 * std::exp(-0.35L * beta);
    CHECK(std::fabs(a.s0 - direct) < 1e-12 * direct);
  }
  // A measure whose buckets were edited after finish() stops using its stale index.
  auto model = make_model("gaussian", {});
  GapMeasure m = build(draw(*model, 3000, 4), kRowPowers);
  REQUIRE(m.index_buckets == m.buckets.size());
  m.buckets.pop_back();
  CHECK(m.sums(0.5).s0 == m.sums_from_buckets(0.5).s0);
}

TEST_CASE("Newton half_mass and entropy_fraction match long-double bisection on hard rows", "[fast][roots]") {
  std::vector<std::vector<double>> rows;
  // Two far-apart clusters (a kink in log S0), a tiny minimum gap, ties at the top.
  std::vector<double> clusters = {5.0};
  for (int i = 0; i < 400; ++i) clusters.push_back(4.999 - 1e-4 * i);
  for (int i = 0; i < 1500; ++i) clusters.push_back(-3.0 - 1e-3 * i);
  rows.push_back(clusters);
  std::vector<double> tiny = {1.0, 1.0 - 1e-9};
  for (int i = 0; i < 1500; ++i) tiny.push_back(-std::sqrt(static_cast<double>(i)));
  rows.push_back(tiny);
  std::vector<double> ties = {2.0, 2.0, 2.0};
  for (int i = 0; i < 1500; ++i) ties.push_back(2.0 - std::ldexp(1.0, -(i % 40)) * (1 + i * 1e-4));
  rows.push_back(ties);
  auto model = make_model("weibull_tail", {{"shape", 0.7}});
  rows.push_back(draw(*model, 3000, 8));
  RowSettings settings;
  settings.t_grid = grid(4.0, 16);
  for (std::size_t r = 0; r < rows.size(); ++r) {
    const auto& s = rows[r];
    const MeasuredRow row = measure_scores(s, settings);
    CAPTURE(r);
    const long double hm = reference::direct_half_mass(s);
    // β_half is as well conditioned as S0 - 2m is steep: a relative error ε of S0 moves it
    // by about ε·S0/T1 relatively (the tiny-gap row is ill-conditioned on purpose).
    const DirectSums at = direct_sums(s, hm);
    const double tol = std::max(1e-10, static_cast<double>(1e-13L * at.s0 / at.t1));
    CAPTURE(tol);
    CHECK(std::fabs(half_mass(row.gaps) / static_cast<double>(hm) - 1) < tol);
    for (double f : {0.2, 0.5, 0.8}) {
      CAPTURE(f);
      const long double ef = reference::direct_entropy_fraction(s, f);
      CHECK(std::fabs(entropy_fraction(row.gaps, f) / static_cast<double>(ef) - 1) < 1e-9);
    }
  }
}

TEST_CASE("an in-memory row is measured as its scores are", "[fast][rows]") {
  auto model = make_model("gumbel", {});
  RowSettings settings;
  settings.t_grid = grid(4.0, 64);
  for (std::uint64_t n : {std::uint64_t{3}, RowScratch::kBlock + 1, std::uint64_t{300000}}) {
    RowScratch scratch;
    const MeasuredRow a = measure_row(*model, n, row_engine(41, "gumbel", n, 2), settings, scratch);
    const MeasuredRow b = measure_scores(draw(*model, n, 2), settings);
    CAPTURE(n);
    CHECK(a.passes == 1);
    REQUIRE(a.gaps.buckets.size() == b.gaps.buckets.size());
    for (std::size_t i = 0; i < a.gaps.buckets.size(); ++i)
      CHECK(std::memcmp(&a.gaps.buckets[i], &b.gaps.buckets[i], sizeof(GapBucket)) == 0);
    CHECK(a.accumulation == b.accumulation);
    CHECK(a.gaps.near == b.gaps.near);
  }
}
