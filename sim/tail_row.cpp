#include "sim/tail_row.hpp"

#include <stdexcept>

namespace betacrit {

bool tail_mode_supported(const Model& model) { return model.iid() && model.upper_quantile_log(-1.0).has_value(); }

MeasuredRow measure_tail_row(const Model&, double, const Engine&, const RowSettings&) {
  throw std::logic_error("tail mode is not implemented yet");
}

}  // namespace betacrit
