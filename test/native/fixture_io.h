// Reading the PyTorch reference fixtures: a small JSON parser and a safetensors reader (test-only code).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace eos::test {

struct Json {
  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };
  Kind kind = Kind::kNull;
  bool boolean = false;
  double number = 0;
  std::string string;
  std::vector<Json> array;
  std::vector<std::pair<std::string, Json>> object;

  bool has(const std::string& key) const;
  const Json& operator[](const std::string& key) const;  // throws std::runtime_error when missing
  std::vector<double> numbers() const;                   // an array of numbers
};

// Throws std::runtime_error naming the offset of a syntax error.
Json parse_json(const std::string& text);

class SafeTensors {
 public:
  // Throws std::runtime_error when the file cannot be read or is malformed.
  explicit SafeTensors(const std::string& path);
  bool has(const std::string& name) const { return entries_.count(name) != 0; }
  std::vector<int64_t> shape(const std::string& name) const;
  std::vector<float> f32(const std::string& name) const;
  std::vector<double> f64(const std::string& name) const;
  std::vector<int32_t> i32(const std::string& name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  struct Entry {
    std::string dtype;
    std::vector<int64_t> shape;
    size_t begin, end;
  };
  const Entry& entry(const std::string& name, const char* dtype, size_t element_size) const;
  std::map<std::string, Entry> entries_;
  std::map<std::string, std::string> metadata_;
  std::vector<char> data_;
};

// The directory holding the fixtures (test/fixtures): $EOS_FIXTURES_DIR, else the first test/fixtures found
// from the working directory upwards. Empty when none is found.
std::string fixtures_dir();

}  // namespace eos::test
