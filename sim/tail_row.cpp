#include "sim/tail_row.hpp"
#include "sim/format.hpp"


#include <boost/random/binomial_distribution.hpp>
#include <boost/random/gamma_distribution.hpp>
#include <boost/random/normal_distribution.hpp>
#include <boost/random/poisson_distribution.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace betacrit {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

std::string fmt(double v) { return format_number(v, 10); }

/// Uniform on the open interval (0, 1): 53 random bits, centred in their cell.
double uniform_open(Engine& eng) { return (static_cast<double>(eng() >> 11) + 0.5) * 0x1p-53; }

double exponential_variate(Engine& eng) { return -std::log(uniform_open(eng)); }

/// log of a Gamma(alpha, 1) variate, alpha >= 1. Beyond 2^20 the Wilson–Hilferty cube-root
/// normal form is used: its error in distribution is O(1/alpha) of a spread that is itself
/// 1/√alpha relative, i.e. below 1e-9 in log G.
double log_gamma_variate(Engine& eng, double alpha) {
  if (alpha <= 0x1p20) return std::log(boost::random::gamma_distribution<double>(alpha)(eng));
  const double z = boost::random::normal_distribution<double>()(eng);
  return std::log(alpha) + 3.0 * std::log1p(-1.0 / (9.0 * alpha) + z / (3.0 * std::sqrt(alpha)));
}

/// Binomial(N, q) for an integer-valued N up to 2^1024. Exact (Boost.Random) for N <= 2^32;
/// beyond, the normal form when the variance exceeds 2^16 (shape error < 1% of a spread
/// that is < 0.4% of the count) and otherwise the Poisson form of the smaller side
/// (total-variation error <= min(q, 1-q) <= 2^-16).
double binomial_variate(Engine& eng, double N, double q) {
  if (!(N > 0) || !(q > 0)) return 0.0;
  if (q >= 1) return N;
  if (N <= 0x1p32) {
    boost::random::binomial_distribution<std::int64_t, double> d(static_cast<std::int64_t>(N), q);
    return static_cast<double>(d(eng));
  }
  const double var = N * q * (1 - q);
  if (var >= 0x1p16) {
    double c = N * q + std::sqrt(var) * boost::random::normal_distribution<double>()(eng);
    if (N < 0x1p53) c = std::nearbyint(c);
    return std::clamp(c, 0.0, N);
  }
  const bool small_side = q <= 0.5;
  boost::random::poisson_distribution<std::int64_t, double> pois(N * (small_side ? q : 1 - q));
  const double c = std::min(static_cast<double>(pois(eng)), N);
  return small_side ? c : N - c;
}

/// log V for V uniform on [e^lo, e^hi], lo < hi <= 0; accurate also when V is close to 1
/// (then 1 - V is drawn directly, so the left tail of the scores keeps its precision).
double log_uniform_between(Engine& eng, double lo, double hi) {
  const double u = uniform_open(eng);
  if (lo > -0.5) {
    const double one_minus_hi = -std::expm1(hi);             // 1 - e^hi
    const double width = std::exp(lo) * std::expm1(hi - lo);  // e^hi - e^lo
    return std::log1p(-(one_minus_hi + u * width));
  }
  return lo + std::log1p(u * std::expm1(hi - lo));
}

/// Share of the sub-stratum [slo, shi] in the probability of the stratum [lo, hi] (bounds
/// in log V): (e^shi - e^slo)/(e^hi - e^lo).
double share_of(double slo, double shi, double lo, double hi) {
  return std::exp(slo - lo) * std::expm1(shi - slo) / std::expm1(hi - lo);
}

class TailQuantile {
 public:
  TailQuantile(const Model& model, double log2_n) : model_(model), log2_n_(log2_n) {}
  double operator()(double log_p) const {
    const std::optional<double> x = model_.upper_quantile_log(log_p);
    if (!x) throw std::invalid_argument("tail mode: model " + model_.type() + " has no tail quantile");
    if (std::isnan(*x) || *x == kInf)
      throw std::invalid_argument("tail mode: " + model_.type() + " scores overflow a double at n = 2^" +
                                  fmt(log2_n_) + " (score with tail probability e^" + fmt(log_p) +
                                  " is not finite)");
    return *x;
  }

