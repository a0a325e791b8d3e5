#include "cli/convert_build.h"

#include <re2/re2.h>

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>

#include "cli/arch_select.h"
#include "cli/convert_ops.h"
#include "loader/error.h"
#include "mapping/dsv4_rule.h"

namespace fs = std::filesystem;

namespace moeckpt::cli {
namespace {

std::unique_ptr<RE2> compile(const std::string& pattern, const char* flag) {
  if (pattern.empty()) return nullptr;
  RE2::Options o;
  o.set_log_errors(false);
  auto re = std::make_unique<RE2>(pattern, o);
  if (!re->ok()) throw Error(Errc::kUsage, flag, "invalid regular expression: " + re->error());
  return re;
}

bool is_weight_file(const std::string& n) {
  return n.ends_with(".safetensors") || n.ends_with(".bin") || n.ends_with(".pt") || n.ends_with(".pth") ||
         n.ends_with(".index.json");
}

}  // namespace

std::vector<CopiedFile> files_to_copy(const Checkpoint& in) {
  std::vector<CopiedFile> out;
  if (in.layout() == Layout::kSingleFile && !fs::is_directory(in.input())) {
    // A single weights file was given: only its weights are converted.
    return out;
  }
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(in.directory(), ec)) {
    std::error_code ec2;
    if (!e.is_regular_file(ec2)) continue;
    std::string n = e.path().filename().string();
    if (n.empty() || n[0] == '.' || n == "config.json" || is_weight_file(n)) continue;
    out.push_back({e.path(), n});
  }
  std::sort(out.begin(), out.end(), [](const CopiedFile& a, const CopiedFile& b) { return a.name < b.name; });
  return out;
}

Json rewrite_config(const Json& config, const ConvertOptions& opt, const ConvertPlan& plan) {
  Json c = config;
  std::optional<DType> target = opt.dequant ? opt.dequant : opt.cast;
  auto dtype_word = [](DType d) -> std::string {
    switch (d) {
      case DType::kBF16: return "bfloat16";
      case DType::kF16: return "float16";
      case DType::kF32: return "float32";
      case DType::kF8_E4M3: return "float8_e4m3fn";
      case DType::kF8_E5M2: return "float8_e5m2";
      default: return std::string(dtype_name(d));
    }
  };
  if (opt.dequant) {
    // compressed-tensors checkpoints name it compression_config; engines read either.
    for (const char* key : {"quantization_config", "compression_config"}) {
      c.erase(key);
      if (auto* tc = c.contains("text_config") && c["text_config"].is_object() ? &c["text_config"] : nullptr) tc->erase(key);
    }
    // Dequantized experts are neither fp4 nor fp8: the key would make an engine expect scales.
    c.erase("expert_dtype");
  }
  if (!opt.quantize.empty()) c["quantization_config"] = quantization_config_for(opt.quantize);
  if (target && (*target == DType::kBF16 || *target == DType::kF16 || *target == DType::kF32)) {
    for (const char* key : {"torch_dtype", "dtype"})
      if (c.contains(key)) c[key] = dtype_word(*target);
    if (!c.contains("torch_dtype") && !c.contains("dtype")) c["torch_dtype"] = dtype_word(*target);
  }
  if (!opt.quantize.empty() && c.contains("expert_dtype")) c["expert_dtype"] = opt.quantize == "mxfp4" ? "fp4" : "fp8";
  (void)plan;
  return c;
}

ConvertPlan build_convert_plan(const Checkpoint& in, const ConvertOptions& opt) {
  ConvertPlan plan;
  auto only = compile(opt.only, "--only");
  auto exclude = compile(opt.exclude, "--exclude");

  // 1. Tensor operations (dequantize, cast, quantize, or plain copies).
  OpsResult ops = plan_tensor_ops(in, opt);
  plan.notes = std::move(ops.notes);
  plan.dropped = std::move(ops.consumed);

  // 2. Filters, on the names as they are in IN.
  std::vector<PlannedTensor> kept;
  for (auto& t : ops.tensors) {
    bool keep = (!only || RE2::PartialMatch(t.source, *only)) && (!exclude || !RE2::PartialMatch(t.source, *exclude));
    if (keep) kept.push_back(std::move(t));
    else plan.dropped.push_back(t.source);
  }

  // 3. Renames: the user's rules, then the architecture's engine names.
  std::optional<RuleSet> user;
  if (!opt.rules.empty()) user = RuleSet::load_file(opt.rules);
  const Architecture* arch = nullptr;
  std::optional<ExpertDtypeSetting> expert_dtype;
  if (!opt.rename.empty()) {
    if (opt.rename != "engine") throw Error(Errc::kUsage, "--rename", "the only renaming is 'engine'");
    arch = choose_architecture(opt.arch, in.config() ? &*in.config() : nullptr, in.config_file()).arch;
    if (arch->scale_rule == "deepseek_v4")
      expert_dtype = in.config() ? resolve_expert_dtype(*in.config(), in.config_file()) : ExpertDtypeSetting{};
  } else if (!opt.arch.empty()) {
    throw Error(Errc::kUsage, "--arch", "--arch only matters with --rename engine");
  }
  std::map<std::string, std::string> seen;  // output name -> source
  for (auto& t : kept) {
    std::string name = t.out.name;
    if (user) {
      auto r = user->apply(name);
      if (!r) {
        plan.dropped.push_back(t.source);
        continue;
      }
      name = *r;
    }
    if (arch) {
      auto r = arch->mapper.apply(name);
      if (!r) {
        plan.dropped.push_back(t.source);
        continue;
      }
      name = *r;
      if (expert_dtype) name = apply_dsv4_scale_rule(name, expert_dtype->value);
      if (!arch->renames.empty()) {
        auto r2 = arch->renames.apply(name);
        if (!r2) {
          plan.dropped.push_back(t.source);
          continue;
        }
        name = *r2;
      }
    }
    if (name.empty()) throw Error(Errc::kUsage, t.source, "renaming leaves an empty tensor name");
    auto [it, fresh] = seen.emplace(name, t.source);
    if (!fresh)
      throw Error(Errc::kUsage, name, "two tensors would get this name: '" + it->second + "' and '" + t.source + "'");
    t.out.name = name;
    plan.tensors.push_back(std::move(t));
  }
  std::sort(plan.tensors.begin(), plan.tensors.end(),
            [](const PlannedTensor& a, const PlannedTensor& b) { return a.out.name < b.out.name; });
  std::sort(plan.dropped.begin(), plan.dropped.end());

  // 4. Shards, with the input's metadata and format=pt.
  std::vector<std::pair<std::string, std::string>> meta = {{"format", "pt"}};
  std::set<std::string> keys = {"format"};
  for (const auto& f : in.files())
    for (const auto& [k, v] : f.metadata)
      if (keys.insert(k).second) meta.emplace_back(k, v);
  std::sort(meta.begin() + 1, meta.end());
  assign_shards(plan, opt.max_shard_size, meta);

  // 5. config.json and the other files.
  if (in.config()) plan.config = rewrite_config(*in.config(), opt, plan);
  plan.copies = files_to_copy(in);
  return plan;
}

}  // namespace moeckpt::cli
