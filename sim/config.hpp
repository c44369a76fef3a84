#pragma once
// Run configuration (SPEC §3): parsed and validated once; everything downstream reads
// this struct. Validation collects every problem, each named by its JSON path.
#include "models/model.hpp"
#include "sim/estimators.hpp"
#include "sim/observables.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace betacrit {

enum class BetaScale { none, theory, sqrt_log, log, log_squared };
/// The config/HDF5 token of a scale: "none", "theory", "sqrt_log", "log", "log_squared".
std::string_view beta_scale_name(BetaScale s);

/// How a model's rows are produced: drawn in full (exact) or through their top order
/// statistics and strata (tail, SPEC §9).
enum class RowMode { exact, tail };
/// The config/HDF5 token of a mode: "exact" or "tail".
std::string_view row_mode_name(RowMode m);

struct ModelEntry {
  std::string label;               ///< unique; names the HDF5 group and the RNG stream
  std::string type;
  ParamValues params;              ///< as given (defaults are not filled in)
  std::shared_ptr<const Model> model;  ///< built from type + params (defaults filled)
  RowMode mode = RowMode::exact;
};

struct RunConfig {
  std::string name;
  std::uint64_t seed = 0;
  std::string output;              ///< HDF5 path
  std::uint64_t rows = 0;          ///< rows per (model, n)
  /// Row lengths. In exact mode every entry is an integer n >= 2 (`n`); with
  /// "n": {"log2": [...]} the lengths are 2^log2_n and may exceed any integer type.
  std::vector<double> log2_n;      ///< always filled: log2 of every row length, ascending
  std::vector<std::uint64_t> n;    ///< filled when every length is an integer (exact-capable)
  std::vector<double> beta_grid;   ///< grid values: β when scale is none, else c
  BetaScale beta_scale = BetaScale::none;
  std::vector<Observable> observables;
  std::vector<Estimator> estimators;
  double entropy_fraction = 0.5;
  double gaps_t_max = 4.0;
  std::size_t gaps_count = 64;
  bool store_rows = false;
  std::vector<ModelEntry> models;
  int threads = 0;                 ///< 0 = all cores
  std::string text;                ///< the config text as given (stored in the output)

  /// t_j = t_max·j/count, j = 1..count: the grid of the mean gap-counting function.
  [[nodiscard]] std::vector<double> gap_grid() const;
  /// Natural log of the i-th row length, log2_n[i]·ln 2 (works for n far beyond 2^64).
  [[nodiscard]] double log_n(std::size_t i) const;
};

/// The β actually swept for grid value `g` of model `m` at row length e^{log_n}: g when
/// the scale is none, else g·scale(n) with theory = m.theory_beta(log_n), sqrt_log =
/// √(log n), log = log n, log_squared = (log n)². Throws std::invalid_argument for
/// "theory" with a model that has no theoretical β*(n) (parse_config rejects that).
double swept_beta(const RunConfig& cfg, const Model& m, double g, double log_n);

/// All problems of a config, e.g. "models[1].shape: must be > 0, got -2". Each entry of
/// `problems` is "PATH: reason" (or "LINE:COLUMN: reason" for a syntax error); what()
/// lists them one per line, each prefixed by the source:
///   configs/x.json: models[1].shape: must be > 0, got -2
///   configs/x.json:4:13: syntax error while parsing object - unexpected ','; ...
struct ConfigError : std::runtime_error {
  std::vector<std::string> problems;
  std::string source;
  ConfigError(std::string source, std::vector<std::string> problems);
};

/// Parses and validates config text; `source` names it in messages (a file path) and its
/// stem is the default `name`. Throws ConfigError listing every problem (parse errors
/// with line and column). docs/config.md documents every key.
RunConfig parse_config(const std::string& text, const std::string& source);
/// Reads and parses a config file (unreadable file: ConfigError naming it).
RunConfig load_config(const std::string& path);

}  // namespace betacrit
