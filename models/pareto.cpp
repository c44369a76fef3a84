#include "models/builtin.hpp"
#include "models/tail_quantile.hpp"
#include "sim/cpu_dispatch.hpp"

#include <boost/random/exponential_distribution.hpp>

#include <cmath>

namespace betacrit {
namespace {
class Pareto final : public Model {
 public:
  explicit Pareto(const ParamValues& p) : Model("pareto", p), alpha_(param("alpha")), scale_(param("scale")) {}
  void draw(Engine& eng, std::uint64_t, std::uint64_t, std::span<double> out) const override {
    // P(s > x) = (scale/x)^alpha for x >= scale, i.e. s = scale * exp(E/alpha), E ~ Exp(1).
    boost::random::exponential_distribution<double> dist(1.0);
    fill_draws(out, [&] { return scale_ * std::exp(dist(eng) / alpha_); });
  }
  std::optional<double> theory_beta(double log_n) const override {
    return log_n * std::exp(-log_n / alpha_) / scale_;
  }
  TheoryLaw law() const override { return {std::nullopt, "~ log n * n^(-1/alpha)/scale (power law in n, no polylog law)"}; }
  std::optional<double> upper_quantile_log(double log_p) const override {
    tail_quantile::check_log_p(log_p);
    return scale_ * std::exp(-log_p / alpha_);  // P(s > x) = (scale/x)^alpha; +inf on overflow
  }

 private:
  double alpha_, scale_;
};
}  // namespace

ModelInfo pareto_info() {
  return {"pareto", "iid Pareto(alpha, scale) scores: P(s > x) = (scale/x)^alpha, x >= scale",
          {positive_real("alpha", 2.0, "tail index"), positive_real("scale", 1.0, "minimum score")},
          "beta*(n) ~ log n * n^(-1/alpha)/scale: power law, no (log n)^gamma law",
          [](const ParamValues& p) -> std::unique_ptr<Model> { return std::make_unique<Pareto>(p); }};
}
}  // namespace betacrit
