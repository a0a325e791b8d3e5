// Tensor-name templates of the architecture registry, compiled to RE2 patterns.
//   {L}       a layer index (captured as group "L")
//   {E}       an expert index (captured as group "E")
//   {N}       any other index
//   {*}       one name segment (no dots)
//   {a,b,c}   one of the alternatives, each literal
// Everything else is literal. "model.layers.{L}.self_attn.{q,k,v}_proj.weight" matches
// "model.layers.12.self_attn.k_proj.weight" with L = 12.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace moeckpt {

// The anchored RE2 pattern for a template. Throws Error(kRulesInvalid) on a malformed one
// (unbalanced braces, empty alternatives, {L} twice), naming origin.
std::string template_to_regex(std::string_view tmpl, std::string_view origin);
// Substitutes {L} with layer and {E} with expert (when >= 0) in a template without
// alternations; used to name what a missing tensor would be called.
std::string expand_template(std::string_view tmpl, long long layer, long long expert = -1);
// The layer index of a name: the number after its first "layers." segment ("model.layers.12.x"
// -> 12), or -1 when it has none.
int64_t layer_index(std::string_view name);

// The number after the first "layers." segment of a name ("model.layers.12.mlp" -> 12), or -1.
int64_t layer_index(std::string_view name);

}  // namespace moeckpt
