// Configuration parser and validator (SPEC §3, tail-mode keys of §9). Every key is read
// once, with its type, default and range; every problem is collected with its JSON path
// before anything is thrown, so a user fixes a config in one pass. docs/config.md is the
// user-facing description of the same rules.
#include "sim/config.hpp"
#include "sim/format.hpp"

#include "sim/tail_row.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <sstream>

namespace betacrit {

namespace {

// ordered_json keeps keys in file order, so problems are reported in reading order.
using json = nlohmann::ordered_json;

constexpr double kLn2 = 0.693147180559945309417232121458176568;
constexpr std::uint64_t kMaxIntegerN = std::uint64_t{1} << 63;  ///< largest integer row length
constexpr double kMaxLog2N = 1e6;            ///< largest log2 row length in {"log2": [...]}
constexpr std::uint64_t kMaxBetaCount = 1000000;
constexpr std::uint64_t kMaxGapsCount = 1000000;
constexpr std::uint64_t kMaxThreads = 65535;
constexpr std::size_t kMaxRangeSteps = 1000000;  ///< k steps of {min, max, factor}

// ---------------------------------------------------------------- text helpers

std::string fmt_number(double v) { return format_number(v); }

/// The offending value as the user wrote it (JSON), shortened when long.
std::string got(const json& j) {
  std::string s = j.dump();
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return s;
}

std::string in_quotes(std::string_view s) {
  std::string out(1, '"');
  out.append(s);
  out.push_back('"');
  return out;
}

std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += sep;
    out += items[i];
  }
  return out;
}

std::string join_quoted(const std::vector<std::string>& items) {
  std::vector<std::string> q;
  for (const auto& s : items) q.push_back(in_quotes(s));
  return join(q, ", ");
}

/// Optimal-string-alignment distance (Levenshtein plus adjacent transpositions), so that
/// "sclae" is one edit from "scale".
std::size_t edit_distance(std::string_view a, std::string_view b) {
  const std::size_t n = a.size(), m = b.size();
  std::vector<std::vector<std::size_t>> d(n + 1, std::vector<std::size_t>(m + 1));
  for (std::size_t i = 0; i <= n; ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= m; ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= n; ++i)
    for (std::size_t j = 1; j <= m; ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[n][m];
}

/// " (did you mean "scale"?)" when one known word is close to `given`, else
/// " (expected one of: "a", "b")".
std::string hint(std::string_view given, const std::vector<std::string>& known) {
  const std::string* best = nullptr;
  std::size_t best_d = std::numeric_limits<std::size_t>::max();
  for (const auto& k : known) {
    const std::size_t d = edit_distance(given, k);
    if (d < best_d) best_d = d, best = &k;
  }
  if (best) {
    const std::size_t allowed = std::max<std::size_t>(1, best->size() / 3);
    if (best_d <= allowed && best_d < given.size() && best_d < best->size())
      return " (did you mean " + in_quotes(*best) + "?)";
  }
  if (known.empty()) return "";
  return " (expected one of: " + join_quoted(known) + ")";
}

std::string child(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}
std::string at(const std::string& path, std::size_t i) { return path + "[" + std::to_string(i) + "]"; }

std::string kind_of(const json& j) {
  if (j.is_object()) return "an object";
  if (j.is_array()) return "an array";
  if (j.is_string()) return "a string";
  if (j.is_boolean()) return "a boolean";
  if (j.is_null()) return "null";
  return "a number";
}

// ---------------------------------------------------------------- problem collection

class Problems {
 public:
  void add(const std::string& path, const std::string& reason) {
    list_.push_back(path.empty() ? reason : path + ": " + reason);
  }
  [[nodiscard]] std::size_t size() const { return list_.size(); }
  [[nodiscard]] bool empty() const { return list_.empty(); }
  std::vector<std::string>& list() { return list_; }

 private:
  std::vector<std::string> list_;
};

void check_keys(Problems& p, const json& obj, const std::string& path, const std::vector<std::string>& known) {
  for (const auto& [key, value] : obj.items())
    if (std::find(known.begin(), known.end(), key) == known.end())
      p.add(child(path, key), "unknown key" + hint(key, known));
}

bool require(Problems& p, const json& obj, const std::string& path, const std::string& key) {
  if (obj.contains(key)) return true;
  p.add(child(path, key), "required key is missing");
  return false;
}

std::string integer_expectation(std::uint64_t lo, std::optional<std::uint64_t> hi) {
  if (hi) return "an integer in [" + std::to_string(lo) + ", " + std::to_string(*hi) + "]";
  if (lo == 0) return "a non-negative integer";
  return "an integer >= " + std::to_string(lo);
}

/// An integer in [lo, hi]; JSON numbers such as 2e3 or 2000.0 that are exact integers count.
std::optional<std::uint64_t> read_uint(Problems& p, const json& j, const std::string& path, std::uint64_t lo,
                                       std::optional<std::uint64_t> hi = std::nullopt,
                                       const std::string& expectation = "") {
  std::optional<std::uint64_t> v;
  if (j.is_number_unsigned()) {
    v = j.get<std::uint64_t>();
  } else if (j.is_number_integer()) {
    const auto x = j.get<std::int64_t>();
    if (x >= 0) v = static_cast<std::uint64_t>(x);
  } else if (j.is_number_float()) {
    const double d = j.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && d >= 0 && d < 18446744073709551616.0)
      v = static_cast<std::uint64_t>(d);
  }
  if (!v || *v < lo || (hi && *v > *hi)) {
    p.add(path, "must be " + (expectation.empty() ? integer_expectation(lo, hi) : expectation) + ", got " + got(j));
    return std::nullopt;
  }
  return v;
}

