// moeckpt inspect PATH [--tensors] [--filter REGEX] [--json]
#include <fmt/format.h>
#include <re2/re2.h>

#include <cstdio>
#include <map>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "cli/output.h"
#include "cli/remote.h"
#include "loader/checkpoint.h"
#include "mapping/config_view.h"
#include "mapping/moe_summary.h"
#include "cli/arch_select.h"
#include "quant/moe_backend.h"
#include "quant/quant_summary.h"

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

Json config_json(const Checkpoint& ck, const ConfigView* view, const std::string& detection_note) {
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
  if (!detection_note.empty()) c["detection_note"] = detection_note;
  return c;
}

// The dtype most routed-expert tensors have ("" when none); the first in name order on a tie.
std::string dominant_dtype(const MoeSummary& m) {
  std::string dominant;
  uint64_t best = 0;
  for (auto& [d, n] : m.expert_dtypes)
    if (n > best) best = n, dominant = d;
  return dominant;
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
                      {"num_shared_experts", m->num_shared_experts_source == "tensors" ? Json(nullptr) : resolved(m->num_shared_experts)["key"]},
                      {"moe_intermediate_size", resolved(m->moe_intermediate_size)["key"]}};
  j["expert_layers"] = m->expert_layers;
  Json per = Json::object();
  for (auto& [l, n] : m->experts_per_layer) per[std::to_string(l)] = n;
  j["experts_per_layer"] = per;
  j["expert_layout"] = m->layout.empty() ? Json(nullptr) : Json(m->layout);
  std::string dominant = dominant_dtype(*m);
  j["expert_dtype"] = dominant.empty() ? Json(nullptr) : Json(dominant);
  j["expert_dtypes"] = m->expert_dtypes;
  j["expert_tensors"] = m->expert_tensors;
  j["expert_bytes"] = m->expert_bytes;
  j["shared_expert_tensors"] = m->has_shared_expert_tensors;
  j["num_shared_experts_source"] = m->num_shared_experts_source.empty() ? Json(nullptr) : Json(m->num_shared_experts_source);
  j["shared_expert_intermediate_size"] = m->shared_expert_intermediate_size ? Json(m->shared_expert_intermediate_size->value) : Json(nullptr);
  return j;
}

Json schemes_json(const quant::QuantSummary& s) {
  Json a = Json::array();
  for (const auto& e : s.schemes)
    a.push_back({{"scheme", quant::scheme_name(e.scheme)},
                 {"weights", e.weights},
                 {"bits", e.bits ? Json(e.bits) : Json(nullptr)},
                 {"group_sizes", e.group_sizes},
                 {"block", e.block.empty() ? Json(nullptr) : Json(e.block)},
                 {"zero_points", e.zero_points},
                 {"act_order", e.act_order}});
  return a;
}

// The declared method and format (config.json's quantization_config, or hf_quant_config.json)
// and the schemes the tensors hold; null when neither says anything.
Json quantization_json(const Checkpoint& ck, const quant::QuantSummary& s) {
  const Json* declared = nullptr;
  if (ck.config())
    if (auto it = ck.config()->find("quantization_config"); it != ck.config()->end() && it->is_object()) declared = &*it;
  if (!declared && !s.config.present() && s.schemes.empty()) return nullptr;
  Json q = Json::object();
  q["method"] = s.config.method_name.empty() ? Json(nullptr) : Json(s.config.method_name);
  q["config"] = declared ? *declared : Json(nullptr);
  q["config_file"] = s.config.file.empty() ? Json(nullptr) : Json(s.config.file);
  q["format"] = s.config.format.empty() ? Json(nullptr) : Json(s.config.format);
  q["schemes"] = schemes_json(s);
  q["ignore"] = s.config.ignore;
  q["ignored_modules"] = s.ignored_modules;
  q["refused"] = s.errors;
  return q;
}

// "gptq (4-bit, group 32, zero points)"
std::string scheme_text(const quant::SchemeSummary& e) {
  std::vector<std::string> parts;
  if (e.bits) parts.push_back(fmt::format("{}-bit", e.bits));
  if (!e.block.empty()) parts.push_back(fmt::format("block {}x{}", e.block[0], e.block[1]));
  for (uint64_t g : e.group_sizes) parts.push_back(fmt::format("group {}", g));
  if (e.zero_points) parts.push_back("zero points");
  if (e.act_order) parts.push_back("act-order");
  std::string detail;
  for (const auto& p : parts) detail += (detail.empty() ? "" : ", ") + p;
  return fmt::format("{} weights {}{}", e.weights, quant::scheme_name(e.scheme), detail.empty() ? "" : " (" + detail + ")");
}

