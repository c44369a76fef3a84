#pragma once
// GapMeasure: one attention row seen from its maximum. Exact rows, streamed rows,
// tail-mode rows and user logits all become this one object; observables, estimators
// and the gap-counting function read only it.
//
// Representation (bounded memory, independent of n):
//  * m        — the tie count at the maximum (gap exactly 0);
//  * buckets  — every positive gap, in log-spaced buckets keyed by the top bits of its
//               IEEE-754 pattern (relative width <= 2^-7). A bucket stores its weight,
//               its min and max gap and the power sums P_j = Σ w v^j, j = 0..kPowers-1
//               (fewer for unit-weight rows: row_powers), of
//               v = (Δ - centre)/half_width ∈ [-1, 1]. S0(β) and β·S1(β) of a bucket follow
//               from a Taylor series in x = β·half_width; a bucket whose min equals its max
//               is an exact atom. A bucket that contains a point t_j of the N_n(t) grid
//               is split at it into two buckets (same centre and half width, disjoint
//               [min, max]), so every bucket lies on one side of every grid point.
//               Error analysis: docs/ARCHITECTURE.md, docs/performance.md.
//  * near     — the smallest positive gaps, exactly (for β_acc), ascending;
//  * counts   — N_n(t) = #{0 < Δ <= t} on a fixed grid, exactly.
//
// sums(β) reads a multiresolution index of the buckets (`index`): a tree of dyadic bins,
// each node holding the scaled power sums of all its gaps about its own centre. At β it
// sums the coarsest nodes with β·half_width <= kIndexMaxX, so it visits at most about
// log n + 40 of them whatever the number of buckets (docs/performance.md).
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
/// Power sums kept per bucket for unit-weight rows of n <= 2^64 (P_0..P_9; the rest are 0):
/// there the truncation error stays below 1e-12 of S0 (docs/performance.md).
inline constexpr int kRowPowers = 10;
/// Power sums kept per bucket for unit-weight rows of n <= kShortRowMaxN (P_0..P_7): the
/// truncation error stays below 1e-14 of S0 and 3e-13 of S0 in β·S1 (docs/performance.md),
/// and one vector of sums per score is saved.
inline constexpr int kShortRowPowers = 8;
inline constexpr double kShortRowMaxN = 16777216.0;  ///< 2^24
/// The power sums a row of n unit-weight scores keeps (kShortRowPowers or kRowPowers).
[[nodiscard]] inline int row_powers(double n) { return n <= kShortRowMaxN ? kShortRowPowers : kRowPowers; }

struct GapBucket {
  double center = 0, half_width = 0;
  double min_gap = std::numeric_limits<double>::infinity();
  double max_gap = 0;
  std::array<double, kPowers> power{};  ///< P_0 = total weight (P_j = 0 for j >= GapMeasure::bucket_powers)
  [[nodiscard]] double weight() const { return power[0]; }
  [[nodiscard]] bool is_atom() const { return min_gap == max_gap; }
};

inline constexpr int kIndexTerms = 18;     ///< scaled power sums A_0..A_17 per index node
inline constexpr double kIndexMaxX = 1.0;  ///< an index node is summed whole while β·half_width <= this

/// One node of GapMeasure::index, a dyadic bin [centre - half_width, centre + half_width)
/// holding the union of its children. It keeps A_j = P_j/j! (P_j the power sums of
/// v = (Δ - centre)/half_width), i.e. the bin's A(z) = Σ e^{z v} = Σ_j A_j z^j, so that its
/// S0(β) = e^{-β centre}·A(-β half_width); interleaved with the coefficients
/// B_j = (j+1)·A_{j+1} of A'(z), which gives S1. Nodes are stored in postorder and read
/// from the end: a node, then its children's subtrees from the largest gaps down.
struct GapIndexNode {
  /// Leaves `ab` uninitialised: a value-initialised node (vector::emplace_back) would
  /// otherwise zero all 336 bytes before they are written.
  GapIndexNode() {}  // NOLINT(modernize-use-equals-default): `= default` would zero `ab`
  // What the walk reads first, in the node's first cache line.
  double center = 0, half_width = 0;
  double min_gap = 0, max_gap = 0;
  std::uint32_t next = 0;  ///< where this node's subtree begins (the walk goes on from there backwards)
  std::uint8_t terms = 0;  ///< A_j = 0 for j >= terms
  bool leaf = false;       ///< one of GapMeasure::buckets (never subdivided)
  bool atom = false;       ///< every gap of the node equals min_gap: summed exactly
  /// A_0, B_0, A_1, B_1, ... (B_{J} = 0); written whole by whoever makes the node (not zeroed here).
  alignas(16) std::array<double, 2 * kIndexTerms> ab;
  [[nodiscard]] double a(std::size_t j) const { return ab[2 * j]; }
};

/// S0(β) = Σ_i e^{-βΔ_i} and T1(β) = β·S1(β) = Σ_i βΔ_i e^{-βΔ_i} (finite for every β >= 0).
struct GapSums {
  double s0 = 0;
  double t1 = 0;
};