struct Bound {
  double value;
  bool inclusive;
};

std::string number_expectation(std::optional<Bound> lo, std::optional<Bound> hi) {
  if (lo && hi)
    return "a number in " + std::string(lo->inclusive ? "[" : "(") + fmt_number(lo->value) + ", " +
           fmt_number(hi->value) + (hi->inclusive ? "]" : ")");
  if (lo) return std::string("a number ") + (lo->inclusive ? ">= " : "> ") + fmt_number(lo->value);
  if (hi) return std::string("a number ") + (hi->inclusive ? "<= " : "< ") + fmt_number(hi->value);
  return "a finite number";
}

std::optional<double> read_number(Problems& p, const json& j, const std::string& path, std::optional<Bound> lo,
                                  std::optional<Bound> hi = std::nullopt) {
  bool ok = j.is_number();
  double v = ok ? j.get<double>() : 0.0;
  if (ok) ok = std::isfinite(v);
  if (ok && lo) ok = lo->inclusive ? v >= lo->value : v > lo->value;
  if (ok && hi) ok = hi->inclusive ? v <= hi->value : v < hi->value;
  if (!ok) {
    p.add(path, "must be " + number_expectation(lo, hi) + ", got " + got(j));
    return std::nullopt;
  }
  return v;
}

std::optional<std::string> read_string(Problems& p, const json& j, const std::string& path) {
  if (!j.is_string()) {
    p.add(path, "must be a string, got " + got(j));
    return std::nullopt;
  }
  return j.get<std::string>();
}

std::optional<bool> read_bool(Problems& p, const json& j, const std::string& path) {
  if (!j.is_boolean()) {
    p.add(path, "must be true or false, got " + got(j));
    return std::nullopt;
  }
  return j.get<bool>();
}

/// One of `options`; returns its index.
std::optional<std::size_t> read_choice(Problems& p, const json& j, const std::string& path,
                                       const std::vector<std::string>& options) {
  if (j.is_string()) {
    const auto s = j.get<std::string>();
    for (std::size_t i = 0; i < options.size(); ++i)
      if (options[i] == s) return i;
  }
  std::string expected;
  if (options.size() == 2)
    expected = in_quotes(options[0]) + " or " + in_quotes(options[1]);
  else
    expected = "one of " + join_quoted(options);
  std::string msg = "must be " + expected + ", got " + got(j);
  if (j.is_string()) {
    const std::string h = hint(j.get<std::string>(), options);
    if (h.rfind(" (did you mean", 0) == 0) msg += h;
  }
  p.add(path, msg);
  return std::nullopt;
}

/// A name used for HDF5 groups and file names: non-empty, no '/', no control characters,
/// not "." or "..".
std::optional<std::string> check_name(const std::string& s) {
  if (s.empty()) return "must not be empty";
  if (s == "." || s == "..") return "must not be \".\" or \"..\"";
  for (unsigned char c : s) {
    if (c == '/') return "must not contain '/', got " + in_quotes(s);
    if (c < 0x20 || c == 0x7f) return "must not contain control characters";
  }
  return std::nullopt;
}

// ---------------------------------------------------------------- syntax level

/// True when `text` holds nothing but whitespace and comments.
bool blank_or_comments(const std::string& text) {
  std::size_t i = text.rfind("\xEF\xBB\xBF", 0) == 0 ? 3 : 0;
  while (i < text.size()) {
    const char c = text[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      ++i;
    } else if (text.compare(i, 2, "//") == 0) {
      const std::size_t e = text.find('\n', i);
      if (e == std::string::npos) return true;
      i = e + 1;
    } else if (text.compare(i, 2, "/*") == 0) {
      const std::size_t e = text.find("*/", i + 2);
      if (e == std::string::npos) return false;  // the parser reports the open comment
      i = e + 2;
    } else {
      return false;
    }
  }
  return true;
}

