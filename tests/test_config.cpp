// The configuration parser (SPEC §3): every malformed config in tests/data/bad_configs is
// refused with a message naming its JSON path, all problems are reported together, and
// valid configs expand n, β and the defaults as docs/config.md describes.
#include "sim/config.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using namespace betacrit;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json base_config() {
  return json::parse(R"({
    "seed": 7,
    "rows": 10,
    "n": [64, 128],
    "beta": {"min": 0.1, "max": 4, "count": 8},
    "models": [{"type": "gaussian"}]
  })");
}

RunConfig parse(const json& j, const std::string& source = "test.json") { return parse_config(j.dump(2), source); }

/// The ConfigError that parsing `text` throws (fails the test when nothing is thrown).
ConfigError error_of(const std::string& text, const std::string& source = "test.json") {
  try {
    parse_config(text, source);
  } catch (const ConfigError& e) {
    return e;
  }
  FAIL("no ConfigError for: " << text);
  throw std::logic_error("unreachable");
}

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("every malformed config in tests/data/bad_configs is refused with its expected message",
          "[config][bad]") {
  const fs::path dir = fs::path(BETACRIT_SOURCE_DIR) / "tests" / "data" / "bad_configs";
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.path().extension() == ".json") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  REQUIRE(files.size() >= 30);
  const std::string marker = "// expect: ";
  for (const auto& file : files) {
    CAPTURE(file.filename().string());
    std::ifstream in(file);
    std::string first;
    std::getline(in, first);
    REQUIRE(first.rfind(marker, 0) == 0);
    const std::string expected = first.substr(marker.size());
    REQUIRE(!expected.empty());
    try {
      load_config(file.string());
      FAIL("accepted a malformed config");
    } catch (const ConfigError& e) {
      const std::string what = e.what();
      CAPTURE(what);
      CHECK(contains(what, expected));
      CHECK(!e.problems.empty());
      // Every line names the file first.
      for (const auto& line : lines_of(what)) CHECK(line.rfind(file.string() + ":", 0) == 0);
    }
  }
}

TEST_CASE("all problems of a config are reported together, one per line", "[config][bad]") {
  json j = base_config();
  j["seed"] = "x";
  j["rows"] = 0;
  j["beta"]["sclae"] = "log";
  j["observables"] = {"entropy", "foo"};
  j["models"] = {{{"type", "gaussian"}}, {{"type", "weibull_tail"}, {"shape", -2}}};
  const ConfigError e = error_of(j.dump(2), "configs/multi.json");
  const std::vector<std::string> expected = {
      "configs/multi.json: seed: must be a non-negative integer, got \"x\"",
      "configs/multi.json: rows: must be an integer >= 1, got 0",
      "configs/multi.json: beta.sclae: unknown key (did you mean \"scale\"?)",
      "configs/multi.json: observables[1]: unknown observable \"foo\"",
      "configs/multi.json: models[1].shape: must be > 0, got -2",
  };
  CAPTURE(e.what());
  CHECK(e.problems.size() == expected.size());
  const auto lines = lines_of(e.what());
  CHECK(lines.size() == expected.size());
  for (const auto& want : expected) {
    const bool found = std::any_of(lines.begin(), lines.end(), [&](const std::string& l) { return l.rfind(want, 0) == 0; });
    CAPTURE(want);
    CHECK(found);
  }
  CHECK(e.source == "configs/multi.json");
}

TEST_CASE("syntax errors give SOURCE:LINE:COLUMN from the byte position", "[config][bad]") {
  // The second ',' on line 3 is at column 14.
  const ConfigError e = error_of("{\n  \"seed\": 1,\n  \"rows\": 10,,\n}", "x.json");
  REQUIRE(e.problems.size() == 1);
  CHECK(std::string(e.what()).rfind("x.json:3:14: syntax error", 0) == 0);
  // A missing closing brace is reported at the end of the input (line 2, after "1").
  const ConfigError eof = error_of("{\"seed\":\n 1", "y.json");
  CHECK(std::string(eof.what()).rfind("y.json:2:3: ", 0) == 0);
  CHECK(contains(eof.what(), "unexpected end of input"));
  // An unterminated block comment is a syntax error, not an "empty" config.
  CHECK(contains(error_of("/* open", "z.json").what(), "z.json:1:"));
}

