#include "analysis/fit_file.hpp"

#include "analysis/collapse.hpp"
#include "analysis/fit.hpp"
#include "analysis/table.hpp"
#include "models/model.hpp"
#include "sim/cli.hpp"
#include "sim/estimators.hpp"
#include "sim/h5.hpp"
#include "sim/rng.hpp"

#include <nlohmann/json.hpp>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <ostream>
#include <utility>
#include <vector>

namespace betacrit {

namespace {

// ---------------------------------------------------------------- HDF5 access
// Through sim/h5.hpp; its h5::Error (which names file and object) becomes a UsageError.

[[noreturn]] void fail(const std::string& path, const std::string& object, const std::string& what) {
  throw UsageError(path + ": " + object + ": " + what);
}

h5::File open_results(const std::string& path, bool writable) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw UsageError(path + ": no such file");
  if (!h5::is_hdf5(path)) throw UsageError(path + ": not an HDF5 file");
  try {
    return h5::File::open(path, writable);
  } catch (const h5::Error& e) {
    throw UsageError(e.what());
  }
}

std::optional<std::string> string_attr(const h5::Object& o, const std::string& name) {
  if (!o.has_attr(name)) return std::nullopt;
  return o.string_attr(name);
}

std::optional<double> double_attr(const h5::Object& o, const std::string& name) {
  if (!o.has_attr(name)) return std::nullopt;
  return o.double_attr(name);
}

// ---------------------------------------------------------------- fitting a file

struct FitJob {
  std::string label, estimator;
  bool per_row = true;  ///< false: one value per n (sweep-level estimator)
  double n_min_used = 0;
};

/// Estimators in the order of SPEC §1, then any other dataset names.
std::vector<std::string> estimator_order(std::vector<std::string> names) {
  std::vector<std::string> out;
  for (Estimator e : {Estimator::accumulation, Estimator::half_mass, Estimator::entropy_fraction,
                      Estimator::sweep_half_mass}) {
    const auto it = std::find(names.begin(), names.end(), std::string(estimator_name(e)));
    if (it != names.end()) {
      out.push_back(*it);
      names.erase(it);
    }
  }
  out.insert(out.end(), names.begin(), names.end());
  return out;
}

std::string theory_of(const h5::Group& g) {
  if (auto gamma = double_attr(g, "law_gamma")) return theory_text(std::optional<double>(*gamma));
  const auto type = string_attr(g, "type");
  if (!type) return "-";
  ParamValues params;
  if (const auto text = string_attr(g, "params")) {
    const auto j = nlohmann::json::parse(*text, nullptr, false);
    if (j.is_object())
      for (const auto& [k, v] : j.items())
        if (v.is_number()) params[k] = v.get<double>();
  }
  try {
    const auto model = make_model(*type, params);
    return theory_text(model.get());
  } catch (const std::exception&) {
    return "-";
  }
}

struct CollapseRow {
  std::string label, observable;
  CollapseResult result;
};

/// Collapse of obs/<observable>/mean (± sem) against the swept β of each n, when stored.
std::optional<CollapseResult> collapse_of(const h5::Group& g, const std::string& observable,
                                          const std::vector<double>& log_n, std::optional<std::uint64_t> n_min) {
  const std::string base = "obs/" + observable;
  if (!g.exists(base + "/mean") || !g.exists(base + "/sem") || !g.exists("beta")) return std::nullopt;
  const auto beta = g.read<double>("beta");
  const auto mean = g.read<double>(base + "/mean");
  const auto sem = g.read<double>(base + "/sem");
  if (beta.dims.size() != 2 || beta.dims[0] != log_n.size() || mean.dims != beta.dims || sem.dims != beta.dims)
    fail(g.file_name(), g.path() + "/" + base, "expected mean and sem shaped like beta [N, B]");
  const std::size_t B = beta.dims[1];
  std::vector<CollapseCurve> curves;
  for (std::size_t i = 0; i < log_n.size(); ++i) {
    if (n_min && log_n[i] < std::log(static_cast<double>(*n_min)) - 1e-12) continue;
    if (!(log_n[i] > 0)) continue;
    CollapseCurve c;
    c.log_n = log_n[i];
    for (std::size_t b = 0; b < B; ++b) {
      const double x = beta.data[i * B + b], y = mean.data[i * B + b], e = sem.data[i * B + b];
      if (!(x > 0) || !std::isfinite(y) || !std::isfinite(e) || (!c.beta.empty() && !(x > c.beta.back()))) continue;
      c.beta.push_back(x);
      c.y.push_back(y);
      c.dy.push_back(std::max(e, 0.0));
    }
    if (c.beta.size() >= 2) curves.push_back(std::move(c));
  }
  if (curves.size() < 2) return std::nullopt;
  return collapse_exponent(curves);
}

/// Model labels in the order of the config's "models" list (root attribute `config`),
/// others after them by name.
std::vector<std::string> model_order(const h5::File& f, std::vector<std::string> labels) {
  std::vector<std::string> config_order;
  if (const auto text = string_attr(f, "config")) {
    const auto j = nlohmann::json::parse(*text, nullptr, false, /*ignore_comments=*/true);
    if (j.is_object() && j.contains("models") && j["models"].is_array())
      for (const auto& m : j["models"]) {
        if (!m.is_object()) continue;
        if (m.contains("label") && m["label"].is_string()) config_order.push_back(m["label"].get<std::string>());
        else if (m.contains("type") && m["type"].is_string()) config_order.push_back(m["type"].get<std::string>());
      }
  }
  auto rank = [&](const std::string& label) {
    const auto it = std::find(config_order.begin(), config_order.end(), label);
    return static_cast<std::size_t>(it - config_order.begin());
  };
  std::stable_sort(labels.begin(), labels.end(),
                   [&](const std::string& a, const std::string& b) { return rank(a) < rank(b); });
  return labels;
}

void write_attributes(const std::string& path, const std::vector<FitTableRow>& rows, const std::vector<FitJob>& jobs,
                      const std::vector<CollapseRow>& collapses) {
  // Write into a copy, then rename it over the original: an interrupted write leaves the
  // original untouched.
  const std::string tmp = path + ".tmp-fit-" + std::to_string(::getpid());
  std::error_code ec;
  std::filesystem::copy_file(path, tmp, std::filesystem::copy_options::overwrite_existing, ec);
  if (ec) throw UsageError(path + ": cannot write the fit results (copy to " + tmp + " failed: " + ec.message() + ")");
  try {
    try {
      h5::File f = h5::File::open(tmp, true);
      for (std::size_t i = 0; i < rows.size(); ++i) {
        const FitResult& r = rows[i].fit;
        const std::string object = "/models/" + jobs[i].label + "/fit/" + jobs[i].estimator;
        if (f.exists(object)) f.remove(object);
        const h5::Group g = f.require_group(object);
        g.set_string_attr("description",
                          "fit of the median per-row critical beta over n: beta*(n) = A (log n)^gamma "
                          "[(1 + B/log n) in the corrected family]; verdict rules in docs/science.md");
        g.set_double_attr("gamma", r.gamma);
        g.set_double_attr("gamma_lo", r.gamma_lo);
        g.set_double_attr("gamma_hi", r.gamma_hi);
        g.set_double_attr("A", r.A);
        g.set_double_attr("B", r.B);
        g.set_string_attr("family", family_name(r.family));
        g.set_double_attr("gamma_plain", r.gamma_plain);
        g.set_double_attr("gamma_plain_lo", r.plain.gamma_lo);
        g.set_double_attr("gamma_plain_hi", r.plain.gamma_hi);
        g.set_double_attr("gamma_corrected", r.corrected.fit.gamma);
        g.set_double_attr("gamma_corrected_lo", r.corrected.gamma_lo);
        g.set_double_attr("gamma_corrected_hi", r.corrected.gamma_hi);
        g.set_double_attr("chi2_dof", r.chi2_dof);
        g.set_string_attr("law_weights", r.law_weights_json().dump());
        g.set_string_attr("criterion", r.criterion);
        g.set_string_attr("verdict", r.verdict);
        g.set_string_attr("reason", r.reason);
        g.set_double_attr("n_min", jobs[i].n_min_used);
      }
      for (const auto& c : collapses) {
        const std::string object = "/models/" + c.label + "/fit/collapse_" + c.observable;
        if (f.exists(object)) f.remove(object);
        const h5::Group g = f.require_group(object);
        g.set_string_attr("description", "finite-size-scaling collapse of obs/" + c.observable +
                                             "/mean against beta/(log n)^gamma: Houdayer-Hartmann S minimised; "
                                             "gamma_sigma by the pyfssa curvature rule sqrt(2 S_min / S'')");
        g.set_double_attr("gamma", c.result.gamma);
        g.set_double_attr("gamma_sigma", c.result.gamma_sigma);
        g.set_double_attr("quality", c.result.quality);
        g.set_string_attr("note", c.result.note);
      }
      f.close();
    } catch (const h5::Error& e) {
      throw UsageError(path + ": cannot write the fit results (" + e.what() + ")");
    }
    std::filesystem::rename(tmp, path, ec);
    if (ec) throw UsageError(path + ": cannot replace the file with the fitted copy: " + ec.message());
  } catch (...) {
    std::filesystem::remove(tmp, ec);
    throw;
  }
}

}  // namespace

