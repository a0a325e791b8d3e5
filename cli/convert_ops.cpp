#include "cli/convert_ops.h"

#include <cstring>
#include <map>

#include "cli/convert_build.h"
#include "loader/error.h"

namespace moeckpt::cli {
namespace {

class CopyProducer final : public TensorProducer {
 public:
  CopyProducer(const Checkpoint& in, const TensorInfo& t) : in_(in), t_(t) {}
  uint64_t rows() const override { return t_.nbytes; }
  uint64_t row_bytes() const override { return 1; }
  void produce(uint64_t r0, uint64_t r1, std::span<std::byte> out) const override {
    TensorBytes b = in_.bytes(t_);
    if (b.size() != t_.nbytes) throw Error(Errc::kTruncated, in_.file_label(t_.file), "tensor bytes changed size", t_.name);
    std::memcpy(out.data(), b.data() + r0, r1 - r0);
  }
  const TensorInfo* plain_copy() const override { return t_.storage < 0 ? &t_ : nullptr; }
  std::string describe() const override { return "copy"; }
  std::vector<const TensorInfo*> inputs() const override { return {&t_}; }

 private:
  const Checkpoint& in_;
  const TensorInfo& t_;
};

}  // namespace

std::shared_ptr<const TensorProducer> make_copy_producer(const Checkpoint& in, const TensorInfo& t) {
  return std::make_shared<CopyProducer>(in, t);
}

Json quantization_config_for(const std::string& scheme) {
  if (scheme == "fp8-block")
    return Json{{"quant_method", "fp8"}, {"fmt", "e4m3"}, {"activation_scheme", "dynamic"}, {"weight_block_size", {128, 128}}};
  if (scheme == "mxfp4") return Json{{"quant_method", "mxfp4"}};
  throw Error(Errc::kUsage, "--quantize", "unknown scheme '" + scheme + "' (fp8-block or mxfp4)");
}

OpsResult plan_tensor_ops(const Checkpoint& in, const ConvertOptions& opt) {
  OpsResult r;
  if (opt.dequant || opt.cast || !opt.quantize.empty())
    throw Error(Errc::kUnsupported, "convert", "--dequant, --cast and --quantize are not available in this build yet");
  for (const auto& t : in.tensors()) r.tensors.push_back({WriterTensor{t.name, t.dtype, t.shape, t.nbytes}, t.name, make_copy_producer(in, t)});
  // PyTorch files may share one storage between tensors (tied weights, views); safetensors
  // cannot, so each is written with its own bytes. Say which.
  std::map<std::pair<uint32_t, int32_t>, std::vector<std::string>> by_storage;
  for (const auto& t : in.tensors())
    if (t.storage >= 0) by_storage[{t.file, t.storage}].push_back(t.name);
  for (const auto& [k, names] : by_storage) {
    if (names.size() < 2) continue;
    std::string list;
    for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
    r.notes.push_back("tensors sharing one storage, each written with its own copy: " + list);
  }
  return r;
}

}  // namespace moeckpt::cli