TEST_CASE("empty input, a non-object top level and unreadable files are clear errors", "[config][bad]") {
  CHECK(contains(error_of("", "e.json").what(), "e.json: no JSON value"));
  CHECK(contains(error_of("  // only a comment\n /* and another */ \n", "e.json").what(), "e.json: no JSON value"));
  CHECK(contains(error_of("42", "t.json").what(), "t.json: the top level must be a JSON object"));
  CHECK(contains(error_of("\"text\"", "t.json").what(), "got a string"));

  const std::string missing = (fs::temp_directory_path() / "betacrit_no_such_config.json").string();
  try {
    load_config(missing);
    FAIL("accepted a missing file");
  } catch (const ConfigError& e) {
    CHECK(std::string(e.what()) == missing + ": cannot open the config file (No such file or directory)");
  }
  try {
    load_config(fs::temp_directory_path().string());
    FAIL("accepted a directory");
  } catch (const ConfigError& e) {
    CHECK(contains(e.what(), "is a directory"));
  }
}

TEST_CASE("unknown keys without a close match list the known ones", "[config][bad]") {
  json j = base_config();
  j["gaps"] = {{"zzzzzz", 1}};
  const ConfigError e = error_of(j.dump());
  REQUIRE(e.problems.size() == 1);
  CHECK(e.problems[0] == "gaps.zzzzzz: unknown key (expected one of: \"t_max\", \"count\")");
}

TEST_CASE("n as {min, max, factor} keeps round(min*factor^k) <= max", "[config][n]") {
  json j = base_config();
  SECTION("factor 2: max included only when hit") {
    j["n"] = {{"min", 64}, {"max", 1000}, {"factor", 2}};
    CHECK(parse(j).n == std::vector<std::uint64_t>{64, 128, 256, 512});
    j["n"]["max"] = 1024;
    CHECK(parse(j).n == std::vector<std::uint64_t>{64, 128, 256, 512, 1024});
  }
  SECTION("fractional factor rounds half away from zero") {
    // 10·1.5^k = 10, 15, 22.5, 33.75, 50.625
    j["n"] = {{"min", 10}, {"max", 40}, {"factor", 1.5}};
    CHECK(parse(j).n == std::vector<std::uint64_t>{10, 15, 23, 34});
  }
  SECTION("duplicates after rounding are dropped") {
    // 2·1.2^k = 2, 2.4, 2.88, 3.456, 4.1472, 4.97664, 5.971968, 7.1663616, 8.59963392,
    // 10.3196 (rounds to 10 <= max), 12.38
    j["n"] = {{"min", 2}, {"max", 10}, {"factor", 1.2}};
    CHECK(parse(j).n == std::vector<std::uint64_t>{2, 3, 4, 5, 6, 7, 9, 10});
  }
  SECTION("factor defaults to 2; min == max gives one length") {
    j["n"] = {{"min", 100}, {"max", 100}};
    CHECK(parse(j).n == std::vector<std::uint64_t>{100});
    j["n"] = {{"min", 3}, {"max", 40}};
    CHECK(parse(j).n == std::vector<std::uint64_t>{3, 6, 12, 24});
  }
  SECTION("log2_n is filled alongside") {
    j["n"] = {{"min", 64}, {"max", 1024}, {"factor", 4}};
    const RunConfig c = parse(j);
    REQUIRE(c.n == std::vector<std::uint64_t>{64, 256, 1024});
    CHECK(c.log2_n == std::vector<double>{6, 8, 10});
    CHECK(c.log_n(2) == Approx(std::log(1024.0)).epsilon(1e-15));
  }
}

TEST_CASE("n as a list is sorted and deduplicated; integers may be written as 1e3", "[config][n]") {
  json j = base_config();
  j["n"] = json::parse("[1000, 64, 1e3, 64, 200.0]");
  const RunConfig c = parse(j);
  CHECK(c.n == std::vector<std::uint64_t>{64, 200, 1000});
  REQUIRE(c.log2_n.size() == 3);
  CHECK(c.log2_n[1] == Approx(std::log(200.0) / std::log(2.0)).epsilon(1e-15));
  j["n"] = json::parse("[64, 100.5]");
  CHECK(contains(error_of(j.dump()).what(), "n[1]: must be an integer >= 2"));
}

TEST_CASE("n as {log2: [...]} fills log2_n and, for integers up to 63, n", "[config][n]") {
  json j = base_config();
  j["n"] = {{"log2", {20, 4, 10, 4}}};
  RunConfig c = parse(j);
  CHECK(c.log2_n == std::vector<double>{4, 10, 20});
  CHECK(c.n == std::vector<std::uint64_t>{16, 1024, 1048576});
  j["n"] = {{"log2", {63}}};
  c = parse(j);
  CHECK(c.n == std::vector<std::uint64_t>{std::uint64_t{1} << 63});
  // Exact mode needs integer lengths: 2^64 is beyond, 2^6.5 is not an integer.
  j["n"] = {{"log2", {8, 64}}};
  CHECK(contains(error_of(j.dump()).what(), "n: exact mode (models[0]) needs integer row lengths"));
  j["n"] = {{"log2", {6.5}}};
  CHECK(contains(error_of(j.dump()).what(), "but 2^6.5 is not one"));
}

