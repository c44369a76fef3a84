// `betacrit run CONFIG [-o OUT] [--threads N] [--resume | --force] [--quiet]` (SPEC §4):
// measures the sweep, checkpoints it into its own output file every few seconds, writes
// the final HDF5 file and prints a per-model summary.
#include "analysis/fit_file.hpp"
#include "sim/cli.hpp"
#include "sim/config.hpp"
#include "sim/h5.hpp"
#include "sim/store.hpp"
#include "sim/sweep.hpp"
#include "sim/tail_row.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>

namespace betacrit {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// ------------------------------------------------------------------- signals

Sweep* g_running_sweep = nullptr;  // the sweep SIGINT/SIGTERM ask to stop
volatile std::sig_atomic_t g_signal = 0;

extern "C" void on_stop_signal(int sig) {
  g_signal = sig;
  if (g_running_sweep != nullptr) g_running_sweep->request_stop();
  std::signal(sig, SIG_DFL);  // a second signal ends the process at once
}

/// Routes SIGINT/SIGTERM to a graceful stop of `sweep` while alive.
class StopOnSignal {
 public:
  explicit StopOnSignal(Sweep& sweep) {
    g_running_sweep = &sweep;
    std::signal(SIGINT, on_stop_signal);
    std::signal(SIGTERM, on_stop_signal);
  }
  ~StopOnSignal() {
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGTERM, SIG_DFL);
    g_running_sweep = nullptr;
  }
  StopOnSignal(const StopOnSignal&) = delete;
  StopOnSignal& operator=(const StopOnSignal&) = delete;
};

// ------------------------------------------------------------------ progress

std::string clock_text(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto s = static_cast<long long>(std::llround(seconds));
  std::ostringstream os;
  if (s >= 3600) os << s / 3600 << ':' << std::setw(2) << std::setfill('0') << (s / 60) % 60 << ':';
  else os << s / 60 << ':';
  os << std::setw(2) << std::setfill('0') << s % 60;
  return os.str();
}

/// Seconds between checkpoints: BETACRIT_CHECKPOINT_SECONDS when set (exactly that, for
/// tests), else at least 5 s and at least 20 times the last write (≤ 5% of the run).
struct CheckpointClock {
  double fixed = 0;
  double last_write = 0;
  CheckpointClock() {
    if (const char* env = std::getenv("BETACRIT_CHECKPOINT_SECONDS")) {
      char* end = nullptr;
      const double v = std::strtod(env, &end);
      if (end != env && v > 0) fixed = v;
    }
  }
  [[nodiscard]] double interval() const { return fixed > 0 ? fixed : std::max(5.0, 20.0 * last_write); }
};

/// Background thread: progress on stderr and periodic checkpoints while the sweep runs.
class Monitor {
 public:
  Monitor(const Sweep& sweep, const RunConfig& cfg, std::string out, std::string created, bool quiet)
      : sweep_(sweep), cfg_(cfg), out_(std::move(out)), created_(std::move(created)), quiet_(quiet),
        tty_(::isatty(STDERR_FILENO) != 0), start_(Clock::now()), start_cost_(sweep.done_cost()) {
    thread_ = std::thread([this] { loop(); });
  }
  ~Monitor() { stop(); }
  Monitor(const Monitor&) = delete;
  Monitor& operator=(const Monitor&) = delete;

