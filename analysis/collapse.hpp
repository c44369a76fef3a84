#pragma once
// Finite-size-scaling collapse (SPEC §5): the exponent γ for which the curves y_n(β) of all
// n fall onto one master curve when plotted against x = β/(log n)^γ.
//
// Quality: the Houdayer–Hartmann S, computed as pyfssa's `quality` does. For each point
// (x_ij, y_ij ± dy_ij) of size i and each other size i', the two points of i' that bracket
// x_ij (x_i'j' <= x_ij < x_i'j'+1) are selected; a weighted least-squares line (weights
// 1/dy²) through all selected points predicts Y_ij with variance dY²_ij, and
//     S = mean over points with a prediction of (y_ij − Y_ij)² / (dy_ij² + dY²_ij).
// S is about 1 for a good collapse with honest error bars and much larger otherwise.
//
// Minimisation: a grid scan of S(γ) followed by Brent's method
// (boost::math::tools::brent_find_minima) around the best grid node.
// Uncertainty: pyfssa's curvature rule, σ_γ = sqrt(2·S_min / S''(γ̂)), with S'' from a
// symmetric difference whose step is enlarged until S changes by at least 0.01. For a
// quadratic S this is the half-width of the range where S rises by S_min above its
// minimum — by 1 when S_min = 1 (docs/science.md).
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace betacrit {

/// One curve y(β) at row length n (given as log n).
struct CollapseCurve {
  double log_n = 0;
  std::vector<double> beta;  ///< ascending, > 0
  std::vector<double> y;
  std::vector<double> dy;    ///< standard errors (> 0; smaller values are floored)
};

/// S_min above this is reported as a poor collapse (S ≈ 1 for a good one).
inline constexpr double kPoorCollapse = 10.0;

struct CollapseOptions {
  double gamma_min = -1.0, gamma_max = 3.0;  ///< search range of γ
  int scan_points = 81;                      ///< grid nodes of the scan before Brent
  /// Floor of dy relative to the largest |y| (zero-SEM points, e.g. max_weight at β = 0).
  double dy_relative_floor = 1e-6;
};

struct CollapseResult {
  bool ok = false;            ///< false: no overlap, or no minimum inside the range (see note)
  double gamma = 0;           ///< minimiser of S
  double gamma_sigma = 0;     ///< curvature-rule uncertainty
  double quality = 0;         ///< S at the minimum
  std::size_t terms = 0;      ///< points entering S at the minimum
  std::vector<std::pair<double, double>> scan;  ///< (γ, S) on the scan grid
  std::string note;
  [[nodiscard]] nlohmann::json to_json() const;
};

/// Houdayer–Hartmann S of the curves plotted against β/(log n)^γ; `terms` receives the
/// number of points with a master-curve prediction. +inf when no point has one.
double collapse_quality(const std::vector<CollapseCurve>& curves, double gamma, std::size_t* terms = nullptr,
                        double dy_relative_floor = 1e-6);

/// The γ minimising S over [gamma_min, gamma_max] and its uncertainty. Throws
/// std::invalid_argument for malformed curves (fewer than 2 curves, sizes that differ
/// within a curve, non-ascending or non-positive β, non-finite values).
CollapseResult collapse_exponent(const std::vector<CollapseCurve>& curves, const CollapseOptions& options = {});

}  // namespace betacrit