TEST_CASE("beta grids: log and linear spacing, explicit values", "[config][beta]") {
  json j = base_config();
  SECTION("log spacing is the default and hits both ends") {
    j["beta"] = {{"min", 0.01}, {"max", 100}, {"count", 5}};
    const RunConfig c = parse(j);
    REQUIRE(c.beta_grid.size() == 5);
    const double want[] = {0.01, 0.1, 1, 10, 100};
    for (int i = 0; i < 5; ++i) CHECK(c.beta_grid[i] == Approx(want[i]).epsilon(1e-13));
    CHECK(c.beta_grid.front() == 0.01);
    CHECK(c.beta_grid.back() == 100);
    CHECK(c.beta_scale == BetaScale::none);
  }
  SECTION("linear spacing may start at 0") {
    j["beta"] = {{"min", 0}, {"max", 1}, {"count", 5}, {"spacing", "linear"}};
    CHECK(parse(j).beta_grid == std::vector<double>{0, 0.25, 0.5, 0.75, 1});
  }
  SECTION("one point") {
    j["beta"] = {{"min", 2}, {"max", 2}, {"count", 1}};
    CHECK(parse(j).beta_grid == std::vector<double>{2});
  }
  SECTION("values are sorted, deduplicated, and take a scale") {
    j["beta"] = {{"values", {2, 0, 0.5, 2}}, {"scale", "log_squared"}};
    const RunConfig c = parse(j);
    CHECK(c.beta_grid == std::vector<double>{0, 0.5, 2});
    CHECK(c.beta_scale == BetaScale::log_squared);
  }
}

TEST_CASE("defaults of the optional keys", "[config][defaults]") {
  const RunConfig c = parse(base_config(), "configs/my_run.json");
  CHECK(c.name == "my_run");
  CHECK(c.output == "my_run.h5");
  CHECK(c.seed == 7);
  CHECK(c.rows == 10);
  CHECK(c.threads == 0);
  CHECK_FALSE(c.store_rows);
  CHECK(c.entropy_fraction == 0.5);
  CHECK(c.gaps_t_max == 4.0);
  CHECK(c.gaps_count == 64);
  CHECK(c.beta_scale == BetaScale::none);
  CHECK(c.observables == std::vector<Observable>(kAllObservables.begin(), kAllObservables.end()));
  CHECK(c.estimators == std::vector<Estimator>{Estimator::accumulation, Estimator::half_mass,
                                               Estimator::entropy_fraction, Estimator::sweep_half_mass});
  REQUIRE(c.models.size() == 1);
  CHECK(c.models[0].label == "gaussian");
  CHECK(c.models[0].type == "gaussian");
  CHECK(c.models[0].mode == RowMode::exact);
  CHECK(c.models[0].params.empty());
  REQUIRE(c.models[0].model);
  CHECK(c.models[0].model->params().at("sigma") == 1.0);
  CHECK(c.text == base_config().dump(2));
}

TEST_CASE("every key given explicitly is read as given", "[config]") {
  const std::string text = R"({
    // line comment
    "name": "laws", /* block
                       comment */
    "seed": 18446744073709551615,
    "output": "results/laws.h5",
    "rows": 2e3,
    "threads": 3,
    "store_rows": true,
    "entropy_fraction": 0.25,
    "mode": "exact",
    "n": [64],
    "beta": {"min": 0.5, "max": 2, "count": 3, "scale": "theory"},
    "observables": ["max_weight", "entropy"],
    "estimators": ["half_mass"],
    "gaps": {"t_max": 2, "count": 4},
    "models": [
      {"type": "gaussian", "sigma": 2, "label": "g2", "mode": "exact"},
      {"type": "sparse_gap", "gap": 1.0, "gap_exponent": 1, "label": "sparse-log2"}
    ]
  })";
  const RunConfig c = parse_config(text, "laws.json");
  CHECK(c.text == text);
  CHECK(c.name == "laws");
  CHECK(c.seed == 18446744073709551615ull);
  CHECK(c.output == "results/laws.h5");
  CHECK(c.rows == 2000);
  CHECK(c.threads == 3);
  CHECK(c.store_rows);
  CHECK(c.entropy_fraction == 0.25);
  CHECK(c.beta_scale == BetaScale::theory);
  CHECK(c.observables == std::vector<Observable>{Observable::max_weight, Observable::entropy});
  CHECK(c.estimators == std::vector<Estimator>{Estimator::half_mass});
  CHECK(c.gap_grid() == std::vector<double>{0.5, 1, 1.5, 2});
  REQUIRE(c.models.size() == 2);
  CHECK(c.models[0].label == "g2");
  CHECK(c.models[0].params == ParamValues{{"sigma", 2.0}});
  CHECK(c.models[0].model->params().at("sigma") == 2.0);
  CHECK(c.models[1].label == "sparse-log2");
  CHECK(c.models[1].model->params().at("gap_exponent") == 1.0);
  CHECK(c.models[1].model->params().at("signals") == 1.0);
}

