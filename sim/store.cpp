#include "sim/store.hpp"

#include "analysis/statistics.hpp"
#include "betacrit_version.hpp"
#include "sim/h5.hpp"
#include "sim/tail_row.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <limits>

namespace betacrit::store {

namespace fs = std::filesystem;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr const char* kInvBeta = "1/score";  // β is in inverse score units

void describe(const h5::Object& o, const std::string& description, const std::string& units = "") {
  o.set_string_attr("description", description);
  if (!units.empty()) o.set_string_attr("units", units);
}

h5::Dims dims(std::initializer_list<std::size_t> d) { return h5::Dims(d); }

// ------------------------------------------------------------------ root attrs

void write_root(const h5::File& f, const RunConfig& cfg, const std::string& created_utc, bool complete) {
  f.set_string_attr("betacrit_version", BETACRIT_VERSION);
  f.set_int_attr("format_version", kFormatVersion);
  f.set_string_attr("name", cfg.name);
  f.set_string_attr("config", cfg.text);
  f.set_uint_attr("seed", cfg.seed);
  f.set_string_attr("rng", std::string(kEngineName) + "; streams: " + kStreamScheme +
                               "; domain 0 = exact rows, 1 = tail-mode rows (n key = bits of log2 n), "
                               "2/3 = bootstrap of the critical summaries");
  f.set_string_attr("created_utc", created_utc);
  f.set_bool_attr("complete", complete);
  f.set_int_attr("rows", static_cast<std::int64_t>(cfg.rows));
  f.set_string_attr("beta_scale", std::string(beta_scale_name(cfg.beta_scale)));
}

// ------------------------------------------------------------- final datasets

void write_model(const h5::Group& models, const RunConfig& cfg, const RunPlan& plan, std::size_t m,
                 const ModelResults& r) {
  const ModelEntry& me = cfg.models[m];
  const Model& model = *me.model;
  const auto& cells = plan.cells[m];
  const std::size_t N = cells.size(), B = plan.layout.beta_count, T = plan.layout.gap_count;
  const std::size_t R = static_cast<std::size_t>(cfg.rows);
  const h5::Group g = models.require_group(me.label);
  g.set_string_attr("type", me.type);
  g.set_string_attr("params", params_json(me));
  const TheoryLaw law = model.law();
  if (law.gamma) g.set_double_attr("law_gamma", *law.gamma);
  g.set_string_attr("law_formula", law.formula);
  g.set_string_attr("mode", std::string(row_mode_name(me.mode)));
  {
    // How each n was produced: tail mode draws short rows in full (exact).
    std::vector<std::string> row_mode(N);
    for (std::size_t i = 0; i < N; ++i)
      row_mode[i] = std::string(row_mode_name(cells[i].tail && !tail_row_drawn_in_full(cells[i].log2_n)
                                                  ? RowMode::tail
                                                  : RowMode::exact));
    g.set_strings_attr("row_mode", row_mode);
  }
  g.set_int_attr("rows", static_cast<std::int64_t>(cfg.rows));
  g.set_string_attr("beta_scale", std::string(beta_scale_name(cfg.beta_scale)));

  std::vector<double> log2_n(N);
  for (std::size_t i = 0; i < N; ++i) log2_n[i] = cells[i].log2_n;
  if (cfg.n.size() == N) {
    describe(g.write<std::uint64_t>("n", cfg.n, dims({N})), "row length n (number of scores per row)");
  }
  describe(g.write<double>("log2_n", log2_n, dims({N})), "log2 of the row length n");
  describe(g.write<double>("beta", r.beta, dims({N, B})),
           "inverse temperature beta actually swept, per row length (row i: beta = grid value * scale(n_i))",
           kInvBeta);
  if (cfg.beta_scale != BetaScale::none)
    describe(g.write<double>("c", cfg.beta_grid, dims({B})),
             "grid values c: beta = c * scale(n) with scale '" + std::string(beta_scale_name(cfg.beta_scale)) + "'",
             "1");

  for (const ObservableResult& o : r.obs) {
    const std::string name(observable_name(o.which));
    const std::string what(observable_description(o.which));
    const std::string units(observable_units(o.which));
    describe(g.write<double>("obs/" + name + "/mean", o.mean, dims({N, B})),
             "mean over rows of " + name + " at each (n, beta): " + what, units);
    describe(g.write<double>("obs/" + name + "/sem", o.sem, dims({N, B})),
             "standard error of the mean over rows (ddof = 1) of " + name, units);
    if (!o.rows.empty())
      describe(g.write<double>("obs/" + name + "/rows", o.rows, dims({N, R, B})),
               "per-row values of " + name + " [n, row, beta]", units);
    describe(g.open_group("obs/" + name), what, units);
  }

  std::vector<std::string> columns;
  for (auto c : kCriticalSummaryColumns) columns.emplace_back(c);
  for (const CriticalResult& c : r.critical) {
    const std::string name(estimator_name(c.which));
    const std::string what(estimator_description(c.which));
    if (c.which == Estimator::sweep_half_mass) {
      const h5::Dataset d = g.write<double>("critical/" + name, c.values, dims({N}));
      describe(d, "one value per row length: " + what, kInvBeta);
      d.set_strings_attr("notes", c.notes);
      const h5::Dataset s = g.write<double>("critical/" + name + "_summary", c.summary, dims({N, 5}));
      describe(s,
               "sweep_half_mass per n in the summary columns: median = the estimate, median_lo/median_hi = "
               "delta-method 95% interval from the SEM of the mean max_weight, mean_log = log of the estimate, "
               "sem_log = its delta-method standard error",
               kInvBeta);
      s.set_strings_attr("columns", columns);
    } else {
      describe(g.write<double>("critical/" + name, c.values, dims({N, R})), "per-row critical beta [n, row]: " + what,
               kInvBeta);
      const h5::Dataset s = g.write<double>("critical/" + name + "_summary", c.summary, dims({N, 5}));
      describe(s,
               "per n over rows: median with its 95% percentile-bootstrap interval (1000 resamples, seeded from "
               "the config seed), mean and standard error of log beta over the rows with beta > 0 (columns "
               "attribute); log columns are in log(1/score)",
               kInvBeta);
      s.set_strings_attr("columns", columns);
      s.set_int_attr("bootstrap_resamples", 1000);
    }
  }

  describe(g.write<double>("gaps/t", cfg.gap_grid(), dims({T})), "gap grid t of the gap-counting function", "score");
  describe(g.write<double>("gaps/mean_count", r.gap_mean_count, dims({N, T})),
           "mean over rows of N_n(t) = #{i : 0 < M - s_i <= t}, the competitors within gap t of the row maximum",
           "count");

  // Theory overlays, where the model knows them.
  std::vector<double> beta_star(N);
  bool have_star = true;
  for (std::size_t i = 0; i < N && have_star; ++i) {
    const auto b = model.theory_beta(cells[i].log_n);
    if (b)
      beta_star[i] = *b;
    else
      have_star = false;
  }
  if (have_star)
    describe(g.write<double>("theory/beta_star", beta_star, dims({N})),
             "theoretical beta*(n) of the model: " + law.formula, kInvBeta);
  constexpr std::size_t kCurve = 201;
  std::vector<double> cs(kCurve), h(kCurve);
  bool have_curve = true;
  for (std::size_t j = 0; j < kCurve && have_curve; ++j) {
    cs[j] = 2.0 * static_cast<double>(j) / static_cast<double>(kCurve - 1);
    const auto v = model.limit_norm_entropy(cs[j]);
    if (v)
      h[j] = *v;
    else
      have_curve = false;
  }
  if (have_curve) {
    describe(g.write<double>("theory/c", cs, dims({kCurve})), "c = beta / beta*(n) for the limiting curve", "1");
    describe(g.write<double>("theory/norm_entropy", h, dims({kCurve})),
             "limiting normalized entropy H/log n at beta = c beta*(n) as n -> infinity", "1");
  }
}

// ------------------------------------------------------------------- progress

void write_sums(const h5::Group& g, const std::string& where, const UnitSums& s, std::size_t K, std::size_t B,
                std::size_t T) {
  std::vector<std::uint64_t> count(s.obs.size());
  std::vector<double> mean(s.obs.size()), m2(s.obs.size());
  for (std::size_t i = 0; i < s.obs.size(); ++i) count[i] = s.obs[i].count, mean[i] = s.obs[i].mean, m2[i] = s.obs[i].m2;
  g.write<std::uint64_t>(where + "/obs_count", count, dims({K, B}));
  g.write<double>(where + "/obs_mean", mean, dims({K, B}));
  g.write<double>(where + "/obs_m2", m2, dims({K, B}));
  std::vector<std::uint64_t> gc(T);
  std::vector<double> gm(T), gm2(T);
  for (std::size_t j = 0; j < T; ++j) gc[j] = s.gaps[j].count, gm[j] = s.gaps[j].mean, gm2[j] = s.gaps[j].m2;
  g.write<std::uint64_t>(where + "/gaps_count", gc, dims({T}));
  g.write<double>(where + "/gaps_mean", gm, dims({T}));
  g.write<double>(where + "/gaps_m2", gm2, dims({T}));
}

void write_progress(const h5::File& f, const RunConfig& cfg, const RunPlan& plan, const RunState& state) {
  const SweepLayout& L = plan.layout;
  const std::size_t K = L.channels.size(), B = L.beta_count, T = L.gap_count, E = L.row_estimators.size();
  const std::size_t O = L.requested_observables, R = static_cast<std::size_t>(cfg.rows);
  const h5::Group p = f.require_group("/progress");
  p.set_string_attr("description",
                    "checkpoint of an unfinished run (docs/storage.md): finished work units per (model, n); "
                    "'betacrit run CONFIG --resume' continues from it");
  p.set_string_attr("plan", plan.fingerprint());
  p.set_int_attr("units_total", static_cast<std::int64_t>(plan.units.size()));
  p.set_int_attr("units_done", static_cast<std::int64_t>(state.units_done()));
  std::vector<std::string> channels;
  for (Observable o : L.channels) channels.emplace_back(observable_name(o));
  p.set_strings_attr("channels", channels);
  std::vector<std::string> estimators;
  for (Estimator e : L.row_estimators) estimators.emplace_back(estimator_name(e));
  p.set_strings_attr("row_estimators", estimators);
  for (std::size_t m = 0; m < cfg.models.size(); ++m) {
    for (std::size_t i = 0; i < plan.cells[m].size(); ++i) {
      const CellState& cs = state.cells[m][i];
      if (std::find(cs.unit_done.begin(), cs.unit_done.end(), 1) == cs.unit_done.end()) continue;
      const h5::Group g = p.require_group(cfg.models[m].label + "/" + std::to_string(i));
      g.set_int_attr("merged_units", static_cast<std::int64_t>(cs.merged_units));
      g.set_double_attr("log2_n", plan.cells[m][i].log2_n);
      g.write<std::uint8_t>("unit_done", cs.unit_done, dims({cs.unit_done.size()}));
      write_sums(g, "merged", cs.merged, K, B, T);
      for (const auto& [block, sums] : cs.pending) write_sums(g, "pending/" + std::to_string(block), sums, K, B, T);
      g.write<double>("estimates", cs.estimates, dims({E, R}));
      if (cfg.store_rows) g.write<double>("obs_rows", cs.obs_rows, dims({R, O, B}));
    }
  }
}

[[noreturn]] void mismatch(const std::string& path, const std::string& what) {
  throw ResumeError(path + ": " + what);
}

UnitSums read_sums(const h5::Group& g, const std::string& where, const std::string& path, std::size_t K, std::size_t B,
                   std::size_t T) {
  auto count = g.read<std::uint64_t>(where + "/obs_count");
  auto mean = g.read<double>(where + "/obs_mean");
  auto m2 = g.read<double>(where + "/obs_m2");
  auto gc = g.read<std::uint64_t>(where + "/gaps_count");
  auto gm = g.read<double>(where + "/gaps_mean");
  auto gm2 = g.read<double>(where + "/gaps_m2");
  if (count.size() != K * B || mean.size() != K * B || m2.size() != K * B || gc.size() != T || gm.size() != T ||
      gm2.size() != T)
    mismatch(path, g.path() + "/" + where + ": accumulator shapes do not fit this config");
  UnitSums s;
  s.obs.resize(K * B);
  s.gaps.resize(T);
  for (std::size_t i = 0; i < K * B; ++i) s.obs[i] = Welford{count.data[i], mean.data[i], m2.data[i]};
  for (std::size_t j = 0; j < T; ++j) s.gaps[j] = Welford{gc.data[j], gm.data[j], gm2.data[j]};
  return s;
}

void fsync_path(const std::string& path, bool directory) {
  const int fd = ::open(path.c_str(), directory ? (O_RDONLY | O_DIRECTORY) : O_RDONLY);
  if (fd < 0) throw std::runtime_error(path + ": cannot open for fsync: " + std::strerror(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0 && !directory) throw std::runtime_error(path + ": fsync failed: " + std::strerror(err));
}

}  // namespace

std::string params_json(const ModelEntry& entry) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  const ModelInfo* info = find_model(entry.type);
  const ParamValues& values = entry.model->params();
  auto put = [&](const std::string& name, double v, bool integer) {
    if (integer && std::fabs(v) < 9e15)
      j[name] = static_cast<std::int64_t>(v);
    else
      j[name] = v;
  };
  if (info != nullptr) {
    for (const ParamSpec& spec : info->params)
      if (auto it = values.find(spec.name); it != values.end()) put(spec.name, it->second, spec.kind == ParamSpec::Kind::Integer);
  }
  for (const auto& [name, v] : values)
    if (!j.contains(name)) put(name, v, false);
  return j.dump();
}

