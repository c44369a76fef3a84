#include "analysis/fit.hpp"

#include "analysis/statistics.hpp"
#include "sim/rng.hpp"

#include <boost/math/distributions/chi_squared.hpp>
#include <boost/math/tools/minima.hpp>
#include <nlohmann/json.hpp>
#include <omp.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <exception>
#include <limits>
#include <numeric>
#include <sstream>

namespace betacrit {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kDeltaChi2_95 = 3.841458820694124;  // χ²_1 quantile at 0.95: profile CI
constexpr double kGammaSearchLimit = 20.0;           // profile CIs are clipped to γ̂ ± this
constexpr int kScanPoints = 41;                      // grid of the B profile before Brent

/// Runs body(state, i) for i = 0 … count−1 on `threads` OpenMP threads (0: the default),
/// with one state = make_state() per thread. Iterations must be independent. An exception
/// is rethrown after the loop: the one of the smallest index, as a plain loop throws it.
template <class MakeState, class Body>
void parallel_for(std::size_t count, int threads, int chunk, MakeState make_state, Body body) {
  std::exception_ptr failure;
  std::size_t failed_at = count;
  const int team = threads > 0 ? threads : std::max(1, omp_get_max_threads());
#pragma omp parallel num_threads(team)
  {
    auto state = make_state();
#pragma omp for schedule(dynamic, chunk)
    for (std::ptrdiff_t i = 0; i < static_cast<std::ptrdiff_t>(count); ++i) {
      try {
        body(state, static_cast<std::size_t>(i));
      } catch (...) {
#pragma omp critical(betacrit_fit_failure)
        if (static_cast<std::size_t>(i) < failed_at) {
          failed_at = static_cast<std::size_t>(i);
          failure = std::current_exception();
        }
      }
    }
  }
  if (failure) std::rethrow_exception(failure);
}
}  // namespace

// ---------------------------------------------------------------- names

double law_gamma(Law law) {
  switch (law) {
    case Law::constant: return 0.0;
    case Law::sqrt_log: return 0.5;
    case Law::log: return 1.0;
    case Law::log_squared: return 2.0;
  }
  return kNaN;
}

std::string_view law_token(Law law) {
  switch (law) {
    case Law::constant: return "constant";
    case Law::sqrt_log: return "sqrt_log";
    case Law::log: return "log";
    case Law::log_squared: return "log_squared";
  }
  return "?";
}

std::string_view law_formula(Law law) {
  switch (law) {
    case Law::constant: return "const";
    case Law::sqrt_log: return "(log n)^1/2";
    case Law::log: return "log n";
    case Law::log_squared: return "(log n)^2";
  }
  return "?";
}

std::optional<Law> law_from_gamma(double gamma) {
  for (Law l : kLaws)
    if (std::fabs(law_gamma(l) - gamma) < 1e-9) return l;
  return std::nullopt;
}

std::string_view family_name(FitFamily f) { return f == FitFamily::plain ? "plain" : "corrected"; }

double ModelFit::chi2_dof() const { return dof > 0 ? chi2 / dof : kNaN; }

double PowerFit::nu() const { return fit.gamma < 0 ? -1.0 / fit.gamma : kInf; }

// ---------------------------------------------------------------- least squares

namespace {

/// Weighted straight line y = a + b·x (b fixed when `fixed_slope` is set).
struct Line {
  double a = 0, b = 0, chi2 = 0, var_b = 0;
};

/// What a weighted line needs of x and w alone, computed once for fits that share them
/// (the B profile and the bootstrap replicates change only y). Every sum is accumulated
/// term by term in index order, so splitting it from the y-dependent ones changes no bit.
struct LineBasis {
  std::vector<double> x, w;
  std::vector<double> wdx;  ///< w·(x − x̄)
  double s = 0, sx = 0, xm = 0, sxx = 0;

  LineBasis() = default;
  LineBasis(std::span<const double> xs, std::span<const double> ws) : x(xs.begin(), xs.end()), w(ws.begin(), ws.end()) {
    for (std::size_t i = 0; i < x.size(); ++i) {
      s += w[i];
      sx += w[i] * x[i];
    }
    xm = sx / s;
    wdx.resize(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) {
      wdx[i] = w[i] * (x[i] - xm);
      sxx += wdx[i] * (x[i] - xm);
    }
  }

