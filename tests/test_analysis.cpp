// Fits of β*(n) and the law verdict (SPEC §5): synthetic power laws with known exponents,
// deterministic data, closed-form finite-size drifts, and per-row data from the library's
// own row engine (measure_row + the row estimators, models from make_model).
#include "analysis/fit.hpp"
#include "analysis/fit_file.hpp"
#include "analysis/table.hpp"
#include "models/model.hpp"
#include "sim/estimators.hpp"
#include "sim/row_engine.hpp"

#include <boost/random/normal_distribution.hpp>
#include <hdf5.h>
#include <sys/wait.h>
#include <unistd.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

using namespace betacrit;

namespace {

const double kLn2 = std::log(2.0);

bool is_law(const std::string& v) {
  return v == "constant" || v == "sqrt_log" || v == "log" || v == "log_squared";
}

/// Per-row values β = A·L^γ·exp(s·Z) (median exactly A·L^γ) at n = 2^e for e in `exps`.
CriticalSeries lognormal_series(double A, double gamma, double s, const std::vector<double>& exps, int rows,
                                std::uint64_t seed) {
  CriticalSeries cs;
  Engine eng(seed);
  boost::random::normal_distribution<double> z;
  for (double e : exps) {
    const double L = e * kLn2;
    cs.log_n.push_back(L);
    std::vector<double> v(static_cast<std::size_t>(rows));
    for (auto& x : v) x = A * std::pow(L, gamma) * std::exp(s * z(eng));
    cs.rows.push_back(std::move(v));
  }
  return cs;
}

/// Per-n summaries of a closed-form median curve with a given σ of log median.
template <class F>
std::vector<PointSummary> curve_points(F beta, const std::vector<double>& exps, double sigma) {
  std::vector<PointSummary> pts;
  for (double e : exps) {
    PointSummary p;
    p.log_n = e * kLn2;
    p.median = p.median_lo = p.median_hi = beta(p.log_n);
    p.sigma_log = sigma;
    p.rows = 1;
    p.used = true;
    pts.push_back(p);
  }
  return pts;
}

struct Simulated {
  CriticalSeries accumulation, half_mass;
};

/// Rows of a model measured by the row engine at n = 2^e, e in `exps`.
Simulated simulate(const std::string& type, const ParamValues& params, const std::string& label,
                   const std::vector<int>& exps, int rows, std::uint64_t seed) {
  auto model = make_model(type, params);
  RowSettings settings;
  RowScratch scratch;
  Simulated s;
  for (int e : exps) {
    const std::uint64_t n = std::uint64_t{1} << e;
    std::vector<double> acc, half;
    for (int r = 0; r < rows; ++r) {
      const auto row = measure_row(*model, n, row_engine(seed, label, n, static_cast<std::uint64_t>(r)), settings, scratch);
      acc.push_back(row.accumulation);
      half.push_back(betacrit::half_mass(row.gaps));
    }
    s.accumulation.log_n.push_back(static_cast<double>(e) * kLn2);
    s.accumulation.rows.push_back(std::move(acc));
    s.half_mass.log_n.push_back(static_cast<double>(e) * kLn2);
    s.half_mass.rows.push_back(std::move(half));
  }
  return s;
}

std::vector<int> exps_range(int lo, int hi, int step) {
  std::vector<int> v;
  for (int e = lo; e <= hi; e += step) v.push_back(e);
  return v;
}

FitOptions quick(std::uint64_t seed = 1, int resamples = 400) {
  FitOptions o;
  o.seed = seed;
  o.resamples = resamples;
  return o;
}

}  // namespace

TEST_CASE("the 95% CI of a synthetic power law covers its exponent", "[fit][synthetic]") {
  // 36 independent data sets; a 95% interval should miss about 1.8 of them (sd 1.3).
  const std::vector<double> exps = {6, 10, 14, 18, 22, 26, 30};
  int covered = 0, total = 0, right_law = 0;
  for (double gamma : {0.5, 1.0, 2.0}) {
    for (std::uint64_t rep = 0; rep < 12; ++rep) {
      const auto series = lognormal_series(1.3, gamma, 0.25, exps, 300, 1000 * rep + static_cast<std::uint64_t>(gamma * 10));
      const auto r = fit_critical(series, quick(rep));
      CAPTURE(gamma, rep, r.plain.fit.gamma, r.plain.gamma_lo, r.plain.gamma_hi, r.verdict, r.reason);
      REQUIRE(r.plain.gamma_lo < r.plain.gamma_hi);
      ++total;
      if (r.plain.gamma_lo <= gamma && gamma <= r.plain.gamma_hi) ++covered;
      // A pure power law must never be called another law or `none`.
      CHECK((r.verdict == std::string(law_token(*law_from_gamma(gamma))) || r.verdict == "inconclusive"));
      if (r.verdict == law_token(*law_from_gamma(gamma))) ++right_law;
      // A is recovered: the true log A lies within 5 sigma of the fitted one.
      CHECK(std::fabs(std::log(r.plain.fit.A) - std::log(1.3)) < 0.2);
    }
  }
  CHECK(covered >= total - 6);
  CHECK(right_law >= total * 3 / 4);
}

