// The parameter model: from config.json, every tensor an engine allocates for a checkpoint of
// an architecture, with its shape and the kind of dtype it may have, so that map and validate
// can say what is missing, misshapen or unexpected, not only for the routed experts.
//
// Registry data (mapping/archs/README.md, "Parameter model"): an entry's "params" lists
// checkpoint-side templates, each with a shape of expressions over the config
// (mapping/param_expr.h), a condition and the layers it occurs in; "use" takes a shared block
// of mapping/archs/_blocks.json with a prefix P. Routed experts stay with the entry's
// "experts" (mapping/planner.h checks them); the model covers everything else.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "loader/config_file.h"
#include "mapping/config_view.h"
#include "mapping/param_expr.h"

namespace moeckpt {

// Which dtypes a parameter may have in a checkpoint.
enum class ParamKind : uint8_t {
  kTensor,  // a float tensor the engine allocates unquantized (norms, embeddings, biases, routers)
  kLinear,  // a linear layer's weight: float, or quantized with its scheme's companions
  kAny,     // anything (integer buffers, ...)
};

// The layer sets a spec occurs in (bits). None: a model-wide tensor (no {L}).
enum LayerSet : uint8_t {
  kLayersNone = 0,
  kLayersDecoder = 1,  // 0 .. num_layers-1
  kLayersMoe = 2,      // the decoder layers that hold routed experts (the entry's moe_layers)
  kLayersDense = 4,    // the other decoder layers
  kLayersMtp = 8,      // num_layers .. num_layers + mtp_layers - 1 (multi-token prediction)
};

using ExprVars = std::vector<std::pair<std::string, Expr>>;

struct ParamSpec {
  std::string name;  // checkpoint-side template: {L}, {a,b} alternatives
  std::vector<Expr> shape;  // empty: shape not checked
  std::vector<Expr> when;   // all must hold
  std::optional<Expr> ignored;  // when true, the engine does not load the tensor...
  std::string ignored_why;      // ...for this reason (a warning if the tensor is present)
  uint8_t layers = kLayersNone;
  ParamKind kind = ParamKind::kTensor;
  bool optional = false;  // may be absent (the engine initialises it itself)
  std::shared_ptr<const ExprVars> vars;  // the "use" item's own variables
  std::string origin;  // "params[3]" or "params[3] (block gated_mlp)", for registry errors
};

struct ParamModel {
  std::vector<ParamSpec> specs;
  ExprVars vars;  // the entry's, then _blocks.json's (first match wins)
  bool empty() const { return specs.empty(); }
};

// The shared blocks (mapping/archs/_blocks.json): {"vars": {...}, "blocks": {name: [spec...]}}.
struct ParamBlocks {
  std::vector<std::pair<std::string, Json>> blocks;
  ExprVars vars;
};
// Throws std::invalid_argument saying what is malformed.
ParamBlocks parse_param_blocks(const Json& j);
// An entry's "params" and "param_vars". Throws std::invalid_argument naming the item.
ParamModel parse_param_model(const Json& params, const Json& vars, const ParamBlocks& blocks);

// The layers the config gives, as the planner resolved them.
struct LayerPlan {
  int64_t num_layers = 0;
  std::vector<int64_t> moe_layers;  // sorted
};

struct ExpectedTensor {
  std::string name;
  std::vector<std::optional<int64_t>> shape;  // per dimension; nullopt: not known from the config
  std::vector<std::string> dims;              // the expressions, for messages
  ParamKind kind = ParamKind::kTensor;
  int64_t layer = -1;
  bool mtp = false;
  bool optional = false;
  bool ignored = false;
  std::string ignored_why;
};

struct ExpectedSet {
  std::vector<ExpectedTensor> tensors;
  int64_t mtp_layers = 0;  // the model's mtp_layers variable (0 when it has none)
};

// Every tensor the model implies for this config. Names the config does not define leave
// shape dimensions unknown and conditions false.
ExpectedSet expand_params(const ParamModel& model, const ConfigView& config, const LayerPlan& layers);

// Evaluates one expression against the model's variables and the config (tests, messages).
ExprValue eval_param_expr(const Expr& e, const ParamModel& model, const ConfigView& config,
                          const ExprVars* local = nullptr, int64_t layer = -1);

// "{a,b}x{c,d}" -> ax c, ax d, bx c, bx d (at most 4096 names). Placeholders {L} stay.
std::vector<std::string> expand_alternatives(const std::string& tmpl);

}  // namespace moeckpt
