#include "sim/gap_measure.hpp"

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

// Contributions with β·Δ_min > log(weight) + kNegligible are below e^-60 relative to m >= 1.
constexpr double kNegligible = 60.0;

double bucket_lo(std::uint64_t key) { return std::bit_cast<double>(key << kShift); }

/// Adds the contribution of one bin (power sums about its centre) to S0 and β·S1.
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

double cutoff_for(double n) { return std::log(std::max(n, 1.0)) + kNegligible; }
}  // namespace

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

GapSums GapMeasure::sums(double beta) const {
  if (index.empty() || index_buckets != buckets.size()) return sums_from_buckets(beta);
  GapSums out{m, 0.0};
  const double cutoff = cutoff_for(n);
  // Preorder walk: a node fine enough for the series at β (or a bucket) is summed whole and
  // its subtree skipped; otherwise its children are visited. Nodes are in ascending gap
  // order, so the first node beyond the cutoff ends the walk.
  const std::size_t count = index.size();
  for (std::size_t i = 0; i < count;) {
    const GapIndexNode& node = index[i];
    if (beta * node.bin.min_gap > cutoff) break;
    if (node.leaf || beta * node.bin.half_width <= kTaylorMaxX) {
      add_bin(node.bin, beta, out);
      i = node.next;
    } else {
      ++i;
    }
  }
  return out;
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

/// Level L of the dyadic interval [k 2^L, (k+1) 2^L) of a bucket: 2·half_width = 2^L.
int level_of(const GapBucket& b) { return std::ilogb(b.half_width) + 1; }

/// Whether a bucket is a dyadic interval (power-of-two width, aligned), as the builder makes them.
bool is_dyadic(const GapBucket& b) {
  if (!(b.half_width > 0) || !std::isfinite(b.center)) return false;
  const int L = level_of(b);
  if (std::ldexp(1.0, L - 1) != b.half_width) return false;
  const double lo = b.center - b.half_width;
  return lo >= 0 && std::floor(std::ldexp(lo, -L)) == std::ldexp(lo, -L);
}

/// Smallest level L at which the positive (or zero) numbers a <= b share a dyadic interval.
int common_level(double a, double b) {
  if (a == b) return -1075;
  const auto ba = std::bit_cast<std::uint64_t>(a), bb = std::bit_cast<std::uint64_t>(b);
  const int ea = static_cast<int>(ba >> 52), eb = static_cast<int>(bb >> 52);
  if (ea != eb) return std::max(eb, 1) - 1023 + 1;  // a < 2^E_b <= b: only [0, 2^(E_b+1)) holds both
  const std::uint64_t diff = (ba ^ bb) & ((std::uint64_t{1} << 52) - 1);
  const int p = 63 - std::countl_zero(diff);
  return std::max(ea, 1) - 1023 - 52 + p + 1;
}

/// Adds the power sums of `child` (about its centre c, half width h) re-expressed about
/// (C, H) ⊇ (c, h) to `out`: Q_k = Σ w (a v + d)^k with a = h/H, d = (c - C)/H, through
/// R_{k,j} = Σ w (a v + d)^k (a v)^j = R_{k-1,j+1} + d R_{k-1,j}.
void add_recentered(const GapBucket& child, double C, double H, std::array<double, kPowers>& out) {
  const double a = child.half_width / H;
  const double d = (child.center - C) / H;
  std::array<double, kPowers> r;
  double aj = 1;
  for (int j = 0; j < kPowers; ++j) {
    r[j] = aj * child.power[j];
    aj *= a;
  }
  out[0] += r[0];
  for (int k = 1; k < kPowers; ++k) {
    for (int j = 0; j < kPowers - k; ++j) r[j] = r[j + 1] + d * r[j];
    out[k] += r[0];
  }
}

}  // namespace

