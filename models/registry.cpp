// The list of score models: one line per model.
#include "models/model.hpp"
#include "models/builtin.hpp"

namespace betacrit {

const std::vector<ModelInfo>& model_registry() {
  static const std::vector<ModelInfo> registry = {
      gaussian_info(),
      gumbel_info(),
      weibull_tail_info(),
      student_t_info(),
      pareto_info(),
      sparse_gap_info(),
  };
  return registry;
}

}  // namespace betacrit
