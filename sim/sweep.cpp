#include "sim/sweep.hpp"
#include "sim/format.hpp"

#include "analysis/statistics.hpp"
#include "sim/estimators.hpp"
#include "sim/tail_row.hpp"

#include <omp.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <exception>
#include <limits>
#include <numeric>
#include <sstream>
#include <stdexcept>

namespace betacrit {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string fmt(double v) { return format_number(v, 6); }
}  // namespace

// ---------------------------------------------------------------------- Welford

void Welford::merge(const Welford& o) {
  if (o.count == 0) return;
  if (count == 0) {
    *this = o;
    return;
  }
  const double na = static_cast<double>(count), nb = static_cast<double>(o.count);
  const double n = na + nb;
  const double d = o.mean - mean;
  mean += d * (nb / n);
  m2 += o.m2 + d * d * (na * nb / n);
  count += o.count;
}

double Welford::variance() const { return count < 2 ? kNaN : m2 / static_cast<double>(count - 1); }

double Welford::sem() const { return count < 2 ? kNaN : std::sqrt(variance() / static_cast<double>(count)); }

void UnitSums::merge(const UnitSums& o) {
  if (obs.size() != o.obs.size() || gaps.size() != o.gaps.size())
    throw std::logic_error("merging accumulators of different shapes");
  for (std::size_t i = 0; i < obs.size(); ++i) obs[i].merge(o.obs[i]);
  for (std::size_t i = 0; i < gaps.size(); ++i) gaps[i].merge(o.gaps[i]);
}

// ---------------------------------------------------------------------- RunPlan

RunPlan RunPlan::make(const RunConfig& cfg, std::uint64_t scores_per_unit) {
  RunPlan plan;
  SweepLayout& L = plan.layout;
  L.channels = cfg.observables;
  L.requested_observables = cfg.observables.size();
  const auto mw = std::find(L.channels.begin(), L.channels.end(), Observable::max_weight);
  L.max_weight_channel = static_cast<std::size_t>(mw - L.channels.begin());
  if (mw == L.channels.end()) L.channels.push_back(Observable::max_weight);
  for (Estimator e : cfg.estimators) {
    if (e == Estimator::sweep_half_mass)
      L.sweep_half_mass = true;
    else
      L.row_estimators.push_back(e);
  }
  L.beta_count = cfg.beta_grid.size();
  L.gap_count = cfg.gap_grid().size();
  if (cfg.rows == 0) throw std::invalid_argument("rows must be >= 1");
  if (L.beta_count == 0) throw std::invalid_argument("the beta grid is empty");

  plan.cells.resize(cfg.models.size());
  for (std::size_t m = 0; m < cfg.models.size(); ++m) {
    const ModelEntry& me = cfg.models[m];
    for (std::size_t i = 0; i < cfg.log2_n.size(); ++i) {
      PlanCell c;
      c.tail = me.mode == RowMode::tail;
      c.log2_n = cfg.log2_n[i];
      std::uint64_t row_cost = 0;
      if (c.tail) {
        c.log_n = c.log2_n * std::log(2.0);
        c.n = cfg.n.size() == cfg.log2_n.size() ? cfg.n[i] : 0;
        c.n_key = std::bit_cast<std::uint64_t>(c.log2_n);
        c.domain = 1;
        row_cost = kTailRowCost + kRowOverhead;
      } else {
        if (cfg.n.size() != cfg.log2_n.size())
          throw std::invalid_argument("model '" + me.label + "' runs in exact mode but the row lengths are not all integers");
        c.n = cfg.n[i];
        if (c.n < me.model->min_n())
          throw std::invalid_argument("model '" + me.label + "' needs n >= " + std::to_string(me.model->min_n()) +
                                      ", got " + std::to_string(c.n));
        c.log_n = std::log(static_cast<double>(c.n));
        c.n_key = c.n;
        c.domain = 0;
        row_cost = c.n + kRowOverhead;
      }
      c.block_rows = std::max<std::uint64_t>(1, scores_per_unit / row_cost);
      c.beta.resize(L.beta_count);
      for (std::size_t b = 0; b < L.beta_count; ++b) c.beta[b] = swept_beta(cfg, *me.model, cfg.beta_grid[b], c.log_n);
      c.first_unit = plan.units.size();
      for (std::uint64_t r = 0, block = 0; r < cfg.rows; r += c.block_rows, ++block) {
        WorkUnit u;
        u.model = m;
        u.n_index = i;
        u.block = block;
        u.row_begin = r;
        u.row_end = std::min<std::uint64_t>(cfg.rows, r + c.block_rows);
        u.row_cost = row_cost;
        plan.total_cost += u.cost();
        plan.units.push_back(u);
      }
      c.unit_count = plan.units.size() - c.first_unit;
      plan.cells[m].push_back(std::move(c));
    }
  }
  plan.schedule.resize(plan.units.size());
  std::iota(plan.schedule.begin(), plan.schedule.end(), std::size_t{0});
  std::stable_sort(plan.schedule.begin(), plan.schedule.end(),
                   [&](std::size_t a, std::size_t b) { return plan.units[a].cost() > plan.units[b].cost(); });
  return plan;
}

