// A finding of `moeckpt validate`: a severity, a stable code (listed in moeckpt-validate(1))
// and where it is. Checks in every layer produce them; cli/ sorts and prints them.
#pragma once

#include <string>
#include <vector>

namespace moeckpt {

enum class Severity { kError, kWarning };

struct Finding {
  Severity severity = Severity::kError;
  std::string code;  // "E-TOPK-MISSING", "W-SCALE-SQUEEZED", ...
  std::string message;
  std::string file;
  std::string tensor;
};

using Findings = std::vector<Finding>;

inline Finding error(std::string code, std::string message, std::string file = {}, std::string_view tensor = {}) {
  return {Severity::kError, std::move(code), std::move(message), std::move(file), std::string(tensor)};
}
inline Finding warning(std::string code, std::string message, std::string file = {}, std::string_view tensor = {}) {
  return {Severity::kWarning, std::move(code), std::move(message), std::move(file), std::string(tensor)};
}

}  // namespace moeckpt