/// S0, T1 and T2(β) = β²·S2(β) = Σ_i (βΔ_i)² e^{-βΔ_i}: what dH/dβ = -(T2/S0 - (T1/S0)²)/β needs.
struct GapSums2 {
  double s0 = 0;
  double t1 = 0;
  double t2 = 0;
};

class GapMeasure {
 public:
  double n = 0;       ///< row length (total weight including ties)
  double log_n = 0;   ///< log n (tail mode: n may exceed any integer type)
  double m = 0;       ///< number of scores tied at the maximum
  std::vector<GapBucket> buckets;  ///< ascending, non-empty buckets only
  int bucket_powers = kPowers;     ///< power sums the buckets keep (kPowers, kRowPowers or kShortRowPowers)
  std::vector<double> near;        ///< smallest positive gaps, ascending, weight 1 each
  /// All positive gaps strictly below this value are in `near` (+inf: near holds all).
  double near_complete_below = std::numeric_limits<double>::infinity();
  std::vector<double> t_grid;      ///< grid of N_n(t), ascending
  std::vector<double> count_at_t;  ///< N_n(t) on t_grid
  /// Multiresolution index of `buckets` for sums(), built by build_index() (finish() calls
  /// it). sums() reads the buckets directly when the index is empty or was built from a
  /// different number of buckets; call build_index() again after editing `buckets`.
  std::vector<GapIndexNode> index;
  std::size_t index_buckets = 0;  ///< buckets.size() when the index was built

  /// S0 and β·S1 at β (β >= 0). Relative accuracy ~1e-14 (see ARCHITECTURE.md).
  [[nodiscard]] GapSums sums(double beta) const;
  /// S0, β·S1 and β²·S2 at β (β >= 0), as accurate as sums().
  [[nodiscard]] GapSums2 sums2(double beta) const;
  /// Total weight of the positive gaps (n - m).
  [[nodiscard]] double positive_weight() const;
  /// Smallest positive gap (+inf if none) and the weighted mean positive gap.
  [[nodiscard]] double min_gap() const;
  [[nodiscard]] double mean_gap() const;

  /// (Re)builds `index` from `buckets` (ascending, disjoint ranges).
  void build_index();
  /// S0 and β·S1 straight from the buckets, without the index (reference for tests).
  [[nodiscard]] GapSums sums_from_buckets(double beta) const;
};

/// Builds a GapMeasure from scores (or weighted gaps) once the row maximum is known.
class GapMeasureBuilder {
 public:
  struct Options {
    /// K: the smallest gaps kept exactly. `near` holds every unit-weight gap below a bucket
    /// boundary chosen from the bucket counts: at least K gaps (all of them when there are
    /// fewer) and at most 3K/2, unless one bucket alone would overfill it, in which case
    /// the boundary is that bucket's lower end. With weighted gaps, exactly the K smallest.
    std::size_t near_capacity = 4096;
    std::vector<double> t_grid;        ///< ascending grid for N_n(t)
    /// Power sums kept per bucket: kPowers, or row_powers(n) (kRowPowers or kShortRowPowers)
    /// when at most n unit-weight gaps enter the buckets (weighted gaps never do), which is
    /// faster at an accuracy that still meets the bounds in docs/performance.md.
    int powers = kPowers;
  };
  GapMeasureBuilder(double max_score, Options options);
  ~GapMeasureBuilder();
  GapMeasureBuilder(GapMeasureBuilder&&) noexcept;
  GapMeasureBuilder& operator=(GapMeasureBuilder&&) noexcept;

  /// Adds one score s <= max_score.
  void add_score(double s) { add_gap(max_ - s); }
  void add_scores(std::span<const double> s);
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
  struct Accumulator;  // power sums, min and max of one bucket (or one side of a grid point)
  struct Slot;         // one log-spaced bucket: its accumulators and the grid point inside it
  template <int P>
  void add_positive(double gap, double weight);
  template <int P>
  static void accumulate(Accumulator& acc, std::uint64_t bits, double gap, double weight);
  std::size_t accumulator_of(Slot& slot, std::uint64_t key, double gap);
  template <int P>
  void add_scores_loop(std::span<const double> s);
  Slot& slot_of(std::uint64_t key);
  void open_slot(Slot& slot, std::uint64_t key);
  static Accumulator empty_accumulator(int powers);
  void near_add(double gap);
  void near_shrink();
  void sort_near();
  void bad_gap(double gap) const;
  double max_;
  Options options_;
  double m_ = 0;
  double total_ = 0;
  // Buckets keyed by the top bits of the gap's IEEE-754 pattern, in a dense table of slots
  // over the keys seen so far; a bucket holding a grid point t_j is split at it so that
  // N_n(t_j) is a sum of whole buckets.
  std::vector<Slot> slots_;
  std::uint64_t key_base_ = 0;
  std::uint64_t lowest_key_ = ~std::uint64_t{0};  ///< lowest key of an opened slot
  std::vector<Accumulator> acc_;
  std::vector<double> near_;
  double near_threshold_ = std::numeric_limits<double>::infinity();
  bool near_truncated_ = false;
  std::vector<std::pair<double, double>> weighted_;  ///< (gap, weight) of add_weighted_gap
};

}  // namespace betacrit
