#include "sim/observables.hpp"

#include "sim/cpu_dispatch.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace betacrit {

std::string_view observable_name(Observable o) {
  switch (o) {
    case Observable::entropy: return "entropy";
    case Observable::norm_entropy: return "norm_entropy";
    case Observable::max_weight: return "max_weight";
    case Observable::top_mass: return "top_mass";
    case Observable::collision: return "collision";
    case Observable::log_partition: return "log_partition";
  }
  return "?";
}

std::optional<Observable> observable_from_name(std::string_view name) {
  for (Observable o : kAllObservables)
    if (observable_name(o) == name) return o;
  return std::nullopt;
}

std::string_view observable_description(Observable o) {
  switch (o) {
    case Observable::entropy: return "Shannon entropy H = -sum p_i log p_i = log S0 + beta S1/S0 of the softmax row";
    case Observable::norm_entropy: return "normalized entropy H / log n, in [0, 1]";
    case Observable::max_weight: return "largest softmax weight max_i p_i = 1/S0, in [1/n, 1]";
    case Observable::top_mass: return "softmax mass of the tied top set m/S0, in [m/n, 1]";
    case Observable::collision: return "collision probability sum p_i^2 = S0(2 beta)/S0(beta)^2, in [1/n, 1]";
    case Observable::log_partition: return "log S0(beta), log-partition function in the gap frame, in [log m, log n]";
  }
  return "";
}

std::string_view observable_units(Observable o) {
  switch (o) {
    case Observable::entropy:
    case Observable::log_partition: return "nats";
    default: return "1";
  }
}

double ObservableValues::get(Observable o) const {
  switch (o) {
    case Observable::entropy: return entropy;
    case Observable::norm_entropy: return norm_entropy;
    case Observable::max_weight: return max_weight;
    case Observable::top_mass: return top_mass;
    case Observable::collision: return collision;
    case Observable::log_partition: return log_partition;
  }
  return std::nan("");
}

ObservableValues observables_at(const GapMeasure& g, double beta, bool with_collision) {
  if (!(beta >= 0) || std::isinf(beta)) throw std::invalid_argument("beta must be finite and >= 0");
  const GapSums s = g.sums(beta);
  ObservableValues v{};
  // Rounding can step a hair outside the exact ranges; clamp to them (documented).
  v.log_partition = std::clamp(std::log(s.s0), std::log(g.m), g.log_n);
  v.entropy = std::clamp(v.log_partition + s.t1 / s.s0, 0.0, g.log_n);
  v.norm_entropy = g.log_n > 0 ? v.entropy / g.log_n : 0.0;
  v.max_weight = 1.0 / s.s0;
  v.top_mass = g.m / s.s0;
  if (with_collision) {
    const double s2 = beta == 0 ? g.n : g.sums(2 * beta).s0;
    v.collision = std::clamp(s2 / s.s0 / s.s0,  // S0² would overflow for S0 > 2^512 (tail mode)
                              v.max_weight * v.max_weight * g.m, 1.0);
  } else {
    v.collision = std::nan("");
  }
  return v;
}

BETACRIT_CLONE_AVX2
void evaluate_observables(const GapMeasure& g, std::span<const double> betas,
                          std::span<const Observable> which, std::span<double> out) {
  if (out.size() < betas.size() * which.size()) throw std::invalid_argument("observable output too small");
  const bool collision =
      std::find(which.begin(), which.end(), Observable::collision) != which.end();
  for (std::size_t b = 0; b < betas.size(); ++b) {
    const ObservableValues v = observables_at(g, betas[b], collision);
    for (std::size_t k = 0; k < which.size(); ++k) out[b * which.size() + k] = v.get(which[k]);
  }
}

}  // namespace betacrit