 private:
  const Model& model_;
  double log2_n_;
};

}  // namespace

bool tail_mode_supported(const Model& model) { return model.iid() && model.upper_quantile_log(-1.0).has_value(); }

namespace {
/// The row length 2^log2_n, an integer where doubles hold every integer.
double tail_row_length(double log2_n) {
  const double n = std::exp2(log2_n);
  return n < 0x1p53 ? std::nearbyint(n) : n;
}
}  // namespace

bool tail_row_drawn_in_full(double log2_n, const TailSettings& tail) {
  return tail_row_length(log2_n) <= tail.exact_threshold();
}

MeasuredRow measure_tail_row(const Model& model, double log2_n, const Engine& start, const RowSettings& settings) {
  return measure_tail_row(model, log2_n, start, settings, TailSettings{});
}

MeasuredRow measure_tail_row(const Model& model, double log2_n, const Engine& start, const RowSettings& settings,
                             const TailSettings& tail, TailRowInfo* info) {
  if (!(log2_n >= 1.0 && log2_n <= kTailMaxLog2N))
    throw std::invalid_argument("tail mode: log2_n must be in [1, " + fmt(kTailMaxLog2N) + "], got " + fmt(log2_n));
  if (!tail_mode_supported(model))
    throw std::invalid_argument("tail mode: model " + model.type() + " is not iid with a known tail quantile");
  if (tail.top_k < 2 || tail.strata < 1 || tail.draws_per_stratum < 1)
    throw std::invalid_argument("tail mode: needs top_k >= 2, strata >= 1, draws_per_stratum >= 1");
  TailRowInfo local_info;
  TailRowInfo& inf = info ? *info : local_info;
  inf = TailRowInfo{};

  const double n = tail_row_length(log2_n);
  if (tail_row_drawn_in_full(log2_n, tail)) {
    RowScratch scratch;
    inf.drawn_in_full = true;
    MeasuredRow row = measure_row(model, static_cast<std::uint64_t>(n), start, settings, scratch);
    inf.accumulation_top = row.accumulation;
    return row;
  }

  const TailQuantile raw_quantile(model, log2_n);
  auto quantile = [&](double log_p) {
    ++inf.quantile_calls;
    return raw_quantile(log_p);
  };
  Engine eng = start;
  const std::size_t K = tail.top_k;

  // 1. The top K: log P_k = log Γ_k - log Γ_{n+1}, Γ_{n+1} = Γ_K + Gamma(n + 1 - K).
  std::vector<double> log_p(K);
  double gamma_sum = 0;
  for (std::size_t k = 0; k < K; ++k) {
    gamma_sum += exponential_variate(eng);
    log_p[k] = std::log(gamma_sum);
  }
  const double log_rest = log_gamma_variate(eng, n + 1.0 - static_cast<double>(K));
  const double log_total = log_rest + std::log1p(std::exp(log_p[K - 1] - log_rest));
  std::vector<double> top(K);
  for (std::size_t k = 0; k < K; ++k) {
    log_p[k] -= log_total;
    top[k] = quantile(log_p[k]);
  }
  const double mx = *std::max_element(top.begin(), top.end());
  GapMeasureBuilder builder(mx, GapMeasureBuilder::Options{std::max(settings.near_capacity, K), settings.t_grid});
  for (double x : top) builder.add_score(x);

  // β_acc over the top K, exactly: N(g) at each distinct positive gap.
  std::vector<double> top_gaps(K);
  for (std::size_t k = 0; k < K; ++k) top_gaps[k] = mx - top[k];
  std::sort(top_gaps.begin(), top_gaps.end());
  const double m = static_cast<double>(std::upper_bound(top_gaps.begin(), top_gaps.end(), 0.0) - top_gaps.begin());
  double best_top = 0;
  for (std::size_t i = static_cast<std::size_t>(m); i < K; ++i) {
    if (i + 1 < K && top_gaps[i + 1] == top_gaps[i]) continue;
    const double count = static_cast<double>(i + 1) - m;
    if (count > m) best_top = std::max(best_top, std::log(count / m) / top_gaps[i]);
  }

  // Every other score lies below the K-th: keep its gap strictly above Δ_K despite rounding,
  // so that the unit-weight gaps (in `near`) and the weighted atoms never interleave.
  const double floor_gap = std::nextafter(top_gaps.back(), kInf);
  auto gap_at = [&](double log_v) { return std::max(mx - quantile(log_v), floor_gap); };

  // 2. The other n - K scores: V ~ U(P_K, 1), S strata of equal width in log V.
  const double log_pk = log_p[K - 1];
  const std::size_t S = tail.strata;
  const std::size_t r = tail.draws_per_stratum;
  double remaining = n - static_cast<double>(K);
  double below = static_cast<double>(K) - m;  // positive gaps before the current stratum
  double best_beyond = 0;
  double gap_lo = top_gaps.back();            // gap at the stratum's upper score boundary
  std::vector<double> members;
  for (std::size_t j = 0; j < S && remaining > 0; ++j) {
    const double lo = log_pk * static_cast<double>(S - j) / static_cast<double>(S);
    const double hi = log_pk * static_cast<double>(S - j - 1) / static_cast<double>(S);
    double count;
    if (j + 1 == S) {
      count = remaining;
    } else {
      // P(stratum j | below the strata before it) = (e^hi - e^lo)/(1 - e^lo).
      const double q = std::exp(lo) * std::expm1(hi - lo) / -std::expm1(lo);
      count = binomial_variate(eng, remaining, q);
    }
    remaining -= count;
    if (count > 0 && count <= static_cast<double>(r)) {
      // Drawn in full: exact members, exact N(g) at each.
      members.clear();
      for (double i = 0; i < count; ++i) members.push_back(gap_at(log_uniform_between(eng, lo, hi)));
      std::sort(members.begin(), members.end());
      for (std::size_t i = 0; i < members.size(); ++i) {
        builder.add_weighted_gap(members[i], 1.0);
        if (i + 1 < members.size() && members[i + 1] == members[i]) continue;
        const double c = below + static_cast<double>(i + 1);
        if (c > m) best_beyond = std::max(best_beyond, std::log(c / m) / members[i]);
      }
    } else if (count > 0) {
      // r sub-strata, one exact draw each, weighted by the stratum count times its share.
      double cum_share = 0;
      // N(t) <= below + count and t >= gap_lo inside the stratum: skip the boundary
      // evaluations when even that bound cannot beat the best so far.
      const double bound = below + count > m ? std::log((below + count) / m) / gap_lo : 0.0;
      const bool evaluate = bound > std::max(best_top, best_beyond);
      for (std::size_t s = 0; s < r; ++s) {
        const double slo = lo + (hi - lo) * static_cast<double>(s) / static_cast<double>(r);
        const double shi = s + 1 == r ? hi : lo + (hi - lo) * static_cast<double>(s + 1) / static_cast<double>(r);
        const double share = share_of(slo, shi, lo, hi);
        builder.add_weighted_gap(gap_at(log_uniform_between(eng, slo, shi)), count * share);
        cum_share += share;
        if (evaluate && s + 1 < r) {
          const double c = below + count * cum_share;
          const double t = gap_at(shi);
          if (c > m && std::isfinite(t)) best_beyond = std::max(best_beyond, std::log(c / m) / t);
        }
      }
    }
    below += count;
    // The lower score boundary of this stratum (gap at V = e^hi; +inf at V = 1 for
    // unbounded scores): N there is exactly `below`.
    if (remaining > 0 || j + 1 < S) {
      gap_lo = gap_at(hi);
      if (below > m && std::isfinite(gap_lo)) best_beyond = std::max(best_beyond, std::log(below / m) / gap_lo);
    }
  }

  MeasuredRow out;
  out.gaps = builder.finish(log2_n * std::numbers::ln2);
  out.passes = 1;
  out.accumulation = std::max(best_top, best_beyond);
  inf.accumulation_top = best_top;
  inf.accumulation_beyond = best_beyond;
  return out;
}

}  // namespace betacrit