std::string RunPlan::fingerprint() const {
  std::ostringstream os;
  os << "units=" << units.size() << ";channels=";
  for (Observable o : layout.channels) os << observable_name(o) << ',';
  os << ";estimators=";
  for (Estimator e : layout.row_estimators) os << estimator_name(e) << ',';
  os << ";B=" << layout.beta_count << ";T=" << layout.gap_count << ";cells=";
  for (const auto& model_cells : cells)
    for (const PlanCell& c : model_cells) os << c.block_rows << 'x' << c.unit_count << (c.tail ? "t" : "") << ',';
  return os.str();
}

// ----------------------------------------------------------------- compute_unit

UnitResult compute_unit(const RunConfig& cfg, const RunPlan& plan, const WorkUnit& u, RowScratch& scratch,
                        std::atomic<std::uint64_t>* progress) {
  const ModelEntry& me = cfg.models[u.model];
  const PlanCell& c = plan.cell(u);
  const SweepLayout& L = plan.layout;
  const std::size_t B = L.beta_count, K = L.channels.size(), O = L.requested_observables, T = L.gap_count;
  const std::size_t E = L.row_estimators.size();
  const std::size_t rows = static_cast<std::size_t>(u.rows());

  RowSettings settings;
  settings.t_grid = cfg.gap_grid();
  UnitResult r;
  r.sums.obs.resize(K * B);
  r.sums.gaps.resize(T);
  r.estimates.assign(E * rows, kNaN);
  if (cfg.store_rows) r.obs_rows.resize(rows * O * B);
  std::vector<double> values(B * K);

  for (std::size_t i = 0; i < rows; ++i) {
    const std::uint64_t row = u.row_begin + i;
    try {
      const Engine start = row_engine(cfg.seed, me.label, c.n_key, row, c.domain);
      const MeasuredRow mr = c.tail ? measure_tail_row(*me.model, c.log2_n, start, settings)
                                    : measure_row(*me.model, c.n, start, settings, scratch);
      evaluate_observables(mr.gaps, c.beta, L.channels, values);
      for (std::size_t k = 0; k < K; ++k)
        for (std::size_t b = 0; b < B; ++b) r.sums.obs[k * B + b].add(values[b * K + k]);
      if (cfg.store_rows)
        for (std::size_t k = 0; k < O; ++k)
          for (std::size_t b = 0; b < B; ++b) r.obs_rows[(i * O + k) * B + b] = values[b * K + k];
      for (std::size_t e = 0; e < E; ++e) {
        double v = kNaN;
        switch (L.row_estimators[e]) {
          case Estimator::accumulation: v = mr.accumulation; break;
          case Estimator::half_mass: v = half_mass(mr.gaps); break;
          case Estimator::entropy_fraction: v = entropy_fraction(mr.gaps, cfg.entropy_fraction); break;
          case Estimator::sweep_half_mass: break;
        }
        r.estimates[e * rows + i] = v;
      }
      if (mr.gaps.count_at_t.size() != T) throw std::logic_error("row measured on a different gap grid");
      for (std::size_t j = 0; j < T; ++j) r.sums.gaps[j].add(mr.gaps.count_at_t[j]);
    } catch (const std::exception& ex) {
      std::ostringstream os;
      os << "model '" << me.label << "', ";
      if (c.tail)
        os << "log2 n = " << c.log2_n;
      else
        os << "n = " << c.n;
      os << ", row " << row << ": " << ex.what();
      throw std::runtime_error(os.str());
    }
    if (progress != nullptr) progress->fetch_add(u.row_cost, std::memory_order_relaxed);
  }
  return r;
}

