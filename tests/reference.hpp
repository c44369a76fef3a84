#pragma once
// Direct long-double reference implementations over a full row (tests only): the
// definitions of SPEC §1 evaluated term by term, with no shared code with sim/.
#include <algorithm>
#include <cmath>
#include <vector>

namespace betacrit::reference {

struct Direct {
  long double entropy, max_weight, top_mass, collision, log_partition;
};

inline Direct direct_observables(const std::vector<double>& s, long double beta) {
  const long double M = *std::max_element(s.begin(), s.end());
  long double z = 0, z2 = 0, mtop = 0;
  for (double x : s) {
    const long double w = std::exp(beta * (x - M));
    z += w;
    z2 += w * w;
    if (x == M) mtop += w;
  }
  long double h = 0, pmax = 0;
  for (double x : s) {
    const long double p = std::exp(beta * (x - M)) / z;
    if (p > 0) h -= p * std::log(p);
    pmax = std::max(pmax, p);
  }
  return {h, pmax, mtop / z, z2 / (z * z), std::log(z)};
}

/// sup over distinct positive gaps g of log(N(g)/m)/g, by a full sort.
inline long double direct_accumulation(std::vector<double> s) {
  std::sort(s.begin(), s.end(), std::greater<double>());
  const long double M = s[0];
  std::size_t m = 0;
  while (m < s.size() && s[m] == M) ++m;
  long double best = 0;
  for (std::size_t i = m; i < s.size(); ++i) {
    if (i + 1 < s.size() && s[i + 1] == s[i]) continue;
    const long double N = static_cast<long double>(i + 1 - m);
    const long double g = M - static_cast<long double>(s[i]);
    if (N > m) best = std::max(best, std::log(N / m) / g);
  }
  return best;
}

inline long double direct_s0(const std::vector<double>& s, long double beta) {
  const long double M = *std::max_element(s.begin(), s.end());
  long double z = 0;
  for (double x : s) z += std::exp(-beta * (M - x));
  return z;
}

/// Bisection in long double for the decreasing function f(β) on [lo, hi].
template <class F>
long double bisect(F f, long double lo, long double hi) {
  for (int i = 0; i < 200; ++i) {
    const long double mid = 0.5L * (lo + hi);
    if (f(mid) > 0) lo = mid; else hi = mid;
  }
  return 0.5L * (lo + hi);
}

inline long double direct_half_mass(const std::vector<double>& s) {
  const long double M = *std::max_element(s.begin(), s.end());
  const long double m = static_cast<long double>(std::count(s.begin(), s.end(), static_cast<double>(M)));
  if (s.size() <= 2 * m) return 0;
  long double hi = 1;
  while (direct_s0(s, hi) > 2 * m) hi *= 2;
  return bisect([&](long double b) { return direct_s0(s, b) - 2 * m; }, 0, hi);
}

inline long double direct_entropy_fraction(const std::vector<double>& s, long double f) {
  const long double target = f * std::log(static_cast<long double>(s.size()));
  long double hi = 1;
  for (int i = 0; i < 2000 && direct_observables(s, hi).entropy > target; ++i) hi *= 2;
  return bisect([&](long double b) { return direct_observables(s, b).entropy - target; }, 0, hi);
}

}  // namespace betacrit::reference