  [[nodiscard]] Line fit(std::span<const double> y, std::optional<double> fixed_slope) const {
    Line r;
    double sy = 0;
    for (std::size_t i = 0; i < x.size(); ++i) sy += w[i] * y[i];
    const double ym = sy / s;
    if (fixed_slope) {
      r.b = *fixed_slope;
    } else {
      double sxy = 0;
      for (std::size_t i = 0; i < x.size(); ++i) sxy += wdx[i] * (y[i] - ym);
      r.b = sxx > 0 ? sxy / sxx : 0.0;
      r.var_b = sxx > 0 ? 1.0 / sxx : kInf;
    }
    r.a = ym - r.b * xm;
    for (std::size_t i = 0; i < x.size(); ++i) {
      const double e = y[i] - r.a - r.b * x[i];
      r.chi2 += w[i] * e * e;
    }
    return r;
  }
};

Line weighted_line(std::span<const double> x, std::span<const double> y, std::span<const double> w,
                   std::optional<double> fixed_slope) {
  return LineBasis(x, w).fit(y, fixed_slope);
}

double p_value(double chi2, int dof) {
  if (dof <= 0) return kNaN;
  boost::math::chi_squared_distribution<double> d(dof);
  return boost::math::cdf(boost::math::complement(d, std::max(chi2, 0.0)));
}

double chi2_quantile(double prob, int dof) {
  boost::math::chi_squared_distribution<double> d(dof);
  return boost::math::quantile(d, prob);
}

/// Workspace of the fits on one set of points. `y` may be replaced between fits (the
/// bootstrap replicates): everything else depends on n and σ only.
struct Fitter {
  std::vector<double> L, y, yb;
  LineBasis basis;
  double l_min = 0;
  std::vector<double> grid_log1p;  ///< log1p(B_k / L_i) at the scan nodes B_k, filled on first use

  explicit Fitter(const FitPoints& p) : L(p.log_n), y(p.y) {
    std::vector<double> x, w;
    for (double l : L) x.push_back(std::log(l));
    for (double s : p.sigma) w.push_back(1.0 / (s * s));
    basis = LineBasis(x, w);
    yb.resize(y.size());
    l_min = *std::min_element(L.begin(), L.end());
  }

  Line at_B(double B, std::optional<double> gamma) {
    for (std::size_t i = 0; i < y.size(); ++i) yb[i] = y[i] - std::log1p(B / L[i]);
    return basis.fit(yb, gamma);
  }

  /// Minimises χ² over B in [−κ·L_min, κ·L_min]: grid scan, then Brent around the best node.
  std::pair<double, Line> profile_B(std::optional<double> gamma) {
    const double lo = -kCorrectionBound * l_min, hi = kCorrectionBound * l_min;
    const double h = (hi - lo) / (kScanPoints - 1);
    const std::size_t n = y.size();
    // The nodes depend on n only, so their log1p terms serve every fit of this workspace
    // (each γ, the profile interval, every bootstrap replicate).
    if (grid_log1p.empty()) {
      grid_log1p.resize(kScanPoints * n);
      for (int k = 0; k < kScanPoints; ++k)
        for (std::size_t i = 0; i < n; ++i) grid_log1p[k * n + i] = std::log1p((lo + k * h) / L[i]);
    }
    int best = 0;
    double best_chi2 = kInf;
    for (int k = 0; k < kScanPoints; ++k) {
      for (std::size_t i = 0; i < n; ++i) yb[i] = y[i] - grid_log1p[k * n + i];
      const double c = basis.fit(yb, gamma).chi2;
      if (c < best_chi2) best_chi2 = c, best = k;
    }
    const double a = lo + std::max(best - 1, 0) * h, b = lo + std::min(best + 1, kScanPoints - 1) * h;
    auto f = [&](double B) { return at_B(B, gamma).chi2; };
    std::uintmax_t iters = 100;
    const auto [B, chi2] = boost::math::tools::brent_find_minima(f, a, b, 40, iters);
    double B_best = B;
    if (!(chi2 <= best_chi2)) B_best = lo + best * h;
    return {B_best, at_B(B_best, gamma)};
  }

  ModelFit fit(FitFamily family, std::optional<double> gamma) {
    ModelFit m;
    const int n = static_cast<int>(y.size());
    m.params = (gamma ? 1 : 2) + (family == FitFamily::corrected ? 1 : 0);
    m.dof = n - m.params;
    m.available = m.dof >= 1;
    if (!m.available) {
      m.gamma = gamma.value_or(kNaN);
      m.A = m.B = m.chi2 = m.p_value = m.ic = kNaN;
      return m;
    }
    Line line;
    if (family == FitFamily::plain) {
      line = basis.fit(y, gamma);
    } else {
      auto [B, l] = profile_B(gamma);
      m.B = B;
      line = l;
    }
    m.gamma = line.b;
    m.A = std::exp(line.a);
    m.chi2 = line.chi2;
    m.p_value = p_value(m.chi2, m.dof);
    m.ic = m.chi2 + m.params * std::log(static_cast<double>(n));
    return m;
  }

