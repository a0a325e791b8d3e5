#include "mapping/extraction.h"

#include <algorithm>

#include "loader/error.h"

namespace moeckpt {

void apply_extraction(const Extraction& x, std::vector<PlannedTensor>& tensors, std::vector<std::string>& dropped) {
  std::vector<PlannedTensor> kept;
  kept.reserve(tensors.size());
  for (auto& t : tensors) {
    auto it = x.names.find(t.out.name);
    if (it == x.names.end()) {
      kept.push_back(std::move(t));
      continue;
    }
    if (!it->second.to) {
      dropped.push_back(t.source);
      continue;
    }
    t.out.name = *it->second.to;
    kept.push_back(std::move(t));
  }
  std::sort(kept.begin(), kept.end(), [](const PlannedTensor& a, const PlannedTensor& b) { return a.out.name < b.out.name; });
  for (size_t i = 1; i < kept.size(); ++i)
    if (kept[i].out.name == kept[i - 1].out.name)
      throw Error(Errc::kUsage, kept[i].source, "and " + kept[i - 1].source + " would both be written as " + kept[i].out.name);
  tensors = std::move(kept);
}

void drop_files(const Extraction& x, std::vector<CopiedFile>& copies, std::vector<std::string>& notes) {
  std::string gone;
  std::erase_if(copies, [&](const CopiedFile& c) {
    if (std::find(x.dropped_files.begin(), x.dropped_files.end(), c.name) == x.dropped_files.end()) return false;
    gone += (gone.empty() ? "" : ", ") + c.name;
    return true;
  });
  if (!gone.empty()) notes.push_back("not copied: " + gone + " (the towers' input processing)");
}

Extraction then(Extraction a, const Extraction& b, const std::vector<std::string>& input_names) {
  for (const auto& n : input_names) {
    auto ia = a.names.find(n);
    if (ia != a.names.end() && !ia->second.to) continue;
    const std::string& mid = ia != a.names.end() ? *ia->second.to : n;
    auto ib = b.names.find(mid);
    if (ib == b.names.end()) continue;
    a.names[n] = ib->second;
  }
  a.config = b.config;
  a.notes.insert(a.notes.end(), b.notes.begin(), b.notes.end());
  a.dropped_files.insert(a.dropped_files.end(), b.dropped_files.begin(), b.dropped_files.end());
  std::sort(a.dropped_files.begin(), a.dropped_files.end());
  a.dropped_files.erase(std::unique(a.dropped_files.begin(), a.dropped_files.end()), a.dropped_files.end());
  return a;
}

std::vector<std::string> names_after(const Extraction& a, const std::vector<std::string>& input_names) {
  std::vector<std::string> out;
  for (const auto& n : input_names) {
    auto it = a.names.find(n);
    if (it == a.names.end()) out.push_back(n);
    else if (it->second.to) out.push_back(*it->second.to);
  }
  return out;
}

std::string name_sample(const std::vector<std::string>& names) {
  if (names.empty()) return "0 tensors";
  std::vector<std::string> s = names;
  std::sort(s.begin(), s.end());
  if (s.size() == 1) return "1 tensor (" + s.front() + ")";
  return std::to_string(s.size()) + " tensors (" + s.front() + " ... " + s.back() + ")";
}

}  // namespace moeckpt
