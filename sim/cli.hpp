#pragma once
// Subcommands of the `betacrit` executable (SPEC §4). main.cpp parses the command line
// with CLI11 and calls one of these; each lives in its own file.
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <stdexcept>
#include <string>

namespace betacrit {

/// Bad usage or bad input: the message is printed and the exit status is 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct RunArgs {
  std::string config_path;
  std::optional<std::string> output;  ///< -o, overrides the config's "output"
  std::optional<int> threads;         ///< --threads, overrides the config's "threads"
  bool resume = false;
  bool force = false;
  bool quiet = false;
};
int cmd_run(const RunArgs& args);

struct FitArgs {
  std::string results_path;
  std::optional<std::string> estimator;
  std::optional<std::uint64_t> n_min;
  bool json = false;
};
int cmd_fit(const FitArgs& args);

/// `betacrit models`: every model, its parameters, defaults, ranges and law.
int cmd_models(std::ostream& out);

}  // namespace betacrit