TEST_CASE("per-n medians and means with bootstrap CIs", "[fit][points]") {
  // Log-normal rows: median A·L^γ, mean A·L^γ·e^{s²/2}.
  const double s = 0.25;
  const std::vector<double> exps = {6, 8, 10, 12, 14, 16, 18, 20, 22, 24};
  const auto cs = lognormal_series(1.0, 1.0, s, exps, 400, 77);
  const auto r = fit_critical(cs, quick(3, 1000));
  int median_covered = 0, mean_covered = 0;
  double sigma_sum = 0;
  for (const auto& p : r.points) {
    REQUIRE(p.used);
    CHECK(p.rows == 400);
    CHECK(p.median_lo < p.median);
    CHECK(p.median < p.median_hi);
    if (p.median_lo <= p.log_n && p.log_n <= p.median_hi) ++median_covered;
    const double true_mean = p.log_n * std::exp(0.5 * s * s);
    if (p.mean_lo <= true_mean && true_mean <= p.mean_hi) ++mean_covered;
    sigma_sum += p.sigma_log;
  }
  // σ of log median ≈ √(π/2)·s/√R for a normal log (asymptotic variance of the median);
  // the bootstrap estimate of one point scatters by ~25%, their average much less.
  CHECK(sigma_sum / 10 == Approx(std::sqrt(M_PI / 2) * s / 20).epsilon(0.12));
  CHECK(median_covered >= 8);  // of 10 95% intervals
  CHECK(mean_covered >= 8);
}

TEST_CASE("deterministic data (zero-width bootstrap) fit without NaN", "[fit][deterministic]") {
  CriticalSeries cs;
  for (double e : {6.0, 8.0, 10.0, 12.0, 14.0, 16.0}) {
    cs.log_n.push_back(e * kLn2);
    cs.rows.push_back(std::vector<double>(5, 2.0 * e * kLn2));  // β = 2·log n exactly
  }
  const auto r = fit_critical(cs, quick());
  CAPTURE(r.reason);
  CHECK(r.verdict == "log");
  CHECK(r.family == FitFamily::plain);
  for (double v : {r.gamma, r.gamma_lo, r.gamma_hi, r.A, r.chi2_dof, r.gamma_plain}) CHECK(std::isfinite(v));
  CHECK(std::fabs(r.gamma - 1) < 1e-9);
  CHECK(std::fabs(r.A - 2) < 1e-8);
  // The bootstrap has zero width; the profile rule at the σ floor gives the interval.
  CHECK(r.plain.boot_lo == Approx(1.0).margin(1e-9));
  CHECK(r.plain.boot_hi == Approx(1.0).margin(1e-9));
  CHECK(r.gamma_lo < 1.0);
  CHECK(r.gamma_hi > 1.0);
  for (const auto& p : r.points) {
    CHECK(p.sigma_log == FitOptions{}.sigma_floor);
    CHECK(p.mean == Approx(2.0 * p.log_n).epsilon(1e-12));
    CHECK(p.mean_lo == Approx(p.mean).epsilon(1e-12));
    CHECK(p.mean_hi == Approx(p.mean).epsilon(1e-12));
  }
  const auto j = r.law_weights_json();
  double total = 0;
  for (const char* fam : {"plain", "corrected"})
    for (const char* law : {"constant", "sqrt_log", "log", "log_squared"}) {
      CHECK(j[fam][law]["weight"].is_number());
      CHECK(j[fam][law]["chi2_dof"].is_number());
      total += j[fam][law]["weight"].get<double>();
    }
  total += j["plain"]["free"]["weight"].get<double>() + j["corrected"]["free"]["weight"].get<double>() +
           j["power_n"]["weight"].get<double>();
  CHECK(total == Approx(1.0).epsilon(1e-12));
}

