// A safetensors file built from (name, dtype, shape) triples with zeroed data: the checkpoints
// the validate tests need, written in a line each.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "test_util.h"

namespace moeckpt::testing {

struct StTensor {
  std::string name;
  std::string dtype = "BF16";
  std::vector<uint64_t> shape;
};

inline size_t st_dtype_bits(const std::string& d) {
  if (d == "F32" || d == "I32") return 32;
  if (d == "BF16" || d == "F16") return 16;
  if (d == "I64") return 64;
  if (d == "F4") return 4;
  return 8;
}

inline std::string st_file(const std::vector<StTensor>& ts) {
  nlohmann::json h = nlohmann::json::object();
  size_t off = 0;
  for (const auto& t : ts) {
    size_t n = st_dtype_bits(t.dtype);
    for (auto d : t.shape) n *= d;
    n /= 8;
    h[t.name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {off, off + n}}};
    off += n;
  }
  return safetensors_bytes(h.dump(), std::string(off, '\0'));
}

// A complete Qwen3-MoE checkpoint's tensors (every parameter vLLM's Qwen3MoeForCausalLM
// allocates, as transformers' Qwen3MoeForCausalLM names them) and its config: hidden 8, 2 heads
// of 4 and 1 KV head, vocab 16, experts 4 wide, untied lm_head.
inline std::vector<StTensor> qwen3_moe_tensors(int layers, int experts) {
  std::vector<StTensor> ts = {{"model.embed_tokens.weight", "BF16", {16, 8}}, {"model.norm.weight", "BF16", {8}},
                              {"lm_head.weight", "BF16", {16, 8}}};
  for (int l = 0; l < layers; ++l) {
    std::string p = "model.layers." + std::to_string(l) + ".";
    for (const char* n : {"input_layernorm", "post_attention_layernorm"}) ts.push_back({p + n + ".weight", "BF16", {8}});
    ts.push_back({p + "self_attn.q_proj.weight", "BF16", {8, 8}});
    ts.push_back({p + "self_attn.k_proj.weight", "BF16", {4, 8}});
    ts.push_back({p + "self_attn.v_proj.weight", "BF16", {4, 8}});
    ts.push_back({p + "self_attn.o_proj.weight", "BF16", {8, 8}});
    ts.push_back({p + "self_attn.q_norm.weight", "BF16", {4}});
    ts.push_back({p + "self_attn.k_norm.weight", "BF16", {4}});
    ts.push_back({p + "mlp.gate.weight", "BF16", {static_cast<uint64_t>(experts), 8}});
    for (int e = 0; e < experts; ++e)
      for (std::string proj : {"gate_proj", "up_proj", "down_proj"})
        ts.push_back({p + "mlp.experts." + std::to_string(e) + "." + proj + ".weight", "BF16",
                      proj == "down_proj" ? std::vector<uint64_t>{8, 4} : std::vector<uint64_t>{4, 8}});
  }
  return ts;
}
inline nlohmann::json qwen3_moe_config(int layers, int experts) {
  return {{"architectures", {"Qwen3MoeForCausalLM"}}, {"hidden_size", 8}, {"moe_intermediate_size", 4},
          {"intermediate_size", 12}, {"num_hidden_layers", layers}, {"num_experts", experts}, {"num_experts_per_tok", 1},
          {"num_attention_heads", 2}, {"num_key_value_heads", 1}, {"head_dim", 4}, {"vocab_size", 16},
          {"tie_word_embeddings", false}, {"mlp_only_layers", nlohmann::json::array()}, {"decoder_sparse_step", 1}};
}

}  // namespace moeckpt::testing
