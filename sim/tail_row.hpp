#pragma once
// Tail mode (SPEC §9): a row of length n = 2^log2_n, possibly far beyond what can be
// drawn, represented by its top order statistics drawn exactly and the remaining scores
// entering S0, S1 and N_n(t) through an unbiased weighted estimate. The result is the
// same GapMeasure (plus exact β_acc) that exact mode produces, so everything downstream
// is shared. Cost per row does not grow with n.
//
// Construction (docs/tail_mode.md has the error analysis):
//  1. Tail probabilities of the top K scores: P_k = Γ_k/Γ_{n+1} (Rényi), Γ_k partial sums of
//     Exp(1) and Γ_{n+1} = Γ_K + Gamma(n+1-K), all in log space; x_k = Q(log P_k) with the
//     model's upper_quantile_log. These are unit-weight gaps (exact, in `near`).
//  2. The other n-K scores are iid with tail probability V ~ U(P_K, 1). [log P_K, 0] is cut
//     into S strata of equal width in log V; their counts are one multinomial draw. A stratum
//     with at most r members is drawn in full (weight 1 each); otherwise it is split into r
//     sub-strata of equal width in log V with one exact draw each, weighted by the
//     stratum's count times the sub-stratum's share of its probability. Every stratum draw
//     is an exact weighted atom of the GapMeasure.
//  3. β_acc = sup_t log(N(t)/m)/t: exact over the top K and over strata drawn in full; in a
//     weighted stratum N(t) is taken at the sub-stratum boundaries, where its value given the
//     stratum counts is the count before the stratum plus c times the probability share up
//     to that boundary (the random atoms are not used for β_acc: evaluating N̂ at an atom
//     would credit the whole sub-stratum to a point inside it, an upward bias).
// Rows with n <= K + S·r are drawn in full with measure_row instead.
#include "models/model.hpp"
#include "sim/row_engine.hpp"

#include <cstddef>

namespace betacrit {

/// Largest log2 n tail mode accepts: S0 <= n and the weighted sums stay below 2^1024.
inline constexpr double kTailMaxLog2N = 1010.0;

struct TailSettings {
  std::size_t top_k = 1024;           ///< K: top order statistics drawn exactly
  std::size_t strata = 1024;          ///< S: strata in log tail probability below the K-th score
  std::size_t draws_per_stratum = 4;  ///< r: exact draws (sub-strata) per stratum
  /// Rows with n <= K + S·r are drawn in full (measure_row).
  [[nodiscard]] double exact_threshold() const {
    return static_cast<double>(top_k + strata * draws_per_stratum);
  }
};

/// Whether a tail-mode row of length 2^log2_n is drawn in full by the exact row engine
/// (n <= K + S·r): the output then records the row length as produced in exact mode.
[[nodiscard]] bool tail_row_drawn_in_full(double log2_n, const TailSettings& tail = {});

/// What one tail-mode row did (tests and benchmarks).
struct TailRowInfo {
  bool drawn_in_full = false;        ///< n <= K + S·r: measure_row was used
  double accumulation_top = 0;       ///< sup of log(N(g)/m)/g over the exact top K only
  double accumulation_beyond = 0;    ///< the same over the strata (estimate)
  std::size_t quantile_calls = 0;    ///< upper_quantile_log evaluations
};

/// Whether `model` supports tail mode (iid with a tail quantile).
bool tail_mode_supported(const Model& model);

/// Measures one tail-mode row of length 2^log2_n from the row's own stream `start`, with
/// the default TailSettings. Throws std::invalid_argument for log2_n outside [1, 1010] or
/// when the model's scores overflow a double at this n (message names the model and n).
MeasuredRow measure_tail_row(const Model& model, double log2_n, const Engine& start,
                             const RowSettings& settings);

/// The same with explicit tail settings (tests, benchmarks); fills `info` when given.
MeasuredRow measure_tail_row(const Model& model, double log2_n, const Engine& start,
                             const RowSettings& settings, const TailSettings& tail,
                             TailRowInfo* info = nullptr);

}  // namespace betacrit