int fit_results_file(const std::string& path, const FitFileOptions& opt, std::ostream& out) {
  std::vector<FitTableRow> rows;
  std::vector<FitJob> jobs;
  std::vector<std::string> available;
  std::vector<CollapseRow> collapses;
  try {
    const h5::File f = open_results(path, false);
    if (f.has_attr("complete") && !f.bool_attr("complete"))
      throw UsageError(path + ": the run is unfinished (root attribute complete = false); finish it with "
                              "'betacrit run CONFIG --resume' first");
    if (!f.exists("/models")) fail(path, "/models", "missing group (not a betacrit results file?)");
    std::uint64_t seed = opt.bootstrap_seed;
    if (seed == 0 && f.has_attr("seed")) seed = f.uint_attr("seed");
    const double log_n_min = opt.n_min ? std::log(static_cast<double>(*opt.n_min)) : -1.0;

    for (const std::string& label : model_order(f, f.open_group("/models").children())) {
      const h5::Group g = f.open_group("/models/" + label);
      std::vector<double> log_n;
      if (g.exists("log2_n")) {
        const auto a = g.read<double>("log2_n");
        if (a.dims.size() != 1) fail(path, g.path() + "/log2_n", "expected a 1-D dataset");
        for (double l2 : a.data) log_n.push_back(l2 * std::log(2.0));
      } else if (g.exists("n")) {
        const auto a = g.read<std::uint64_t>("n");
        if (a.dims.size() != 1) fail(path, g.path() + "/n", "expected a 1-D dataset");
        for (std::uint64_t n : a.data) log_n.push_back(std::log(static_cast<double>(n)));
      } else {
        fail(path, g.path(), "neither 'n' nor 'log2_n' is present");
      }
      // norm_entropy runs from 1 to 0 for every n; max_weight starts at 1/n, which no
      // rescaling of β can collapse, so it is left to the figures.
      if (!opt.estimator)  // --estimator: only that estimator's fits
        if (auto c = collapse_of(g, "norm_entropy", log_n, opt.n_min))
          collapses.push_back({label, "norm_entropy", std::move(*c)});
      if (!g.exists("critical")) continue;
      std::vector<std::string> names;
      for (const auto& name : g.open_group("critical").children())
        if (name.size() < 8 || name.compare(name.size() - 8, 8, "_summary") != 0) names.push_back(name);
      const std::string theory = theory_of(g);
      for (const std::string& est : estimator_order(names)) {
        if (std::find(available.begin(), available.end(), est) == available.end()) available.push_back(est);
        if (opt.estimator && *opt.estimator != est) continue;
        const std::string object = g.path() + "/critical/" + est;
        const auto a = g.read<double>("critical/" + est);
        if (a.dims.empty() || a.dims.size() > 2 || a.dims[0] != log_n.size())
          fail(path, object, "expected [N] or [N, R] with N = " + std::to_string(log_n.size()) + " row lengths");
        const std::size_t R = a.dims.size() == 2 ? a.dims[1] : 1;
        CriticalSeries series;
        for (std::size_t i = 0; i < log_n.size(); ++i) {
          if (log_n[i] < log_n_min - 1e-12) continue;
          series.log_n.push_back(log_n[i]);
          series.rows.emplace_back(a.data.begin() + static_cast<std::ptrdiff_t>(i * R),
                                   a.data.begin() + static_cast<std::ptrdiff_t>((i + 1) * R));
        }
        FitOptions fo;
        fo.seed = splitmix64(seed ^ fnv1a64(label + "/" + est));
        fo.threads = opt.threads;
        FitResult r = fit_critical(series, fo);
        const bool per_row = a.dims.size() == 2;
        if (!per_row) {
          // A sweep-level estimator has one value per n: no rows to resample, so the
          // weights are the floor alone and no law can be claimed.
          char gamma_text[32];
          std::snprintf(gamma_text, sizeof gamma_text, "%.2f", r.plain.fit.gamma);
          r.verdict = std::string(kVerdictInconclusive);
          r.reason = std::string("one value per n (sweep-level estimator): no per-row spread to weigh the fit or "
                                 "bound gamma; the plain gamma ") + gamma_text + " is indicative only";
          r.gamma_lo = r.gamma_hi = r.chi2_dof = std::numeric_limits<double>::quiet_NaN();
        }
        rows.push_back({label, est, theory, std::move(r)});
        jobs.push_back({label, est, per_row, opt.n_min ? static_cast<double>(*opt.n_min) : 0.0});
      }
    }
  } catch (const h5::Error& e) {
    throw UsageError(e.what());
  }
  if (opt.estimator && std::find(available.begin(), available.end(), *opt.estimator) == available.end()) {
    std::string list;
    for (const auto& a : available) list += (list.empty() ? "" : ", ") + a;
    throw UsageError(path + ": --estimator " + *opt.estimator + ": not in the file (available: " +
                     (list.empty() ? std::string("none") : list) + ")");
  }
  if (rows.empty()) throw UsageError(path + ": no critical values to fit under /models/*/critical");
  if (opt.json) {
    nlohmann::json j = fit_table_json(rows);
    j["collapse"] = nlohmann::json::array();
    for (const auto& c : collapses) {
      nlohmann::json cj = c.result.to_json();
      cj["model"] = c.label;
      cj["observable"] = c.observable;
      j["collapse"].push_back(std::move(cj));
    }
    out << j.dump(2) << "\n";
  } else {
    print_fit_table(rows, out);
    for (const auto& c : collapses) {
      char line[256];
      if (c.result.ok)
        std::snprintf(line, sizeof line, "collapse  %-14s %-13s gamma %.3f +- %.3f  (S_min %.2f, %zu terms%s%s)\n",
                      c.label.c_str(), c.observable.c_str(), c.result.gamma, c.result.gamma_sigma, c.result.quality,
                      c.result.terms, c.result.note.empty() ? "" : "; ", c.result.note.c_str());
      else
        std::snprintf(line, sizeof line, "collapse  %-14s %-13s %s\n", c.label.c_str(), c.observable.c_str(),
                      c.result.note.c_str());
      out << line;
    }
    if (!collapses.empty())
      out << "(collapse: gamma minimising the Houdayer-Hartmann S of the curve against beta/(log n)^gamma; "
             "+- is the pyfssa curvature rule, a generous bound)\n";
  }
  out.flush();
  if (opt.write_attributes) write_attributes(path, rows, jobs, collapses);
  return 0;
}

}  // namespace betacrit
