// moeckpt validate PATH [--arch NAME] [--rules FILE] [--tp T] [--ep E] [--data] [--strict]
//                       [--threads N] [--json]
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <set>
#include <string>

#include "cli/arch_select.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "cli/remote.h"
#include "loader/checkpoint.h"
#include "loader/structure_checks.h"
#include "quant/moe_backend.h"
#include "mapping/config_checks.h"
#include "mapping/cross_checks.h"
#include "mapping/moe_summary.h"
#include "mapping/planner.h"
#include "mapping/config_view.h"
#include "mapping/sidecar_checks.h"
#include "quant/quant_checks.h"

namespace fs = std::filesystem;

namespace moeckpt::cli {
namespace {

struct ValidateOptions {
  std::string path, arch, rules, moe_backend;
  int64_t tp = 0, ep = 0;
  bool data = false, strict = false;
  unsigned threads = 0;
};

// What every check found, in a deterministic order (errors first, then by code, file, tensor,
// message), without repeats.
struct Verdict {
  Findings findings;
  size_t errors = 0, warnings = 0;
  bool ok = true;
  const Architecture* arch = nullptr;
  std::string detection_note;  // which config key chose arch when architectures and model_type disagree
  Json values = nullptr;  // --data
};

void config_findings(const Checkpoint& ck, const Json* config, const Architecture* arch, const ValidateOptions& opt, Findings& f) {
  bool has_expert_tensors = std::any_of(ck.tensors().begin(), ck.tensors().end(), [](const TensorInfo& t) {
    auto r = classify_expert_tensor(t.name);
    return r && !r->shared;
  });
  if (config) {
    auto c = check_config(*config, ck.config_file(), arch, has_expert_tensors, ParallelOptions{opt.tp, opt.ep});
    f.insert(f.end(), c.begin(), c.end());
  } else if (std::none_of(ck.problems().begin(), ck.problems().end(), [](const Error& e) { return e.code() == Errc::kConfigInvalid; })) {
    f.push_back(warning("W-CONFIG-MISSING", "no config.json beside the checkpoint: engines need one; config checks skipped", ck.directory().string()));
  }
}

void mapping_findings(const Checkpoint& ck, const Json* config, const Architecture& arch, const RuleSet* rules, Findings& f) {
  PlanOptions po;
  po.user_rules = rules;
  po.config_label = ck.config_file();
  std::optional<MapPlan> plan;
  try {
    plan = plan_mapping(arch, config, ck.tensors(), po);
  } catch (const Error& e) {
    // An invalid expert_dtype or MoE-layer key: already a config finding; say what it stops.
    f.push_back(error("E-MAP-ABORTED", std::string("cannot map the checkpoint: ") + e.reason(), e.file()));
    return;
  }
  auto file_of = [&](const TensorInfo& t) { return ck.file_label(t.file); };
  auto x = cross_check(arch, config, ck.config_file(), ck.tensors(), *plan, file_of);
  f.insert(f.end(), x.begin(), x.end());
}

void sidecar_findings(const Checkpoint& ck, const Json* config, const Architecture* arch, Findings& f) {
  if (ck.config_file().empty()) return;  // a lone weight file: no sidecars expected
  SidecarInput in;
  in.dir = fs::path(ck.config_file()).parent_path();
  // Over the network generation_config.json is fetched (a few hundred bytes); the tokenizer
  // files, tens of MB, are not (moeckpt(1), REMOTE CHECKPOINTS).
  if (ck.is_remote())
    in.reader = [&ck](const std::string& name) {
      return name == "generation_config.json" ? ck.read_remote_small(name) : std::nullopt;
    };
  in.config = config;
  in.config_label = ck.config_file();
  if (config) {
    std::vector<std::vector<std::string>> aliases;
    if (arch) aliases.assign(arch->aliases.begin(), arch->aliases.end());
    ConfigView view(*config, aliases, arch ? arch->config_section : std::string());
    in.vocab_size = view.get_int("vocab_size");
  }
  std::tie(in.embed_rows, in.embed_name) = embedding_rows(ck.tensors());
  auto s = check_sidecars(in);
  f.insert(f.end(), s.begin(), s.end());
}

void sort_and_count(const ValidateOptions& opt, Verdict& v) {
  Findings& f = v.findings;
  std::sort(f.begin(), f.end(), [](const Finding& a, const Finding& b) {
    return std::tie(a.severity, a.code, a.file, a.tensor, a.message) < std::tie(b.severity, b.code, b.file, b.tensor, b.message);
  });
  f.erase(std::unique(f.begin(), f.end(), [](const Finding& a, const Finding& b) {
            return a.severity == b.severity && a.code == b.code && a.file == b.file && a.tensor == b.tensor && a.message == b.message;
          }), f.end());
  for (const auto& x : f) (x.severity == Severity::kError ? v.errors : v.warnings)++;
  v.ok = v.errors == 0 && (!opt.strict || v.warnings == 0);
}

Verdict check_all(const Checkpoint& ck, const RuleSet* rules, const ValidateOptions& opt) {
  Verdict v;
  Findings& f = v.findings;
  structure_findings(ck, f);
  const Json* config = ck.config() ? &*ck.config() : nullptr;
  ArchChoice choice;
  if (!opt.arch.empty()) choice = choose_architecture(opt.arch, config, ck.config_file());
  else if (config) choice = detect_architecture(*config);
  v.arch = choice.arch;
  v.detection_note = std::move(choice.note);
  config_findings(ck, config, v.arch, opt, f);
  if (v.arch) mapping_findings(ck, config, *v.arch, rules, f);
  sidecar_findings(ck, config, v.arch, f);
  quant::QuantCheckResult q = quant::check_quantization(ck, config, opt.data, opt.threads);
  f.insert(f.end(), q.findings.begin(), q.findings.end());
  if (!opt.moe_backend.empty()) {
    Findings b = quant::backend_findings(ck, opt.moe_backend);
    f.insert(f.end(), b.begin(), b.end());
  }
  v.values = std::move(q.values);
  sort_and_count(opt, v);
  return v;
}

void print_verdict_json(const Checkpoint& ck, const Verdict& v, const ValidateOptions& opt) {
  Json list = Json::array();
  for (const auto& x : v.findings)
    list.push_back({{"severity", x.severity == Severity::kError ? "error" : "warning"}, {"code", x.code}, {"message", x.message},
                    {"file", x.file.empty() ? Json(nullptr) : Json(x.file)}, {"tensor", x.tensor.empty() ? Json(nullptr) : Json(x.tensor)}});
  Json summary = {{"errors", v.errors}, {"warnings", v.warnings}, {"files", ck.files().size()}, {"tensors", ck.tensors().size()},
                  {"architecture", v.arch ? Json(v.arch->name) : Json(nullptr)}, {"data_checked", opt.data}};
  if (!v.detection_note.empty()) summary["detection_note"] = v.detection_note;
  if (opt.data) summary["values"] = v.values;
  print_json(Json{{"ok", v.ok}, {"findings", std::move(list)}, {"summary", std::move(summary)}});
}

void print_verdict(const Checkpoint& ck, const Verdict& v, const ValidateOptions& opt, const Context& ctx) {
  std::string out;
  for (Severity sev : {Severity::kError, Severity::kWarning}) {
    size_t n = sev == Severity::kError ? v.errors : v.warnings;
    if (n == 0) continue;
    out += styled(ctx, sev == Severity::kError ? fmt::format("errors ({})", n) : fmt::format("warnings ({})", n),
                  sev == Severity::kError ? Style::kRed : Style::kYellow) + "\n";
    for (const auto& x : v.findings) {
      if (x.severity != sev) continue;
      std::string where = x.file;
      if (!x.tensor.empty()) where += (where.empty() ? "" : ": ") + std::string("tensor '") + x.tensor + "'";
      out += fmt::format("  {} {}{}\n", styled(ctx, x.code, Style::kBold), where.empty() ? "" : where + ": ", x.message);
    }
  }
  if (!v.detection_note.empty()) out += fmt::format("{} {}\n", styled(ctx, "detection", Style::kBold), v.detection_note);
  std::string verdict = v.ok ? styled(ctx, "ok", Style::kGreen) : styled(ctx, "FAILED", Style::kRed);
  out += fmt::format("{}: {} error(s), {} warning(s); {} tensors in {} file(s){}{}\n", verdict, v.errors, v.warnings,
                     ck.tensors().size(), ck.files().size(), v.arch ? ", architecture " + v.arch->name : "",
                     opt.data ? ", values scanned" : "");
  std::fwrite(out.data(), 1, out.size(), stdout);
}

int run_validate(const ValidateOptions& opt, const Context& ctx) {
  std::optional<RuleSet> rules;
  if (!opt.rules.empty()) rules = RuleSet::load_file(opt.rules);
  OpenOptions oo;
  oo.collect_problems = true;
  oo.threads = opt.threads;
  Checkpoint ck = open_checkpoint(ctx, opt.path, oo);  // throws only when nothing can be read at all
  Verdict v = check_all(ck, rules ? &*rules : nullptr, opt);
  if (ctx.json) print_verdict_json(ck, v, opt);
  else print_verdict(ck, v, opt, ctx);
  return v.ok ? kExitOk : kExitFindings;
}

}  // namespace

void register_validate(CLI::App& app, Context& ctx) {
  auto opt = std::make_shared<ValidateOptions>();
  auto* sub = app.add_subcommand("validate", "Check a checkpoint and its config.json before an engine loads it");
  sub->add_option("PATH", opt->path, "Checkpoint directory, .safetensors/.bin file or *.index.json")->required();
  sub->add_option("--arch", opt->arch, "Architecture (see `moeckpt archs`); default: from config.json");
  sub->add_option("--rules", opt->rules, "Extra renaming rules applied before mapping (moeckpt-rules(5))");
  sub->add_option("--tp", opt->tp, "Check divisibility for this many tensor-parallel ranks")->check(CLI::PositiveNumber);
  sub->add_option("--ep", opt->ep, "Check divisibility for this many expert-parallel ranks")->check(CLI::PositiveNumber);
  std::vector<std::string> backends(std::begin(quant::kMoeBackends), std::end(quant::kMoeBackends));
  sub->add_option("--moe-backend", opt->moe_backend, "Check that the experts can run on this fused MoE kernel: megamoe")
      ->check(CLI::IsMember(backends));
  sub->add_flag("--data", opt->data, "Also scan every tensor's values (NaN/Inf, FP8 NaN codes, bad scales)");
  sub->add_flag("--strict", opt->strict, "Treat warnings as errors");
  sub->add_option("--threads", opt->threads, "Threads for reading and --data (default: all cores)");
  sub->callback([opt, &ctx] { ctx.exit_code = run_validate(*opt, ctx); });
}

}  // namespace moeckpt::cli
