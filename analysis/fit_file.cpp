#include "analysis/fit_file.hpp"

#include "analysis/collapse.hpp"
#include "analysis/fit.hpp"
#include "analysis/table.hpp"
#include "models/model.hpp"
#include "sim/cli.hpp"
#include "sim/estimators.hpp"
#include "sim/rng.hpp"

#include <hdf5.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <mutex>
#include <ostream>
#include <utility>
#include <vector>

namespace betacrit {

namespace {

// ---------------------------------------------------------------- minimal HDF5 access
// A few read/write helpers over the HDF5 C API; every failure is a UsageError naming the
// file and the object.

void silence_hdf5() {
  static std::once_flag once;
  std::call_once(once, [] { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); });
}

class Handle {
 public:
  Handle() = default;
  Handle(hid_t id, herr_t (*closer)(hid_t)) : id_(id), close_(closer) {}
  ~Handle() {
    if (id_ >= 0 && close_) close_(id_);
  }
  Handle(Handle&& o) noexcept : id_(std::exchange(o.id_, H5I_INVALID_HID)), close_(o.close_) {}
  Handle& operator=(Handle&& o) noexcept {
    std::swap(id_, o.id_);
    std::swap(close_, o.close_);
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  [[nodiscard]] hid_t get() const { return id_; }
  [[nodiscard]] bool ok() const { return id_ >= 0; }

 private:
  hid_t id_ = H5I_INVALID_HID;
  herr_t (*close_)(hid_t) = nullptr;
};

struct H5File {
  std::string path;
  Handle file;

  [[noreturn]] void fail(const std::string& object, const std::string& what) const {
    throw UsageError(path + ": " + object + ": " + what);
  }

  /// Whether every component of the absolute `object` path exists.
  [[nodiscard]] bool exists(const std::string& object) const {
    std::string partial;
    std::size_t pos = 1;
    while (pos <= object.size()) {
      const std::size_t next = object.find('/', pos);
      partial = object.substr(0, next == std::string::npos ? object.size() : next);
      if (H5Lexists(file.get(), partial.c_str(), H5P_DEFAULT) <= 0) return false;
      if (next == std::string::npos) break;
      pos = next + 1;
    }
    return true;
  }

