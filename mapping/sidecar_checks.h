// The files an engine reads beside the weights, checked against the config and the embedding:
// generation_config.json (present; token ids inside the vocabulary), tokenizer.json (parses;
// no token id past the embedding's rows) and tokenizer_config.json (parses; a chat template
// or not). Templates are parsed as strings only, never executed.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <utility>

#include "loader/config_file.h"
#include "loader/finding.h"
#include "loader/tensor.h"

namespace moeckpt {

struct SidecarInput {
  std::filesystem::path dir;  // the checkpoint directory
  const Json* config = nullptr;
  std::string config_label;            // "…/config.json"
  std::optional<int64_t> vocab_size;   // config.json's, from the text section of composite configs
  std::optional<int64_t> embed_rows;   // rows of the input embedding tensor, when there is one
  std::string embed_name;
  // Reads a sidecar by file name instead of the file system (a URL checkpoint): its text, or
  // nullopt when there is none; throws Error when it cannot be read. Files it is not asked to
  // serve count as absent.
  std::function<std::optional<std::string>(const std::string& name)> reader;
};

// The input embedding's rows and name, for the token-id checks: the first 2-D tensor named as an
// embedding is (embed_tokens, wte, tok_embeddings, word_embeddings, embed), outside the layers.
std::pair<std::optional<int64_t>, std::string> embedding_rows(std::span<const TensorInfo> tensors);

// Codes: W-GENCONFIG-MISSING, E-GENCONFIG-INVALID, E-TOKEN-ID-RANGE, E-TOKENIZER-INVALID,
// E-TOKENIZER-VOCAB, W-CHAT-TEMPLATE-MISSING (man/moeckpt-validate.1).
Findings check_sidecars(const SidecarInput& in);

}  // namespace moeckpt
