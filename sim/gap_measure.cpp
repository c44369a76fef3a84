#include "sim/gap_measure.hpp"

#include "sim/cpu_dispatch.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

namespace betacrit {

namespace {
constexpr int kShift = 52 - kBucketMantissaBits;
constexpr std::uint64_t kPerOctave = std::uint64_t{1} << kBucketMantissaBits;
constexpr std::uint64_t kKeyLimit = std::uint64_t{0x7FF} << kBucketMantissaBits;  // keys of finite gaps
constexpr std::uint64_t kLowMask = (std::uint64_t{1} << kShift) - 1;
// v = (Δ - centre)/half_width from the bits below the bucket key: exact (docs/performance.md).
const double kLowScale = std::ldexp(1.0, 1 - kShift);

// Contributions with β·Δ_min > log n + kNegligible are below e^-40 of S0 >= m >= 1 in
// total (no weight exceeds n), far below the accuracy of the series.
constexpr double kNegligible = 40.0;

double bucket_lo(std::uint64_t key) { return std::bit_cast<double>(key << kShift); }

constexpr std::array<double, kIndexTerms> inverse_factorials() {
  std::array<double, kIndexTerms> f{};
  double x = 1;
  for (int j = 0; j < kIndexTerms; ++j) {
    if (j > 0) x /= j;
    f[static_cast<std::size_t>(j)] = x;
  }
  return f;
}
constexpr std::array<double, kIndexTerms> kInverseFactorial = inverse_factorials();

/// Fills a node's interleaved (A_j, B_j) from power sums P_j (scaled by 1/j! when
/// `power_sums`) or from A_j directly.
[[gnu::always_inline]] inline void set_series(GapIndexNode& nd, const double* values, int count, bool power_sums) {
  std::array<double, kIndexTerms> a{};
  for (int j = 0; j < count && j < kIndexTerms; ++j)
    a[static_cast<std::size_t>(j)] = power_sums ? values[j] * kInverseFactorial[static_cast<std::size_t>(j)] : values[j];
  for (std::size_t j = 0; j < kIndexTerms; ++j) {
    nd.ab[2 * j] = a[j];
    nd.ab[2 * j + 1] = j + 1 < kIndexTerms ? static_cast<double>(j + 1) * a[j + 1] : 0.0;
  }
}

/// Adds a child's series re-expressed about the parent's centre C and half width H:
/// Σ e^{z u} with u = a v + d (a = h/H, d = (c - C)/H) is e^{z d}·A_child(a z), a product of
/// truncated series: B_k += Σ_j a^j A_j · d^{k-j}/(k-j)!.

/// Adds the contribution of one bucket (power sums about its centre) to S0 and β·S1.
inline void add_bin(const GapBucket& b, double beta, GapSums& out) {
  if (b.is_atom()) {
    const double y = beta * b.min_gap;
    const double e = std::exp(-y);
    out.s0 += b.weight() * e;
    out.t1 += b.weight() * y * e;
    return;
  }
  const double bc = beta * b.center;
  const double x = beta * b.half_width;
  double a0 = 0, a1 = 0, coef = 1;
  for (int j = 0; j <= kTaylorOrder; ++j) {
    a0 += coef * b.power[j];
    a1 += coef * b.power[j + 1];
    coef *= -x / (j + 1);
  }
  const double e = std::exp(-bc);
  out.s0 += e * a0;
  out.t1 += e * (bc * a0 + x * a1);
}

/// Adds one index node's S0, T1 (and T2 when `Second`) at β: A(u), A'(u), A''(u) at
/// u = -β·half_width by Horner's rule.
typedef double Vec2d __attribute__((vector_size(16)));

/// Adds one index node's S0, T1 (and T2 when `Second`) at β: A(u) and A'(u) at
/// u = -β·half_width from the interleaved pairs (A_k, B_k), four interleaved Horner chains
/// in u^4 (the walk is bound by the latency of these chains), and A''(u) as the derivative
/// of the B series when needed. sums() and sums2() evaluate S0 and T1 alike.
template <bool Second>
inline void add_node(const GapIndexNode& nd, double beta, double& s0, double& t1, double& t2) {
  if (nd.atom) {
    const double y = beta * nd.min_gap;
    const double we = nd.a(0) * std::exp(-y);
    s0 += we;
    t1 += we * y;
    if constexpr (Second) t2 += we * y * y;
    return;
  }
  const double x = beta * nd.half_width, u = -x;
  const double bc = beta * nd.center;
  const Vec2d uu = {u, u};
  const double* ab = nd.ab.data();
  Vec2d acc;
  double d2 = 0;
  {
    // The terms k = 4i + r as four independent chains in w = u^4 (a quarter of the latency
    // of one chain): A(u) = C0(w) + u·C1(w) + u²·C2(w) + u³·C3(w), and the same for B.
    const Vec2d u2 = uu * uu, ww = u2 * u2;
    auto pair = [&](int k) __attribute__((always_inline)) {
      Vec2d t;
      std::memcpy(&t, ab + 2 * k, sizeof t);
      return t;
    };
    const Vec2d zero = {0, 0};
    const int top = nd.terms - 1;
    int g = top - top % 4;  // the highest group, terms g .. top
    Vec2d c0 = pair(g), c1 = g + 1 <= top ? pair(g + 1) : zero, c2 = g + 2 <= top ? pair(g + 2) : zero,
          c3 = g + 3 <= top ? pair(g + 3) : zero;
    for (g -= 4; g >= 0; g -= 4) {
      c0 = c0 * ww + pair(g);
      c1 = c1 * ww + pair(g + 1);
      c2 = c2 * ww + pair(g + 2);
      c3 = c3 * ww + pair(g + 3);
    }
    acc = (c0 + uu * c1) + u2 * (c2 + uu * c3);
  }
  if constexpr (Second) {
    // A''(u) = B'(u) = Σ_k k·B_k u^(k-1), by Horner's rule (its own chain).
    for (int k = nd.terms - 1; k >= 1; --k) d2 = d2 * u + k * ab[2 * k + 1];
  }
  const double p = acc[0], d1 = acc[1];
  const double e = std::exp(-bc);
  s0 += e * p;
  t1 += e * (bc * p + x * d1);
  if constexpr (Second) t2 += e * (bc * (bc * p + 2 * x * d1) + x * x * d2);
}

double cutoff_for(double n) { return std::log(std::max(n, 1.0)) + kNegligible; }

/// Walks the index at β: a node fine enough for its series (or a bucket) is summed whole
/// and its subtree skipped, a node wholly beyond the cutoff is skipped, others are opened.
template <bool Second>
[[gnu::always_inline]] inline void walk_index(const std::vector<GapIndexNode>& index, double beta, double cutoff,
                                              double& s0, double& t1, double& t2) {
  // Postorder read from the end: a node, then its children's subtrees from the last.
  for (std::size_t i = index.size(); i > 0;) {
    const GapIndexNode& node = index[i - 1];
    if (beta * node.min_gap > cutoff) {
      i = node.next;
    } else if (node.leaf || beta * node.half_width <= kIndexMaxX) {
      add_node<Second>(node, beta, s0, t1, t2);
      i = node.next;
    } else {
      --i;
    }
  }
}
}  // namespace

BETACRIT_CLONE_AVX2
GapSums GapMeasure::sums_from_buckets(double beta) const {
  GapSums out{m, 0.0};
  // Buckets are ascending and no bucket weighs more than n: once β·Δ_min exceeds
  // log n + kNegligible, every later bucket is negligible too.
  const double cutoff = cutoff_for(n);
  for (const GapBucket& b : buckets) {
    if (beta * b.min_gap > cutoff) break;
    add_bin(b, beta, out);
  }
  return out;
}

BETACRIT_CLONE_AVX2
GapSums GapMeasure::sums(double beta) const {
  if (index.empty() || index_buckets != buckets.size()) return sums_from_buckets(beta);
  double s0 = m, t1 = 0, t2 = 0;
  walk_index<false>(index, beta, cutoff_for(n), s0, t1, t2);
  return {s0, t1};
}

BETACRIT_CLONE_AVX2
GapSums2 GapMeasure::sums2(double beta) const {
  double s0 = m, t1 = 0, t2 = 0;
  if (index.empty() || index_buckets != buckets.size()) {
    // Without the index: each bucket as a one-node index of its own.
    const double cutoff = cutoff_for(n);
    std::vector<GapIndexNode> one(1);
    for (const GapBucket& b : buckets) {
      if (beta * b.min_gap > cutoff) break;
      GapIndexNode& nd = one[0];
      nd.center = b.center;
      nd.half_width = b.half_width;
      nd.min_gap = b.min_gap;
      nd.max_gap = b.max_gap;
      nd.atom = b.is_atom();
      nd.terms = static_cast<std::uint8_t>(kPowers);
      set_series(nd, b.power.data(), kPowers, true);
      add_node<true>(nd, beta, s0, t1, t2);
    }
    return {s0, t1, t2};
  }
  walk_index<true>(index, beta, cutoff_for(n), s0, t1, t2);
  return {s0, t1, t2};
}

double GapMeasure::positive_weight() const {
  double w = 0;
  for (const auto& b : buckets) w += b.weight();
  return w;
}

double GapMeasure::min_gap() const {
  return buckets.empty() ? std::numeric_limits<double>::infinity() : buckets.front().min_gap;
}

double GapMeasure::mean_gap() const {
  double w = 0, s = 0;
  for (const auto& b : buckets) {
    w += b.weight();
    s += b.center * b.power[0] + b.half_width * b.power[1];
  }
  return w > 0 ? s / w : 0.0;
}

// ------------------------------------------------------------------ multiresolution index

namespace {

/// Binary exponent E of a positive double (x in [2^E, 2^(E+1))); subnormals count as -1022
/// with the mantissa read without its hidden bit, which keeps the bit tricks below exact.
int exponent_of(double x) {
  const int e = static_cast<int>(std::bit_cast<std::uint64_t>(x) >> 52);
  return std::max(e, 1) - 1023;
}

/// 2^k exactly (ldexp(1, k), without the library call for normal results).
double pow2(int k) {
  if (k >= -1022 && k <= 1023) return std::bit_cast<double>(static_cast<std::uint64_t>(k + 1023) << 52);
  return std::ldexp(1.0, k);
}

/// Level L of a power of two 2^L (half widths are 2^(L-1)).
int level_of_width(double width) {
  const std::uint64_t bits = std::bit_cast<std::uint64_t>(width);
  if ((bits >> 52) != 0) return static_cast<int>(bits >> 52) - 1023;
  return std::ilogb(width);  // subnormal
}

/// A bucket's place in the dyadic tree: its interval [lo, lo + 2^level). A weighted atom
/// (half width 0, tail mode) takes the cell of the log-spaced bucket its gap falls in.
struct Cell {
  double lo;
  int level;
};
Cell cell_of(const GapBucket& b) {
  if (b.half_width == 0) {
    const std::uint64_t key = std::bit_cast<std::uint64_t>(b.min_gap) >> kShift;
    const double lo = bucket_lo(key);
    return {lo, level_of_width(bucket_lo(key + 1) - lo)};
  }
  return {b.center - b.half_width, level_of_width(2 * b.half_width)};
}

/// floor(x / 2^L)·2^L for x >= 0, exactly.
double dyadic_floor(double x, int level) {
  if (x == 0) return 0;
  const int e = exponent_of(x);
  if (level > e) return 0;
  const int s = level - e + 52;  // mantissa bits below the level
  if (s <= 0) return x;
  const std::uint64_t bits = std::bit_cast<std::uint64_t>(x);
  return std::bit_cast<double>(bits & ~((std::uint64_t{1} << s) - 1));
}

/// Whether a bucket is a dyadic interval (power-of-two width, aligned) holding its gaps, as
/// the builder makes them, or an exact atom (half width 0).
[[gnu::always_inline]] inline bool is_dyadic(const GapBucket& b) {
  if (!std::isfinite(b.center) || !std::isfinite(b.half_width) || !(b.min_gap > 0)) return false;
  if (b.half_width == 0) return b.is_atom() && b.center == b.min_gap && std::isfinite(b.min_gap);
  if (!(b.half_width > 0)) return false;
  const Cell c = cell_of(b);
  if (pow2(c.level - 1) != b.half_width) return false;
  return c.lo >= 0 && dyadic_floor(c.lo, c.level) == c.lo && b.min_gap >= c.lo && b.max_gap <= c.lo + 2 * b.half_width;
}

/// Smallest level L at which the non-negative numbers a <= b share a dyadic interval.
int common_level(double a, double b) {
  if (a == b) return -1075;
  const auto ba = std::bit_cast<std::uint64_t>(a), bb = std::bit_cast<std::uint64_t>(b);
  const int ea = static_cast<int>(ba >> 52), eb = static_cast<int>(bb >> 52);
  if (ea != eb) return std::max(eb, 1) - 1023 + 1;  // a < 2^E_b <= b: only [0, 2^(E_b+1)) holds both
  const std::uint64_t diff = (ba ^ bb) & ((std::uint64_t{1} << 52) - 1);
  const int p = 63 - std::countl_zero(diff);
  return std::max(ea, 1) - 1023 - 52 + p + 1;
}

/// Length of the padded runs of add_recentered (a multiple of 4 lanes, >= kIndexTerms).
constexpr std::size_t kPadded = (kIndexTerms + 3) / 4 * 4;

/// The shifts d^i/i! of add_recentered, padded: kPadded zeros, the kIndexTerms values, zeros.
struct ShiftTable {
  alignas(32) double v[2 * kPadded];
};
/// Fills t for the offset d, by the one sequence of roundings add_recentered relies on.
inline void fill_shift(ShiftTable& t, double d) {
  for (double& x : t.v) x = 0;
  double dj = 1;
  for (std::size_t i = 0; i < kIndexTerms; ++i) {
    t.v[kPadded + i] = dj * kInverseFactorial[i];
    dj *= d;
  }
}
/// The tables of the offsets of children up to three levels below their parent,
/// d = k/8 - 1 for k = 1..15 (most children: the re-expression then needs no powers of d).
const std::array<ShiftTable, 16>& eighths_shift_tables() {
  static const std::array<ShiftTable, 16> tables = [] {
    std::array<ShiftTable, 16> t{};
    for (int k = 1; k < 16; ++k) fill_shift(t[static_cast<std::size_t>(k)], k / 8.0 - 1.0);
    return t;
  }();
  return tables;
}

/// `out` has kIndexTerms + kPadded entries; the first kIndexTerms are the parent's series.
[[gnu::always_inline]] inline void add_recentered(const GapIndexNode& child, double center, double half_width,
                                                  double* out) {
  const double inv = 1.0 / half_width;  // a power of two: exact
  const double a = child.half_width * inv;
  const double d = (child.center - center) * inv;
  if (child.atom) {
    // Every gap at one point: u = (Δ - C)/H, A_k = w u^k/k!.
    const double u = (child.min_gap - center) * inv;
    double p = child.a(0);
    for (std::size_t k = 0; k < kIndexTerms; ++k) {  // (writes the first kIndexTerms only)
      out[k] += p * kInverseFactorial[k];
      p *= u;
    }
    return;
  }
  // shift[i] = d^i/i! (zero for i < 0 and i >= kIndexTerms) and the child's a^j A_j; then
  // out[k] += Σ_j scaled[j]·shift[k-j], j ascending, four k at a time with the sums in a
  // register (the j > k terms add zeros). The padding past kIndexTerms collects terms of
  // higher order, which are dropped.
  typedef double V4 __attribute__((vector_size(32)));
  constexpr std::size_t kFront = kPadded;  // zeros before shift[0]
  // d is a multiple of 1/8 for a child up to three levels below: its table is made once.
  const double k8 = (d + 1.0) * 8.0;
  const int k = static_cast<int>(k8);
  ShiftTable own;
  const double* shift;
  if (k8 > 0 && k8 < 16 && static_cast<double>(k) == k8) {
    shift = eighths_shift_tables()[static_cast<std::size_t>(k)].v;
  } else {
    fill_shift(own, d);
    shift = own.v;
  }
  // a = 2^(child level - parent level): its powers are exact, so four chains in a^4 give
  // the bits of one chain in a (an underflow gives zero either way).
  double scaled[kIndexTerms + 3];
  const std::size_t terms = child.terms;
  {
    const double a2 = a * a, a4 = a2 * a2;
    double p0 = 1, p1 = a, p2 = a2, p3 = a * a2;
    for (std::size_t j = 0; j < terms; j += 4) {
      scaled[j] = child.a(j) * p0;
      scaled[j + 1] = j + 1 < terms ? child.a(j + 1) * p1 : 0.0;
      scaled[j + 2] = j + 2 < terms ? child.a(j + 2) * p2 : 0.0;
      scaled[j + 3] = j + 3 < terms ? child.a(j + 3) * p3 : 0.0;
      p0 *= a4, p1 *= a4, p2 *= a4, p3 *= a4;
    }
  }
  for (std::size_t k0 = 0; k0 < kPadded; k0 += 4) {
    V4 sum;
    std::memcpy(&sum, out + k0, sizeof sum);
    const std::size_t j_end = std::min(terms, k0 + 4);
    for (std::size_t j = 0; j < j_end; ++j) {
      V4 sh;
      std::memcpy(&sh, shift + kFront + k0 - j, sizeof sh);
      const V4 c = {scaled[j], scaled[j], scaled[j], scaled[j]};
      sum += c * sh;
    }
    std::memcpy(out + k0, &sum, sizeof sum);
  }
}

[[gnu::always_inline]] inline void set_leaf_node(GapIndexNode& nd, const GapBucket& b, int powers) {
  nd.center = b.center;
  nd.half_width = b.half_width;
  nd.min_gap = b.min_gap;
  nd.max_gap = b.max_gap;
  nd.leaf = true;
  nd.atom = b.is_atom();
  nd.terms = static_cast<std::uint8_t>(std::clamp(powers, 1, kPowers));
  set_series(nd, b.power.data(), kPowers, true);
}

}  // namespace

// Cloned for AVX2 like the accumulation loop: element-wise arithmetic, identical bits.
BETACRIT_CLONE_AVX2
void GapMeasure::build_index() {
  index.clear();
  index_buckets = buckets.size();
  const std::size_t n_leaves = buckets.size();
  if (n_leaves == 0) return;
  bool usable = n_leaves < (std::size_t{1} << 30);
  for (std::size_t i = 0; usable && i < n_leaves; ++i)
    usable = is_dyadic(buckets[i]) && (i == 0 || buckets[i - 1].max_gap <= buckets[i].min_gap);
  if (!usable) {  // hand-made buckets: sums() reads them directly
    index_buckets = 0;
    return;
  }
  // The tree of the smallest dyadic intervals joining neighbouring buckets (a Cartesian
  // tree on the levels at which neighbours meet), built left to right: `open` holds the
  // unfinished internal nodes on the rightmost path. Nodes are emitted in postorder as they
  // are finished (a node's subtree is the contiguous run ending at it; `next` holds the
  // subtree size until the final reversal).
  struct Open {
    int level;
    double lo;
    std::size_t start;  ///< where its subtree begins in `index`
  };
  std::vector<Open> open;
  index.reserve(2 * n_leaves);
  const int powers = bucket_powers;
  const double cutoff = cutoff_for(n);
  auto emit_leaf = [&](std::size_t i) __attribute__((always_inline)) {
    GapIndexNode& nd = index.emplace_back();  // in place: no copy of the series
    set_leaf_node(nd, buckets[i], powers);
    nd.next = 1;
  };
  // A node is summed at β when it is fine (β·half_width <= 1) and its parent is not
  // (β > 2^(1 - parent level)); it is skipped when β·min_gap > cutoff. A node with
  // min_gap·2^(1 - parent level) > cutoff is therefore never summed: it is left out and its
  // children go straight to its parent (most nodes near the buckets of a dense region).
  auto emit_internal = [&](const Open& o, int parent_level) __attribute__((always_inline)) {
    const double min_gap = index[o.start].min_gap;
    if (min_gap * pow2(1 - parent_level) > cutoff) return;
    const double half_width = pow2(o.level - 1);
    const double center = o.lo + half_width;
    const std::size_t end = index.size();
    alignas(32) double series[kIndexTerms + kPadded] = {};
    for (std::size_t c = end; c > o.start;) {  // children, from the last
      const GapIndexNode& child = index[c - 1];
      add_recentered(child, center, half_width, series);
      c -= child.next;
    }
    const double max_gap = index[end - 1].max_gap;
    GapIndexNode& nd = index.emplace_back();  // reserved: the children stay in place
    nd.half_width = half_width;
    nd.center = center;
    nd.terms = kIndexTerms;
    nd.min_gap = min_gap;
    nd.max_gap = max_gap;
    nd.leaf = nd.atom = false;
    set_series(nd, series, kIndexTerms, false);
    nd.next = static_cast<std::uint32_t>(end - o.start + 1);
  };
  emit_leaf(0);
  for (std::size_t i = 1; i < n_leaves; ++i) {
    const GapBucket& pa = buckets[i - 1];
    const GapBucket& pb = buckets[i];
    const Cell ca = cell_of(pa), cb = cell_of(pb);
    const double lo_b = cb.lo;
    const int lambda = std::max({common_level(ca.lo, cb.lo), ca.level, cb.level});
    std::size_t x_start = index.size() - 1;  // the finished subtree just before leaf i
    while (!open.empty() && open.back().level < lambda) {
      const Open done = open.back();
      open.pop_back();
      // Its parent: the next open node if that one is at or below lambda, else the node
      // about to be opened at lambda.
      const int parent_level = !open.empty() && open.back().level <= lambda ? open.back().level : lambda;
      x_start = done.start;
      emit_internal(done, parent_level);
    }
    if (open.empty() || open.back().level > lambda) open.push_back({lambda, dyadic_floor(lo_b, lambda), x_start});
    emit_leaf(i);
  }
  while (!open.empty()) {
    const Open done = open.back();
    open.pop_back();
    emit_internal(done, open.empty() ? 2000 : open.back().level);  // the root is always kept
  }
  // `next` becomes where the node's subtree begins: the walk goes on from there backwards.
  for (std::size_t p = 0; p < index.size(); ++p) index[p].next = static_cast<std::uint32_t>(p + 1 - index[p].next);
}

// ------------------------------------------------------------------ builder

namespace {
// Element-wise vector arithmetic (GCC/Clang vector extension): every lane is rounded as the
// scalar operation would be, so the SSE2 and AVX2 versions of the loop give identical bits.
typedef double Vec4 __attribute__((vector_size(32)));
typedef double Vec2 __attribute__((vector_size(16)));
}  // namespace

// Power sums of one bucket (or one side of a grid point), four per vector, with its smallest
// gap and negated largest gap in the two lanes after the last power (one packed min updates
// both): [P_0..P_3] [P_4..P_7] [min -max . .] with kShortRowPowers, [P_0..P_3] [P_4..P_7]
// [P_8 P_9 min -max] with kRowPowers, and [P_0..P_3] [P_4..P_7] [P_8..P_11] [P_12 P_13 min -max]
// with kPowers.
struct alignas(64) GapMeasureBuilder::Accumulator {
  Vec4 v[4];
};

namespace {
constexpr std::uint32_t kUnopened = 0xFFFFFFFFu;
/// Where min and -max sit for P power sums: lanes minmax_lane(P) and the next of vector
/// minmax_vector(P), right after P_{P-1}.
constexpr int minmax_vector(int powers) { return powers / 4; }
constexpr int minmax_lane(int powers) { return powers % 4; }
static_assert(minmax_lane(kShortRowPowers) <= 2 && minmax_lane(kRowPowers) <= 2 && minmax_lane(kPowers) <= 2);
static_assert(minmax_vector(kPowers) < 4);
/// 0, 1, 2 for kShortRowPowers, kRowPowers, kPowers.
constexpr int powers_index(int powers) { return powers == kShortRowPowers ? 0 : powers == kRowPowers ? 1 : 2; }
}  // namespace

struct GapMeasureBuilder::Slot {
  double split = std::numeric_limits<double>::infinity();  ///< the grid point inside, if one
  std::uint32_t acc = 0;                 ///< index of the first accumulator
  std::uint32_t grid_count = kUnopened;  ///< grid points t_j with lo <= t_j < hi (kUnopened: no gap yet)
};

GapMeasureBuilder::GapMeasureBuilder(double max_score, Options options)
    : max_(max_score), options_(std::move(options)) {
  if (!std::isfinite(max_score)) throw std::invalid_argument("row maximum is not finite");
  if (!std::is_sorted(options_.t_grid.begin(), options_.t_grid.end()))
    throw std::invalid_argument("gap grid must be ascending");
  if (options_.powers != kPowers && options_.powers != kRowPowers && options_.powers != kShortRowPowers)
    throw std::invalid_argument("GapMeasureBuilder: powers must be kPowers, kRowPowers or kShortRowPowers");
  if (options_.near_capacity == 0) {
    near_threshold_ = 0;  // near is empty and complete below 0
    near_truncated_ = true;
  } else {
    near_.reserve(3 * options_.near_capacity + 1);
  }
  acc_.reserve(512);
}
GapMeasureBuilder::~GapMeasureBuilder() = default;
GapMeasureBuilder::GapMeasureBuilder(GapMeasureBuilder&&) noexcept = default;
GapMeasureBuilder& GapMeasureBuilder::operator=(GapMeasureBuilder&&) noexcept = default;

GapMeasureBuilder::Slot& GapMeasureBuilder::slot_of(std::uint64_t key) {
  if (key - key_base_ < slots_.size()) return slots_[key - key_base_];
  // Grow the dense table to cover `key`, with eight octaves of slack on the growing side.
  const std::uint64_t slack = 8 * kPerOctave;
  std::uint64_t lo = slots_.empty() ? key : std::min(key_base_, key);
  std::uint64_t hi = slots_.empty() ? key + 1 : std::max<std::uint64_t>(key_base_ + slots_.size(), key + 1);
  if (key < key_base_ || slots_.empty()) lo = lo > slack ? lo - slack : 0;
  if (key >= key_base_ + slots_.size() || slots_.empty()) hi = std::min(hi + slack, kKeyLimit);
  std::vector<Slot> grown(hi - lo);
  for (std::size_t i = 0; i < slots_.size(); ++i) grown[key_base_ - lo + i] = slots_[i];
  slots_ = std::move(grown);
  key_base_ = lo;
  return slots_[key - key_base_];
}

namespace {
/// Index of the first t[i] >= x in the ascending t[0..n), without a branch per step (the
/// slots of a row open in random order, so a branching search mispredicts every step).
std::size_t first_not_below(const double* t, std::size_t n, double x) {
  const double* base = t;
  while (n > 1) {
    const std::size_t half = n / 2;
    base += static_cast<std::size_t>(base[half - 1] < x) * half;  // arithmetic, not a branch
    n -= half;
  }
  return static_cast<std::size_t>(base - t) + (n == 1 && *base < x ? 1 : 0);
}
}  // namespace

GapMeasureBuilder::Accumulator GapMeasureBuilder::empty_accumulator(int powers) {
  Accumulator empty;
  for (auto& vec : empty.v) vec = Vec4{0, 0, 0, 0};
  empty.v[minmax_vector(powers)][minmax_lane(powers)] = std::numeric_limits<double>::infinity();
  empty.v[minmax_vector(powers)][minmax_lane(powers) + 1] = -0.0;
  return empty;
}

void GapMeasureBuilder::open_slot(Slot& slot, std::uint64_t key) {
  const auto& t = options_.t_grid;
  const double lo = bucket_lo(key), hi = bucket_lo(key + 1);
  const std::size_t first = first_not_below(t.data(), t.size(), lo);
  std::size_t last = first;
  while (last < t.size() && t[last] < hi) ++last;  // grid points in [lo, hi): rarely more than one
  slot.grid_count = static_cast<std::uint32_t>(last - first);
  slot.split = slot.grid_count > 0 ? t[first] : std::numeric_limits<double>::infinity();
  slot.acc = static_cast<std::uint32_t>(acc_.size());
  lowest_key_ = std::min(lowest_key_, key);
  // An empty accumulator: zero sums, min = +inf and -max = -0.
  static const Accumulator kEmpty[3] = {empty_accumulator(kShortRowPowers), empty_accumulator(kRowPowers),
                                        empty_accumulator(kPowers)};
  acc_.resize(acc_.size() + 1 + slot.grid_count, kEmpty[powers_index(options_.powers)]);
}

/// The accumulator of a gap in a slot that is not opened yet or holds several grid points.
std::size_t GapMeasureBuilder::accumulator_of(Slot& slot, std::uint64_t key, double gap) {
  if (slot.grid_count == kUnopened) open_slot(slot, key);
  std::size_t a = slot.acc;
  if (slot.grid_count == 0) return a;
  const auto& t = options_.t_grid;
  const double* first = t.data() + first_not_below(t.data(), t.size(), bucket_lo(key));
  for (std::uint32_t k = 0; k < slot.grid_count; ++k) a += gap > first[k] ? 1 : 0;
  return a;
}

template <int P>
[[gnu::always_inline]] inline void GapMeasureBuilder::accumulate(Accumulator& acc, std::uint64_t bits, double gap,
                                                                 double weight) {
  static_assert(P == kPowers || P == kRowPowers || P == kShortRowPowers);
  // v in [-1, 1): the bits below the key, exactly (gap - centre)/half_width.
  const double v = static_cast<double>(bits & kLowMask) * kLowScale - 1.0;
  const double v2 = v * v;
  const double v4 = v2 * v2;
  const Vec4 q0 = Vec4{weight, weight * v, weight * v2, (weight * v) * v2};
  const Vec4 s4 = Vec4{v4, v4, v4, v4};
  const Vec4 q1 = q0 * s4;
  acc.v[0] += q0;
  acc.v[1] += q1;
  if constexpr (P == kShortRowPowers) {
    // min and -max in the low half of the third vector: one packed min.
    Vec2 t;
    std::memcpy(&t, &acc.v[2], sizeof t);
    const Vec2 g = Vec2{gap, -gap};
    t = g < t ? g : t;
    std::memcpy(&acc.v[2], &t, sizeof t);
    return;
  }
  const Vec4 s8 = s4 * s4;
  const Vec4 q2 = q0 * s8;
  constexpr int last = minmax_vector(P);
  static_assert(P == kShortRowPowers || minmax_lane(P) == 2);
  Vec4 tail_sum;
  if constexpr (P == kPowers) {
    acc.v[2] += q2;
    tail_sum = acc.v[3] + q1 * s8;
  } else {
    tail_sum = acc.v[2] + q2;
  }
  // Lanes 0-1 take the sums, lanes 2-3 the running min of (gap, -gap).
  const Vec4 g = Vec4{gap, -gap, gap, -gap};
  const Vec4 t = acc.v[last];
  const Vec4 tail_min = g < t ? g : t;
  acc.v[last] = __builtin_shufflevector(tail_sum, tail_min, 0, 1, 6, 7);
}

template <int P>
void GapMeasureBuilder::add_positive(double gap, double weight) {
  const std::uint64_t bits = std::bit_cast<std::uint64_t>(gap);
  const std::uint64_t key = bits >> kShift;
  Slot& slot = slot_of(key);
  std::size_t a = slot.acc + (gap > slot.split ? 1 : 0);
  if (slot.grid_count > 1) a = accumulator_of(slot, key, gap);
  accumulate<P>(acc_[a], bits, gap, weight);
}

void GapMeasureBuilder::bad_gap(double gap) const {
  throw std::invalid_argument("gap must be positive and finite (score above the maximum, or overflow), got " +
                              std::to_string(gap));
}

void GapMeasureBuilder::add_gap(double gap) {
  if (gap == 0.0) {
    m_ += 1;
  } else {
    if (!(gap > 0) || !(gap <= std::numeric_limits<double>::max())) bad_gap(gap);
    if (options_.powers == kShortRowPowers) add_positive<kShortRowPowers>(gap, 1.0);
    else if (options_.powers == kRowPowers) add_positive<kRowPowers>(gap, 1.0);
    else add_positive<kPowers>(gap, 1.0);
    if (gap < near_threshold_) near_add(gap);
  }
  total_ += 1;
}

template <int P>
[[gnu::always_inline]] inline void GapMeasureBuilder::add_scores_loop(std::span<const double> s) {
  // The hot loop keeps the builder's state in locals (the compiler cannot tell that the
  // accumulator stores leave it unchanged) and reloads them after the rare slow paths.
  const double mx = max_;
  double threshold = near_threshold_;
  const std::size_t near_full = 3 * options_.near_capacity;  // near_ has this capacity reserved
  Slot* slots = slots_.data();
  std::uint64_t n_slots = slots_.size(), base = key_base_;
  for (const double x : s) {
    const double gap = mx - x;
    const std::uint64_t bits = std::bit_cast<std::uint64_t>(gap);
    // Positive and finite: 0 < bits < the pattern of +inf (negative, NaN and inf fail).
    if (bits - 1 >= 0x7FEFFFFFFFFFFFFFULL) [[unlikely]] {
      if (gap == 0) m_ += 1;
      else bad_gap(gap);
      continue;
    }
    const std::uint64_t key = bits >> kShift;
    if (key - base >= n_slots) [[unlikely]] {
      slot_of(key);
      slots = slots_.data();
      n_slots = slots_.size();
      base = key_base_;
    }
    Slot& slot = slots[key - base];
    std::size_t a = slot.acc + (gap > slot.split ? 1 : 0);
    if (slot.grid_count > 1) [[unlikely]] a = accumulator_of(slot, key, gap);
    accumulate<P>(acc_.data()[a], bits, gap, 1.0);
    if (gap < threshold) [[unlikely]] {
      near_.push_back(gap);
      if (near_.size() >= near_full) {
        near_shrink();
        threshold = near_threshold_;
      }
    }
  }
}

// The loop is cloned for AVX2 (selected at load time); the lanes compute the same bits.
BETACRIT_CLONE_AVX2
void GapMeasureBuilder::add_scores(std::span<const double> s) {
  if (options_.powers == kShortRowPowers) add_scores_loop<kShortRowPowers>(s);
  else if (options_.powers == kRowPowers) add_scores_loop<kRowPowers>(s);
  else add_scores_loop<kPowers>(s);
  total_ += static_cast<double>(s.size());
}

void GapMeasureBuilder::add_weighted_gap(double gap, double weight) {
  if (!(weight > 0) || !std::isfinite(weight)) throw std::invalid_argument("gap weight must be positive and finite");
  if (gap == 0.0) {
    m_ += weight;
  } else {
    if (!(gap > 0) || !(gap <= std::numeric_limits<double>::max())) bad_gap(gap);
    weighted_.emplace_back(gap, weight);  // an exact atom of its own (finish), never a Taylor bucket
  }
  total_ += weight;
}

void GapMeasureBuilder::near_add(double gap) {
  near_.push_back(gap);
  if (near_.size() >= 3 * options_.near_capacity) near_shrink();
}

/// Lowers the near threshold and drops the gaps at or above it. Every gap below the old
/// threshold is in near_, so any new threshold keeps near_ complete below it.
BETACRIT_CLONE_AVX2
void GapMeasureBuilder::near_shrink() {
  const std::size_t k = options_.near_capacity;
  if (near_.size() <= k) return;
  // Only unit-weight gaps enter the buckets (weighted ones are atoms of their own), so the
  // bucket counts are counts of the gaps near_ collects.
  double threshold;
  {
    // The bucket counts say where the K-th smallest gap lies: the first bucket at which the
    // cumulative count reaches K. Its upper end is the threshold (its lower end when that
    // would keep more than 3K/2 gaps). Cheaper than a selection over near_.
    double cum = 0;
    threshold = near_threshold_;
    const double kk = static_cast<double>(k);
    // Slots below the lowest opened one are empty: start there.
    for (std::size_t i = static_cast<std::size_t>(lowest_key_ - key_base_); i < slots_.size(); ++i) {
      const Slot& slot = slots_[i];
      if (slot.grid_count == kUnopened) continue;
      double w = 0;
      for (std::uint32_t j = 0; j <= slot.grid_count; ++j) w += acc_[slot.acc + j].v[0][0];
      if (cum + w >= kk) {
        const std::uint64_t key = key_base_ + i;
        threshold = std::min(threshold, cum + w <= 1.5 * kk ? bucket_lo(key + 1) : bucket_lo(key));
        break;
      }
      cum += w;
    }
    std::size_t kept = 0;
    for (const double x : near_) {
      near_[kept] = x;
      kept += x < threshold ? 1 : 0;
    }
    near_.resize(kept);
  }
  near_threshold_ = threshold;
  near_truncated_ = true;
}

/// Sorts `near_` ascending: a counting sort by bucket key, then each bucket's few gaps by
/// insertion (std::sort for a crowded bucket or a very wide key range).
BETACRIT_CLONE_AVX2
void GapMeasureBuilder::sort_near() {
  auto& v = near_;
  if (v.size() < 2) return;
  std::uint64_t kmin = ~std::uint64_t{0}, kmax = 0;
  for (const double x : v) {
    const std::uint64_t k = std::bit_cast<std::uint64_t>(x) >> kShift;
    kmin = std::min(kmin, k);
    kmax = std::max(kmax, k);
  }
  const std::uint64_t range = kmax - kmin + 1;
  if (range > 4 * v.size() + 1024) {
    std::sort(v.begin(), v.end());
    return;
  }
  std::vector<std::uint32_t> start(range + 1, 0);
  for (const double x : v) ++start[(std::bit_cast<std::uint64_t>(x) >> kShift) - kmin + 1];
  for (std::size_t k = 1; k <= range; ++k) start[k] += start[k - 1];
  std::vector<double> out(v.size());
  std::vector<std::uint32_t> fill(start.begin(), start.end() - 1);
  for (const double x : v) out[fill[(std::bit_cast<std::uint64_t>(x) >> kShift) - kmin]++] = x;
  for (std::size_t k = 0; k < range; ++k) {
    double* first = out.data() + start[k];
    double* last = out.data() + start[k + 1];
    if (last - first > 32) {
      std::sort(first, last);
      continue;
    }
    for (double* i = first + 1; i < last; ++i) {
      const double x = *i;
      double* j = i;
      for (; j > first && *(j - 1) > x; --j) *j = *(j - 1);
      *j = x;
    }
  }
  v = std::move(out);
}

BETACRIT_CLONE_AVX2
GapMeasure GapMeasureBuilder::finish(double log_n) {
  if (near_truncated_) near_shrink();  // the final counts may lower the threshold further
  GapMeasure g;
  g.n = total_;
  g.log_n = log_n;
  g.m = m_;
  g.bucket_powers = options_.powers;
  g.buckets.reserve(acc_.size());
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    const Slot& slot = slots_[i];
    if (slot.grid_count == kUnopened) continue;
    const std::uint64_t key = key_base_ + i;
    const double lo = bucket_lo(key), hi = bucket_lo(key + 1);
    const int powers = options_.powers, mv = minmax_vector(powers), ml = minmax_lane(powers);
    for (std::uint32_t k = 0; k <= slot.grid_count; ++k) {
      const Accumulator& a = acc_[slot.acc + k];
      if (!(a.v[0][0] > 0)) continue;
      GapBucket b;
      b.center = 0.5 * (lo + hi);
      b.half_width = 0.5 * (hi - lo);
      b.min_gap = a.v[mv][ml];
      b.max_gap = -a.v[mv][ml + 1];
      for (int j = 0; j < powers; ++j) b.power[static_cast<std::size_t>(j)] = a.v[j / 4][j % 4];
      g.buckets.push_back(b);
    }
  }
  if (!weighted_.empty()) {
    // Weighted gaps are exact atoms (centre = the gap, half-width 0), merged into the
    // ascending order of min_gap that sums() and accumulation_search rely on.
    std::sort(weighted_.begin(), weighted_.end());
    std::vector<GapBucket> merged;
    merged.reserve(g.buckets.size() + weighted_.size());
    auto it = g.buckets.begin();
    for (std::size_t i = 0; i < weighted_.size();) {
      const double gap = weighted_[i].first;
      double w = 0;
      for (; i < weighted_.size() && weighted_[i].first == gap; ++i) w += weighted_[i].second;
      for (; it != g.buckets.end() && it->min_gap <= gap; ++it) merged.push_back(*it);
      GapBucket atom;
      atom.center = gap;
      atom.half_width = 0;
      atom.min_gap = atom.max_gap = gap;
      atom.power[0] = w;
      merged.push_back(atom);
    }
    merged.insert(merged.end(), it, g.buckets.end());
    g.buckets = std::move(merged);
    near_threshold_ = std::min(near_threshold_, weighted_.front().first);
    near_truncated_ = true;
  }
  sort_near();
  g.near = std::move(near_);
  g.near_complete_below = near_truncated_ ? near_threshold_ : std::numeric_limits<double>::infinity();
  // N_n(t_j): every bucket lies on one side of every grid point (split buckets), so the
  // count is the weight of the buckets whose largest gap is <= t_j.
  g.t_grid = options_.t_grid;
  g.count_at_t.assign(g.t_grid.size(), 0.0);
  double c = 0;
  std::size_t bi = 0;
  for (std::size_t j = 0; j < g.t_grid.size(); ++j) {
    while (bi < g.buckets.size() && g.buckets[bi].max_gap <= g.t_grid[j]) c += g.buckets[bi++].weight();
    g.count_at_t[j] = c;
  }
  g.build_index();
  return g;
}

}  // namespace betacrit
