// moeckpt convert IN OUT [options]   |   moeckpt convert --finalize OUT
#include <fmt/format.h>

#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "cli/convert_build.h"
#include "cli/convert_run.h"
#include "cli/output.h"
#include "loader/error.h"

namespace moeckpt::cli {
namespace {

struct RawOptions {
  std::vector<std::string> paths;
  std::string dequant, cast, quantize, max_shard_size = "5GB", worker, finalize;
  ConvertOptions o;
};

DType parse_target(const std::string& s, const char* flag, bool fp8_ok) {
  std::string u;
  for (char c : s) u.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  if (u == "BF16" || u == "BFLOAT16") return DType::kBF16;
  if (u == "F16" || u == "FP16" || u == "FLOAT16") return DType::kF16;
  if (u == "F32" || u == "FP32" || u == "FLOAT32") return DType::kF32;
  if (fp8_ok && (u == "F8_E4M3" || u == "FP8" || u == "FLOAT8_E4M3FN")) return DType::kF8_E4M3;
  if (fp8_ok && (u == "F8_E5M2" || u == "FLOAT8_E5M2")) return DType::kF8_E5M2;
  throw Error(Errc::kUsage, flag, "'" + s + "' is not one of " + (fp8_ok ? "BF16, F16, F32, F8_E4M3, F8_E5M2" : "bf16, f16, f32"));
}

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
  int ops = !r.dequant.empty() + !r.cast.empty() + !r.quantize.empty();
  if (ops > 1) throw Error(Errc::kUsage, "convert", "--dequant, --cast and --quantize are exclusive; run them one after another");
  if (!r.dequant.empty()) o.dequant = parse_target(r.dequant, "--dequant", false);
  if (!r.cast.empty()) o.cast = parse_target(r.cast, "--cast", true);
  if (!r.quantize.empty()) {
    if (r.quantize != "fp8-block" && r.quantize != "mxfp4")
      throw Error(Errc::kUsage, "--quantize", "'" + r.quantize + "' is not one of fp8-block, mxfp4");
    o.quantize = r.quantize;
  }
  o.max_shard_size = parse_size(r.max_shard_size);
  if (!r.worker.empty()) {
    unsigned i = 0, n = 0;
    char extra = 0;
    if (std::sscanf(r.worker.c_str(), "%u/%u%c", &i, &n, &extra) != 2 || n == 0 || i == 0 || i > n)
      throw Error(Errc::kUsage, "--worker", "'" + r.worker + "' must be I/N with 1 <= I <= N");
    o.worker_index = i - 1;
    o.worker_count = n;
  }
  if (o.resume && o.overwrite) throw Error(Errc::kUsage, "convert", "--resume and --overwrite contradict each other");
}

Json plan_json(const ConvertPlan& plan, const ConvertOptions& o) {
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
  auto mine = worker_shards(plan, o.worker_index, o.worker_count);
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

int run(RawOptions& raw, const Context& ctx) {
  finish_options(raw);
  const ConvertOptions& o = raw.o;
  install_interrupt_handlers();
  if (!o.finalize.empty()) {
    RunReport r = finalize_convert(o.finalize, ctx);
    if (ctx.json) print_json(Json{{"output", o.finalize}, {"finalized", true}, {"shards", r.shards_kept}});
    else std::printf("finalized %s: %zu shards, index and config written\n", o.finalize.c_str(), r.shards_kept);
    return kExitOk;
  }
  Checkpoint in = Checkpoint::open(o.input);
  ConvertPlan plan = build_convert_plan(in, o);
  for (const auto& n : plan.notes) warn(ctx, n);
  if (o.dry_run) {
    if (ctx.json) {
      print_json(plan_json(plan, o));
    } else {
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
    return kExitOk;
  }
  RunReport r = run_convert(in, plan, o, ctx);
  if (ctx.json) {
    print_json(Json{{"input", o.input},
                    {"output", o.output},
                    {"tensors", plan.tensors.size()},
                    {"shards_written", r.shards_written},
                    {"shards_kept", r.shards_kept},
                    {"bytes_written", r.bytes_written},
                    {"finalized", r.finalized},
                    {"notes", plan.notes}});
  } else if (!ctx.quiet) {
    std::string msg = fmt::format("wrote {} shard(s), {} in {:.1f}s ({}/s)", r.shards_written, human_bytes(r.bytes_written), r.seconds,
                                  human_bytes(r.seconds > 0 ? static_cast<uint64_t>(static_cast<double>(r.bytes_written) / r.seconds) : 0));
    if (r.shards_kept) msg += fmt::format(", kept {} finished earlier", r.shards_kept);
    if (!r.finalized) msg += "; run `moeckpt convert --finalize " + o.output + "` once every worker is done";
    std::printf("%s\n", msg.c_str());
  }
  return kExitOk;
}

}  // namespace

void register_convert(CLI::App& app, Context& ctx) {
  auto raw = std::make_shared<RawOptions>();
  auto* sub = app.add_subcommand("convert", "Rewrite a checkpoint: dequantize, cast, quantize, rename, filter, reshard");
  sub->add_option("IN_OUT", raw->paths, "IN (the input checkpoint) and OUT (a new output directory)")->expected(0, 2);
  sub->add_option("--dequant", raw->dequant, "Dequantize every quantized tensor to bf16, f16 or f32; scale tensors are dropped");
  sub->add_option("--cast", raw->cast, "Cast every floating tensor to BF16, F16, F32, F8_E4M3 or F8_E5M2");
  sub->add_option("--quantize", raw->quantize, "Quantize BF16/F16/F32 weights: fp8-block or mxfp4");
  sub->add_flag("--saturate", raw->o.saturate, "Clamp values beyond a format's range to its largest finite value");
  sub->add_option("--rules", raw->o.rules, "Rename or drop tensors with a rules file (moeckpt-rules(5))");
  sub->add_option("--rename", raw->o.rename, "'engine': give tensors the names the engine's loader expects (needs the architecture)");
  sub->add_option("--arch", raw->o.arch, "Architecture for --rename engine; default: from config.json");
  sub->add_option("--only", raw->o.only, "Write only tensors whose input name matches this regex (RE2)");
  sub->add_option("--exclude", raw->o.exclude, "Leave out tensors whose input name matches this regex (RE2)");
  sub->add_option("--max-shard-size", raw->max_shard_size, "Largest shard, e.g. 5GB (default), 500MB, 2GiB");
  sub->add_option("--threads", raw->o.threads, "Worker threads (default: all cores)");
  sub->add_flag("--dry-run", raw->o.dry_run, "Print the plan (tensors, dtypes, shapes, shards, bytes) and write nothing");
  sub->add_flag("--resume", raw->o.resume, "Keep the shards an interrupted run finished and write the rest");
  sub->add_flag("--overwrite", raw->o.overwrite, "Replace an earlier conversion in OUT");
  sub->add_option("--worker", raw->worker, "I/N: write only this worker's share of the shards (1 <= I <= N)");
  sub->add_option("--finalize", raw->finalize, "OUT: write the index and config once every worker has finished");
  sub->callback([raw, &ctx] { ctx.exit_code = run(*raw, ctx); });
}

}  // namespace moeckpt::cli
