// The one error type of moeckpt. Everything below cli/ throws moeckpt::Error; cli/ catches it
// once, prints one line and exits with the code the error's kind maps to (moeckpt-formats(7),
// EXIT STATUS).
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace moeckpt {

// Every distinct failure has a name. Tests pin these rather than message text.
enum class Errc {
  // Usage (exit 2)
  kUsage,
  // Input unreadable or malformed (exit 3)
  kFileOpen,
  kFileRead,
  kNoCheckpoint,
  kHeaderTooSmall,       // file shorter than the 8-byte length prefix
  kHeaderTooLarge,       // header length past the end of the file
  kHeaderOverLimit,      // header length over 100,000,000 bytes
  kHeaderNotUtf8,
  kHeaderNotJson,
  kHeaderNotObject,
  kTensorEntryInvalid,   // tensor entry not an object, or a field of the wrong type
  kUnknownDtype,
  kShapeInvalid,
  kSizeMismatch,         // shape x dtype bits != 8 x byte range
  kOffsetsInvalid,       // begin > end
  kOffsetsOverlap,
  kOffsetsHole,
  kOffsetsOutOfBounds,   // past the end of the data buffer
  kTrailingBytes,        // data buffer longer than the tensors it holds
  kDuplicateName,
  kMetadataInvalid,
  kIndexInvalid,
  kIndexMissingShard,
  kIndexMissingTensor,   // the index names a tensor its shard lacks
  kIndexPathEscapes,
  kIndexUnlistedTensor,  // a shard holds a tensor the index does not name
  kZipInvalid,
  kZipEntryOutOfRange,
  kZipUnsupported,
  kZipCrcMismatch,
  kZipInflate,
  kPickleInvalid,
  kPickleOpcodeRefused,
  kPickleGlobalRefused,
  kPickleLimit,
  kTorchLegacyFormat,
  kTorchInvalid,
  kConfigInvalid,
  kRulesInvalid,
  kTensorNotFound,
  kUnsupported,
  kQuantInvalid,         // a quantized weight's scales are missing or do not fit it
  kOverflow,             // a size computation that does not fit in 64 bits
  kTruncated,            // input shrank while being read
  // Output could not be written (exit 4)
  kOutputExists,
  kOutputWrite,
};

// Exit codes (moeckpt-formats(7), EXIT STATUS).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFindings = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitInput = 3;
inline constexpr int kExitOutput = 4;

std::string_view errc_name(Errc code);
int exit_code_for(Errc code);

class Error : public std::runtime_error {
 public:
  Error(Errc code, std::string file, std::string reason, std::string tensor = {});

  Errc code() const { return code_; }
  const std::string& file() const { return file_; }
  const std::string& tensor() const { return tensor_; }
  const std::string& reason() const { return reason_; }
  int exit_code() const { return exit_code_for(code_); }

 private:
  static std::string format(const std::string& file, const std::string& tensor, const std::string& reason);
  Errc code_;
  std::string file_;
  std::string tensor_;
  std::string reason_;
};

}  // namespace moeckpt