/// "LINE:COLUMN" (1-based, column in bytes) of the character at nlohmann's `byte`, the
/// 1-based index of the last character read (size + 1 at the end of the input).
std::string location(const std::string& text, std::size_t byte) {
  const std::size_t idx = std::min(byte > 0 ? byte - 1 : 0, text.size());
  std::size_t line = 1, line_start = 0;
  for (std::size_t i = 0; i < idx; ++i)
    if (text[i] == '\n') ++line, line_start = i + 1;
  return std::to_string(line) + ":" + std::to_string(idx - line_start + 1);
}

/// nlohmann's message without its "[json.exception...] parse error at line L, column C: "
/// prefix (the location is given in compiler form instead).
std::string parse_reason(const std::string& what) {
  const std::size_t pe = what.find("parse error");
  if (pe == std::string::npos) return what;
  const std::size_t colon = what.find(": ", pe);
  return colon == std::string::npos ? what : what.substr(colon + 2);
}

/// Records keys that appear twice in one object (nlohmann keeps the last one silently).
class DuplicateKeys {
 public:
  bool on_event(json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start: frames_.push_back({false, 0, {}, {}}); break;
      case json::parse_event_t::array_start: frames_.push_back({true, 0, {}, {}}); break;
      case json::parse_event_t::key:
        if (!frames_.empty()) {
          Frame& f = frames_.back();
          f.key = parsed.get<std::string>();
          if (!f.keys.insert(f.key).second) paths_.push_back(path());
        }
        break;
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        if (!frames_.empty()) frames_.pop_back();
        element_done();
        break;
      case json::parse_event_t::value: element_done(); break;
    }
    return true;
  }
  [[nodiscard]] const std::vector<std::string>& paths() const { return paths_; }

 private:
  struct Frame {
    bool array;
    std::size_t index;
    std::string key;
    std::set<std::string> keys;
  };
  void element_done() {
    if (!frames_.empty() && frames_.back().array) ++frames_.back().index;
  }
  [[nodiscard]] std::string path() const {
    std::string s;
    for (const Frame& f : frames_) s = f.array ? at(s, f.index) : child(s, f.key);
    return s;
  }
  std::vector<Frame> frames_;
  std::vector<std::string> paths_;
};

// ---------------------------------------------------------------- sections

const std::vector<std::string> kTopKeys = {"name",       "seed",  "output",      "rows",       "threads",
                                           "store_rows", "entropy_fraction", "mode", "n", "beta",
                                           "observables", "estimators", "gaps", "models"};
const std::vector<std::string> kModeNames = {"exact", "tail"};
const std::vector<std::string> kScaleNames = {"none", "theory", "sqrt_log", "log", "log_squared"};

/// Row lengths: a list, {"min", "max", "factor"} or {"log2": [...]}. Fills log2_n (and n
/// when every length is an integer <= 2^63). False when the key had problems.
bool read_n(Problems& p, const json& j, RunConfig& cfg) {
  const std::size_t before = p.size();
  std::vector<std::uint64_t> values;
  if (j.is_array()) {
    if (j.empty()) p.add("n", "must not be empty");
    for (std::size_t i = 0; i < j.size(); ++i)
      if (auto v = read_uint(p, j[i], at("n", i), 2, kMaxIntegerN,
                             "an integer >= 2 (at most 2^63; longer rows take {\"log2\": [...]})"))
        values.push_back(*v);
  } else if (j.is_object() && j.contains("log2")) {
    for (const auto& [key, value] : j.items())
      if (key != "log2")
        p.add(child("n", key), "not allowed together with n.log2 (n is either {\"log2\": [...]} or "
                               "{\"min\", \"max\", \"factor\"})");
    const json& l = j["log2"];
    if (!l.is_array()) {
      p.add("n.log2", "must be a list of numbers in [1, " + fmt_number(kMaxLog2N) + "], got " + got(l));
    } else {
      if (l.empty()) p.add("n.log2", "must not be empty");
      std::vector<double> x;
      for (std::size_t i = 0; i < l.size(); ++i)
        if (auto v = read_number(p, l[i], at("n.log2", i), Bound{1, true}, Bound{kMaxLog2N, true}))
          x.push_back(*v);
      if (p.size() == before) {
        std::sort(x.begin(), x.end());
        x.erase(std::unique(x.begin(), x.end()), x.end());
        cfg.log2_n = x;
        const bool integral = std::all_of(x.begin(), x.end(), [](double v) { return v == std::floor(v) && v <= 63; });
        if (integral)
          for (double v : x) cfg.n.push_back(std::uint64_t{1} << static_cast<unsigned>(v));
      }
      return p.size() == before;
    }
    return false;
  } else if (j.is_object()) {
    check_keys(p, j, "n", {"min", "max", "factor", "log2"});
    std::optional<std::uint64_t> lo, hi;
    std::optional<double> factor = 2.0;
    if (require(p, j, "n", "min")) lo = read_uint(p, j["min"], "n.min", 2, kMaxIntegerN);
    if (require(p, j, "n", "max")) hi = read_uint(p, j["max"], "n.max", 2, kMaxIntegerN);
    if (j.contains("factor")) factor = read_number(p, j["factor"], "n.factor", Bound{1, false});
    if (lo && hi && *lo > *hi)
      p.add("n.min", "must be <= n.max, got " + std::to_string(*lo) + " > " + std::to_string(*hi));
    if (p.size() == before) {
      const double steps = std::log(static_cast<double>(*hi) / static_cast<double>(*lo)) / std::log(*factor);
      if (!(steps < static_cast<double>(kMaxRangeSteps))) {
        p.add("n.factor", "is too close to 1: {min, max, factor} would take more than " +
                              std::to_string(kMaxRangeSteps) + " steps, got " + fmt_number(*factor));
        return false;
      }
      // round(min·factor^k) for k = 0, 1, ... while <= max.
      for (std::size_t k = 0;; ++k) {
        const double v = std::round(static_cast<double>(*lo) * std::pow(*factor, static_cast<double>(k)));
        if (v > static_cast<double>(*hi)) break;
        values.push_back(std::min(static_cast<std::uint64_t>(v), *hi));
      }
    }
  } else {
    p.add("n", "must be a list of integers >= 2, an object {\"min\", \"max\", \"factor\"} or "
               "{\"log2\": [...]}, got " + got(j));
  }
  if (p.size() != before) return false;
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  cfg.n = values;
  for (std::uint64_t v : values) cfg.log2_n.push_back(std::log2(static_cast<double>(v)));
  return true;
}