// --------------------------------------------------------------------- RunState

RunState RunState::empty(const RunConfig& cfg, const RunPlan& plan) {
  const SweepLayout& L = plan.layout;
  RunState s;
  s.cells.resize(plan.cells.size());
  for (std::size_t m = 0; m < plan.cells.size(); ++m) {
    for (const PlanCell& c : plan.cells[m]) {
      CellState cs;
      cs.merged.obs.resize(L.channels.size() * L.beta_count);
      cs.merged.gaps.resize(L.gap_count);
      cs.unit_done.assign(c.unit_count, 0);
      cs.estimates.assign(L.row_estimators.size() * cfg.rows, kNaN);
      if (cfg.store_rows) cs.obs_rows.assign(cfg.rows * L.requested_observables * L.beta_count, kNaN);
      s.cells[m].push_back(std::move(cs));
    }
  }
  return s;
}

void RunState::publish(const RunConfig& cfg, const RunPlan& plan, const WorkUnit& u, UnitResult&& r) {
  CellState& cs = cells[u.model][u.n_index];
  const SweepLayout& L = plan.layout;
  const std::size_t rows = static_cast<std::size_t>(u.rows());
  const std::size_t R = static_cast<std::size_t>(cfg.rows);
  for (std::size_t e = 0; e < L.row_estimators.size(); ++e)
    std::copy_n(r.estimates.begin() + static_cast<std::ptrdiff_t>(e * rows), rows,
                cs.estimates.begin() + static_cast<std::ptrdiff_t>(e * R + u.row_begin));
  if (cfg.store_rows)
    std::copy(r.obs_rows.begin(), r.obs_rows.end(),
              cs.obs_rows.begin() + static_cast<std::ptrdiff_t>(u.row_begin * L.requested_observables * L.beta_count));
  cs.unit_done[u.block] = 1;
  cs.pending.emplace(u.block, std::move(r.sums));
  // Merge in block order only: the result does not depend on the order units finish in.
  while (!cs.pending.empty() && cs.pending.begin()->first == cs.merged_units) {
    cs.merged.merge(cs.pending.begin()->second);
    cs.pending.erase(cs.pending.begin());
    ++cs.merged_units;
  }
}

std::size_t RunState::units_done() const {
  std::size_t n = 0;
  for (const auto& mc : cells)
    for (const auto& c : mc) n += static_cast<std::size_t>(std::count(c.unit_done.begin(), c.unit_done.end(), 1));
  return n;
}

bool RunState::complete() const {
  for (const auto& mc : cells)
    for (const auto& c : mc)
      if (c.merged_units != c.unit_done.size()) return false;
  return true;
}

// --------------------------------------------------------------- sweep_half_mass

SweepHalfMass sweep_half_mass(std::span<const double> beta, std::span<const double> y, std::span<const double> sem) {
  SweepHalfMass out{kNaN, kNaN, ""};
  if (beta.empty()) {
    out.note = "not bracketed: empty beta grid";
    return out;
  }
  std::vector<std::size_t> order(beta.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return beta[a] < beta[b]; });
  std::size_t pos = 0;
  while (pos < order.size() && !(y[order[pos]] >= 0.5)) ++pos;
  if (pos == order.size()) {
    const std::size_t last = order.back();
    out.note = "not bracketed: the mean max_weight stays below 1/2 up to the largest beta (" + fmt(beta[last]) +
               ", mean max_weight " + fmt(y[last]) + ")";
    return out;
  }
  if (pos == 0) {
    const std::size_t first = order.front();
    out.note = "not bracketed: the mean max_weight is already >= 1/2 at the smallest beta (" + fmt(beta[first]) +
               ", mean max_weight " + fmt(y[first]) + ")";
    return out;
  }
  const std::size_t lo = order[pos - 1], hi = order[pos];
  if (!(beta[lo] > 0)) {
    out.note = "not bracketed in log beta: the lower bracketing grid point is beta = 0";
    return out;
  }
  const double l0 = std::log(beta[lo]), l1 = std::log(beta[hi]);
  const double t = (0.5 - y[lo]) / (y[hi] - y[lo]);
  out.beta = std::exp(l0 + t * (l1 - l0));
  const double sem_y = (1 - t) * sem[lo] + t * sem[hi];
  out.sem_log = sem_y * (l1 - l0) / (y[hi] - y[lo]);
  return out;
}

