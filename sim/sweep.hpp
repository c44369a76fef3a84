#pragma once
// The sweep driver (SPEC §3): a RunPlan cuts the run into work units (model, n, block of
// rows); OpenMP threads measure the units, most expensive first; each row feeds mergeable
// accumulators per (observable, β) and per-row estimator values stored by row index.
//
// Reproducibility: a row's numbers depend only on its own stream (seed, label, n, row);
// a unit accumulates its rows in row order; a (model, n) cell merges its units in block
// order, whatever order they finished in. So results are bit-identical for any thread
// count, any schedule, and across interruption and resume (RunState is the checkpoint).
#include "sim/config.hpp"
#include "sim/row_engine.hpp"

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <span>
#include <string>
#include <vector>

namespace betacrit {

/// Running count, mean and sum of squared deviations (Welford), merged with Chan's rule.
struct Welford {
  std::uint64_t count = 0;
  double mean = 0;
  double m2 = 0;

  void add(double x) {
    ++count;
    const double d = x - mean;
    mean += d / static_cast<double>(count);
    m2 += d * (x - mean);
  }
  /// Merges `o` into this; merging into an empty accumulator copies `o` exactly.
  void merge(const Welford& o);
  /// Sample variance (ddof = 1); NaN with fewer than two values.
  [[nodiscard]] double variance() const;
  /// Standard error of the mean, sqrt(variance/count); NaN with fewer than two values.
  [[nodiscard]] double sem() const;
};

/// Scores per work unit the block size aims at (a unit is never less than one row).
inline constexpr std::uint64_t kScoresPerUnit = std::uint64_t{1} << 21;
/// Per-row work besides drawing (observables on the β grid, estimators, index, near gaps),
/// in score units: about 0.1-0.2 ms a row, some 2^14 scores (docs/performance.md).
inline constexpr std::uint64_t kRowOverhead = std::uint64_t{1} << 14;
/// Cost of one tail-mode row in score units (it does not grow with n).
inline constexpr std::uint64_t kTailRowCost = std::uint64_t{1} << 14;

/// What every work unit of a run measures; fixed by the config.
struct SweepLayout {
  /// Observables accumulated per β: the requested ones (stored as obs/<name>) followed by
  /// max_weight when it was not requested (sweep_half_mass needs it).
  std::vector<Observable> channels;
  std::size_t requested_observables = 0;
  std::size_t max_weight_channel = 0;
  std::vector<Estimator> row_estimators;  ///< requested per-row estimators
  bool sweep_half_mass = false;
  std::size_t beta_count = 0;  ///< B
  std::size_t gap_count = 0;   ///< T
};

struct WorkUnit {
  std::size_t model = 0;
  std::size_t n_index = 0;
  std::size_t block = 0;  ///< index of the unit within its (model, n) cell
  std::uint64_t row_begin = 0, row_end = 0;
  std::uint64_t row_cost = 0;  ///< estimated cost of one row, in score units
  [[nodiscard]] std::uint64_t rows() const { return row_end - row_begin; }
  [[nodiscard]] std::uint64_t cost() const { return rows() * row_cost; }
};

/// One (model, n) pair of the run.
struct PlanCell {
  std::size_t first_unit = 0, unit_count = 0;
  std::uint64_t block_rows = 0;
  double log_n = 0;            ///< natural log of the row length
  double log2_n = 0;
  std::uint64_t n = 0;         ///< row length (exact mode)
  bool tail = false;           ///< measured in tail mode
  std::uint64_t n_key = 0;     ///< stream key: n, or the bits of log2_n in tail mode
  std::uint64_t domain = 0;    ///< stream domain: 0 exact, 1 tail
  std::vector<double> beta;    ///< swept β per grid value [B]
};

struct RunPlan {
  SweepLayout layout;
  std::vector<WorkUnit> units;                 ///< canonical order: model, n, block
  std::vector<std::vector<PlanCell>> cells;    ///< [model][n_index]
  std::vector<std::size_t> schedule;           ///< unit indices, most expensive first
  std::uint64_t total_cost = 0;

  /// Builds the plan; throws std::invalid_argument for a model/n the plan cannot measure.
  /// `scores_per_unit` sets the block size (tests use small blocks to get many units).
  static RunPlan make(const RunConfig& cfg, std::uint64_t scores_per_unit = kScoresPerUnit);
  [[nodiscard]] const PlanCell& cell(const WorkUnit& u) const { return cells[u.model][u.n_index]; }
  /// Block sizes and unit counts as text; a checkpoint from another plan is refused.
  [[nodiscard]] std::string fingerprint() const;
};

/// The accumulators of one unit or of a merged run of units.
struct UnitSums {
  std::vector<Welford> obs;   ///< [channel][β]
  std::vector<Welford> gaps;  ///< [t] of N_n(t)
  void merge(const UnitSums& o);
};

/// Everything one work unit measured.
struct UnitResult {
  UnitSums sums;
  std::vector<double> estimates;  ///< [row estimator][row in unit]
  std::vector<double> obs_rows;   ///< [row in unit][requested observable][β], store_rows only
};

/// Measures the rows of one unit (one thread; `scratch` is that thread's). `progress`,
/// when given, is raised by the unit's row cost after every row.
UnitResult compute_unit(const RunConfig& cfg, const RunPlan& plan, const WorkUnit& u, RowScratch& scratch,
                        std::atomic<std::uint64_t>* progress = nullptr);

/// State of one (model, n) cell: its finished units merged in block order as far as the
/// first unfinished one, the units finished beyond it, and the per-row values.
struct CellState {
  std::size_t merged_units = 0;                 ///< blocks [0, merged_units) are in `merged`
  UnitSums merged;
  std::map<std::size_t, UnitSums> pending;      ///< finished blocks >= merged_units
  std::vector<std::uint8_t> unit_done;          ///< [unit_count]
  std::vector<double> estimates;                ///< [row estimator][R], NaN until measured
  std::vector<double> obs_rows;                 ///< [R][requested observable][β] (store_rows)
};

/// The whole run's progress: also the checkpoint (sim/store writes and reads it).
struct RunState {
  std::vector<std::vector<CellState>> cells;    ///< [model][n_index]

