#include "fixture_io.h"

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace eos::test {

namespace {

class Parser {
 public:
  explicit Parser(const std::string& s) : s_(s) {}
  Json parse() {
    Json v = value();
    skip();
    if (i_ != s_.size()) fail("trailing characters");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& what) {
    throw std::runtime_error("json: " + what + " at offset " + std::to_string(i_));
  }
  void skip() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\r' || s_[i_] == '\t')) ++i_;
  }
  bool eat(char c) {
    skip();
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!eat(c)) fail(std::string("expected '") + c + "'");
  }
  bool literal(const char* word) {
    const size_t n = std::strlen(word);
    if (s_.compare(i_, n, word) == 0) {
      i_ += n;
      return true;
    }
    return false;
  }
  std::string str() {
    expect('"');
    std::string out;
    while (i_ < s_.size() && s_[i_] != '"') {
      char c = s_[i_++];
      if (c == '\\') {
        if (i_ >= s_.size()) fail("bad escape");
        const char e = s_[i_++];
        switch (e) {
          case 'n':
            c = '\n';
            break;
          case 't':
            c = '\t';
            break;
          case 'r':
            c = '\r';
            break;
          case 'b':
            c = '\b';
            break;
          case 'f':
            c = '\f';
            break;
          case 'u': {
            if (i_ + 4 > s_.size()) fail("bad \\u escape");
            const unsigned code = static_cast<unsigned>(std::stoul(s_.substr(i_, 4), nullptr, 16));
            i_ += 4;
            if (code > 0x7f) fail("non-ASCII \\u escape");  // not needed by the fixtures
            c = static_cast<char>(code);
            break;
          }
          default:
            c = e;  // \" \\ \/
        }
      }
      out.push_back(c);
    }
    if (i_ >= s_.size()) fail("unterminated string");
    ++i_;
    return out;
  }
  Json value() {
    skip();
    if (i_ >= s_.size()) fail("unexpected end");
    Json v;
    const char c = s_[i_];
    if (c == '{') {
      ++i_;
      v.kind = Json::Kind::kObject;
      if (eat('}')) return v;
      do {
        skip();
        std::string key = str();
        expect(':');
        v.object.emplace_back(std::move(key), value());
      } while (eat(','));
      expect('}');
    } else if (c == '[') {
      ++i_;
      v.kind = Json::Kind::kArray;
      if (eat(']')) return v;
      do v.array.push_back(value());
      while (eat(','));
      expect(']');
    } else if (c == '"') {
      v.kind = Json::Kind::kString;
      v.string = str();
    } else if (literal("true")) {
      v.kind = Json::Kind::kBool;
      v.boolean = true;
    } else if (literal("false")) {
      v.kind = Json::Kind::kBool;
    } else if (literal("null")) {
      v.kind = Json::Kind::kNull;
    } else {
      const char* begin = s_.c_str() + i_;
      char* end = nullptr;
      v.number = std::strtod(begin, &end);
      if (end == begin) fail("unexpected character");
      v.kind = Json::Kind::kNumber;
      i_ += static_cast<size_t>(end - begin);
    }
    return v;
  }

  const std::string& s_;
  size_t i_ = 0;
};

}  // namespace

bool Json::has(const std::string& key) const {
  for (const auto& [k, v] : object) {
    if (k == key) return true;
  }
  return false;
}

const Json& Json::operator[](const std::string& key) const {
  for (const auto& [k, v] : object) {
    if (k == key) return v;
  }
  throw std::runtime_error("json: no key '" + key + "'");
}

std::vector<double> Json::numbers() const {
  std::vector<double> out;
  for (const Json& e : array) out.push_back(e.number);
  return out;
}

Json parse_json(const std::string& text) { return Parser(text).parse(); }

SafeTensors::SafeTensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  unsigned char len_bytes[8];
  if (!in.read(reinterpret_cast<char*>(len_bytes), 8)) throw std::runtime_error(path + ": no header length");
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | len_bytes[i];
  if (header_len > (uint64_t{1} << 26)) throw std::runtime_error(path + ": header too long");
  std::string header(header_len, '\0');
  if (!in.read(header.data(), static_cast<std::streamsize>(header_len)))
    throw std::runtime_error(path + ": short header");
  std::ostringstream rest;
  rest << in.rdbuf();
  const std::string bytes = rest.str();
  data_.assign(bytes.begin(), bytes.end());
  const Json h = parse_json(header);
  for (const auto& [name, v] : h.object) {
    if (name == "__metadata__") {
      for (const auto& [k, s] : v.object) metadata_[k] = s.string;
      continue;
    }
    Entry e;
    e.dtype = v["dtype"].string;
    for (double d : v["shape"].numbers()) e.shape.push_back(static_cast<int64_t>(d));
    const std::vector<double> off = v["data_offsets"].numbers();
    e.begin = static_cast<size_t>(off.at(0));
    e.end = static_cast<size_t>(off.at(1));
    if (e.end < e.begin || e.end > data_.size()) throw std::runtime_error(path + ": bad offsets for " + name);
    entries_[name] = e;
  }
}

const SafeTensors::Entry& SafeTensors::entry(const std::string& name, const char* dtype,
                                             size_t element_size) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) throw std::runtime_error("fixture has no tensor '" + name + "'");
  if (it->second.dtype != dtype) throw std::runtime_error("tensor '" + name + "' is " + it->second.dtype);
  if ((it->second.end - it->second.begin) % element_size != 0)
    throw std::runtime_error("bad size of " + name);
  return it->second;
}

std::vector<int64_t> SafeTensors::shape(const std::string& name) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) throw std::runtime_error("fixture has no tensor '" + name + "'");
  return it->second.shape;
}

// The fixtures are little-endian, as every machine this library targets.
std::vector<float> SafeTensors::f32(const std::string& name) const {
  const Entry& e = entry(name, "F32", 4);
  std::vector<float> out((e.end - e.begin) / 4);
  std::memcpy(out.data(), data_.data() + e.begin, e.end - e.begin);
  return out;
}
std::vector<double> SafeTensors::f64(const std::string& name) const {
  const Entry& e = entry(name, "F64", 8);
  std::vector<double> out((e.end - e.begin) / 8);
  std::memcpy(out.data(), data_.data() + e.begin, e.end - e.begin);
  return out;
}
std::vector<int32_t> SafeTensors::i32(const std::string& name) const {
  const Entry& e = entry(name, "I32", 4);
  std::vector<int32_t> out((e.end - e.begin) / 4);
  std::memcpy(out.data(), data_.data() + e.begin, e.end - e.begin);
  return out;
}

std::string fixtures_dir() {
  if (const char* env = std::getenv("EOS_FIXTURES_DIR")) return env;
  std::string prefix;
  for (int up = 0; up < 8; ++up) {
    const std::string candidate = prefix + "test/fixtures";
    if (std::ifstream(candidate + "/torch/make_fixtures.py")) return candidate;
    prefix += "../";
  }
  return "";
}

}  // namespace eos::test