std::uint64_t summary_bootstrap_seed(std::uint64_t seed, const std::string& label, const PlanCell& cell, Estimator e) {
  // Domains 2 (exact) and 3 (tail) keep these seeds apart from the row streams (0, 1).
  return row_stream_key(seed, label, cell.n_key, fnv1a64(estimator_name(e)), cell.domain + 2);
}

// ---------------------------------------------------------------------- finalize

SweepResults finalize(const RunConfig& cfg, const RunPlan& plan, const RunState& state, int threads) {
  if (!state.complete()) throw std::logic_error("finalize: the run is not complete");
  const SweepLayout& L = plan.layout;
  const std::size_t B = L.beta_count, T = L.gap_count, O = L.requested_observables;
  const std::size_t R = static_cast<std::size_t>(cfg.rows);
  SweepResults out;
  struct SummaryTask {
    std::size_t model, n_index, result, estimator_slot;
  };
  std::vector<SummaryTask> tasks;
  for (std::size_t m = 0; m < cfg.models.size(); ++m) {
    const auto& pcells = plan.cells[m];
    const auto& scells = state.cells[m];
    const std::size_t N = pcells.size();
    ModelResults mr;
    mr.beta.resize(N * B);
    for (std::size_t i = 0; i < N; ++i) std::copy(pcells[i].beta.begin(), pcells[i].beta.end(), mr.beta.begin() + static_cast<std::ptrdiff_t>(i * B));
    for (std::size_t k = 0; k < O; ++k) {
      ObservableResult o;
      o.which = L.channels[k];
      o.mean.resize(N * B);
      o.sem.resize(N * B);
      for (std::size_t i = 0; i < N; ++i)
        for (std::size_t b = 0; b < B; ++b) {
          const Welford& w = scells[i].merged.obs[k * B + b];
          o.mean[i * B + b] = w.mean;
          o.sem[i * B + b] = w.sem();
        }
      if (cfg.store_rows) {
        o.rows.resize(N * R * B);
        for (std::size_t i = 0; i < N; ++i)
          for (std::size_t r = 0; r < R; ++r)
            for (std::size_t b = 0; b < B; ++b) o.rows[(i * R + r) * B + b] = scells[i].obs_rows[(r * O + k) * B + b];
      }
      mr.obs.push_back(std::move(o));
    }
    for (Estimator e : cfg.estimators) {
      CriticalResult c;
      c.which = e;
      c.summary.assign(N * std::size(kCriticalSummaryColumns), kNaN);
      if (e == Estimator::sweep_half_mass) {
        c.values.resize(N);
        c.notes.resize(N);
        std::vector<double> y(B), sem(B);
        for (std::size_t i = 0; i < N; ++i) {
          for (std::size_t b = 0; b < B; ++b) {
            const Welford& w = scells[i].merged.obs[L.max_weight_channel * B + b];
            y[b] = w.mean;
            sem[b] = w.sem();
          }
          const SweepHalfMass h = sweep_half_mass(pcells[i].beta, y, sem);
          c.values[i] = h.beta;
          c.notes[i] = h.note;
          double* s = &c.summary[i * 5];
          s[0] = h.beta;
          s[1] = h.beta * std::exp(-1.959963984540054 * h.sem_log);
          s[2] = h.beta * std::exp(1.959963984540054 * h.sem_log);
          s[3] = std::log(h.beta);
          s[4] = h.sem_log;
        }
      } else {
        const auto slot = static_cast<std::size_t>(
            std::find(L.row_estimators.begin(), L.row_estimators.end(), e) - L.row_estimators.begin());
        c.values.resize(N * R);
        for (std::size_t i = 0; i < N; ++i) {
          std::copy_n(scells[i].estimates.begin() + static_cast<std::ptrdiff_t>(slot * R), R,
                      c.values.begin() + static_cast<std::ptrdiff_t>(i * R));
          tasks.push_back({m, i, mr.critical.size(), slot});
        }
      }
      mr.critical.push_back(std::move(c));
    }
    mr.gap_mean_count.resize(N * T);
    for (std::size_t i = 0; i < N; ++i)
      for (std::size_t j = 0; j < T; ++j) mr.gap_mean_count[i * T + j] = scells[i].merged.gaps[j].mean;
    out.models.push_back(std::move(mr));
  }
  // Bootstrap summaries: independent and individually seeded, so any thread count agrees.
#pragma omp parallel for schedule(dynamic, 1) num_threads(resolve_threads(threads))
  for (std::ptrdiff_t t = 0; t < static_cast<std::ptrdiff_t>(tasks.size()); ++t) {
    const SummaryTask& task = tasks[static_cast<std::size_t>(t)];
    CriticalResult& c = out.models[task.model].critical[task.result];
    const std::span<const double> values(c.values.data() + task.n_index * R, R);
    const std::uint64_t seed =
        summary_bootstrap_seed(cfg.seed, cfg.models[task.model].label, plan.cells[task.model][task.n_index], c.which);
    const CriticalSummary s = summarize_critical(values, seed);
    double* row = &c.summary[task.n_index * 5];
    row[0] = s.median;
    row[1] = s.median_lo;
    row[2] = s.median_hi;
    row[3] = s.mean_log;
    row[4] = s.sem_log;
  }
  return out;
}

