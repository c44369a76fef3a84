// The row engine against the definitions of SPEC §1: closed forms (sparse_gap), a direct
// long-double softmax over the full row, invariants, and edge cases.
#include "models/model.hpp"
#include "reference.hpp"
#include "sim/estimators.hpp"
#include "sim/observables.hpp"
#include "sim/row_engine.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

using namespace betacrit;

namespace {
std::vector<double> draw_row(const Model& model, std::uint64_t n, std::uint64_t row) {
  std::vector<double> s(n);
  Engine eng = row_engine(99, model.type(), n, row);
  model.draw(eng, n, 0, s);
  return s;
}
RowSettings small_settings(std::size_t near = 4096) {
  RowSettings r;
  r.near_capacity = near;
  for (int i = 1; i <= 16; ++i) r.t_grid.push_back(0.25 * i);
  return r;
}
double rel(double a, long double b) { return static_cast<double>(std::fabs((a - b) / b)); }
}  // namespace

TEST_CASE("sparse_gap with noise 0 matches the closed forms", "[row][closed-form]") {
  for (double a : {0.0, 1.0, 2.5}) {
    for (double m : {1.0, 3.0}) {
      for (std::uint64_t n : {std::uint64_t{7}, std::uint64_t{1000}, std::uint64_t{300000}}) {
        auto model = make_model("sparse_gap", {{"gap", 0.7}, {"gap_exponent", a}, {"signals", m}});
        RowScratch scratch;
        const auto row = measure_row(*model, n, row_engine(1, "sparse_gap", n, 0), small_settings(), scratch);
        const double logn = std::log(static_cast<double>(n));
        const double delta = 0.7 / std::pow(logn, a);
        CAPTURE(a, m, n);
        REQUIRE(row.gaps.m == m);
        for (double beta : {0.0, 0.3, 1.0, 7.0, 40.0}) {
          const double s0 = m + (n - m) * std::exp(-beta * delta);
          const auto v = observables_at(row.gaps, beta);
          CHECK(std::fabs(v.max_weight * s0 - 1) < 1e-12);
          CHECK(std::fabs(v.top_mass * s0 / m - 1) < 1e-12);
        }
        const double beta_closed = std::log((n - m) / m) / delta;
        if (n > 2 * m) {
          CHECK(std::fabs(row.accumulation / beta_closed - 1) < 1e-12);
          CHECK(std::fabs(half_mass(row.gaps) / beta_closed - 1) < 1e-12);
          CHECK(std::fabs(*model->theory_beta(logn) / beta_closed - 1) < 1e-12);
        }
        // N_n(t) is a step at delta.
        for (std::size_t j = 0; j < row.gaps.t_grid.size(); ++j)
          CHECK(row.gaps.count_at_t[j] == (row.gaps.t_grid[j] >= delta ? n - m : 0));
      }
    }
  }
}

