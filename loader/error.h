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
  kUsage,                // a bad option, value or argument: an unknown --arch, an invalid --filter, OUT inside IN
  // Input unreadable or malformed (exit 3)
  kFileOpen,             // a path that does not exist, is neither a file nor a directory, or cannot be opened, listed or mapped
  kFileRead,             // not raised today: files are mapped, never read, and a failed map is kFileOpen
  kNoCheckpoint,         // no weights or index where PATH points, several indexes and no default one, or nothing to --finalize
  kHeaderTooSmall,       // safetensors file shorter than the 8-byte length prefix
  kHeaderTooLarge,       // safetensors header length past the end of the file
  kHeaderOverLimit,      // safetensors header length over 100,000,000 bytes
  kHeaderNotUtf8,        // safetensors header bytes that are not UTF-8
  kHeaderNotJson,        // safetensors header that is not JSON
  kHeaderNotObject,      // safetensors header JSON that is not an object
  kTensorEntryInvalid,   // tensor entry not an object, a field missing or given twice, or 'dtype' not a string
  kUnknownDtype,         // a dtype name safetensors does not have
  kShapeInvalid,         // 'shape' not a list of non-negative integers
  kSizeMismatch,         // shape x dtype bits != 8 x byte range (or not a whole number of bytes)
  kOffsetsInvalid,       // 'data_offsets' not two non-negative integers, or end before begin
  kOffsetsOverlap,       // two tensors' byte ranges overlap
  kOffsetsHole,          // bytes of the data buffer before or between tensors that no tensor holds
  kOffsetsOutOfBounds,   // a tensor's byte range past the end of the data buffer
  kTrailingBytes,        // data buffer longer than the tensors it holds
  kDuplicateName,        // a name twice in one header or weight_map, or a tensor in two files of a checkpoint
  kMetadataInvalid,      // __metadata__ not an object of strings, or a key in it twice
  kIndexInvalid,         // index not a JSON object, bad metadata, weight_map missing/twice/empty/not file names, mixed shards
  kIndexMissingShard,    // the index names a shard file that does not exist
  kIndexMissingTensor,   // the index names a tensor its shard lacks
  kIndexPathEscapes,     // an index's shard path that is not a plain relative path inside the directory
  kIndexUnlistedTensor,  // not raised today: a shard's tensor the index does not name is loaded and listed in unlisted()
  kZipInvalid,           // a zip structure that is broken or disagrees with itself (records, names, overlaps, sizes)
  kZipEntryOutOfRange,   // a zip offset or size outside the file, or one whose sum overflows
  kZipUnsupported,       // an encrypted zip entry, a method other than stored or deflated, or a multi-disk archive
  kZipCrcMismatch,       // a zip entry's bytes that fail its CRC-32
  kZipInflate,           // a deflated zip entry that is corrupt or does not inflate to exactly its recorded size
  kPickleInvalid,        // data.pkl malformed: truncated, bad operands, stack underflow, wrong types, no STOP, trailing bytes
  kPickleOpcodeRefused,  // a pickle opcode outside the set a state dict needs
  kPickleGlobalRefused,  // a pickle global outside the allowlist of a PyTorch state dict
  kPickleLimit,          // data.pkl over 256 MiB, or over an unpickler limit (objects, stack, memo, string, nesting ...)
  kTorchLegacyFormat,    // a PyTorch file from before 1.6 (a bare pickle or a tar archive, not a zip)
  kTorchInvalid,         // a torch.save archive or state dict unlike what torch.save writes, or a tensor past its storage
  kConfigInvalid,        // config.json or a convert plan file not a JSON object, or a value moeckpt needs missing or invalid
  kRulesInvalid,         // a rules file or name template that is malformed (exits 2: the user wrote it, like a flag)
  kTensorNotFound,       // `tensor` names a tensor the checkpoint does not hold
  kUnsupported,          // input moeckpt cannot handle: an architecture not in the registry, big-endian PyTorch, undecodable dtypes
  kQuantInvalid,         // a quantized weight's scales are missing or do not fit it
  kOverflow,             // a size computation that does not fit in 64 bits
  kTruncated,            // input shrank while being read
  // Output could not be written (exit 4)
  kOutputExists,         // convert's OUT is not a directory, or holds files that --resume or --overwrite does not cover
  kOutputWrite,          // an output that cannot be created, written or renamed; an interrupted convert; --finalize missing shards
  kOutputBusy,           // convert's OUT is locked by another conversion, or its plan file is another conversion's
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
  Error(Errc code, std::string file, std::string reason, std::string_view tensor = {});

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