TEST_CASE("an exponent between the laws is never called a law", "[fit][synthetic]") {
  const std::vector<double> exps = {6, 10, 16, 24, 32, 48, 64};
  for (double gamma : {0.25, 0.75, 1.5}) {
    // Precise data: every law is excluded.
    auto r = fit_critical(lognormal_series(0.8, gamma, 0.2, exps, 1000, 7), quick());
    CAPTURE(gamma, r.reason);
    CHECK(r.verdict == "none");
    CHECK(r.gamma_lo <= gamma);
    CHECK(gamma <= r.gamma_hi);
    CHECK(r.reason.find("every law excluded") != std::string::npos);
    // Noisy data: not enough to exclude every law, but never a law either.
    r = fit_critical(lognormal_series(0.8, gamma, 1.0, exps, 40, 8), quick());
    CAPTURE(r.reason);
    CHECK_FALSE(is_law(r.verdict));
  }
}

TEST_CASE("beta* falling like a power of n is `none`, not a law", "[fit][synthetic]") {
  // β* = L·e^{−L/3}: log n · n^{−1/3}, what student_t with ν = 3 gives.
  CriticalSeries cs;
  Engine eng(5);
  boost::random::normal_distribution<double> z;
  for (double e : {6.0, 8.0, 10.0, 12.0, 14.0, 16.0, 18.0}) {
    const double L = e * kLn2;
    cs.log_n.push_back(L);
    std::vector<double> v(300);
    for (auto& x : v) x = L * std::exp(-L / 3) * std::exp(0.5 * z(eng));
    cs.rows.push_back(v);
  }
  const auto r = fit_critical(cs, quick());
  CAPTURE(r.reason);
  CHECK(r.verdict == "none");
  CHECK(r.gamma_hi < 0);
  CHECK(r.reason.find("falls with n") != std::string::npos);
  CHECK(r.reason.find("power of n") != std::string::npos);
  // The power-of-n alternative recovers ν = 3: c = −1/3 within 4 regression σ.
  CHECK(std::fabs(r.power_n.fit.gamma + 1.0 / 3.0) < 4 * r.power_n.c_sigma + 1e-12);
}

TEST_CASE("finite-size drift of the Gaussian maximum's expansion: the trap and its cure", "[fit][drift]") {
  // E max of n standard normals ≈ √(2L) − (log L + log 4π)/(2√(2L)), L = log n: the law is
  // ½ but the local slope at reachable n is ≈ 0.65.
  auto gauss = [](double L) { return std::sqrt(2 * L) - (std::log(L) + std::log(4 * M_PI)) / (2 * std::sqrt(2 * L)); };
  const std::vector<double> reachable = {6, 8, 10, 12, 14, 16, 18, 20};
  const std::vector<double> tail = {8, 16, 32, 64, 128, 256, 512, 1000};
  // Reachable n at a realistic precision (2% per median): the plain fit sees ≈ 0.64 and
  // excludes ½; the verdict must not be a law.
  auto r = fit_summaries(curve_points(gauss, reachable, 0.02));
  CAPTURE(r.reason);
  CHECK(r.verdict == "inconclusive");
  CHECK(r.plain.fit.gamma > 0.6);
  CHECK(r.plain.gamma_lo > 0.5);
  CHECK(std::isfinite(r.corrected.fit.gamma));
  CHECK(r.reason.find("plain gamma") != std::string::npos);
  CHECK(r.reason.find("corrected gamma") != std::string::npos);
  // Astronomically long rows (tail mode): the correction explains the drift and ½ wins.
  for (double sigma : {0.005, 0.01, 0.02}) {
    r = fit_summaries(curve_points(gauss, tail, sigma));
    CAPTURE(sigma, r.reason);
    CHECK(r.verdict == "sqrt_log");
    CHECK(r.gamma_lo <= 0.5 + kCorrectionSystematic);
    CHECK(r.gamma_hi >= 0.5 - kCorrectionSystematic);
  }
  // weibull_tail k = 4 (γ = ¾) with a similar correction: every law excluded.
  auto weibull4 = [](double L) { return std::pow(L, 0.75) * (1 - (std::log(L) + 1) / (4 * L)); };
  r = fit_summaries(curve_points(weibull4, tail, 0.01));
  CAPTURE(r.reason);
  CHECK(r.verdict == "none");
  // A constant approached as 1 − 0.4/log n (gumbel's median β_acc) over the tail range.
  r = fit_summaries(curve_points([](double L) { return 1 - 0.4 / L; }, tail, 0.01));
  CAPTURE(r.reason);
  CHECK(r.verdict == "constant");
}

