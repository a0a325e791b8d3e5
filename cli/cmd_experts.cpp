// moeckpt experts --arch NAME --num-experts N [--redundant-experts R] [--config FILE]
//                 [--tp T] [--ep E] [--lora] [--json]
#include <fmt/format.h>

#include <cstdio>
#include <memory>
#include <string>

#include "cli/arch_select.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "loader/config_file.h"
#include "loader/error.h"
#include "mapping/config_view.h"
#include "mapping/expert_mapping.h"

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

int run_experts(const ExpertsOptions& opt, const Context& ctx) {
  std::optional<Json> config;
  if (!opt.config.empty()) config = read_config(opt.config, opt.config);
  ArchChoice choice = choose_architecture(opt.arch, config ? &*config : nullptr, opt.config);
  const Architecture& arch = *choice.arch;
  if (arch.experts.empty()) throw Error(Errc::kUnsupported, arch.name, "the registry lists no experts for this architecture");
  const ExpertSpec& spec = arch.experts.front();

  std::optional<ConfigView> view;
  if (config) {
    std::vector<std::vector<std::string>> aliases(arch.aliases.begin(), arch.aliases.end());
    view.emplace(*config, aliases, arch.config_section);
  }
  int64_t n = opt.num_experts;
  std::string n_from = "--num-experts";
  if (n < 0) {
    if (!view)
      throw Error(Errc::kUsage, "--num-experts", "give --num-experts N or --config config.json");
    auto v = view->get(ConfigField::kNumExperts);
    if (!v) throw Error(Errc::kConfigInvalid, opt.config, "no routed-expert count: tried " + tried(*view, ConfigField::kNumExperts));
    n = v->value;
    n_from = v->key;
  }
  auto rows = make_expert_params_mapping(spec.gate.empty() ? spec.up : spec.gate, spec.down, spec.up, n, opt.redundant, opt.lora);

  std::optional<PlacementPlan> plan;
  if (opt.tp > 0 || opt.ep > 0) {
    PlacementInput in;
    in.num_logical = n;
    in.num_redundant = opt.redundant;
    in.tp = opt.tp > 0 ? opt.tp : 1;
    in.ep = opt.ep > 0 ? opt.ep : 1;
    if (view) {
      if (auto v = view->get(ConfigField::kNumSharedExperts)) in.num_shared = v->value;
      if (auto v = view->get(ConfigField::kMoeIntermediateSize)) in.moe_intermediate_size = v->value;
      if (auto v = view->get(ConfigField::kNumAttentionHeads)) in.num_attention_heads = v->value;
      if (auto v = view->get(ConfigField::kNumKeyValueHeads)) in.num_key_value_heads = v->value;
      if (auto q = config->find("quantization_config"); q != config->end() && q->is_object())
        if (auto b = q->find("weight_block_size"); b != q->end() && b->is_array() && b->size() == 2 && (*b)[0].is_number_integer())
          in.block_n = (*b)[0].get<int64_t>();
    }
    plan = plan_placement(in);
  }

  if (ctx.json) {
    Json doc = Json::object();
    doc["architecture"] = arch.name;
    doc["gate"] = spec.gate;
    doc["up"] = spec.up;
    doc["down"] = spec.down;
    doc["num_experts"] = n;
    doc["num_experts_from"] = n_from;
    doc["num_redundant_experts"] = opt.redundant;
    doc["num_physical_experts"] = n + opt.redundant;
    Json m = Json::array();
    for (const auto& r : rows)
      m.push_back({{"param", r.param}, {"weight", r.weight}, {"expert_id", r.expert_id}, {"shard_id", r.shard_id}});
    doc["mapping"] = std::move(m);
    if (plan) {
      Json ranks = Json::array();
      for (const auto& r : plan->ranks)
        ranks.push_back({{"rank", r.rank}, {"first_physical", r.first_physical}, {"last_physical", r.last_physical},
                         {"num_local", r.num_local}, {"logical", r.logical}});
      doc["placement"] = {{"tp", plan->tp},
                          {"ep", plan->ep},
                          {"num_logical_experts", plan->num_logical},
                          {"num_redundant_experts", plan->num_redundant},
                          {"num_physical_experts", plan->num_physical},
                          {"num_local_physical_experts", plan->num_local_physical},
                          {"num_shared_experts", plan->num_shared},
                          {"experts_tp_split", plan->experts_tp_split},
                          {"intermediate_size_per_rank", plan->intermediate_per_rank ? Json(*plan->intermediate_per_rank) : Json(nullptr)},
                          {"physical_to_logical", plan->physical_to_logical},
                          {"ranks", std::move(ranks)}};
    } else {
      doc["placement"] = nullptr;
    }
    print_json(doc);
    return kExitOk;
  }
  std::string out;
  out += fmt::format("{} {}: {} routed experts ({}), {} redundant, {} physical; checkpoint names {}/{}/{}\n",
                     styled(ctx, "architecture", Style::kBold), arch.name, n, n_from, opt.redundant, n + opt.redundant,
                     spec.gate, spec.up, spec.down);
  if (plan) {
    out += fmt::format("{} tp {} ep {}: {} local physical experts per rank{}{}\n", styled(ctx, "placement", Style::kBold),
                       plan->tp, plan->ep, plan->num_local_physical,
                       plan->experts_tp_split ? ", each expert split over tp ranks" : "",
                       plan->intermediate_per_rank ? fmt::format(", intermediate size {} per rank", *plan->intermediate_per_rank) : "");
    if (plan->num_shared > 0) out += fmt::format("  shared experts: {} (on every rank)\n", plan->num_shared);
    for (const auto& r : plan->ranks)
      out += fmt::format("  rank {:>4}: physical {}..{} ({} experts)\n", r.rank, r.first_physical, r.last_physical, r.num_local);
  }
  out += "\n";
  for (const auto& r : rows) out += fmt::format("{:<16} {:<28} expert {:>5}  {}\n", r.param, r.weight, r.expert_id, r.shard_id);
  std::fwrite(out.data(), 1, out.size(), stdout);
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
