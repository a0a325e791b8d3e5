#include "loader/structure_checks.h"

#include <set>

#include "loader/file_names.h"

namespace fs = std::filesystem;

namespace moeckpt {

// The loader's errors as findings: one code per kind of structural fault.
std::string finding_code_for(Errc c) {
  switch (c) {
    case Errc::kHeaderTooSmall:
    case Errc::kHeaderTooLarge:
    case Errc::kHeaderOverLimit:
    case Errc::kHeaderNotUtf8:
    case Errc::kHeaderNotJson:
    case Errc::kHeaderNotObject: return "E-HEADER";
    case Errc::kTensorEntryInvalid:
    case Errc::kShapeInvalid:
    case Errc::kOverflow: return "E-TENSOR-ENTRY";
    case Errc::kUnknownDtype: return "E-DTYPE-UNKNOWN";
    case Errc::kSizeMismatch: return "E-SIZE-MISMATCH";
    case Errc::kOffsetsInvalid:
    case Errc::kOffsetsOverlap:
    case Errc::kOffsetsHole:
    case Errc::kOffsetsOutOfBounds:
    case Errc::kTrailingBytes: return "E-OFFSETS";
    case Errc::kDuplicateName: return "E-DUPLICATE-NAME";
    case Errc::kMetadataInvalid: return "E-METADATA";
    case Errc::kIndexInvalid: return "E-INDEX-INVALID";
    case Errc::kIndexMissingShard: return "E-INDEX-SHARD-MISSING";
    case Errc::kIndexMissingTensor: return "E-INDEX-TENSOR-MISSING";
    case Errc::kIndexPathEscapes: return "E-INDEX-PATH";
    case Errc::kZipInvalid:
    case Errc::kZipEntryOutOfRange:
    case Errc::kZipUnsupported:
    case Errc::kZipCrcMismatch:
    case Errc::kZipInflate: return "E-ZIP";
    case Errc::kPickleInvalid:
    case Errc::kPickleOpcodeRefused:
    case Errc::kPickleGlobalRefused:
    case Errc::kPickleLimit: return "E-PICKLE";
    case Errc::kTorchLegacyFormat:
    case Errc::kTorchInvalid: return "E-TORCH";
    case Errc::kConfigInvalid: return "E-CONFIG-JSON";
    default: return "E-FILE-UNREADABLE";
  }
}

void index_findings(const Checkpoint& ck, Findings& f) {
  if (!ck.index()) return;
  std::string label = (ck.directory() / ck.index_file()).string();
  if (ck.index()->total_size && ck.problems().empty()) {
    uint64_t sum = 0;
    for (const auto& t : ck.tensors()) sum += t.nbytes;
    if (*ck.index()->total_size != sum)
      f.push_back(warning("W-INDEX-TOTAL-SIZE", "metadata.total_size is " + std::to_string(*ck.index()->total_size) + " but the tensors hold " + std::to_string(sum) + " bytes", label));
  }
  std::set<std::string> named(ck.index()->shards.begin(), ck.index()->shards.end());
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(ck.directory(), ec)) {
    std::string n = e.path().filename().string();
    bool same_kind = ck.format() == FileFormat::kSafetensors ? is_safetensors_name(n) : n.ends_with(".bin");
    if (same_kind && !named.count(n) && n[0] != '.')
      f.push_back(warning("W-INDEX-ORPHAN-SHARD", "the index names no tensor in this file: engines that follow the index never read it", e.path().string()));
  }
  for (const auto& n : ck.unlisted())
    f.push_back(warning("W-INDEX-UNLISTED", "a shard holds this tensor but the index does not name it", ck.file_label(ck.find(n)->file), n));
}

void structure_findings(const Checkpoint& ck, Findings& f) {
  for (const auto& p : ck.problems()) f.push_back(error(finding_code_for(p.code()), p.reason(), p.file(), p.tensor()));
  index_findings(ck, f);
}

}  // namespace moeckpt
