#pragma once
// Row estimators of the critical β (SPEC §1): they read the gaps only, no β sweep.
#include "sim/gap_measure.hpp"

#include <optional>
#include <string_view>
#include <vector>

namespace betacrit {

enum class Estimator { accumulation, half_mass, entropy_fraction, sweep_half_mass };
std::string_view estimator_name(Estimator e);
std::optional<Estimator> estimator_from_name(std::string_view name);
std::string_view estimator_description(Estimator e);

/// Result of the β_acc search on a GapMeasure.
struct AccumulationResult {
  double value = 0;        ///< best log(N(g)/m)/g found (exact when `exact`)
  bool exact = true;
  /// When not exact: positive gaps in these closed ranges [lo, hi] must be supplied
  /// exactly (see accumulation_refined) to settle the supremum.
  std::vector<std::pair<double, double>> unresolved;
};

/// β_acc = sup_{t>0} log(N(t)/m)/t from the exact smallest gaps, with bucket bounds that
/// prove the rest cannot exceed it; when they cannot, `unresolved` lists the bucket ranges
/// whose members are needed.
AccumulationResult accumulation_search(const GapMeasure& g);

/// β_acc once the members of the unresolved ranges are known. `members` holds every
/// positive gap inside the ranges of `search.unresolved` (any order).
double accumulation_refined(const GapMeasure& g, const AccumulationResult& search,
                            std::vector<double> members);

/// β_half = inf{β >= 0 : S0(β) <= 2m} (0 when n <= 2m), to ~1e-13 relative.
double half_mass(const GapMeasure& g);

/// β_H(f): the smallest β with H(β) <= f·log n; NaN when H never gets there (log m > f log n).
double entropy_fraction(const GapMeasure& g, double f);

}  // namespace betacrit
