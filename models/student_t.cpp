#include "models/builtin.hpp"
#include "models/tail_quantile.hpp"
#include "sim/cpu_dispatch.hpp"

#include <boost/random/student_t_distribution.hpp>

#include <cmath>

namespace betacrit {
namespace {
class StudentT final : public Model {
 public:
  explicit StudentT(const ParamValues& p) : Model("student_t", p), nu_(param("nu")), scale_(param("scale")) {}
  void draw(Engine& eng, std::uint64_t, std::uint64_t, std::span<double> out) const override {
    boost::random::student_t_distribution<double> dist(nu_);
    fill_draws(out, [&] { return scale_ * dist(eng); });
  }
  std::optional<double> theory_beta(double log_n) const override {
    return log_n * std::exp(-log_n / nu_) / scale_;
  }
  TheoryLaw law() const override { return {std::nullopt, "~ log n * n^(-1/nu)/scale (power law in n, no polylog law)"}; }
  std::optional<double> upper_quantile_log(double log_p) const override {
    return scale_ * tail_quantile::student_t_upper_quantile_log(nu_, log_p);
  }

 private:
  double nu_, scale_;
};
}  // namespace

ModelInfo student_t_info() {
  return {"student_t", "iid scale * t_nu scores (polynomial upper tail)",
          {positive_real("nu", 3.0, "degrees of freedom (tail index)"),
           positive_real("scale", 1.0, "scale factor")},
          "beta*(n) ~ log n * n^(-1/nu)/scale: power law, no (log n)^gamma law",
          [](const ParamValues& p) -> std::unique_ptr<Model> { return std::make_unique<StudentT>(p); }};
}
}  // namespace betacrit