std::unique_ptr<RE2> compile_filter(const std::string& pattern) {
  if (pattern.empty()) return nullptr;
  RE2::Options o;
  o.set_log_errors(false);
  auto filter = std::make_unique<RE2>(pattern, o);
  if (!filter->ok()) throw Error(Errc::kUsage, "--filter", "invalid regular expression: " + filter->error());
  return filter;
}

// What inspect reports about the tensors it shows, gathered once for either output.
struct Summary {
  bool filtered = false;
  std::vector<const TensorInfo*> shown;  // the tensors the filter keeps, in name order
  std::map<std::string, DTypeStats> by_dtype;
  uint64_t params = 0, bytes = 0;
  std::vector<uint64_t> per_file_tensors;  // shown tensors per file
  std::optional<MoeSummary> moe;
  std::string detection_note;  // which of architectures / model_type chose the entry, when they disagree
  quant::QuantSummary quant;  // with, for DeepSeek V4, which fused MoE kernels its experts can run on
};

void count_shown(Summary& s, size_t num_files) {
  s.per_file_tensors.assign(num_files, 0);
  for (const auto* t : s.shown) {
    auto& d = s.by_dtype[std::string(dtype_name(t->dtype))];
    uint64_t n = numel(*t);
    d.tensors++;
    d.bytes += t->nbytes;
    d.params += n;
    s.params += n;
    s.bytes += t->nbytes;
    s.per_file_tensors[t->file]++;
  }
}

// The MoE summary of the tensors shown (a filtered list is copied: summarize_moe takes a span).
std::optional<MoeSummary> summarize_shown_moe(const ConfigView* view, const Checkpoint& ck, const Summary& s) {
  if (!s.filtered) return summarize_moe(view, ck.tensors());
  std::vector<TensorInfo> shown_copy;
  shown_copy.reserve(s.shown.size());
  for (const auto* t : s.shown) shown_copy.push_back(*t);
  return summarize_moe(view, shown_copy);
}

Summary summarize(const Checkpoint& ck, const ConfigView* view, const ArchChoice& choice, const RE2* filter) {
  Summary s;
  s.detection_note = choice.note;
  s.quant = quant::summarize_quantization(ck, choice.arch && choice.arch->scale_rule == ScaleRule::kDeepseekV4);
  s.filtered = filter != nullptr;
  s.shown.reserve(ck.tensors().size());
  for (const auto& t : ck.tensors())
    if (!filter || RE2::PartialMatch(t.name, *filter)) s.shown.push_back(&t);
  count_shown(s, ck.files().size());
  s.moe = summarize_shown_moe(view, ck, s);
  return s;
}

Json files_json(const Checkpoint& ck, const Summary& s) {
  Json files = Json::array();
  for (size_t i = 0; i < ck.files().size(); ++i) {
    const auto& f = ck.files()[i];
    files.push_back({{"name", f.name}, {"bytes", f.bytes}, {"tensors", s.filtered ? s.per_file_tensors[i] : f.num_tensors}});
  }
  return files;
}

Json dtypes_json(const Summary& s) {
  Json dtypes = Json::object();
  for (auto& [name, d] : s.by_dtype) dtypes[name] = {{"tensors", d.tensors}, {"bytes", d.bytes}, {"params", d.params}};
  return dtypes;
}

// Every file's __metadata__, the first value of each key.
Json metadata_json(const Checkpoint& ck) {
  Json meta = Json::object();
  for (const auto& f : ck.files())
    for (const auto& [k, v] : f.metadata)
      if (!meta.contains(k)) meta[k] = v;
  return meta;
}

Json tensors_json(const Checkpoint& ck, const Summary& s) {
  Json tl = Json::array();
  for (const auto* t : s.shown)
    tl.push_back({{"name", t->name}, {"dtype", dtype_name(t->dtype)}, {"shape", t->shape}, {"bytes", t->nbytes},
                  {"file", ck.files()[t->file].name}});
  return tl;
}

