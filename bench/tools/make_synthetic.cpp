// Synthetic checkpoints for the benchmarks, written with moeckpt's own writer.
//
//   make_synthetic dsv3-headers OUT [--shards 160]
//       DeepSeek-V3-shaped names (61 layers, first 3 dense, 256 routed experts, block-FP8 weights
//       with weight_scale_inv, an MTP layer): ~90k tensors and ~10 MB of headers over 160
//       shards, with tiny shapes so the data stays small. For inspect/validate speed.
//   make_synthetic fp8 OUT [--bytes 1GB] [--rows 7168] [--cols 2048] [--shards 4]
//       Block-FP8 weights (F8_E4M3 [rows, cols] + F32 weight_scale_inv [rows/128, cols/128])
//       totalling about --bytes, random finite values. For convert --dequant bf16 speed.
//   make_synthetic int4 OUT [--bytes 1GB] [--rows 7168] [--cols 2048] [--shards 4]
//       compressed-tensors pack-quantized W4A16 (group 128, symmetric): I32 weight_packed
//       [rows, cols/8], F16 weight_scale [rows, cols/128], I64 weight_shape; random codes.
#include <fmt/format.h>

#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "loader/config_file.h"
#include "loader/output_file.h"
#include "loader/safetensors_writer.h"

using namespace moeckpt;

