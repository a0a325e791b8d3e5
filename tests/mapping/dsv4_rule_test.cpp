#include "mapping/dsv4_rule.h"

#include <gtest/gtest.h>

#include "loader/error.h"

namespace moeckpt {
namespace {

TEST(Dsv4Rule, ExpertDtypeFp4Fp8AbsentAndInvalid) {
  auto fp4 = resolve_expert_dtype(Json::parse(R"({"expert_dtype": "fp4"})"), "c");
  EXPECT_EQ(fp4.value, ExpertDtype::kFp4);
  EXPECT_TRUE(fp4.explicit_in_config);
  auto fp8 = resolve_expert_dtype(Json::parse(R"({"expert_dtype": "fp8"})"), "c");
  EXPECT_EQ(fp8.value, ExpertDtype::kFp8);
  auto absent = resolve_expert_dtype(Json::parse(R"({})"), "c");
  EXPECT_EQ(absent.value, ExpertDtype::kFp4);
  EXPECT_FALSE(absent.explicit_in_config);
  for (const char* bad : {R"({"expert_dtype": "bf16"})", R"({"expert_dtype": "FP4"})", R"({"expert_dtype": 4})"}) {
    try {
      resolve_expert_dtype(Json::parse(bad), "ckpt/config.json");
      FAIL() << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.exit_code(), kExitInput);
      std::string m = e.what();
      EXPECT_NE(m.find("ckpt/config.json"), std::string::npos) << m;
      EXPECT_NE(m.find("expert_dtype"), std::string::npos) << m;
      EXPECT_NE(m.find("\"fp4\" or \"fp8\""), std::string::npos) << m;
    }
  }
}

TEST(Dsv4Rule, RoutedExpertScalesFollowExpertDtype) {
  // The four cases: fp4 experts, fp8 experts, shared experts, non-expert weights.
  EXPECT_EQ(apply_dsv4_scale_rule("layers.3.ffn.experts.17.w1.scale", ExpertDtype::kFp4), "layers.3.ffn.experts.17.w1.weight_scale");
  EXPECT_EQ(apply_dsv4_scale_rule("layers.3.ffn.experts.17.w2.scale", ExpertDtype::kFp8), "layers.3.ffn.experts.17.w2.weight_scale_inv");
  EXPECT_EQ(apply_dsv4_scale_rule("layers.3.ffn.shared_experts.w1.scale", ExpertDtype::kFp4), "layers.3.ffn.shared_experts.w1.weight_scale_inv");
  EXPECT_EQ(apply_dsv4_scale_rule("layers.3.attn.wq_a.scale", ExpertDtype::kFp4), "layers.3.attn.wq_a.weight_scale_inv");
  // transformers' layout and MTP layers follow the same rule.
  EXPECT_EQ(apply_dsv4_scale_rule("model.layers.0.ffn.experts.0.w3.scale", ExpertDtype::kFp4), "model.layers.0.ffn.experts.0.w3.weight_scale");
  EXPECT_EQ(apply_dsv4_scale_rule("mtp.0.ffn.experts.5.w1.scale", ExpertDtype::kFp4), "mtp.0.ffn.experts.5.w1.weight_scale");
  EXPECT_EQ(apply_dsv4_scale_rule("mtp.0.ffn.experts.5.w1.scale", ExpertDtype::kFp8), "mtp.0.ffn.experts.5.w1.weight_scale_inv");
  // Not a scale: unchanged. Look-alikes are not routed experts.
  EXPECT_EQ(apply_dsv4_scale_rule("layers.3.ffn.experts.17.w1.weight", ExpertDtype::kFp4), "layers.3.ffn.experts.17.w1.weight");
  EXPECT_FALSE(is_routed_expert_scale("layers.3.ffn.experts.x.w1.scale"));
  EXPECT_FALSE(is_routed_expert_scale("layers.3.ffn.experts.1.w4.scale"));
  EXPECT_FALSE(is_routed_expert_scale("layers.3.ffn.myexperts.1.w1.scale"));
  EXPECT_TRUE(is_routed_expert_scale("a.experts.0.w2.scale"));
}

}  // namespace
}  // namespace moeckpt
