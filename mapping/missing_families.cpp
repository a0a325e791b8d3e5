#include "mapping/missing_families.h"

#include <set>
#include <stdexcept>

namespace moeckpt {

std::vector<MissingFamily> parse_missing_families(const Json& j) {
  if (!j.is_object()) throw std::invalid_argument("not an object");
  for (auto it = j.begin(); it != j.end(); ++it)
    if (it.key() != "notes" && it.key() != "missing") throw std::invalid_argument("unknown key '" + it.key() + "'");
  auto list = j.find("missing");
  if (list == j.end() || !list->is_array()) throw std::invalid_argument("'missing' must be a list");
  std::vector<MissingFamily> out;
  std::set<std::string> seen;
  for (size_t i = 0; i < list->size(); ++i) {
    const Json& item = (*list)[i];
    const std::string where = "missing[" + std::to_string(i) + "]";
    if (!item.is_object()) throw std::invalid_argument(where + " must be an object");
    MissingFamily m;
    for (auto it = item.begin(); it != item.end(); ++it) {
      std::string* field = it.key() == "file" ? &m.file : it.key() == "class" ? &m.cls : it.key() == "reason" ? &m.reason : nullptr;
      if (!field) throw std::invalid_argument(where + ": unknown key '" + it.key() + "'");
      if (!it->is_string() || it->get<std::string>().empty()) throw std::invalid_argument(where + ": '" + it.key() + "' must be a non-empty string");
      *field = it->get<std::string>();
    }
    if (m.file.empty() || m.cls.empty() || m.reason.empty()) throw std::invalid_argument(where + " needs 'file', 'class' and 'reason'");
    if (!seen.insert(m.cls).second) throw std::invalid_argument(where + ": class '" + m.cls + "' is listed twice");
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace moeckpt
