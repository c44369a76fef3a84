#include "models/tail_quantile.hpp"

#include <boost/math/distributions/normal.hpp>
#include <boost/math/distributions/students_t.hpp>
#include <boost/math/special_functions/gamma.hpp>
#include <boost/math/tools/fraction.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>
#include <stdexcept>
#include <utility>

namespace betacrit::tail_quantile {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kEps = std::numeric_limits<double>::epsilon();
const double kLogHalf = -std::numbers::ln2;

/// Laplace's continued fraction for 1/R(z) = z + 1/(z + 2/(z + 3/(z + …))).
struct MillsFraction {
  using result_type = std::pair<double, double>;
  double z;
  int k = 0;
  std::pair<double, double> operator()() {
    const double a = static_cast<double>(k);
    ++k;
    return {a, z};
  }
};

/// Mills ratio R(z) = Φ̄(z)/φ(z) for z >= 1.
double mills_ratio(double z) {
  MillsFraction f{z};
  std::uintmax_t max_terms = 100000;
  return 1.0 / boost::math::tools::continued_fraction_b(f, kEps, max_terms);
}

/// log of the Student-t tail constant: log(½ / (a B(a, b))) with a = ν/2, b = ½.
double student_log_constant(double nu) {
  const double a = 0.5 * nu, b = 0.5;
  const double log_beta = std::lgamma(a) + std::lgamma(b) - std::lgamma(a + b);
  return -std::numbers::ln2 - std::log(a) - log_beta;
}

/// log ₂F₁(a+b, 1; a+1; x) and x·d/dx of it, by the series (all terms positive).
std::pair<double, double> student_log_hypergeometric(double nu, double x) {
  const double a = 0.5 * nu, b = 0.5;
  double term = 1, sum = 1, dsum = 0;
  for (int k = 0; k < 100000000; ++k) {
    term *= (a + b + k) / (a + 1 + k) * x;
    sum += term;
    dsum += (k + 1) * term;
    if (term < 1e-17 * sum) break;
  }
  return {std::log(sum), dsum / sum};
}

/// log P(T > t) with y = log x, x = ν/(ν + t²) < 1.
double student_log_tail_of_logx(double nu, double y) {
  const double x = std::exp(y);
  return student_log_constant(nu) + 0.5 * nu * y + 0.5 * std::log1p(-x) + student_log_hypergeometric(nu, x).first;
}

}  // namespace

void check_log_p(double log_p) {
  if (std::isnan(log_p) || log_p > 0) throw std::domain_error("upper_quantile_log: log_p must be <= 0");
}

double normal_log_upper_tail_series(double z) {
  if (!(z >= 1.0)) throw std::domain_error("normal_log_upper_tail_series: needs z >= 1");
  return -0.5 * z * z - 0.5 * std::log(2 * std::numbers::pi) + std::log(mills_ratio(z));
}

double normal_upper_quantile_log_series(double log_p) {
  if (log_p == -kInf) return kInf;
  if (!(log_p <= std::log(0.15))) throw std::domain_error("normal_upper_quantile_log_series: needs log_p <= log 0.15");
  // Start right of the root (Φ̄(z) <= e^{-z²/2}/2 < p at z = √(2L)); log Φ̄ is concave, so
  // Newton's iterates then decrease monotonically to the root and never cross it.
  double z = std::sqrt(-2.0 * log_p);
  for (int i = 0; i < 200; ++i) {
    const double r = mills_ratio(z);
    const double f = -0.5 * z * z - 0.5 * std::log(2 * std::numbers::pi) + std::log(r) - log_p;
    const double step = f * r;  // f'(z) = -1/R(z)
    z += step;
    if (std::fabs(step) <= 4 * kEps * z) break;
  }
  return z;
}

double normal_upper_quantile_log(double log_p) {
  check_log_p(log_p);
  if (log_p == -kInf) return kInf;
  if (log_p > kLogHalf) {
    if (log_p == 0) return -kInf;
    // Symmetry: P(X > x) = p  <=>  P(X > -x) = 1 - p.
    return -normal_upper_quantile_log(std::log(-std::expm1(log_p)));
  }
  if (log_p >= kBoostMinLogP) {
    const boost::math::normal_distribution<double> d(0.0, 1.0);
    return boost::math::quantile(boost::math::complement(d, std::exp(log_p)));
  }
  return normal_upper_quantile_log_series(log_p);
}

double student_t_log_upper_tail_series(double nu, double t) {
  if (!(t > 0) || !(nu > 0)) throw std::domain_error("student_t_log_upper_tail_series: needs t > 0, nu > 0");
  // log x = log ν - log(ν + t²) = log ν - 2 log t - log1p(ν/t²), safe for huge t.
  const double y = std::log(nu) - 2 * std::log(t) - std::log1p(nu / t / t);
  return student_log_tail_of_logx(nu, y);
}

double student_t_upper_quantile_log_series(double nu, double log_p) {
  if (log_p == -kInf) return kInf;
  if (!(log_p < kLogHalf)) throw std::domain_error("student_t_upper_quantile_log_series: needs log_p < log 1/2");
  const double a = 0.5 * nu, b = 0.5;
  const double c = student_log_constant(nu);
  // Leading order: log P ≈ c + a·y, then Newton on y = log x (log P increases with y).
  double y = std::min((log_p - c) / a, -1e-3);
  for (int i = 0; i < 200; ++i) {
    const double x = std::exp(y);
    const auto [log_f, dlog_f] = student_log_hypergeometric(nu, x);
    const double g = c + a * y + b * std::log1p(-x) + log_f - log_p;
    const double dg = a - b * x / (1 - x) + dlog_f;
    double next = y - g / dg;
    if (!(next < 0)) next = 0.5 * y;  // stay inside x < 1
    const double step = next - y;
    y = next;
    if (std::fabs(step) <= 4 * kEps * std::max(1.0, std::fabs(y))) break;
  }
  // t = √(ν (1-x)/x) = √ν · e^{-y/2} · √(1-x).
  const double half = -0.5 * y;
  if (half > 709.0) return kInf;
  return std::sqrt(nu) * std::exp(half) * std::sqrt(-std::expm1(y));
}

double student_t_upper_quantile_log(double nu, double log_p) {
  check_log_p(log_p);
  if (log_p == -kInf) return kInf;
  if (log_p > kLogHalf) {
    if (log_p == 0) return -kInf;
    return -student_t_upper_quantile_log(nu, std::log(-std::expm1(log_p)));
  }
  // The series converges in a dozen terms once x = ν/(ν + t²) <= 0.1 (leading-order
  // estimate x ≈ e^{(log_p - c)/a}) and is then ~50 times faster than Boost's ibeta_inv.
  const bool series_is_fast = (log_p - student_log_constant(nu)) / (0.5 * nu) <= std::log(0.1);
  if (log_p >= kBoostMinLogP && !series_is_fast) {
    const boost::math::students_t_distribution<double> d(nu);
    try {
      return boost::math::quantile(boost::math::complement(d, std::exp(log_p)));
    } catch (const std::overflow_error&) {
      return kInf;
    }
  }
  return student_t_upper_quantile_log_series(nu, log_p);
}

}  // namespace betacrit::tail_quantile
