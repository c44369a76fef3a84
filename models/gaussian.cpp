#include "models/builtin.hpp"
#include "models/normal_block.hpp"
#include "models/tail_quantile.hpp"

#include <cmath>
#include <limits>

namespace betacrit {
namespace {
class Gaussian final : public Model {
 public:
  explicit Gaussian(const ParamValues& p) : Model("gaussian", p), mu_(param("mu")), sigma_(param("sigma")) {}
  /// boost::random::normal_distribution<double>(mu, sigma) draw by draw, bit for bit.
  void draw(Engine& eng, std::uint64_t, std::uint64_t, std::span<double> out) const override {
    normal_block(eng, mu_, sigma_, out);
  }
  std::optional<double> theory_beta(double log_n) const override { return std::sqrt(2.0 * log_n) / sigma_; }
  TheoryLaw law() const override { return {0.5, "sqrt(2 log n)/sigma"}; }
  std::optional<double> limit_norm_entropy(double c) const override { return c < 1 ? 1 - c * c : 0.0; }
  std::optional<double> upper_quantile_log(double log_p) const override {
    return mu_ + sigma_ * tail_quantile::normal_upper_quantile_log(log_p);
  }

 private:
  double mu_, sigma_;
};
}  // namespace

ModelInfo gaussian_info() {
  return {"gaussian", "iid N(mu, sigma^2) scores",
          {ParamSpec{"mu", ParamSpec::Kind::Real, 0.0, -kInf, false, kInf, false, "mean of the scores"},
           positive_real("sigma", 1.0, "standard deviation of the scores")},
          "beta*(n) = sqrt(2 log n)/sigma, gamma = 1/2",
          [](const ParamValues& p) -> std::unique_ptr<Model> { return std::make_unique<Gaussian>(p); }};
}
}  // namespace betacrit
