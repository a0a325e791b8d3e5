// What a part-of-the-model conversion does to names and config.json (convert --text-only,
// --drop-mtp, --only-mtp): for every input tensor its new name or why it is left out, the
// config as it must read afterwards, and the files beside the weights that no longer apply.
// The selections are computed over the checkpoint's names before anything is written, so a
// plan stays deterministic (mapping/text_only.h, mapping/mtp_select.h build them).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "loader/config_file.h"
#include "loader/write_plan.h"

namespace moeckpt {

struct NameChange {
  std::optional<std::string> to;  // nullopt: left out
  std::string why;                // for a left-out tensor: "the vision tower ...", "an MTP layer"
};

struct Extraction {
  std::map<std::string, NameChange, std::less<>> names;  // input name -> change; absent: kept as is
  Json config;                                            // config.json afterwards
  std::vector<std::string> notes;                         // one line per kind of change, for the plan
  std::vector<std::string> dropped_files;                 // sidecar names not copied
};

// Applies the renames and leaves out the rest (their sources appended to dropped), keyed by the
// planned tensors' current names. Throws Error(kUsage) when two tensors would get one name.
void apply_extraction(const Extraction& x, std::vector<PlannedTensor>& tensors, std::vector<std::string>& dropped);

// Removes the copied files the extraction does not carry over, with a note naming them.
void drop_files(const Extraction& x, std::vector<CopiedFile>& copies, std::vector<std::string>& notes);

// a, then b on the names a leaves (b was computed from them and from a's config): one
// extraction keyed by the input names. b's config is the result's.
Extraction then(Extraction a, const Extraction& b, const std::vector<std::string>& input_names);

// The names a leaves, in input order.
std::vector<std::string> names_after(const Extraction& a, const std::vector<std::string>& input_names);

// "52 tensors (model.visual.blocks.0.attn.proj.bias ... model.visual.pos_embed.weight)".
std::string name_sample(const std::vector<std::string>& names);

}  // namespace moeckpt