TEST_CASE("unusable data are reported, not crashed on", "[fit][edge]") {
  CriticalSeries cs;
  cs.log_n = {6 * kLn2, 8 * kLn2};
  cs.rows = {{1.0, 2.0, 3.0}, {2.0, 3.0, 4.0}};
  auto r = fit_critical(cs, quick());
  CHECK(r.verdict == "inconclusive");
  CHECK(r.reason.find("at least 3") != std::string::npos);
  CHECK(std::isnan(r.gamma));
  // A row length whose median is 0 (n <= 2m) and one with only NaN rows are left out with a note.
  cs = lognormal_series(1.0, 1.0, 0.2, {6, 8, 10, 12, 14}, 50, 3);
  cs.log_n.push_back(std::log(2.0));
  cs.rows.push_back(std::vector<double>(50, 0.0));
  cs.log_n.push_back(20 * kLn2);
  cs.rows.push_back(std::vector<double>(50, std::nan("")));
  r = fit_critical(cs, quick());
  int unused = 0;
  for (const auto& p : r.points)
    if (!p.used) {
      ++unused;
      CHECK_FALSE(p.note.empty());
    }
  CHECK(unused == 2);
  CHECK(std::isfinite(r.gamma));
  CHECK(r.local_slopes.size() == 4);
  // to_json never throws and keeps NaN as null.
  const auto j = r.to_json();
  CHECK(j["points"].size() == 7);
}

TEST_CASE("the fit is reproducible and a point's bootstrap ignores the other points", "[fit][seed]") {
  const auto cs = lognormal_series(1.0, 0.5, 0.5, {6, 8, 10, 12, 14, 16}, 200, 11);
  const auto a = fit_critical(cs, quick(42)), b = fit_critical(cs, quick(42)), c = fit_critical(cs, quick(43));
  CHECK(a.gamma_lo == b.gamma_lo);
  CHECK(a.plain.boot_hi == b.plain.boot_hi);
  CHECK(a.to_json().dump() == b.to_json().dump());
  CHECK(a.plain.boot_lo != c.plain.boot_lo);
  CriticalSeries fewer = cs;  // drop the smallest n (as --n-min would)
  fewer.log_n.erase(fewer.log_n.begin());
  fewer.rows.erase(fewer.rows.begin());
  const auto d = fit_critical(fewer, quick(42));
  for (std::size_t i = 0; i < d.points.size(); ++i) {
    CHECK(d.points[i].median_lo == a.points[i + 1].median_lo);
    CHECK(d.points[i].sigma_log == a.points[i + 1].sigma_log);
  }
}

TEST_CASE("fit table: text and JSON", "[fit][table]") {
  std::vector<FitTableRow> rows;
  rows.push_back({"sparse-log", "accumulation", theory_text(std::optional<double>(1.0)),
                  fit_critical(lognormal_series(1.0, 1.0, 0.05, {6, 10, 14, 18, 22}, 100, 2), quick())});
  rows.push_back({"heavy", "half_mass", "none",
                  fit_critical(lognormal_series(1.0, -1.0, 0.05, {6, 10, 14, 18, 22}, 100, 3), quick())});
  std::ostringstream out;
  print_fit_table(rows, out);
  const std::string text = out.str();
  CAPTURE(text);
  CHECK(text.find("model") == 0);
  for (const char* col : {"estimator", "gamma_hat", "95% CI", "theory", "verdict", "family"})
    CHECK(text.find(col) != std::string::npos);
  CHECK(text.find("sparse-log") != std::string::npos);
  CHECK(text.find("log n ") != std::string::npos);  // the verdict `log` printed as its law
  CHECK(text.find(rows[0].fit.reason) != std::string::npos);
  CHECK(text.find(rows[1].fit.reason) != std::string::npos);
  CHECK(text.find("BIC") != std::string::npos);
  const auto j = fit_table_json(rows);
  CHECK(j["criterion"] == "BIC");
  REQUIRE(j["fits"].size() == 2);
  CHECK(j["fits"][0]["verdict"] == "log");
  CHECK(j["fits"][1]["verdict"] == "none");
  CHECK(j["fits"][0]["model"] == "sparse-log");
  CHECK(j["fits"][0]["law_weights"]["corrected"]["log"].contains("B"));
  CHECK(theory_text(make_model("student_t", {}).get()) == "none");
  CHECK(theory_text(make_model("gaussian", {}).get()) == "0.5");
  CHECK(verdict_text("sqrt_log") == "(log n)^1/2");
  CHECK(verdict_text("inconclusive") == "inconclusive");
}

// ---------------------------------------------------------------- the row engine

TEST_CASE("row engine: sparse_gap gives log (a = 0) and log_squared (a = 1)", "[fit][engine]") {
  const auto exps = exps_range(6, 20, 2);
  for (double a : {0.0, 1.0}) {
    const auto sim = simulate("sparse_gap", {{"gap_exponent", a}}, "sparse", exps, 3, 17);
    for (const auto* series : {&sim.accumulation, &sim.half_mass}) {
      const auto r = fit_critical(*series, quick());
      CAPTURE(a, r.reason);
      CHECK(r.verdict == (a == 0 ? "log" : "log_squared"));
      CHECK(r.gamma_lo <= 1 + a);
      CHECK(1 + a <= r.gamma_hi);
    }
  }
}

