#pragma once
// Registry entries of the built-in models (one per file in models/).
#include "models/model.hpp"
#include <limits>

namespace betacrit {
ModelInfo gaussian_info();
ModelInfo gumbel_info();
ModelInfo weibull_tail_info();
ModelInfo student_t_info();
ModelInfo pareto_info();
ModelInfo sparse_gap_info();

inline constexpr double kInf = std::numeric_limits<double>::infinity();
/// Shorthand for a real parameter in (0, inf).
inline ParamSpec positive_real(std::string name, double def, std::string help) {
  return ParamSpec{std::move(name), ParamSpec::Kind::Real, def, 0.0, false, kInf, false, std::move(help)};
}
}  // namespace betacrit
