// The tensor ops and their producers, without the writer: what each input tensor becomes and
// the bytes each producer computes, checked against PyTorch's (testdata/fp8model: plain-torch
// dequant of the FineGrainedFP8 Qwen3-MoE model; transformers' own FP8 file), and config.json
// after each op.
#include "quant/tensor_ops.h"

#include <gtest/gtest.h>

#include <cstring>
#include <map>

#include "loader/error.h"
#include "quant/layouts.h"
#include "quant/producers.h"
#include "test_util.h"

namespace moeckpt::quant {
namespace {

std::string fixture(const char* rel) { return testing::testdata(rel).string(); }

// All rows of a producer, in slices of 3 rows (so slices that split tensors are exercised).
std::string produce_all(const TensorProducer& p) {
  std::string out(p.rows() * p.row_bytes(), '\0');
  for (uint64_t r = 0; r < p.rows(); r += 3) {
    uint64_t r1 = std::min(p.rows(), r + 3);
    p.produce(r, r1, std::span<std::byte>(reinterpret_cast<std::byte*>(out.data()) + r * p.row_bytes(), (r1 - r) * p.row_bytes()));
  }
  return out;
}

std::string bytes_of(const Checkpoint& ck, const std::string& name) {
  const TensorInfo* t = ck.find(name);
  if (!t) throw std::runtime_error("no tensor " + name);
  TensorBytes b = ck.bytes(*t);
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

std::map<std::string, const PlannedTensor*> by_name(const OpsResult& r) {
  std::map<std::string, const PlannedTensor*> m;
  for (const auto& t : r.tensors) m[t.out.name] = &t;
  return m;
}

TEST(TensorOps, DequantFoldsScalesAndMatchesPlainTorchBitForBit) {
  Checkpoint fp8 = Checkpoint::open(fixture("fp8model/qwen3_moe_aligned_fp8"));
  Checkpoint ref = Checkpoint::open(fixture("fp8model/qwen3_moe_aligned_fp8.dequant_torch.safetensors"));
  TensorOps ops;
  ops.dequant = DType::kBF16;
  OpsResult r = plan_tensor_ops(fp8, ops);
  auto out = by_name(r);
  size_t dequantized = 0;
  for (const auto& t : fp8.tensors()) {
    if (t.name.ends_with("weight_scale_inv")) {
      EXPECT_FALSE(out.count(t.name)) << "scale written: " << t.name;
      EXPECT_NE(std::find(r.consumed.begin(), r.consumed.end(), t.name), r.consumed.end()) << t.name;
      continue;
    }
    ASSERT_TRUE(out.count(t.name)) << t.name;
    const PlannedTensor& p = *out[t.name];
    EXPECT_EQ(p.out.dtype, t.dtype == DType::kF8_E4M3 ? DType::kBF16 : t.dtype) << t.name;
    EXPECT_EQ(p.out.shape, t.shape);
    EXPECT_EQ(p.producer->rows() * p.producer->row_bytes(), p.out.nbytes) << t.name;
    if (t.dtype == DType::kF8_E4M3) {
      EXPECT_EQ(p.producer->describe(), "dequant fp8-block -> BF16");
      ++dequantized;
    } else {
      EXPECT_EQ(p.producer->describe(), "copy");
      EXPECT_EQ(p.producer->plain_copy(), &t);
    }
    EXPECT_EQ(produce_all(*p.producer), bytes_of(ref, t.name)) << t.name;
  }
  EXPECT_EQ(dequantized, 23u);
}

TEST(TensorOps, QuantizeTorchsDequantReproducesTransformersFp8File) {
  Checkpoint bf16 = Checkpoint::open(fixture("fp8model/qwen3_moe_aligned_fp8.dequant_torch.safetensors"));
  Checkpoint fp8 = Checkpoint::open(fixture("fp8model/qwen3_moe_aligned_fp8"));
  TensorOps ops;
  ops.quantize = QuantizeTarget::kFp8Block;
  OpsResult r = plan_tensor_ops(bf16, ops);
  ASSERT_EQ(r.tensors.size(), fp8.tensors().size());
  for (const auto& p : r.tensors) {
    const TensorInfo* want = fp8.find(p.out.name);
    ASSERT_TRUE(want) << p.out.name;
    EXPECT_EQ(p.out.dtype, want->dtype) << p.out.name;
    EXPECT_EQ(p.out.shape, want->shape) << p.out.name;
    EXPECT_EQ(p.out.nbytes, want->nbytes) << p.out.name;
    EXPECT_EQ(produce_all(*p.producer), bytes_of(fp8, p.out.name)) << p.out.name;
  }
}

TEST(TensorOps, Mxfp4QuantizeLayoutFollowsTheTable) {
  Checkpoint bf16 = Checkpoint::open(fixture("fp8model/qwen3_moe_aligned_bf16"));
  TensorOps ops;
  ops.quantize = QuantizeTarget::kMxfp4;
  OpsResult r = plan_tensor_ops(bf16, ops);
  auto out = by_name(r);
  const QuantizeLayout& l = quantize_layout(QuantizeTarget::kMxfp4);
  size_t quantized = 0;
  for (const auto& t : bf16.tensors()) {
    if (!should_quantize(t.name, t.dtype, t.shape, QuantizeTarget::kMxfp4)) continue;
    ++quantized;
    const PlannedTensor& codes = *out.at(t.name);
    const PlannedTensor& scales = *out.at(t.name.substr(0, t.name.size() - 6) + "scale");
    std::vector<uint64_t> cs = t.shape, ss = t.shape;
    cs.back() /= 2;
    ss.back() /= 32;
    EXPECT_EQ(codes.out.dtype, DType::kU8);
    EXPECT_EQ(codes.out.shape, cs) << t.name;
    EXPECT_EQ(scales.out.dtype, l.scale_dtype);
    EXPECT_EQ(scales.out.shape, ss) << t.name;
    EXPECT_EQ(codes.producer->rows() * codes.producer->row_bytes(), codes.out.nbytes);
    EXPECT_EQ(scales.producer->rows() * scales.producer->row_bytes(), scales.out.nbytes);
  }
  EXPECT_GT(quantized, 0u);
}

TEST(TensorOps, CastBf16ToF32IsTheBf16BitsWidened) {
  Checkpoint bf16 = Checkpoint::open(fixture("fp8model/qwen3_moe_aligned_bf16"));
  TensorOps ops;
  ops.cast = DType::kF32;
  OpsResult r = plan_tensor_ops(bf16, ops);
  const TensorInfo& t = bf16.tensors().front();
  ASSERT_EQ(t.dtype, DType::kBF16);
  const PlannedTensor& p = *by_name(r).at(t.name);
  EXPECT_EQ(p.out.dtype, DType::kF32);
  std::string in = bytes_of(bf16, t.name), want(in.size() * 2, '\0');
  for (size_t i = 0; i < in.size() / 2; ++i) {
    uint32_t bits = static_cast<uint32_t>(static_cast<uint8_t>(in[2 * i]) | static_cast<uint8_t>(in[2 * i + 1]) << 8) << 16;
    std::memcpy(&want[4 * i], &bits, 4);
  }
  EXPECT_EQ(produce_all(*p.producer), want);
}

TEST(TensorOps, CastAndQuantizeRefuseQuantizedInput) {
  Checkpoint fp8 = Checkpoint::open(fixture("fp8model/qwen3_moe_aligned_fp8"));
  for (int op = 0; op < 2; ++op) {
    TensorOps ops;
    if (op == 0) ops.cast = DType::kF16;
    else ops.quantize = QuantizeTarget::kFp8Block;
    try {
      plan_tensor_ops(fp8, ops);
      ADD_FAILURE() << op;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::kUsage);
    }
  }
}

TEST(ConfigAfter, EachOpLeavesAConfigThatMatchesItsTensors) {
  const Json in = {{"model_type", "deepseek_v4"},
                   {"torch_dtype", "bfloat16"},
                   {"expert_dtype", "fp4"},
                   {"quantization_config", {{"quant_method", "fp8"}}},
                   {"text_config", {{"quantization_config", 1}, {"hidden_size", 8}}}};
  TensorOps deq;
  deq.dequant = DType::kF16;
  Json d = config_after(in, deq);
  EXPECT_FALSE(d.contains("quantization_config"));
  EXPECT_FALSE(d["text_config"].contains("quantization_config"));
  EXPECT_FALSE(d.contains("expert_dtype"));
  EXPECT_EQ(d["torch_dtype"], "float16");
  TensorOps q;
  q.quantize = QuantizeTarget::kFp8Block;
  Json f = config_after(Json{{"model_type", "x"}, {"expert_dtype", "fp4"}}, q);
  EXPECT_EQ(f["quantization_config"], Json::parse(R"({"quant_method":"fp8","fmt":"e4m3","activation_scheme":"dynamic","weight_block_size":[128,128]})"));
  EXPECT_EQ(f["expert_dtype"], "fp8");
  q.quantize = QuantizeTarget::kMxfp4;
  EXPECT_EQ(config_after(Json{{"expert_dtype", "fp8"}}, q)["expert_dtype"], "fp4");
  TensorOps c;
  c.cast = DType::kF32;
  Json cc = config_after(Json{{"dtype", "bfloat16"}}, c);
  EXPECT_EQ(cc["dtype"], "float32");
  EXPECT_FALSE(cc.contains("torch_dtype"));
  EXPECT_EQ(config_after(Json::object(), c)["torch_dtype"], "float32");
  c.cast = DType::kF8_E4M3;  // a raw FP8 cast names no float dtype
  EXPECT_EQ(config_after(Json{{"torch_dtype", "bfloat16"}}, c)["torch_dtype"], "bfloat16");
}

TEST(Layouts, EverySchemeAndTargetHasOneRow) {
  for (Scheme s : {Scheme::kBlockFp8, Scheme::kPerTensorFp8, Scheme::kPerChannelFp8, Scheme::kMxfp4Packed, Scheme::kMxfp4GptOss,
                   Scheme::kNvfp4, Scheme::kNvfp4Ct, Scheme::kIntPacked, Scheme::kGptq, Scheme::kAwq})
    EXPECT_EQ(scheme_layout(s).scheme, s);
  for (QuantizeTarget t : {QuantizeTarget::kFp8Block, QuantizeTarget::kMxfp4, QuantizeTarget::kFp8Tensor, QuantizeTarget::kFp8Channel,
                           QuantizeTarget::kNvfp4})
    EXPECT_EQ(quantize_layout(t).target, t);
  EXPECT_EQ(std::size(kSchemeLayouts), 10u);
  EXPECT_EQ(std::size(kQuantizeLayouts), 5u);
}

}  // namespace
}  // namespace moeckpt::quant