bool read_beta(Problems& p, const json& j, RunConfig& cfg) {
  const std::size_t before = p.size();
  if (!j.is_object()) {
    p.add("beta", "must be an object {\"min\", \"max\", \"count\", \"spacing\", \"scale\"} or "
                  "{\"values\": [...], \"scale\"}, got " + got(j));
    return false;
  }
  const std::vector<std::string> all = {"min", "max", "count", "spacing", "scale", "values"};
  if (j.contains("scale"))
    if (auto s = read_choice(p, j["scale"], "beta.scale", kScaleNames)) cfg.beta_scale = static_cast<BetaScale>(*s);

  std::vector<double> grid;
  if (j.contains("values")) {
    for (const auto& [key, value] : j.items()) {
      if (key == "values" || key == "scale") continue;
      if (std::find(all.begin(), all.end(), key) != all.end())
        p.add(child("beta", key), "not allowed together with beta.values (beta is either a grid "
                                  "{\"min\", \"max\", \"count\"} or a list {\"values\": [...]})");
      else
        p.add(child("beta", key), "unknown key" + hint(key, {"values", "scale"}));
    }
    const json& v = j["values"];
    if (!v.is_array()) {
      p.add("beta.values", "must be a list of numbers >= 0, got " + got(v));
    } else {
      if (v.empty()) p.add("beta.values", "must not be empty");
      for (std::size_t i = 0; i < v.size(); ++i)
        if (auto x = read_number(p, v[i], at("beta.values", i), Bound{0, true})) grid.push_back(*x);
    }
  } else {
    check_keys(p, j, "beta", all);
    std::optional<double> lo, hi;
    std::optional<std::uint64_t> count;
    std::optional<std::size_t> spacing = 0;  // "log"
    if (j.contains("spacing")) spacing = read_choice(p, j["spacing"], "beta.spacing", {"log", "linear"});
    if (require(p, j, "beta", "min")) lo = read_number(p, j["min"], "beta.min", Bound{0, true});
    if (require(p, j, "beta", "max")) hi = read_number(p, j["max"], "beta.max", Bound{0, true});
    if (require(p, j, "beta", "count")) count = read_uint(p, j["count"], "beta.count", 1, kMaxBetaCount);
    const bool log_spacing = spacing && *spacing == 0;
    if (lo && log_spacing && *lo == 0) {
      p.add("beta.min", "must be > 0 for \"log\" spacing, got " + got(j["min"]) +
                            " (use \"spacing\": \"linear\" to start at 0)");
      lo.reset();
    }
    if (lo && hi && *lo > *hi) {
      p.add("beta.min", "must be <= beta.max, got " + fmt_number(*lo) + " > " + fmt_number(*hi));
    } else if (lo && hi && count) {
      if (*count == 1 && *lo != *hi)
        p.add("beta.count", "a grid of 1 point needs beta.min == beta.max, got min " + fmt_number(*lo) +
                                " and max " + fmt_number(*hi));
      if (*count > 1 && *lo == *hi)
        p.add("beta.count", "must be 1 when beta.min == beta.max (" + fmt_number(*lo) + "), got " +
                                std::to_string(*count));
    }
    if (p.size() == before && spacing && lo && hi && count) {
      const std::size_t c = static_cast<std::size_t>(*count);
      grid.resize(c);
      for (std::size_t i = 0; i < c; ++i) {
        const double f = c > 1 ? static_cast<double>(i) / static_cast<double>(c - 1) : 0.0;
        grid[i] = log_spacing ? std::exp(std::log(*lo) + (std::log(*hi) - std::log(*lo)) * f)
                              : *lo + (*hi - *lo) * f;
      }
      grid.front() = *lo;
      grid.back() = *hi;
    }
  }
  if (p.size() != before) return false;
  std::sort(grid.begin(), grid.end());
  grid.erase(std::unique(grid.begin(), grid.end()), grid.end());
  cfg.beta_grid = grid;
  return true;
}

