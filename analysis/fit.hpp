#pragma once
// Fits of β*(n) = A·(log n)^γ and the law verdict (SPEC §5). The rules, the criterion and
// the uncertainty conventions are explained for users in docs/science.md; this header and
// that page must agree.
//
// Input: for each row length n (given as log n, so that n = 2^1000 works) the per-row
// critical values of one (model, estimator). Per n the median is the summary (per-row
// values are heavy-tailed to the right) and the spread of its row bootstrap gives the
// weight of the point. Two families are fitted by weighted least squares on
// y = log median against x = log log n:
//   plain      β* = A·L^γ                 (linear in log A, γ)
//   corrected  β* = A·L^γ·(1 + B/L)       (L = log n; for fixed B linear in log A, γ:
//                                          B is profiled by a grid scan + Brent search)
// Each family is fitted with γ free and at each law γ ∈ {0, ½, 1, 2}; models are
// weighted by BIC. A third, non-polylogarithmic alternative β* = A·L·e^{−L/ν} (a power
// of n, what heavy tails give) is fitted as well.
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace betacrit {

enum class Law { constant, sqrt_log, log, log_squared };
inline constexpr std::array<Law, 4> kLaws = {Law::constant, Law::sqrt_log, Law::log, Law::log_squared};
/// The exponent γ of the law: 0, 1/2, 1, 2.
double law_gamma(Law law);
/// The stored token: constant, sqrt_log, log, log_squared.
std::string_view law_token(Law law);
/// The printed form: "const", "(log n)^1/2", "log n", "(log n)^2".
std::string_view law_formula(Law law);
/// The law whose exponent is γ (within 1e-9), if any.
std::optional<Law> law_from_gamma(double gamma);

enum class FitFamily { plain, corrected };
std::string_view family_name(FitFamily f);

/// Verdict tokens: the four law tokens, `none`, `inconclusive`.
inline constexpr std::string_view kVerdictNone = "none";
inline constexpr std::string_view kVerdictInconclusive = "inconclusive";

/// Information criterion used for the model weights (documented in docs/science.md).
inline constexpr std::string_view kCriterion = "BIC";

/// The correction must stay a correction: |B|/log n <= this at the smallest n fitted.
inline constexpr double kCorrectionBound = 0.5;

/// A law verdict needs the verdict family's 95% CI of γ within ±this of the law, so that
/// exponents between the laws (e.g. weibull_tail's 1 − 1/k) are not called a law.
inline constexpr double kVerdictResolution = 0.15;

/// Without a significant drift, a law is the verdict only when the plain fit's whole 95% CI
/// lies in [γ − kApparentBelow, γ + kApparentAbove]. The window is asymmetric because every
/// finite-size approach measured (gaussian, gumbel, weibull_tail, sparse_gap; estimators
/// accumulation and half_mass) puts the apparent exponent on or above the law: an apparent
/// exponent clearly below a law is evidence for a smaller, off-menu exponent (weibull_tail
/// k = 1.5 has γ = 1/3 and looks like 0.42), one far above it is the trap the Gaussian sets
/// (0.68 at n <= 2^20).
inline constexpr double kApparentBelow = 0.05;
inline constexpr double kApparentAbove = 0.15;

/// Systematic allowance on the corrected family's γ when it is compared with a law: the
/// 1/log n term is only the leading correction, and the next ones (log log n/log n for the
/// Gaussian) bias the corrected γ̂ by about 0.03 over n = 2^6..2^20 and 0.01 over
/// n = 2^8..2^1000 (measured on the Gaussian maximum's asymptotic expansion).
inline constexpr double kCorrectionSystematic = 0.03;

struct FitOptions {
  std::uint64_t seed = 0;       ///< bootstrap seed (reproducible CIs)
  int resamples = 1000;         ///< row-bootstrap resamples (SPEC §1 default)
  double alpha = 0.01;          ///< a law is excluded at this significance
  double sigma_floor = 0.005;   ///< smallest σ of log median (relative systematic floor)
  int threads = 0;              ///< OpenMP threads for the bootstraps (0: OpenMP's default);
                                ///< every result is the same for any count
};

/// The per-row critical values of one (model, estimator): rows[i] belongs to log_n[i].
struct CriticalSeries {
  std::vector<double> log_n;
  std::vector<std::vector<double>> rows;
};

/// One row length as the fit sees it.
struct PointSummary {
  double log_n = 0;
  std::size_t rows = 0;        ///< finite per-row values
  double median = 0, median_lo = 0, median_hi = 0;  ///< median and its 95% bootstrap CI
  double mean = 0, mean_lo = 0, mean_hi = 0;        ///< mean and its 95% bootstrap CI (reported
                                                    ///< only: heavy tails make it unstable)
  double sigma_log = 0;        ///< σ of log median used as weight (bootstrap, floored)
  bool used = false;           ///< false: left out (reason in `note`)
  std::string note;
};

/// Local slope d log β*/d log log n between two consecutive used points.
struct LocalSlope {
  double log_n_lo = 0, log_n_hi = 0, slope = 0, sigma = 0;
};

/// One fitted model: a law at fixed γ, or γ free, in one family.
struct ModelFit {
  double gamma = 0;            ///< fixed or fitted exponent
  double A = 0, B = 0;         ///< B = 0 in the plain family
  double chi2 = 0;
  int params = 0;              ///< fitted parameters (k of the criterion)
  int dof = 0;                 ///< points − params
  double p_value = 1;          ///< goodness of fit; NaN when dof = 0
  double ic = 0;               ///< BIC = χ² + k·ln N
  double weight = 0;           ///< BIC weight among all fitted models
  bool available = false;      ///< false when there are too few points for this model
  [[nodiscard]] double chi2_dof() const;
};

/// The free-γ fit of one family with its 95% CI.
struct FreeFit {
  ModelFit fit;
  double gamma_lo = 0, gamma_hi = 0;          ///< reported 95% CI (hull of the two below)
  double boot_lo = 0, boot_hi = 0;            ///< row-bootstrap percentile interval
  double profile_lo = 0, profile_hi = 0;      ///< Δχ² = 3.84 profile interval
};

/// β* = A·L·e^{−L/ν}: β* ∝ log n · n^{−1/ν}, the form heavy tails give (SPEC §2).
struct PowerFit {
  ModelFit fit;                ///< gamma holds c = −1/ν, the slope of log(β*/L) in L
  double c_sigma = 0;          ///< regression σ of c
  [[nodiscard]] double nu() const;  ///< −1/c when c < 0, else +inf
};

struct FitResult {
  // What the verdict used (SPEC §7 attributes).
  double gamma = 0, gamma_lo = 0, gamma_hi = 0, A = 0, B = 0;
  FitFamily family = FitFamily::plain;
  double gamma_plain = 0;
  double chi2_dof = 0;
  std::string verdict;         ///< law token, "none" or "inconclusive"
  std::string reason;          ///< one line
  std::string criterion{kCriterion};

  FreeFit plain, corrected;
  std::array<ModelFit, 4> law_plain{}, law_corrected{};  ///< indexed like kLaws
  PowerFit power_n;
  bool drift = false;          ///< the local slope changes beyond noise (plain inadequate or
                               ///< the correction significantly better)
  std::vector<PointSummary> points;
  std::vector<LocalSlope> local_slopes;

  /// Per family per law: gamma, A, B, chi2_dof, p_value, weight; plus the free fits and
  /// the power-of-n alternative, and the criterion.
  [[nodiscard]] nlohmann::json law_weights_json() const;
  /// Everything above as one object.
  [[nodiscard]] nlohmann::json to_json() const;
};

/// Fits one (model, estimator) series and decides the verdict. Never throws on data:
/// too little usable data gives verdict `inconclusive` with the reason.
FitResult fit_critical(const CriticalSeries& series, const FitOptions& options = {});

/// Weighted points (x = log log n, y = log β*, σ of y) as the fits see them.
struct FitPoints {
  std::vector<double> log_n, y, sigma;
};

/// Best fit of one family at fixed γ (`gamma` set) or with γ free, on given points.
ModelFit fit_model(const FitPoints& points, FitFamily family, std::optional<double> gamma);

/// Fits and verdict from per-n summaries only (median and σ of log median per n), with
/// CIs from the profile rule alone (no rows to resample). Used by fit_critical after it
/// has summarised the rows, and by callers that only have summaries.
FitResult fit_summaries(std::vector<PointSummary> points, const FitOptions& options = {});

}  // namespace betacrit