// ------------------------------------------------------------------------ Sweep

int resolve_threads(int requested) { return requested > 0 ? requested : std::max(1, omp_get_max_threads()); }

Sweep::Sweep(const RunConfig& cfg, RunPlan plan)
    : cfg_(cfg), plan_(std::move(plan)), state_(RunState::empty(cfg, plan_)) {}

Sweep::Sweep(const RunConfig& cfg, RunPlan plan, RunState restored)
    : cfg_(cfg), plan_(std::move(plan)), state_(std::move(restored)) {
  if (state_.cells.size() != plan_.cells.size()) throw std::invalid_argument("restored state does not match the plan");
  for (std::size_t m = 0; m < plan_.cells.size(); ++m)
    if (state_.cells[m].size() != plan_.cells[m].size()) throw std::invalid_argument("restored state does not match the plan");
  std::size_t units = 0;
  for (const WorkUnit& u : plan_.units)
    if (state_.unit_done(u)) {
      restored_cost_ += u.cost();
      ++units;
    }
  done_cost_ = restored_cost_;
  done_units_ = units;
}

void Sweep::run(int threads) {
  std::vector<std::size_t> todo;
  for (std::size_t idx : plan_.schedule)
    if (!state_.unit_done(plan_.units[idx])) todo.push_back(idx);
  std::exception_ptr failure;
  std::atomic<bool> stop{false};
#pragma omp parallel num_threads(resolve_threads(threads))
  {
    RowScratch scratch;
#pragma omp for schedule(dynamic, 1)
    for (std::ptrdiff_t i = 0; i < static_cast<std::ptrdiff_t>(todo.size()); ++i) {
      if (stop.load(std::memory_order_relaxed) || stop_requested_.load(std::memory_order_relaxed)) continue;
      try {
        const WorkUnit& u = plan_.units[todo[static_cast<std::size_t>(i)]];
        UnitResult r = compute_unit(cfg_, plan_, u, scratch, &done_cost_);
        std::lock_guard lock(mutex_);
        state_.publish(cfg_, plan_, u, std::move(r));
        done_units_.fetch_add(1, std::memory_order_relaxed);
      } catch (...) {
        std::lock_guard lock(mutex_);
        if (!failure) failure = std::current_exception();
        stop = true;
      }
    }
  }
  if (failure) std::rethrow_exception(failure);
}

RunState Sweep::snapshot() const {
  std::lock_guard lock(mutex_);
  return state_;
}

bool Sweep::complete() const {
  std::lock_guard lock(mutex_);
  return state_.complete();
}

SweepResults Sweep::results(int threads) const {
  std::lock_guard lock(mutex_);
  return finalize(cfg_, plan_, state_, threads);
}

}  // namespace betacrit