/// A list of unique names (observables or estimators).
template <class T>
std::optional<std::vector<T>> read_names(Problems& p, const json& j, const std::string& path, const std::string& what,
                                         const std::vector<std::string>& known,
                                         const std::function<std::optional<T>(std::string_view)>& from_name) {
  if (!j.is_array()) {
    p.add(path, "must be a list of " + what + " names (" + join_quoted(known) + "), got " + got(j));
    return std::nullopt;
  }
  const std::size_t before = p.size();
  std::vector<T> out;
  std::map<std::string, std::size_t> first;
  for (std::size_t i = 0; i < j.size(); ++i) {
    const auto s = read_string(p, j[i], at(path, i));
    if (!s) continue;
    const auto v = from_name(*s);
    if (!v) {
      p.add(at(path, i), "unknown " + what + " " + in_quotes(*s) + hint(*s, known));
      continue;
    }
    if (auto [it, fresh] = first.emplace(*s, i); !fresh) {
      p.add(at(path, i), in_quotes(*s) + " is listed twice (also " + at(path, it->second) + ")");
      continue;
    }
    out.push_back(*v);
  }
  if (p.size() != before) return std::nullopt;
  return out;
}

void read_gaps(Problems& p, const json& j, RunConfig& cfg) {
  if (!j.is_object()) {
    p.add("gaps", "must be an object {\"t_max\", \"count\"}, got " + got(j));
    return;
  }
  check_keys(p, j, "gaps", {"t_max", "count"});
  if (j.contains("t_max"))
    if (auto v = read_number(p, j["t_max"], "gaps.t_max", Bound{0, false})) cfg.gaps_t_max = *v;
  if (j.contains("count"))
    if (auto v = read_uint(p, j["count"], "gaps.count", 1, kMaxGapsCount)) cfg.gaps_count = static_cast<std::size_t>(*v);
}

std::vector<std::string> registry_types() {
  std::vector<std::string> types;
  for (const auto& m : model_registry()) types.push_back(m.type);
  return types;
}