  /// γ where the profile χ²(γ) reaches χ²_min + 3.84, on each side of γ̂.
  std::pair<double, double> profile_interval(FitFamily family, const ModelFit& best) {
    const double target = best.chi2 + kDeltaChi2_95;
    auto excess = [&](double g) { return fit(family, g).chi2 - target; };
    double ends[2];
    for (int side = 0; side < 2; ++side) {
      const double dir = side == 0 ? -1.0 : 1.0;
      double inside = best.gamma, step = 0.01, outside = kNaN;
      while (std::fabs(inside - best.gamma) < kGammaSearchLimit) {
        const double g = inside + dir * step;
        if (excess(g) >= 0) {
          outside = g;
          break;
        }
        inside = g;
        step *= 1.6;
      }
      if (std::isnan(outside)) {
        ends[side] = best.gamma + dir * kGammaSearchLimit;
        continue;
      }
      for (int it = 0; it < 60 && std::fabs(outside - inside) > 1e-7; ++it) {
        const double mid = 0.5 * (inside + outside);
        (excess(mid) >= 0 ? outside : inside) = mid;
      }
      ends[side] = 0.5 * (inside + outside);
    }
    return {ends[0], ends[1]};
  }
};

std::string fmt(double v, int digits = 2) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  std::string s = buf;
  if (s == "-0.00" || s == "-0.0" || s == "-0") s.erase(0, 1);
  return s;
}

/// n for humans: 2^k when log2 n is an integer, else the value.
std::string fmt_n(double log_n) {
  const double l2 = log_n / std::log(2.0);
  if (std::fabs(l2 - std::round(l2)) < 1e-9) return "2^" + std::to_string(static_cast<long long>(std::round(l2)));
  if (l2 < 50) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f", std::exp(log_n));
    return buf;
  }
  return "2^" + fmt(l2, 1);
}

std::string fmt_ci(double lo, double hi) {
  std::string s = "[";
  s += fmt(lo);
  s += ", ";
  s += fmt(hi);
  s += "]";
  return s;
}

std::string law_list(const std::vector<Law>& laws) {
  std::string s;
  for (std::size_t i = 0; i < laws.size(); ++i) {
    if (i) s += i + 1 == laws.size() ? " and " : ", ";
    s += law_token(laws[i]);
  }
  return s;
}

nlohmann::json model_json(const ModelFit& m, bool with_gamma) {
  nlohmann::json j;
  if (with_gamma) j["gamma"] = m.gamma;
  j["A"] = m.A;
  j["B"] = m.B;
  j["chi2"] = m.chi2;
  j["dof"] = m.dof;
  j["chi2_dof"] = m.chi2_dof();
  j["p_value"] = m.p_value;
  j["weight"] = m.weight;
  if (!m.available) j["available"] = false;
  return j;
}

}  // namespace

ModelFit fit_model(const FitPoints& points, FitFamily family, std::optional<double> gamma) {
  Fitter f(points);
  return f.fit(family, gamma);
}

// ---------------------------------------------------------------- the analysis

