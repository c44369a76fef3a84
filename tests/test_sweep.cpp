// The sweep driver: reproducibility across thread counts and completion orders, mergeable
// accumulators, sweep_half_mass, closed forms through the driver, checkpoint round trips.
#include "analysis/statistics.hpp"
#include "models/model.hpp"
#include "sim/h5.hpp"
#include "sim/store.hpp"
#include "sim/sweep.hpp"

#include <boost/random/normal_distribution.hpp>
#include <boost/random/uniform_int_distribution.hpp>
#include <catch2/catch.hpp>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <filesystem>
#include <map>
#include <numeric>

using namespace betacrit;

namespace {

ModelEntry entry(const std::string& type, const ParamValues& params, const std::string& label = "") {
  ModelEntry e;
  e.type = type;
  e.label = label.empty() ? type : label;
  e.params = params;
  e.model = std::shared_ptr<const Model>(make_model(type, params));
  return e;
}

RunConfig base_config(std::vector<ModelEntry> models, std::vector<std::uint64_t> n, std::uint64_t rows) {
  RunConfig cfg;
  cfg.name = "test";
  cfg.seed = 20260512;
  cfg.rows = rows;
  cfg.n = n;
  for (auto v : n) cfg.log2_n.push_back(std::log2(static_cast<double>(v)));
  for (int b = 0; b < 12; ++b) cfg.beta_grid.push_back(0.05 * std::pow(2.0, 0.6 * b));
  cfg.observables.assign(kAllObservables.begin(), kAllObservables.end());
  cfg.estimators = {Estimator::accumulation, Estimator::half_mass, Estimator::entropy_fraction,
                    Estimator::sweep_half_mass};
  cfg.gaps_t_max = 3.0;
  cfg.gaps_count = 7;
  cfg.models = std::move(models);
  cfg.text = "{\"test\": true}";
  return cfg;
}

bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::bit_cast<std::uint64_t>(a[i]) != std::bit_cast<std::uint64_t>(b[i])) return false;
  return true;
}

void require_identical(const SweepResults& a, const SweepResults& b) {
  REQUIRE(a.models.size() == b.models.size());
  for (std::size_t m = 0; m < a.models.size(); ++m) {
    const ModelResults &x = a.models[m], &y = b.models[m];
    CAPTURE(m);
    CHECK(same_bits(x.beta, y.beta));
    CHECK(same_bits(x.gap_mean_count, y.gap_mean_count));
    REQUIRE(x.obs.size() == y.obs.size());
    for (std::size_t k = 0; k < x.obs.size(); ++k) {
      CAPTURE(k);
      CHECK(same_bits(x.obs[k].mean, y.obs[k].mean));
      CHECK(same_bits(x.obs[k].sem, y.obs[k].sem));
      CHECK(same_bits(x.obs[k].rows, y.obs[k].rows));
    }
    REQUIRE(x.critical.size() == y.critical.size());
    for (std::size_t e = 0; e < x.critical.size(); ++e) {
      CAPTURE(e);
      CHECK(same_bits(x.critical[e].values, y.critical[e].values));
      CHECK(same_bits(x.critical[e].summary, y.critical[e].summary));
      CHECK(x.critical[e].notes == y.critical[e].notes);
    }
  }
}

std::string temp_file(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("betacrit-test-" + std::to_string(::getpid()) + "-" + name)).string();
}

/// Every dataset of a file, read as doubles, by path.
void collect(const h5::Group& g, std::map<std::string, std::vector<double>>& out) {
  for (const std::string& name : g.children()) {
    H5O_info_t info;
    REQUIRE(H5Oget_info_by_name(g.id(), name.c_str(), &info, H5P_DEFAULT) >= 0);
    if (info.type == H5O_TYPE_GROUP) {
      collect(g.open_group(name), out);
      continue;
    }
    const h5::Dataset d = g.open_dataset(name);
    out[d.path()] = d.read<double>().data;
  }
}