  [[nodiscard]] std::vector<std::string> children(const std::string& group) const {
    Handle g(H5Gopen2(file.get(), group.c_str(), H5P_DEFAULT), H5Gclose);
    if (!g.ok()) fail(group, "cannot open group");
    H5G_info_t info;
    if (H5Gget_info(g.get(), &info) < 0) fail(group, "cannot list group");
    std::vector<std::string> names;
    for (hsize_t i = 0; i < info.nlinks; ++i) {
      const ssize_t len = H5Lget_name_by_idx(g.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
      if (len < 0) fail(group, "cannot list group");
      std::string name(static_cast<std::size_t>(len), '\0');
      H5Lget_name_by_idx(g.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size() + 1, H5P_DEFAULT);
      names.push_back(name);
    }
    return names;
  }

  /// A numeric dataset converted to `mem_type` (H5T_NATIVE_DOUBLE or H5T_NATIVE_UINT64).
  template <class T>
  std::pair<std::vector<T>, std::vector<hsize_t>> read(const std::string& object, hid_t mem_type) const {
    Handle d(H5Dopen2(file.get(), object.c_str(), H5P_DEFAULT), H5Dclose);
    if (!d.ok()) fail(object, "missing dataset");
    Handle type(H5Dget_type(d.get()), H5Tclose);
    const H5T_class_t cls = H5Tget_class(type.get());
    if (cls != H5T_INTEGER && cls != H5T_FLOAT) fail(object, "not a numeric dataset");
    Handle space(H5Dget_space(d.get()), H5Sclose);
    const int rank = H5Sget_simple_extent_ndims(space.get());
    if (rank < 0) fail(object, "cannot read the shape");
    std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
    if (rank > 0) H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
    hsize_t count = 1;
    for (hsize_t v : dims) count *= v;
    std::vector<T> data(static_cast<std::size_t>(count));
    if (count > 0 && H5Dread(d.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data()) < 0)
      fail(object, "cannot read (truncated or damaged file?)");
    return {std::move(data), std::move(dims)};
  }

  Handle open_attr(const std::string& object, const std::string& name) const {
    if (H5Aexists_by_name(file.get(), object.c_str(), name.c_str(), H5P_DEFAULT) <= 0) return {};
    return Handle(H5Aopen_by_name(file.get(), object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  }

  [[nodiscard]] std::optional<std::string> string_attr(const std::string& object, const std::string& name) const {
    Handle a = open_attr(object, name);
    if (!a.ok()) return std::nullopt;
    Handle type(H5Aget_type(a.get()), H5Tclose);
    if (H5Tget_class(type.get()) != H5T_STRING) fail(object, "attribute '" + name + "' is not a string");
    if (H5Tis_variable_str(type.get()) > 0) {
      Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
      H5Tset_size(mem.get(), H5T_VARIABLE);
      H5Tset_cset(mem.get(), H5Tget_cset(type.get()));
      char* text = nullptr;
      if (H5Aread(a.get(), mem.get(), &text) < 0) fail(object, "cannot read attribute '" + name + "'");
      std::string s = text ? text : "";
      H5free_memory(text);
      return s;
    }
    std::string s(H5Tget_size(type.get()), '\0');
    if (H5Aread(a.get(), type.get(), s.data()) < 0) fail(object, "cannot read attribute '" + name + "'");
    s.erase(std::find(s.begin(), s.end(), '\0'), s.end());
    return s;
  }

  /// A numeric (or boolean-enum) scalar attribute converted to T.
  template <class T>
  std::optional<T> number_attr(const std::string& object, const std::string& name, hid_t mem_type) const {
    Handle a = open_attr(object, name);
    if (!a.ok()) return std::nullopt;
    Handle type(H5Aget_type(a.get()), H5Tclose);
    const H5T_class_t cls = H5Tget_class(type.get());
    if (cls == H5T_ENUM) {  // h5py's boolean: enum over int8
      Handle native(H5Tget_native_type(type.get(), H5T_DIR_ASCEND), H5Tclose);
      long long raw = 0;
      if (H5Tget_size(native.get()) > sizeof raw || H5Aread(a.get(), native.get(), &raw) < 0)
        fail(object, "cannot read attribute '" + name + "'");
      return static_cast<T>(raw != 0);
    }
    if (cls != H5T_INTEGER && cls != H5T_FLOAT) fail(object, "attribute '" + name + "' is not a number");
    T v{};
    if (H5Aread(a.get(), mem_type, &v) < 0) fail(object, "cannot read attribute '" + name + "'");
    return v;
  }

  void remove_link(const std::string& object) const {
    if (exists(object) && H5Ldelete(file.get(), object.c_str(), H5P_DEFAULT) < 0) fail(object, "cannot remove");
  }

  /// Creates a group and its missing parents, without object time stamps.
  Handle create_group(const std::string& object) const {
    Handle lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
    H5Pset_create_intermediate_group(lcpl.get(), 1);
    Handle gcpl(H5Pcreate(H5P_GROUP_CREATE), H5Pclose);
    H5Pset_obj_track_times(gcpl.get(), 0);
    Handle g(H5Gcreate2(file.get(), object.c_str(), lcpl.get(), gcpl.get(), H5P_DEFAULT), H5Gclose);
    if (!g.ok()) fail(object, "cannot create group");
    return g;
  }

  void set_string_attr(hid_t obj, const std::string& object, const std::string& name, const std::string& value) const {
    Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(type.get(), H5T_VARIABLE);
    H5Tset_cset(type.get(), H5T_CSET_UTF8);
    Handle space(H5Screate(H5S_SCALAR), H5Sclose);
    Handle a(H5Acreate2(obj, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    const char* text = value.c_str();
    if (!a.ok() || H5Awrite(a.get(), type.get(), &text) < 0) fail(object, "cannot write attribute '" + name + "'");
  }

  void set_double_attr(hid_t obj, const std::string& object, const std::string& name, double value) const {
    Handle space(H5Screate(H5S_SCALAR), H5Sclose);
    Handle a(H5Acreate2(obj, name.c_str(), H5T_IEEE_F64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    if (!a.ok() || H5Awrite(a.get(), H5T_NATIVE_DOUBLE, &value) < 0)
      fail(object, "cannot write attribute '" + name + "'");
  }
};

H5File open_file(const std::string& path, bool writable) {
  silence_hdf5();
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw UsageError(path + ": no such file");
  if (H5Fis_hdf5(path.c_str()) <= 0) throw UsageError(path + ": not an HDF5 file");
  H5File f{path, Handle(H5Fopen(path.c_str(), writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose)};
  if (!f.file.ok()) throw UsageError(path + ": cannot open" + (writable ? " for writing" : std::string()));
  return f;
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

std::string theory_of(const H5File& f, const std::string& group) {
  if (auto g = f.number_attr<double>(group, "law_gamma", H5T_NATIVE_DOUBLE)) return theory_text(std::optional<double>(*g));
  const auto type = f.string_attr(group, "type");
  if (!type) return "-";
  ParamValues params;
  if (const auto text = f.string_attr(group, "params")) {
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
std::optional<CollapseResult> collapse_of(const H5File& f, const std::string& group, const std::string& observable,
                                          const std::vector<double>& log_n, std::optional<std::uint64_t> n_min) {
  const std::string base = group + "/obs/" + observable;
  if (!f.exists(base + "/mean") || !f.exists(base + "/sem") || !f.exists(group + "/beta")) return std::nullopt;
  auto [beta, bdims] = f.read<double>(group + "/beta", H5T_NATIVE_DOUBLE);
  auto [mean, mdims] = f.read<double>(base + "/mean", H5T_NATIVE_DOUBLE);
  auto [sem, sdims] = f.read<double>(base + "/sem", H5T_NATIVE_DOUBLE);
  if (bdims.size() != 2 || bdims[0] != log_n.size() || mdims != bdims || sdims != bdims)
    f.fail(base, "expected mean and sem shaped like beta [N, B]");
  const std::size_t B = static_cast<std::size_t>(bdims[1]);
  std::vector<CollapseCurve> curves;
  for (std::size_t i = 0; i < log_n.size(); ++i) {
    if (n_min && log_n[i] < std::log(static_cast<double>(*n_min)) - 1e-12) continue;
    if (!(log_n[i] > 0)) continue;
    CollapseCurve c;
    c.log_n = log_n[i];
    for (std::size_t b = 0; b < B; ++b) {
      const double x = beta[i * B + b], y = mean[i * B + b], e = sem[i * B + b];
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
std::vector<std::string> model_order(const H5File& f, std::vector<std::string> labels) {
  std::vector<std::string> config_order;
  if (const auto text = f.string_attr("/", "config")) {
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
    {
      H5File f = open_file(tmp, true);
      f.path = path;  // messages name the user's file
      for (std::size_t i = 0; i < rows.size(); ++i) {
        const FitResult& r = rows[i].fit;
        const std::string object = "/models/" + jobs[i].label + "/fit/" + jobs[i].estimator;
        f.remove_link(object);
        Handle g = f.create_group(object);
        auto num = [&](const char* name, double v) { f.set_double_attr(g.get(), object, name, v); };
        auto str = [&](const char* name, const std::string& v) { f.set_string_attr(g.get(), object, name, v); };
        str("description", "fit of the median per-row critical beta over n: beta*(n) = A (log n)^gamma "
                           "[(1 + B/log n) in the corrected family]; verdict rules in docs/science.md");
        num("gamma", r.gamma);
        num("gamma_lo", r.gamma_lo);
        num("gamma_hi", r.gamma_hi);
        num("A", r.A);
        num("B", r.B);
        str("family", std::string(family_name(r.family)));
        num("gamma_plain", r.gamma_plain);
        num("gamma_plain_lo", r.plain.gamma_lo);
        num("gamma_plain_hi", r.plain.gamma_hi);
        num("gamma_corrected", r.corrected.fit.gamma);
        num("gamma_corrected_lo", r.corrected.gamma_lo);
        num("gamma_corrected_hi", r.corrected.gamma_hi);
        num("chi2_dof", r.chi2_dof);
        str("law_weights", r.law_weights_json().dump());
        str("criterion", r.criterion);
        str("verdict", r.verdict);
        str("reason", r.reason);
        num("n_min", jobs[i].n_min_used);
      }
      for (const auto& c : collapses) {
        const std::string object = "/models/" + c.label + "/fit/collapse_" + c.observable;
        f.remove_link(object);
        Handle g = f.create_group(object);
        f.set_string_attr(g.get(), object, "description",
                          "finite-size-scaling collapse of obs/" + c.observable +
                              "/mean against beta/(log n)^gamma: Houdayer-Hartmann S minimised; gamma_sigma by the "
                              "pyfssa curvature rule sqrt(2 S_min / S'')");
        f.set_double_attr(g.get(), object, "gamma", c.result.gamma);
        f.set_double_attr(g.get(), object, "gamma_sigma", c.result.gamma_sigma);
        f.set_double_attr(g.get(), object, "quality", c.result.quality);
        f.set_string_attr(g.get(), object, "note", c.result.note);
      }
      if (H5Fflush(f.file.get(), H5F_SCOPE_GLOBAL) < 0) f.fail("/", "cannot flush");
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
  {
    H5File f = open_file(path, false);
    if (auto complete = f.number_attr<int>("/", "complete", H5T_NATIVE_INT); complete && *complete == 0)
      throw UsageError(path + ": the run is unfinished (root attribute complete = false); finish it with "
                              "'betacrit run CONFIG --resume' first");
    if (!f.exists("/models")) f.fail("/models", "missing group (not a betacrit results file?)");
    std::uint64_t seed = opt.bootstrap_seed;
    if (seed == 0) seed = f.number_attr<std::uint64_t>("/", "seed", H5T_NATIVE_UINT64).value_or(0);
    const double log_n_min = opt.n_min ? std::log(static_cast<double>(*opt.n_min)) : -1.0;

    for (const std::string& label : model_order(f, f.children("/models"))) {
      const std::string group = "/models/" + label;
      std::vector<double> log_n;
      if (f.exists(group + "/log2_n")) {
        auto [v, dims] = f.read<double>(group + "/log2_n", H5T_NATIVE_DOUBLE);
        if (dims.size() != 1) f.fail(group + "/log2_n", "expected a 1-D dataset");
        for (double l2 : v) log_n.push_back(l2 * std::log(2.0));
      } else if (f.exists(group + "/n")) {
        auto [v, dims] = f.read<std::uint64_t>(group + "/n", H5T_NATIVE_UINT64);
        if (dims.size() != 1) f.fail(group + "/n", "expected a 1-D dataset");
        for (std::uint64_t n : v) log_n.push_back(std::log(static_cast<double>(n)));
      } else {
        f.fail(group, "neither 'n' nor 'log2_n' is present");
      }
      for (const char* obs : {"max_weight", "norm_entropy"}) {
        if (opt.estimator) break;  // --estimator: only that estimator's fits
        if (auto c = collapse_of(f, group, obs, log_n, opt.n_min)) collapses.push_back({label, obs, std::move(*c)});
      }
      if (!f.exists(group + "/critical")) continue;
      std::vector<std::string> names;
      for (const auto& name : f.children(group + "/critical"))
        if (name.size() < 8 || name.compare(name.size() - 8, 8, "_summary") != 0) names.push_back(name);
      const std::string theory = theory_of(f, group);
      for (const std::string& est : estimator_order(names)) {
        if (std::find(available.begin(), available.end(), est) == available.end()) available.push_back(est);
        if (opt.estimator && *opt.estimator != est) continue;
        const std::string object = group + "/critical/" + est;
        auto [data, dims] = f.read<double>(object, H5T_NATIVE_DOUBLE);
        if (dims.empty() || dims.size() > 2 || dims[0] != log_n.size())
          f.fail(object, "expected [N] or [N, R] with N = " + std::to_string(log_n.size()) + " row lengths");
        const std::size_t R = dims.size() == 2 ? static_cast<std::size_t>(dims[1]) : 1;
        CriticalSeries series;
        for (std::size_t i = 0; i < log_n.size(); ++i) {
          if (log_n[i] < log_n_min - 1e-12) continue;
          series.log_n.push_back(log_n[i]);
          series.rows.emplace_back(data.begin() + static_cast<std::ptrdiff_t>(i * R),
                                   data.begin() + static_cast<std::ptrdiff_t>((i + 1) * R));
        }
        FitOptions fo;
        fo.seed = splitmix64(seed ^ fnv1a64(label + "/" + est));
        FitResult r = fit_critical(series, fo);
        const bool per_row = dims.size() == 2;
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
