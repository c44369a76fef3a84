// Google Benchmark kernels of the row engine (docs/performance.md records the results):
//   engines     raw output and Boost's ziggurat normal for the engines of Boost 1.74
//   draw        the gaussian model's block draw (the draw-only limit of a row), and the
//               block normal draw per instruction-set variant
//   build       GapMeasure from an in-memory row whose maximum is known
//   observables all six observables of one row at B β (B = 1, 16, 256)
//   estimators  β_acc search, β_half, β_H(1/2)
//   measure_row a whole row, n = 2^10 … 2^27, and a row with its β sweep
#include "models/model.hpp"
#include "models/normal_block.hpp"
#include "sim/estimators.hpp"
#include "sim/gap_measure.hpp"
#include "sim/observables.hpp"
#include "sim/row_engine.hpp"

#include <benchmark/benchmark.h>
#include <boost/random/additive_combine.hpp>
#include <boost/random/lagged_fibonacci.hpp>
#include <boost/random/linear_congruential.hpp>
#include <boost/random/mersenne_twister.hpp>
#include <boost/random/normal_distribution.hpp>
#include <boost/random/ranlux.hpp>
#include <boost/random/taus88.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <vector>

using namespace betacrit;

namespace {

std::vector<double> log_grid(double lo, double hi, std::size_t count) {
  std::vector<double> b(count);
  for (std::size_t i = 0; i < count; ++i)
    b[i] = count == 1 ? lo : lo * std::pow(hi / lo, static_cast<double>(i) / static_cast<double>(count - 1));
  return b;
}

RowSettings default_settings() {
  RowSettings s;
  for (int j = 1; j <= 64; ++j) s.t_grid.push_back(4.0 * j / 64);  // the config default grid
  return s;
}

const Model& gaussian() {
  static const std::unique_ptr<Model> m = make_model("gaussian", {});
  return *m;
}

std::vector<double> gaussian_row(std::uint64_t n, std::uint64_t row = 0) {
  std::vector<double> s(n);
  Engine e = row_engine(7, "gaussian", n, row);
  for (std::uint64_t off = 0; off < n; off += RowScratch::kBlock) {
    const std::size_t len = static_cast<std::size_t>(std::min<std::uint64_t>(RowScratch::kBlock, n - off));
    gaussian().draw(e, n, off, std::span<double>(s.data() + off, len));
  }
  return s;
}

/// A measured gaussian row of length n (cached: rows are quenched across benchmarks).
const MeasuredRow& measured(std::uint64_t n) {
  static std::map<std::uint64_t, MeasuredRow> cache;
  auto it = cache.find(n);
  if (it == cache.end()) {
    RowScratch scratch;
    it = cache.emplace(n, measure_row(gaussian(), n, row_engine(7, "gaussian", n, 0), default_settings(), scratch))
             .first;
  }
  return it->second;
}

// ---------------------------------------------------------------- engines
template <class Eng>
void BM_EngineRaw(benchmark::State& state) {
  Eng eng(12345u);
  typename Eng::result_type acc{};
  for (auto _ : state) {
    for (int i = 0; i < 1024; ++i) acc += eng();
    benchmark::DoNotOptimize(acc);
  }
  state.SetItemsProcessed(state.iterations() * 1024);
}

template <class Eng>
void BM_EngineNormal(benchmark::State& state) {
  Eng eng(12345u);
  boost::random::normal_distribution<double> dist;
  std::vector<double> out(4096);
  for (auto _ : state) {
    for (double& x : out) x = dist(eng);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(out.size()));
}

#define ENGINE_BENCH(E)                                 \
  BENCHMARK_TEMPLATE(BM_EngineRaw, boost::random::E);   \
  BENCHMARK_TEMPLATE(BM_EngineNormal, boost::random::E)
ENGINE_BENCH(mt19937_64);
ENGINE_BENCH(mt19937);
ENGINE_BENCH(mt11213b);
ENGINE_BENCH(lagged_fibonacci607);
ENGINE_BENCH(lagged_fibonacci44497);
ENGINE_BENCH(ranlux24);
ENGINE_BENCH(ranlux64_4);
ENGINE_BENCH(taus88);
ENGINE_BENCH(ecuyer1988);
ENGINE_BENCH(minstd_rand);

// ---------------------------------------------------------------- draw
/// The gaussian model's block draw: the draw-only limit of one row (scores per second).
void BM_DrawGaussianBlock(benchmark::State& state) {
  const auto len = static_cast<std::size_t>(state.range(0));
  std::vector<double> block(len);
  Engine e = row_engine(7, "gaussian", len, 0);
  for (auto _ : state) {
    gaussian().draw(e, len, 0, block);
    benchmark::DoNotOptimize(block.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(len));
}
BENCHMARK(BM_DrawGaussianBlock)->Arg(1 << 10)->Arg(1 << 17);

/// The block normal draw behind it, per compiled variant (0 x86-64 baseline, 1 AVX2,
/// 2 AVX-512; skipped where the CPU lacks it), 2^17 draws.
void BM_NormalBlockVariant(benchmark::State& state) {
  const auto variant = static_cast<normal_block_detail::Variant>(state.range(0));
  if (!normal_block_detail::available(variant)) {
    state.SkipWithError("variant not available on this CPU");
    return;
  }
  std::vector<double> block(std::size_t{1} << 17);
  Engine e = row_engine(7, "gaussian", block.size(), 0);
  for (auto _ : state) {
    normal_block_detail::normal_block_with(variant, e, 0.0, 1.0, block);
    benchmark::DoNotOptimize(block.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(block.size()));
}
BENCHMARK(BM_NormalBlockVariant)->DenseRange(0, 2);

// ---------------------------------------------------------------- build
void BM_BuildGapMeasure(benchmark::State& state) {
  const auto n = static_cast<std::uint64_t>(state.range(0));
  const auto s = gaussian_row(n);
  const double mx = *std::max_element(s.begin(), s.end());
  const auto settings = default_settings();
  for (auto _ : state) {
    // as measure_row
    GapMeasureBuilder b(mx, {settings.near_capacity, settings.t_grid, row_powers(static_cast<double>(n))});
    b.add_scores(s);
    GapMeasure g = b.finish(std::log(static_cast<double>(n)));
    benchmark::DoNotOptimize(g.buckets.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(n));
  state.counters["buckets"] = static_cast<double>(measured(n).gaps.buckets.size());
}
BENCHMARK(BM_BuildGapMeasure)->RangeMultiplier(8)->Range(1 << 10, 1 << 19);

// ---------------------------------------------------------------- observables
/// All six observables at B β in [0.1, 8] (log spaced) on one measured row.
void BM_Observables(benchmark::State& state) {
  const auto n = static_cast<std::uint64_t>(state.range(0));
  const auto B = static_cast<std::size_t>(state.range(1));
  const GapMeasure& g = measured(n).gaps;
  const auto betas = log_grid(0.1, 8.0, B);
  std::vector<double> out(B * kAllObservables.size());
  for (auto _ : state) {
    evaluate_observables(g, betas, kAllObservables, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(B));  // β per second
}
BENCHMARK(BM_Observables)->ArgsProduct({{1 << 10, 1 << 20}, {1, 16, 256}});

/// S0 and β·S1 at one β (the inner kernel of observables and root finding).
void BM_Sums(benchmark::State& state) {
  const GapMeasure& g = measured(static_cast<std::uint64_t>(state.range(0))).gaps;
  double beta = 0.1;
  for (auto _ : state) {
    benchmark::DoNotOptimize(g.sums(beta));
    beta = beta < 8 ? beta * 1.07 : 0.1;
  }
}
BENCHMARK(BM_Sums)->Arg(1 << 10)->Arg(1 << 20);

// ---------------------------------------------------------------- estimators
void BM_AccumulationSearch(benchmark::State& state) {
  const GapMeasure& g = measured(static_cast<std::uint64_t>(state.range(0))).gaps;
  for (auto _ : state) benchmark::DoNotOptimize(accumulation_search(g).value);
}
BENCHMARK(BM_AccumulationSearch)->Arg(1 << 10)->Arg(1 << 20);

void BM_HalfMass(benchmark::State& state) {
  const GapMeasure& g = measured(static_cast<std::uint64_t>(state.range(0))).gaps;
  for (auto _ : state) benchmark::DoNotOptimize(half_mass(g));
}
BENCHMARK(BM_HalfMass)->Arg(1 << 10)->Arg(1 << 20);

void BM_EntropyFraction(benchmark::State& state) {
  const GapMeasure& g = measured(static_cast<std::uint64_t>(state.range(0))).gaps;
  for (auto _ : state) benchmark::DoNotOptimize(entropy_fraction(g, 0.5));
}
BENCHMARK(BM_EntropyFraction)->Arg(1 << 10)->Arg(1 << 20);

// ---------------------------------------------------------------- whole rows
/// measure_row alone (draw + GapMeasure + exact β_acc), n = 2^10 … 2^27.
void BM_MeasureRow(benchmark::State& state) {
  const auto n = std::uint64_t{1} << state.range(0);
  const auto settings = default_settings();
  RowScratch scratch;
  std::uint64_t row = 0;
  int passes = 0;
  for (auto _ : state) {
    const auto r = measure_row(gaussian(), n, row_engine(7, "gaussian", n, row++), settings, scratch);
    passes = std::max(passes, r.passes);
    benchmark::DoNotOptimize(r.accumulation);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(n));
  state.counters["passes"] = passes;
}
BENCHMARK(BM_MeasureRow)->DenseRange(10, 27, 1)->Unit(benchmark::kMillisecond);

/// One row as a sweep sees it: measure_row, the three row estimators and all six
/// observables at B β. The ratio B = 256 / B = 1 is the cost of the β sweep.
void BM_RowSweep(benchmark::State& state) {
  const auto n = std::uint64_t{1} << state.range(0);
  const auto B = static_cast<std::size_t>(state.range(1));
  const auto settings = default_settings();
  const auto betas = log_grid(0.1, 8.0, B);
  std::vector<double> out(B * kAllObservables.size());
  RowScratch scratch;
  std::uint64_t row = 0;
  for (auto _ : state) {
    const auto r = measure_row(gaussian(), n, row_engine(7, "gaussian", n, row++ % 64), settings, scratch);
    benchmark::DoNotOptimize(half_mass(r.gaps));
    benchmark::DoNotOptimize(entropy_fraction(r.gaps, 0.5));
    evaluate_observables(r.gaps, betas, kAllObservables, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(n));
}
BENCHMARK(BM_RowSweep)->ArgsProduct({{10, 14, 18, 20}, {1, 16, 256}})->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
