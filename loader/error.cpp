#include "loader/error.h"

namespace moeckpt {

std::string_view errc_name(Errc code) {
  switch (code) {
    case Errc::kUsage: return "usage";
    case Errc::kFileOpen: return "file-open";
    case Errc::kFileRead: return "file-read";
    case Errc::kNoCheckpoint: return "no-checkpoint";
    case Errc::kHeaderTooSmall: return "header-too-small";
    case Errc::kHeaderTooLarge: return "header-too-large";
    case Errc::kHeaderOverLimit: return "header-over-limit";
    case Errc::kHeaderNotUtf8: return "header-not-utf8";
    case Errc::kHeaderNotJson: return "header-not-json";
    case Errc::kHeaderNotObject: return "header-not-object";
    case Errc::kTensorEntryInvalid: return "tensor-entry-invalid";
    case Errc::kUnknownDtype: return "unknown-dtype";
    case Errc::kShapeInvalid: return "shape-invalid";
    case Errc::kSizeMismatch: return "size-mismatch";
    case Errc::kOffsetsInvalid: return "offsets-invalid";
    case Errc::kOffsetsOverlap: return "offsets-overlap";
    case Errc::kOffsetsHole: return "offsets-hole";
    case Errc::kOffsetsOutOfBounds: return "offsets-out-of-bounds";
    case Errc::kTrailingBytes: return "trailing-bytes";
    case Errc::kDuplicateName: return "duplicate-name";
    case Errc::kMetadataInvalid: return "metadata-invalid";
    case Errc::kIndexInvalid: return "index-invalid";
    case Errc::kIndexMissingShard: return "index-missing-shard";
    case Errc::kIndexMissingTensor: return "index-missing-tensor";
    case Errc::kIndexPathEscapes: return "index-path-escapes";
    case Errc::kIndexUnlistedTensor: return "index-unlisted-tensor";
    case Errc::kZipInvalid: return "zip-invalid";
    case Errc::kZipEntryOutOfRange: return "zip-entry-out-of-range";
    case Errc::kZipUnsupported: return "zip-unsupported";
    case Errc::kZipCrcMismatch: return "zip-crc-mismatch";
    case Errc::kZipInflate: return "zip-inflate";
    case Errc::kPickleInvalid: return "pickle-invalid";
    case Errc::kPickleOpcodeRefused: return "pickle-opcode-refused";
    case Errc::kPickleGlobalRefused: return "pickle-global-refused";
    case Errc::kPickleLimit: return "pickle-limit";
    case Errc::kTorchLegacyFormat: return "torch-legacy-format";
    case Errc::kTorchInvalid: return "torch-invalid";
    case Errc::kConfigInvalid: return "config-invalid";
    case Errc::kRulesInvalid: return "rules-invalid";
    case Errc::kTensorNotFound: return "tensor-not-found";
    case Errc::kUnsupported: return "unsupported";
    case Errc::kQuantInvalid: return "quant-invalid";
    case Errc::kOverflow: return "overflow";
    case Errc::kTruncated: return "truncated";
    case Errc::kOutputExists: return "output-exists";
    case Errc::kOutputWrite: return "output-write";
    case Errc::kOutputBusy: return "output-busy";
  }
  return "unknown";
}

int exit_code_for(Errc code) {
  switch (code) {
    case Errc::kUsage:
    case Errc::kRulesInvalid:  // a rules file is an option the user wrote, like a flag
      return kExitUsage;
    case Errc::kOutputExists:
    case Errc::kOutputWrite:
    case Errc::kOutputBusy:
      return kExitOutput;
    default:
      return kExitInput;
  }
}

Error::Error(Errc code, std::string file, std::string reason, std::string_view tensor)
    : std::runtime_error(format(file, std::string(tensor), reason)),
      code_(code),
      file_(std::move(file)),
      tensor_(tensor),
      reason_(std::move(reason)) {}

std::string Error::format(const std::string& file, const std::string& tensor, const std::string& reason) {
  std::string out;
  if (!file.empty()) out += file + ": ";
  if (!tensor.empty()) out += "tensor '" + tensor + "': ";
  out += reason;
  return out;
}

}  // namespace moeckpt