TEST_CASE("row engine: student_t is `none` (beta* falls like a power of n)", "[fit][engine]") {
  const auto sim = simulate("student_t", {{"nu", 3}}, "student_t", exps_range(6, 16, 2), 100, 23);
  for (const auto* series : {&sim.accumulation, &sim.half_mass}) {
    const auto r = fit_critical(*series, quick());
    CAPTURE(r.reason);
    CHECK(r.verdict == "none");
    CHECK(r.reason.find("falls with n") != std::string::npos);
  }
}

TEST_CASE("row engine: gumbel is `constant`, never another law", "[fit][engine][slow]") {
  // The median β_acc of gumbel rows approaches 1/scale from below like 1 − c/log n: an
  // apparent exponent ≈ 0.05 at these n, inside the window [−0.05, 0.15] that the verdict
  // allows once the CI is narrow enough (1000 rows here; with 100–300 rows the CI reaches
  // below −0.05 and the verdict is `inconclusive`, constant being the only law left).
  int constant = 0;
  for (std::uint64_t seed : {1, 2}) {
    const auto sim = simulate("gumbel", {}, "gumbel", exps_range(6, 16, 2), 1000, seed);
    for (const auto* series : {&sim.accumulation, &sim.half_mass}) {
      const auto r = fit_critical(*series, quick(seed));
      CAPTURE(seed, r.reason);
      CHECK((r.verdict == "constant" || r.verdict == "inconclusive"));
      if (r.verdict == "constant") ++constant;
      else CHECK(r.reason.find("only constant") != std::string::npos);
      // Every other law is far away: ½ is rejected in both families.
      CHECK(r.law_plain[1].p_value < 1e-4);
      CHECK(r.law_corrected[1].p_value < 1e-4);
    }
  }
  CHECK(constant >= 3);  // of 4 (the calibration test measures the rate: docs/science.md)
}

TEST_CASE("row engine: gaussian at n <= 2^20 is not log, log_squared or constant", "[fit][engine][slow]") {
  const auto sim = simulate("gaussian", {}, "gaussian", exps_range(6, 20, 2), 200, 31);
  for (const auto* series : {&sim.accumulation, &sim.half_mass}) {
    const auto r = fit_critical(*series, quick());
    CAPTURE(r.reason, r.plain.fit.gamma, r.corrected.fit.gamma);
    CHECK(r.verdict != "log");
    CHECK(r.verdict != "log_squared");
    CHECK(r.verdict != "constant");
    CHECK(r.verdict != "none");
    // Both exponents are reported; the plain one shows the finite-size trap (≈ 0.68, SPEC §2).
    CHECK(std::isfinite(r.plain.fit.gamma));
    CHECK(std::isfinite(r.corrected.fit.gamma));
    CHECK(r.reason.find("plain gamma") != std::string::npos);
    CHECK(r.reason.find("corrected gamma") != std::string::npos);
    CHECK(r.plain.fit.gamma > 0.55);
    CHECK(r.plain.fit.gamma < 0.85);
  }
}

// Not part of the default run (hidden tag): the measurement behind the numbers quoted in
// docs/science.md. Run with  betacrit_tests "[measure]"  (about a minute on one core).
TEST_CASE("measure: the Gaussian finite-size trap at n = 2^6..2^20", "[.][measure]") {
  const auto exps = exps_range(6, 20, 2);
  const auto sim = simulate("gaussian", {}, "gaussian", exps, 2000, 7);
  for (const auto* series : {&sim.accumulation, &sim.half_mass}) {
    const auto r = fit_critical(*series, quick(7, 1000));
    std::ostringstream out;
    out << (series == &sim.accumulation ? "accumulation" : "half_mass") << "\n  n      median   median/sqrt(2 log n)   local slope to next n\n";
    for (std::size_t i = 0; i < r.points.size(); ++i) {
      const auto& p = r.points[i];
      out << "  2^" << exps[i] << "  " << p.median << "  " << p.median / std::sqrt(2 * p.log_n);
      if (i < r.local_slopes.size()) out << "  " << r.local_slopes[i].slope << " +- " << r.local_slopes[i].sigma;
      out << "\n";
    }
    out << "  plain gamma " << r.plain.fit.gamma << " [" << r.plain.gamma_lo << ", " << r.plain.gamma_hi << "]"
        << ", corrected gamma " << r.corrected.fit.gamma << " [" << r.corrected.gamma_lo << ", "
        << r.corrected.gamma_hi << "] B " << r.corrected.fit.B << "\n  verdict " << r.verdict << ": " << r.reason;
    WARN(out.str());
    // SPEC §2: the apparent exponent at reachable n is well above ½, and the median is
    // ~0.85–0.9 of √(2 log n) at n = 2^20.
    CHECK(r.plain.gamma_lo > 0.55);
    CHECK_FALSE(is_law(r.verdict));
  }
}

