#include "analysis/table.hpp"

#include "models/model.hpp"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <iomanip>
#include <ostream>

namespace betacrit {

namespace {
std::string num(double v, int digits = 2) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  std::string s = buf;
  if (s.size() > 1 && s[0] == '-' && s.find_first_not_of("-0.") == std::string::npos) s.erase(0, 1);
  return s;
}
std::string ci(double lo, double hi) {
  std::string s = "[";
  s += num(lo);
  s += ", ";
  s += num(hi);
  s += "]";
  return s;
}
}  // namespace

std::string theory_text(std::optional<double> gamma) {
  if (!gamma) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", *gamma);
  return buf;
}

std::string theory_text(const Model* model) {
  if (!model) return "-";
  const TheoryLaw law = model->law();
  if (law.gamma) return theory_text(law.gamma);
  if (law.formula.find("power law") != std::string::npos) return "none";
  return "-";
}

std::string verdict_text(const std::string& verdict) {
  for (Law l : kLaws)
    if (verdict == law_token(l)) return std::string(law_formula(l));
  return verdict;
}

void print_fit_table(const std::vector<FitTableRow>& rows, std::ostream& out) {
  std::size_t wm = 14, we = 14;
  for (const auto& r : rows) {
    wm = std::max(wm, r.model.size() + 2);
    we = std::max(we, r.estimator.size() + 2);
  }
  auto cell = [&](const std::string& s, std::size_t w) { out << std::left << std::setw(static_cast<int>(w)) << s; };
  cell("model", wm);
  cell("estimator", we);
  cell("gamma_hat", 11);
  cell("95% CI", 18);
  cell("theory", 8);
  cell("verdict", 14);
  cell("family", 11);
  out << "gamma_plain\n";
  for (const auto& r : rows) {
    const FitResult& f = r.fit;
    cell(r.model, wm);
    cell(r.estimator, we);
    cell(num(f.gamma), 11);
    cell(ci(f.gamma_lo, f.gamma_hi), 18);
    cell(r.theory, 8);
    cell(verdict_text(f.verdict), 14);
    cell(std::string(family_name(f.family)), 11);
    out << num(f.gamma_plain) << "\n";
    out << "    " << f.reason << "\n";
  }
  out << "(gamma_hat and CI from the family the verdict used; 95% CI = hull of the row bootstrap and the "
         "profile interval; model weights by "
      << kCriterion << "; see docs/science.md)\n";
}

nlohmann::json fit_table_json(const std::vector<FitTableRow>& rows) {
  nlohmann::json j;
  j["criterion"] = std::string(kCriterion);
  nlohmann::json fits = nlohmann::json::array();
  for (const auto& r : rows) {
    nlohmann::json f = r.fit.to_json();
    f["model"] = r.model;
    f["estimator"] = r.estimator;
    f["theory"] = r.theory;
    fits.push_back(std::move(f));
  }
  j["fits"] = std::move(fits);
  return j;
}

}  // namespace betacrit
