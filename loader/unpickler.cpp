// The restricted unpickler (see unpickler.h). It is a plain stack machine over an object
// arena: every opcode reads its operands through bounds-checked helpers, and every container,
// string, stack and memo is capped, so any byte string gives either a graph or one Error.
#include "loader/unpickler.h"

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstring>
#include <unordered_map>

#include "loader/error.h"

namespace moeckpt::pickle {

std::string_view kind_name(Kind k) {
  switch (k) {
    case Kind::kNone: return "None";
    case Kind::kBool: return "bool";
    case Kind::kInt: return "int";
    case Kind::kFloat: return "float";
    case Kind::kStr: return "str";
    case Kind::kTuple: return "tuple";
    case Kind::kList: return "list";
    case Kind::kDict: return "dict";
    case Kind::kGlobal: return "global";
    case Kind::kCall: return "call";
    case Kind::kPersId: return "persistent id";
  }
  return "?";
}

namespace {

// Names of every standard opcode, so a refusal can say what it refused.
std::string_view opcode_name(uint8_t op) {
  switch (op) {
    case '(': return "MARK";
    case '.': return "STOP";
    case '0': return "POP";
    case '1': return "POP_MARK";
    case '2': return "DUP";
    case 'F': return "FLOAT";
    case 'I': return "INT";
    case 'J': return "BININT";
    case 'K': return "BININT1";
    case 'L': return "LONG";
    case 'M': return "BININT2";
    case 'N': return "NONE";
    case 'P': return "PERSID";
    case 'Q': return "BINPERSID";
    case 'R': return "REDUCE";
    case 'S': return "STRING";
    case 'T': return "BINSTRING";
    case 'U': return "SHORT_BINSTRING";
    case 'V': return "UNICODE";
    case 'X': return "BINUNICODE";
    case 'a': return "APPEND";
    case 'b': return "BUILD";
    case 'c': return "GLOBAL";
    case 'd': return "DICT";
    case '}': return "EMPTY_DICT";
    case 'e': return "APPENDS";
    case 'g': return "GET";
    case 'h': return "BINGET";
    case 'i': return "INST";
    case 'j': return "LONG_BINGET";
    case 'l': return "LIST";
    case ']': return "EMPTY_LIST";
    case 'o': return "OBJ";
    case 'p': return "PUT";
    case 'q': return "BINPUT";
    case 'r': return "LONG_BINPUT";
    case 's': return "SETITEM";
    case 't': return "TUPLE";
    case ')': return "EMPTY_TUPLE";
    case 'u': return "SETITEMS";
    case 'G': return "BINFLOAT";
    case 'B': return "BINBYTES";
    case 'C': return "SHORT_BINBYTES";
    case 0x80: return "PROTO";
    case 0x81: return "NEWOBJ";
    case 0x82: return "EXT1";
    case 0x83: return "EXT2";
    case 0x84: return "EXT4";
    case 0x85: return "TUPLE1";
    case 0x86: return "TUPLE2";
    case 0x87: return "TUPLE3";
    case 0x88: return "NEWTRUE";
    case 0x89: return "NEWFALSE";
    case 0x8a: return "LONG1";
    case 0x8b: return "LONG4";
    case 0x8c: return "SHORT_BINUNICODE";
    case 0x8d: return "BINUNICODE8";
    case 0x8e: return "BINBYTES8";
    case 0x8f: return "EMPTY_SET";
    case 0x90: return "ADDITEMS";
    case 0x91: return "FROZENSET";
    case 0x92: return "NEWOBJ_EX";
    case 0x93: return "STACK_GLOBAL";
    case 0x94: return "MEMOIZE";
    case 0x95: return "FRAME";
    case 0x96: return "BYTEARRAY8";
    case 0x97: return "NEXT_BUFFER";
    case 0x98: return "READONLY_BUFFER";
    default: return "not a pickle opcode";
  }
}

// Text from the file, made safe to put in a one-line message.
std::string printable(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size() && i < 120; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7F && c != '\'') {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  if (s.size() > 120) out += "...";
  return out;
}

bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n = 0;
    uint32_t cp = 0;
    if (c < 0x80) { ++i; continue; }
    if ((c & 0xE0) == 0xC0) n = 1, cp = c & 0x1F;
    else if ((c & 0xF0) == 0xE0) n = 2, cp = c & 0x0F;
    else if ((c & 0xF8) == 0xF0) n = 3, cp = c & 0x07;
    else return false;
    if (n > s.size() - i - 1) return false;
    for (size_t k = 1; k <= n; ++k) {
      const auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

class Machine {
 public:
  Machine(std::span<const std::byte> data, std::span<const std::string_view> allowed, std::string_view label,
          const Limits& limits)
      : data_(data), allowed_(allowed), label_(label), limits_(limits) {}

  Pickle run() {
    for (;;) {
      if (pos_ >= data_.size()) invalid("ends without STOP");
      op_at_ = pos_;
      const uint8_t op = u8();
      if (step(op)) break;
    }
    return std::move(out_);
  }

 private:
  [[noreturn]] void fail(Errc code, const std::string& what) const {
    throw Error(code, label_, what + " (pickle offset " + std::to_string(op_at_) + ")");
  }
  [[noreturn]] void invalid(const std::string& what) const { fail(Errc::kPickleInvalid, "invalid pickle: " + what); }
  [[noreturn]] void limit(const std::string& what) const { fail(Errc::kPickleLimit, "pickle exceeds a limit: " + what); }

  // Operand readers; each checks that the bytes exist.
  std::span<const std::byte> take(uint64_t n) {
    if (n > data_.size() - pos_) invalid("truncated operand");
    auto s = data_.subspan(pos_, static_cast<size_t>(n));
    pos_ += static_cast<size_t>(n);
    return s;
  }
  uint64_t le(size_t n) {
    auto s = take(n);
    uint64_t v = 0;
    for (size_t i = n; i-- > 0;) v = (v << 8) | std::to_integer<uint64_t>(s[i]);
    return v;
  }
  uint8_t u8() { return static_cast<uint8_t>(le(1)); }
  std::string text(uint64_t n) {
    if (n > limits_.max_string) limit("a string of " + std::to_string(n) + " bytes");
    auto s = take(n);
    std::string out(reinterpret_cast<const char*>(s.data()), s.size());
    if (!valid_utf8(out)) invalid("string is not UTF-8");
    return out;
  }
  std::string line() {  // GLOBAL's operands: text up to a newline
    const auto* begin = reinterpret_cast<const char*>(data_.data() + pos_);
    const size_t avail = std::min<uint64_t>(data_.size() - pos_, limits_.max_string);
    const void* nl = std::memchr(begin, '\n', avail);
    if (!nl) invalid("GLOBAL operand has no newline");
    const size_t n = static_cast<size_t>(static_cast<const char*>(nl) - begin);
    pos_ += n + 1;
    return std::string(begin, n);
  }

  uint32_t make(Kind k) {
    if (out_.objects.size() >= limits_.max_objects) limit("more than " + std::to_string(limits_.max_objects) + " objects");
    out_.objects.push_back(Object{});
    out_.objects.back().kind = k;
    return static_cast<uint32_t>(out_.objects.size() - 1);
  }
  Object& obj(uint32_t i) { return out_.objects[i]; }

  size_t base() const { return marks_.empty() ? 0 : marks_.back(); }
  void push(uint32_t i) {
    if (stack_.size() >= limits_.max_stack) limit("more than " + std::to_string(limits_.max_stack) + " values on the stack");
    stack_.push_back(i);
  }
  uint32_t pop() {
    if (stack_.size() <= base()) invalid("stack underflow");
    uint32_t v = stack_.back();
    stack_.pop_back();
    return v;
  }
  uint32_t top() const {
    if (stack_.size() <= base()) invalid("stack underflow");
    return stack_.back();
  }
  std::vector<uint32_t> pop_mark() {
    if (marks_.empty()) invalid("no MARK to pop to");
    std::vector<uint32_t> items(stack_.begin() + static_cast<std::ptrdiff_t>(marks_.back()), stack_.end());
    stack_.resize(marks_.back());
    marks_.pop_back();
    return items;
  }
  uint32_t top_of(Kind k, const char* op) {
    uint32_t t = top();
    if (obj(t).kind != k)
      invalid(std::string(op) + " needs a " + std::string(kind_name(k)) + ", found a " + std::string(kind_name(obj(t).kind)));
    return t;
  }
  void grow(uint32_t container, size_t more) {
    if (more > limits_.max_container || obj(container).items.size() > limits_.max_container - more)
      limit("a container of more than " + std::to_string(limits_.max_container) + " elements");
  }
  void new_int(int64_t v) {
    uint32_t i = make(Kind::kInt);
    obj(i).integer = v;
    push(i);
  }
  void new_str(std::string s) {
    uint32_t i = make(Kind::kStr);
    obj(i).str = std::move(s);
    push(i);
  }
  void new_tuple(std::vector<uint32_t> items) {
    if (items.size() > limits_.max_container) limit("a tuple of " + std::to_string(items.size()) + " elements");
    uint32_t i = make(Kind::kTuple);
    obj(i).items = std::move(items);
    push(i);
  }
  void new_global(const std::string& module, const std::string& name) {
    const std::string full = module + " " + name;
    if (std::find(allowed_.begin(), allowed_.end(), full) == allowed_.end())
      fail(Errc::kPickleGlobalRefused,
           "refused pickle global '" + printable(full) + "': only the globals a PyTorch state dict needs are allowed");
    uint32_t i = make(Kind::kGlobal);
    obj(i).str = full;
    push(i);
  }
  void memo_put(uint64_t key) {
    const uint32_t v = top();
    auto it = memo_.find(key);
    if (it != memo_.end()) {
      it->second = v;
      return;
    }
    if (memo_.size() >= limits_.max_memo) limit("more than " + std::to_string(limits_.max_memo) + " memo entries");
    memo_.emplace(key, v);
  }
  void memo_get(uint64_t key) {
    auto it = memo_.find(key);
    if (it == memo_.end()) invalid("memo key " + std::to_string(key) + " was never stored");
    push(it->second);
  }

  // Executes one opcode; true on STOP.
  bool step(uint8_t op) {
    switch (op) {
      case 0x80: {  // PROTO
        const uint8_t v = u8();
        if (v > 5) invalid("protocol " + std::to_string(v) + " is newer than 5");
        return false;
      }
      case 0x95: {  // FRAME: framing is transparent, only its length is checked
        if (le(8) > data_.size() - pos_) invalid("frame runs past the end of the data");
        return false;
      }
      case 'c': {  // GLOBAL
        std::string module = line();
        std::string name = line();
        new_global(module, name);
        return false;
      }
      case 0x93: {  // STACK_GLOBAL
        const uint32_t name = pop(), module = pop();
        if (obj(name).kind != Kind::kStr || obj(module).kind != Kind::kStr) invalid("STACK_GLOBAL needs two strings");
        new_global(obj(module).str, obj(name).str);
        return false;
      }
      case '(':  // MARK
        if (marks_.size() >= limits_.max_marks) limit("more than " + std::to_string(limits_.max_marks) + " open MARKs");
        marks_.push_back(stack_.size());
        return false;
      case '}': push(make(Kind::kDict)); return false;   // EMPTY_DICT
      case ']': push(make(Kind::kList)); return false;   // EMPTY_LIST
      case ')': push(make(Kind::kTuple)); return false;  // EMPTY_TUPLE
      case 't': new_tuple(pop_mark()); return false;     // TUPLE
      case 0x85:
      case 0x86:
      case 0x87: {  // TUPLE1..3
        std::vector<uint32_t> items(op - 0x84u);
        for (size_t k = items.size(); k-- > 0;) items[k] = pop();
        new_tuple(std::move(items));
        return false;
      }
      case 'q': memo_put(u8()); return false;                  // BINPUT
      case 'r': memo_put(le(4)); return false;                 // LONG_BINPUT
      case 0x94: memo_put(memo_.size()); return false;         // MEMOIZE
      case 'h': memo_get(u8()); return false;                  // BINGET
      case 'j': memo_get(le(4)); return false;                 // LONG_BINGET
      case 'J': new_int(static_cast<int32_t>(static_cast<uint32_t>(le(4)))); return false;  // BININT
      case 'K': new_int(u8()); return false;                   // BININT1
      case 'M': new_int(static_cast<int64_t>(le(2))); return false;  // BININT2
      case 0x8a: {  // LONG1: little-endian two's complement of n bytes
        const uint8_t n = u8();
        if (n > 8) limit("an integer of " + std::to_string(n) + " bytes");
        uint64_t v = n ? le(n) : 0;
        if (n > 0 && n < 8 && (v >> (8 * n - 1)) & 1) v |= ~uint64_t{0} << (8 * n);
        new_int(static_cast<int64_t>(v));
        return false;
      }
      case 'X': new_str(text(le(4))); return false;     // BINUNICODE
      case 0x8c: new_str(text(u8())); return false;     // SHORT_BINUNICODE
      case 0x8d: new_str(text(le(8))); return false;    // BINUNICODE8
      case 'G': {  // BINFLOAT: big-endian IEEE double
        auto s = take(8);
        uint64_t bits = 0;
        for (auto b : s) bits = (bits << 8) | std::to_integer<uint64_t>(b);
        uint32_t i = make(Kind::kFloat);
        obj(i).real = std::bit_cast<double>(bits);
        push(i);
        return false;
      }
      case 0x88:
      case 0x89: {  // NEWTRUE, NEWFALSE
        uint32_t i = make(Kind::kBool);
        obj(i).boolean = op == 0x88;
        push(i);
        return false;
      }
      case 'N': push(make(Kind::kNone)); return false;  // NONE
      case 'R': {  // REDUCE: recorded, never called
        const uint32_t args = pop(), callable = pop();
        if (obj(callable).kind != Kind::kGlobal) invalid("REDUCE on a " + std::string(kind_name(obj(callable).kind)));
        if (obj(args).kind != Kind::kTuple) invalid("REDUCE arguments are not a tuple");
        if (obj(callable).str == "collections OrderedDict") {
          if (!obj(args).items.empty()) invalid("OrderedDict called with arguments");
          push(make(Kind::kDict));
          return false;
        }
        const uint32_t call = make(Kind::kCall);
        obj(call).items = {callable, args};
        push(call);
        return false;
      }
      case 'b': {  // BUILD: the state is kept for the caller, nothing is set
        const uint32_t state = pop(), target = top();
        if (obj(target).state != kNoObject) invalid("BUILD on an object that already has a state");
        obj(target).state = state;
        return false;
      }
      case 'Q': {  // BINPERSID
        const uint32_t pid = pop();
        const uint32_t i = make(Kind::kPersId);
        obj(i).items = {pid};
        push(i);
        return false;
      }
      case 's': {  // SETITEM
        const uint32_t value = pop(), key = pop(), dict = top_of(Kind::kDict, "SETITEM");
        grow(dict, 2);
        obj(dict).items.push_back(key);
        obj(dict).items.push_back(value);
        return false;
      }
      case 'u': {  // SETITEMS
        std::vector<uint32_t> items = pop_mark();
        if (items.size() % 2) invalid("SETITEMS with an odd number of values");
        const uint32_t dict = top_of(Kind::kDict, "SETITEMS");
        grow(dict, items.size());
        obj(dict).items.insert(obj(dict).items.end(), items.begin(), items.end());
        return false;
      }
      case 'a': {  // APPEND
        const uint32_t value = pop(), list = top_of(Kind::kList, "APPEND");
        grow(list, 1);
        obj(list).items.push_back(value);
        return false;
      }
      case 'e': {  // APPENDS
        std::vector<uint32_t> items = pop_mark();
        const uint32_t list = top_of(Kind::kList, "APPENDS");
        grow(list, items.size());
        obj(list).items.insert(obj(list).items.end(), items.begin(), items.end());
        return false;
      }
      case '.': {  // STOP
        out_.root = pop();
        if (!marks_.empty() || !stack_.empty()) invalid("STOP with values left on the stack");
        if (pos_ != data_.size()) invalid(std::to_string(data_.size() - pos_) + " bytes after STOP");
        return true;
      }
      default: {
        char hex[8];
        std::snprintf(hex, sizeof hex, "0x%02x", op);
        fail(Errc::kPickleOpcodeRefused, "refused pickle opcode " + std::string(hex) + " (" + std::string(opcode_name(op)) +
                                             "): a PyTorch state dict does not need it");
      }
    }
  }

  std::span<const std::byte> data_;
  std::span<const std::string_view> allowed_;
  std::string label_;
  const Limits& limits_;
  size_t pos_ = 0;
  size_t op_at_ = 0;
  std::vector<uint32_t> stack_;
  std::vector<size_t> marks_;  // stack heights at each open MARK
  std::unordered_map<uint64_t, uint32_t> memo_;
  Pickle out_;
};

}  // namespace

Pickle unpickle(std::span<const std::byte> data, std::span<const std::string_view> allowed, std::string_view label,
                const Limits& limits) {
  return Machine(data, allowed, label, limits).run();
}

}  // namespace moeckpt::pickle
