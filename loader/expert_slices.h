// Producers that move expert matrices between a fused 3-D tensor F [E, A, B] and per-expert
// 2-D tensors P [X, Y]: a split copies one expert's part of F, a fuse assembles F from every
// expert's parts. Both are copies (no arithmetic), read the input a slice at a time through the
// checkpoint's mapping and know nothing of what the matrices mean; mapping/expert_layout decides
// which part is which.
#pragma once

#include <memory>
#include <vector>

#include "loader/checkpoint.h"
#include "loader/write_plan.h"

namespace moeckpt {

// Where one per-expert matrix sits in F[e] ([A, B]): along `axis` (0: A, 1: B) it takes the
// indices offset + k * stride, k < count; the whole other axis. P is that part (Q) or, when
// transposed, its transpose: not transposed P = Q ([count, B] or [A, count]), transposed P = Q^T.
struct ExpertPart {
  uint64_t axis = 0, offset = 0, stride = 1, count = 0;
  bool transposed = false;
};

// The shape of P for part `p` of a fused tensor whose per-expert matrix is [a, b].
std::vector<uint64_t> part_shape(const ExpertPart& p, uint64_t a, uint64_t b);

// P = part `part` of F[expert]. F must be 3-D and its element size whole bytes.
std::shared_ptr<const TensorProducer> make_split_producer(const Checkpoint& in, const TensorInfo& fused, uint64_t expert,
                                                          ExpertPart part, std::string describe);

// F [E, A, B] from parts[p][e] (each P of part geometry geometry[p], all of F's dtype). Every
// index of A (axis 0) or B (axis 1) must belong to exactly one part.
std::shared_ptr<const TensorProducer> make_fuse_producer(const Checkpoint& in, std::vector<std::vector<const TensorInfo*>> parts,
                                                         std::vector<ExpertPart> geometry, std::vector<uint64_t> fused_shape,
                                                         std::string describe);

}  // namespace moeckpt