namespace {

/// Fits, CIs and verdict on summarised points. `boot_y[b][i]` are bootstrap replicates
/// of y over the used points (empty: CIs from the profile rule only).
FitResult analyse(std::vector<PointSummary> all_points, const std::vector<std::vector<double>>& boot_y,
                  const FitOptions& opt) {
  FitResult r;
  std::sort(all_points.begin(), all_points.end(),
            [](const PointSummary& a, const PointSummary& b) { return a.log_n < b.log_n; });
  r.points = all_points;
  FitPoints pts;
  for (const auto& p : r.points)
    if (p.used) {
      pts.log_n.push_back(p.log_n);
      pts.y.push_back(std::log(p.median));
      pts.sigma.push_back(p.sigma_log);
    }
  const int n = static_cast<int>(pts.y.size());
  r.gamma = r.gamma_lo = r.gamma_hi = r.A = r.B = r.gamma_plain = r.chi2_dof = kNaN;
  r.verdict = std::string(kVerdictInconclusive);

  for (int i = 0; i + 1 < n; ++i) {
    LocalSlope s;
    s.log_n_lo = pts.log_n[i];
    s.log_n_hi = pts.log_n[i + 1];
    const double dx = std::log(pts.log_n[i + 1]) - std::log(pts.log_n[i]);
    s.slope = (pts.y[i + 1] - pts.y[i]) / dx;
    s.sigma = std::hypot(pts.sigma[i], pts.sigma[i + 1]) / dx;
    r.local_slopes.push_back(s);
  }

  auto unavailable = [](double g) {
    ModelFit m;
    m.gamma = g;
    m.A = m.B = m.chi2 = m.p_value = m.ic = kNaN;
    return m;
  };
  r.plain.fit = unavailable(kNaN);
  r.corrected.fit = unavailable(kNaN);
  for (std::size_t k = 0; k < kLaws.size(); ++k) {
    r.law_plain[k] = unavailable(law_gamma(kLaws[k]));
    r.law_corrected[k] = unavailable(law_gamma(kLaws[k]));
  }
  r.power_n.fit = unavailable(kNaN);

  if (n < 3) {
    r.reason = "only " + std::to_string(n) + " row length" + (n == 1 ? "" : "s") +
               " with a usable median; a fit needs at least 3";
    return r;
  }
  if (std::log(pts.log_n.back()) - std::log(pts.log_n.front()) < 0.05) {
    r.reason = "the row lengths span too little of log log n to fit an exponent";
    return r;
  }

  Fitter fitter(pts);
  // Free fits, laws, power of n.
  r.plain.fit = fitter.fit(FitFamily::plain, std::nullopt);
  r.corrected.fit = fitter.fit(FitFamily::corrected, std::nullopt);
  for (std::size_t k = 0; k < kLaws.size(); ++k) {
    r.law_plain[k] = fitter.fit(FitFamily::plain, law_gamma(kLaws[k]));
    r.law_corrected[k] = fitter.fit(FitFamily::corrected, law_gamma(kLaws[k]));
  }
  {
    // log(β*/L) = log A + c·L.
    std::vector<double> yl(n), w(n);
    for (int i = 0; i < n; ++i) {
      yl[i] = pts.y[i] - std::log(pts.log_n[i]);
      w[i] = 1.0 / (pts.sigma[i] * pts.sigma[i]);
    }
    const Line line = weighted_line(pts.log_n, yl, w, std::nullopt);
    ModelFit& m = r.power_n.fit;
    m.gamma = line.b;
    m.A = std::exp(line.a);
    m.B = 0;
    m.chi2 = line.chi2;
    m.params = 2;
    m.dof = n - 2;
    m.p_value = p_value(m.chi2, m.dof);
    m.ic = m.chi2 + 2 * std::log(static_cast<double>(n));
    m.available = true;
    r.power_n.c_sigma = std::sqrt(line.var_b);
  }
  // BIC weights over every available model.
  {
    std::vector<ModelFit*> all = {&r.plain.fit, &r.corrected.fit, &r.power_n.fit};
    for (auto& m : r.law_plain) all.push_back(&m);
    for (auto& m : r.law_corrected) all.push_back(&m);
    double best = kInf;
    for (auto* m : all)
      if (m->available) best = std::min(best, m->ic);
    double total = 0;
    for (auto* m : all)
      if (m->available) total += std::exp(-0.5 * (m->ic - best));
    for (auto* m : all) m->weight = m->available ? std::exp(-0.5 * (m->ic - best)) / total : 0.0;
  }
  // Confidence intervals: hull of the row-bootstrap percentile interval and the profile
  // interval (which alone is left when the bootstrap has zero width or is absent).
  for (FitFamily fam : {FitFamily::plain, FitFamily::corrected}) {
    FreeFit& ff = fam == FitFamily::plain ? r.plain : r.corrected;
    if (!ff.fit.available) {
      ff.gamma_lo = ff.gamma_hi = ff.boot_lo = ff.boot_hi = ff.profile_lo = ff.profile_hi = kNaN;
      continue;
    }
    std::tie(ff.profile_lo, ff.profile_hi) = fitter.profile_interval(fam, ff.fit);
    ff.boot_lo = ff.boot_hi = kNaN;
    if (!boot_y.empty()) {
      // Replicates are independent: each fills its own slot, so any team gives the same.
      std::vector<double> gammas(boot_y.size());
      parallel_for(
          boot_y.size(), opt.threads, 16, [&] { return Fitter(pts); },
          [&](Fitter& bf, std::size_t b) {
            bf.y = boot_y[b];
            gammas[b] = bf.fit(fam, std::nullopt).gamma;
          });
      std::sort(gammas.begin(), gammas.end());
      ff.boot_lo = percentile_sorted(gammas, 0.025);
      ff.boot_hi = percentile_sorted(gammas, 0.975);
    }
    ff.gamma_lo = std::isnan(ff.boot_lo) ? ff.profile_lo : std::min(ff.boot_lo, ff.profile_lo);
    ff.gamma_hi = std::isnan(ff.boot_hi) ? ff.profile_hi : std::max(ff.boot_hi, ff.profile_hi);
  }
  r.gamma_plain = r.plain.fit.gamma;

  // ------------------------------------------------------------ verdict
  // A law is `excluded` in a family when its fixed-γ fit is rejected (p < α) AND its γ lies
  // outside the family's 95% CI; it is `supported` when the fit is adequate (p >= α) AND
  // its γ lies inside the CI. Exclusion is thus hard to earn and support too: a law the
  // data merely fail to exclude is never the verdict.
  const double alpha = opt.alpha;
  auto adequate = [&](const ModelFit& m) { return m.available && !(m.p_value < alpha); };
  auto law_fit = [&](FitFamily fam, std::size_t k) -> const ModelFit& {
    return fam == FitFamily::plain ? r.law_plain[k] : r.law_corrected[k];
  };
  auto free_fit = [&](FitFamily fam) -> const FreeFit& { return fam == FitFamily::plain ? r.plain : r.corrected; };
  // The corrected family's CI is widened by kCorrectionSystematic when compared with a law:
  // the 1/log n term is only the leading correction (docs/science.md).
  auto in_ci = [&](FitFamily fam, std::size_t k) {
    const double g = law_gamma(kLaws[k]);
    const double widen = fam == FitFamily::corrected ? kCorrectionSystematic : 0.0;
    return g >= free_fit(fam).gamma_lo - widen && g <= free_fit(fam).gamma_hi + widen;
  };
  auto excluded = [&](FitFamily fam, std::size_t k) {
    return !law_fit(fam, k).available || (law_fit(fam, k).p_value < alpha && !in_ci(fam, k));
  };
  auto supported = [&](FitFamily fam, std::size_t k) { return adequate(law_fit(fam, k)) && in_ci(fam, k); };
  auto use_family = [&](FitFamily fam) {
    const FreeFit& ff = free_fit(fam);
    r.family = fam;
    r.gamma = ff.fit.gamma;
    r.gamma_lo = ff.gamma_lo;
    r.gamma_hi = ff.gamma_hi;
    r.A = ff.fit.A;
    r.B = ff.fit.B;
    r.chi2_dof = ff.fit.chi2_dof();
  };

  // Local slope at the two ends of the n range (plain fits over the lower and upper half).
  std::string slope_text;
  {
    const int half = (n + 1) / 2;
    auto sub = [&](int from, int count) {
      FitPoints s;
      for (int i = from; i < from + count; ++i) {
        s.log_n.push_back(pts.log_n[i]);
        s.y.push_back(pts.y[i]);
        s.sigma.push_back(pts.sigma[i]);
      }
      return fit_model(s, FitFamily::plain, std::nullopt).gamma;
    };
    const double low = sub(0, half), high = sub(n - half, half);
    slope_text = "local slope " + fmt(low) + " (n " + fmt_n(pts.log_n.front()) + ".." + fmt_n(pts.log_n[half - 1]) +
                 ") -> " + fmt(high) + " (n " + fmt_n(pts.log_n[n - half]) + ".." + fmt_n(pts.log_n.back()) + ")";
  }
  const std::string plain_text = "plain gamma " + fmt(r.plain.fit.gamma) + " " + fmt_ci(r.plain.gamma_lo, r.plain.gamma_hi);
  const std::string corr_text =
      r.corrected.fit.available
          ? "corrected gamma " + fmt(r.corrected.fit.gamma) + " " + fmt_ci(r.corrected.gamma_lo, r.corrected.gamma_hi)
          : std::string("no corrected fit (needs 4 row lengths)");

  // 1. `none` is a strong claim: every law must be excluded in both families, whichever
  // would decide, so that a chance excursion of one fit cannot produce it. β* falling with
  // n (the whole plain CI below 0) is the non-polylogarithmic case heavy tails give.
  {
    bool all_excluded = true;
    for (std::size_t k = 0; k < kLaws.size(); ++k) {
      all_excluded = all_excluded && excluded(FitFamily::plain, k);
      if (r.corrected.fit.available) all_excluded = all_excluded && excluded(FitFamily::corrected, k);
    }
    if (all_excluded) {
      r.verdict = std::string(kVerdictNone);
      if (r.plain.gamma_hi < 0) {
        use_family(FitFamily::plain);
        r.reason = "beta* falls with n (" + plain_text + "; " + corr_text + "): not polylogarithmic";
        if (r.power_n.fit.gamma < 0)
          r.reason += "; a power of n fits, beta* ~ A log n n^(-1/nu) with nu = " + fmt(r.power_n.nu(), 1) +
                      " (chi2/dof " + fmt(r.power_n.fit.chi2_dof()) + ")";
        return r;
      }
      const bool corr_first = r.corrected.fit.available && adequate(r.corrected.fit) && !adequate(r.plain.fit);
      use_family(corr_first ? FitFamily::corrected : FitFamily::plain);
      r.reason = "every law excluded in both families (" + plain_text + "; " + corr_text + "; " + slope_text + ")";
      return r;
    }
  }

  // 2. Which families decide: the corrected one alone when the local slope drifts beyond
  // noise (plain inadequate, or the correction improves χ² beyond the 1-dof 1−α quantile);
  // both otherwise, so that a correction term the data do not require cannot make a law fit.
  r.drift = r.corrected.fit.available &&
            (r.plain.fit.p_value < alpha || r.plain.fit.chi2 - r.corrected.fit.chi2 > chi2_quantile(1 - alpha, 1));
  std::vector<FitFamily> deciding;
  if (r.drift) {
    deciding = {FitFamily::corrected};
  } else {
    deciding = {FitFamily::plain};
    if (r.corrected.fit.available) deciding.push_back(FitFamily::corrected);
  }
  use_family(deciding.front());
  if (r.drift && !adequate(r.corrected.fit)) {
    r.reason = slope_text + "; the 1/log n correction does not explain the drift (corrected chi2/dof " +
               fmt(r.corrected.fit.chi2_dof()) + "): no law can be read off";
    return r;
  }
  if (!r.drift && !adequate(r.plain.fit)) {  // only without the corrected family (3 row lengths)
    r.reason = plain_text + " does not fit (chi2/dof " + fmt(r.plain.fit.chi2_dof()) +
               ") and 3 row lengths cannot support the corrected family";
    return r;
  }

  std::vector<Law> alive;  // not excluded in some deciding family
  for (std::size_t k = 0; k < kLaws.size(); ++k) {
    bool any_alive = false;
    for (FitFamily fam : deciding) any_alive = any_alive || !excluded(fam, k);
    if (any_alive) alive.push_back(kLaws[k]);
  }
  // The non-polylogarithmic alternative: an adequate power-of-n fit with a decaying factor
  // that BIC does not strongly disfavour (ΔBIC < 6) against the best law model.
  double best_law_ic = kInf;
  for (FitFamily fam : deciding)
    for (std::size_t k = 0; k < kLaws.size(); ++k)
      if (law_fit(fam, k).available) best_law_ic = std::min(best_law_ic, law_fit(fam, k).ic);
  const bool power_alternative = adequate(r.power_n.fit) && r.power_n.fit.gamma + 1.96 * r.power_n.c_sigma < 0 &&
                                 r.power_n.fit.ic - best_law_ic < 6.0;
  const std::string power_text =
      "a power of n (beta* ~ A log n n^(-1/nu), nu = " + fmt(r.power_n.nu(), 1) + ") fits as well";
  const std::string both_text = r.drift ? corr_text + "; " + plain_text : plain_text + "; " + corr_text;

  if (alive.empty()) {  // excluded by the deciding family, kept by the other one
    r.reason = both_text + "; " + slope_text + ": the " + std::string(family_name(deciding.front())) +
               " fit excludes every law but the other family keeps some";
    return r;
  }
  // A law is the verdict when it is the only one not excluded and
  //  * drift: the corrected fit supports it and its CI lies within ±kVerdictResolution;
  //  * no drift: the corrected fit (if any) supports it, and the plain fit's whole CI lies
  //    in [γ − kApparentBelow, γ + kApparentAbove] (finite-size approaches put the
  //    apparent exponent on or above the law, never far below it);
  //  and no power of n fits as well.
  auto within = [](const FreeFit& ff, double g, double tol) {
    return ff.gamma_lo >= g - tol && ff.gamma_hi <= g + tol;
  };
  std::string why;
  if (alive.size() >= 2) {
    why = law_list(alive) + (alive.size() == 2 ? " both fit" : " all fit");
  } else {
    const Law law = alive.front();
    const std::size_t k = static_cast<std::size_t>(std::find(kLaws.begin(), kLaws.end(), law) - kLaws.begin());
    const std::string tok(law_token(law));
    const double g = law_gamma(law);
    const bool corr_support = !r.corrected.fit.available || supported(FitFamily::corrected, k);
    bool ok = false;
    if (r.drift) {
      if (!corr_support)
        why = "only " + tok + " is not excluded, but the corrected fit does not support it";
      else if (!within(r.corrected, g, kVerdictResolution))
        why = "only " + tok + " fits, but the corrected CI " + fmt_ci(r.corrected.gamma_lo, r.corrected.gamma_hi) +
              " reaches beyond " + tok + " +- " + fmt(kVerdictResolution) + ": exponents between the laws are not ruled out";
      else
        ok = true;
    } else {
      const bool plain_ok = r.plain.gamma_lo >= g - kApparentBelow && r.plain.gamma_hi <= g + kApparentAbove;
      if (!corr_support)
        why = "only " + tok + " is not excluded, but the corrected fit does not support it";
      else if (!plain_ok)
        why = "only " + tok + " is not excluded, but the plain CI " + fmt_ci(r.plain.gamma_lo, r.plain.gamma_hi) +
              " is not within [" + fmt(g - kApparentBelow) + ", " + fmt(g + kApparentAbove) +
              "] and the drift is not significant, so an exponent off the four laws cannot be ruled out";
      else
        ok = true;
    }
    if (ok && power_alternative) {
      why = "only " + tok + " fits among the laws, but " + power_text;
      ok = false;
    }
    if (ok) {
      r.verdict = tok;
      if (r.drift)
        r.reason = "only " + tok + " fits once the 1/log n correction explains the drift (" + slope_text + "): " +
                   corr_text + ", B = " + fmt(r.corrected.fit.B) + "; " + plain_text;
      else
        r.reason = "only " + tok + " fits, no significant drift (" + slope_text + "): " + plain_text +
                   (r.corrected.fit.available ? "; " + corr_text + ", B = " + fmt(r.corrected.fit.B) : std::string());
      return r;
    }
  }
  if (power_alternative && alive.size() >= 2) why += "; " + power_text;
  r.reason = both_text + "; " + slope_text + ": " + why;
  return r;
}

}  // namespace

