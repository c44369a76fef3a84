#pragma once
// The HDF5 results file (SPEC §7), which is also the run's checkpoint. Every write is a
// complete snapshot written to OUT.tmp-PID, fsync'ed and renamed over OUT (rename(2) is
// atomic), so a run killed at any instant leaves either the previous snapshot or the new
// one, never a torn file. Layout and resume mechanism: docs/storage.md.
#include "sim/config.hpp"
#include "sim/sweep.hpp"

#include <stdexcept>
#include <string>

namespace betacrit::store {

inline constexpr int kFormatVersion = 1;

/// An existing output file that --resume cannot continue (other config, other plan,
/// not a betacrit file...). The message names the file and says what to do.
struct ResumeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Writes a snapshot of the run to `path` atomically. With `results` the file is the final
/// one: root attr complete = true, every dataset of SPEC §7, no /progress. Without, it
/// holds the root attributes (complete = false) and /progress (the finished units).
void write_snapshot(const std::string& path, const RunConfig& cfg, const RunPlan& plan, const RunState& state,
                    const SweepResults* results, const std::string& created_utc);

struct Checkpoint {
  bool complete = false;
  RunState state;            ///< finished units (empty when complete)
  std::string created_utc;
};

/// Reads the checkpoint in `path` for this config and plan. Throws ResumeError when the
/// file is not a betacrit output, was written by another config or program version, or
/// its /progress does not fit the plan.
Checkpoint read_checkpoint(const std::string& path, const RunConfig& cfg, const RunPlan& plan);

/// Removes PATH.tmp-PID files whose process no longer runs (left by a killed run).
/// Returns how many were removed.
int remove_stale_temporaries(const std::string& path);

/// Current UTC time as ISO 8601, e.g. "2026-05-12T08:30:00Z".
std::string utc_now();

/// The JSON text of a model's complete parameters (integers printed as integers).
std::string params_json(const ModelEntry& entry);

}  // namespace betacrit::store
