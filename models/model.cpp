#include "models/model.hpp"

#include "sim/format.hpp"

#include <cmath>
#include <sstream>
#include <stdexcept>

namespace betacrit {

namespace {
std::string fmt(double v) { return format_number(v); }
}  // namespace

std::optional<std::string> ParamSpec::check(double v) const {
  if (!std::isfinite(v)) return "must be a finite number, got " + fmt(v);
  if (kind == Kind::Integer && v != std::floor(v))
    return "must be an integer, got " + fmt(v);
  const bool lo_ok = min_inclusive ? v >= min : v > min;
  const bool hi_ok = max_inclusive ? v <= max : v < max;
  if (!lo_ok) return std::string("must be ") + (min_inclusive ? ">= " : "> ") + fmt(min) + ", got " + fmt(v);
  if (!hi_ok) return std::string("must be ") + (max_inclusive ? "<= " : "< ") + fmt(max) + ", got " + fmt(v);
  return std::nullopt;
}

std::string ParamSpec::range_text() const {
  std::ostringstream os;
  if (kind == Kind::Integer) os << "integer in ";
  os << (min_inclusive ? '[' : '(') << fmt(min) << ", " << fmt(max) << (max_inclusive ? ']' : ')');
  return os.str();
}

const ModelInfo* find_model(const std::string& type) {
  for (const auto& m : model_registry())
    if (m.type == type) return &m;
  return nullptr;
}

std::vector<std::string> check_params(const ModelInfo& info, const ParamValues& given) {
  std::vector<std::string> problems;
  for (const auto& [name, value] : given) {
    const ParamSpec* spec = nullptr;
    for (const auto& p : info.params)
      if (p.name == name) spec = &p;
    if (!spec) {
      std::string known;
      for (const auto& p : info.params) known += (known.empty() ? "" : ", ") + p.name;
      problems.push_back(name + ": unknown parameter of model '" + info.type + "' (known: " +
                         (known.empty() ? "none" : known) + ")");
      continue;
    }
    if (auto why = spec->check(value)) problems.push_back(name + ": " + *why);
  }
  return problems;
}

std::unique_ptr<Model> make_model(const std::string& type, const ParamValues& given) {
  const ModelInfo* info = find_model(type);
  if (!info) throw std::invalid_argument("unknown model type '" + type + "'");
  auto problems = check_params(*info, given);
  if (!problems.empty()) {
    std::string all;
    for (const auto& p : problems) all += (all.empty() ? "" : "; ") + p;
    throw std::invalid_argument(all);
  }
  ParamValues full;
  for (const auto& p : info->params) full[p.name] = p.default_value;
  for (const auto& [k, v] : given) full[k] = v;
  return info->make(full);
}

}  // namespace betacrit