namespace {

struct Tensor {
  WriterTensor w;
  int kind;  // 0 fp8 weight, 1 f32 scale, 2 bf16, 3 random bytes, 4 f16 scale, 5 I64 pair `shape`
  std::vector<uint64_t> shape = {};
};

uint64_t parse_bytes(const std::string& s) {
  double v = std::stod(s);
  if (s.find("GB") != std::string::npos) v *= 1e9;
  else if (s.find("MB") != std::string::npos) v *= 1e6;
  return static_cast<uint64_t>(v);
}

void write_shards(const std::string& out, std::vector<Tensor>& ts, int shards, bool random_data) {
  std::mt19937_64 rng(1);
  size_t per = (ts.size() + static_cast<size_t>(shards) - 1) / static_cast<size_t>(shards);
  Json wm = Json::object();
  uint64_t total = 0;
  std::vector<std::byte> buf;
  for (int s = 0; s < shards; ++s) {
    size_t b = static_cast<size_t>(s) * per, e = std::min(ts.size(), b + per);
    if (b >= e) break;
    std::string name = fmt::format("model-{:05d}-of-{:05d}.safetensors", s + 1, shards);
    std::vector<WriterTensor> w;
    for (size_t i = b; i < e; ++i) w.push_back(ts[i].w);
    auto l = layout_safetensors(w, {{"format", "pt"}});
    OutputFile f(out, name, l.file_size);
    f.pwrite_all(l.head, 0);
    for (size_t i = b; i < e; ++i) {
      const Tensor& t = ts[i];
      buf.resize(t.w.nbytes);
      if (random_data) {
        if (t.kind == 0) {
          for (auto& x : buf) x = static_cast<std::byte>(rng() & 0xF7);  // no 0x7F/0xFF NaN codes
        } else if (t.kind == 1) {
          for (size_t k = 0; k + 4 <= buf.size(); k += 4) {
            float v = 1e-4f + static_cast<float>(rng() % 1000) * 1e-6f;
            std::memcpy(buf.data() + k, &v, 4);
          }
        } else if (t.kind == 3) {
          for (auto& x : buf) x = static_cast<std::byte>(rng());
        } else if (t.kind == 4) {
          for (size_t k = 0; k + 2 <= buf.size(); k += 2) {
            uint16_t v = static_cast<uint16_t>(0x1400 | (rng() & 0x03ff));  // about 1e-3
            std::memcpy(buf.data() + k, &v, 2);
          }
        } else if (t.kind == 5) {
          std::memcpy(buf.data(), t.shape.data(), 16);
        } else {
          for (size_t k = 0; k + 2 <= buf.size(); k += 2) {
            uint16_t v = static_cast<uint16_t>(0x3c00 | (rng() & 0x03ff));
            std::memcpy(buf.data() + k, &v, 2);
          }
        }
      } else {
        std::memset(buf.data(), 0x38, buf.size());
      }
      f.pwrite_all(buf, l.offsets[i - b]);
      wm[t.w.name] = name;
      total += t.w.nbytes;
    }
    f.commit();
  }
  Json idx = {{"metadata", {{"total_size", total}}}, {"weight_map", wm}};
  write_file_atomic(out, "model.safetensors.index.json", idx.dump(2));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: make_synthetic dsv3-headers|fp8|int4 OUT [options]\n");
    return 2;
  }
  std::string mode = argv[1], out = argv[2];
  int shards = mode == "dsv3-headers" ? 160 : 4;
  uint64_t bytes = 1'000'000'000, rows = 7168, cols = 2048;
  for (int i = 3; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--shards") shards = std::stoi(v);
    else if (k == "--bytes") bytes = parse_bytes(v);
    else if (k == "--rows") rows = std::stoull(v);
    else if (k == "--cols") cols = std::stoull(v);
  }
  std::filesystem::create_directories(out);
  std::vector<Tensor> ts;
  auto add = [&](std::string name, DType d, std::vector<uint64_t> shape, int kind) {
    uint64_t n = 1;
    for (auto x : shape) n *= x;
    ts.push_back({{std::move(name), d, std::move(shape), n * static_cast<uint64_t>(dtype_bits(d) / 8)}, kind});
  };
  Json config;
  if (mode == "dsv3-headers") {
    const int layers = 61, experts = 256;
    auto linear = [&](const std::string& p) {
      add(p + ".weight", DType::kF8_E4M3, {1, 16}, 0);
      add(p + ".weight_scale_inv", DType::kF32, {1, 1}, 1);
    };
    add("model.embed_tokens.weight", DType::kBF16, {1, 8}, 2);
    add("model.norm.weight", DType::kBF16, {8}, 2);
    add("lm_head.weight", DType::kBF16, {1, 8}, 2);
    for (int l = 0; l <= layers; ++l) {  // layer 61 is the MTP layer
      std::string p = fmt::format("model.layers.{}", l);
      add(p + ".input_layernorm.weight", DType::kBF16, {8}, 2);
      add(p + ".post_attention_layernorm.weight", DType::kBF16, {8}, 2);
      for (const char* a : {"q_a_proj", "q_b_proj", "kv_a_proj_with_mqa", "kv_b_proj", "o_proj"}) linear(p + ".self_attn." + a);
      add(p + ".self_attn.q_a_layernorm.weight", DType::kBF16, {8}, 2);
      add(p + ".self_attn.kv_a_layernorm.weight", DType::kBF16, {8}, 2);
      if (l < 3) {
        for (const char* m : {"gate_proj", "up_proj", "down_proj"}) linear(p + ".mlp." + m);
        continue;
      }
      add(p + ".mlp.gate.weight", DType::kBF16, {1, 8}, 2);
      add(p + ".mlp.gate.e_score_correction_bias", DType::kF32, {2}, 1);
      for (const char* m : {"gate_proj", "up_proj", "down_proj"}) linear(p + ".mlp.shared_experts." + m);
      for (int e = 0; e < experts; ++e)
        for (const char* m : {"gate_proj", "up_proj", "down_proj"}) linear(fmt::format("{}.mlp.experts.{}.{}", p, e, m));
      if (l == layers) {
        for (const char* x : {"enorm", "hnorm", "shared_head.norm"}) add(p + "." + x + ".weight", DType::kBF16, {8}, 2);
        add(p + ".eh_proj.weight", DType::kBF16, {1, 8}, 2);
        add(p + ".embed_tokens.weight", DType::kBF16, {1, 8}, 2);
        add(p + ".shared_head.head.weight", DType::kBF16, {1, 8}, 2);
      }
    }
    config = {{"architectures", {"DeepseekV3ForCausalLM"}}, {"model_type", "deepseek_v3"}, {"hidden_size", 7168},
              {"moe_intermediate_size", 2048}, {"intermediate_size", 18432}, {"num_hidden_layers", layers},
              {"num_attention_heads", 128}, {"num_key_value_heads", 128}, {"n_routed_experts", experts},
              {"n_shared_experts", 1}, {"num_experts_per_tok", 8}, {"first_k_dense_replace", 3}, {"moe_layer_freq", 1},
              {"num_nextn_predict_layers", 1}, {"q_lora_rank", 1536}, {"kv_lora_rank", 512},
              {"quantization_config", {{"quant_method", "fp8"}, {"fmt", "e4m3"}, {"activation_scheme", "dynamic"}, {"weight_block_size", {128, 128}}}}};
    std::sort(ts.begin(), ts.end(), [](const Tensor& a, const Tensor& b) { return a.w.name < b.w.name; });
    write_shards(out, ts, shards, false);
  } else if (mode == "fp8") {
    uint64_t per = rows * cols;
    uint64_t n = std::max<uint64_t>(1, bytes / per);
    for (uint64_t i = 0; i < n; ++i) {
      std::string p = fmt::format("model.layers.{}.mlp.experts.{}.down_proj", i / 64, i % 64);
      add(p + ".weight", DType::kF8_E4M3, {rows, cols}, 0);
      add(p + ".weight_scale_inv", DType::kF32, {(rows + 127) / 128, (cols + 127) / 128}, 1);
    }
    config = {{"model_type", "synthetic"},
              {"quantization_config", {{"quant_method", "fp8"}, {"fmt", "e4m3"}, {"activation_scheme", "dynamic"}, {"weight_block_size", {128, 128}}}}};
    std::sort(ts.begin(), ts.end(), [](const Tensor& a, const Tensor& b) { return a.w.name < b.w.name; });
    write_shards(out, ts, shards, true);
  } else if (mode == "int4") {
    const uint64_t n = std::max<uint64_t>(1, bytes / (rows * cols / 2));
    for (uint64_t i = 0; i < n; ++i) {
      std::string p = fmt::format("model.layers.{}.mlp.experts.{}.down_proj", i / 64, i % 64);
      add(p + ".weight_packed", DType::kI32, {rows, cols / 8}, 3);
      add(p + ".weight_scale", DType::kF16, {rows, cols / 128}, 4);
      add(p + ".weight_shape", DType::kI64, {2}, 5);
      ts.back().shape = {rows, cols};
    }
    const Json weights = {{"num_bits", 4}, {"type", "int"}, {"symmetric", true}, {"strategy", "group"}, {"group_size", 128}, {"dynamic", false}};
    config = {{"model_type", "synthetic"},
              {"quantization_config",
               {{"quant_method", "compressed-tensors"}, {"format", "pack-quantized"}, {"quantization_status", "compressed"},
                {"config_groups", {{"group_0", {{"targets", {"Linear"}}, {"weights", weights}}}}}}}};
    std::sort(ts.begin(), ts.end(), [](const Tensor& a, const Tensor& b) { return a.w.name < b.w.name; });
    write_shards(out, ts, shards, true);
  } else {
    std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
    return 2;
  }
  write_file_atomic(out, "config.json", config.dump(2));
  std::printf("%zu tensors in %s\n", ts.size(), out.c_str());
  return 0;
}
