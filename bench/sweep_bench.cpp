// betacrit_sweep_bench: the work of `betacrit run` on a config — every row of every
// (model, n) measured (measure_row), the row estimators accumulation, half_mass and
// entropy_fraction, and all six observables at every β, averaged over rows — with OpenMP
// over rows and nothing written. It stands in for `betacrit run` in bench/side_by_side.sh
// where the run command is not available, and gives the draw-only limit (--draw-only).
//
//   betacrit_sweep_bench CONFIG.json [--threads N] [--rows R] [--n N] [--betas B] [--draw-only]
//
// Supported config keys (the rest is ignored): seed, rows, n ({min,max,factor} or a list),
// beta ({min,max,count,spacing} or {values}; scale "none"), models[].type/label/params,
// entropy_fraction, gaps.t_max/count. The last line printed is
//   work: <Σ n·rows·B> scores*betas in <s> s = <rate> per s
#include "models/model.hpp"
#include "sim/estimators.hpp"
#include "sim/observables.hpp"
#include "sim/row_engine.hpp"

#include <nlohmann/json.hpp>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

using namespace betacrit;
using json = nlohmann::json;

namespace {

struct Args {
  std::string config;
  int threads = 0;
  long rows = -1, n = -1, betas = -1;
  bool draw_only = false;
};

[[noreturn]] void usage(const std::string& msg) {
  std::fprintf(stderr, "betacrit_sweep_bench: %s\n", msg.c_str());
  std::exit(2);
}

Args parse_args(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string s = argv[i];
    auto value = [&]() -> long {
      if (i + 1 >= argc) usage(s + ": needs a value");
      return std::stol(argv[++i]);
    };
    if (s == "--threads") a.threads = static_cast<int>(value());
    else if (s == "--rows") a.rows = value();
    else if (s == "--n") a.n = value();
    else if (s == "--betas") a.betas = value();
    else if (s == "--draw-only") a.draw_only = true;
    else if (!s.empty() && s[0] == '-') usage("unknown option " + s);
    else a.config = s;
  }
  if (a.config.empty()) usage("usage: betacrit_sweep_bench CONFIG.json [--threads N] [--rows R] [--n N] [--betas B] [--draw-only]");
  return a;
}

std::vector<std::uint64_t> parse_n(const json& j) {
  std::vector<std::uint64_t> ns;
  if (j.is_array()) {
    for (const auto& v : j) ns.push_back(v.get<std::uint64_t>());
    return ns;
  }
  const double lo = j.at("min").get<double>(), hi = j.at("max").get<double>();
  const double f = j.value("factor", 2.0);
  for (int k = 0;; ++k) {
    const double v = std::round(lo * std::pow(f, k));
    if (v > hi) break;
    if (ns.empty() || ns.back() != static_cast<std::uint64_t>(v)) ns.push_back(static_cast<std::uint64_t>(v));
  }
  return ns;
}

std::vector<double> parse_beta(const json& j, long count_override) {
  if (j.contains("values")) return j.at("values").get<std::vector<double>>();
  const double lo = j.at("min").get<double>(), hi = j.at("max").get<double>();
  const long count = count_override > 0 ? count_override : j.at("count").get<long>();
  const bool log_spacing = j.value("spacing", std::string("log")) == "log";
  std::vector<double> b(static_cast<std::size_t>(count));
  for (long i = 0; i < count; ++i) {
    const double t = count == 1 ? 0.0 : static_cast<double>(i) / static_cast<double>(count - 1);
    b[static_cast<std::size_t>(i)] = log_spacing ? lo * std::pow(hi / lo, t) : lo + (hi - lo) * t;
  }
  return b;
}

}  // namespace

