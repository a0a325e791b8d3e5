// Dequantizing integer codes: compressed-tensors pack-quantized, GPTQ and AWQ, rows of the
// [out, in] weight at a time. Each row's codes are put in one order (32/bits to a word along
// in, low bits first: pack-quantized's own, so its rows are read in place), with the row's zero
// points and scales per group (per column under activation order), and go through
// run_int_row. Layouts: moeckpt-formats(7), QUANTIZED WEIGHTS.
#pragma once

#include <cstddef>
#include <cstdint>

#include "quant/codec.h"
#include "quant/dequant.h"
#include "quant/scheme.h"

namespace moeckpt::quant {

void dequantize_int_rows(const QuantTensor& q, const DequantInput& in, Fmt out, uint64_t r0, uint64_t r1, std::byte* dst);

}  // namespace moeckpt::quant
