#include "loader/unpickler.h"

#include <gtest/gtest.h>

#include <string>

#include "loader/error.h"

namespace moeckpt::pickle {
namespace {

using namespace std::string_literals;

constexpr std::string_view kAllowed[] = {"collections OrderedDict", "torch._utils _rebuild_tensor_v2",
                                         "torch FloatStorage"};

std::span<const std::byte> as_bytes(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

Pickle load(const std::string& p, const Limits& limits = {}) { return unpickle(as_bytes(p), kAllowed, "t.bin", limits); }

// The error a pickle gives; the message must name the file and an offset.
Error error_of(const std::string& p, const Limits& limits = {}) {
  try {
    load(p, limits);
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("t.bin: "), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("pickle offset"), std::string::npos) << e.what();
    return e;
  }
  ADD_FAILURE() << "accepted";
  return Error(Errc::kUsage, "", "");
}

std::string raw(std::initializer_list<int> bytes) {
  std::string out;
  for (int b : bytes) out += static_cast<char>(b);
  return out;
}
std::string binunicode(std::string_view t) {
  std::string out = "X";
  uint32_t n = static_cast<uint32_t>(t.size());
  for (int k = 0; k < 4; ++k) out += static_cast<char>((n >> (8 * k)) & 0xFF);
  return out + std::string(t);
}
std::string short_unicode(std::string_view t) { return raw({0x8c, static_cast<int>(t.size())}) + std::string(t); }

TEST(Unpickler, BuildsAnOrderedDictOfCalls) {
  // OrderedDict([("w", _rebuild_tensor_v2(<pid>, 0, (2, 3), (3, 1), False, OrderedDict()))]), protocol 2.
  std::string p = raw({0x80, 2}) + "ccollections\nOrderedDict\n" + raw({'q', 0, ')', 'R', '('}) + binunicode("w") +
      "ctorch._utils\n_rebuild_tensor_v2\n" + raw({'(', '('}) + binunicode("storage") + "ctorch\nFloatStorage\n" +
      binunicode("0") + binunicode("cpu") + raw({'K', 6, 't', 'Q', 'K', 0, 'K', 2, 'K', 3, 0x86, 'K', 3, 'K', 1, 0x86, 0x89,
                                               'h', 0, ')', 'R', 't', 'R', 'u', '.'});
  Pickle pk = load(p);
  const Object& root = pk.at(pk.root);
  ASSERT_EQ(root.kind, Kind::kDict);
  ASSERT_EQ(root.items.size(), 2u);
  EXPECT_EQ(pk.at(root.items[0]).str, "w");
  const Object& call = pk.at(root.items[1]);
  ASSERT_EQ(call.kind, Kind::kCall);
  EXPECT_EQ(pk.at(call.items[0]).str, "torch._utils _rebuild_tensor_v2");
  const Object& args = pk.at(call.items[1]);
  ASSERT_EQ(args.kind, Kind::kTuple);
  ASSERT_EQ(args.items.size(), 6u);
  const Object& pid = pk.at(args.items[0]);
  ASSERT_EQ(pid.kind, Kind::kPersId);
  const Object& pid_tuple = pk.at(pid.items[0]);
  ASSERT_EQ(pid_tuple.items.size(), 5u);
  EXPECT_EQ(pk.at(pid_tuple.items[1]).str, "torch FloatStorage");
  EXPECT_EQ(pk.at(pid_tuple.items[4]).integer, 6);
  EXPECT_EQ(pk.at(args.items[2]).items.size(), 2u);
  EXPECT_EQ(pk.at(args.items[4]).kind, Kind::kBool);
  EXPECT_EQ(pk.at(args.items[5]).kind, Kind::kDict);
}

TEST(Unpickler, Protocol4FramesStackGlobalAndMemoize) {
  std::string body = short_unicode("collections") + raw({0x94}) + short_unicode("OrderedDict") +
                     raw({0x94, 0x93, 0x94, ')', 'R', 0x94, '('}) + short_unicode("a") + raw({0x94, '}', 0x94}) +
                     short_unicode("b") + raw({'h', 5, 'u', '.'});
  std::string p = raw({0x80, 4, 0x95}) + std::string(1, static_cast<char>(body.size())) + std::string(7, '\0') + body;
  Pickle pk = load(p);
  const Object& root = pk.at(pk.root);
  ASSERT_EQ(root.kind, Kind::kDict);
  ASSERT_EQ(root.items.size(), 4u);
  // "b" maps to the very same object as "a" (memo hit), as tied weights do.
  EXPECT_EQ(root.items[1], root.items[3]);
  EXPECT_EQ(pk.at(root.items[1]).kind, Kind::kDict);
}

TEST(Unpickler, Scalars) {
  // (BININT -2, BININT2 515, LONG1 -1 in 1 byte, LONG1 2^40, BINFLOAT 1.5, None, True, unicode8 "é", [1])
  std::string p = raw({0x80, 2, '(', 'J', 0xFE, 0xFF, 0xFF, 0xFF, 'M', 3, 2, 0x8a, 1, 0xFF, 0x8a, 6, 0, 0, 0, 0, 0, 1, 'G',
                     0x3F, 0xF8, 0, 0, 0, 0, 0, 0, 'N', 0x88, 0x8d, 2, 0, 0, 0, 0, 0, 0, 0, 0xC3, 0xA9, ']', 'K', 1, 'a',
                     ']', '(', 'K', 2, 'K', 3, 'e', 't', '.'});
  Pickle pk = load(p);
  const Object& t = pk.at(pk.root);
  ASSERT_EQ(t.items.size(), 10u);
  EXPECT_EQ(pk.at(t.items[0]).integer, -2);
  EXPECT_EQ(pk.at(t.items[1]).integer, 515);
  EXPECT_EQ(pk.at(t.items[2]).integer, -1);
  EXPECT_EQ(pk.at(t.items[3]).integer, int64_t{1} << 40);
  EXPECT_EQ(pk.at(t.items[4]).real, 1.5);
  EXPECT_EQ(pk.at(t.items[5]).kind, Kind::kNone);
  EXPECT_TRUE(pk.at(t.items[6]).boolean);
  EXPECT_EQ(pk.at(t.items[7]).str, "\xC3\xA9");
  EXPECT_EQ(pk.at(t.items[8]).items.size(), 1u);
  EXPECT_EQ(pk.at(t.items[9]).items.size(), 2u);
}

TEST(Unpickler, BuildKeepsTheStateAside) {
  // OrderedDict() with a BUILD state {'_metadata': {}} as state_dict() pickles: items stay items.
  std::string p = "\x80\x02" "ccollections\nOrderedDict\n)R}" + binunicode("_metadata") + "}sb.";
  Pickle pk = load(p);
  const Object& root = pk.at(pk.root);
  EXPECT_EQ(root.kind, Kind::kDict);
  EXPECT_TRUE(root.items.empty());
  ASSERT_NE(root.state, kNoObject);
  EXPECT_EQ(pk.at(root.state).items.size(), 2u);
}

TEST(Unpickler, RefusesGlobalsOutsideTheAllowList) {
  for (std::string g : {"os\nsystem\n", "builtins\neval\n", "posix\nsystem\n", "torch\nload\n", "collections\nOrderedDict2\n"}) {
    Error e = error_of("\x80\x02" "c" + g + "(" + binunicode("echo pwned") + "tR.");
    EXPECT_EQ(e.code(), Errc::kPickleGlobalRefused) << e.what();
    std::string want = g;
    want[want.find('\n')] = ' ';
    want.pop_back();
    EXPECT_NE(std::string(e.what()).find("'" + want + "'"), std::string::npos) << e.what();
  }
  Error e = error_of("\x80\x04" + short_unicode("builtins") + short_unicode("eval") + "\x93.");
  EXPECT_EQ(e.code(), Errc::kPickleGlobalRefused) << e.what();
  EXPECT_NE(std::string(e.what()).find("'builtins eval'"), std::string::npos) << e.what();
  // Non-printable bytes in a refused name are escaped in the message.
  e = error_of("\x80\x02" "cos\x01\nsys\ttem\n.");
  EXPECT_NE(std::string(e.what()).find("os\\x01 sys\\x09tem"), std::string::npos) << e.what();
}

TEST(Unpickler, RefusesOpcodesOutsideTheSupportedSet) {
  struct Case {
    std::string pickle;
    std::string name;
    size_t offset;
  };
  for (const Case& c : std::vector<Case>{{"\x80\x02i os\nsystem\n.", "INST", 2},
                                         {"\x80\x02N\x81.", "NEWOBJ", 3},
                                         {"\x80\x02NN2.", "DUP", 4},
                                         {"\x80\x02" "S'x'\n.", "STRING", 2},
                                         {"\x80\x02\x82\x01.", "EXT1", 2},
                                         {"\x80\x05\x97.", "NEXT_BUFFER", 2},
                                         {raw({0x80, 2, 0xFF}), "not a pickle opcode", 2}}) {
    Error e = error_of(c.pickle);
    EXPECT_EQ(e.code(), Errc::kPickleOpcodeRefused) << e.what();
    EXPECT_NE(std::string(e.what()).find("(" + c.name + ")"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("pickle offset " + std::to_string(c.offset) + ")"), std::string::npos) << e.what();
  }
}

TEST(Unpickler, RefusesMalformedPickles) {
  for (const std::string& p : std::vector<std::string>{
           "",                                    // nothing
           "\x80\x02",                            // no STOP
           "\x80\x02.",                           // STOP on an empty stack
           "\x80\x02NN.",                         // values left over
           "\x80\x02N.N",                         // bytes after STOP
           "\x80\x06N.",                          // protocol 6
           "\x80\x02t.",                          // TUPLE without MARK
           "\x80\x02(N.",                         // open MARK at STOP
           "\x80\x02(\x85.",                      // TUPLE1 reaching below the MARK
           "\x80\x02h\x05.",                      // BINGET of a key never stored
           "\x80\x02q\x00."s,                      // BINPUT on an empty stack
           "\x80\x02NNs.",                        // SETITEM on None
           "\x80\x02]NNs.",                       // SETITEM on a list
           "\x80\x02}(Nu.",                       // SETITEMS with an odd count
           "\x80\x02NNa.",                        // APPEND on None
           "\x80\x02NNR.",                        // REDUCE on None
           "\x80\x02" "ccollections\nOrderedDict\nNR.",         // REDUCE with non-tuple args
           "\x80\x02" "ccollections\nOrderedDict\n(NtR.",       // OrderedDict(None)
           "\x80\x02}N\x62N\x62.",                // BUILD twice
           "\x80\x02J\x01\x02.",                  // truncated BININT
           "\x80\x02X\x05\x00\x00\x00" "ab."s,      // BINUNICODE past the end
           "\x80\x02X\x02\x00\x00\x00\xC3(."s,     // not UTF-8
           "\x80\x02X\x03\x00\x00\x00\xED\xA0\x80."s,  // a surrogate
           "\x80\x02" "ccollections",             // GLOBAL without newline
           "\x80\x04\x95\xFF\x00\x00\x00\x00\x00\x00\x00N."s,  // frame past the end
           "\x80\x04NN\x93.",                     // STACK_GLOBAL of non-strings
       }) {
    Error e = error_of(p);
    EXPECT_EQ(errc_name(e.code()), errc_name(Errc::kPickleInvalid)) << e.what();
  }
}

TEST(Unpickler, EnforcesLimits) {
  // A BINUNICODE8 claiming 2^62 bytes, and a LONG1 wider than 64 bits.
  Error e = error_of(raw({0x80, 4, 0x8d, 0, 0, 0, 0, 0, 0, 0, 0x40, '.'}));
  EXPECT_EQ(e.code(), Errc::kPickleLimit) << e.what();
  e = error_of(raw({0x80, 2, 0x8a, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9, '.'}));
  EXPECT_EQ(e.code(), Errc::kPickleLimit) << e.what();
  // Deep nesting: many open MARKs.
  e = error_of("\x80\x02" + std::string(20000, '(') + ".");
  EXPECT_EQ(e.code(), Errc::kPickleLimit) << e.what();
  Limits small;
  small.max_stack = 100;
  small.max_objects = 1000;
  small.max_container = 50;
  small.max_memo = 10;
  small.max_string = 4;
  EXPECT_EQ(error_of("\x80\x02" + std::string(200, 'N') + ".", small).code(), Errc::kPickleLimit);
  std::string many = "\x80\x02]";
  for (int i = 0; i < 60; ++i) many += "Na";
  EXPECT_EQ(error_of(many + ".", small).code(), Errc::kPickleLimit);
  std::string memo = "\x80\x04N";
  for (int i = 0; i < 20; ++i) memo += "\x94";
  EXPECT_EQ(error_of(memo + ".", small).code(), Errc::kPickleLimit);
  EXPECT_EQ(error_of("\x80\x02" + binunicode("hello") + ".", small).code(), Errc::kPickleLimit);
  // Total objects.
  std::string lots = "\x80\x02]";
  for (int i = 0; i < 1100; ++i) lots += "N";
  small.max_stack = 100000;
  EXPECT_EQ(error_of(lots + ".", small).code(), Errc::kPickleLimit);
}

TEST(Unpickler, EveryTruncationOfAValidPickleIsRefused) {
  std::string p = "\x80\x02" "ccollections\nOrderedDict\nq\x00)R("s + binunicode("a") + "K\x01" + binunicode("b") +
                  "G\x3f\xf0\x00\x00\x00\x00\x00\x00u."s;
  ASSERT_NO_THROW(load(p));
  for (size_t n = 0; n < p.size(); ++n) EXPECT_THROW(load(p.substr(0, n)), Error) << n;
}

}  // namespace
}  // namespace moeckpt::pickle