TEST_CASE("observables and estimators equal a direct long-double softmax", "[row][direct]") {
  const std::vector<std::pair<std::string, ParamValues>> models = {
      {"gaussian", {}}, {"gumbel", {{"scale", 0.5}}}, {"weibull_tail", {{"shape", 4}}},
      {"student_t", {{"nu", 3}}}, {"pareto", {{"alpha", 2}}},
      {"sparse_gap", {{"noise", 0.3}, {"signals", 2}}}};
  for (const auto& [type, params] : models) {
    auto model = make_model(type, params);
    for (std::uint64_t n : {std::uint64_t{2}, std::uint64_t{5}, std::uint64_t{64}, std::uint64_t{3000}}) {
      if (n < model->min_n()) continue;
      for (std::uint64_t r = 0; r < 3; ++r) {
        const auto s = draw_row(*model, n, r);
        // near_capacity 8 forces the bucket bounds and the refinement path on longer rows.
        for (std::size_t near : {std::size_t{8}, std::size_t{4096}}) {
          const auto row = measure_scores(s, small_settings(near));
          CAPTURE(type, n, r, near);
          for (double beta : {0.0, 0.05, 0.5, 1.0, 3.0, 10.0, 100.0}) {
            const auto v = observables_at(row.gaps, beta);
            const auto d = reference::direct_observables(s, beta);
            CAPTURE(beta);
            CHECK(rel(v.max_weight, d.max_weight) < 1e-9);
            CHECK(rel(v.top_mass, d.top_mass) < 1e-9);
            CHECK(rel(v.collision, d.collision) < 1e-9);
            CHECK(std::fabs(v.log_partition - d.log_partition) < 1e-9 * std::max(1.0L, d.log_partition));
            CHECK(std::fabs(v.entropy - d.entropy) < 1e-9 * std::max(1.0L, d.entropy));
          }
          const long double acc = reference::direct_accumulation(s);
          if (acc == 0) CHECK(row.accumulation == 0);
          else CHECK(rel(row.accumulation, acc) < 1e-14);
          const long double hm = reference::direct_half_mass(s);
          if (hm == 0) CHECK(half_mass(row.gaps) == 0);
          else CHECK(rel(half_mass(row.gaps), hm) < 1e-10);
          if (n >= 5) {
            const long double ef = reference::direct_entropy_fraction(s, 0.5L);
            CHECK(rel(entropy_fraction(row.gaps, 0.5), ef) < 1e-9);
          }
          CHECK(row.accumulation <= half_mass(row.gaps) * (1 + 1e-12));
        }
      }
    }
  }
}

TEST_CASE("streamed rows longer than one block equal the in-memory measure", "[row][stream]") {
  auto model = make_model("gumbel", {});
  const std::uint64_t n = RowScratch::kInMemory + 12345;  // longer than an in-memory row: streamed
  std::vector<double> s(n);
  Engine e1 = row_engine(5, "gumbel", n, 0);
  // The streamed engine draws in blocks of kBlock; drawing the same blocks here gives the same row.
  for (std::uint64_t off = 0; off < n; off += RowScratch::kBlock) {
    const std::size_t len = std::min<std::uint64_t>(RowScratch::kBlock, n - off);
    model->draw(e1, n, off, std::span<double>(s.data() + off, len));
  }
  RowScratch scratch;
  const auto streamed = measure_row(*model, n, row_engine(5, "gumbel", n, 0), small_settings(64), scratch);
  const auto direct = measure_scores(s, small_settings(64));
  CHECK(streamed.passes >= 2);
  CHECK(streamed.accumulation == direct.accumulation);
  CHECK(rel(streamed.accumulation, reference::direct_accumulation(s)) < 1e-14);
  for (double beta : {0.1, 1.0, 5.0}) {
    const auto d = reference::direct_observables(s, beta);
    CHECK(rel(observables_at(streamed.gaps, beta).entropy, d.entropy) < 1e-9);
  }
}

TEST_CASE("beta = 0 gives log n; entropy falls and max_weight rises with beta", "[row][invariants]") {
  for (const auto& info : model_registry()) {
    auto model = make_model(info.type, {});
    const std::uint64_t n = 4096;
    RowScratch scratch;
    for (std::uint64_t r = 0; r < 4; ++r) {
      const auto row = measure_row(*model, n, row_engine(3, info.type, n, r), small_settings(), scratch);
      CAPTURE(info.type, r);
      const auto v0 = observables_at(row.gaps, 0.0);
      CHECK(std::fabs(v0.entropy - std::log(4096.0)) < 1e-12);
      CHECK(std::fabs(v0.max_weight * 4096 - 1) < 1e-12);
      double prev_h = v0.entropy, prev_w = v0.max_weight;
      for (double beta = 1e-3; beta < 1e6; beta *= 1.3) {
        const auto v = observables_at(row.gaps, beta);
        for (Observable o : kAllObservables) CHECK(std::isfinite(v.get(o)));
        CHECK(v.entropy <= prev_h + 1e-12 * std::log(4096.0));
        CHECK(v.max_weight >= prev_w * (1 - 1e-12));
        CHECK(v.norm_entropy >= 0);
        CHECK(v.norm_entropy <= 1);
        prev_h = v.entropy;
        prev_w = v.max_weight;
      }
    }
  }
}

