#include "sim/cli.hpp"

namespace betacrit {
int cmd_fit(const FitArgs&) { throw UsageError("'fit' is not available in this build yet"); }
}  // namespace betacrit