/// models[i]; `explicit_mode[i]` records whether the entry set its own "mode". Entries
/// with problems are left without a model.
void read_models(Problems& p, const json& j, RowMode run_mode, RunConfig& cfg, std::vector<bool>& explicit_mode) {
  if (!j.is_array()) {
    p.add("models", "must be a non-empty list of model objects {\"type\": ..., ...}, got " + got(j));
    return;
  }
  if (j.empty()) {
    p.add("models", "must not be empty: list at least one model {\"type\": ...} (types: " +
                        join(registry_types(), ", ") + ")");
    return;
  }
  std::map<std::string, std::size_t> label_owner;
  for (std::size_t i = 0; i < j.size(); ++i) {
    const std::string path = at("models", i);
    const json& e = j[i];
    ModelEntry entry;
    entry.mode = run_mode;
    explicit_mode.push_back(false);
    if (!e.is_object()) {
      p.add(path, "must be an object {\"type\": ..., ...}, got " + got(e));
      cfg.models.push_back(std::move(entry));
      continue;
    }
    const std::size_t before = p.size();
    const ModelInfo* info = nullptr;
    if (!e.contains("type")) {
      p.add(child(path, "type"), "required key is missing (types: " + join(registry_types(), ", ") + ")");
    } else if (auto t = read_string(p, e["type"], child(path, "type"))) {
      entry.type = *t;
      info = find_model(*t);
      if (!info) p.add(child(path, "type"), "unknown model type " + in_quotes(*t) + hint(*t, registry_types()));
    }
    bool label_given = false;
    if (e.contains("label")) {
      if (auto l = read_string(p, e["label"], child(path, "label"))) {
        if (auto why = check_name(*l))
          p.add(child(path, "label"), *why);
        else
          entry.label = *l, label_given = true;
      }
    } else {
      entry.label = entry.type;
    }
    if (e.contains("mode")) {
      explicit_mode.back() = true;
      if (auto m = read_choice(p, e["mode"], child(path, "mode"), kModeNames)) entry.mode = static_cast<RowMode>(*m);
    }
    if (info) {
      std::vector<std::string> known = {"type", "label", "mode"};
      for (const auto& spec : info->params) known.push_back(spec.name);
      for (const auto& [key, value] : e.items()) {
        if (key == "type" || key == "label" || key == "mode") continue;
        const bool is_param = std::any_of(info->params.begin(), info->params.end(),
                                          [&](const ParamSpec& s) { return s.name == key; });
        if (!is_param) {
          p.add(child(path, key), "unknown key for model " + in_quotes(info->type) + hint(key, known));
        } else if (!value.is_number()) {
          p.add(child(path, key), "must be a number, got " + got(value));
        } else {
          entry.params[key] = value.get<double>();
        }
      }
      for (const auto& problem : check_params(*info, entry.params)) p.add("", path + "." + problem);
      if (p.size() == before) {
        try {
          entry.model = make_model(entry.type, entry.params);
        } catch (const std::exception& ex) {
          p.add(path, ex.what());
        }
      }
    }
    if (!entry.label.empty()) {
      if (auto [it, fresh] = label_owner.emplace(entry.label, i); !fresh)
        p.add(child(path, "label"),
              "duplicate label " + in_quotes(entry.label) + " (also " + at("models", it->second) + ")" +
                  (label_given ? "; labels must be unique"
                               : "; the default label is the type, so give models of the same type a \"label\""));
    }
    cfg.models.push_back(std::move(entry));
  }
}

std::string describe(const std::string& path, const ModelEntry& e) {
  return e.label == e.type ? path + " (" + e.type + ")" : path + " (\"" + e.label + "\", " + e.type + ")";
}

std::string length_text(const RunConfig& cfg, std::size_t i) {
  if (!cfg.n.empty()) return std::to_string(cfg.n[i]);
  return "2^" + fmt_number(cfg.log2_n[i]);
}

/// Checks that need n, β and the built models together.
void cross_check(Problems& p, const RunConfig& cfg, bool n_ok, bool beta_ok, const std::vector<bool>& explicit_mode) {
  // Exact mode draws every score: the lengths must be integers.
  if (n_ok && cfg.n.empty()) {
    std::vector<std::string> exact;
    for (std::size_t i = 0; i < cfg.models.size(); ++i)
      if (cfg.models[i].mode == RowMode::exact) exact.push_back(at("models", i));
    if (!exact.empty()) {
      std::string bad;
      for (double x : cfg.log2_n)
        if (!(x == std::floor(x) && x <= 63)) {
          bad = "2^" + fmt_number(x);
          break;
        }
      p.add("n", "exact mode (" + join(exact, ", ") + ") needs integer row lengths n <= 2^63, but " + bad +
                     " is not one; use integer log2 values <= 63, or \"mode\": \"tail\"");
    }
  }
  for (std::size_t i = 0; i < cfg.models.size(); ++i) {
    const ModelEntry& e = cfg.models[i];
    if (!e.model) continue;
    const std::string path = at("models", i);
    if (n_ok) {
      const std::uint64_t min_n = e.model->min_n();
      std::vector<std::string> short_lengths;
      for (std::size_t k = 0; k < cfg.log2_n.size(); ++k) {
        const bool too_short = !cfg.n.empty() ? cfg.n[k] < min_n : cfg.log2_n[k] < std::log2(static_cast<double>(min_n));
        if (too_short) short_lengths.push_back(length_text(cfg, k));
      }
      if (!short_lengths.empty())
        p.add("n", join(short_lengths, ", ") + (short_lengths.size() == 1 ? " is" : " are") +
                       " below the minimum row length " + std::to_string(min_n) + " of " + describe(path, e));
    }
    if (e.mode == RowMode::tail && !tail_mode_supported(*e.model)) {
      const std::string why = !e.model->iid() ? "rows of " + e.type + " are not iid"
                                              : e.type + " has no tail quantile";
      if (explicit_mode[i])
        p.add(child(path, "mode"), "tail mode needs an iid model with a known tail quantile, but " + why +
                                       "; use \"exact\"");
      else
        p.add("mode", "tail mode needs an iid model with a known tail quantile, but " + why + " (" + path +
                          "); set \"mode\": \"exact\" on that model");
    } else if (e.mode == RowMode::tail && n_ok) {
      // Tail rows reach 2^kTailMaxLog2N; heavy tails may overflow a double before that (the
      // top score of a row is beyond Q(-(log n + 50)) with probability e^-50).
      for (std::size_t k = 0; k < cfg.log2_n.size(); ++k) {
        if (cfg.log2_n[k] > kTailMaxLog2N) {
          p.add("n", "2^" + fmt_number(cfg.log2_n[k]) + " is beyond tail mode's longest row 2^" +
                         fmt_number(kTailMaxLog2N) + " (" + describe(path, e) + ")");
          break;
        }
        const auto top = e.model->upper_quantile_log(-(cfg.log_n(k) + 50.0));
        if (!top || !std::isfinite(*top)) {
          p.add("n", "scores of " + describe(path, e) + " overflow a double at n = " + length_text(cfg, k) +
                         " in tail mode; use shorter rows");
          break;
        }
      }
    }
    if (beta_ok && n_ok && cfg.beta_scale == BetaScale::theory) {
      for (std::size_t k = 0; k < cfg.log2_n.size(); ++k) {
        const auto b = e.model->theory_beta(cfg.log_n(k));
        if (!b) {
          p.add("beta.scale", "\"theory\" needs a theoretical beta*(n), which " + describe(path, e) +
                                  " does not have; use another scale");
          break;
        }
        if (!(std::isfinite(*b) && *b > 0)) {
          p.add("beta.scale", "\"theory\" gives beta*(n) = " + fmt_number(*b) + " for " + describe(path, e) +
                                  " at n = " + length_text(cfg, k) + "; it must be > 0 (use larger n or another scale)");
          break;
        }
      }
    }
  }
}

