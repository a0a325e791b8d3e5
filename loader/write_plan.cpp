#include "loader/write_plan.h"

#include <algorithm>
#include <cstdio>
#include <set>
#include <string>

#include "loader/error.h"
#include "loader/file_names.h"

namespace fs = std::filesystem;

namespace moeckpt {
namespace {

std::string shard_name(size_t s, size_t n) {
  if (n == 1) return "model.safetensors";
  char buf[64];
  std::snprintf(buf, sizeof buf, "model-%05zu-of-%05zu.safetensors", s + 1, n);
  return buf;
}

// Tensor indexes grouped into shards of at most max_bytes (one group at least).
std::vector<std::vector<size_t>> group_by_size(WritePlan& plan, uint64_t max_bytes) {
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
  return groups;
}

Json index_of(const WritePlan& plan) {
  Json wm = Json::object();
  for (const auto& sh : plan.shards)
    for (size_t i : sh.tensors) wm[plan.tensors[i].out.name] = sh.name;
  Json idx = Json::object();
  idx["metadata"] = {{"total_size", plan.total_bytes}};
  idx["weight_map"] = std::move(wm);
  return idx;
}

}  // namespace

void assign_shards(WritePlan& plan, uint64_t max_bytes, const ShardMetadata& metadata) {
  plan.shards.clear();
  plan.total_bytes = 0;
  std::vector<std::vector<size_t>> groups = group_by_size(plan, max_bytes);
  const size_t n = groups.size();
  for (size_t s = 0; s < n; ++s) {
    ShardPlan sh;
    sh.name = shard_name(s, n);
    sh.tensors = std::move(groups[s]);
    std::vector<WriterTensor> wt;
    wt.reserve(sh.tensors.size());
    for (size_t i : sh.tensors) wt.push_back(plan.tensors[i].out);
    sh.layout = layout_safetensors(wt, metadata);
    plan.shards.push_back(std::move(sh));
  }
  if (n > 1) plan.index = index_of(plan);
  else plan.index.reset();
}

std::vector<size_t> worker_shards(const WritePlan& plan, unsigned index, unsigned count) {
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

ShardMetadata output_metadata(const Checkpoint& in) {
  ShardMetadata meta = {{"format", "pt"}};
  std::set<std::string> keys = {"format"};
  for (const auto& f : in.files())
    for (const auto& [k, v] : f.metadata)
      if (keys.insert(k).second) meta.emplace_back(k, v);
  std::sort(meta.begin() + 1, meta.end());
  return meta;
}

std::vector<CopiedFile> sidecar_files(const Checkpoint& in) {
  std::vector<CopiedFile> out;
  if (in.layout() == Layout::kSingleFile && !fs::is_directory(in.input())) {
    // A single weights file was given: only its weights are converted.
    return out;
  }
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(in.directory(), ec)) {
    std::error_code ec2;
    if (e.is_directory(ec2)) continue;
    std::string n = e.path().filename().string();
    if (n.empty() || n[0] == '.' || n == "config.json" || is_weight_file_name(n)) continue;
    // A FIFO, socket or device beside the weights is refused now, not after every shard.
    if (!e.is_regular_file(ec2)) {
      const char* kind = e.is_fifo(ec2)                                     ? "is a FIFO"
                         : e.is_socket(ec2)                                 ? "is a socket"
                         : e.is_character_file(ec2) || e.is_block_file(ec2) ? "is a device"
                                                                            : "is a dangling link or special file";
      throw Error(Errc::kFileOpen, e.path().string(),
                  std::string(kind) + ", not a regular file: convert copies it beside the weights (tokenizer, generation config)");
    }
    out.push_back({e.path(), n});
  }
  std::sort(out.begin(), out.end(), [](const CopiedFile& a, const CopiedFile& b) { return a.name < b.name; });
  return out;
}

}  // namespace moeckpt
