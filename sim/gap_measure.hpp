#pragma once
// GapMeasure: one attention row seen from its maximum. Exact rows, streamed rows,
// tail-mode rows and user logits all become this one object; observables, estimators
// and the gap-counting function read only it.
//
// Representation (bounded memory, independent of n):
//  * m        — the tie count at the maximum (gap exactly 0);
//  * buckets  — every positive gap, in log-spaced buckets keyed by the top bits of its
//               IEEE-754 pattern (relative width <= 2^-7). A bucket stores its weight,
//               its min and max gap and the power sums P_j = Σ w v^j, j = 0..kPowers-1, of
//               v = (Δ - centre)/half_width ∈ [-1, 1]. S0(β) and β·S1(β) of a bucket follow
//               from a Taylor series in x = β·half_width; a bucket whose min equals its max
//               is an exact atom. Error analysis: docs/ARCHITECTURE.md.
//  * near     — the smallest positive gaps, exactly (for β_acc), ascending;
//  * counts   — N_n(t) = #{0 < Δ <= t} on a fixed grid, exactly.
#include <array>
#include <cstdint>
#include <limits>
#include <memory>
#include <span>
#include <utility>
#include <vector>

namespace betacrit {

inline constexpr int kBucketMantissaBits = 7;   ///< 2^7 buckets per octave
inline constexpr int kTaylorOrder = 12;         ///< J: series terms 0..J
inline constexpr int kPowers = kTaylorOrder + 2;  ///< P_0..P_{J+1} (S1 needs J+1)
inline constexpr double kTaylorMaxX = 0.5;      ///< series used while β·half_width <= this

struct GapBucket {
  double center = 0, half_width = 0;
  double min_gap = std::numeric_limits<double>::infinity();
  double max_gap = 0;
  std::array<double, kPowers> power{};  ///< P_0 = total weight
  [[nodiscard]] double weight() const { return power[0]; }
  [[nodiscard]] bool is_atom() const { return min_gap == max_gap; }
};

/// S0(β) = Σ_i e^{-βΔ_i} and T1(β) = β·S1(β) = Σ_i βΔ_i e^{-βΔ_i} (finite for every β >= 0).
struct GapSums {
  double s0 = 0;
  double t1 = 0;
};

class GapMeasure {
 public:
  double n = 0;       ///< row length (total weight including ties)
  double log_n = 0;   ///< log n (tail mode: n may exceed any integer type)
  double m = 0;       ///< number of scores tied at the maximum
  std::vector<GapBucket> buckets;  ///< ascending, non-empty buckets only
  std::vector<double> near;        ///< smallest positive gaps, ascending, weight 1 each
  /// All positive gaps strictly below this value are in `near` (+inf: near holds all).
  double near_complete_below = std::numeric_limits<double>::infinity();
  std::vector<double> t_grid;      ///< grid of N_n(t), ascending
  std::vector<double> count_at_t;  ///< N_n(t) on t_grid

  /// S0 and β·S1 at β (β >= 0). Relative accuracy ~1e-14 (see ARCHITECTURE.md).
  [[nodiscard]] GapSums sums(double beta) const;
  /// Total weight of the positive gaps (n - m).
  [[nodiscard]] double positive_weight() const;
  /// Smallest positive gap (+inf if none) and the weighted mean positive gap.
  [[nodiscard]] double min_gap() const;
  [[nodiscard]] double mean_gap() const;
};

/// Builds a GapMeasure from scores (or weighted gaps) once the row maximum is known.
class GapMeasureBuilder {
 public:
  struct Options {
    std::size_t near_capacity = 4096;  ///< K smallest gaps kept exactly
    std::vector<double> t_grid;        ///< ascending grid for N_n(t)
  };
  GapMeasureBuilder(double max_score, Options options);
  ~GapMeasureBuilder();
  GapMeasureBuilder(GapMeasureBuilder&&) noexcept;
  GapMeasureBuilder& operator=(GapMeasureBuilder&&) noexcept;

  /// Adds one score s <= max_score.
  void add_score(double s) { add_gap(max_ - s); }
  void add_scores(std::span<const double> s) {
    for (double x : s) add_gap(max_ - x);
  }
  /// Adds a gap Δ >= 0 with weight 1 (kept in `near` if among the smallest).
  void add_gap(double gap);
  /// Adds a weighted gap (tail-mode strata): enters N_n(t) and becomes an exact atom bucket
  /// of its own (never merged into a Taylor bucket, so S0 and S1 stay exact whatever the
  /// weight; never in `near`). `near_complete_below` is capped at the smallest weighted gap.
  /// Memory grows with the number of weighted gaps: callers add a bounded number.
  void add_weighted_gap(double gap, double weight);
  /// Finishes the measure; `n` is the total weight (checked against what was added when exact).
  GapMeasure finish(double log_n);

 private:
  void bucket_add(double gap, double weight);
  void count_add(double gap, double weight);
  void near_add(double gap);
  double max_;
  Options options_;
  double m_ = 0;
  double total_ = 0;
  // Two-level bucket table: one block of 2^kBucketMantissaBits buckets per binary exponent.
  std::vector<std::unique_ptr<GapBucket[]>> blocks_;
  std::vector<double> near_;
  double near_threshold_ = std::numeric_limits<double>::infinity();
  bool near_truncated_ = false;
  std::vector<double> count_hist_;
  std::vector<std::pair<double, double>> weighted_;  ///< (gap, weight) of add_weighted_gap
};

}  // namespace betacrit