void print_inspect_json(const InspectOptions& opt, const Checkpoint& ck, const ConfigView* view, const Summary& s) {
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
  if (s.filtered) doc["filter"] = opt.filter;
  doc["files"] = files_json(ck, s);
  doc["num_tensors"] = s.shown.size();
  doc["num_params"] = s.params;
  doc["total_bytes"] = s.bytes;
  doc["dtypes"] = dtypes_json(s);
  doc["config"] = view ? config_json(ck, view, s.detection_note) : Json(nullptr);
  doc["moe"] = moe_json(s.moe);
  doc["quantization"] = quantization_json(ck, s.quant);
  if (const auto& b = s.quant.megamoe) doc["moe_backends"] = Json::array({{{"backend", b->backend}, {"ok", b->ok}, {"reasons", b->reasons}}});
  doc["metadata"] = metadata_json(ck);
  doc["tensors"] = tensors_json(ck, s);
  print_json(doc);
}

// The human output, built in one string: a title, then "label  value" lines.
class TextReport {
 public:
  explicit TextReport(const Context& ctx) : ctx_(ctx) {}
  void title(std::string_view text) { out_ += styled(ctx_, text, Style::kBold) + "\n"; }
  void line(std::string_view k, const std::string& v) { out_ += "  " + label(k) + v + "\n"; }
  void append(std::string_view text) { out_ += text; }
  void print() const { std::fwrite(out_.data(), 1, out_.size(), stdout); }

 private:
  // Pad by hand: a format width would count the ANSI codes of styled text.
  std::string label(std::string_view k) const {
    std::string s = styled(ctx_, k, Style::kBold);
    return s + std::string(k.size() < 14 ? 14 - k.size() : 1, ' ');
  }
  const Context& ctx_;
  std::string out_;
};

// format, files, tensors, parameters, dtypes.
void add_contents_lines(TextReport& r, const InspectOptions& opt, const Checkpoint& ck, const Summary& s) {
  r.line("format", fmt::format("{} ({}{})", file_format_name(ck.format()), layout_name(ck.layout()),
                               ck.index() ? ", " + ck.index_file() : ""));
  uint64_t file_bytes = 0;
  for (const auto& f : ck.files()) file_bytes += f.bytes;
  r.line("files", fmt::format("{} ({})", ck.files().size(), human_bytes(file_bytes)));
  r.line("tensors", grouped(s.shown.size()) +
                        (s.filtered ? fmt::format(" matching /{}/ of {}", opt.filter, grouped(ck.tensors().size())) : ""));
  r.line("parameters", fmt::format("{} ({})", human_count(s.params), grouped(s.params)));
  bool first = true;
  for (auto& [name, d] : s.by_dtype) {
    r.line(first ? "dtypes" : "", fmt::format("{:<8} {:>8} tensors  {:>10}", name, grouped(d.tensors), human_bytes(d.bytes)));
    first = false;
  }
}

void add_architecture_line(TextReport& r, const ConfigView* view, const std::string& note) {
  if (!view) {
    r.line("config", "none (no config.json beside the checkpoint)");
    return;
  }
  auto archs = view->architectures();
  std::string mt = view->model_type();
  r.line("architecture", fmt::format("{}{}", archs.empty() ? "(none in config)" : archs.front(),
                                     mt.empty() ? "" : " (model_type " + mt + ")"));
  if (!note.empty()) r.line("detection", note);
}

// "2 shared (n_shared_experts)", or "1 shared (one per layer: mlp.shared_expert.* tensors, the
// config names no count), 32 wide (shared_expert_intermediate_size)".
std::string shared_text(const MoeSummary& moe) {
  if (!moe.num_shared_experts) return moe.has_shared_expert_tensors ? "? shared (shared-expert tensors, the config names no count)" : "0 shared";
  std::string out = std::to_string(moe.num_shared_experts->value) + " shared (";
  out += moe.num_shared_experts_source == "tensors" ? "one per layer: " + moe.shared_expert_family + " tensors, the config names no count"
                                                      : moe.num_shared_experts->key;
  out += ")";
  if (moe.num_shared_experts_source == "tensors" && moe.shared_expert_intermediate_size)
    out += fmt::format(", {} wide ({})", moe.shared_expert_intermediate_size->value, moe.shared_expert_intermediate_size->key);
  return out;
}

