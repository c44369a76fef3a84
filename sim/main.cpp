// betacrit — command line entry point (SPEC §4).
#include "betacrit_version.hpp"
#include "sim/cli.hpp"

#include <CLI/CLI.hpp>

#include <exception>
#include <iostream>

int main(int argc, char** argv) {
  using namespace betacrit;
  CLI::App app{"betacrit: Monte Carlo study of the critical softmax inverse temperature beta*(n)"};
  app.set_version_flag("--version", std::string("betacrit ") + BETACRIT_VERSION);
  app.require_subcommand(1);

  RunArgs run;
  auto* run_cmd = app.add_subcommand("run", "run a sweep described by a JSON config, write HDF5, print the fit table");
  run_cmd->add_option("config", run.config_path, "JSON config file")->required();
  run_cmd->add_option("-o,--output", run.output, "output HDF5 file (overrides the config's \"output\")");
  run_cmd->add_option("--threads", run.threads, "worker threads (0 = all cores)")->check(CLI::NonNegativeNumber);
  auto* resume = run_cmd->add_flag("--resume", run.resume, "continue an interrupted run from its output file");
  auto* force = run_cmd->add_flag("--force", run.force, "overwrite an existing output file");
  resume->excludes(force);
  run_cmd->add_flag("-q,--quiet", run.quiet, "no progress output");

  FitArgs fit;
  auto* fit_cmd = app.add_subcommand("fit", "fit beta*(n) laws in a results file and print the verdict table");
  fit_cmd->add_option("results", fit.results_path, "HDF5 results file")->required();
  fit_cmd->add_option("--estimator", fit.estimator, "only this estimator");
  fit_cmd->add_option("--n-min", fit.n_min, "ignore row lengths below N");
  fit_cmd->add_flag("--json", fit.json, "print JSON instead of the table");

  auto* models_cmd = app.add_subcommand("models", "list every score model, its parameters, defaults, ranges and law");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "betacrit: " << e.what() << "\n(run 'betacrit --help' for usage)\n";
    return 2;
  }

  try {
    if (*run_cmd) return cmd_run(run);
    if (*fit_cmd) return cmd_fit(fit);
    if (*models_cmd) return cmd_models(std::cout);
  } catch (const UsageError& e) {
    std::cerr << "betacrit: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "betacrit: internal error: " << e.what() << "\n";
    return 1;
  }
  return 1;
}
