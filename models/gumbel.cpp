#include "models/builtin.hpp"
#include "models/tail_quantile.hpp"
#include "sim/cpu_dispatch.hpp"

#include <boost/random/extreme_value_distribution.hpp>

namespace betacrit {
namespace {
class Gumbel final : public Model {
 public:
  explicit Gumbel(const ParamValues& p) : Model("gumbel", p), mu_(param("mu")), scale_(param("scale")) {}
  void draw(Engine& eng, std::uint64_t, std::uint64_t, std::span<double> out) const override {
    // Boost's extreme_value_distribution(a, b) is the max-type Gumbel: F(x) = exp(-exp(-(x-a)/b)).
    boost::random::extreme_value_distribution<double> dist(mu_, scale_);
    fill_draws(out, [&] { return dist(eng); });
  }
  std::optional<double> theory_beta(double) const override { return 1.0 / scale_; }
  TheoryLaw law() const override { return {0.0, "1/scale (constant)"}; }
  std::optional<double> limit_norm_entropy(double c) const override { return c < 1 ? 1.0 : 0.0; }
  std::optional<double> upper_quantile_log(double log_p) const override {
    // P(X > x) = 1 - exp(-e^{-y}), y = (x - mu)/scale, so e^{-y} = -log(1 - p).
    tail_quantile::check_log_p(log_p);
    double y;
    if (log_p < -700.0) {
      y = -log_p;  // -log(1 - p) = p (1 + p/2 + ...), p < 1e-304
    } else if (log_p < -1.0) {
      y = -std::log(-std::log1p(-std::exp(log_p)));
    } else {
      y = -std::log(-std::log(-std::expm1(log_p)));  // 1 - p accurate near p = 1
    }
    return mu_ + scale_ * y;
  }

 private:
  double mu_, scale_;
};
}  // namespace

ModelInfo gumbel_info() {
  return {"gumbel", "iid Gumbel(mu, scale) scores (max-stable, exponential upper tail)",
          {ParamSpec{"mu", ParamSpec::Kind::Real, 0.0, -kInf, false, kInf, false, "location"},
           positive_real("scale", 1.0, "scale of the exponential upper tail")},
          "beta*(n) = 1/scale, gamma = 0",
          [](const ParamValues& p) -> std::unique_ptr<Model> { return std::make_unique<Gumbel>(p); }};
}
}  // namespace betacrit
