// moeckpt archs [NAME] [--missing] [--json]
#include <fmt/format.h>

#include <cstdio>
#include <memory>
#include <string>

#include "cli/arch_select.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "loader/error.h"
#include "mapping/arch_registry.h"

namespace moeckpt::cli {
namespace {

std::string join(const std::vector<std::string>& v, const char* sep = ", ") {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : sep) + x;
  return s;
}

std::string layout_of(const Architecture& a) {
  if (a.experts.empty()) return "none";
  std::string s;
  for (const auto& e : a.experts) {
    if (!s.empty()) s += "; ";
    s += e.layout == ExpertSpec::Layout::kPerExpert ? "per-expert " + (e.gate.empty() ? "" : e.gate + "/") + e.up + "/" + e.down
                                                   : "fused";
  }
  return s;
}

// The engine's MoE families no entry covers (mapping/archs/_missing.json), each with the reason.
int run_missing(const Context& ctx) {
  const auto& missing = registry().missing();
  if (ctx.json) {
    Json list = Json::array();
    for (const auto& m : missing) list.push_back({{"file", m.file}, {"class", m.cls}, {"reason", m.reason}});
    print_json(Json{{"count", missing.size()}, {"missing", std::move(list)}});
    return kExitOk;
  }
  std::string out = fmt::format("{} vLLM MoE families no entry covers\n\n", missing.size());
  for (const auto& m : missing)
    out += fmt::format("{}  ({})\n    {}\n", styled(ctx, m.cls, Style::kBold), m.file, m.reason);
  std::fwrite(out.data(), 1, out.size(), stdout);
  return kExitOk;
}

int run_archs(const std::string& name, bool missing, const Context& ctx) {
  if (missing) {
    if (!name.empty()) throw Error(Errc::kUsage, "archs", "--missing lists the families no entry covers: give it no NAME");
    return run_missing(ctx);
  }
  const ArchRegistry& reg = registry();
  std::vector<const Architecture*> shown;
  if (!name.empty()) {
    const Architecture* a = reg.find(name);
    if (!a) throw Error(Errc::kUsage, "archs", "unknown architecture '" + name + "'");
    shown.push_back(a);
  } else {
    for (const auto& a : reg.all()) shown.push_back(&a);
  }
  if (ctx.json) {
    Json list = Json::array();
    for (const auto* a : shown) {
      Json j = a->raw;
      j.erase("notes");
      j["notes"] = a->notes;
      list.push_back(std::move(j));
    }
    print_json(Json{{"count", shown.size()}, {"architectures", std::move(list)}});
    return kExitOk;
  }
  std::string out;
  if (name.empty()) {
    out += fmt::format("{} architectures\n\n", shown.size());
    for (const auto* a : shown)
      out += fmt::format("{:<22} {:<44} {}\n", a->name, a->title.substr(0, 44),
                         a->hf_architectures.empty() ? "(" + a->source + ")" : a->hf_architectures.front());
    out += "\nmoeckpt archs NAME shows one in detail; moeckpt archs --missing lists the vLLM MoE families no entry covers.\n";
  } else {
    const Architecture& a = *shown.front();
    auto row = [&](const char* k, const std::string& v) {
      // Config field names can be longer than the column: keep one space then.
      const size_t pad = std::string(k).size() < 16 ? 16 - std::string(k).size() : 1;
      if (!v.empty()) out += fmt::format("  {}{}{}\n", styled(ctx, k, Style::kBold), std::string(pad, ' '), v);
    };
    out += styled(ctx, a.name, Style::kBold) + "  " + a.title + "\n";
    row("HF classes", join(a.hf_architectures));
    row("model_type", join(a.model_types));
    row("engine class", a.engine_class);
    row("source", a.source);
    row("MoE layers", a.moe_layers.rule);
    row("experts", layout_of(a));
    for (const auto& e : a.experts)
      row("expert path", e.path + (e.ids_first ? " ids " + e.ids_first->text() + " .. + " + e.ids_count->text() + " -> " + e.engine_path
                                                 : std::string()));
    std::string stacked;
    for (const auto& s : a.stacked)
      stacked += (stacked.empty() ? "" : ", ") + s.shard + "->" + s.param + "[" + s.id + "]" + (s.when ? " if " + s.when->text() : "");
    row("stacked", stacked);
    row("scale rule", std::string(scale_rule_name(a.scale_rule)));
    if (a.mtp) row("MTP layers", a.mtp->from + "<i>. -> " + a.mtp->to + "<num_layers + i>., loaded by " + a.mtp->engine_class);
    for (int i = 0; i < kNumConfigFields; ++i)
      if (!a.aliases[static_cast<size_t>(i)].empty())
        row(std::string(config_field_name(static_cast<ConfigField>(i))).c_str(), "config key " + join(a.aliases[static_cast<size_t>(i)], " | "));
    row("tensors", std::to_string(a.tensors.size()) + " families");
    row("notes", a.notes);
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return kExitOk;
}

}  // namespace

void register_archs(CLI::App& app, Context& ctx) {
  auto name = std::make_shared<std::string>();
  auto missing = std::make_shared<bool>(false);
  auto* sub = app.add_subcommand("archs", "List the architectures moeckpt knows, or show one");
  sub->add_option("NAME", *name, "Registry name, HF class name or model_type");
  sub->add_flag("--missing", *missing, "List the vLLM MoE families no entry covers, each with the reason");
  sub->callback([name, missing, &ctx] { ctx.exit_code = run_archs(*name, *missing, ctx); });
}

}  // namespace moeckpt::cli
