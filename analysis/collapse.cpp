#include "analysis/collapse.hpp"

#include <boost/math/tools/minima.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <stdexcept>

namespace betacrit {

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

void validate(const std::vector<CollapseCurve>& curves) {
  if (curves.size() < 2) throw std::invalid_argument("collapse needs at least 2 curves, got " + std::to_string(curves.size()));
  for (std::size_t i = 0; i < curves.size(); ++i) {
    const auto& c = curves[i];
    const std::string where = "collapse curve " + std::to_string(i);
    if (!(std::isfinite(c.log_n) && c.log_n > 0)) throw std::invalid_argument(where + ": log n must be > 0");
    if (c.beta.size() != c.y.size() || c.beta.size() != c.dy.size())
      throw std::invalid_argument(where + ": beta, y and dy differ in length");
    for (std::size_t j = 0; j < c.beta.size(); ++j) {
      if (!(std::isfinite(c.beta[j]) && c.beta[j] > 0))
        throw std::invalid_argument(where + ": beta[" + std::to_string(j) + "] must be finite and > 0");
      if (j > 0 && !(c.beta[j] > c.beta[j - 1]))
        throw std::invalid_argument(where + ": beta must be strictly ascending (index " + std::to_string(j) + ")");
      if (!std::isfinite(c.y[j]) || !std::isfinite(c.dy[j]) || c.dy[j] < 0)
        throw std::invalid_argument(where + ": y and dy must be finite (dy >= 0) at index " + std::to_string(j));
    }
  }
}
}  // namespace

double collapse_quality(const std::vector<CollapseCurve>& curves, double gamma, std::size_t* terms,
                        double dy_relative_floor) {
  const std::size_t K = curves.size();
  double ymax = 0;
  for (const auto& c : curves)
    for (double v : c.y) ymax = std::max(ymax, std::fabs(v));
  const double floor = std::max(dy_relative_floor * ymax, std::numeric_limits<double>::min());
  // Scaled abscissae and weights.
  std::vector<std::vector<double>> x(K), dy(K), w(K);
  for (std::size_t i = 0; i < K; ++i) {
    const double scale = std::exp(-gamma * std::log(curves[i].log_n));
    for (std::size_t j = 0; j < curves[i].beta.size(); ++j) {
      x[i].push_back(curves[i].beta[j] * scale);
      const double d = std::max(curves[i].dy[j], floor);
      dy[i].push_back(d);
      w[i].push_back(1.0 / (d * d));
    }
  }
  double sum = 0;
  std::size_t count = 0;
  for (std::size_t i = 0; i < K; ++i) {
    for (std::size_t j = 0; j < x[i].size(); ++j) {
      const double xi = x[i][j];
      double k = 0, kx = 0, ky = 0, kxx = 0, kxy = 0;
      bool any = false;
      for (std::size_t o = 0; o < K; ++o) {
        if (o == i || x[o].size() < 2) continue;
        // j' with x[o][j'] <= xi < x[o][j'+1]
        const auto it = std::upper_bound(x[o].begin(), x[o].end(), xi);
        if (it == x[o].begin() || it == x[o].end()) continue;
        const std::size_t jp = static_cast<std::size_t>(it - x[o].begin()) - 1;
        for (std::size_t s : {jp, jp + 1}) {
          const double ws = w[o][s], xs = x[o][s], ys = curves[o].y[s];
          k += ws;
          kx += ws * xs;
          ky += ws * ys;
          kxx += ws * xs * xs;
          kxy += ws * xs * ys;
        }
        any = true;
      }
      if (!any) continue;
      const double delta = k * kxx - kx * kx;
      if (!(delta > 0)) continue;
      const double m = (k * kxy - kx * ky) / delta;
      const double b = (kxx * ky - kx * kxy) / delta;
      const double b_var = kxx / delta, m_var = k / delta, bm_covar = -kx / delta;
      const double Y = b + m * xi;
      const double dY2 = b_var + 2 * bm_covar * xi + m_var * xi * xi;
      const double r = curves[i].y[j] - Y;
      sum += r * r / (dy[i][j] * dy[i][j] + std::max(dY2, 0.0));
      ++count;
    }
  }
  if (terms) *terms = count;
  return count ? sum / static_cast<double>(count) : kInf;
}

