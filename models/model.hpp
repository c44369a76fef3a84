#pragma once
// Score models: each declares its parameters once, draws rows with Boost.Random, and
// states its theoretical law. A model knows nothing of β, HDF5 or threads.
#include "sim/rng.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace betacrit {

/// One declared model parameter: type, default, allowed range, one-line help.
struct ParamSpec {
  enum class Kind { Real, Integer };
  std::string name;
  Kind kind = Kind::Real;
  double default_value = 0.0;
  double min = 0.0;          ///< lower bound of the allowed range
  bool min_inclusive = true; ///< whether `min` itself is allowed
  double max = 0.0;          ///< upper bound of the allowed range (may be +inf)
  bool max_inclusive = true;
  std::string help;

  /// Empty when `v` is allowed, else the reason ("must be > 0, got -2").
  [[nodiscard]] std::optional<std::string> check(double v) const;
  /// Human form of the allowed range, e.g. "(0, inf)" or "integer in [1, inf)".
  [[nodiscard]] std::string range_text() const;
};

using ParamValues = std::map<std::string, double>;

/// The β*(n) law a model predicts: the exponent γ in (log n)^γ when polylogarithmic.
struct TheoryLaw {
  std::optional<double> gamma;  ///< none for power laws in n, or when unknown
  std::string formula;          ///< human-readable β*(n), e.g. "sqrt(2 log n)/sigma"
};

class Model {
 public:
  virtual ~Model() = default;

  /// Fills `out` with the scores at positions [offset, offset + out.size()) of a row
  /// of length n. iid models ignore n and offset; structured models use them.
  /// Called once per block, never per score.
  virtual void draw(Engine& engine, std::uint64_t n, std::uint64_t offset,
                    std::span<double> out) const = 0;

  /// Theoretical β*(n) as a function of log n (so that n = 2^1000 works), or none when
  /// the model has no closed form (then `"scale": "theory"` is a config error).
  [[nodiscard]] virtual std::optional<double> theory_beta(double log_n) const = 0;

  [[nodiscard]] virtual TheoryLaw law() const = 0;

  /// Limiting normalized entropy at β = c·β*(n), n → ∞ (SPEC §2), when known.
  [[nodiscard]] virtual std::optional<double> limit_norm_entropy(double c) const {
    (void)c;
    return std::nullopt;
  }

  /// Tail quantile for tail mode (SPEC §9): the score x with log P(X > x) = log_p, for
  /// log_p <= 0 far below the double range (e.g. -1000 log 2). None when the model has no
  /// known tail quantile (tail mode is then a config error).
  [[nodiscard]] virtual std::optional<double> upper_quantile_log(double log_p) const {
    (void)log_p;
    return std::nullopt;
  }

  /// Rows of this model are iid draws of one distribution (tail mode applies).
  [[nodiscard]] virtual bool iid() const { return true; }

  /// Smallest row length the model can produce with these parameters (sparse_gap: m+1).
  [[nodiscard]] virtual std::uint64_t min_n() const { return 2; }

  [[nodiscard]] const std::string& type() const { return type_; }
  [[nodiscard]] const ParamValues& params() const { return params_; }

 protected:
  Model(std::string type, ParamValues params) : type_(std::move(type)), params_(std::move(params)) {}
  [[nodiscard]] double param(const std::string& name) const { return params_.at(name); }

 private:
  std::string type_;
  ParamValues params_;
};

/// What the registry knows of a model type before any instance exists.
struct ModelInfo {
  std::string type;
  std::string summary;                 ///< one line: what a row is
  std::vector<ParamSpec> params;       ///< declared once, in display order
  std::string law_text;                ///< theoretical law, for `betacrit models`
  std::unique_ptr<Model> (*make)(const ParamValues& complete_params);
};

/// Every registered model type, in display order.
const std::vector<ModelInfo>& model_registry();
/// The registry entry for `type`, or nullptr.
const ModelInfo* find_model(const std::string& type);

/// Problems with a set of parameter values for `info` (unknown names, values out of
/// range, non-integers for integer parameters, model-specific constraints). Each problem
/// is "name: reason". Missing parameters take their defaults.
std::vector<std::string> check_params(const ModelInfo& info, const ParamValues& given);

/// Builds a model from given values (defaults filled in). Throws std::invalid_argument
/// with the problems joined when check_params reports any.
std::unique_ptr<Model> make_model(const std::string& type, const ParamValues& given);

}  // namespace betacrit
