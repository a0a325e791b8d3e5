#include "mapping/param_expr.h"

#include <cmath>
#include <stdexcept>
#include <vector>

namespace moeckpt {

bool ExprValue::truthy() const {
  switch (v.index()) {
    case 2: return std::get<bool>(v);
    case 3: return std::get<int64_t>(v) != 0;
    case 4: return std::get<double>(v) != 0.0;
    case 5: return !std::get<std::string>(v).empty();
    default: return false;
  }
}

std::optional<int64_t> ExprValue::as_int() const {
  if (auto* i = std::get_if<int64_t>(&v)) return *i;
  if (auto* d = std::get_if<double>(&v)) {
    if (std::isfinite(*d) && std::floor(*d) == *d && std::fabs(*d) < 9.0e15) return static_cast<int64_t>(*d);
  }
  return std::nullopt;
}

std::string ExprValue::to_string() const {
  switch (v.index()) {
    case 1: return "null";
    case 2: return std::get<bool>(v) ? "true" : "false";
    case 3: return std::to_string(std::get<int64_t>(v));
    case 4: {
      std::string s = std::to_string(std::get<double>(v));
      while (s.size() > 1 && s.back() == '0' && s[s.size() - 2] != '.') s.pop_back();
      return s;
    }
    case 5: return "'" + std::get<std::string>(v) + "'";
    default: return "undefined";
  }
}

enum class Op { kLit, kName, kIndex, kNot, kNeg, kAdd, kSub, kMul, kDiv, kMod, kEq, kNe, kLt, kLe, kGt, kGe, kAnd, kOr, kCoalesce, kLen };

struct Expr::Node {
  Op op = Op::kLit;
  ExprValue lit;
  std::string name;
  std::shared_ptr<const Node> a, b;
};

namespace {

using NodeP = std::shared_ptr<const Expr::Node>;

// Recursive descent, one level per precedence (lowest first): ??, ||, &&, comparison, + -,
// * / %, unary.
class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s) {}

