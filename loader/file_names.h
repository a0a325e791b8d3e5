// Which file names are weights: the one naming rule that the checkpoint reader, convert's
// sidecar copy, the writer's clean-up and validate's orphan check share.
#pragma once

#include <string_view>

namespace moeckpt {

// model.safetensors, model-00001-of-00002.safetensors, ...
inline bool is_safetensors_name(std::string_view n) { return n.ends_with(".safetensors"); }
// pytorch_model.bin, consolidated.pt, model.pth, ...
inline bool is_torch_name(std::string_view n) { return n.ends_with(".bin") || n.ends_with(".pt") || n.ends_with(".pth"); }
// model.safetensors.index.json, pytorch_model.bin.index.json
inline bool is_index_name(std::string_view n) { return n.ends_with(".index.json"); }
// Anything convert writes or replaces as weights rather than copying beside them.
inline bool is_weight_file_name(std::string_view n) { return is_safetensors_name(n) || is_torch_name(n) || is_index_name(n); }

}  // namespace moeckpt
