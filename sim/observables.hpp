#pragma once
// Observables of one row at a list of β (SPEC §1), all from S0 and β·S1 of the GapMeasure.
#include "sim/gap_measure.hpp"

#include <array>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace betacrit {

enum class Observable { entropy, norm_entropy, max_weight, top_mass, collision, log_partition };
inline constexpr std::array<Observable, 6> kAllObservables = {
    Observable::entropy, Observable::norm_entropy, Observable::max_weight,
    Observable::top_mass, Observable::collision, Observable::log_partition};

std::string_view observable_name(Observable o);
std::optional<Observable> observable_from_name(std::string_view name);
/// One-line description and units, for HDF5 attributes and `--help`.
std::string_view observable_description(Observable o);
std::string_view observable_units(Observable o);

/// Values of all six observables at one β.
struct ObservableValues {
  double entropy, norm_entropy, max_weight, top_mass, collision, log_partition;
  [[nodiscard]] double get(Observable o) const;
};

/// Observables of a row at one β. `with_collision` = false skips the S0(2β) evaluation
/// (collision is then NaN).
ObservableValues observables_at(const GapMeasure& g, double beta, bool with_collision = true);

/// Observables at every β of `betas` into out[b*which.size() + k] for which[k].
void evaluate_observables(const GapMeasure& g, std::span<const double> betas,
                          std::span<const Observable> which, std::span<double> out);

}  // namespace betacrit
