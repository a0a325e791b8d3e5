#include "mapping/mtp_select.h"

#include <algorithm>
#include <set>

#include "loader/error.h"
#include "mapping/config_view.h"
#include "mapping/name_template.h"
#include "mapping/renamer.h"

namespace moeckpt {
namespace {

bool mtp_prefixed(std::string_view n) {
  return n.starts_with("mtp.") || n.find(".mtp.") != std::string_view::npos || n.starts_with("mtp_") ||
         n.find(".mtp_") != std::string_view::npos;
}

// The main model's embedding and head: the tensors a draft shares with it.
bool shared_embedding(std::string_view n) { return layer_index(n) < 0 && n.ends_with("embed_tokens.weight"); }
bool shared_head(std::string_view n) { return n.starts_with("lm_head."); }

struct Split {
  std::vector<std::string> mtp, main;
  bool by_layer = false;  // some MTP tensor is one by its layer number (model.layers.N+)
  int64_t first_layer = -1;
  std::string layer_prefix;  // "model.layers.2" of the first such layer
};

Split split(const Architecture& arch, const Json* config, const std::vector<std::string>& names, std::string_view label) {
  std::optional<int64_t> num_layers;
  if (config) {
    std::vector<std::vector<std::string>> aliases(arch.aliases.begin(), arch.aliases.end());
    ConfigView view(*config, aliases, arch.config_section);
    if (auto v = view.get(ConfigField::kNumLayers)) num_layers = v->value;
  }
  const Renamer renamer(&arch, nullptr, config, label);
  Split s;
  for (const auto& n : names) {
    std::string b1, b2;
    auto user = renamer.user(n, b1);
    if (renamer.tower(n)) {  // a tower's own layers are not the language model's
      s.main.push_back(n);
      continue;
    }
    auto engine = user ? renamer.engine(*user, b2) : std::nullopt;
    const bool prefixed = mtp_prefixed(n) || (engine && mtp_prefixed(*engine));
    const int64_t layer = layer_index(user ? *user : std::string_view(n));
    const bool by_layer = !prefixed && num_layers && layer >= *num_layers;
    if (!prefixed && !by_layer) {
      s.main.push_back(n);
      continue;
    }
    s.mtp.push_back(n);
    if (by_layer && (s.first_layer < 0 || layer < s.first_layer)) {
      s.by_layer = true;
      s.first_layer = layer;
      const std::string key = "layers." + std::to_string(layer);
      s.layer_prefix = n.substr(0, n.find(key) + key.size());
    }
  }
  return s;
}

// Every MTP count key of the config (top level and the text sub-config) set to v; "k a -> b" per change.
std::vector<std::string> set_counts(Json& config, const std::string& section, int64_t v) {
  std::vector<std::string> changes;
  auto edit = [&](Json& obj, const std::string& where) {
    if (!obj.is_object()) return;
    for (const auto& k : mtp_count_keys()) {
      auto it = obj.find(k);
      if (it == obj.end() || *it == Json(v)) continue;
      changes.push_back(where + k + " " + it->dump() + " -> " + std::to_string(v));
      *it = v;
    }
  };
  edit(config, "");
  const std::string sec = section.empty() ? "text_config" : section;
  if (config.is_object() && config.contains(sec)) edit(config[sec], sec + ".");
  return changes;
}

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

void keep_draft(const Split& s, const std::vector<std::string>& names, Extraction& x) {
  const std::set<std::string, std::less<>> present(names.begin(), names.end());
  std::vector<std::string> supplied;
  // Where the draft's class reads the embedding and head: inside the first MTP layer
  // (DeepSeekMTP), or the main model's own names (Qwen3NextMTP).
  auto supply = [&](const std::string& from, const std::string& to) {
    if (present.count(to) || !present.count(from) || x.names.count(from)) return;
    x.names[from] = {to, ""};
    supplied.push_back(from + " as " + to);
  };
  if (s.by_layer) {
    for (const auto& n : s.main)
      if (shared_embedding(n)) supply(n, s.layer_prefix + ".embed_tokens.weight");
    supply("lm_head.weight", s.layer_prefix + ".shared_head.head.weight");
  }
  std::vector<std::string> shared, left;
  for (const auto& n : s.main) {
    if (x.names.count(n)) continue;
    if (!s.by_layer && (shared_embedding(n) || shared_head(n))) {
      shared.push_back(n);
      continue;
    }
    x.names[n] = {std::nullopt, "not an MTP layer"};
    left.push_back(n);
  }
  x.notes.push_back("--only-mtp: keeps " + name_sample(s.mtp) + " of the MTP layers" +
                    (shared.empty() ? "" : " and the embedding and head they share (" + joined(shared) + ")") + "; " +
                    name_sample(left) + " of the main model left out");
  if (!supplied.empty()) x.notes.push_back("--only-mtp: the MTP layer lacks its own embedding/head: writes " + joined(supplied));
}

}  // namespace

bool is_mtp_name(std::string_view name, std::optional<int64_t> num_layers) {
  return mtp_prefixed(name) || (num_layers && layer_index(name) >= *num_layers);
}

const std::vector<std::string>& mtp_count_keys() {
  static const std::vector<std::string> k = {"num_nextn_predict_layers", "mtp_num_hidden_layers", "num_mtp_layers"};
  return k;
}

Extraction select_mtp(MtpMode mode, const Architecture& arch, const Json* config, const std::vector<std::string>& names,
                      std::string_view label) {
  const char* flag = mode == MtpMode::kDrop ? "--drop-mtp" : "--only-mtp";
  Split s = split(arch, config, names, label);
  if (s.mtp.empty())
    throw Error(Errc::kUsage, std::string(label),
                std::string(flag) + ": none of the " + std::to_string(names.size()) + " tensors is an MTP layer's (mtp.*, or " +
                    arch.name + " decoder layers numbered from num_hidden_layers on): " +
                    (mode == MtpMode::kDrop ? "nothing to drop" : "no draft to keep"));
  Extraction x;
  x.config = config ? *config : Json::object();
  if (mode == MtpMode::kDrop) {
    for (const auto& n : s.mtp) x.names[n] = {std::nullopt, "an MTP layer"};
    auto changes = set_counts(x.config, arch.config_section, 0);
    x.notes.push_back("--drop-mtp: " + name_sample(s.mtp) + " of the MTP layers left out; config.json: " +
                      (changes.empty() ? std::string("no MTP layer count to change") : joined(changes)));
    return x;
  }
  keep_draft(s, names, x);
  x.notes.push_back(
      "--only-mtp: config.json unchanged: vLLM's MTP class finds its layers from num_hidden_layers and the MTP layer count; "
      "serve it as the draft: --speculative-config '{\"method\": \"mtp\", \"model\": \"OUT\", \"num_speculative_tokens\": 1}'");
  return x;
}

}  // namespace moeckpt