RunConfig reproducibility_config() {
  auto cfg = base_config({entry("gaussian", {}), entry("gumbel", {{"scale", 0.5}}, "gumbel-half"),
                          entry("sparse_gap", {{"noise", 0.3}, {"signals", 2}})},
                         {64, 1000, 20000}, 40);
  cfg.store_rows = true;
  return cfg;
}
/// Small blocks (a few rows per unit) so that cells have many units.
constexpr std::uint64_t kSmallUnits = std::uint64_t{1} << 14;

}  // namespace

TEST_CASE("Welford accumulators merge like a single pass", "[sweep][accumulator]") {
  Engine eng(7);
  boost::random::normal_distribution<double> normal(3.0, 2.0);
  std::vector<double> x(1000);
  for (double& v : x) v = normal(eng) * normal(eng);
  long double mean = 0;
  for (double v : x) mean += v;
  mean /= static_cast<long double>(x.size());
  long double ss = 0;
  for (double v : x) ss += (v - mean) * (v - mean);
  const long double var = ss / static_cast<long double>(x.size() - 1);

  Welford single;
  for (double v : x) single.add(v);
  CHECK(single.count == x.size());
  CHECK(std::fabs(single.mean - static_cast<double>(mean)) < 1e-12 * std::fabs(static_cast<double>(mean)) + 1e-14);
  CHECK(std::fabs(single.variance() / static_cast<double>(var) - 1) < 1e-12);
  CHECK(std::fabs(single.sem() / std::sqrt(static_cast<double>(var) / 1000.0) - 1) < 1e-12);

  boost::random::uniform_int_distribution<std::size_t> cut(0, x.size());
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<std::size_t> cuts = {0, x.size(), cut(eng), cut(eng), cut(eng), cut(eng)};
    std::sort(cuts.begin(), cuts.end());
    Welford merged;
    for (std::size_t c = 0; c + 1 < cuts.size(); ++c) {
      Welford part;
      for (std::size_t i = cuts[c]; i < cuts[c + 1]; ++i) part.add(x[i]);
      merged.merge(part);
    }
    CHECK(merged.count == x.size());
    CHECK(std::fabs(merged.mean - static_cast<double>(mean)) < 1e-12 * std::fabs(static_cast<double>(mean)) + 1e-14);
    CHECK(std::fabs(merged.variance() / static_cast<double>(var) - 1) < 1e-12);
  }
  // Merging into an empty accumulator copies exactly; merging an empty one changes nothing.
  Welford empty, copy = single;
  empty.merge(single);
  CHECK(std::bit_cast<std::uint64_t>(empty.mean) == std::bit_cast<std::uint64_t>(single.mean));
  CHECK(std::bit_cast<std::uint64_t>(empty.m2) == std::bit_cast<std::uint64_t>(single.m2));
  copy.merge(Welford{});
  CHECK(copy.m2 == single.m2);
  CHECK(std::isnan(Welford{}.sem()));
}

