// moeckpt inspect PATH [--tensors] [--filter REGEX] [--json]
#include <fmt/format.h>
#include <re2/re2.h>

#include <cstdio>
#include <map>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "cli/output.h"
#include "loader/checkpoint.h"
#include "mapping/config_view.h"
#include "mapping/moe_summary.h"

namespace moeckpt::cli {
namespace {

struct InspectOptions {
  std::string path;
  bool tensors = false;
  std::string filter;
};

struct DTypeStats {
  uint64_t tensors = 0, bytes = 0, params = 0;
};

Json resolved(const std::optional<ResolvedInt>& r) {
  if (!r) return nullptr;
  return Json{{"value", r->value}, {"key", r->key}};
}

Json config_json(const Checkpoint& ck, const ConfigView* view) {
  if (!ck.config()) return nullptr;
  Json c = Json::object();
  c["file"] = ck.config_file();
  auto archs = view->architectures();
  c["architecture"] = archs.empty() ? Json(nullptr) : Json(archs.front());
  c["architectures"] = archs;
  std::string mt = view->model_type();
  c["model_type"] = mt.empty() ? Json(nullptr) : Json(mt);
  if (!view->text_section().empty()) c["text_config"] = view->text_section();
  auto put = [&](const char* key, ConfigField f) {
    auto v = view->get(f);
    c[key] = v ? Json(v->value) : Json(nullptr);
  };
  put("hidden_size", ConfigField::kHiddenSize);
  put("num_layers", ConfigField::kNumLayers);
  put("num_attention_heads", ConfigField::kNumAttentionHeads);
  put("num_key_value_heads", ConfigField::kNumKeyValueHeads);
  const Json* dt = view->find("torch_dtype");
  if (!dt) dt = view->find("dtype");
  c["dtype"] = dt && dt->is_string() ? *dt : Json(nullptr);
  return c;
}

Json moe_json(const std::optional<MoeSummary>& m) {
  if (!m) return nullptr;
  Json j = Json::object();
  j["num_experts"] = m->num_experts ? Json(m->num_experts->value) : Json(nullptr);
  j["top_k"] = m->top_k ? Json(m->top_k->value) : Json(nullptr);
  j["num_shared_experts"] = m->num_shared_experts ? Json(m->num_shared_experts->value) : Json(nullptr);
  j["moe_intermediate_size"] = m->moe_intermediate_size ? Json(m->moe_intermediate_size->value) : Json(nullptr);
  j["config_keys"] = {{"num_experts", resolved(m->num_experts)["key"]},
                      {"top_k", resolved(m->top_k)["key"]},
                      {"num_shared_experts", resolved(m->num_shared_experts)["key"]},
                      {"moe_intermediate_size", resolved(m->moe_intermediate_size)["key"]}};
  j["expert_layers"] = m->expert_layers;
  Json per = Json::object();
  for (auto& [l, n] : m->experts_per_layer) per[std::to_string(l)] = n;
  j["experts_per_layer"] = per;
  j["expert_layout"] = m->layout.empty() ? Json(nullptr) : Json(m->layout);
  std::string dominant;
  uint64_t best = 0;
  for (auto& [d, n] : m->expert_dtypes)
    if (n > best) best = n, dominant = d;
  j["expert_dtype"] = dominant.empty() ? Json(nullptr) : Json(dominant);
  j["expert_dtypes"] = m->expert_dtypes;
  j["expert_tensors"] = m->expert_tensors;
  j["expert_bytes"] = m->expert_bytes;
  j["shared_expert_tensors"] = m->has_shared_expert_tensors;
  return j;
}

Json quantization_json(const Checkpoint& ck) {
  if (!ck.config()) return nullptr;
  auto it = ck.config()->find("quantization_config");
  if (it == ck.config()->end() || !it->is_object()) return nullptr;
  Json q = Json::object();
  auto m = it->find("quant_method");
  q["method"] = m != it->end() && m->is_string() ? *m : Json(nullptr);
  q["config"] = *it;
  return q;
}

int run_inspect(const InspectOptions& opt, const Context& ctx) {
  std::unique_ptr<RE2> filter;
  if (!opt.filter.empty()) {
    RE2::Options o;
    o.set_log_errors(false);
    filter = std::make_unique<RE2>(opt.filter, o);
    if (!filter->ok()) throw Error(Errc::kUsage, "--filter", "invalid regular expression: " + filter->error());
  }
  Checkpoint ck = Checkpoint::open(opt.path);
  std::optional<ConfigView> view;
  if (ck.config()) view.emplace(*ck.config());

  std::vector<const TensorInfo*> shown;
  shown.reserve(ck.tensors().size());
  for (const auto& t : ck.tensors())
    if (!filter || RE2::PartialMatch(t.name, *filter)) shown.push_back(&t);

  std::map<std::string, DTypeStats> by_dtype;
  uint64_t params = 0, bytes = 0;
  std::vector<uint64_t> per_file_tensors(ck.files().size(), 0);
  for (const auto* t : shown) {
    auto& d = by_dtype[std::string(dtype_name(t->dtype))];
    uint64_t n = numel(*t);
    d.tensors++;
    d.bytes += t->nbytes;
    d.params += n;
    params += n;
    bytes += t->nbytes;
    per_file_tensors[t->file]++;
  }
  std::vector<TensorInfo> shown_copy;
  std::span<const TensorInfo> moe_input = ck.tensors();
  if (filter) {
    shown_copy.reserve(shown.size());
    for (const auto* t : shown) shown_copy.push_back(*t);
    moe_input = shown_copy;
  }
  auto moe = summarize_moe(view ? &*view : nullptr, moe_input);

  if (ctx.json) {
    Json doc = Json::object();
    doc["path"] = opt.path;
    doc["format"] = file_format_name(ck.format());
    doc["layout"] = layout_name(ck.layout());
    if (ck.index()) {
      doc["index"] = {{"file", ck.index_file()},
                      {"total_size", ck.index()->total_size ? Json(*ck.index()->total_size) : Json(nullptr)},
                      {"unlisted_tensors", ck.unlisted()}};
    } else {
      doc["index"] = nullptr;
    }
    if (filter) doc["filter"] = opt.filter;
    Json files = Json::array();
    for (size_t i = 0; i < ck.files().size(); ++i) {
      const auto& f = ck.files()[i];
      files.push_back({{"name", f.name}, {"bytes", f.bytes}, {"tensors", filter ? per_file_tensors[i] : f.num_tensors}});
    }
    doc["files"] = files;
    doc["num_tensors"] = shown.size();
    doc["num_params"] = params;
    doc["total_bytes"] = bytes;
    Json dtypes = Json::object();
    for (auto& [name, s] : by_dtype) dtypes[name] = {{"tensors", s.tensors}, {"bytes", s.bytes}, {"params", s.params}};
    doc["dtypes"] = dtypes;
    doc["config"] = view ? config_json(ck, &*view) : Json(nullptr);
    doc["moe"] = moe_json(moe);
    doc["quantization"] = quantization_json(ck);
    Json meta = Json::object();
    for (const auto& f : ck.files())
      for (const auto& [k, v] : f.metadata)
        if (!meta.contains(k)) meta[k] = v;
    doc["metadata"] = meta;
    Json tl = Json::array();
    for (const auto* t : shown)
      tl.push_back({{"name", t->name}, {"dtype", dtype_name(t->dtype)}, {"shape", t->shape}, {"bytes", t->nbytes},
                    {"file", ck.files()[t->file].name}});
    doc["tensors"] = tl;
    print_json(doc);
    return kExitOk;
  }

  std::string out;
  // Pad by hand: a format width would count the ANSI codes of styled text.
  auto label = [&](std::string_view k) {
    std::string s = styled(ctx, k, Style::kBold);
    return s + std::string(k.size() < 14 ? 14 - k.size() : 1, ' ');
  };
  auto line = [&](std::string_view k, const std::string& v) { out += "  " + label(k) + v + "\n"; };
  out += styled(ctx, opt.path, Style::kBold) + "\n";
  line("format", fmt::format("{} ({}{})", file_format_name(ck.format()), layout_name(ck.layout()),
                             ck.index() ? ", " + ck.index_file() : ""));
  uint64_t file_bytes = 0;
  for (const auto& f : ck.files()) file_bytes += f.bytes;
  line("files", fmt::format("{} ({})", ck.files().size(), human_bytes(file_bytes)));
  line("tensors", grouped(shown.size()) + (filter ? fmt::format(" matching /{}/ of {}", opt.filter, grouped(ck.tensors().size())) : ""));
  line("parameters", fmt::format("{} ({})", human_count(params), grouped(params)));
  bool first = true;
  for (auto& [name, s] : by_dtype) {
    line(first ? "dtypes" : "", fmt::format("{:<8} {:>8} tensors  {:>10}", name, grouped(s.tensors), human_bytes(s.bytes)));
    first = false;
  }
  if (view) {
    auto archs = view->architectures();
    std::string mt = view->model_type();
    line("architecture", fmt::format("{}{}", archs.empty() ? "(none in config)" : archs.front(),
                                     mt.empty() ? "" : " (model_type " + mt + ")"));
  } else {
    line("config", "none (no config.json beside the checkpoint)");
  }
  if (moe) {
    auto val = [](const std::optional<ResolvedInt>& r) {
      return r ? fmt::format("{} ({})", r->value, r->key) : std::string("?");
    };
    line("MoE", fmt::format("{} routed experts, top-k {}, {} shared", val(moe->num_experts), val(moe->top_k),
                            moe->num_shared_experts ? std::to_string(moe->num_shared_experts->value) : "0"));
    if (!moe->expert_layers.empty()) {
      std::string dominant;
      uint64_t best = 0;
      for (auto& [d, n] : moe->expert_dtypes)
        if (n > best) best = n, dominant = d;
      line("", fmt::format("expert layers {} ({} of {}), {} tensors, expert dtype {}",
                           format_ranges(moe->expert_layers), moe->expert_layers.size(),
                           moe->num_layers ? std::to_string(moe->num_layers->value) : "?",
                           moe->layout == "per_expert" ? "per-expert" : moe->layout, dominant.empty() ? "?" : dominant));
    }
  }
  Json q = quantization_json(ck);
  line("quantization", q.is_null() ? "none" : (q["method"].is_string() ? q["method"].get<std::string>() : "unknown"));
  std::string meta;
  for (const auto& f : ck.files()) {
    for (const auto& [k, v] : f.metadata) {
      std::string kv = k + "=" + v;
      if (meta.find(kv) == std::string::npos) meta += (meta.empty() ? "" : ", ") + kv;
    }
  }
  line("metadata", meta.empty() ? "none" : meta);
  if (opt.tensors) {
    out += "\n";
    for (const auto* t : shown) {
      out += fmt::format("  {:<60} {:<8} {:<20} {:>10}", t->name, dtype_name(t->dtype), shape_string(t->shape),
                         human_bytes(t->nbytes));
      if (ck.files().size() > 1) out += "  " + ck.files()[t->file].name;
      out += "\n";
    }
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return kExitOk;
}

}  // namespace

void register_inspect(CLI::App& app, Context& ctx) {
  auto opt = std::make_shared<InspectOptions>();
  auto* sub = app.add_subcommand("inspect", "Summarize a checkpoint: files, tensors, dtypes, MoE layout, quantization");
  sub->add_option("PATH", opt->path, "Checkpoint directory, .safetensors/.bin file or *.index.json")->required();
  sub->add_flag("--tensors", opt->tensors, "List every tensor (always listed with --json)");
  sub->add_option("--filter", opt->filter, "Only tensors whose name matches this regular expression (RE2 syntax)");
  sub->callback([opt, &ctx] { ctx.exit_code = run_inspect(*opt, ctx); });
}

}  // namespace moeckpt::cli
