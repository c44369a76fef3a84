// Finite-size-scaling collapse (SPEC §5): Houdayer–Hartmann quality, its minimiser and the
// curvature-rule uncertainty, on synthetic curves with a planted exponent.
#include "analysis/collapse.hpp"

#include "sim/rng.hpp"

#include <boost/random/normal_distribution.hpp>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cmath>
#include <stdexcept>
#include <vector>

using namespace betacrit;

namespace {

double master(double x) { return 1.0 / (1.0 + std::exp((x - 1.0) / 0.15)); }  // a max_weight-like step

/// Curves y_n(β) = master(β/(log n)^γ0) + noise at n = 2^e, each on its own β grid
/// (so that the scaled abscissae of different n interleave, as in a real sweep).
std::vector<CollapseCurve> planted(double gamma0, double dy, std::uint64_t seed, bool noise = true) {
  Engine eng(seed);
  boost::random::normal_distribution<double> z;
  std::vector<CollapseCurve> curves;
  for (double e : {8.0, 12.0, 16.0, 20.0, 24.0}) {
    CollapseCurve c;
    c.log_n = e * std::log(2.0);
    const double scale = std::pow(c.log_n, gamma0);
    for (int j = 0; j < 40; ++j) {
      const double x = 0.3 * std::pow(3.0 / 0.3, (j + 0.37 * e / 8.0) / 40.0);  // x in [0.3, 3]
      c.beta.push_back(x * scale);
      c.y.push_back(master(x) + (noise ? dy * z(eng) : 0.0));
      c.dy.push_back(dy);
    }
    curves.push_back(c);
  }
  return curves;
}

}  // namespace

TEST_CASE("collapse quality: perfect collapse at the planted exponent, worse elsewhere", "[collapse]") {
  const auto curves = planted(0.5, 0.01, 1, /*noise=*/false);
  std::size_t terms = 0;
  const double s0 = collapse_quality(curves, 0.5, &terms);
  CHECK(terms > 100);
  // Without noise the only residual is the curvature of the master curve between two
  // neighbouring grid points, far below the error bar.
  CHECK(s0 < 0.05);
  for (double g : {0.3, 0.4, 0.6, 0.7}) CHECK(collapse_quality(curves, g) > 10 * s0 + 1);
  // Exact recovery without noise.
  const auto r = collapse_exponent(curves);
  REQUIRE(r.ok);
  CHECK(std::fabs(r.gamma - 0.5) < 1e-3);
}

TEST_CASE("collapse recovers a planted exponent within its uncertainty", "[collapse]") {
  for (double gamma0 : {0.5, 1.0, 2.0}) {
    for (std::uint64_t seed : {1, 2, 3}) {
      const auto curves = planted(gamma0, 0.02, seed);
      const auto r = collapse_exponent(curves);
      CAPTURE(gamma0, seed, r.gamma, r.gamma_sigma, r.quality, r.note);
      REQUIRE(r.ok);
      CHECK(std::isfinite(r.gamma_sigma));
      CHECK(r.gamma_sigma > 0);
      CHECK(std::fabs(r.gamma - gamma0) <= r.gamma_sigma);
      // The uncertainty is informative: the neighbouring laws lie far outside it.
      CHECK(r.gamma_sigma < 0.1);
      // With honest error bars S at the minimum is about 1 (mean of ~unit-variance terms).
      CHECK(r.quality > 0.5);
      CHECK(r.quality < 2.0);
      // Wrong exponents collapse worse.
      CHECK(collapse_quality(curves, gamma0 - 0.25) > r.quality + 1);
      CHECK(collapse_quality(curves, gamma0 + 0.25) > r.quality + 1);
      // The curvature rule: S rises by about S_min at γ̂ ± σ (exactly for a quadratic S).
      const double rise = 0.5 * (collapse_quality(curves, r.gamma - r.gamma_sigma) +
                                 collapse_quality(curves, r.gamma + r.gamma_sigma)) - r.quality;
      CHECK(rise == Approx(r.quality).epsilon(0.35));
    }
  }
}

TEST_CASE("collapse: malformed curves are refused, non-overlapping ones reported", "[collapse][edge]") {
  auto curves = planted(0.5, 0.01, 4);
  CHECK_THROWS_AS(collapse_exponent({curves[0]}), std::invalid_argument);
  auto bad = curves;
  bad[1].beta[3] = bad[1].beta[2];
  CHECK_THROWS_WITH(collapse_exponent(bad), Catch::Contains("curve 1") && Catch::Contains("ascending"));
  bad = curves;
  bad[2].dy.pop_back();
  CHECK_THROWS_WITH(collapse_exponent(bad), Catch::Contains("differ in length"));
  bad = curves;
  bad[0].y[5] = std::nan("");
  CHECK_THROWS_WITH(collapse_exponent(bad), Catch::Contains("index 5"));
  // Curves on disjoint β ranges never overlap: S is infinite, the result says so.
  std::vector<CollapseCurve> disjoint(2);
  disjoint[0] = {std::log(64.0), {1, 2, 3}, {1, 1, 1}, {0.1, 0.1, 0.1}};
  disjoint[1] = {std::log(128.0), {1e6, 2e6, 3e6}, {1, 1, 1}, {0.1, 0.1, 0.1}};
  CollapseOptions narrow;
  narrow.gamma_min = 0;
  narrow.gamma_max = 0.5;
  const auto r = collapse_exponent(disjoint, narrow);
  CHECK_FALSE(r.ok);
  CHECK(r.note.find("do not overlap") != std::string::npos);
  CHECK(r.to_json()["ok"] == false);
  // Curves that collapse only at γ = 5, outside the search range: S falls towards the
  // edge, so there is no minimum to report.
  const auto d = collapse_exponent(planted(5.0, 0.01, 6));
  CHECK_FALSE(d.ok);
  CHECK(d.note.find("no minimum inside") != std::string::npos);
  // Zero standard errors (e.g. max_weight at β = 0) are floored, not divided by.
  auto exact = planted(1.0, 0.0, 5, false);
  const auto e = collapse_exponent(exact);
  REQUIRE(e.ok);
  CHECK(std::fabs(e.gamma - 1.0) < 1e-2);
}