  static RunState empty(const RunConfig& cfg, const RunPlan& plan);
  /// Records a finished unit (not thread-safe: the caller serialises).
  void publish(const RunConfig& cfg, const RunPlan& plan, const WorkUnit& u, UnitResult&& r);
  [[nodiscard]] bool unit_done(const WorkUnit& u) const { return cells[u.model][u.n_index].unit_done[u.block] != 0; }
  [[nodiscard]] std::size_t units_done() const;
  [[nodiscard]] bool complete() const;
};

/// The sweep-level estimator of SPEC §1 for one (model, n).
struct SweepHalfMass {
  double beta = 0;      ///< NaN when not bracketed
  double sem_log = 0;   ///< delta-method SEM of log β from the SEM of the mean max_weight
  std::string note;     ///< empty when bracketed, else why not
};
/// β where the mean max_weight first reaches 1/2, linear in log β between the two grid
/// points that bracket it (grid points are taken in ascending β).
SweepHalfMass sweep_half_mass(std::span<const double> beta, std::span<const double> mean_max_weight,
                              std::span<const double> sem_max_weight);

/// Seed of the bootstrap of critical/<estimator>_summary for one (model, n).
std::uint64_t summary_bootstrap_seed(std::uint64_t seed, const std::string& label, const PlanCell& cell,
                                     Estimator e);

struct ObservableResult {
  Observable which{};
  std::vector<double> mean, sem;  ///< [N][B]
  std::vector<double> rows;       ///< [N][R][B], store_rows only
};
struct CriticalResult {
  Estimator which{};
  std::vector<double> values;     ///< [N][R] per row; sweep_half_mass: [N]
  std::vector<double> summary;    ///< [N][5], columns kCriticalSummaryColumns
  std::vector<std::string> notes; ///< sweep_half_mass: [N], empty when bracketed
};
struct ModelResults {
  std::vector<double> beta;            ///< [N][B]
  std::vector<ObservableResult> obs;   ///< requested observables, in config order
  std::vector<CriticalResult> critical;///< requested estimators, in config order
  std::vector<double> gap_mean_count;  ///< [N][T]
};
struct SweepResults {
  std::vector<ModelResults> models;
};

/// Final results of a complete state (summaries computed with `threads` threads).
SweepResults finalize(const RunConfig& cfg, const RunPlan& plan, const RunState& state, int threads);

/// Runs the unfinished units of a state on OpenMP threads. Progress is observable from
/// other threads while run() works: snapshot() copies the state under a lock.
class Sweep {
 public:
  explicit Sweep(const RunConfig& cfg) : Sweep(cfg, RunPlan::make(cfg)) {}
  Sweep(const RunConfig& cfg, RunPlan plan);
  /// Continues from a checkpoint of the same config and plan.
  Sweep(const RunConfig& cfg, RunPlan plan, RunState restored);

  [[nodiscard]] const RunPlan& plan() const { return plan_; }
  /// Measures every unfinished unit with `threads` threads (0 = all cores). The first
  /// exception of any unit stops the run and is rethrown (finished units are kept);
  /// request_stop() makes it return early, leaving the state incomplete.
  void run(int threads);
  [[nodiscard]] RunState snapshot() const;
  /// Estimated work done (score units), including restored units; rises row by row.
  [[nodiscard]] std::uint64_t done_cost() const { return done_cost_.load(std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t restored_cost() const { return restored_cost_; }
  [[nodiscard]] std::size_t done_units() const { return done_units_.load(std::memory_order_relaxed); }
  [[nodiscard]] SweepResults results(int threads) const;
  /// Asks run() to return after the units in progress (async-signal-safe: one atomic store).
  void request_stop() { stop_requested_.store(true, std::memory_order_relaxed); }
  [[nodiscard]] bool complete() const;

 private:
  const RunConfig& cfg_;
  RunPlan plan_;
  mutable std::mutex mutex_;
  RunState state_;
  std::atomic<std::uint64_t> done_cost_{0};
  std::atomic<std::size_t> done_units_{0};
  std::uint64_t restored_cost_ = 0;
  std::atomic<bool> stop_requested_{false};
};

/// Threads to use: `requested` when > 0, else all available cores.
int resolve_threads(int requested);

}  // namespace betacrit
