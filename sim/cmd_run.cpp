#include "sim/cli.hpp"

namespace betacrit {
int cmd_run(const RunArgs&) { throw UsageError("'run' is not available in this build yet"); }
}  // namespace betacrit
