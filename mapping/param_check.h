// The checkpoint against the parameter model (mapping/param_model.h), for the planner: every
// parameter the config implies is filled by a tensor of the right shape and dtype kind, and
// every tensor the planner mapped is one the engine allocates (or a scale of one).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "loader/tensor.h"
#include "mapping/config_view.h"
#include "mapping/param_model.h"

namespace moeckpt {

struct PlanEntry;
struct UnfilledEntry;

// A tensor against its parameter: E-PARAM-SHAPE, E-PARAM-DTYPE, W-PARAM-IGNORED, E-PARAM-UNEXPECTED.
struct ParamFinding {
  std::string code;
  std::string tensor;  // the checkpoint name
  std::string message;
};

struct ParamCheckInput {
  const ParamModel* model = nullptr;
  const ConfigView* config = nullptr;
  LayerPlan layers;
  std::string layers_key;  // the config key the layer count came from, for messages
  // The planner's mapped tensors: each entry with its name after the user's rules.
  const std::vector<PlanEntry>* entries = nullptr;
  const std::vector<std::string>* user_names = nullptr;  // parallel to entries
  std::function<const TensorInfo*(size_t entry)> tensor;
  // What the engine calls a parameter the model expects under this checkpoint-side name
  // (param, stacked shard), or nullopt when the engine skips that name.
  std::function<std::optional<std::pair<std::string, std::string>>(std::string_view name)> engine_name;
};

struct ParamCheckResult {
  size_t expected = 0;  // parameters the model implies (checkpoint-side names)
  std::vector<UnfilledEntry> unfilled;
  std::vector<std::string> unexpected;  // checkpoint names the engine has no parameter for
  std::vector<ParamFinding> findings;
  std::vector<std::string> notes;
};

ParamCheckResult check_params(const ParamCheckInput& in);

}  // namespace moeckpt