TEST_CASE("sweep_half_mass interpolates in log beta and is NaN when not bracketed", "[sweep][sweep_half_mass]") {
  // y linear in log beta: the interpolation is exact, beta_1/2 = exp((1/2 - a)/s).
  const double a = 0.3, s = 0.1;
  std::vector<double> beta = {8.0, 0.5, 1.0, 2.0, 4.0, 16.0};  // deliberately unsorted
  std::vector<double> y(beta.size()), sem(beta.size(), 0.01);
  for (std::size_t i = 0; i < beta.size(); ++i) y[i] = a + s * std::log(beta[i]);
  const auto h = sweep_half_mass(beta, y, sem);
  CHECK(h.note.empty());
  CHECK(std::fabs(h.beta / std::exp((0.5 - a) / s) - 1) < 1e-13);
  // delta method: SEM of log beta = sem_y / slope in log beta.
  CHECK(std::fabs(h.sem_log / (0.01 / s) - 1) < 1e-12);

  // A curve that is not linear: the result is between the bracketing grid points.
  std::vector<double> b2 = {0.1, 0.2, 0.4, 0.8, 1.6};
  std::vector<double> y2 = {0.05, 0.2, 0.45, 0.9, 0.99};
  const auto h2 = sweep_half_mass(b2, y2, std::vector<double>(5, 0.0));
  CHECK(h2.beta > 0.4);
  CHECK(h2.beta < 0.8);
  const double t = (0.5 - 0.45) / (0.9 - 0.45);
  CHECK(std::fabs(std::log(h2.beta) - (std::log(0.4) + t * std::log(2.0))) < 1e-14);

  const auto below = sweep_half_mass(b2, std::vector<double>{0.1, 0.2, 0.3, 0.4, 0.49}, y2);
  CHECK(std::isnan(below.beta));
  CHECK_THAT(below.note, Catch::Contains("not bracketed") && Catch::Contains("below 1/2"));
  const auto above = sweep_half_mass(b2, std::vector<double>{0.5, 0.6, 0.7, 0.8, 0.9}, y2);
  CHECK(std::isnan(above.beta));
  CHECK_THAT(above.note, Catch::Contains("not bracketed") && Catch::Contains("smallest beta"));
  const auto zero = sweep_half_mass(std::vector<double>{0.0, 1.0}, std::vector<double>{0.1, 0.9}, y2);
  CHECK(std::isnan(zero.beta));
  CHECK_THAT(zero.note, Catch::Contains("beta = 0"));
}

TEST_CASE("sparse_gap with noise 0 gives the closed forms through the driver", "[sweep][closed-form]") {
  const double delta0 = 0.7, m = 2;
  for (double a_exp : {0.0, 1.0}) {
    auto cfg = base_config({entry("sparse_gap", {{"gap", delta0}, {"gap_exponent", a_exp}, {"signals", m}})},
                           {5, 100, 5000, 300000}, 3);
    const Sweep probe(cfg);
    Sweep sweep(cfg);
    sweep.run(2);
    const SweepResults r = sweep.results(2);
    const ModelResults& mr = r.models[0];
    const std::size_t B = cfg.beta_grid.size(), R = cfg.rows;
    const auto t = cfg.gap_grid();
    for (std::size_t i = 0; i < cfg.n.size(); ++i) {
      const double n = static_cast<double>(cfg.n[i]);
      const double delta = delta0 / std::pow(std::log(n), a_exp);
      CAPTURE(a_exp, n);
      for (std::size_t b = 0; b < B; ++b) {
        const double beta = cfg.beta_grid[b];
        REQUIRE(mr.beta[i * B + b] == beta);
        const double s0 = m + (n - m) * std::exp(-beta * delta);
        // obs order = kAllObservables: entropy, norm_entropy, max_weight, top_mass, ...
        CHECK(std::fabs(mr.obs[2].mean[i * B + b] * s0 - 1) < 1e-12);
        CHECK(std::fabs(mr.obs[3].mean[i * B + b] * s0 / m - 1) < 1e-12);
        CHECK(mr.obs[2].sem[i * B + b] == 0);  // every row is the same row
      }
      const double closed = std::log((n - m) / m) / delta;
      for (std::size_t row = 0; row < R; ++row) {
        CHECK(std::fabs(mr.critical[0].values[i * R + row] / closed - 1) < 1e-12);  // accumulation
        CHECK(std::fabs(mr.critical[1].values[i * R + row] / closed - 1) < 1e-12);  // half_mass
      }
      CHECK(std::fabs(mr.critical[0].summary[i * 5] / closed - 1) < 1e-12);  // median
      for (std::size_t j = 0; j < t.size(); ++j) CHECK(mr.gap_mean_count[i * t.size() + j] == (t[j] >= delta ? n - m : 0));
    }
  }
}