  NodeP parse() {
    NodeP n = coalesce();
    skip_space();
    if (i_ != s_.size()) fail("unexpected '" + std::string(1, s_[i_]) + "'");
    return n;
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    throw std::invalid_argument("expression '" + std::string(s_) + "' at " + std::to_string(i_ + 1) + ": " + why);
  }
  void skip_space() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t')) ++i_;
  }
  bool eat(std::string_view tok) {
    skip_space();
    if (s_.substr(i_, tok.size()) != tok) return false;
    i_ += tok.size();
    return true;
  }
  static NodeP bin(Op op, NodeP a, NodeP b) {
    auto n = std::make_shared<Expr::Node>();
    n->op = op;
    n->a = std::move(a);
    n->b = std::move(b);
    return n;
  }
  NodeP enter() {
    if (++depth_ > 64) fail("nested too deeply");
    return nullptr;
  }

  NodeP coalesce() {
    NodeP n = logic_or();
    while (eat("??")) n = bin(Op::kCoalesce, n, logic_or());
    return n;
  }
  NodeP logic_or() {
    NodeP n = logic_and();
    while (eat("||")) n = bin(Op::kOr, n, logic_and());
    return n;
  }
  NodeP logic_and() {
    NodeP n = compare();
    while (eat("&&")) n = bin(Op::kAnd, n, compare());
    return n;
  }
  NodeP compare() {
    NodeP n = sum();
    static const std::pair<std::string_view, Op> ops[] = {{"==", Op::kEq}, {"!=", Op::kNe}, {"<=", Op::kLe},
                                                          {">=", Op::kGe}, {"<", Op::kLt},  {">", Op::kGt}};
    for (const auto& [tok, op] : ops)
      if (eat(tok)) return bin(op, n, sum());
    return n;
  }
  NodeP sum() {
    NodeP n = product();
    for (;;) {
      if (eat("+")) n = bin(Op::kAdd, n, product());
      else if (peek_minus() && eat("-")) n = bin(Op::kSub, n, product());
      else return n;
    }
  }
  bool peek_minus() {
    skip_space();
    return i_ < s_.size() && s_[i_] == '-';
  }
  NodeP product() {
    NodeP n = unary();
    for (;;) {
      if (eat("*")) n = bin(Op::kMul, n, unary());
      else if (eat("/")) n = bin(Op::kDiv, n, unary());
      else if (eat("%")) n = bin(Op::kMod, n, unary());
      else return n;
    }
  }
  NodeP unary() {
    enter();
    NodeP n;
    skip_space();
    if (i_ < s_.size() && s_[i_] == '!' && s_.substr(i_, 2) != "!=") {
      ++i_;
      n = bin(Op::kNot, unary(), nullptr);
    } else if (eat("-")) {
      n = bin(Op::kNeg, unary(), nullptr);
    } else {
      n = primary();
    }
    --depth_;
    return n;
  }
  NodeP primary() {
    skip_space();
    if (i_ >= s_.size()) fail("expected a value");
    char c = s_[i_];
    if (c == '(') {
      ++i_;
      NodeP n = coalesce();
      if (!eat(")")) fail("expected ')'");
      return n;
    }
    auto n = std::make_shared<Expr::Node>();
    if (c == '\'') return string_literal(n);
    if (c >= '0' && c <= '9') return number(n);
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') return name(n);
    fail("unexpected '" + std::string(1, c) + "'");
  }
  NodeP string_literal(std::shared_ptr<Expr::Node>& n) {
    size_t end = s_.find('\'', i_ + 1);
    if (end == std::string_view::npos) fail("unterminated string");
    n->lit.v = std::string(s_.substr(i_ + 1, end - i_ - 1));
    i_ = end + 1;
    return n;
  }
  NodeP number(std::shared_ptr<Expr::Node>& n) {
    size_t start = i_;
    bool dot = false;
    while (i_ < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[i_])) || (s_[i_] == '.' && !dot))) dot |= s_[i_++] == '.';
    std::string t(s_.substr(start, i_ - start));
    try {
      if (dot) n->lit.v = std::stod(t);
      else n->lit.v = static_cast<int64_t>(std::stoll(t));
    } catch (const std::exception&) {
      fail("number out of range");
    }
    return n;
  }
  std::string name_text() {
    size_t start = i_;
    while (i_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[i_])) || s_[i_] == '_' || s_[i_] == '.')) ++i_;
    std::string t(s_.substr(start, i_ - start));
    if (t.empty() || std::isdigit(static_cast<unsigned char>(t[0]))) fail("expected a name");
    if (t.back() == '.') fail("a name cannot end with '.'");
    return t;
  }
  NodeP name(std::shared_ptr<Expr::Node>& n) {
    std::string t = name_text();
    if (t == "true" || t == "false") n->lit.v = t == "true";
    else if (t == "null") n->lit.v = nullptr;
    else if (t == "len" && eat("(")) {
      // len(list_or_object): its number of entries (the name + kExprLengthSuffix, for the resolver).
      skip_space();
      n->op = Op::kLen;
      n->name = name_text();
      if (!eat(")")) fail("expected ')'");
    } else {
      n->op = Op::kName;
      n->name = std::move(t);
      if (eat("[")) {  // name[i]: the i-th entry of a config list, or character of a string
        n->op = Op::kIndex;
        n->a = coalesce();
        if (!eat("]")) fail("expected ']'");
      }
    }
    return n;
  }

  std::string_view s_;
  size_t i_ = 0;
  int depth_ = 0;
};

ExprValue undefined() { return {}; }

std::optional<double> as_number(const ExprValue& x) {
  if (auto* i = std::get_if<int64_t>(&x.v)) return static_cast<double>(*i);
  if (auto* d = std::get_if<double>(&x.v)) return *d;
  return std::nullopt;
}