std::string error_text(const std::string& source, const std::vector<std::string>& problems) {
  std::string out;
  for (const auto& prob : problems) {
    if (!out.empty()) out += '\n';
    // "LINE:COLUMN: reason" joins the source with ':' (compiler style), a path with ": ".
    const std::size_t c1 = prob.find(':');
    const bool located = c1 != std::string::npos && c1 > 0 &&
                         std::all_of(prob.begin(), prob.begin() + static_cast<std::ptrdiff_t>(c1),
                                     [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }) &&
                         c1 + 1 < prob.size() && std::isdigit(static_cast<unsigned char>(prob[c1 + 1]));
    if (!source.empty()) out += source + (located ? ":" : ": ");
    out += prob;
  }
  return out;
}

}  // namespace

// ---------------------------------------------------------------- public API

std::string_view beta_scale_name(BetaScale s) {
  switch (s) {
    case BetaScale::none: return "none";
    case BetaScale::theory: return "theory";
    case BetaScale::sqrt_log: return "sqrt_log";
    case BetaScale::log: return "log";
    case BetaScale::log_squared: return "log_squared";
  }
  return "?";
}

std::string_view row_mode_name(RowMode m) { return m == RowMode::tail ? "tail" : "exact"; }

std::vector<double> RunConfig::gap_grid() const {
  std::vector<double> t(gaps_count);
  for (std::size_t j = 0; j < gaps_count; ++j)
    t[j] = gaps_t_max * static_cast<double>(j + 1) / static_cast<double>(gaps_count);
  return t;
}

double RunConfig::log_n(std::size_t i) const { return log2_n.at(i) * kLn2; }

double swept_beta(const RunConfig& cfg, const Model& m, double g, double log_n) {
  switch (cfg.beta_scale) {
    case BetaScale::none: return g;
    case BetaScale::theory: {
      const auto b = m.theory_beta(log_n);
      if (!b) throw std::invalid_argument("beta scale \"theory\": model '" + m.type() + "' has no theoretical beta*(n)");
      return g * *b;
    }
    case BetaScale::sqrt_log: return g * std::sqrt(log_n);
    case BetaScale::log: return g * log_n;
    case BetaScale::log_squared: return g * log_n * log_n;
  }
  return g;
}

ConfigError::ConfigError(std::string source_, std::vector<std::string> problems_)
    : std::runtime_error(error_text(source_, problems_)), problems(std::move(problems_)), source(std::move(source_)) {}

