#include "sim/estimators.hpp"

#include "sim/observables.hpp"

#include <boost/math/tools/roots.hpp>

#include <algorithm>
#include <cmath>
#include <limits>

namespace betacrit {

std::string_view estimator_name(Estimator e) {
  switch (e) {
    case Estimator::accumulation: return "accumulation";
    case Estimator::half_mass: return "half_mass";
    case Estimator::entropy_fraction: return "entropy_fraction";
    case Estimator::sweep_half_mass: return "sweep_half_mass";
  }
  return "?";
}

std::optional<Estimator> estimator_from_name(std::string_view name) {
  for (Estimator e : {Estimator::accumulation, Estimator::half_mass, Estimator::entropy_fraction,
                      Estimator::sweep_half_mass})
    if (estimator_name(e) == name) return e;
  return std::nullopt;
}

std::string_view estimator_description(Estimator e) {
  switch (e) {
    case Estimator::accumulation:
      return "upper-tail accumulation scale beta_acc = sup_t log(N_n(t)/m)/t per row (0 when N_n(t) <= m for all t)";
    case Estimator::half_mass:
      return "beta_half = inf{beta : S0(beta) <= 2m}: the tied top set holds half the mass (0 when n <= 2m)";
    case Estimator::entropy_fraction:
      return "beta_H(f) = smallest beta with H(beta) <= f log n (NaN when never reached)";
    case Estimator::sweep_half_mass:
      return "beta at which the across-row mean max_weight first reaches 1/2, linear in log beta between "
             "bracketing grid points (NaN when not bracketed)";
  }
  return "";
}

namespace {

/// Updates `best` with the candidates log(N(g)/m)/g at the distinct values of the sorted
/// exact gaps `sorted` below `limit`, where N counts `offset` gaps below sorted[0].
void scan_sorted(const std::vector<double>& sorted, double offset, double m, double limit, double& best) {
  const std::size_t k = sorted.size();
  constexpr std::size_t kChunk = 64;
  for (std::size_t i0 = 0; i0 < k; i0 += kChunk) {
    if (!(sorted[i0] < limit)) break;
    const std::size_t i1 = std::min(k, i0 + kChunk);
    // No candidate of the chunk beats log(largest count/m)/smallest gap: skip the chunk
    // (with a margin for rounding) when that bound cannot improve on `best`.
    const double top = offset + static_cast<double>(i1);
    if (best > 0 && top > m && std::log(top / m) / sorted[i0] * (1 + 1e-14) <= best) continue;
    for (std::size_t i = i0; i < i1; ++i) {
      if (!(sorted[i] < limit)) return;
      if (i + 1 < k && sorted[i + 1] == sorted[i]) continue;  // last of a run of equal gaps
      const double count = offset + static_cast<double>(i + 1);
      if (count > m) best = std::max(best, std::log(count / m) / sorted[i]);
    }
  }
}

}  // namespace

AccumulationResult accumulation_search(const GapMeasure& g) {
  AccumulationResult r;
  const double m = g.m;
  double best = 0;
  // 1. Exact: every distinct gap strictly below near_complete_below.
  scan_sorted(g.near, 0.0, m, g.near_complete_below, best);
  if (std::isinf(g.near_complete_below)) {
    r.value = best;
    return r;
  }
  // 2. Exact atoms (one distinct value per bucket) at or beyond the exact range.
  const double g0 = g.near_complete_below;
  double cumulative = 0;
  std::vector<double> cum(g.buckets.size());
  for (std::size_t i = 0; i < g.buckets.size(); ++i) {
    cumulative += g.buckets[i].weight();
    cum[i] = cumulative;
    const auto& b = g.buckets[i];
    if (b.is_atom() && b.min_gap >= g0 && cum[i] > m) best = std::max(best, std::log(cum[i] / m) / b.min_gap);
  }
  // 3. Bounds: for gaps in bucket i at or above g0, log(N(t)/m)/t <= log(cum_i/m)/max(min_i, g0).
  for (std::size_t i = 0; i < g.buckets.size(); ++i) {
    const auto& b = g.buckets[i];
    if (b.max_gap < g0 || (b.is_atom() && b.min_gap >= g0)) continue;
    if (cum[i] <= m) continue;
    const double lo = std::max(b.min_gap, g0);
    const double bound = std::log(cum[i] / m) / lo;
    if (bound > best) r.unresolved.emplace_back(lo, b.max_gap);
  }
  r.value = best;
  r.exact = r.unresolved.empty();
  return r;
}

double accumulation_refined(const GapMeasure& g, const AccumulationResult& search, std::vector<double> members) {
  if (search.exact) return search.value;
  const double m = g.m;
  double best = search.value;
  std::sort(members.begin(), members.end());
  // N(t) for t inside an unresolved range = (weight of all buckets wholly below t's bucket
  // and of the members below t). Walk the buckets and the sorted members together.
  std::size_t mi = 0;
  double below = 0;  // weight of positive gaps in buckets before the current one
  for (const auto& b : g.buckets) {
    // members falling in this bucket
    std::size_t start = mi;
    while (mi < members.size() && members[mi] <= b.max_gap) ++mi;
    if (mi > start) {
      // The bucket's members below the first unresolved member count too: those are the
      // bucket's gaps not supplied (below the range) — i.e. its weight minus supplied ones
      // at or above the range start. Ranges start at max(min_gap, g0), so the unsupplied
      // part of this bucket lies below members[start].
      const double supplied = static_cast<double>(mi - start);
      const double unsupplied_below = b.weight() - supplied;
      std::vector<double> part(members.begin() + static_cast<std::ptrdiff_t>(start),
                               members.begin() + static_cast<std::ptrdiff_t>(mi));
      scan_sorted(part, below + unsupplied_below, m, std::numeric_limits<double>::infinity(), best);
    }
    below += b.weight();
  }
  return best;
}

double half_mass(const GapMeasure& g) {
  const double m = g.m;
  const double rest = g.n - m;
  if (!(rest > m)) return 0.0;
  const double L = std::log(rest / m);
  // Jensen: S0(β) >= m + (n-m) e^{-β mean} so S0(L/mean) >= 2m; S0(L/min) <= 2m.
  const double lo = L / g.mean_gap();
  const double hi = L / g.min_gap();
  const double target = std::log(2 * m);
  // f(β) = log S0(β) - log 2m is convex (a log-sum-exp of lines) and decreasing, and f(lo) >= 0:
  // Newton's method from lo climbs monotonically to the root (each tangent stays below f),
  // with the slope f'(β) = -S1/S0 from the same sums. A handful of evaluations suffice.
  double beta = lo;
  for (int iter = 0; iter < 100; ++iter) {
    const GapSums s = g.sums(beta);
    const double f = std::log(s.s0) - target;
    if (!(f > 0)) return beta;  // at the root (equality cases: all gaps equal, lo == hi)
    if (!(s.t1 > 0)) break;
    const double next = std::min(beta + f * beta * s.s0 / s.t1, hi);
    if (!(next > beta)) return beta;                   // converged to the last ulp
    if (next - beta <= 1e-15 * beta) return next;      // quadratic convergence: done
    beta = next;
  }
  // Not converged (should not happen): bracketing solver on [beta, hi].
  auto f = [&](double b) { return std::log(g.sums(b).s0) - target; };
  const double flo = f(beta), fhi = f(hi);
  if (flo <= 0) return beta;
  if (fhi >= 0) return hi;
  boost::math::tools::eps_tolerance<double> tol(50);
  std::uintmax_t iters = 200;
  auto [a, b] = boost::math::tools::toms748_solve(f, beta, hi, flo, fhi, tol, iters);
  return 0.5 * (a + b);
}

double entropy_fraction(const GapMeasure& g, double f) {
  const double target = f * g.log_n;
  if (!(g.log_n > 0)) return std::nan("");
  if (std::log(g.m) >= target) return std::nan("");  // H(β) -> log m > target: never reached
  // H(β) = log S0 + T1/S0 decreases from log n; dH/dβ = -(T2/S0 - (T1/S0)²)/β. Safeguarded
  // Newton: steps that leave the bracket [lo, hi] are replaced by bisection (geometric once
  // lo > 0), and hi = +inf doubles until H falls below the target.
  auto entropy = [&](double beta, double& slope) {
    const GapSums2 s = g.sums2(beta);
    const double r1 = s.t1 / s.s0;
    const double h = std::log(s.s0) + r1;
    slope = beta > 0 ? -(s.t2 / s.s0 - r1 * r1) / beta : -1.0;
    return std::clamp(h, std::log(g.m), g.log_n) - target;
  };
  double lo = 0, hi = std::numeric_limits<double>::infinity();
  {
    double slope;
    if (entropy(0.0, slope) <= 0) return 0.0;  // f >= 1
  }
  const double mean = g.mean_gap();
  double beta = mean > 0 ? 1.0 / mean : 1.0;
  for (int iter = 0; iter < 400; ++iter) {
    double slope;
    const double h = entropy(beta, slope);
    if (h == 0) return beta;
    if (h > 0) lo = beta;
    else hi = beta;
    double next = beta - h / slope;
    const bool newton_ok = slope < 0 && std::isfinite(next) && next > lo && next < hi;
    if (!newton_ok) {
      if (std::isinf(hi)) next = 2 * std::max(beta, lo);
      else next = lo > 0 ? std::sqrt(lo * hi) : 0.5 * hi;
    }
    if (std::isinf(next)) return std::nan("");
    if (std::fabs(next - beta) <= 1e-15 * beta || (std::isfinite(hi) && hi - lo <= 4e-16 * hi)) return next;
    beta = next;
  }
  return std::isfinite(hi) ? 0.5 * (lo + hi) : std::nan("");
}

}  // namespace betacrit