void GapMeasure::build_index() {
  index.clear();
  index_buckets = buckets.size();
  const std::size_t n_leaves = buckets.size();
  if (n_leaves == 0) return;
  for (const auto& b : buckets)
    if (!is_dyadic(b)) {  // hand-made buckets: sums() reads them directly
      index_buckets = 0;
      return;
    }
  if (n_leaves > std::size_t{1} << 30) {
    index_buckets = 0;
    return;
  }
  // 1. The tree of the smallest dyadic intervals joining adjacent buckets (a Cartesian tree
  //    on the levels at which neighbours meet), built left to right with a stack holding
  //    the internal nodes on the rightmost path. Ids < n_leaves are buckets.
  struct Internal {
    int level;
    double lo;
  };
  std::vector<Internal> internal;
  const std::size_t max_nodes = 2 * n_leaves;
  std::vector<std::int32_t> first(max_nodes, -1), last(max_nodes, -1), next_sib(max_nodes, -1),
      prev_sib(max_nodes, -1);
  auto level_of_id = [&](std::size_t id) {
    return id < n_leaves ? level_of(buckets[id]) : internal[id - n_leaves].level;
  };
  auto append_child = [&](std::size_t parent, std::size_t child) {
    prev_sib[child] = last[parent];
    next_sib[child] = -1;
    if (last[parent] >= 0) next_sib[static_cast<std::size_t>(last[parent])] = static_cast<std::int32_t>(child);
    else first[parent] = static_cast<std::int32_t>(child);
    last[parent] = static_cast<std::int32_t>(child);
  };
  std::vector<std::size_t> stack;
  std::size_t root = 0;
  for (std::size_t i = 1; i < n_leaves; ++i) {
    const GapBucket& pa = buckets[i - 1];
    const GapBucket& pb = buckets[i];
    const int la = level_of(pa), lb = level_of(pb);
    const double lo_b = pb.center - pb.half_width;
    const int lambda = std::max({common_level(pa.center - pa.half_width, lo_b), la, lb});
    std::size_t x = i - 1;
    while (!stack.empty() && level_of_id(stack.back()) < lambda) {
      x = stack.back();
      stack.pop_back();
    }
    if (!stack.empty() && level_of_id(stack.back()) == lambda) {
      append_child(stack.back(), i);
      continue;
    }
    const std::size_t node = n_leaves + internal.size();
    internal.push_back({lambda, std::ldexp(std::floor(std::ldexp(lo_b, -lambda)), lambda)});
    // `node` takes x's place (x is the last child of the stack top, or the root).
    const std::size_t parent = stack.empty() ? max_nodes : stack.back();
    if (parent == max_nodes) {
      root = node;
    } else {
      const std::int32_t before = prev_sib[x];
      prev_sib[node] = before;
      if (before >= 0) next_sib[static_cast<std::size_t>(before)] = static_cast<std::int32_t>(node);
      else first[parent] = static_cast<std::int32_t>(node);
      last[parent] = static_cast<std::int32_t>(node);
    }
    prev_sib[x] = next_sib[x] = -1;
    append_child(node, x);
    append_child(node, i);
    stack.push_back(node);
  }
  // 2. Preorder layout with subtree ends.
  index.resize(n_leaves + internal.size());
  std::vector<std::size_t> order;  // preorder ids
  order.reserve(index.size());
  std::vector<std::size_t> dfs{root};
  while (!dfs.empty()) {
    const std::size_t id = dfs.back();
    dfs.pop_back();
    order.push_back(id);
    if (id >= n_leaves) {
      std::vector<std::size_t> kids;
      for (std::int32_t c = first[id]; c >= 0; c = next_sib[static_cast<std::size_t>(c)])
        kids.push_back(static_cast<std::size_t>(c));
      for (auto it = kids.rbegin(); it != kids.rend(); ++it) dfs.push_back(*it);
    }
  }
  // 3. Fill nodes from the last to the first: children come after their parent in preorder.
  std::vector<std::size_t> position(index.size());
  for (std::size_t p = 0; p < order.size(); ++p) position[order[p]] = p;
  for (std::size_t p = order.size(); p-- > 0;) {
    const std::size_t id = order[p];
    GapIndexNode& node = index[p];
    if (id < n_leaves) {
      node.bin = buckets[id];
      node.leaf = true;
      node.next = static_cast<std::uint32_t>(p + 1);
      continue;
    }
    const Internal& in = internal[id - n_leaves];
    GapBucket& bin = node.bin;
    bin.half_width = std::ldexp(1.0, in.level - 1);
    bin.center = in.lo + bin.half_width;
    bin.power.fill(0.0);
    std::size_t end = p + 1;
    for (std::int32_t c = first[id]; c >= 0; c = next_sib[static_cast<std::size_t>(c)]) {
      const GapIndexNode& child = index[position[static_cast<std::size_t>(c)]];
      add_recentered(child.bin, bin.center, bin.half_width, bin.power);
      bin.min_gap = std::min(bin.min_gap, child.bin.min_gap);
      bin.max_gap = std::max(bin.max_gap, child.bin.max_gap);
      end = child.next;
    }
    node.next = static_cast<std::uint32_t>(end);
  }
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
// both): [P_0..P_3] [P_4..P_7] [P_8 P_9 min -max] with kRowPowers, and
// [P_0..P_3] [P_4..P_7] [P_8..P_11] [P_12 P_13 min -max] with kPowers.
struct alignas(64) GapMeasureBuilder::Accumulator {
  Vec4 v[4];
};

namespace {
constexpr std::uint32_t kUnopened = 0xFFFFFFFFu;
/// Index of the vector holding min and -max for P power sums (lanes 2 and 3).
constexpr int last_vector(int powers) { return (powers - 1) / 4; }
}  // namespace

struct GapMeasureBuilder::Slot {
  double split = std::numeric_limits<double>::infinity();  ///< the grid point inside, if one
  std::uint32_t acc = 0;                 ///< index of the first accumulator
  std::uint32_t grid_count = kUnopened;  ///< grid points t_j with lo <= t_j < hi (kUnopened: no gap yet)
  std::uint32_t grid_first = 0;          ///< index of the first of them
};

GapMeasureBuilder::GapMeasureBuilder(double max_score, Options options)
    : max_(max_score), options_(std::move(options)) {
  if (!std::isfinite(max_score)) throw std::invalid_argument("row maximum is not finite");
  if (!std::is_sorted(options_.t_grid.begin(), options_.t_grid.end()))
    throw std::invalid_argument("gap grid must be ascending");
  if (options_.powers != kPowers && options_.powers != kRowPowers)
    throw std::invalid_argument("GapMeasureBuilder: powers must be kPowers or kRowPowers");
  if (options_.near_capacity == 0) {
    near_threshold_ = 0;  // near is empty and complete below 0
    near_truncated_ = true;
  } else {
    near_.reserve(2 * options_.near_capacity + 1);
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

void GapMeasureBuilder::open_slot(Slot& slot, std::uint64_t key) {
  const auto& t = options_.t_grid;
  const double lo = bucket_lo(key), hi = bucket_lo(key + 1);
  const auto first = std::lower_bound(t.begin(), t.end(), lo);
  const auto last = std::lower_bound(first, t.end(), hi);
  slot.grid_first = static_cast<std::uint32_t>(first - t.begin());
  slot.grid_count = static_cast<std::uint32_t>(last - first);
  slot.split = slot.grid_count > 0 ? *first : std::numeric_limits<double>::infinity();
  slot.acc = static_cast<std::uint32_t>(acc_.size());
  Accumulator empty;
  for (auto& vec : empty.v) vec = Vec4{0, 0, 0, 0};
  const double inf = std::numeric_limits<double>::infinity();
  empty.v[last_vector(options_.powers)] = Vec4{0, 0, inf, -0.0};
  acc_.resize(acc_.size() + 1 + slot.grid_count, empty);
}

template <int P>
[[gnu::always_inline]] inline void GapMeasureBuilder::add_positive(double gap, double weight) {
  static_assert(P == kPowers || P == kRowPowers);
  const std::uint64_t bits = std::bit_cast<std::uint64_t>(gap);
  const std::uint64_t key = bits >> kShift;
  std::uint64_t idx = key - key_base_;
  if (idx >= slots_.size()) [[unlikely]] {
    slot_of(key);
    idx = key - key_base_;
  }
  Slot& slot = slots_[idx];
  std::size_t a = slot.acc + (gap > slot.split ? 1 : 0);
  if (slot.grid_count > 1) [[unlikely]] {  // not opened yet, or several grid points inside
    if (slot.grid_count == kUnopened) open_slot(slot, key);
    a = slot.acc;
    for (std::uint32_t k = 0; k < slot.grid_count; ++k) a += gap > options_.t_grid[slot.grid_first + k] ? 1 : 0;
  }
  Accumulator& acc = acc_[a];
  // v in [-1, 1): the bits below the key, exactly (gap - centre)/half_width.
  const double v = static_cast<double>(bits & kLowMask) * kLowScale - 1.0;
  const double v2 = v * v;
  const double v4 = v2 * v2;
  const Vec4 q0 = Vec4{weight, weight * v, weight * v2, (weight * v) * v2};
  const Vec4 s4 = Vec4{v4, v4, v4, v4};
  const Vec4 q1 = q0 * s4;
  const Vec4 s8 = s4 * s4;
  const Vec4 q2 = q0 * s8;
  constexpr int last = last_vector(P);
  acc.v[0] += q0;
  acc.v[1] += q1;
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

void GapMeasureBuilder::bad_gap(double gap) const {
  throw std::invalid_argument("gap must be positive and finite (score above the maximum, or overflow), got " +
                              std::to_string(gap));
}

void GapMeasureBuilder::add_gap(double gap) {
  if (gap == 0.0) {
    m_ += 1;
  } else {
    if (!(gap > 0) || !(gap <= std::numeric_limits<double>::max())) bad_gap(gap);
    if (options_.powers == kRowPowers) add_positive<kRowPowers>(gap, 1.0);
    else add_positive<kPowers>(gap, 1.0);
    if (gap < near_threshold_) near_add(gap);
  }
  total_ += 1;
}

template <int P>
[[gnu::always_inline]] inline void GapMeasureBuilder::add_scores_loop(std::span<const double> s) {
  constexpr double kMax = std::numeric_limits<double>::max();
  for (const double x : s) {
    const double gap = max_ - x;
    if (gap > 0 && gap <= kMax) [[likely]] {
      add_positive<P>(gap, 1.0);
      if (gap < near_threshold_) near_add(gap);
    } else if (gap == 0) {
      m_ += 1;
    } else {
      bad_gap(gap);
    }
  }
}

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
// The loop is cloned for AVX2 (selected at load time); the lanes compute the same bits.
__attribute__((target_clones("default", "avx2")))
#endif
void GapMeasureBuilder::add_scores(std::span<const double> s) {
  if (options_.powers == kRowPowers) add_scores_loop<kRowPowers>(s);
  else add_scores_loop<kPowers>(s);
  total_ += static_cast<double>(s.size());
}

void GapMeasureBuilder::add_weighted_gap(double gap, double weight) {
  if (gap == 0.0) {
    m_ += weight;
  } else {
    if (!(gap > 0) || !(gap <= std::numeric_limits<double>::max())) bad_gap(gap);
    weighted_ = true;
    if (options_.powers == kRowPowers) add_positive<kRowPowers>(gap, weight);
    else add_positive<kPowers>(gap, weight);
  }
  total_ += weight;
}

void GapMeasureBuilder::near_add(double gap) {
  near_.push_back(gap);
  if (near_.size() >= 2 * options_.near_capacity) near_shrink();
}

/// Lowers the near threshold and drops the gaps at or above it. Every gap below the old
/// threshold is in near_, so any new threshold keeps near_ complete below it.
void GapMeasureBuilder::near_shrink() {
  const std::size_t k = options_.near_capacity;
  if (near_.size() <= k) return;
  double threshold;
  if (weighted_) {
    // Bucket weights include weighted gaps: select the K smallest exactly.
    std::nth_element(near_.begin(), near_.begin() + static_cast<std::ptrdiff_t>(k - 1), near_.end());
    threshold = near_[k - 1];
    near_.resize(k);
  } else {
    // The bucket counts say where the K-th smallest gap lies: the first bucket at which the
    // cumulative count reaches K. Its upper end is the threshold (its lower end when that
    // would keep more than 3K/2 gaps). Cheaper than a selection over near_.
    double cum = 0;
    threshold = near_threshold_;
    const double kk = static_cast<double>(k);
    for (std::size_t i = 0; i < slots_.size(); ++i) {
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
    const int powers = options_.powers, last = last_vector(powers);
    for (std::uint32_t k = 0; k <= slot.grid_count; ++k) {
      const Accumulator& a = acc_[slot.acc + k];
      if (!(a.v[0][0] > 0)) continue;
      GapBucket b;
      b.center = 0.5 * (lo + hi);
      b.half_width = 0.5 * (hi - lo);
      b.min_gap = a.v[last][2];
      b.max_gap = -a.v[last][3];
      for (int j = 0; j < powers; ++j) b.power[static_cast<std::size_t>(j)] = a.v[j / 4][j % 4];
      g.buckets.push_back(b);
    }
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