// Hidden (not in the default run): the calibration quoted in docs/science.md. Disjoint
// subsets of rows of models whose law is known — on the menu or between the laws — must
// never get a wrong law or a wrong `none`. Run with  betacrit_tests "[calibrate]".
TEST_CASE("calibrate: verdicts over disjoint row subsets never name a wrong law", "[.][calibrate]") {
  struct Case {
    std::string type;
    ParamValues params;
    std::optional<double> gamma;  // none: β* is a power of n
  };
  const std::vector<Case> cases = {{"gaussian", {}, 0.5},
                                   {"gumbel", {}, 0.0},
                                   {"weibull_tail", {{"shape", 1.5}}, 1.0 / 3.0},
                                   {"weibull_tail", {{"shape", 2}}, 0.5},
                                   {"weibull_tail", {{"shape", 3}}, 2.0 / 3.0},
                                   {"weibull_tail", {{"shape", 4}}, 0.75},
                                   {"student_t", {{"nu", 3}}, std::nullopt}};
  const auto exps = exps_range(6, 16, 2);
  std::ostringstream out;
  for (const auto& c : cases) {
    std::string label = c.type;
    for (const auto& [name, value] : c.params) {
      label += '-';
      label += std::to_string(value).substr(0, 3);
    }
    const auto sim = simulate(c.type, c.params, label, exps, 1000, 99);
    for (int subset_rows : {100, 200, 500, 1000}) {
      std::map<std::string, int> counts;
      for (int from = 0; from + subset_rows <= 1000; from += subset_rows) {
        for (const auto* series : {&sim.accumulation, &sim.half_mass}) {
          CriticalSeries part;
          part.log_n = series->log_n;
          for (const auto& rows : series->rows)
            part.rows.emplace_back(rows.begin() + from, rows.begin() + from + subset_rows);
          const auto r = fit_critical(part, quick(static_cast<std::uint64_t>(from), 400));
          ++counts[r.verdict];
          CAPTURE(label, subset_rows, from, r.reason);
          if (is_law(r.verdict)) {  // only the model's own law may be named
            REQUIRE(c.gamma.has_value());
            const auto law = law_from_gamma(*c.gamma);
            REQUIRE(law.has_value());
            CHECK(r.verdict == law_token(*law));
          }
          if (r.verdict == "none") CHECK((!c.gamma || !law_from_gamma(*c.gamma)));  // off the menu
        }
      }
      out << label << " rows " << subset_rows << ":";
      for (const auto& [v, k] : counts) out << " " << v << " " << k;
      out << "\n";
    }
  }
  WARN(out.str());
}

// ---------------------------------------------------------------- results files

namespace {

/// Writes a minimal results file in the SPEC §7 layout with the HDF5 C API.
struct ResultsWriter {
  hid_t file;
  explicit ResultsWriter(const std::string& path) {
    file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    REQUIRE(file >= 0);
  }
  ~ResultsWriter() { H5Fclose(file); }
  void group(const std::string& path) {
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t g = H5Gcreate2(file, path.c_str(), lcpl, H5P_DEFAULT, H5P_DEFAULT);
    H5Gclose(g);
    H5Pclose(lcpl);
  }
  template <class T>
  void dataset(const std::string& path, hid_t type, const std::vector<T>& data, std::vector<hsize_t> dims) {
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
    hid_t d = H5Dcreate2(file, path.c_str(), type, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    REQUIRE(d >= 0);
    H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data());
    H5Dclose(d);
    H5Sclose(space);
    H5Pclose(lcpl);
  }
  void string_attr(const std::string& obj, const std::string& name, const std::string& value) {
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, H5T_VARIABLE);
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate_by_name(file, obj.c_str(), name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    const char* text = value.c_str();
    H5Awrite(a, type, &text);
    H5Aclose(a);
    H5Sclose(space);
    H5Tclose(type);
  }
  template <class T>
  void number_attr(const std::string& obj, const std::string& name, hid_t type, T value) {
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate_by_name(file, obj.c_str(), name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, type, &value);
    H5Aclose(a);
    H5Sclose(space);
  }
  /// A model group with per-row accumulation values, a summary and a sweep-level value.
  void model(const std::string& label, const std::string& type, const std::vector<std::uint64_t>& n,
             const CriticalSeries& cs, std::optional<double> law_gamma) {
    const std::string g = "/models/" + label;
    group(g);
    string_attr(g, "type", type);
    string_attr(g, "params", "{}");
    if (law_gamma) number_attr(g, "law_gamma", H5T_NATIVE_DOUBLE, *law_gamma);
    dataset(g + "/n", H5T_NATIVE_UINT64, n, {n.size()});
    const std::size_t R = cs.rows.front().size();
    std::vector<double> flat, summary(n.size() * 5, 1.0), sweep;
    for (const auto& r : cs.rows) flat.insert(flat.end(), r.begin(), r.end());
    for (const auto& r : cs.rows) sweep.push_back(r.front());
    dataset(g + "/critical/accumulation", H5T_NATIVE_DOUBLE, flat, {n.size(), R});
    dataset(g + "/critical/accumulation_summary", H5T_NATIVE_DOUBLE, summary, {n.size(), 5});
    dataset(g + "/critical/sweep_half_mass", H5T_NATIVE_DOUBLE, sweep, {n.size()});
  }
};

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("betacrit-test-" + std::to_string(::getpid()) + "-" + name)).string();
}