RunConfig parse_config(const std::string& text, const std::string& source) {
  if (blank_or_comments(text))
    throw ConfigError(source, {"no JSON value: the config is empty or holds only comments; expected an object "
                               "{\"seed\": ..., \"rows\": ..., \"n\": ..., \"beta\": ..., \"models\": [...]}"});
  json root;
  DuplicateKeys duplicates;
  try {
    root = json::parse(
        text, [&duplicates](int, json::parse_event_t ev, json& parsed) { return duplicates.on_event(ev, parsed); },
        true, /*ignore_comments=*/true);
  } catch (const json::parse_error& e) {
    throw ConfigError(source, {location(text, e.byte) + ": " + parse_reason(e.what())});
  } catch (const json::exception& e) {
    // e.g. "number overflow parsing '1e400'": no byte position, so locate the quoted token.
    std::string reason = e.what();
    if (const std::size_t close = reason.find("] "); reason.rfind("[json.exception", 0) == 0 && close != std::string::npos)
      reason = reason.substr(close + 2);
    const std::size_t q1 = reason.find('\''), q2 = reason.rfind('\'');
    std::size_t pos = std::string::npos;
    if (q1 != std::string::npos && q2 > q1 + 1) pos = text.find(reason.substr(q1 + 1, q2 - q1 - 1));
    throw ConfigError(source, {(pos != std::string::npos ? location(text, pos + 1) + ": " : std::string()) + reason});
  }
  if (!root.is_object())
    throw ConfigError(source, {"the top level must be a JSON object {\"seed\": ..., ...}, got " + kind_of(root)});

  Problems p;
  for (const auto& path : duplicates.paths())
    p.add(path, "duplicate key (each key may appear once; the later value would silently win)");

  RunConfig cfg;
  cfg.text = text;
  check_keys(p, root, "", kTopKeys);
  for (const char* key : {"seed", "rows", "n", "beta", "models"}) require(p, root, "", key);

  cfg.name = std::filesystem::path(source).stem().string();
  if (cfg.name.empty() || check_name(cfg.name)) cfg.name = "betacrit";
  if (root.contains("name"))
    if (auto s = read_string(p, root["name"], "name")) {
      if (auto why = check_name(*s))
        p.add("name", *why);
      else
        cfg.name = *s;
    }
  if (root.contains("seed"))
    if (auto v = read_uint(p, root["seed"], "seed", 0)) cfg.seed = *v;
  cfg.output = cfg.name + ".h5";
  if (root.contains("output"))
    if (auto s = read_string(p, root["output"], "output")) {
      if (s->empty())
        p.add("output", "must not be empty");
      else
        cfg.output = *s;
    }
  if (root.contains("rows"))
    if (auto v = read_uint(p, root["rows"], "rows", 1)) cfg.rows = *v;
  if (root.contains("threads"))
    if (auto v = read_uint(p, root["threads"], "threads", 0, kMaxThreads)) cfg.threads = static_cast<int>(*v);
  if (root.contains("store_rows"))
    if (auto v = read_bool(p, root["store_rows"], "store_rows")) cfg.store_rows = *v;
  if (root.contains("entropy_fraction"))
    if (auto v = read_number(p, root["entropy_fraction"], "entropy_fraction", Bound{0, false}, Bound{1, false}))
      cfg.entropy_fraction = *v;
  RowMode run_mode = RowMode::exact;
  if (root.contains("mode"))
    if (auto m = read_choice(p, root["mode"], "mode", kModeNames)) run_mode = static_cast<RowMode>(*m);

  const bool n_ok = root.contains("n") && read_n(p, root["n"], cfg);
  const bool beta_ok = root.contains("beta") && read_beta(p, root["beta"], cfg);

  std::vector<std::string> obs_names, est_names;
  for (Observable o : kAllObservables) obs_names.emplace_back(observable_name(o));
  for (Estimator e : {Estimator::accumulation, Estimator::half_mass, Estimator::entropy_fraction,
                      Estimator::sweep_half_mass})
    est_names.emplace_back(estimator_name(e));
  cfg.observables.assign(kAllObservables.begin(), kAllObservables.end());
  if (root.contains("observables"))
    if (auto v = read_names<Observable>(p, root["observables"], "observables", "observable", obs_names,
                                        observable_from_name))
      cfg.observables = *v;
  cfg.estimators = {Estimator::accumulation, Estimator::half_mass, Estimator::entropy_fraction,
                    Estimator::sweep_half_mass};
  if (root.contains("estimators"))
    if (auto v = read_names<Estimator>(p, root["estimators"], "estimators", "estimator", est_names,
                                       estimator_from_name))
      cfg.estimators = *v;
  if (root.contains("gaps")) read_gaps(p, root["gaps"], cfg);

  std::vector<bool> explicit_mode;
  if (root.contains("models")) read_models(p, root["models"], run_mode, cfg, explicit_mode);
  cross_check(p, cfg, n_ok, beta_ok, explicit_mode);

  if (!p.empty()) throw ConfigError(source, std::move(p.list()));
  return cfg;
}

RunConfig load_config(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw ConfigError(path, {"is a directory, not a config file"});
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(path, {std::string("cannot open the config file (") + std::strerror(errno) + ")"});
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw ConfigError(path, {std::string("cannot read the config file (") + std::strerror(errno) + ")"});
  return parse_config(text.str(), path);
}

}  // namespace betacrit
