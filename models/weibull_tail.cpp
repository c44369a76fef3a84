#include "models/builtin.hpp"
#include "models/tail_quantile.hpp"
#include "sim/cpu_dispatch.hpp"

#include <boost/random/weibull_distribution.hpp>

#include <cmath>

namespace betacrit {
namespace {
class WeibullTail final : public Model {
 public:
  explicit WeibullTail(const ParamValues& p)
      : Model("weibull_tail", p), k_(param("shape")), lambda_(param("scale")) {}
  void draw(Engine& eng, std::uint64_t, std::uint64_t, std::span<double> out) const override {
    // Boost's weibull_distribution(a, b): P(X > x) = exp(-(x/b)^a), i.e. s = b * E^{1/a}.
    boost::random::weibull_distribution<double> dist(k_, lambda_);
    fill_draws(out, [&] { return dist(eng); });
  }
  std::optional<double> theory_beta(double log_n) const override {
    return (k_ / lambda_) * std::pow(log_n, 1.0 - 1.0 / k_);
  }
  TheoryLaw law() const override { return {1.0 - 1.0 / k_, "(k/scale) (log n)^(1-1/k)"}; }
  std::optional<double> limit_norm_entropy(double c) const override {
    if (c >= 1) return 0.0;
    if (k_ <= 1) return 1.0;
    return 1.0 - std::pow(c, k_ / (k_ - 1.0));
  }
  std::optional<double> upper_quantile_log(double log_p) const override {
    tail_quantile::check_log_p(log_p);
    return lambda_ * std::pow(-log_p, 1.0 / k_);  // P(s > x) = exp(-(x/scale)^k)
  }

 private:
  double k_, lambda_;
};
}  // namespace

ModelInfo weibull_tail_info() {
  return {"weibull_tail", "iid s = scale * E^(1/k), E ~ Exp(1): P(s > x) = exp(-(x/scale)^k)",
          {positive_real("shape", 2.0, "tail exponent k: P(s > x) = exp(-(x/scale)^k)"),
           positive_real("scale", 1.0, "scale lambda")},
          "beta*(n) = (k/scale) (log n)^(1-1/k), gamma = 1 - 1/k",
          [](const ParamValues& p) -> std::unique_ptr<Model> { return std::make_unique<WeibullTail>(p); }};
}
}  // namespace betacrit