std::string utc_now() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

void write_snapshot(const std::string& path, const RunConfig& cfg, const RunPlan& plan, const RunState& state,
                    const SweepResults* results, const std::string& created_utc) {
  const std::string temp = path + ".tmp-" + std::to_string(::getpid());
  try {
    {
      h5::File f = h5::File::create(temp);
      write_root(f, cfg, created_utc, results != nullptr);
      if (results != nullptr) {
        const h5::Group models = f.require_group("/models");
        models.set_string_attr("description", "one group per model label of the config");
        for (std::size_t m = 0; m < cfg.models.size(); ++m) write_model(models, cfg, plan, m, results->models[m]);
      } else {
        write_progress(f, cfg, plan, state);
      }
      f.close();
    }
    fsync_path(temp, false);
    if (std::rename(temp.c_str(), path.c_str()) != 0)
      throw std::runtime_error("cannot rename " + temp + " to " + path + ": " + std::strerror(errno));
    const fs::path parent = fs::path(path).parent_path();
    fsync_path(parent.empty() ? "." : parent.string(), true);
  } catch (...) {
    std::error_code ec;
    fs::remove(temp, ec);
    throw;
  }
}

Checkpoint read_checkpoint(const std::string& path, const RunConfig& cfg, const RunPlan& plan) {
  if (!h5::is_hdf5(path)) mismatch(path, "not an HDF5 file, so not a betacrit output to resume; use --force to overwrite it");
  Checkpoint cp;
  try {
    const h5::File f = h5::File::open(path);
    for (const char* a : {"betacrit_version", "config", "complete"})
      if (!f.has_attr(a))
        mismatch(path, std::string("has no '") + a + "' attribute, so it is not a betacrit output; use --force to overwrite it");
    if (f.string_attr("config") != cfg.text)
      mismatch(path, "was written by a different config (the stored config text differs); resume it with the same "
                     "config file, or start over with --force");
    const std::string version = f.string_attr("betacrit_version");
    if (version != BETACRIT_VERSION)
      mismatch(path, "was written by betacrit " + version + ", this is " + BETACRIT_VERSION +
                         "; finish it with that version, or start over with --force");
    cp.created_utc = f.has_attr("created_utc") ? f.string_attr("created_utc") : utc_now();
    cp.complete = f.bool_attr("complete");
    if (cp.complete) return cp;
    if (!f.exists("/progress")) mismatch(path, "is incomplete but has no /progress group; start over with --force");
    const h5::Group p = f.open_group("/progress");
    if (!p.has_attr("plan") || p.string_attr("plan") != plan.fingerprint())
      mismatch(path, "/progress was made for a different work plan; start over with --force");
    const SweepLayout& L = plan.layout;
    const std::size_t K = L.channels.size(), B = L.beta_count, T = L.gap_count, E = L.row_estimators.size();
    const std::size_t O = L.requested_observables, R = static_cast<std::size_t>(cfg.rows);
    cp.state = RunState::empty(cfg, plan);
    for (std::size_t m = 0; m < cfg.models.size(); ++m) {
      for (std::size_t i = 0; i < plan.cells[m].size(); ++i) {
        const std::string where = cfg.models[m].label + "/" + std::to_string(i);
        if (!p.exists(where)) continue;
        const h5::Group g = p.open_group(where);
        CellState& cs = cp.state.cells[m][i];
        const PlanCell& pc = plan.cells[m][i];
        auto done = g.read<std::uint8_t>("unit_done");
        if (done.size() != pc.unit_count) mismatch(path, g.path() + "/unit_done: unit count does not fit this config");
        cs.unit_done = done.data;
        const auto merged_units = g.int_attr("merged_units");
        if (merged_units < 0 || static_cast<std::size_t>(merged_units) > pc.unit_count)
          mismatch(path, g.path() + ": merged_units out of range");
        cs.merged_units = static_cast<std::size_t>(merged_units);
        cs.merged = read_sums(g, "merged", path, K, B, T);
        if (g.exists("pending")) {
          for (const std::string& name : g.open_group("pending").children()) {
            if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos)
              mismatch(path, g.path() + "/pending/" + name + ": not a unit index");
            const std::size_t block = std::stoul(name);
            if (block < cs.merged_units || block >= pc.unit_count || !cs.unit_done[block])
              mismatch(path, g.path() + "/pending/" + name + ": not a finished, unmerged unit");
            cs.pending.emplace(block, read_sums(g, "pending/" + name, path, K, B, T));
          }
        }
        for (std::size_t u = 0; u < pc.unit_count; ++u) {
          const bool expected = u < cs.merged_units || cs.pending.count(u) > 0;
          if ((cs.unit_done[u] != 0) != expected) mismatch(path, g.path() + ": unit_done disagrees with the accumulators");
        }
        auto est = g.read<double>("estimates");
        if (est.size() != E * R) mismatch(path, g.path() + "/estimates: shape does not fit this config");
        cs.estimates = std::move(est.data);
        if (cfg.store_rows) {
          auto rows = g.read<double>("obs_rows");
          if (rows.size() != R * O * B) mismatch(path, g.path() + "/obs_rows: shape does not fit this config");
          cs.obs_rows = std::move(rows.data);
        }
      }
    }
  } catch (const h5::Error& e) {
    throw ResumeError(std::string(e.what()) + " (cannot resume from this file; use --force to start over)");
  }
  return cp;
}

int remove_stale_temporaries(const std::string& path) {
  const fs::path out(path);
  const fs::path dir = out.parent_path().empty() ? fs::path(".") : out.parent_path();
  const std::string prefix = out.filename().string() + ".tmp-";
  int removed = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    const std::string pid_text = name.substr(prefix.size());
    if (pid_text.empty() || pid_text.find_first_not_of("0123456789") != std::string::npos) continue;
    const long pid = std::stol(pid_text);
    const bool ours = pid == static_cast<long>(::getpid());
    const bool alive = !ours && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM);
    if (alive) continue;
    std::error_code rm;
    if (fs::remove(entry.path(), rm)) ++removed;
  }
  return removed;
}

}  // namespace betacrit::store