FitResult fit_summaries(std::vector<PointSummary> points, const FitOptions& options) {
  for (auto& p : points) {
    p.sigma_log = std::max(p.sigma_log, options.sigma_floor);
    if (!(p.median > 0) || !std::isfinite(p.median) || !std::isfinite(p.sigma_log) || !std::isfinite(p.log_n) ||
        !(p.log_n > 0)) {
      if (p.used && p.note.empty()) p.note = "median not positive and finite";
      p.used = false;
    }
  }
  return analyse(std::move(points), {}, options);
}

FitResult fit_critical(const CriticalSeries& series, const FitOptions& options) {
  const std::size_t N = std::min(series.log_n.size(), series.rows.size());
  const int R = std::max(options.resamples, 0);
  std::vector<PointSummary> points(N);
  std::vector<std::vector<double>> finite(N);  // per point: its finite per-row values
  std::vector<bool> bootstrapped(N, false);
  for (std::size_t i = 0; i < N; ++i) {
    PointSummary& p = points[i];
    p.log_n = series.log_n[i];
    std::vector<double>& x = finite[i];
    for (double v : series.rows[i])
      if (std::isfinite(v)) x.push_back(v);
    p.rows = x.size();
    p.median = p.median_lo = p.median_hi = p.sigma_log = kNaN;
    p.mean = p.mean_lo = p.mean_hi = kNaN;
    if (!(std::isfinite(p.log_n) && p.log_n > 0)) {
      p.note = "log n not positive and finite";
      continue;
    }
    if (x.empty()) {
      p.note = "no finite per-row values";
      continue;
    }
    p.median = median(x);
    bootstrapped[i] = true;
  }
  // The two bootstraps of every point are independent tasks, each with its own engine;
  // each writes only its own point's fields, so the thread count changes nothing.
  std::vector<std::vector<double>> boot_log(N);  // per point: R bootstrap log medians
  parallel_for(2 * N, options.threads, 1, [] { return 0; }, [&](int, std::size_t t) {
    const std::size_t i = t / 2;
    if (!bootstrapped[i]) return;
    PointSummary& p = points[i];
    const std::vector<double>& x = finite[i];
    if (t % 2 == 0) {
      Engine mean_eng(row_stream_key(options.seed, "fit-bootstrap-mean", std::bit_cast<std::uint64_t>(p.log_n), 0));
      std::vector<double> means = bootstrap_means(x, mean_eng, R);
      std::sort(means.begin(), means.end());
      p.mean = std::accumulate(x.begin(), x.end(), 0.0) / static_cast<double>(x.size());
      p.mean_lo = means.empty() ? p.mean : percentile_sorted(means, 0.025);
      p.mean_hi = means.empty() ? p.mean : percentile_sorted(means, 0.975);
      return;
    }
    // The bootstrap stream of a point depends on the seed and its n only, so leaving
    // other n out (--n-min) changes nothing here.
    Engine eng(row_stream_key(options.seed, "fit-bootstrap", std::bit_cast<std::uint64_t>(p.log_n), 0));
    std::vector<double> meds = bootstrap_medians(x, eng, R);
    std::vector<double> sorted = meds;
    std::sort(sorted.begin(), sorted.end());
    p.median_lo = sorted.empty() ? p.median : percentile_sorted(sorted, 0.025);
    p.median_hi = sorted.empty() ? p.median : percentile_sorted(sorted, 0.975);
    if (!(p.median > 0) || !(p.median_lo > 0)) {
      p.note = "median (or its lower 95% bound) is not positive";
      return;
    }
    // σ of log median from the bootstrap replicates.
    std::vector<double> logs(meds.size());
    const auto first_positive = std::upper_bound(sorted.begin(), sorted.end(), 0.0);
    const double smallest_positive = first_positive == sorted.end() ? p.median : *first_positive;
    for (std::size_t b = 0; b < meds.size(); ++b) logs[b] = std::log(meds[b] > 0 ? meds[b] : smallest_positive);
    double sd = 0;
    if (logs.size() > 1) {
      const double mean = std::accumulate(logs.begin(), logs.end(), 0.0) / static_cast<double>(logs.size());
      for (double l : logs) sd += (l - mean) * (l - mean);
      sd = std::sqrt(sd / static_cast<double>(logs.size() - 1));
    }
    p.sigma_log = std::max(sd, options.sigma_floor);
    p.used = true;
    boot_log[i] = std::move(logs);
  });
  std::vector<std::size_t> used_index;
  for (std::size_t i = 0; i < N; ++i)
    if (points[i].used) used_index.push_back(i);
  // Replicates in the order analyse() sorts the used points (ascending log n).
  std::vector<std::size_t> order(used_index.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return points[used_index[a]].log_n < points[used_index[b]].log_n; });
  std::vector<std::vector<double>> boot_y;
  if (R > 0 && !used_index.empty()) {
    boot_y.assign(static_cast<std::size_t>(R), std::vector<double>(used_index.size()));
    for (std::size_t b = 0; b < static_cast<std::size_t>(R); ++b)
      for (std::size_t j = 0; j < order.size(); ++j) boot_y[b][j] = boot_log[used_index[order[j]]][b];
  }
  return analyse(std::move(points), boot_y, options);
}

