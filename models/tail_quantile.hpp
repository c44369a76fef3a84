#pragma once
// Upper-tail quantiles in log space for tail mode (SPEC §9): the score x with
// log P(X > x) = log_p, accurate for tail probabilities far below the double range
// (log_p = -1000 log 2 and beyond). Where p = exp(log_p) is a normal double, Boost.Math's
// quantile(complement(dist, p)) is used (the lower quantile of 1 - p for p >= 1/2); beyond,
// a convergent log-space representation of the tail is inverted by Newton's method
// (for the Student t also wherever that series converges fast, x <= 0.1):
//  * normal:    log Φ̄(z) = -z²/2 - log √(2π) + log R(z), R(z) = Φ̄(z)/φ(z) the Mills ratio
//               from Laplace's continued fraction R = 1/(z + 1/(z + 2/(z + 3/(z + …))));
//  * student t: P(T > t) = ½ I_x(ν/2, ½), x = ν/(ν + t²), with
//               I_x(a, b) = x^a (1-x)^b / (a B(a, b)) · ₂F₁(a+b, 1; a+1; x) (DLMF 8.17.8),
//               solved for log x.
// The "series" functions are the beyond-range branches, exposed so that tests can compare
// them with Boost.Math where both apply (p from 1e-300 to 1e-10).
#include <cmath>

namespace betacrit::tail_quantile {

/// Throws std::domain_error unless log_p <= 0 (log_p = -inf allowed).
void check_log_p(double log_p);

/// log p below which Boost.Math is not used (p = e^-700 ≈ 1e-304 is still a normal double).
inline constexpr double kBoostMinLogP = -700.0;

/// log Φ̄(z) of the standard normal for z >= 1 (continued fraction; relative ~1e-15).
double normal_log_upper_tail_series(double z);
/// Standard-normal z with log Φ̄(z) = log_p, by Newton on the continued fraction; for
/// log_p <= log(0.15) (z >= 1).
double normal_upper_quantile_log_series(double log_p);
/// Standard-normal upper quantile in log space, every log_p <= 0 (log_p = 0 gives -inf).
double normal_upper_quantile_log(double log_p);

/// log P(T_ν > t) for t > 0 from the hypergeometric series (exact; fast when t² >> ν).
double student_t_log_upper_tail_series(double nu, double t);
/// t with log P(T_ν > t) = log_p from the series (for log_p well below log ½).
double student_t_upper_quantile_log_series(double nu, double log_p);
/// Student-t upper quantile in log space, every log_p <= 0; +inf when t overflows a double.
double student_t_upper_quantile_log(double nu, double log_p);

}  // namespace betacrit::tail_quantile
