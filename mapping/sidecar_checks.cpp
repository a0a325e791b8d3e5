#include "mapping/sidecar_checks.h"

#include <simdjson.h>

#include <algorithm>
#include <vector>

#include "loader/error.h"

namespace fs = std::filesystem;

namespace moeckpt {
namespace {

// Larger sidecars than this are not read (real tokenizer.json files are at most tens of MB).
constexpr uintmax_t kMaxSidecarBytes = uintmax_t{512} << 20;

// The file's text, or a finding saying why it cannot be had; nullopt and no finding when absent.
std::optional<std::string> read_sidecar(const fs::path& p, const char* invalid_code, Findings& f) {
  std::error_code ec;
  fs::file_status st = fs::status(p, ec);
  if (ec || !fs::exists(st)) return std::nullopt;
  if (!fs::is_regular_file(st)) {
    f.push_back(error(invalid_code, "is not a regular file; an engine cannot read it", p.string()));
    return std::nullopt;
  }
  if (fs::file_size(p, ec) > kMaxSidecarBytes) {
    f.push_back(error(invalid_code, "is larger than 512 MiB: not read", p.string()));
    return std::nullopt;
  }
  try {
    return read_text_file(p);
  } catch (const Error& e) {
    f.push_back(error(invalid_code, e.reason(), p.string()));
    return std::nullopt;
  }
}

struct TokenIds {
  std::string key;
  std::vector<int64_t> ids;
  bool malformed = false;
};

// bos/eos/pad/decoder_start ids of one JSON object: an integer, a list of integers or null.
std::vector<TokenIds> token_ids(const Json& j, const std::string& prefix) {
  std::vector<TokenIds> out;
  for (const char* key : {"bos_token_id", "eos_token_id", "pad_token_id", "decoder_start_token_id"}) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) continue;
    TokenIds t{prefix + key, {}, false};
    auto one = [&](const Json& v) {
      if (v.is_number_integer()) t.ids.push_back(v.get<int64_t>());
      else t.malformed = true;
    };
    if (it->is_array()) for (const auto& v : *it) one(v);
    else one(*it);
    out.push_back(std::move(t));
  }
  return out;
}

class SidecarChecker {
 public:
  explicit SidecarChecker(const SidecarInput& in) : in_(in) {
    if (in.embed_rows) limit_ = in.embed_rows, limit_what_ = "the " + std::to_string(*in.embed_rows) + " rows of " + in.embed_name;
    else if (in.vocab_size) limit_ = in.vocab_size, limit_what_ = "vocab_size " + std::to_string(*in.vocab_size);
  }

  // A sidecar's text through the reader, or from the directory.
  std::optional<std::string> read(const char* name, const char* invalid_code, Findings& f) const {
    if (!in_.reader) return read_sidecar(in_.dir / name, invalid_code, f);
    try {
      return in_.reader(name);
    } catch (const Error& e) {
      f.push_back(error(invalid_code, e.reason(), label(name)));
      return std::nullopt;
    }
  }
  std::string label(const char* name) const { return (in_.dir / name).string(); }

  Findings run() {
    if (in_.config) {
      check_ids(*in_.config, "", in_.config_label);
      for (const char* section : {"text_config", "language_config", "llm_config"})
        if (auto it = in_.config->find(section); it != in_.config->end() && it->is_object()) check_ids(*it, std::string(section) + ".", in_.config_label);
    }
    generation_config();
    tokenizer();
    tokenizer_config();
    return std::move(f_);
  }

 private:
  void check_ids(const Json& j, const std::string& prefix, const std::string& file) {
    for (const auto& t : token_ids(j, prefix)) {
      if (t.malformed) {
        f_.push_back(error("E-TOKEN-ID-RANGE", "'" + t.key + "' must be an integer or a list of integers", file));
        continue;
      }
      for (int64_t id : t.ids) {
        if (id < 0 && t.key.ends_with("pad_token_id")) continue;  // -1: "no padding", as some configs say
        if (id >= 0 && (!limit_ || id < *limit_)) continue;
        f_.push_back(error("E-TOKEN-ID-RANGE", "'" + t.key + "' is " + std::to_string(id) + ", outside " +
                                                   (id < 0 ? std::string("any vocabulary") : limit_what_) +
                                                   ": the engine would index past the embedding or never stop",
                           file));
        break;
      }
    }
  }