void add_moe_lines(TextReport& r, const MoeSummary& moe) {
  auto val = [](const std::optional<ResolvedInt>& v) {
    return v ? fmt::format("{} ({})", v->value, v->key) : std::string("?");
  };
  r.line("MoE", fmt::format("{} routed experts, top-k {}, {}", val(moe.num_experts), val(moe.top_k), shared_text(moe)));
  if (moe.expert_layers.empty()) return;
  std::string dominant = dominant_dtype(moe);
  r.line("", fmt::format("expert layers {} ({} of {}), {} tensors, expert dtype {}",
                         format_ranges(moe.expert_layers), moe.expert_layers.size(),
                         moe.num_layers ? std::to_string(moe.num_layers->value) : "?",
                         moe.layout == "per_expert" ? "per-expert" : moe.layout, dominant.empty() ? "?" : dominant));
}

// quantization, then every file's distinct metadata pairs.
void add_quantization_and_metadata_lines(TextReport& r, const Checkpoint& ck, const quant::QuantSummary& s) {
  Json q = quantization_json(ck, s);
  std::string head = q.is_null() ? "none" : (q["method"].is_string() ? q["method"].get<std::string>() : "unknown");
  if (!s.config.format.empty()) head += " (" + s.config.format + ")";
  r.line("quantization", head);
  for (const auto& e : s.schemes) r.line("", scheme_text(e));
  if (!s.config.ignore.empty()) {
    std::string pats;
    for (const auto& p : s.config.ignore) pats += (pats.empty() ? "" : ", ") + p;
    r.line("", fmt::format("ignored {} ({} modules)", pats, s.ignored_modules.size()));
  }
  if (s.errors) r.line("", fmt::format("{} quantized tensor(s) refused: run validate", s.errors));
  std::string meta;
  for (const auto& f : ck.files()) {
    for (const auto& [k, v] : f.metadata) {
      std::string kv = k + "=" + v;
      if (meta.find(kv) == std::string::npos) meta += (meta.empty() ? "" : ", ") + kv;
    }
  }
  r.line("metadata", meta.empty() ? "none" : meta);
}

void add_tensor_list(TextReport& r, const Checkpoint& ck, const Summary& s) {
  r.append("\n");
  for (const auto* t : s.shown) {
    r.append(fmt::format("  {:<60} {:<8} {:<20} {:>10}", t->name, dtype_name(t->dtype), shape_string(t->shape),
                         human_bytes(t->nbytes)));
    if (ck.files().size() > 1) r.append("  " + ck.files()[t->file].name);
    r.append("\n");
  }
}

void print_inspect_text(const InspectOptions& opt, const Context& ctx, const Checkpoint& ck, const ConfigView* view,
                        const Summary& s) {
  TextReport r(ctx);
  r.title(opt.path);
  add_contents_lines(r, opt, ck, s);
  add_architecture_line(r, view, s.detection_note);
  if (s.moe) add_moe_lines(r, *s.moe);
  if (const auto& b = s.quant.megamoe) {
    std::string why;
    for (const auto& x : b->reasons) why += (why.empty() ? ": " : "; ") + x;
    r.line("moe backends", fmt::format("megamoe {}{}", b->ok ? "yes" : "no", why));
  }
  add_quantization_and_metadata_lines(r, ck, s.quant);
  if (opt.tensors) add_tensor_list(r, ck, s);
  r.print();
}

int run_inspect(const InspectOptions& opt, const Context& ctx) {
  std::unique_ptr<RE2> filter = compile_filter(opt.filter);
  Checkpoint ck = open_checkpoint(ctx, opt.path);
  // The detected entry (null without a config or when the registry lacks it) gives its config
  // section (DBRX's ffn_config, Qwen3-Omni's thinker_config.text_config), else the generic
  // search; the aliases stay generic, since inspect describes the config, not what one engine
  // reads of it.
  const ArchChoice choice = ck.config() ? detect_architecture(*ck.config()) : ArchChoice{};
  std::optional<ConfigView> view;
  if (ck.config())
    view.emplace(*ck.config(), std::span<const std::vector<std::string>>{}, choice.arch ? choice.arch->config_section : std::string());
  const ConfigView* v = view ? &*view : nullptr;
  const Summary s = summarize(ck, v, choice, filter.get());
  if (ctx.json) {
    print_inspect_json(opt, ck, v, s);
  } else {
    print_inspect_text(opt, ctx, ck, v, s);
  }
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