  void stop() {
    {
      std::lock_guard lock(mutex_);
      if (stopped_) return;
      stopped_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  /// Final progress line (the bar at 100%, or where it stopped).
  void finish(bool complete) {
    if (quiet_) return;
    report(complete);
    if (tty_) std::cerr << "\n";
  }
  /// The first checkpoint failure, if any (the run goes on; the final write will tell).
  [[nodiscard]] const std::string& checkpoint_error() const { return checkpoint_error_; }

 private:
  void loop() {
    auto last_report = Clock::now();
    auto last_checkpoint = Clock::now();
    const double report_every = tty_ ? 0.25 : 5.0;
    std::unique_lock lock(mutex_);
    while (!stopped_) {
      const double tick = std::min(tty_ ? 0.25 : 0.5, clock_.interval());
      wake_.wait_for(lock, std::chrono::duration<double>(tick));
      if (stopped_) break;
      lock.unlock();
      const auto now = Clock::now();
      if (!quiet_ && seconds(last_report, now) >= report_every) {
        report(false);
        last_report = now;
      }
      if (seconds(last_checkpoint, now) >= clock_.interval()) {
        checkpoint();
        last_checkpoint = Clock::now();
      }
      lock.lock();
    }
  }

  static double seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

  void checkpoint() {
    const auto t0 = Clock::now();
    try {
      const RunState state = sweep_.snapshot();
      store::write_snapshot(out_, cfg_, sweep_.plan(), state, nullptr, created_);
    } catch (const std::exception& e) {
      if (checkpoint_error_.empty()) {
        checkpoint_error_ = e.what();
        std::cerr << (tty_ ? "\n" : "") << "betacrit: warning: checkpoint failed: " << e.what() << "\n";
      }
    }
    clock_.last_write = seconds(t0, Clock::now());
  }

  void report(bool final) {
    const double total = static_cast<double>(sweep_.plan().total_cost);
    const double done = static_cast<double>(sweep_.done_cost());
    const double frac = total > 0 ? std::min(1.0, done / total) : 1.0;
    const double elapsed = seconds(start_, Clock::now());
    const double session = done - static_cast<double>(start_cost_);
    const double eta = final ? 0.0 : (session > 0 ? elapsed * (total - done) / session : -1.0);
    const std::size_t units = sweep_.done_units(), all = sweep_.plan().units.size();
    std::ostringstream os;
    if (tty_) {
      constexpr int kWidth = 30;
      const int filled = static_cast<int>(std::floor(frac * kWidth));
      os << "\r[" << std::string(static_cast<std::size_t>(filled), '#')
         << std::string(static_cast<std::size_t>(kWidth - filled), '-') << "] " << std::setw(3)
         << static_cast<int>(std::floor(frac * 100)) << "%  units " << units << "/" << all << "  elapsed "
         << clock_text(elapsed) << "  ETA " << clock_text(eta) << "   ";
      std::cerr << os.str() << std::flush;
    } else {
      os << "betacrit: " << static_cast<int>(std::floor(frac * 100)) << "% (" << units << "/" << all
         << " work units), elapsed " << clock_text(elapsed) << ", ETA " << clock_text(eta) << "\n";
      std::cerr << os.str() << std::flush;
    }
  }

  const Sweep& sweep_;
  const RunConfig& cfg_;
  std::string out_, created_;
  bool quiet_, tty_;
  Clock::time_point start_;
  std::uint64_t start_cost_;
  CheckpointClock clock_;
  std::string checkpoint_error_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopped_ = false;
  std::thread thread_;
};

// ------------------------------------------------------------------- summary

std::string num(double v, int precision = 4) {
  if (std::isnan(v)) return "nan";
  std::ostringstream os;
  os << std::setprecision(precision) << v;
  return os.str();
}

std::string n_text(const h5::Group& g, std::size_t i) {
  if (g.exists("n")) return std::to_string(g.read<std::uint64_t>("n").data.at(i));
  return "2^" + num(g.read<double>("log2_n").data.at(i));
}

/// Value `column` of critical/<est>_summary at the last n, or NaN when absent.
double summary_at_last(const h5::Group& g, const std::string& est, std::size_t column) {
  const std::string path = "critical/" + est + "_summary";
  if (!g.exists(path)) return std::nan("");
  const auto s = g.read<double>(path);
  if (s.dims.size() != 2 || s.dims[0] == 0) return std::nan("");
  return s.data[(s.dims[0] - 1) * s.dims[1] + column];
}

}  // namespace

/// Per-model summary of a finished results file: the row lengths, and at the largest n the
/// median β_acc with its 95% bootstrap interval, the median β_half, sweep_half_mass and
/// the theoretical β*(n).
void print_run_summary(const std::string& results_path, const RunConfig& cfg, std::ostream& out) {
  const h5::File f = h5::File::open(results_path);
  out << "\nresults: " << results_path << "  (" << cfg.rows << " rows per (model, n); beta in inverse score units, "
      << "values at the largest n)\n";
  out << std::left << std::setw(16) << "model" << std::setw(6) << "mode" << std::setw(24) << "n"
      << std::setw(32) << "median beta_acc [95% CI]" << std::setw(18) << "median beta_half" << std::setw(17)
      << "sweep_half_mass" << "theory beta*\n";
  bool unbracketed = false, drawn_in_full = false;
  for (const ModelEntry& me : cfg.models) {
    const h5::Group g = f.open_group("/models/" + me.label);
    std::string mode = g.string_attr("mode");
    if (mode == "tail" && g.has_attr("row_mode")) {
      const auto row_mode = g.strings_attr("row_mode");
      if (std::find(row_mode.begin(), row_mode.end(), "exact") != row_mode.end()) {
        mode += "*";
        drawn_in_full = true;
      }
    }
    const std::size_t N = g.open_dataset("log2_n").dims().at(0);
    const std::string range = N == 0 ? "-" : n_text(g, 0) + " .. " + n_text(g, N - 1);
    std::string acc = "-";
    if (g.exists("critical/accumulation_summary"))
      acc = num(summary_at_last(g, "accumulation", 0)) + " [" + num(summary_at_last(g, "accumulation", 1)) + ", " +
            num(summary_at_last(g, "accumulation", 2)) + "]";
    const std::string half = g.exists("critical/half_mass_summary") ? num(summary_at_last(g, "half_mass", 0)) : "-";
    std::string sweep = "-";
    if (g.exists("critical/sweep_half_mass")) {
      const double v = g.read<double>("critical/sweep_half_mass").data.back();
      sweep = std::isnan(v) ? "nan*" : num(v);
      unbracketed = unbracketed || std::isnan(v);
    }
    std::string theory = "-";
    if (g.exists("theory/beta_star")) theory = num(g.read<double>("theory/beta_star").data.back());
    out << std::left << std::setw(16) << me.label << std::setw(6) << mode << std::setw(24) << range
        << std::setw(32) << acc << std::setw(18) << half << std::setw(17) << sweep << theory << "\n";
  }
  if (unbracketed)
    out << "* nan: the beta grid does not bracket the mean max_weight = 1/2 crossing (see the 'notes' attribute "
           "of critical/sweep_half_mass)\n";
  if (drawn_in_full)
    out << "tail*: rows short enough are drawn in full, exactly as in exact mode (n <= "
        << static_cast<std::uint64_t>(TailSettings{}.exact_threshold())
        << "); the row_mode attribute of the model's group says which n\n";
  out << std::flush;
}

/// The fit table of SPEC §5, printed after the summary. It only reads the results file:
/// the file stays exactly as the sweep wrote it, and `betacrit fit` stores the fits.
void print_fit_table_after_run(const std::string& results_path, int threads, std::ostream& out) {
  FitFileOptions options;
  options.write_attributes = false;
  options.threads = threads;
  try {
    out << "\n";
    fit_results_file(results_path, options, out);
  } catch (const std::exception& e) {
    std::cerr << "betacrit: no fit table: " << e.what() << "\n";
  }
}

int cmd_run(const RunArgs& args) {
  RunConfig cfg;
  try {
    cfg = load_config(args.config_path);
  } catch (const ConfigError& e) {
    throw UsageError(std::string("invalid config, nothing was run:\n") + e.what());
  }
  const std::string out = args.output.value_or(cfg.output);
  if (out.empty()) throw UsageError("no output file: set \"output\" in the config or pass -o OUT.h5");
  const int threads = resolve_threads(args.threads.value_or(cfg.threads));

  RunPlan plan_check;
  try {
    plan_check = RunPlan::make(cfg);
  } catch (const std::invalid_argument& e) {
    throw UsageError(args.config_path + ": " + e.what());
  }

  // The output: refuse to overwrite silently; resume from it when asked.
  const fs::path out_path(out);
  if (fs::is_directory(out_path)) throw UsageError("output '" + out + "' is a directory; give a file name");
  const bool exists = fs::exists(out_path);
  if (exists && !args.resume && !args.force)
    throw UsageError("output '" + out + "' already exists; use --resume to continue it or --force to overwrite it");
  if (!out_path.parent_path().empty()) {
    std::error_code ec;
    fs::create_directories(out_path.parent_path(), ec);
    if (ec)
      throw UsageError("cannot write output '" + out + "': cannot create its directory '" +
                       out_path.parent_path().string() + "': " + ec.message());
  }
  store::remove_stale_temporaries(out);

  std::string created = store::utc_now();
  std::unique_ptr<Sweep> sweep;
  if (exists && args.resume) {
    store::Checkpoint cp;
    try {
      cp = store::read_checkpoint(out, cfg, plan_check);
    } catch (const store::ResumeError& e) {
      throw UsageError(std::string("cannot resume: ") + e.what());
    }
    if (cp.complete) {
      if (!args.quiet) std::cerr << "betacrit: " << out << " is already complete; nothing to do\n";
      print_run_summary(out, cfg, std::cout);
      print_fit_table_after_run(out, threads, std::cout);
      return 0;
    }
    created = cp.created_utc;
    sweep = std::make_unique<Sweep>(cfg, std::move(plan_check), std::move(cp.state));
    if (!args.quiet)
      std::cerr << "betacrit: resuming " << out << ": " << sweep->done_units() << " of " << sweep->plan().units.size()
                << " work units already done\n";
  } else {
    sweep = std::make_unique<Sweep>(cfg, std::move(plan_check));
  }

  // First snapshot right away: it proves the output is writable before any work.
  try {
    store::write_snapshot(out, cfg, sweep->plan(), sweep->snapshot(), nullptr, created);
  } catch (const std::exception& e) {
    throw UsageError("cannot write output '" + out + "': " + e.what());
  }
  if (!args.quiet)
    std::cerr << "betacrit: " << cfg.models.size() << " model(s) x " << cfg.log2_n.size() << " row length(s) x "
              << cfg.rows << " rows on " << threads << " thread(s) -> " << out << "\n";

  {
    StopOnSignal stop_on_signal(*sweep);
    Monitor monitor(*sweep, cfg, out, created, args.quiet);
    try {
      sweep->run(threads);
    } catch (...) {
      monitor.stop();
      if (!args.quiet) std::cerr << "\n";
      try {
        store::write_snapshot(out, cfg, sweep->plan(), sweep->snapshot(), nullptr, created);
      } catch (...) {
      }
      throw;
    }
    monitor.stop();
    monitor.finish(sweep->complete());
  }

  if (!sweep->complete()) {
    store::write_snapshot(out, cfg, sweep->plan(), sweep->snapshot(), nullptr, created);
    std::cerr << "betacrit: interrupted; progress saved in " << out << " (" << sweep->done_units() << " of "
              << sweep->plan().units.size() << " work units); continue with: betacrit run " << args.config_path
              << (args.output ? " -o " + out : std::string()) << " --resume\n";
    return 128 + static_cast<int>(g_signal);
  }

  const SweepResults results = sweep->results(threads);
  store::write_snapshot(out, cfg, sweep->plan(), sweep->snapshot(), &results, created);
  if (!args.quiet) std::cerr << "betacrit: wrote " << out << "\n";
  print_run_summary(out, cfg, std::cout);
  print_fit_table_after_run(out, threads, std::cout);
  return 0;
}

}  // namespace betacrit
