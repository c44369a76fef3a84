#include "models/builtin.hpp"
#include "models/normal_block.hpp"

#include <algorithm>
#include <cmath>

namespace betacrit {
namespace {
class SparseGap final : public Model {
 public:
  explicit SparseGap(const ParamValues& p)
      : Model("sparse_gap", p),
        gap_(param("gap")),
        a_(param("gap_exponent")),
        m_(static_cast<std::uint64_t>(param("signals"))),
        noise_(param("noise")) {}

  /// δ_n = gap / (log n)^a.
  double delta(double log_n) const { return gap_ / std::pow(log_n, a_); }

  void draw(Engine& eng, std::uint64_t n, std::uint64_t offset, std::span<double> out) const override {
    const double d = delta(std::log(static_cast<double>(n)));
    // The m signals come first (position carries no meaning downstream), then the rest,
    // jittered by boost::random::normal_distribution<double>(0, noise) draws (bit for bit).
    const std::size_t signals = offset < m_ ? static_cast<std::size_t>(std::min<std::uint64_t>(m_ - offset, out.size())) : 0;
    std::fill(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(signals), d);
    if (noise_ > 0) normal_block(eng, 0.0, noise_, out.subspan(signals));
    else std::fill(out.begin() + static_cast<std::ptrdiff_t>(signals), out.end(), 0.0);
  }
  std::optional<double> theory_beta(double log_n) const override {
    // log((n - m)/m)/δ_n with n = e^{log n}; log1p keeps it exact for huge n.
    const double m = static_cast<double>(m_);
    const double log_ratio = log_n + std::log1p(-m * std::exp(-log_n)) - std::log(m);
    return log_ratio / delta(log_n);
  }
  TheoryLaw law() const override { return {1.0 + a_, "(log n)^a log((n-m)/m)/gap (noise 0)"}; }
  /// With noise 0 and β = c·β*(n): S0 = m + m^c (n-m)^{1-c}, so for c < 1 the n-m equal
  /// competitors carry all the mass and H/log n -> 1; for c > 1 the top set does and
  /// H/log n -> 0; at c = 1 the mass splits in half and H/log n -> 1/2. (1 - c is the limit
  /// of log S0/log n, not of the entropy; docs/science.md.)
  std::optional<double> limit_norm_entropy(double c) const override {
    if (noise_ > 0) return std::nullopt;
    return c < 1 ? 1.0 : (c == 1 ? 0.5 : 0.0);
  }
  bool iid() const override { return false; }
  std::uint64_t min_n() const override { return m_ + 1; }

 private:
  double gap_, a_;
  std::uint64_t m_;
  double noise_;
};
}  // namespace

ModelInfo sparse_gap_info() {
  return {"sparse_gap",
          "m signal scores at delta_n = gap/(log n)^a above n-m scores at 0 (+ optional N(0, noise^2) jitter)",
          {positive_real("gap", 1.0, "gap delta0 between the signals and the rest"),
           ParamSpec{"gap_exponent", ParamSpec::Kind::Real, 0.0, 0.0, true, kInf, false,
                     "a: the gap shrinks as delta0/(log n)^a"},
           ParamSpec{"signals", ParamSpec::Kind::Integer, 1.0, 1.0, true, 1e15, true,
                     "m: number of tied signal scores (the row needs n > m)"},
           ParamSpec{"noise", ParamSpec::Kind::Real, 0.0, 0.0, true, kInf, false,
                     "sigma of iid N(0, sigma^2) jitter on the n-m non-signal scores"}},
          "beta*(n) = (log n)^a log((n-m)/m)/gap (noise 0), gamma = 1 + a",
          [](const ParamValues& p) -> std::unique_ptr<Model> { return std::make_unique<SparseGap>(p); }};
}
}  // namespace betacrit
