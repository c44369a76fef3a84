#pragma once
// Tail mode (SPEC §9): a row of length n = 2^log2_n, possibly far beyond what can be
// drawn, represented by its top order statistics drawn exactly and the remaining scores
// entering S0, S1 and N_n(t) through an unbiased weighted estimate. The result is the
// same GapMeasure (plus exact β_acc) that exact mode produces, so everything downstream
// is shared. Cost per row does not grow with n.
#include "models/model.hpp"
#include "sim/row_engine.hpp"

namespace betacrit {

/// Whether `model` supports tail mode (iid with a tail quantile).
bool tail_mode_supported(const Model& model);

/// Measures one tail-mode row of length 2^log2_n from the row's own stream `start`.
MeasuredRow measure_tail_row(const Model& model, double log2_n, const Engine& start,
                             const RowSettings& settings);

}  // namespace betacrit