std::string read_fit_attr(const std::string& path, const std::string& obj, const std::string& name) {
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  hid_t a = H5Aopen_by_name(f, obj.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT);
  std::string out = "<missing>";
  if (a >= 0) {
    hid_t type = H5Aget_type(a);
    if (H5Tget_class(type) == H5T_STRING) {
      hid_t mem = H5Tcopy(H5T_C_S1);
      H5Tset_size(mem, H5T_VARIABLE);
      char* text = nullptr;
      H5Aread(a, mem, &text);
      out = text;
      H5free_memory(text);
      H5Tclose(mem);
    } else {
      double v = 0;
      H5Aread(a, H5T_NATIVE_DOUBLE, &v);
      out = std::to_string(v);
    }
    H5Tclose(type);
    H5Aclose(a);
  }
  H5Fclose(f);
  return out;
}

}  // namespace

TEST_CASE("fit_results_file fits a results file, prints the table and stores the attributes", "[fit][file]") {
  const std::string path = temp_path("results.h5");
  std::vector<std::uint64_t> n;
  for (int e = 6; e <= 20; e += 2) n.push_back(std::uint64_t{1} << e);
  std::vector<double> exps(n.size());
  for (std::size_t i = 0; i < n.size(); ++i) exps[i] = std::log2(static_cast<double>(n[i]));
  {
    ResultsWriter w(path);
    w.number_attr("/", "seed", H5T_NATIVE_UINT64, std::uint64_t{20260512});
    w.number_attr("/", "complete", H5T_NATIVE_INT8, std::int8_t{1});
    w.string_attr("/", "config", "{\"models\": [{\"type\": \"sparse_gap\", \"label\": \"sparse-log\"}, // first\n"
                                 " {\"type\": \"student_t\", \"label\": \"heavy\"}]}");
    w.model("sparse-log", "sparse_gap", n, lognormal_series(1.0, 1.0, 0.05, exps, 50, 1), 1.0);
    w.model("heavy", "student_t", n, lognormal_series(1.0, -1.5, 0.3, exps, 50, 2), std::nullopt);
    // norm_entropy curves that collapse exactly against β/(log n)^0.7.
    const std::size_t B = 30;
    std::vector<double> beta, mean, sem;
    for (std::size_t i = 0; i < n.size(); ++i)
      for (std::size_t b = 0; b < B; ++b) {
        const double L = std::log(static_cast<double>(n[i]));
        const double x = 0.2 * std::pow(20.0, (static_cast<double>(b) + 0.3 * static_cast<double>(i)) / B);
        beta.push_back(x * std::pow(L, 0.7));
        mean.push_back(1.0 / (1.0 + std::exp((x - 1.0) / 0.2)));
        sem.push_back(0.01);
      }
    w.dataset("/models/sparse-log/beta", H5T_NATIVE_DOUBLE, beta, {n.size(), B});
    w.dataset("/models/sparse-log/obs/norm_entropy/mean", H5T_NATIVE_DOUBLE, mean, {n.size(), B});
    w.dataset("/models/sparse-log/obs/norm_entropy/sem", H5T_NATIVE_DOUBLE, sem, {n.size(), B});
  }
  std::ostringstream out;
  REQUIRE(fit_results_file(path, {}, out) == 0);
  const std::string table = out.str();
  CAPTURE(table);
  CHECK(table.find("sparse-log") != std::string::npos);
  CHECK(table.find("heavy") != std::string::npos);
  CHECK(table.find("sparse-log") < table.find("heavy"));  // config order, not name order
  CHECK(table.find("sweep_half_mass") != std::string::npos);
  CHECK(table.find("one value per n") != std::string::npos);
  // The stored attributes say what the table says.
  CHECK(read_fit_attr(path, "/models/sparse-log/fit/accumulation", "verdict") == "log");
  CHECK(read_fit_attr(path, "/models/heavy/fit/accumulation", "verdict") == "none");
  CHECK(read_fit_attr(path, "/models/heavy/fit/accumulation", "family") == "plain");
  CHECK(read_fit_attr(path, "/models/sparse-log/fit/sweep_half_mass", "verdict") == "inconclusive");
  const auto weights = nlohmann::json::parse(read_fit_attr(path, "/models/sparse-log/fit/accumulation", "law_weights"));
  CHECK(weights["criterion"] == "BIC");
  CHECK(weights["corrected"]["log"]["weight"].is_number());
  for (const char* attr : {"gamma", "gamma_lo", "gamma_hi", "A", "B", "gamma_plain", "chi2_dof", "reason"})
    CHECK(read_fit_attr(path, "/models/sparse-log/fit/accumulation", attr) != "<missing>");
  // The collapse of the stored norm_entropy curves recovers their exponent.
  CHECK(table.find("collapse  sparse-log") != std::string::npos);
  CHECK(std::stod(read_fit_attr(path, "/models/sparse-log/fit/collapse_norm_entropy", "gamma")) ==
        Approx(0.7).margin(0.01));
  // The theory column comes from law_gamma, else from the model type.
  CHECK(table.find("none  ") != std::string::npos);

  // --json, --estimator and --n-min; a second fit replaces the attributes.
  FitFileOptions opt;
  opt.json = true;
  opt.estimator = "accumulation";
  opt.n_min = 1024;
  std::ostringstream js;
  REQUIRE(fit_results_file(path, opt, js) == 0);
  const auto j = nlohmann::json::parse(js.str());
  REQUIRE(j["fits"].size() == 2);
  for (const auto& f : j["fits"]) {
    CHECK(f["estimator"] == "accumulation");
    CHECK(f["points"].size() == 6);  // 2^10 .. 2^20
  }
  CHECK(read_fit_attr(path, "/models/sparse-log/fit/accumulation", "n_min") == std::to_string(1024.0));
  std::filesystem::remove(path);
}