TEST_CASE("sweep_half_mass through the driver matches the closed-form curve", "[sweep][closed-form]") {
  // m = 1, noise 0: mean max_weight y(beta) = 1/(1 + (n-1) e^{-beta delta}) exactly, so the
  // log-beta interpolation between the bracketing grid points is known in closed form; the
  // true crossing log(n-1)/delta lies inside the bracket.
  auto cfg = base_config({entry("sparse_gap", {{"gap", 1.0}})}, {50, 4000}, 2);
  cfg.beta_grid.clear();
  for (int b = 0; b < 40; ++b) cfg.beta_grid.push_back(0.5 * std::pow(1.1, b));
  Sweep sweep(cfg);
  sweep.run(1);
  const auto r = sweep.results(1);
  const auto& shm = r.models[0].critical[3];
  REQUIRE(shm.which == Estimator::sweep_half_mass);
  for (std::size_t i = 0; i < 2; ++i) {
    const double n = static_cast<double>(cfg.n[i]);
    auto y = [&](double beta) { return 1.0 / (1.0 + (n - 1) * std::exp(-beta)); };
    std::size_t hi = 0;
    while (y(cfg.beta_grid[hi]) < 0.5) ++hi;
    const double b0 = cfg.beta_grid[hi - 1], b1 = cfg.beta_grid[hi];
    const double t = (0.5 - y(b0)) / (y(b1) - y(b0));
    const double expected = std::exp(std::log(b0) + t * (std::log(b1) - std::log(b0)));
    CAPTURE(n);
    CHECK(shm.notes[i].empty());
    CHECK(std::fabs(shm.values[i] / expected - 1) < 1e-12);
    CHECK(b0 < std::log(n - 1));
    CHECK(std::log(n - 1) < b1);
    CHECK(shm.summary[i * 5 + 4] == 0);  // identical rows: no uncertainty
  }
}

TEST_CASE("results are bit-identical for 1 and 2 threads and any completion order", "[sweep][reproducible]") {
  const RunConfig cfg = reproducibility_config();
  const RunPlan plan = RunPlan::make(cfg, kSmallUnits);
  REQUIRE(plan.units.size() > 100);  // many blocks per cell
  Sweep one(cfg, plan), two(cfg, plan);
  one.run(1);
  two.run(2);
  const SweepResults r1 = one.results(1), r2 = two.results(2);
  require_identical(r1, r2);
  // Another block size only regroups the same rows: per-row values are the same.
  Sweep coarse(cfg);
  coarse.run(2);
  const SweepResults rc = coarse.results(2);
  for (std::size_t m = 0; m < rc.models.size(); ++m) {
    CHECK(same_bits(rc.models[m].critical[0].values, r1.models[m].critical[0].values));
    CHECK(same_bits(rc.models[m].obs[0].rows, r1.models[m].obs[0].rows));
  }

  // Publishing the units in reverse order gives the same state and results.
  RunState reversed = RunState::empty(cfg, plan);
  RowScratch scratch;
  for (auto it = plan.units.rbegin(); it != plan.units.rend(); ++it)
    reversed.publish(cfg, plan, *it, compute_unit(cfg, plan, *it, scratch));
  require_identical(r1, finalize(cfg, plan, reversed, 2));

  // The invariant beta_acc <= beta_half holds row by row.
  for (const auto& mr : r1.models)
    for (std::size_t k = 0; k < mr.critical[0].values.size(); ++k)
      CHECK(mr.critical[0].values[k] <= mr.critical[1].values[k] * (1 + 1e-12));

  // The files written from both runs hold the same datasets, bit for bit.
  const std::string f1 = temp_file("t1.h5"), f2 = temp_file("t2.h5");
  store::write_snapshot(f1, cfg, one.plan(), one.snapshot(), &r1, "2000-01-01T00:00:00Z");
  store::write_snapshot(f2, cfg, two.plan(), two.snapshot(), &r2, "2000-01-01T00:00:00Z");
  std::map<std::string, std::vector<double>> d1, d2;
  collect(h5::File::open(f1), d1);
  collect(h5::File::open(f2), d2);
  REQUIRE(d1.size() == d2.size());
  REQUIRE(d1.count("/models/gaussian/obs/entropy/rows") == 1);
  for (const auto& [path, values] : d1) {
    CAPTURE(path);
    REQUIRE(d2.count(path) == 1);
    CHECK(same_bits(values, d2[path]));
  }
  std::filesystem::remove(f1);
  std::filesystem::remove(f2);
}

