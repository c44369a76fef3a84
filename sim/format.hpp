#pragma once
// Numbers in messages: one formatting rule for every error and note.
#include <cmath>
#include <sstream>
#include <string>

namespace betacrit {

/// `v` with `precision` significant digits ("inf", "-inf", "nan" for non-finite values).
inline std::string format_number(double v, int precision = 12) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  std::ostringstream os;
  os.precision(precision);
  os << v;
  return os.str();
}

}  // namespace betacrit
