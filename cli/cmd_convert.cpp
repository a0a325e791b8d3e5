// moeckpt convert IN OUT [options]   |   moeckpt convert --finalize OUT
//
// A conversion reads as its steps: build the tensor ops (quant/tensor_ops), filter by name
// (mapping/tensor_filter), rename (mapping/renamer), shard (loader/write_plan), rewrite
// config.json (quant/tensor_ops), run (loader/shard_writer). This file parses the options and
// prints; the steps print nothing.
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "cli/arch_select.h"
#include "cli/commands.h"
#include "cli/convert_experts.h"
#include "cli/options.h"
#include "cli/output.h"
#include "cli/progress.h"
#include "cli/signals.h"
#include "loader/error.h"
#include "loader/shard_writer.h"
#include "loader/write_plan.h"
#include "mapping/extract.h"
#include "mapping/renamer.h"
#include "mapping/tensor_filter.h"
#include "quant/tensor_ops.h"

namespace moeckpt::cli {
namespace {

struct ConvertOptions {
  std::string input, output;
  quant::TensorOps ops;
  std::string rules;           // --rules FILE
  std::string arch;            // --arch NAME
  std::string rename;          // --rename engine
  std::string experts;         // --experts per-expert|fused|engine
  std::string only, exclude;   // regexes on input names
  uint64_t max_shard_size = 5'000'000'000;
  bool dry_run = false;
  ExtractRequest part;         // --text-only, --drop-mtp, --only-mtp
  WriterOptions writer;        // threads, resume, overwrite, worker share
  std::string finalize;        // --finalize OUT
};

struct RawOptions {
  std::vector<std::string> paths;
  std::string dequant, cast, quantize, max_shard_size = "5GB", worker, finalize;
  unsigned workers = 0;  // --workers N, with --worker auto
  bool drop_mtp = false, only_mtp = false;
  ConvertOptions o;
};

void finish_options(RawOptions& r) {
  ConvertOptions& o = r.o;
  if (!r.finalize.empty()) {
    if (!r.paths.empty()) throw Error(Errc::kUsage, "--finalize", "takes OUT as its value and no other paths");
    o.finalize = r.finalize;
    return;
  }
  if (r.paths.size() != 2) throw Error(Errc::kUsage, "convert", "needs IN and OUT (or --finalize OUT)");
  o.input = r.paths[0];
  o.output = r.paths[1];
  o.writer.output = o.output;
  int ops = !r.dequant.empty() + !r.cast.empty() + !r.quantize.empty();
  if (ops > 1) throw Error(Errc::kUsage, "convert", "--dequant, --cast and --quantize are exclusive; run them one after another");
  if (ops && !o.experts.empty()) throw Error(Errc::kUsage, "--experts", "re-lays tensors as they are: run --dequant, --cast or --quantize in a conversion of its own");
  if (!r.dequant.empty()) o.ops.dequant = parse_target(r.dequant, "--dequant", false);
  if (!r.cast.empty()) o.ops.cast = parse_target(r.cast, "--cast", true);
  if (!r.quantize.empty()) o.ops.quantize = parse_quantize(r.quantize);
  o.max_shard_size = parse_size(r.max_shard_size);
  if (r.worker == "auto") std::tie(o.writer.worker_index, o.writer.worker_count) = worker_from_environment([](const char* n) -> const char* { return std::getenv(n); }, r.workers);
  else if (r.workers) throw Error(Errc::kUsage, "--workers", "goes with --worker auto");
  else if (!r.worker.empty()) std::tie(o.writer.worker_index, o.writer.worker_count) = parse_worker(r.worker);
  if (r.drop_mtp && r.only_mtp) throw Error(Errc::kUsage, "convert", "--drop-mtp and --only-mtp contradict each other");
  if (r.drop_mtp || r.only_mtp) o.part.mtp = r.drop_mtp ? MtpMode::kDrop : MtpMode::kOnly;
  if (o.writer.resume && o.writer.overwrite) throw Error(Errc::kUsage, "convert", "--resume and --overwrite contradict each other");
}

// Step 1: what each input tensor becomes.
quant::OpsResult build_ops(const Checkpoint& in, const ConvertOptions& o, WritePlan& plan) {
  quant::OpsResult ops = quant::plan_tensor_ops(in, o.ops);
  plan.notes = std::move(ops.notes);
  plan.dropped = std::move(ops.consumed);
  return ops;
}

// Step 2b (--text-only, --drop-mtp, --only-mtp): the part of the model kept, named as its
// architecture names it, and the config and sidecar files that go with it; the output's
// architecture, or null without those options.
const Architecture* extract_part(const Checkpoint& in, const ConvertOptions& o, std::vector<PlannedTensor>& tensors, WritePlan& plan) {
  if (!o.part.any()) return nullptr;
  if (!plan.config) throw Error(Errc::kConfigInvalid, in.directory().string(), "no config.json: --text-only, --drop-mtp and --only-mtp read the architecture from it");
  std::vector<std::string> names;
  for (const auto& t : tensors) names.push_back(t.out.name);
  const Architecture* arch = choose_architecture(o.arch, &*plan.config, in.config_file()).arch;
  ExtractResult r = extract(o.part, *arch, registry(), *plan.config, names, in.config_file());
  apply_extraction(r.x, tensors, plan.dropped);
  plan.config = std::move(r.x.config);
  plan.notes.insert(plan.notes.end(), r.x.notes.begin(), r.x.notes.end());
  drop_files(r.x, plan.copies, plan.notes);
  return r.arch;
}

// Step 3: the user's rules, then (--rename engine) the architecture's engine names (the
// extracted part's, after step 2b).
void rename(const Checkpoint& in, const ConvertOptions& o, const Architecture* part, std::vector<PlannedTensor>& tensors,
            std::vector<std::string>& dropped) {
  std::optional<RuleSet> user;
  if (!o.rules.empty()) user = RuleSet::load_file(o.rules);
  const Architecture* arch = nullptr;
  const Json* config = in.config() ? &*in.config() : nullptr;
  if (!o.rename.empty()) {
    if (o.rename != "engine") throw Error(Errc::kUsage, "--rename", "the only renaming is 'engine'");
    arch = part ? part : choose_architecture(o.arch, config, in.config_file()).arch;
  } else if (!o.arch.empty() && !o.part.any() && o.experts.empty()) {
    throw Error(Errc::kUsage, "--arch", "--arch only matters with --rename engine, --experts, --text-only, --drop-mtp or --only-mtp");
  }
  const Renamer renamer(arch, user ? &*user : nullptr, config, in.config_file());
  rename_planned(tensors, renamer, dropped, &in);
}

// The whole plan; throws (usage, input or unsupported) before anything is written.
WritePlan plan_conversion(const Checkpoint& in, const ConvertOptions& o) {
  const TensorFilter filter(o.only, o.exclude);
  WritePlan plan;
  quant::OpsResult ops = build_ops(in, o, plan);
  filter.apply(ops.tensors, plan.dropped);  // step 2, on the names as they are in IN
  if (!o.experts.empty()) convert_experts(in, o.experts, o.arch, ops.tensors, plan.notes);  // step 2a: expert layout
  if (in.config()) plan.config = quant::config_after(*in.config(), o.ops, ops.unquantized);  // step 5
  plan.copies = sidecar_files(in);
  std::erase_if(plan.copies, [&](const CopiedFile& c) { return !quant::sidecar_survives(c.name, o.ops); });
  const Architecture* part = extract_part(in, o, ops.tensors, plan);
  rename(in, o, part, ops.tensors, plan.dropped);
  plan.tensors = std::move(ops.tensors);
  std::sort(plan.dropped.begin(), plan.dropped.end());
  assign_shards(plan, o.max_shard_size, output_metadata(in));  // step 4
  return plan;
}

Json plan_json(const WritePlan& plan, const ConvertOptions& o) {
  Json tensors = Json::array();
  std::vector<std::string> shard_of(plan.tensors.size());
  for (const auto& s : plan.shards)
    for (size_t i : s.tensors) shard_of[i] = s.name;
  for (size_t i = 0; i < plan.tensors.size(); ++i) {
    const auto& t = plan.tensors[i];
    tensors.push_back({{"name", t.out.name}, {"dtype", dtype_name(t.out.dtype)}, {"shape", t.out.shape}, {"bytes", t.out.nbytes},
                       {"source", t.source}, {"op", t.producer->describe()}, {"shard", shard_of[i]}});
  }
  Json shards = Json::array();
  auto mine = worker_shards(plan, o.writer.worker_index, o.writer.worker_count);
  for (size_t s = 0; s < plan.shards.size(); ++s) {
    const auto& sh = plan.shards[s];
    shards.push_back({{"name", sh.name}, {"tensors", sh.tensors.size()}, {"bytes", sh.layout.file_size},
                      {"this_worker", std::find(mine.begin(), mine.end(), s) != mine.end()}});
  }
  Json copies = Json::array();
  for (const auto& c : plan.copies) copies.push_back(c.name);
  return Json{{"input", o.input},         {"output", o.output},          {"tensors", std::move(tensors)},
              {"shards", std::move(shards)}, {"total_bytes", plan.total_bytes}, {"dropped", plan.dropped},
              {"copied_files", std::move(copies)}, {"config", plan.config ? *plan.config : Json(nullptr)},
              {"notes", plan.notes}};
}

void print_plan(const WritePlan& plan, const ConvertOptions& o) {
  std::string out = fmt::format("{} -> {}: {} tensors, {} in {} shard(s)\n", o.input, o.output, plan.tensors.size(),
                                human_bytes(plan.total_bytes), plan.shards.size());
  for (const auto& s : plan.shards) {
    out += fmt::format("  {} ({} tensors, {})\n", s.name, s.tensors.size(), human_bytes(s.layout.file_size));
    for (size_t i : s.tensors) {
      const auto& t = plan.tensors[i];
      out += fmt::format("    {:<56} {:<8} {:<18} {}\n", t.out.name, dtype_name(t.out.dtype), shape_string(t.out.shape),
                         t.producer->describe() + (t.source != t.out.name ? " from " + t.source : ""));
    }
  }
  if (!plan.dropped.empty()) out += fmt::format("  not written: {} input tensors (scales folded in, filtered, dropped by rules)\n", plan.dropped.size());
  std::fwrite(out.data(), 1, out.size(), stdout);
}

void print_report(const WritePlan& plan, const ConvertOptions& o, const WriteReport& r, const Context& ctx) {
  if (ctx.json) {
    print_json(Json{{"input", o.input},
                    {"output", o.output},
                    {"tensors", plan.tensors.size()},
                    {"shards_written", r.shards_written},
                    {"shards_kept", r.shards_kept},
                    {"bytes_written", r.bytes_written},
                    {"finalized", r.finalized},
                    {"notes", plan.notes}});
    return;
  }
  if (ctx.quiet) return;
  std::string msg = fmt::format("wrote {} shard(s), {} in {:.1f}s ({}/s)", r.shards_written, human_bytes(r.bytes_written), r.seconds,
                                human_bytes(r.seconds > 0 ? static_cast<uint64_t>(static_cast<double>(r.bytes_written) / r.seconds) : 0));
  if (r.shards_kept) msg += fmt::format(", kept {} finished earlier", r.shards_kept);
  if (!r.finalized) msg += "; run `moeckpt convert --finalize " + o.output + "` once every worker is done";
  std::printf("%s\n", msg.c_str());
}

int finalize(const ConvertOptions& o, const Context& ctx) {
  WriteReport r = finalize_output(o.finalize);
  if (ctx.json) print_json(Json{{"output", o.finalize}, {"finalized", true}, {"shards", r.shards_kept}});
  else std::printf("finalized %s: %zu shards, index and config written\n", o.finalize.c_str(), r.shards_kept);
  return kExitOk;
}

int run(RawOptions& raw, const Context& ctx) {
  finish_options(raw);
  ConvertOptions& o = raw.o;
  install_interrupt_handlers();
  if (!o.finalize.empty()) return finalize(o, ctx);
  Checkpoint in = Checkpoint::open(o.input);
  WritePlan plan = plan_conversion(in, o);
  for (const auto& n : plan.notes) warn(ctx, n);
  if (o.dry_run) {
    if (ctx.json) print_json(plan_json(plan, o));
    else print_plan(plan, o);
    return kExitOk;
  }
  o.writer.stop = &interrupted();
  Progress progress(ctx.stderr_is_tty && !ctx.quiet && !ctx.json);
  WriteReport r = write_plan(in, plan, o.writer, &progress);  // step 6
  print_report(plan, o, r, ctx);
  return kExitOk;
}

}  // namespace

void register_convert(CLI::App& app, Context& ctx) {
  auto raw = std::make_shared<RawOptions>();
  ConvertOptions& o = raw->o;
  auto* sub = app.add_subcommand("convert", "Rewrite a checkpoint: dequantize, cast, quantize, rename, filter, reshard");
  sub->add_option("IN_OUT", raw->paths, "IN (the input checkpoint) and OUT (a new output directory)")->expected(0, 2);
  sub->add_option("--dequant", raw->dequant, "Dequantize every quantized tensor to bf16, f16 or f32; scale tensors are dropped");
  sub->add_option("--cast", raw->cast, "Cast every floating tensor to BF16, F16, F32, F8_E4M3 or F8_E5M2");
  sub->add_option("--quantize", raw->quantize, "Quantize BF16/F16/F32 weights: fp8-block, mxfp4, fp8-tensor, fp8-channel or nvfp4");
  sub->add_flag("--saturate", o.ops.saturate, "Clamp values beyond a format's range to its largest finite value");
  sub->add_option("--rules", o.rules, "Rename or drop tensors with a rules file (moeckpt-rules(5))");
  sub->add_option("--rename", o.rename, "'engine': give tensors the names the engine's loader expects (needs the architecture)");
  sub->add_option("--arch", o.arch, "Architecture for --rename engine and --experts; default: from config.json");
  sub->add_option("--experts", o.experts,
                  "Re-lay the routed experts: per-expert (2-D tensors per expert), fused (transformers 5's 3-D tensors) or engine "
                  "(the layout the engine's loader reads)");
  sub->add_option("--only", o.only, "Write only tensors whose input name matches this regex (RE2)");
  sub->add_option("--exclude", o.exclude, "Leave out tensors whose input name matches this regex (RE2)");
  sub->add_flag("--text-only", o.part.text_only,
                "Keep the language model of a multimodal checkpoint: towers left out, names and config.json as its text class has them");
  sub->add_flag("--drop-mtp", raw->drop_mtp, "Leave out the multi-token-prediction (MTP) layers; config.json counts none");
  sub->add_flag("--only-mtp", raw->only_mtp, "Keep only the MTP layers (and the embedding/head they share): a draft model for speculative decoding");
  sub->add_option("--max-shard-size", raw->max_shard_size, "Largest shard, e.g. 5GB (default), 500MB, 2GiB");
  sub->add_option("--threads", o.writer.threads, "Worker threads (default: all cores)");
  sub->add_flag("--dry-run", o.dry_run, "Print the plan (tensors, dtypes, shapes, shards, bytes) and write nothing");
  sub->add_flag("--resume", o.writer.resume, "Keep the shards an interrupted run finished and write the rest");
  sub->add_flag("--overwrite", o.writer.overwrite, "Replace an earlier conversion in OUT");
  sub->add_option("--worker", raw->worker,
                  "I/N: write only this worker's share of the shards (1 <= I <= N); auto: the share from a Slurm job array "
                  "or a Kubernetes Indexed Job");
  sub->add_option("--workers", raw->workers, "N: the worker count for --worker auto in a Kubernetes Indexed Job")->check(CLI::PositiveNumber);
  sub->add_option("--finalize", raw->finalize, "OUT: write the index and config once every worker has finished");
  sub->callback([raw, &ctx] { ctx.exit_code = run(*raw, ctx); });
}

}  // namespace moeckpt::cli
