#include "models/model.hpp"
#include "sim/cli.hpp"

#include <iomanip>
#include <ostream>

namespace betacrit {

int cmd_models(std::ostream& out) {
  for (const auto& info : model_registry()) {
    out << info.type << "\n  " << info.summary << "\n  law: " << info.law_text << "\n";
    for (const auto& p : info.params) {
      out << "    " << std::left << std::setw(14) << p.name << std::setw(9)
          << (p.kind == ParamSpec::Kind::Integer ? "integer" : "real") << "default " << std::setw(8)
          << p.default_value << " range " << std::setw(22) << p.range_text() << p.help << "\n";
    }
    out << "\n";
  }
  return 0;
}

}  // namespace betacrit
