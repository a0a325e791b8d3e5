#include "cli/convert_plan.h"

#include <fmt/format.h>

#include <cctype>
#include <cmath>

#include "loader/error.h"

namespace moeckpt::cli {

uint64_t parse_size(const std::string& text) {
  size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
  if (i == 0) throw Error(Errc::kUsage, "--max-shard-size", "'" + text + "' is not a size (e.g. 5GB, 500MB, 2GiB)");
  double value = 0;
  try {
    value = std::stod(text.substr(0, i));
  } catch (const std::exception&) {
    throw Error(Errc::kUsage, "--max-shard-size", "'" + text + "' is not a size");
  }
  std::string unit;
  for (char c : text.substr(i)) unit.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  double mult = 0;
  if (unit.empty() || unit == "B") mult = 1;
  else if (unit == "KB") mult = 1e3;
  else if (unit == "MB") mult = 1e6;
  else if (unit == "GB") mult = 1e9;
  else if (unit == "TB") mult = 1e12;
  else if (unit == "KIB") mult = 1024.0;
  else if (unit == "MIB") mult = 1024.0 * 1024;
  else if (unit == "GIB") mult = 1024.0 * 1024 * 1024;
  else if (unit == "TIB") mult = 1024.0 * 1024 * 1024 * 1024;
  else throw Error(Errc::kUsage, "--max-shard-size", "unknown unit '" + text.substr(i) + "' (B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)");
  double bytes = value * mult;
  if (!(bytes >= 1) || bytes > 1.8e19) throw Error(Errc::kUsage, "--max-shard-size", "'" + text + "' is out of range");
  return static_cast<uint64_t>(std::llround(bytes));
}

void assign_shards(ConvertPlan& plan, uint64_t max_bytes, const std::vector<std::pair<std::string, std::string>>& metadata) {
  plan.shards.clear();
  plan.total_bytes = 0;
  std::vector<std::vector<size_t>> groups;
  uint64_t current = 0;
  for (size_t i = 0; i < plan.tensors.size(); ++i) {
    uint64_t b = plan.tensors[i].out.nbytes;
    plan.total_bytes += b;
    if (groups.empty() || (current > 0 && current + b > max_bytes)) {
      groups.emplace_back();
      current = 0;
    }
    groups.back().push_back(i);
    current += b;
  }
  if (groups.empty()) groups.emplace_back();  // an empty checkpoint is still one (empty) file
  const size_t n = groups.size();
  for (size_t s = 0; s < n; ++s) {
    ShardPlan sh;
    sh.name = n == 1 ? "model.safetensors" : fmt::format("model-{:05d}-of-{:05d}.safetensors", s + 1, n);
    sh.tensors = groups[s];
    std::vector<WriterTensor> wt;
    wt.reserve(sh.tensors.size());
    for (size_t i : sh.tensors) {
      wt.push_back(plan.tensors[i].out);
      sh.data_bytes += plan.tensors[i].out.nbytes;
    }
    sh.layout = layout_safetensors(wt, metadata);
    plan.shards.push_back(std::move(sh));
  }
  if (n > 1) {
    Json wm = Json::object();
    for (const auto& sh : plan.shards)
      for (size_t i : sh.tensors) wm[plan.tensors[i].out.name] = sh.name;
    Json idx = Json::object();
    idx["metadata"] = {{"total_size", plan.total_bytes}};
    idx["weight_map"] = std::move(wm);
    plan.index = std::move(idx);
  } else {
    plan.index.reset();
  }
}

std::vector<size_t> worker_shards(const ConvertPlan& plan, unsigned index, unsigned count) {
  // Contiguous runs with about total/count bytes each: worker k takes the shards whose first
  // byte falls in [k * total / count, (k + 1) * total / count).
  std::vector<size_t> mine;
  uint64_t total = 0;
  for (const auto& s : plan.shards) total += s.layout.file_size;
  uint64_t start = 0;
  for (size_t s = 0; s < plan.shards.size(); ++s) {
    // Compare start * count against k * total without overflow for realistic sizes.
    long double pos = static_cast<long double>(start) * count / (total == 0 ? 1 : static_cast<long double>(total));
    unsigned owner = total == 0 ? static_cast<unsigned>(s % count) : std::min<unsigned>(count - 1, static_cast<unsigned>(pos));
    if (owner == index) mine.push_back(s);
    start += plan.shards[s].layout.file_size;
  }
  return mine;
}

}  // namespace moeckpt::cli
