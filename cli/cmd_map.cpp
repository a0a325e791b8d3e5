// moeckpt map PATH [--arch NAME] [--rules FILE] [--json]
#include <fmt/format.h>

#include <cstdio>
#include <map>
#include <memory>
#include <string>

#include "cli/arch_select.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "cli/remote.h"
#include "loader/checkpoint.h"
#include "mapping/layout_fix.h"
#include "mapping/planner.h"
#include "mapping/wrapper_fix.h"

namespace moeckpt::cli {
namespace {

struct MapOptions {
  std::string path;
  std::string arch;
  std::string rules;
  bool params = false;
};

Json opt_int(const std::optional<int64_t>& v) { return v ? Json(*v) : Json(nullptr); }

// The engine's side: every parameter with the checkpoint tensors that fill it, or the name that
// would.
Json parameters_json(const MapPlan& plan) {
  Json out = Json::array();
  for (const auto& p : engine_parameters(plan)) {
    Json fillers = Json::array(), missing = Json::array();
    for (size_t i : p.fillers) fillers.push_back(plan.entries[i].checkpoint);
    for (size_t i : p.unfilled) missing.push_back(plan.unfilled[i].expected);
    out.push_back({{"param", p.param}, {"filled_by", std::move(fillers)}, {"unfilled", std::move(missing)}});
  }
  return out;
}

Json plan_json(const MapPlan& plan, const ArchChoice& choice) {
  Json doc = Json::object();
  doc["architecture"] = plan.arch->name;
  doc["title"] = plan.arch->title;
  doc["engine_class"] = plan.arch->engine_class;
  doc["detected_from"] = choice.how;
  if (!choice.note.empty()) doc["detection_note"] = choice.note;
  doc["expert_dtype"] = plan.expert_dtype ? Json(std::string(expert_dtype_name(plan.expert_dtype->value))) : Json(nullptr);
  doc["num_experts"] = opt_int(plan.num_experts);
  doc["num_layers"] = opt_int(plan.num_layers);
  doc["moe_layers"] = plan.moe_layers;
  Json entries = Json::array();
  for (const auto& e : plan.entries) {
    Json j = {{"checkpoint", e.checkpoint},
              {"param", e.param},
              {"expert_id", e.expert_id ? Json(*e.expert_id) : Json(nullptr)},
              {"shard_id", e.shard_id.empty() ? Json(nullptr) : Json(e.shard_id)},
              {"packed", e.packed.empty() ? Json(nullptr) : Json(e.packed)},
              {"kind", e.kind}};
    if (e.mtp) j["mtp"] = true;
    entries.push_back(std::move(j));
  }
  doc["entries"] = std::move(entries);
  doc["unmapped"] = plan.unmapped;
  Json unfilled = Json::array();
  for (const auto& u : plan.unfilled)
    unfilled.push_back({{"param", u.param},
                        {"expert_id", u.expert_id ? Json(*u.expert_id) : Json(nullptr)},
                        {"shard_id", u.shard_id.empty() ? Json(nullptr) : Json(u.shard_id)},
                        {"packed", u.packed.empty() ? Json(nullptr) : Json(u.packed)},
                        {"expected", u.expected},
                        {"reason", u.reason}});
  doc["unfilled"] = std::move(unfilled);
  doc["dropped"] = plan.dropped;
  Json skipped = Json::array();
  for (const auto& [n, why] : plan.skipped) skipped.push_back({{"checkpoint", n}, {"reason", why}});
  doc["skipped"] = std::move(skipped);
  Json towers = Json::array();
  for (const auto& [n, what] : plan.towers) towers.push_back({{"checkpoint", n}, {"tower", what}});
  doc["towers"] = std::move(towers);
  doc["notes"] = plan.notes;
  doc["parameter_model"] = plan.param_model;
  doc["unexpected"] = plan.unexpected;
  Json findings = Json::array();
  for (const auto& f : plan.param_findings) findings.push_back({{"code", f.code}, {"tensor", f.tensor}, {"message", f.message}});
  doc["parameter_findings"] = std::move(findings);
  doc["parameters"] = parameters_json(plan);
  doc["summary"] = {{"entries", plan.entries.size()}, {"unmapped", plan.unmapped.size()},
                    {"unfilled", plan.unfilled.size()}, {"dropped", plan.dropped.size()},
                    {"skipped", plan.skipped.size()}, {"unexpected", plan.unexpected.size()}, {"towers", plan.towers.size()},
                    {"parameters", engine_parameters(plan).size()}};
  return doc;
}

// A composite's towers, one line each: what it is and how many tensors it holds.
std::string towers_text(const MapPlan& plan) {
  std::map<std::string, size_t> count;
  for (const auto& t : plan.towers) ++count[t.second];
  std::string out;
  // A part the engine class skips (Qwen3-Omni's talker) says so in its description.
  for (const auto& [what, n] : count)
    out += fmt::format("{} tensor(s) of {}: {}\n", n, what,
                       what.find("not loaded") != std::string::npos ? "not checked here" : "loaded by the engine's tower, not checked here");
  return out;
}

// --params: one line per engine parameter, "param <- filler" (a count for expert stacks).
std::string parameters_text(const MapPlan& plan, const Context& ctx) {
  std::string out;
  auto params = engine_parameters(plan);
  size_t width = 0;
  for (const auto& p : params) width = std::max(width, p.param.size());
  width = std::min<size_t>(width, 90);
  for (const auto& p : params) {
    std::string from;
    if (p.fillers.size() == 1) from = plan.entries[p.fillers[0]].checkpoint;
    else if (!p.fillers.empty())
      from = fmt::format("{} tensors ({} ... {})", p.fillers.size(), plan.entries[p.fillers.front()].checkpoint,
                         plan.entries[p.fillers.back()].checkpoint);
    if (!p.unfilled.empty())
      from += styled(ctx, fmt::format("{}UNFILLED: {}{}", from.empty() ? "" : "; ", plan.unfilled[p.unfilled[0]].expected,
                                      p.unfilled.size() > 1 ? fmt::format(" and {} more", p.unfilled.size() - 1) : ""),
                     Style::kRed);
    out += fmt::format("{:<{}} <- {}\n", p.param, width, from);
  }
  return out + fmt::format("\n{} engine parameters\n", params.size());
}

void print_human(const MapPlan& plan, const ArchChoice& choice, const MapOptions& opt, const Context& ctx) {
  std::string out;
  out += fmt::format("{} {} ({}; {})\n", styled(ctx, "architecture", Style::kBold), plan.arch->name, plan.arch->title,
                     choice.how);
  if (!choice.note.empty()) out += fmt::format("{} {}\n", styled(ctx, "detection", Style::kBold), choice.note);
  if (plan.expert_dtype)
    out += fmt::format("{} {}{}\n", styled(ctx, "expert_dtype", Style::kBold), expert_dtype_name(plan.expert_dtype->value),
                       plan.expert_dtype->explicit_in_config ? "" : " (absent from config.json: the default)");
  // A config that turns the MoE block off (Gemma 4's enable_moe_block) says so.
  if (!plan.moe_layers.empty() || !plan.moe_layers_explanation.empty())
    out += fmt::format("{} {} ({})\n", styled(ctx, "MoE layers", Style::kBold),
                       plan.moe_layers.empty() ? std::string("none") : format_layers(plan.moe_layers),
                       plan.moe_layers_explanation);
  out += "\n";
  if (opt.params) {
    out += parameters_text(plan, ctx);
    std::fwrite(out.data(), 1, out.size(), stdout);
    return;
  }
  size_t width = 0;
  for (const auto& e : plan.entries) width = std::max(width, e.checkpoint.size());
  width = std::min<size_t>(width, 90);
  for (const auto& e : plan.entries) {
    std::string extra;
    if (e.expert_id) extra = fmt::format("  expert {} {}", *e.expert_id, e.shard_id);
    else if (!e.shard_id.empty()) extra = "  " + e.shard_id;
    else if (!e.packed.empty()) extra = "  shard " + e.packed;
    if (e.mtp) extra += "  (MTP)";
    out += fmt::format("{:<{}} -> {}{}\n", e.checkpoint, width, e.param, styled(ctx, extra, Style::kDim));
  }
  for (const auto& [n, why] : plan.skipped) out += fmt::format("{:<{}}    skipped: {}\n", n, width, why);
  for (const auto& n : plan.dropped) out += fmt::format("{:<{}}    dropped by a rule\n", n, width);
  out += towers_text(plan);
  if (!plan.unmapped.empty()) {
    out += "\n" + styled(ctx, fmt::format("unmapped ({}): no tensor family of {} matches", plan.unmapped.size(), plan.arch->name), Style::kRed) + "\n";
    for (const auto& n : plan.unmapped) out += "  " + n + "\n";
  }
  if (!plan.unexpected.empty()) {
    out += "\n" + styled(ctx, fmt::format("unexpected ({}): the engine allocates no parameter for them under this config", plan.unexpected.size()), Style::kRed) + "\n";
    for (const auto& f : plan.param_findings)
      if (f.code == "E-PARAM-UNEXPECTED") out += fmt::format("  {}: {}\n", f.tensor, f.message);
  }
  if (!plan.unfilled.empty()) {
    out += "\n" + styled(ctx, fmt::format("unfilled ({}): parameters the config implies that no tensor fills", plan.unfilled.size()), Style::kRed) + "\n";
    for (const auto& u : plan.unfilled) {
      std::string what = u.expert_id ? fmt::format(" expert {} {}", *u.expert_id, u.shard_id)
                         : !u.packed.empty() ? " shard " + u.packed : "";
      out += fmt::format("  {}{}: expected {} ({})\n", u.param, what, u.expected, u.reason);
    }
  }
  for (const auto& n : plan.notes) out += styled(ctx, "note: ", Style::kYellow) + n + "\n";
  out += fmt::format("\n{} mapped, {} unmapped, {} unfilled, {} skipped, {} dropped{}\n", plan.entries.size(),
                     plan.unmapped.size(), plan.unfilled.size(), plan.skipped.size(), plan.dropped.size(),
                     plan.unexpected.empty() ? "" : fmt::format(", {} unexpected", plan.unexpected.size()));
  std::fwrite(out.data(), 1, out.size(), stdout);
}

// The convert command that makes a checkpoint loadable when only its wrapper is in the way.
std::string fix_command(const MapOptions& opt) { return "moeckpt convert " + opt.path + " OUT --text-only"; }

int run_map(const MapOptions& opt, const Context& ctx) {
  std::optional<RuleSet> rules;
  if (!opt.rules.empty()) rules = RuleSet::load_file(opt.rules);
  Checkpoint ck = open_checkpoint(ctx, opt.path);
  const Json* config = ck.config() ? &*ck.config() : nullptr;
  ArchChoice choice = choose_architecture(opt.arch, config, ck.config_file());
  PlanOptions po;
  po.user_rules = rules ? &*rules : nullptr;
  po.config_label = ck.config_file().empty() ? "config.json" : ck.config_file();
  MapPlan plan = plan_mapping(*choice.arch, config, ck.tensors(), po);
  const auto fix = wrapper_fix(plan, config, ck.tensors(), registry());
  const bool clean = plan.unmapped.empty() && plan.unfilled.empty() && plan.unexpected.empty();
  // The expert-layout fix, when the experts' layout is all that keeps the engine from loading it.
  std::string experts_fix;
  if (!clean && !fix && expert_layout_fixes(*choice.arch, config, ck.tensors(), po))
    experts_fix = fmt::format("moeckpt convert {} OUT --experts engine{}", opt.path, opt.arch.empty() ? "" : " --arch " + opt.arch);
  if (ctx.json) {
    Json doc = plan_json(plan, choice);
    if (fix) doc["fix"] = {{"command", fix_command(opt)}, {"wrapper", fix->wrapper}, {"text", fix->text}, {"class", fix->text_class}};
    if (!experts_fix.empty()) doc["fix"] = {{"command", experts_fix}, {"experts", "engine"}};
    print_json(doc);
  } else {
    print_human(plan, choice, opt, ctx);
    if (fix)
      std::printf("fix: the wrapper (%s) is what stands in the way; `%s` writes the language model alone, loadable as %s\n",
                  fix->wrapper.c_str(), fix_command(opt).c_str(), fix->text_class.c_str());
    if (!experts_fix.empty()) std::printf("fix: only the expert layout differs from what the engine reads: %s\n", experts_fix.c_str());
  }
  return clean ? kExitOk : kExitFindings;
}

}  // namespace

void register_map(CLI::App& app, Context& ctx) {
  auto opt = std::make_shared<MapOptions>();
  auto* sub = app.add_subcommand("map", "Show how an engine (vLLM's naming) loads every tensor; list gaps");
  sub->add_option("PATH", opt->path, "Checkpoint directory, .safetensors/.bin file or *.index.json")->required();
  sub->add_option("--arch", opt->arch, "Architecture (see `moeckpt archs`); default: from config.json");
  sub->add_option("--rules", opt->rules, "JSON file of extra renaming rules applied first (see moeckpt-rules(5))");
  sub->add_flag("--params", opt->params, "List the engine's parameters, each with the tensors that fill it, instead of the tensors");
  sub->callback([opt, &ctx] { ctx.exit_code = run_map(*opt, ctx); });
}

}  // namespace moeckpt::cli
