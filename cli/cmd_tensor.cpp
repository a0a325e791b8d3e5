// moeckpt tensor PATH NAME [--count N] [--dequant] [--stats] [--json]
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "cli/commands.h"
#include "cli/output.h"
#include "cli/remote.h"
#include "loader/checkpoint.h"
#include "loader/error.h"
#include "quant/scheme.h"
#include "quant/values.h"

namespace moeckpt::cli {
namespace {

struct TensorOptions {
  std::string path, name;
  uint64_t count = 8;
  bool dequant = false, stats = false;
};

Json number(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return v;
}

// A float32 value as the shortest decimal that reads back to it (0.1f prints 0.1, not the
// double 0.10000000149011612), so golden files stay readable and diffable.
Json number(float v) {
  if (!std::isfinite(v)) return number(static_cast<double>(v));
  return std::strtod(fmt::format("{}", v).c_str(), nullptr);
}

std::string text(float v) { return fmt::format("{}", v); }

Json stats_json(const quant::Stats& s) {
  return Json{{"count", s.count}, {"nan", s.nan},          {"inf", s.inf},   {"zeros", s.zeros},
              {"min", number(s.min)}, {"max", number(s.max)}, {"mean", number(s.mean())}, {"std", number(s.std_dev())},
              {"amax", number(s.amax)}};
}

int run_tensor(const TensorOptions& o, const Context& ctx) {
  Checkpoint ck = open_checkpoint(ctx, o.path);
  quant::QuantScan scan = quant::scan_quantized(ck);
  quant::TensorValues tv(ck, scan, o.name, o.dequant);
  const TensorInfo* raw = ck.find(o.name);
  if (o.dequant && !tv.quantized()) {
    // A weight whose scales are wrong is refused rather than shown raw.
    // Findings name the weight (missing scale) or its scale (W.weight_scale_inv, W.scale, ...).
    const std::string stem = o.name.ends_with("weight") ? o.name.substr(0, o.name.size() - 6) : o.name;
    auto concerns = [&](const std::string& t) {
      return t == o.name || (t.size() > stem.size() && t.starts_with(stem) && t.find("scale", stem.size()) != std::string::npos);
    };
    for (const auto& f : scan.findings)
      if (f.severity == Severity::kError && concerns(f.tensor)) throw Error(Errc::kQuantInvalid, f.file, f.message, f.tensor);
  }

  // The first `count` values, then (with --stats) every value in slices of about 4M.
  std::vector<float> first, buf;
  const uint64_t want = std::min<uint64_t>(o.count, tv.size());
  quant::Stats st;
  const uint64_t per = std::max<uint64_t>(1, (uint64_t{4} << 20) / std::max<uint64_t>(1, tv.row_elems()));
  for (uint64_t r = 0; r < tv.rows(); r += per) {
    const uint64_t r1 = std::min(tv.rows(), r + per);
    tv.read(r, r1, buf);
    if (first.size() < want) first.insert(first.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(std::min<uint64_t>(buf.size(), want - first.size())));
    if (o.stats) st.add(buf.data(), buf.size());
    if (!o.stats && first.size() >= want) break;
  }

  const quant::QuantTensor* q = tv.quantized();
  const std::string shown_dtype = q ? "F32 (dequantized)" : std::string(dtype_name(raw->dtype));
  if (ctx.json) {
    Json doc{{"checkpoint", o.path}, {"tensor", o.name}, {"shape", tv.shape()}, {"dtype", q ? "F32" : std::string(dtype_name(raw->dtype))}};
    if (q) {
      doc["dequantized"] = Json{{"scheme", quant::scheme_name(q->scheme)}, {"weight", q->weight->name}, {"weight_dtype", dtype_name(q->weight->dtype)},
                                {"scale", q->scale->name}, {"block", {q->block_rows, q->block_cols}}};
      if (q->scale2) doc["dequantized"]["scale_2"] = q->scale2->name;
    }
    Json vals = Json::array();
    for (float v : first) vals.push_back(number(v));
    doc["values"] = std::move(vals);
    if (o.stats) doc["stats"] = stats_json(st);
    print_json(doc);
    return kExitOk;
  }
  std::string out = fmt::format("{}  {}  {}\n", styled(ctx, o.name, Style::kBold), shown_dtype, shape_string(tv.shape()));
  if (q)
    out += fmt::format("  dequantized  {} from {} {} with {}{}\n", quant::scheme_name(q->scheme), q->weight->name, dtype_name(q->weight->dtype),
                       q->scale->name, q->scale2 ? " x " + q->scale2->name : std::string());
  std::string vals;
  for (float v : first) vals += (vals.empty() ? "" : ", ") + text(v);
  out += fmt::format("  values[0:{}]  {}\n", first.size(), vals);
  if (o.stats)
    out += fmt::format("  stats        count {}  min {}  max {}  mean {:.6g}  std {:.6g}  amax {}  zeros {}  nan {}  inf {}\n", grouped(st.count),
                       text(st.min), text(st.max), st.mean(), st.std_dev(), text(st.amax), grouped(st.zeros), st.nan, st.inf);
  std::fwrite(out.data(), 1, out.size(), stdout);
  return kExitOk;
}

}  // namespace

void register_tensor(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<TensorOptions>();
  auto* sub = app.add_subcommand("tensor", "Print one tensor's values (dequantized on request) and statistics");
  sub->add_option("PATH", o->path, "Checkpoint: file, directory or index")->required();
  sub->add_option("NAME", o->name, "Tensor name (a quantized weight's name with --dequant)")->required();
  sub->add_option("--count,-n", o->count, "How many values to print (default 8)")->check(CLI::Range(uint64_t{0}, uint64_t{1} << 40));
  sub->add_flag("--dequant", o->dequant, "Dequantize a quantized weight through its scales (float32 values)");
  sub->add_flag("--stats", o->stats, "Scan every value: min, max, mean, std, amax, zeros, NaN and Inf counts");
  sub->callback([o, &ctx] { ctx.exit_code = run_tensor(*o, ctx); });
}

}  // namespace moeckpt::cli