CollapseResult collapse_exponent(const std::vector<CollapseCurve>& curves, const CollapseOptions& opt) {
  validate(curves);
  if (!(opt.gamma_max > opt.gamma_min) || opt.scan_points < 3)
    throw std::invalid_argument("collapse: need gamma_max > gamma_min and scan_points >= 3");
  CollapseResult r;
  auto S = [&](double g) { return collapse_quality(curves, g, nullptr, opt.dy_relative_floor); };
  const double h = (opt.gamma_max - opt.gamma_min) / (opt.scan_points - 1);
  int best = -1;
  double best_s = kInf;
  for (int k = 0; k < opt.scan_points; ++k) {
    const double g = opt.gamma_min + k * h, s = S(g);
    r.scan.emplace_back(g, s);
    if (s < best_s) best_s = s, best = k;
  }
  if (best < 0) {
    r.gamma = r.gamma_sigma = r.quality = kNaN;
    r.note = "the curves do not overlap for any gamma in [" + std::to_string(opt.gamma_min) + ", " +
             std::to_string(opt.gamma_max) + "]";
    return r;
  }
  const double lo = opt.gamma_min + std::max(best - 1, 0) * h;
  const double hi = opt.gamma_min + std::min(best + 1, opt.scan_points - 1) * h;
  std::uintmax_t iters = 200;
  auto [g, s] = boost::math::tools::brent_find_minima(S, lo, hi, 40, iters);
  if (!(s <= best_s)) g = opt.gamma_min + best * h, s = best_s;
  r.ok = true;
  r.gamma = g;
  r.quality = s;
  collapse_quality(curves, g, &r.terms, opt.dy_relative_floor);
  if (best <= 1 || best >= opt.scan_points - 2) {  // within two nodes of an edge
    // S keeps falling towards the edge: no minimum in range, no exponent to report.
    r.ok = false;
    r.gamma_sigma = kNaN;
    r.note = "no minimum inside [" + num(opt.gamma_min) + ", " + num(opt.gamma_max) + "]: S falls towards gamma = " +
             num(g);
    return r;
  }
  if (s > kPoorCollapse)
    r.note = "poor collapse: S_min = " + num(s) + " >> 1, the curves do not fall on one master curve";
  // Curvature rule (pyfssa): σ² = 2·S_min / S'', step enlarged until S moves by >= 0.01.
  double step = 1e-3 * std::max(1.0, std::fabs(g));
  double s_minus = S(g - step), s_plus = S(g + step);
  for (int it = 0; it < 40 && std::isfinite(s_minus) && std::isfinite(s_plus) &&
                   std::min(s_minus, s_plus) - s < 0.01 && step < (opt.gamma_max - opt.gamma_min);
       ++it) {
    step *= 2;
    s_minus = S(g - step);
    s_plus = S(g + step);
  }
  const double curvature = (s_plus + s_minus - 2 * s) / (step * step);
  if (std::isfinite(curvature) && curvature > 0) {
    r.gamma_sigma = std::sqrt(2 * s / curvature);
  } else {
    r.gamma_sigma = kInf;
    if (r.note.empty()) r.note = "S is flat or not convex at its minimum: gamma is not determined";
  }
  return r;
}

nlohmann::json CollapseResult::to_json() const {
  nlohmann::json j;
  j["ok"] = ok;
  j["gamma"] = gamma;
  j["gamma_sigma"] = gamma_sigma;
  j["quality"] = quality;
  j["terms"] = terms;
  j["uncertainty_rule"] = "pyfssa curvature: sigma = sqrt(2 S_min / S'')";
  if (!note.empty()) j["note"] = note;
  nlohmann::json sc = nlohmann::json::array();
  for (const auto& [g, s] : scan) sc.push_back({g, s});
  j["scan"] = sc;
  return j;
}

}  // namespace betacrit
