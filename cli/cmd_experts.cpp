// moeckpt experts --arch NAME --num-experts N [--redundant-experts R] [--config FILE]
//                 [--tp T] [--ep E] [--lora] [--json]
#include <fmt/format.h>

#include <cstdio>
#include <memory>
#include <string>

#include "cli/arch_select.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "cli/remote.h"
#include "loader/config_file.h"
#include "loader/error.h"
#include "mapping/config_view.h"
#include "mapping/dsv4_rule.h"
#include "mapping/expert_mapping.h"
#include "quant/moe_backend.h"

namespace moeckpt::cli {
namespace {

struct ExpertsOptions {
  std::string arch;
  std::string config;
  int64_t num_experts = -1;
  int64_t redundant = 0;
  int64_t tp = 0;
  int64_t ep = 0;
  bool lora = false;
};

std::string tried(const ConfigView& v, ConfigField f) {
  std::string s;
  for (const auto& a : v.aliases(f)) s += (s.empty() ? "" : ", ") + a;
  return s;
}

// The routed-expert count and where it came from: --num-experts, else the config.
struct ExpertCount {
  int64_t n = 0;
  std::string from;
};

ExpertCount expert_count(const ExpertsOptions& opt, const ConfigView* view) {
  if (opt.num_experts >= 0) return {opt.num_experts, "--num-experts"};
  if (!view)
    throw Error(Errc::kUsage, "--num-experts", "give --num-experts N or --config config.json");
  if (const ConfigProblem* p = view->problem(ConfigField::kNumExperts))
    throw Error(Errc::kConfigInvalid, opt.config, "'" + p->key + "' " + p->message);
  auto v = view->get(ConfigField::kNumExperts);
  if (!v) throw Error(Errc::kConfigInvalid, opt.config, "no routed-expert count: tried " + tried(*view, ConfigField::kNumExperts));
  if (v->value == 0) throw Error(Errc::kConfigInvalid, opt.config, "'" + v->key + "' is 0: a MoE config needs at least one routed expert");
  return {v->value, v->key};
}

// The sizes placement divides over the ranks, where the config gives them.
void add_config_sizes(PlacementInput& in, const ConfigView& view, const Json& config) {
  if (auto v = view.get(ConfigField::kNumSharedExperts)) in.num_shared = v->value;
  if (auto v = view.get(ConfigField::kMoeIntermediateSize)) in.moe_intermediate_size = v->value;
  if (auto v = view.get(ConfigField::kNumAttentionHeads)) in.num_attention_heads = v->value;
  if (auto v = view.get(ConfigField::kNumKeyValueHeads)) in.num_key_value_heads = v->value;
  if (auto q = config.find("quantization_config"); q != config.end() && q->is_object())
    if (auto b = q->find("weight_block_size"); b != q->end() && b->is_array() && b->size() == 2 && (*b)[0].is_number_integer())
      in.block_n = (*b)[0].get<int64_t>();
}

// The placement plan, when --tp or --ep asks for one.
std::optional<PlacementPlan> placement(const ExpertsOptions& opt, int64_t n, const ConfigView* view, const Json* config) {
  if (opt.tp <= 0 && opt.ep <= 0) return std::nullopt;
  PlacementInput in;
  in.num_logical = n;
  in.num_redundant = opt.redundant;
  in.tp = opt.tp > 0 ? opt.tp : 1;
  in.ep = opt.ep > 0 ? opt.ep : 1;
  if (view) add_config_sizes(in, *view, *config);
  return plan_placement(in);
}

// What experts prints, in either form.
struct ExpertsReport {
  const Architecture& arch;
  const ExpertSpec& spec;
  ExpertCount count;
  int64_t redundant = 0;
  std::vector<ExpertParamRow> rows;
  std::optional<PlacementPlan> plan;
  std::optional<quant::BackendFit> megamoe;  // DeepSeek V4 with a config: can MegaMoE run its experts
};

// DeepSeek V4's fused FP8 x FP4 MoE kernel, judged from expert_dtype and the sizes.
std::optional<quant::BackendFit> megamoe(const Architecture& arch, const Json* config, const ConfigView* view, const std::string& label) {
  if (!config || !view || arch.scale_rule != ScaleRule::kDeepseekV4) return std::nullopt;
  const ExpertDtypeSetting d = resolve_expert_dtype(*config, label);
  auto h = view->get(ConfigField::kHiddenSize), i = view->get(ConfigField::kMoeIntermediateSize);
  return quant::megamoe_fit(expert_dtype_name(d.value), h ? static_cast<uint64_t>(h->value) : 0, i ? static_cast<uint64_t>(i->value) : 0);
}

Json backends_json(const quant::BackendFit& b) { return Json::array({{{"backend", b.backend}, {"ok", b.ok}, {"reasons", b.reasons}}}); }

Json placement_json(const PlacementPlan& plan) {
  Json ranks = Json::array();
  for (const auto& r : plan.ranks)
    ranks.push_back({{"rank", r.rank}, {"first_physical", r.first_physical}, {"last_physical", r.last_physical},
                     {"num_local", r.num_local}, {"logical", r.logical}});
  return {{"tp", plan.tp},
          {"ep", plan.ep},
          {"num_logical_experts", plan.num_logical},
          {"num_redundant_experts", plan.num_redundant},
          {"num_physical_experts", plan.num_physical},
          {"num_local_physical_experts", plan.num_local_physical},
          {"num_shared_experts", plan.num_shared},
          {"experts_tp_split", plan.experts_tp_split},
          {"intermediate_size_per_rank", plan.intermediate_per_rank ? Json(*plan.intermediate_per_rank) : Json(nullptr)},
          {"physical_to_logical", plan.physical_to_logical},
          {"ranks", std::move(ranks)}};
}

void print_experts_json(const ExpertsReport& r) {
  Json doc = Json::object();
  doc["architecture"] = r.arch.name;
  doc["gate"] = r.spec.gate;
  doc["up"] = r.spec.up;
  doc["down"] = r.spec.down;
  doc["num_experts"] = r.count.n;
  doc["num_experts_from"] = r.count.from;
  doc["num_redundant_experts"] = r.redundant;
  doc["num_physical_experts"] = r.count.n + r.redundant;
  Json m = Json::array();
  for (const auto& row : r.rows)
    m.push_back({{"param", row.param}, {"weight", row.weight}, {"expert_id", row.expert_id}, {"shard_id", row.shard_id}});
  doc["mapping"] = std::move(m);
  if (r.plan) {
    doc["placement"] = placement_json(*r.plan);
  } else {
    doc["placement"] = nullptr;
  }
  if (r.megamoe) doc["moe_backends"] = backends_json(*r.megamoe);
  print_json(doc);
}

std::string placement_text(const Context& ctx, const PlacementPlan& plan) {
  std::string out = fmt::format("{} tp {} ep {}: {} local physical experts per rank{}{}\n", styled(ctx, "placement", Style::kBold),
                                plan.tp, plan.ep, plan.num_local_physical,
                                plan.experts_tp_split ? ", each expert split over tp ranks" : "",
                                plan.intermediate_per_rank ? fmt::format(", intermediate size {} per rank", *plan.intermediate_per_rank) : "");
  if (plan.num_shared > 0) out += fmt::format("  shared experts: {} (on every rank)\n", plan.num_shared);
  for (const auto& r : plan.ranks)
    out += fmt::format("  rank {:>4}: physical {}..{} ({} experts)\n", r.rank, r.first_physical, r.last_physical, r.num_local);
  return out;
}

void print_experts_text(const Context& ctx, const ExpertsReport& r) {
  std::string out;
  out += fmt::format("{} {}: {} routed experts ({}), {} redundant, {} physical; checkpoint names {}/{}/{}\n",
                     styled(ctx, "architecture", Style::kBold), r.arch.name, r.count.n, r.count.from, r.redundant,
                     r.count.n + r.redundant, r.spec.gate, r.spec.up, r.spec.down);
  // Id groups (ERNIE-4.5-VL): the engine applies this mapping within each group, after moving
  // the group's checkpoint indices to its own module and numbering them from 0.
  for (const auto& e : r.arch.experts)
    if (e.ids_first)
      out += fmt::format("  group {}: checkpoint experts from {} ({} of them), ids from 0\n", e.engine_path, e.ids_first->text(),
                         e.ids_count->text());
  if (r.plan) out += placement_text(ctx, *r.plan);
  if (r.megamoe) {
    std::string why;
    for (const auto& x : r.megamoe->reasons) why += (why.empty() ? ": " : "; ") + x;
    out += fmt::format("{} megamoe {}{}\n", styled(ctx, "moe backend", Style::kBold), r.megamoe->ok ? "yes" : "no", why);
  }
  out += "\n";
  for (const auto& row : r.rows)
    out += fmt::format("{:<16} {:<28} expert {:>5}  {}\n", row.param, row.weight, row.expert_id, row.shard_id);
  std::fwrite(out.data(), 1, out.size(), stdout);
}

int run_experts(const ExpertsOptions& opt, const Context& ctx) {
  std::optional<Json> config;
  if (!opt.config.empty()) config = open_config(ctx, opt.config);
  ArchChoice choice = choose_architecture(opt.arch, config ? &*config : nullptr, opt.config);
  const Architecture& arch = *choice.arch;
  if (arch.experts.empty()) throw Error(Errc::kUnsupported, arch.name, "the registry lists no experts for this architecture");
  const ExpertSpec& spec = arch.experts.front();

  std::optional<ConfigView> view;
  if (config) {
    std::vector<std::vector<std::string>> aliases(arch.aliases.begin(), arch.aliases.end());
    view.emplace(*config, aliases, arch.config_section);
  }
  const ConfigView* v = view ? &*view : nullptr;
  ExpertsReport r{arch, spec, expert_count(opt, v), opt.redundant, {}, {}};
  r.rows = make_expert_params_mapping(spec.gate.empty() ? spec.up : spec.gate, spec.down, spec.up, r.count.n, opt.redundant,
                                      opt.lora);
  r.plan = placement(opt, r.count.n, v, config ? &*config : nullptr);
  r.megamoe = megamoe(arch, config ? &*config : nullptr, v, opt.config);
  if (ctx.json) {
    print_experts_json(r);
  } else {
    print_experts_text(ctx, r);
  }
  return kExitOk;
}

}  // namespace

void register_experts(CLI::App& app, Context& ctx) {
  auto opt = std::make_shared<ExpertsOptions>();
  auto* sub = app.add_subcommand("experts", "Print the expert-parameter mapping and the expert placement plan");
  sub->add_option("--arch", opt->arch, "Architecture (see `moeckpt archs`); default: from --config");
  sub->add_option("--config", opt->config, "config.json to take the architecture and sizes from");
  sub->add_option("--num-experts", opt->num_experts, "Routed (logical) experts")->check(CLI::PositiveNumber);
  sub->add_option("--redundant-experts", opt->redundant, "Redundant experts (EPLB)")->check(CLI::NonNegativeNumber);
  sub->add_option("--tp", opt->tp, "Tensor-parallel ranks: print the placement plan")->check(CLI::PositiveNumber);
  sub->add_option("--ep", opt->ep, "Expert-parallel ranks: print the placement plan")->check(CLI::PositiveNumber);
  sub->add_flag("--lora", opt->lora, "Names as a LoRA-wrapped model has them (base_layer.)");
  sub->callback([opt, &ctx] { ctx.exit_code = run_experts(*opt, ctx); });
}

}  // namespace moeckpt::cli