// ---------------------------------------------------------------- JSON

nlohmann::json FitResult::law_weights_json() const {
  nlohmann::json j;
  j["criterion"] = criterion;
  for (FitFamily fam : {FitFamily::plain, FitFamily::corrected}) {
    const auto& laws = fam == FitFamily::plain ? law_plain : law_corrected;
    const FreeFit& ff = fam == FitFamily::plain ? plain : corrected;
    nlohmann::json fj;
    for (std::size_t k = 0; k < kLaws.size(); ++k) fj[std::string(law_token(kLaws[k]))] = model_json(laws[k], false);
    auto free = model_json(ff.fit, true);
    free["gamma_lo"] = ff.gamma_lo;
    free["gamma_hi"] = ff.gamma_hi;
    fj["free"] = free;
    j[std::string(family_name(fam))] = fj;
  }
  auto pj = model_json(power_n.fit, false);
  pj["c"] = power_n.fit.gamma;
  pj["nu"] = power_n.nu();
  pj.erase("B");
  j["power_n"] = pj;
  return j;
}

nlohmann::json FitResult::to_json() const {
  nlohmann::json j;
  j["gamma"] = gamma;
  j["gamma_lo"] = gamma_lo;
  j["gamma_hi"] = gamma_hi;
  j["A"] = A;
  j["B"] = B;
  j["family"] = family_name(family);
  j["gamma_plain"] = gamma_plain;
  j["gamma_plain_lo"] = plain.gamma_lo;
  j["gamma_plain_hi"] = plain.gamma_hi;
  j["gamma_corrected"] = corrected.fit.gamma;
  j["gamma_corrected_lo"] = corrected.gamma_lo;
  j["gamma_corrected_hi"] = corrected.gamma_hi;
  j["chi2_dof"] = chi2_dof;
  j["verdict"] = verdict;
  j["reason"] = reason;
  j["criterion"] = criterion;
  j["drift"] = drift;
  j["law_weights"] = law_weights_json();
  nlohmann::json pts = nlohmann::json::array();
  for (const auto& p : points) {
    nlohmann::json pj{{"log_n", p.log_n},         {"log2_n", p.log_n / std::log(2.0)},
                      {"rows", p.rows},           {"median", p.median},
                      {"median_lo", p.median_lo}, {"median_hi", p.median_hi},
                      {"mean", p.mean},           {"mean_lo", p.mean_lo},
                      {"mean_hi", p.mean_hi},     {"sigma_log", p.sigma_log},
                      {"used", p.used}};
    if (!p.note.empty()) pj["note"] = p.note;
    pts.push_back(pj);
  }
  j["points"] = pts;
  nlohmann::json sl = nlohmann::json::array();
  for (const auto& s : local_slopes)
    sl.push_back({{"log_n_lo", s.log_n_lo}, {"log_n_hi", s.log_n_hi}, {"slope", s.slope}, {"sigma", s.sigma}});
  j["local_slopes"] = sl;
  return j;
}

}  // namespace betacrit
