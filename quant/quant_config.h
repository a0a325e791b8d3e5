// What a checkpoint's configuration says about its quantization: config.json's
// quantization_config (compressed-tensors also calls it compression_config) or, for ModelOpt
// exports without one, hf_quant_config.json beside it. Read once into one shape for every
// method, so that scheme detection, validate, and inspect ask the same questions: which bits
// and group size a module's weights have, whether its activations are static, whether it is
// ignored. Facts: moeckpt-formats(7), QUANTIZATION CONFIG.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "loader/checkpoint.h"

namespace moeckpt::quant {

enum class QuantMethod : uint8_t { kNone, kFp8, kMxfp4, kCompressedTensors, kModelopt, kGptq, kAwq, kOther };

struct WeightArgs {
  unsigned bits = 0;       // 0: not said
  std::string type;        // "int" or "float" (compressed-tensors); "" otherwise
  std::string strategy;    // "tensor", "channel", "group", "tensor_group", "block" ...
  uint64_t group_size = 0; // 0: none (per tensor or per channel)
  bool symmetric = true;
  bool actorder = false;   // activation order: GPTQ desc_act, compressed-tensors actorder "group"
  uint64_t block_rows = 0, block_cols = 0;  // strategy "block": block_structure
};

struct QuantGroup {
  std::string name;                  // config_groups key ("group_0"), or the method
  std::vector<std::string> targets;  // module names, "re:" patterns or class names ("Linear")
  WeightArgs weights;
  bool static_inputs = false;        // activation scales are stored (input_scale, input_global_scale)
};

struct QuantConfig {
  QuantMethod method = QuantMethod::kNone;
  std::string method_name;  // quant_method as written
  std::string file;         // the file it came from (config.json or hf_quant_config.json)
  std::string format;       // compressed-tensors format, ModelOpt quant_algo
  std::vector<QuantGroup> groups;
  std::vector<std::string> ignore;  // ignore / exclude_modules / modules_to_not_convert
  std::vector<std::string> problems;  // fields of the wrong type, said once each

  bool present() const { return method != QuantMethod::kNone; }
  // Whether the module (a tensor name without its last component) is left unquantized.
  bool ignored(std::string_view module) const;
  // The group whose targets match the module (first in order), null when none does.
  const QuantGroup* group_for(std::string_view module) const;
};

QuantConfig read_quant_config(const Checkpoint& ck);
// The same from a document alone (tests, and a checkpoint without a directory).
QuantConfig parse_quant_config(const Json& section, std::string file);

}  // namespace moeckpt::quant
