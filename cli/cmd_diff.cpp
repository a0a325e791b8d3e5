// moeckpt diff A B [--atol X] [--rtol Y] [--json]
//
// Compares two checkpoints tensor by tensor on their values as the model sees them: quantized
// weights are dequantized (their scales are not tensors of their own here), so an FP8
// checkpoint can be compared with its BF16 original. A value pair differs when
// |a - b| > atol + rtol * |b| (numpy's allclose rule); NaN equals NaN, an infinity only the
// same infinity.
#include <fmt/format.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <memory>

#include "cli/commands.h"
#include "cli/output.h"
#include "cli/remote.h"
#include "loader/checkpoint.h"
#include "loader/error.h"
#include "loader/parallel.h"
#include "quant/codec.h"
#include "quant/scheme.h"
#include "quant/values.h"

namespace moeckpt::cli {
namespace {

struct DiffOptions {
  std::string a, b;
  double atol = 0, rtol = 0;
  unsigned threads = 0;
};

// A checkpoint's tensors as the model sees them: name -> (description, is quantized).
struct Logical {
  std::string name, dtype;  // dtype: "BF16", or "F8_E4M3 fp8-block" for a quantized weight
  std::vector<uint64_t> shape;
  bool quantized = false, numeric = true;
};

std::map<std::string, Logical> logical(const Checkpoint& ck, const quant::QuantScan& scan) {
  std::map<std::string, Logical> m;
  std::set<std::string> hidden;
  for (const auto& q : scan.tensors) {
    hidden.insert(q.weight->name);
    hidden.insert(q.scale->name);
    if (q.scale2) hidden.insert(q.scale2->name);
    for (auto* d : q.dropped) hidden.insert(d->name);
    m[q.name] = {q.name, fmt::format("{} {}", dtype_name(q.weight->dtype), quant::scheme_name(q.scheme)), q.shape, true, true};
  }
  for (const auto& t : ck.tensors()) {
    if (hidden.count(t.name)) continue;
    bool numeric = quant::fmt_of(t.dtype).has_value();
    m[t.name] = {t.name, std::string(dtype_name(t.dtype)), t.shape, false, numeric};
  }
  return m;
}

struct Compared {
  std::string name;
  uint64_t count = 0, over = 0;
  double max_abs = 0, max_rel = 0;
  bool bytes_differ = false;  // non-float tensors: compared byte for byte
};

Compared compare(const Checkpoint& ca, const quant::QuantScan& sa, const Logical& la, const Checkpoint& cb, const quant::QuantScan& sb,
                 const Logical& lb, const DiffOptions& o) {
  Compared c{la.name};
  if (!la.numeric || !lb.numeric) {
    const TensorInfo* ta = ca.find(la.name);
    const TensorInfo* tb = cb.find(lb.name);
    TensorBytes ba = ca.bytes(*ta), bb = cb.bytes(*tb);
    c.bytes_differ = ba.size() != bb.size() || std::memcmp(ba.data(), bb.data(), ba.size()) != 0;
    c.count = numel(*ta);
    c.over = c.bytes_differ ? c.count : 0;
    return c;
  }
  quant::TensorValues va(ca, sa, la.name, la.quantized), vb(cb, sb, lb.name, lb.quantized);
  std::vector<float> xa, xb;
  const uint64_t rows = va.rows(), per = std::max<uint64_t>(1, (uint64_t{2} << 20) / std::max<uint64_t>(1, va.row_elems()));
  if (va.size() != vb.size()) throw Error(Errc::kUsage, la.name, "sizes differ");
  // Row splits may differ between the two (gpt-oss rows are experts): read both by A's rows
  // only when they agree, else whole tensors.
  const bool same_rows = va.rows() == vb.rows();
  for (uint64_t r = 0; r < (same_rows ? rows : 1); r += per) {
    const uint64_t r1 = same_rows ? std::min(rows, r + per) : 0;
    if (same_rows) {
      va.read(r, r1, xa);
      vb.read(r, r1, xb);
    } else {
      va.read(0, va.rows(), xa);
      vb.read(0, vb.rows(), xb);
    }
    for (size_t i = 0; i < xa.size(); ++i) {
      double x = xa[i], y = xb[i];
      ++c.count;
      if (std::isnan(x) && std::isnan(y)) continue;
      if (x == y) continue;  // equal infinities too
      double d = std::fabs(x - y);
      // An infinity matches only the same infinity; rtol x |inf| would otherwise accept anything.
      if (std::isnan(d) || std::isinf(x) || std::isinf(y)) {
        c.max_abs = c.max_rel = INFINITY;
        ++c.over;
        continue;
      }
      double rel = y != 0 ? d / std::fabs(y) : (d == 0 ? 0 : INFINITY);
      if (d > c.max_abs) c.max_abs = d;
      if (rel > c.max_rel) c.max_rel = rel;
      if (!(d <= o.atol + o.rtol * std::fabs(y))) ++c.over;
    }
  }
  return c;
}

Json num(double v) { return std::isfinite(v) ? Json(v) : Json(v > 0 ? "inf" : "nan"); }

int run_diff(const DiffOptions& o, const Context& ctx) {
  Checkpoint ca = open_checkpoint(ctx, o.a), cb = open_checkpoint(ctx, o.b);
  quant::QuantScan sa = quant::scan_quantized(ca), sb = quant::scan_quantized(cb);
  for (const auto* s : {&sa, &sb})
    for (const auto& f : s->findings)
      if (f.severity == Severity::kError) throw Error(Errc::kQuantInvalid, f.file, f.message, f.tensor);
  auto la = logical(ca, sa), lb = logical(cb, sb);
  std::vector<std::string> only_a, only_b;
  std::vector<std::pair<const Logical*, const Logical*>> both;
  Json dtype_diffs = Json::array(), shape_diffs = Json::array();
  std::vector<std::string> incomparable;
  for (const auto& [n, l] : la) {
    auto it = lb.find(n);
    if (it == lb.end()) {
      only_a.push_back(n);
      continue;
    }
    if (l.dtype != it->second.dtype) dtype_diffs.push_back(Json{{"tensor", n}, {"a", l.dtype}, {"b", it->second.dtype}});
    if (l.shape != it->second.shape) {
      shape_diffs.push_back(Json{{"tensor", n}, {"a", l.shape}, {"b", it->second.shape}});
      continue;
    }
    if (l.numeric != it->second.numeric) {
      incomparable.push_back(n);  // a float against an integer/bool tensor: no values to compare
      continue;
    }
    both.push_back({&l, &it->second});
  }
  for (const auto& [n, l] : lb)
    if (!la.count(n)) only_b.push_back(n);

  std::vector<Compared> results(both.size());
  parallel_for(both.size(), o.threads, [&](size_t i) { results[i] = compare(ca, sa, *both[i].first, cb, sb, *both[i].second, o); });

  uint64_t over_tensors = 0;
  for (const auto& r : results) over_tensors += r.over > 0;
  const bool differ = !only_a.empty() || !only_b.empty() || !shape_diffs.empty() || !incomparable.empty() || over_tensors > 0;
  if (ctx.json) {
    Json vals = Json::array();
    for (const auto& r : results) {
      if (r.max_abs == 0 && r.over == 0 && !r.bytes_differ) continue;
      vals.push_back(Json{{"tensor", r.name}, {"count", r.count}, {"over_tolerance", r.over}, {"max_abs", num(r.max_abs)}, {"max_rel", num(r.max_rel)}});
    }
    print_json(Json{{"a", o.a},
                    {"b", o.b},
                    {"atol", o.atol},
                    {"rtol", o.rtol},
                    {"compared", results.size()},
                    {"only_in_a", only_a},
                    {"only_in_b", only_b},
                    {"dtype_differences", dtype_diffs},
                    {"shape_differences", shape_diffs},
                    {"not_comparable", incomparable},
                    {"value_differences", vals},
                    {"tensors_over_tolerance", over_tensors},
                    {"equal_within_tolerance", !differ}});
    return differ ? kExitFindings : kExitOk;
  }
  std::string out;
  for (const auto& n : only_a) out += fmt::format("only in A  {}\n", n);
  for (const auto& n : only_b) out += fmt::format("only in B  {}\n", n);
  for (const auto& d : shape_diffs) out += fmt::format("shape      {}  {} vs {}\n", d["tensor"].get<std::string>(), d["a"].dump(), d["b"].dump());
  for (const auto& d : dtype_diffs)
    out += fmt::format("dtype      {}  {} vs {}\n", d["tensor"].get<std::string>(), d["a"].get<std::string>(), d["b"].get<std::string>());
  for (const auto& n : incomparable) out += fmt::format("values     {}  not comparable (a float tensor against an integer or bool one)\n", n);
  double worst_abs = 0, worst_rel = 0;
  for (const auto& r : results) {
    worst_abs = std::max(worst_abs, r.max_abs);
    worst_rel = std::max(worst_rel, r.max_rel);
    if (r.over)
      out += fmt::format("values     {}  {} of {} over tolerance, max abs {:.6g}, max rel {:.6g}\n", r.name, grouped(r.over), grouped(r.count), r.max_abs,
                         r.max_rel);
  }
  out += fmt::format("{} tensors compared (atol {}, rtol {}): {}; largest difference abs {:.6g}, rel {:.6g}\n", results.size(), o.atol, o.rtol,
                     differ ? styled(ctx, "differ", Style::kRed) : styled(ctx, "equal within tolerance", Style::kGreen), worst_abs, worst_rel);
  std::fwrite(out.data(), 1, out.size(), stdout);
  return differ ? kExitFindings : kExitOk;
}

}  // namespace

void register_diff(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<DiffOptions>();
  auto* sub = app.add_subcommand("diff", "Compare two checkpoints: names, dtypes, shapes and (dequantized) values");
  sub->add_option("A", o->a, "First checkpoint")->required();
  sub->add_option("B", o->b, "Second checkpoint (the reference for --rtol)")->required();
  sub->add_option("--atol", o->atol, "Absolute tolerance (default 0: exact)")->check(CLI::NonNegativeNumber);
  sub->add_option("--rtol", o->rtol, "Relative tolerance, of |B| (default 0)")->check(CLI::NonNegativeNumber);
  sub->add_option("--threads", o->threads, "Threads (default: all cores)");
  sub->callback([o, &ctx] { ctx.exit_code = run_diff(*o, ctx); });
}

}  // namespace moeckpt::cli
