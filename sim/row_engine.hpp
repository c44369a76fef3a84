#pragma once
// The row engine: draws one row of a model and turns it into a GapMeasure plus its exact
// β_acc. A row of at most RowScratch::kInMemory scores is drawn once and kept in the
// thread's scratch; a longer row is streamed in blocks of RowScratch::kBlock, so memory
// per thread is bounded whatever n is: it is drawn twice from the same stream (pass 1
// finds the maximum, pass 2 builds the measure), and a third time only when β_acc needs
// the exact members of some far buckets.
#include "models/model.hpp"
#include "sim/gap_measure.hpp"
#include "sim/rng.hpp"

#include <cstdint>
#include <span>
#include <vector>

namespace betacrit {

struct RowSettings {
  /// Exact smallest gaps kept per row (they settle β_acc; beyond them, bucket bounds or a
  /// refinement pass do). A row held in memory keeps at most kInMemoryNear of them: there a
  /// refinement is a cheap scan of the row, cheaper than sorting a long list every row.
  std::size_t near_capacity = 4096;
  static constexpr std::size_t kInMemoryNear = 1024;
  std::vector<double> t_grid;        ///< grid of N_n(t)
};

/// Scratch memory of one thread, reused across rows.
struct RowScratch {
  static constexpr std::size_t kBlock = std::size_t{1} << 17;  ///< scores per streamed block (1 MiB)
  static constexpr std::size_t kInMemory = std::size_t{1} << 20;  ///< longest row drawn once (8 MiB)
  std::vector<double> block;
};

struct MeasuredRow {
  GapMeasure gaps;
  double accumulation = 0;  ///< exact β_acc
  int passes = 0;           ///< how many times the row was drawn (1, 2 or 3)
};

/// Measures row `n` of `model` drawn from `start` (the row's own stream).
MeasuredRow measure_row(const Model& model, std::uint64_t n, const Engine& start,
                        const RowSettings& settings, RowScratch& scratch);

/// Measures a row given in memory (user logits, tests). Scores must be finite.
MeasuredRow measure_scores(std::span<const double> scores, const RowSettings& settings);

}  // namespace betacrit