TEST_CASE("a checkpoint round-trips and resuming from it equals an uninterrupted run", "[sweep][resume]") {
  const RunConfig cfg = reproducibility_config();
  const RunPlan plan = RunPlan::make(cfg, kSmallUnits);
  Sweep full(cfg, plan);
  full.run(2);
  const SweepResults expected = full.results(2);

  // A partial state with units finished out of order (so some are pending, not merged).
  RunState partial = RunState::empty(cfg, plan);
  RowScratch scratch;
  for (std::size_t k = 0; k < plan.units.size(); ++k)
    if (k % 3 != 1) partial.publish(cfg, plan, plan.units[k], compute_unit(cfg, plan, plan.units[k], scratch));
  REQUIRE_FALSE(partial.complete());
  bool some_pending = false;
  for (const auto& mc : partial.cells)
    for (const auto& c : mc) some_pending = some_pending || !c.pending.empty();
  REQUIRE(some_pending);

  const std::string path = temp_file("checkpoint.h5");
  store::write_snapshot(path, cfg, plan, partial, nullptr, "2000-01-01T00:00:00Z");
  CHECK_FALSE(h5::File::open(path).bool_attr("complete"));
  store::Checkpoint cp = store::read_checkpoint(path, cfg, plan);
  CHECK_FALSE(cp.complete);
  CHECK(cp.created_utc == "2000-01-01T00:00:00Z");
  CHECK(cp.state.units_done() == partial.units_done());

  Sweep resumed(cfg, plan, std::move(cp.state));
  CHECK(resumed.done_units() == partial.units_done());
  resumed.run(2);
  require_identical(expected, resumed.results(1));

  // Another config text or another plan is refused with a message naming the file.
  RunConfig other = cfg;
  other.text = "{\"test\": false}";
  CHECK_THROWS_AS(store::read_checkpoint(path, other, plan), store::ResumeError);
  CHECK_THROWS_WITH(store::read_checkpoint(path, other, plan), Catch::Contains(path) && Catch::Contains("different config"));
  RunConfig more_rows = cfg;
  more_rows.rows = cfg.rows + 50;
  CHECK_THROWS_WITH(store::read_checkpoint(path, more_rows, RunPlan::make(more_rows, kSmallUnits)),
                    Catch::Contains("plan"));
  CHECK_THROWS_WITH(store::read_checkpoint(path, cfg, RunPlan::make(cfg)), Catch::Contains("plan"));
  std::filesystem::remove(path);
}

TEST_CASE("the plan cuts rows into blocks that do not depend on threads", "[sweep][plan]") {
  const RunConfig cfg = base_config({entry("gaussian", {})}, {64, std::uint64_t{1} << 22}, 10);
  const RunPlan plan = RunPlan::make(cfg);
  // n = 2^22: one row per unit; n = 64: all ten rows in one unit.
  REQUIRE(plan.cells[0][0].unit_count == 1);
  REQUIRE(plan.cells[0][1].unit_count == 10);
  // Most expensive units first.
  for (std::size_t k = 1; k < plan.schedule.size(); ++k)
    CHECK(plan.units[plan.schedule[k - 1]].cost() >= plan.units[plan.schedule[k]].cost());
  std::uint64_t rows = 0;
  for (const auto& u : plan.units) rows += u.rows();
  CHECK(rows == 20);
}
