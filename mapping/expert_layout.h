// Expert layout conversion: which tensors of a checkpoint split into per-expert 2-D tensors, or
// fuse into transformers 5's 3-D tensors, and what the engine's loader reads. The facts are the
// registry's (ExpertSpec::convert, mapping/archs/README.md "Expert layouts"); the bytes are
// moved by loader/expert_slices. Planning reads names, shapes and dtypes only.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "loader/checkpoint.h"
#include "loader/expert_slices.h"
#include "loader/write_plan.h"
#include "mapping/arch_registry.h"

namespace moeckpt {

enum class ExpertTarget { kPerExpert, kFused, kEngine };
// "per-expert", "fused", "engine"; nullopt for anything else.
std::optional<ExpertTarget> parse_expert_target(std::string_view s);

// One output tensor of the new layout.
struct LayoutTensor {
  std::string name;
  DType dtype = DType::kBF16;
  std::vector<uint64_t> shape;
  enum class Kind { kKeep, kRename, kSplit, kFuse } kind = Kind::kKeep;
  // kKeep/kRename/kSplit: inputs[0][0] is the input. kFuse: inputs[part][expert].
  std::vector<std::vector<const TensorInfo*>> inputs;
  std::vector<ExpertPart> parts;  // kSplit: one; kFuse: one per inputs[part]
  uint64_t expert = 0;            // kSplit
  std::string what;               // "split gate_up_proj: expert 3, gate half", for --dry-run
};

struct ExpertLayoutPlan {
  std::vector<LayoutTensor> tensors;  // sorted by name; inputs not listed are not written
  size_t split = 0, fused = 0, renamed = 0;  // input tensors split, output tensors fused, renamed
  bool changed() const { return split || fused || renamed; }
};

// The plan for `tensors` (a checkpoint's, or what a filter left of it) in layout `target`.
// Throws Error naming the tensor when a fused tensor's shape disagrees with the config
// (expert count, odd gate_up, wrong rank), an expert is missing, a quantized expert's scales
// would have to move, or an output name already exists.
ExpertLayoutPlan plan_expert_layout(const Architecture& arch, const Json* config, std::span<const TensorInfo> tensors,
                                    ExpertTarget target, std::string_view label);

// The producer of one output tensor (a copy, split or fuse of the input's bytes).
std::shared_ptr<const TensorProducer> layout_producer(const Checkpoint& in, const LayoutTensor& t);

// Replaces convert's planned copies (named as in IN, source = input name) by the plan's
// outputs. A split or fused tensor is written when every input it reads is planned (a filter
// may have left some out); the inputs it consumed are not written.
void apply_expert_layout(const Checkpoint& in, const ExpertLayoutPlan& plan, std::vector<PlannedTensor>& tensors);

// Metadata-only view of the plan's outputs, for planning what the engine would see. The names
// view the plan's: keep the plan while the list is used.
std::vector<TensorInfo> layout_tensor_infos(const ExpertLayoutPlan& plan);

}  // namespace moeckpt
