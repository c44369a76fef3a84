// `betacrit fit RESULTS.h5 [--estimator NAME] [--n-min N] [--json]` (SPEC §4, §5).
#include "analysis/fit_file.hpp"
#include "sim/cli.hpp"

#include <iostream>

namespace betacrit {

int cmd_fit(const FitArgs& args) {
  FitFileOptions options;
  options.estimator = args.estimator;
  options.n_min = args.n_min;
  options.json = args.json;
  return fit_results_file(args.results_path, options, std::cout);
}

}  // namespace betacrit
