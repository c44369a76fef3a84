#pragma once
// The fit table of SPEC §5: one row per (model, estimator) with γ̂, its 95% CI, the
// theoretical exponent and the verdict, the family the verdict used and a one-line reason
// underneath; and the same content as JSON (`betacrit fit --json`).
#include "analysis/fit.hpp"

#include <iosfwd>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace betacrit {

class Model;

struct FitTableRow {
  std::string model;       ///< model label
  std::string estimator;   ///< estimator name
  std::string theory;      ///< theoretical γ as text ("0.5", "2"), "none" (power of n) or "-"
  FitResult fit;
};

/// Theory column for a model: its law exponent, "none" for a power law in n, "-" unknown.
std::string theory_text(const Model* model);
/// Same from a known exponent (none: "-").
std::string theory_text(std::optional<double> gamma);

/// How a verdict token is printed: the law's formula, "none", "inconclusive".
std::string verdict_text(const std::string& verdict);

/// The table, with a header, one line per row and an indented reason line under it, then
/// a line naming the criterion and the CI rule.
void print_fit_table(const std::vector<FitTableRow>& rows, std::ostream& out);

/// {"criterion": "BIC", "fits": [{model, estimator, theory, ...FitResult::to_json()}]}.
nlohmann::json fit_table_json(const std::vector<FitTableRow>& rows);

}  // namespace betacrit