TEST_CASE("fit_results_file: bad input is a usage error naming the file and object", "[fit][file]") {
  std::ostringstream out;
  CHECK_THROWS_WITH(fit_results_file(temp_path("missing.h5"), {}, out), Catch::Contains("no such file"));
  const std::string text = temp_path("text.h5");
  { std::ofstream(text) << "not hdf5"; }
  CHECK_THROWS_WITH(fit_results_file(text, {}, out), Catch::Contains("not an HDF5 file"));
  std::filesystem::remove(text);

  const std::string path = temp_path("bad.h5");
  {
    ResultsWriter w(path);
    w.group("/other");
  }
  CHECK_THROWS_WITH(fit_results_file(path, {}, out), Catch::Contains("/models") && Catch::Contains(path));
  {
    ResultsWriter w(path);
    w.number_attr("/", "complete", H5T_NATIVE_INT8, std::int8_t{0});
  }
  CHECK_THROWS_WITH(fit_results_file(path, {}, out), Catch::Contains("unfinished"));
  {
    ResultsWriter w(path);
    w.model("m", "gaussian", {64, 256, 1024}, lognormal_series(1, 0.5, 0.1, {6, 8, 10}, 5, 1), 0.5);
    // critical values for 2 row lengths under an n of 3
    w.dataset("/models/m/critical/half_mass", H5T_NATIVE_DOUBLE, std::vector<double>(10, 1.0), {2, 5});
  }
  CHECK_THROWS_WITH(fit_results_file(path, {}, out),
                    Catch::Contains("/models/m/critical/half_mass") && Catch::Contains("N = 3"));
  FitFileOptions opt;
  opt.estimator = "entropy_fraction";
  CHECK_THROWS_WITH(fit_results_file(path, opt, out),
                    Catch::Contains("--estimator entropy_fraction") && Catch::Contains("accumulation"));
  std::filesystem::remove(path);

  // Through the command line: exit status 2 and the message on stderr.
  const std::string cmd = std::string(BETACRIT_BINARY) + " fit " + temp_path("missing.h5") + " 2>/dev/null";
  const int status = std::system(cmd.c_str());
  CHECK(WEXITSTATUS(status) == 2);
}