  void generation_config() {
    fs::path p = in_.dir / "generation_config.json";
    Findings local;
    auto text = read("generation_config.json", "E-GENCONFIG-INVALID", local);
    f_.insert(f_.end(), local.begin(), local.end());
    if (!text) {
      if (local.empty() && in_.config)
        f_.push_back(warning("W-GENCONFIG-MISSING",
                             "no generation_config.json beside config.json: engines then take eos and sampling defaults from "
                             "config.json alone, and generation may not stop where the model's authors meant",
                             in_.dir.string()));
      return;
    }
    try {
      Json g = parse_config(*text, p.string());
      check_ids(g, "", p.string());
    } catch (const Error& e) {
      f_.push_back(error("E-GENCONFIG-INVALID", e.reason(), p.string()));
    }
  }

  // The largest token id tokenizer.json defines (model.vocab and added_tokens), by simdjson:
  // these files run to tens of MB.
  void tokenizer() {
    fs::path p = in_.dir / "tokenizer.json";
    auto text = read("tokenizer.json", "E-TOKENIZER-INVALID", f_);
    if (!text) return;
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (auto err = parser.parse(*text).get(doc); err) {
      f_.push_back(error("E-TOKENIZER-INVALID", std::string("not JSON: ") + simdjson::error_message(err), p.string()));
      return;
    }
    int64_t max_id = -1;
    simdjson::dom::object vocab_map;
    simdjson::dom::array vocab_list;
    if (doc.at_pointer("/model/vocab").get(vocab_map) == simdjson::SUCCESS) {
      for (auto field : vocab_map) {
        int64_t id;
        if (field.value.get_int64().get(id) == simdjson::SUCCESS) max_id = std::max(max_id, id);
      }
    } else if (doc.at_pointer("/model/vocab").get(vocab_list) == simdjson::SUCCESS) {
      max_id = std::max<int64_t>(max_id, static_cast<int64_t>(vocab_list.size()) - 1);
    }
    simdjson::dom::array added;
    if (doc["added_tokens"].get(added) == simdjson::SUCCESS) {
      for (auto t : added) {
        int64_t id;
        if (t["id"].get_int64().get(id) == simdjson::SUCCESS) max_id = std::max(max_id, id);
      }
    }
    if (max_id < 0) {
      f_.push_back(error("E-TOKENIZER-INVALID", "defines no token ids (no model.vocab, no added_tokens)", p.string()));
      return;
    }
    if (limit_ && max_id >= *limit_)
      f_.push_back(error("E-TOKENIZER-VOCAB", "defines token id " + std::to_string(max_id) + ", outside " + limit_what_ +
                                                  ": text with that token indexes past the embedding",
                         p.string()));
  }

  void tokenizer_config() {
    fs::path p = in_.dir / "tokenizer_config.json";
    auto text = read("tokenizer_config.json", "E-TOKENIZER-INVALID", f_);
    if (!text) return;
    Json j;
    try {
      j = parse_config(*text, p.string());
    } catch (const Error& e) {
      f_.push_back(error("E-TOKENIZER-INVALID", e.reason(), p.string()));
      return;
    }
    auto t = j.find("chat_template");
    bool in_config = t != j.end() && (t->is_string() ? !t->get<std::string>().empty() : t->is_array() && !t->empty());
    std::error_code ec;
    bool file = in_.reader ? (in_.reader("chat_template.jinja") || in_.reader("chat_template.json"))
                           : fs::exists(in_.dir / "chat_template.jinja", ec) || fs::exists(in_.dir / "chat_template.json", ec);
    if (!in_config && !file)
      f_.push_back(warning("W-CHAT-TEMPLATE-MISSING",
                           "no chat template (tokenizer_config.json chat_template, chat_template.jinja or chat_template.json): "
                           "an engine's chat API refuses requests unless one is given",
                           p.string()));
  }

  const SidecarInput& in_;
  std::optional<int64_t> limit_;
  std::string limit_what_;
  Findings f_;
};

}  // namespace

Findings check_sidecars(const SidecarInput& in) { return SidecarChecker(in).run(); }

std::pair<std::optional<int64_t>, std::string> embedding_rows(std::span<const TensorInfo> tensors) {
  static constexpr std::string_view kNames[] = {"embed_tokens.weight", "wte.weight", "tok_embeddings.weight", "word_embeddings.weight",
                                                "embed.weight"};
  for (std::string_view n : kNames)
    for (const auto& t : tensors) {
      std::string_view name = t.name;
      if (!name.ends_with(n) || name.find("layers.") != std::string_view::npos || t.shape.size() != 2) continue;
      if (name.size() != n.size() && name[name.size() - n.size() - 1] != '.') continue;
      return {static_cast<int64_t>(t.shape[0]), t.name};
    }
  return {std::nullopt, ""};
}

}  // namespace moeckpt