ExprValue arith(Op op, const ExprValue& a, const ExprValue& b) {
  const int64_t* ia = std::get_if<int64_t>(&a.v);
  const int64_t* ib = std::get_if<int64_t>(&b.v);
  if (ia && ib) {
    int64_t r = 0;
    switch (op) {
      case Op::kAdd: if (__builtin_add_overflow(*ia, *ib, &r)) return undefined(); break;
      case Op::kSub: if (__builtin_sub_overflow(*ia, *ib, &r)) return undefined(); break;
      case Op::kMul: if (__builtin_mul_overflow(*ia, *ib, &r)) return undefined(); break;
      case Op::kDiv: if (*ib == 0 || (*ia == INT64_MIN && *ib == -1)) return undefined(); r = *ia / *ib; break;
      default: if (*ib == 0 || (*ia == INT64_MIN && *ib == -1)) return undefined(); r = *ia % *ib; break;
    }
    return {r};
  }
  auto x = as_number(a), y = as_number(b);
  if (!x || !y) return undefined();
  double r = 0;
  switch (op) {
    case Op::kAdd: r = *x + *y; break;
    case Op::kSub: r = *x - *y; break;
    case Op::kMul: r = *x * *y; break;
    case Op::kDiv: if (*y == 0) return undefined(); r = *x / *y; break;
    default: if (*y == 0) return undefined(); r = std::fmod(*x, *y); break;
  }
  if (!std::isfinite(r)) return undefined();
  return {r};
}

ExprValue compare(Op op, const ExprValue& a, const ExprValue& b) {
  if (!a.defined() || !b.defined()) return undefined();
  int c = 0;  // <0, 0, >0; 2 when the kinds cannot be ordered
  auto x = as_number(a), y = as_number(b);
  if (x && y) c = *x < *y ? -1 : (*x > *y ? 1 : 0);
  else if (a.v.index() == b.v.index()) {
    if (auto* s = std::get_if<std::string>(&a.v)) c = s->compare(std::get<std::string>(b.v)) < 0 ? -1 : (*s == std::get<std::string>(b.v) ? 0 : 1);
    else if (auto* p = std::get_if<bool>(&a.v)) c = *p == std::get<bool>(b.v) ? 0 : 2;
    else c = 0;  // null == null
  } else {
    c = 2;
  }
  switch (op) {
    case Op::kEq: return {c == 0};
    case Op::kNe: return {c != 0};
    default: break;
  }
  if (c == 2) return undefined();
  switch (op) {
    case Op::kLt: return {c < 0};
    case Op::kLe: return {c <= 0};
    case Op::kGt: return {c > 0};
    default: return {c >= 0};
  }
}

ExprValue eval_node(const Expr::Node& n, const ExprResolver& resolve) {
  switch (n.op) {
    case Op::kLit: return n.lit;
    case Op::kName: return resolve(n.name);
    case Op::kIndex: {
      auto i = eval_node(*n.a, resolve).as_int();
      if (!i || *i < 0) return undefined();
      return resolve(n.name + "[" + std::to_string(*i) + "]");
    }
    case Op::kLen: return resolve(n.name + std::string(kExprLengthSuffix));
    case Op::kNot: {
      ExprValue a = eval_node(*n.a, resolve);
      return {!a.truthy()};
    }
    case Op::kNeg: return arith(Op::kSub, ExprValue{int64_t{0}}, eval_node(*n.a, resolve));
    case Op::kAnd: {
      if (!eval_node(*n.a, resolve).truthy()) return {false};
      return {eval_node(*n.b, resolve).truthy()};
    }
    case Op::kOr: {
      if (eval_node(*n.a, resolve).truthy()) return {true};
      return {eval_node(*n.b, resolve).truthy()};
    }
    case Op::kCoalesce: {
      ExprValue a = eval_node(*n.a, resolve);
      if (a.defined() && a.v.index() != 1) return a;
      return eval_node(*n.b, resolve);
    }
    case Op::kEq: case Op::kNe: case Op::kLt: case Op::kLe: case Op::kGt: case Op::kGe:
      return compare(n.op, eval_node(*n.a, resolve), eval_node(*n.b, resolve));
    default:
      return arith(n.op, eval_node(*n.a, resolve), eval_node(*n.b, resolve));
  }
}

}  // namespace

Expr Expr::parse(std::string_view text) {
  Expr e;
  e.root_ = Parser(text).parse();
  e.text_ = std::string(text);
  return e;
}

ExprValue Expr::eval(const ExprResolver& resolve) const {
  if (!root_) return {};
  return eval_node(*root_, resolve);
}

}  // namespace moeckpt