TEST_CASE("\"theory\" scale is accepted for every built-in model", "[config][beta]") {
  json j = base_config();
  j["beta"]["scale"] = "theory";
  j["models"] = json::array();
  for (const auto& info : model_registry()) j["models"].push_back({{"type", info.type}});
  const RunConfig c = parse(j);
  CHECK(c.models.size() == model_registry().size());
}

TEST_CASE("swept_beta for every scale", "[config][beta]") {
  json j = base_config();
  j["models"] = {{{"type", "gaussian"}, {"sigma", 2}}};
  RunConfig c = parse(j);
  const Model& m = *c.models[0].model;
  const double g = 0.7;
  for (double log_n : {std::log(64.0), 30.0, 1000 * std::log(2.0)}) {
    CAPTURE(log_n);
    c.beta_scale = BetaScale::none;
    CHECK(swept_beta(c, m, g, log_n) == g);
    c.beta_scale = BetaScale::theory;  // gaussian: sqrt(2 log n)/sigma
    CHECK(swept_beta(c, m, g, log_n) == Approx(g * std::sqrt(2 * log_n) / 2).epsilon(1e-14));
    c.beta_scale = BetaScale::sqrt_log;
    CHECK(swept_beta(c, m, g, log_n) == Approx(g * std::sqrt(log_n)).epsilon(1e-14));
    c.beta_scale = BetaScale::log;
    CHECK(swept_beta(c, m, g, log_n) == Approx(g * log_n).epsilon(1e-14));
    c.beta_scale = BetaScale::log_squared;
    CHECK(swept_beta(c, m, g, log_n) == Approx(g * log_n * log_n).epsilon(1e-14));
  }
}

TEST_CASE("scale and mode names round-trip with the config tokens", "[config]") {
  const std::vector<std::pair<BetaScale, std::string>> scales = {{BetaScale::none, "none"},
                                                                 {BetaScale::theory, "theory"},
                                                                 {BetaScale::sqrt_log, "sqrt_log"},
                                                                 {BetaScale::log, "log"},
                                                                 {BetaScale::log_squared, "log_squared"}};
  for (const auto& [scale, name] : scales) {
    CHECK(beta_scale_name(scale) == name);
    json j = base_config();
    j["beta"]["scale"] = name;
    CHECK(parse(j).beta_scale == scale);
  }
  CHECK(row_mode_name(RowMode::exact) == "exact");
  CHECK(row_mode_name(RowMode::tail) == "tail");
}

TEST_CASE("ConfigError joins located problems compiler-style and paths with ': '", "[config]") {
  const ConfigError e("a.json", {"3:7: syntax error", "rows: must be an integer >= 1, got 0"});
  CHECK(std::string(e.what()) == "a.json:3:7: syntax error\na.json: rows: must be an integer >= 1, got 0");
  CHECK(e.problems.size() == 2);
}

TEST_CASE("the examples in docs/config.md are valid configs", "[config][docs]") {
  std::ifstream in(fs::path(BETACRIT_SOURCE_DIR) / "docs" / "config.md");
  REQUIRE(in);
  std::stringstream doc;
  doc << in.rdbuf();
  const std::string text = doc.str();
  int examples = 0;
  for (const std::string fence : {"```jsonc\n", "```json\n"}) {
    for (std::size_t pos = text.find(fence); pos != std::string::npos; pos = text.find(fence, pos)) {
      const std::size_t start = pos + fence.size();
      const std::size_t end = text.find("```", start);
      REQUIRE(end != std::string::npos);
      const std::string example = text.substr(start, end - start);
      CAPTURE(example);
      CHECK_NOTHROW(parse_config(example, "docs/config.md"));
      ++examples;
      pos = end + 3;
    }
  }
  CHECK(examples >= 2);
}