TEST_CASE("edge cases: n = 2, all tied, m > 1, huge beta, scores near 1e300", "[row][edge]") {
  const auto settings = small_settings();
  SECTION("n = 2") {
    const auto row = measure_scores(std::vector<double>{0.0, -1.5}, settings);
    CHECK(row.accumulation == 0);             // N(t) = 1 = m for all t
    CHECK(half_mass(row.gaps) == 0);          // n <= 2m
    CHECK(std::fabs(observables_at(row.gaps, 2.0).max_weight - 1 / (1 + std::exp(-3.0))) < 1e-15);
  }
  SECTION("all scores tied") {
    const std::vector<double> s(50, 3.25);
    const auto row = measure_scores(s, settings);
    CHECK(row.gaps.m == 50);
    CHECK(row.accumulation == 0);
    CHECK(half_mass(row.gaps) == 0);
    CHECK(std::isnan(entropy_fraction(row.gaps, 0.5)));  // H = log n at every beta
    const auto v = observables_at(row.gaps, 1e9);
    CHECK(std::fabs(v.entropy - std::log(50.0)) < 1e-12);
    CHECK(v.top_mass == 1);
  }
  SECTION("ties at the top, m = 3") {
    const std::vector<double> s = {1, 1, 1, 0, 0, 0, 0, 0, 0, 0, -2, -2};
    const auto row = measure_scores(s, settings);
    CHECK(row.gaps.m == 3);
    // N(1) = 7, N(3) = 9: candidates log(7/3)/1 and log(9/3)/3.
    CHECK(std::fabs(row.accumulation - std::log(7.0 / 3.0)) < 1e-15);
    CHECK(std::fabs(half_mass(row.gaps) - reference::direct_half_mass(s)) < 1e-12);
  }
  SECTION("huge beta and scores of magnitude 1e300") {
    const std::vector<double> s = {1e300, -1e300, 5e299, 1e300 * (1 - 1e-15), 0.0};
    const auto row = measure_scores(s, settings);
    for (double beta : {0.0, 1e-300, 1e-299, 1.0, 1e300}) {
      const auto v = observables_at(row.gaps, beta);
      for (Observable o : kAllObservables) CHECK(std::isfinite(v.get(o)));
      const auto d = reference::direct_observables(s, beta);
      CHECK(rel(v.max_weight, d.max_weight) < 1e-9);
    }
    CHECK(std::isfinite(row.accumulation));
    CHECK(std::isfinite(half_mass(row.gaps)));
  }
}

TEST_CASE("sparse_gap limiting normalized entropy is a step at c = 1", "[row][theory]") {
  // Closed form at noise 0 with n − m competitors at gap δ: a weighted atom represents them
  // for n = e^L far beyond memory. H/log n at β = c·β*(n) tends to the model's limit curve.
  auto model = make_model("sparse_gap", {});
  for (double L : {200.0, 600.0}) {  // n = e^L stays below the double range
    const double delta = 1.0;  // gap_exponent 0
    GapMeasureBuilder b(delta, {0, {}});
    b.add_gap(0.0);                              // the signal (m = 1)
    b.add_weighted_gap(delta, std::exp(L) - 1);  // the n − 1 competitors
    const GapMeasure g = b.finish(L);
    const double beta_star = *model->theory_beta(L);
    for (double c : {0.25, 0.5, 0.9, 1.1, 2.0}) {
      const double h = observables_at(g, c * beta_star).norm_entropy;
      CAPTURE(L, c, h);
      // Corrections are O(1/((1-c) L)) and O(1/((c-1) L)).
      CHECK(std::fabs(h - *model->limit_norm_entropy(c)) < 5.0 / (std::fabs(1 - c) * L));
    }
  }
}
