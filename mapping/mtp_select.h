// convert --drop-mtp / --only-mtp: the multi-token-prediction (MTP) layers of a checkpoint left
// out, or kept alone as a draft model for speculative decoding.
//
// Which tensors are MTP is the planner's rule (map marks them "(MTP)"): an engine-side name
// (after the architecture's mapper) or a checkpoint name under "mtp." / ".mtp." or a module
// "mtp_*" (ERNIE 4.5's mtp_block, mtp_linear_proj), or a decoder layer numbered from the config's
// layer count on (DeepSeek V3, GLM-4.5: model.layers.N .. N+k-1, the registry's "mtp" layer set).
//
// The draft is what vLLM's MTP classes load: DeepSeekMTP / Glm4MoeMTP read model.layers.N+i.*
// only (embed_tokens and shared_head.head inside the layer), Qwen3NextMTP reads mtp.* and the
// main model's embed_tokens and lm_head. Its config.json is the model's unchanged: those classes
// find the MTP layers from num_hidden_layers and num_nextn_predict_layers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "loader/config_file.h"
#include "mapping/arch_registry.h"
#include "mapping/extraction.h"

namespace moeckpt {

enum class MtpMode { kDrop, kOnly };

// Whether a tensor name is an MTP layer's (num_layers: the config's decoder layer count).
bool is_mtp_name(std::string_view name, std::optional<int64_t> num_layers);

// Config keys that count MTP layers (num_nextn_predict_layers, mtp_num_hidden_layers,
// num_mtp_layers): --drop-mtp sets each present one to 0.
const std::vector<std::string>& mtp_count_keys();

// The selection over a checkpoint's names. Throws Error(kUsage) naming `label` when no tensor
// is an MTP layer's.
Extraction select_mtp(MtpMode mode, const Architecture& arch, const Json* config, const std::vector<std::string>& names,
                      std::string_view label);

}  // namespace moeckpt