int main(int argc, char** argv) try {
  const Args args = parse_args(argc, argv);
  std::ifstream in(args.config);
  if (!in) usage(args.config + ": cannot open");
  const json cfg = json::parse(in, nullptr, true, true);
  const auto seed = cfg.value("seed", std::uint64_t{0});
  const auto rows = static_cast<std::uint64_t>(args.rows > 0 ? args.rows : cfg.at("rows").get<long>());
  const auto ns = args.n > 0 ? std::vector<std::uint64_t>{static_cast<std::uint64_t>(args.n)} : parse_n(cfg.at("n"));
  const auto betas = parse_beta(cfg.at("beta"), args.betas);
  const double fraction = cfg.value("entropy_fraction", 0.5);
  RowSettings settings;
  {
    const json gaps = cfg.value("gaps", json::object());
    const double t_max = gaps.value("t_max", 4.0);
    const int count = gaps.value("count", 64);
    for (int j = 1; j <= count; ++j) settings.t_grid.push_back(t_max * j / count);
  }
  if (args.threads > 0) omp_set_num_threads(args.threads);
  const int threads = omp_get_max_threads();
  const std::size_t B = betas.size(), K = kAllObservables.size();

  double work = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (const auto& mj : cfg.at("models")) {
    const std::string type = mj.at("type").get<std::string>();
    const std::string label = mj.value("label", type);
    ParamValues params;
    for (const auto& [k, v] : mj.items())
      if (k != "type" && k != "label") params[k] = v.get<double>();
    const auto model = make_model(type, params);
    for (const std::uint64_t n : ns) {
      const auto t1 = std::chrono::steady_clock::now();
      // Per-row results in fixed slots, reduced in row order: independent of the thread count.
      std::vector<double> obs(args.draw_only ? 0 : rows * B * K);
      std::vector<double> crit(rows * 3, 0.0);
#pragma omp parallel
      {
        RowScratch scratch;
#pragma omp for schedule(dynamic, 1)
        for (std::uint64_t r = 0; r < rows; ++r) {
          Engine eng = row_engine(seed, label, n, r);
          if (args.draw_only) {
            double mx = -INFINITY;
            scratch.block.resize(static_cast<std::size_t>(std::min<std::uint64_t>(n, RowScratch::kBlock)));
            for (std::uint64_t off = 0; off < n; off += RowScratch::kBlock) {
              const auto len = static_cast<std::size_t>(std::min<std::uint64_t>(RowScratch::kBlock, n - off));
              std::span<double> out(scratch.block.data(), len);
              model->draw(eng, n, off, out);
              for (double x : out) mx = std::max(mx, x);
            }
            crit[r * 3] = mx;
            continue;
          }
          const MeasuredRow row = measure_row(*model, n, eng, settings, scratch);
          crit[r * 3 + 0] = row.accumulation;
          crit[r * 3 + 1] = half_mass(row.gaps);
          crit[r * 3 + 2] = entropy_fraction(row.gaps, fraction);
          evaluate_observables(row.gaps, betas, kAllObservables, std::span<double>(obs.data() + r * B * K, B * K));
        }
      }
      // Means over rows (row order) and medians of the estimators: a fingerprint of the numbers.
      std::vector<double> mean(B * K, 0.0);
      for (std::uint64_t r = 0; r < rows && !args.draw_only; ++r)
        for (std::size_t i = 0; i < B * K; ++i) mean[i] += obs[r * B * K + i] / static_cast<double>(rows);
      auto median = [&](int e) {
        std::vector<double> v;
        for (std::uint64_t r = 0; r < rows; ++r) v.push_back(crit[r * 3 + static_cast<std::uint64_t>(e)]);
        std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
        return v[v.size() / 2];
      };
      const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
      if (args.draw_only) {
        std::printf("%-12s n=%-10llu rows=%llu %8.3f s  draw only  median max %.10g\n", label.c_str(),
                    static_cast<unsigned long long>(n), static_cast<unsigned long long>(rows), dt, median(0));
      } else {
        const std::size_t mid = (B / 2) * K;
        std::printf("%-12s n=%-10llu rows=%llu %8.3f s  median beta_acc %.10g beta_half %.10g beta_H %.10g  "
                    "mean H(beta_mid) %.12g\n",
                    label.c_str(), static_cast<unsigned long long>(n), static_cast<unsigned long long>(rows), dt,
                    median(0), median(1), median(2), mean[mid]);
      }
      std::fflush(stdout);
      work += static_cast<double>(n) * static_cast<double>(rows) * static_cast<double>(B);
    }
  }
  const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("threads: %d\nwork: %.0f scores*betas in %.3f s = %.4g per s\n", threads, work, dt, work / dt);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "betacrit_sweep_bench: %s\n", e.what());
  return 2;
}
