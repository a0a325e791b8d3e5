#include "mapping/renamer.h"

#include <algorithm>
#include <map>

#include <re2/re2.h>

#include "loader/error.h"
#include "mapping/config_view.h"
#include "mapping/name_template.h"

namespace moeckpt {
namespace {

// "<from><i>.<rest>" -> "<to><first + i>.<rest>", or nothing when the name is not of that form.
std::optional<std::string> renumber(std::string_view name, const std::string& from, const std::string& to, int64_t first) {
  if (!name.starts_with(from)) return std::nullopt;
  size_t i = from.size(), start = i;
  int64_t v = 0;
  while (i < name.size() && name[i] >= '0' && name[i] <= '9' && v < (INT32_MAX / 10)) v = v * 10 + (name[i++] - '0');
  if (i == start || i >= name.size() || name[i] != '.') return std::nullopt;
  return to + std::to_string(first + v) + std::string(name.substr(i));
}

}  // namespace

Renamer::Renamer(const Architecture* arch, const RuleSet* user_rules, const Json* config, std::string_view config_label)
    : arch_(arch), user_(user_rules) {
  if (arch && arch->scale_rule == ScaleRule::kDeepseekV4)
    expert_dtype_ = config ? resolve_expert_dtype(*config, config_label) : ExpertDtypeSetting{};
  // Without a layer count, MTP layers keep their names (and the engine's skip list applies).
  if (arch && arch->mtp && config) {
    std::vector<std::vector<std::string>> aliases(arch->aliases.begin(), arch->aliases.end());
    if (auto n = ConfigView(*config, aliases, arch->config_section).get(ConfigField::kNumLayers)) mtp_first_ = n->value;
  }
}

std::optional<std::string_view> Renamer::user(std::string_view name, std::string& buf) const {
  if (user_) {
    auto r = user_->apply(name);
    if (!r) return std::nullopt;
    buf = std::move(*r);
    name = buf;
  }
  if (arch_ && arch_->composite && !tower(name)) {
    auto r = arch_->composite->checkpoint_in.apply(name);
    if (!r) return std::nullopt;
    buf = std::move(*r);
    name = buf;
  }
  if (mtp_first_) {
    if (auto r = renumber(name, arch_->mtp->from, arch_->mtp->to, *mtp_first_)) {
      buf = std::move(*r);
      name = buf;
    }
  }
  return name;
}

const std::string* Renamer::tower(std::string_view name) const {
  if (!arch_ || !arch_->composite) return nullptr;
  for (const auto& [prefix, what] : arch_->composite->towers)
    if (name.starts_with(prefix)) return &what;
  return nullptr;
}

std::string Renamer::checkpoint_name(std::string_view name) const {
  if (mtp_first_ && name.starts_with(arch_->mtp->to)) {
    if (auto r = renumber(name, arch_->mtp->to, arch_->mtp->from, -*mtp_first_); r && layer_index(name) >= *mtp_first_) return *r;
  }
  if (arch_ && arch_->composite) {
    if (arch_->composite->own && arch_->composite->own->matches(name)) return std::string(name);
    for (const auto& [from, to] : arch_->composite->in_prefixes)
      if (name.starts_with(to)) return from + std::string(name.substr(to.size()));
  }
  return std::string(name);
}

std::optional<std::string_view> Renamer::engine(std::string_view name, std::string& buf) const {
  if (!arch_) return name;
  // An empty mapper maps every name to itself.
  if (!arch_->mapper.empty()) {
    auto mapped = arch_->mapper.apply(name);
    if (!mapped) return std::nullopt;
    buf = std::move(*mapped);
    name = buf;
  }
  if (!expert_dtype_) return name;
  std::string scaled = apply_dsv4_scale_rule(name, expert_dtype_->value);
  buf = std::move(scaled);
  return std::string_view(buf);
}

std::optional<std::string> Renamer::load_time(std::string_view name) const {
  std::optional<std::string> out(name);
  if (arch_ && !arch_->renames.empty()) out = arch_->renames.apply(name);
  if (out && mtp_first_ && layer_index(*out) >= *mtp_first_) out = arch_->mtp->renames.apply(*out);
  if (out && arch_ && arch_->composite) out = arch_->composite->engine_out.apply(*out);
  return out;
}

std::string Renamer::scale_name(std::string_view name) const {
  return expert_dtype_ ? apply_dsv4_scale_rule(name, expert_dtype_->value) : std::string(name);
}

void rename_planned(std::vector<PlannedTensor>& tensors, const Renamer& renamer, std::vector<std::string>& dropped,
                    const Checkpoint* in) {
  std::vector<PlannedTensor> kept;
  kept.reserve(tensors.size());
  std::map<std::string, std::string> seen;  // output name -> source
  std::string user_buf, engine_buf;
  for (auto& t : tensors) {
    auto u = renamer.user(t.out.name, user_buf);
    auto e = u ? renamer.engine(*u, engine_buf) : std::nullopt;
    auto name = e ? renamer.load_time(*e) : std::nullopt;
    if (!name) {
      dropped.push_back(t.source);
      continue;
    }
    if (name->empty() && t.source.empty()) {
      const TensorInfo* bad = in ? in->find("") : nullptr;
      throw Error(Errc::kTensorEntryInvalid, bad ? in->file_label(bad->file) : std::string(),
                  "holds a tensor with an empty name, which no engine parameter has: rename it with --rules or leave it out "
                  "with --exclude '^$'");
    }
    if (name->empty()) throw Error(Errc::kUsage, t.source, "renaming leaves an empty tensor name");
    auto [it, fresh] = seen.emplace(*name, t.source);
    if (!fresh)
      throw Error(Errc::kUsage, *name, "two tensors would get this name: '" + it->second + "' and '" + t.source + "'");
    t.out.name = std::move(*name);
    kept.push_back(std::move(t));
  }
  std::sort(kept.begin(), kept.end(), [](const PlannedTensor& a, const PlannedTensor& b) { return a.out.name < b.out.name; });
  tensors = std::move(kept);
}

}  // namespace moeckpt
