#pragma once
// Fits every (model, estimator) of a results file (SPEC §7 layout): `betacrit fit`, and the
// table `betacrit run` prints at its end.
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>

namespace betacrit {

struct FitFileOptions {
  std::optional<std::string> estimator;  ///< only this estimator (must be in the file)
  std::optional<std::uint64_t> n_min;    ///< leave out row lengths below this
  bool json = false;                     ///< print JSON instead of the table
  /// Store the results as attributes of /models/<label>/fit/<estimator>. The file is
  /// rewritten through a temporary copy renamed over it, so an interrupted write never
  /// leaves a damaged results file.
  bool write_attributes = true;
  std::uint64_t bootstrap_seed = 0;      ///< 0: the file's root `seed` attribute
  int threads = 0;                       ///< OpenMP threads of the fits (0: OpenMP's default);
                                         ///< the results do not depend on it
};

/// Reads RESULTS (SPEC §7), fits, prints the table (or JSON) to `out` and, with
/// write_attributes, stores the fit attributes. Returns the exit status (0). Bad input —
/// missing or non-HDF5 file, missing groups or datasets, shapes that do not match, an
/// estimator the file does not have — throws UsageError naming the file and the object.
int fit_results_file(const std::string& path, const FitFileOptions& options, std::ostream& out);

}  // namespace betacrit
