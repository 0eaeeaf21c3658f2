// The CIFAR ResNet (He et al. 2016, "option A" shortcuts) as a list of layer records run by a backend.
//
// Architecture for depth 6n + 2, input [N, Cin, S, S]:
//   conv1 (Cin -> 16) - bn1 - relu
//   layer1: n basic blocks, 16 channels, stride 1        (S x S)
//   layer2: n basic blocks, 32 channels, first stride 2  (ceil(S/2))
//   layer3: n basic blocks, 64 channels, first stride 2  (ceil(S/4))
//   global average pool -> 64-d embedding -> head (linear: 64 -> classes with bias; cosine: NormedLinear)
//   basic block: out = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)), shortcut as in nn/dims.h.
//
// Memory: all parameters in one flat buffer, their gradients in a second and the SGD momentum in a third,
// each with the same name -> (offset, shape) table using PyTorch's module names (conv1.weight, bn1.weight,
// bn1.bias, layer1.0.conv1.weight, ..., linear.weight, linear.bias) in named_parameters() order. Batch-norm
// running statistics live in a fourth flat buffer (bn1.running_mean, bn1.running_var, ...), not trained;
// num_batches_tracked is kept per batch-norm layer as an integer. Activations and gradient scratch live in
// one arena sized for a batch capacity (reserve) and reused for every smaller batch.
//
// Initialisation (as the reference's _weights_init): convolutions and the linear head weight are
// Kaiming-normal in fan_in mode with gain sqrt(2) (std = sqrt(2 / fan_in)); the linear bias keeps
// PyTorch's default nn.Linear init U(-1/sqrt(64), 1/sqrt(64)); the cosine head's weight is U(-1, 1) with
// every output column scaled to unit norm (the reference's uniform_(-1, 1).renorm_(2, 1, 1e-5).mul_(1e5));
// batch-norm weight 1, bias 0, running mean 0, running var 1. Every draw is a Philox function of (seed,
// parameter name, element index), so a parameter's initial values do not depend on the others.
//
// Public methods take host pointers; the backend moves data to its own memory.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "nn/backend.h"
#include "nn/losses.h"
#include "nn/sgd.h"
#include "nn/trunk.h"

namespace eos {

enum class HeadKind { kLinear, kCosine };
enum class Mode { kTrain, kEval };

struct NetworkSpec {
  int64_t depth = 32;       // 6n + 2, n >= 1
  int64_t in_channels = 3;  // input channels
  int64_t side = 32;        // input height = width, >= 8
  int64_t classes = 10;     // >= 2
  uint64_t seed = 0;        // initialisation seed
  HeadKind head = HeadKind::kLinear;
  double bn_momentum = 0.1;  // PyTorch's BatchNorm2d defaults
  double bn_eps = 1e-5;
};

// An empty string when the spec is valid, otherwise a message naming the field and what was expected.
std::string validate_spec(const NetworkSpec& spec);

// A named tensor inside one of the flat buffers.
struct TensorInfo {
  std::string name;
  int64_t offset;              // elements from the start of the buffer
  std::vector<int64_t> shape;  // PyTorch's shape
  int64_t count;               // product of shape
};

template <typename T>
class Network {
 public:
  static constexpr int64_t kEmbeddingDim = 64;

  // Builds the layer list and initialises the parameters from spec.seed. Throws std::invalid_argument for an
  // invalid spec.
  Network(const NetworkSpec& spec, std::unique_ptr<Backend<T>> backend);
  ~Network();
  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;

  const NetworkSpec& spec() const { return spec_; }
  const char* backend_name() const { return trunk_ ? trunk_->name() : backend_->name(); }

  // Hands the trunk to a fused provider (float networks on a host-memory backend only); the head, loss and
  // SGD stay on the backend. Null restores the per-op path.
  void set_trunk(std::unique_ptr<TrunkProvider> trunk);
  // Host views of the flat buffers, for a TrunkProvider built over them (host-memory backends only).
  T* parameter_data() { return params_; }
  T* gradient_data() { return grads_; }
  T* buffer_data() { return buffers_; }

  // --- tables and flat buffers
  const std::vector<TensorInfo>& parameters() const { return params_table_; }
  const std::vector<TensorInfo>& buffers() const { return buffers_table_; }
  // Batch-norm layer names ("bn1", "layer1.0.bn1", ...), the order of num_batches_tracked().
  const std::vector<std::string>& batchnorm_names() const { return bn_names_; }
  std::vector<int64_t>& num_batches_tracked() { return num_batches_tracked_; }
  int64_t parameter_count() const { return param_count_; }
  int64_t buffer_count() const { return buffer_count_; }
  const TensorInfo* find_parameter(const std::string& name) const;
  const TensorInfo* find_buffer(const std::string& name) const;

  // Whole-buffer copies, host [parameter_count()] or [buffer_count()].
  void get_parameters(T* host) const;
  void set_parameters(const T* host);
  void get_gradients(T* host) const;
  void get_momentum(T* host) const;
  void set_momentum(const T* host);
  void get_buffers(T* host) const;
  void set_buffers(const T* host);
  // One named parameter or buffer (host [count]); false when the name is unknown.
  bool read_tensor(const std::string& name, T* host) const;
  bool write_tensor(const std::string& name, const T* host);

  // Fresh initial parameters from `seed` (also resets momentum, running statistics and counters).
  void initialize(uint64_t seed);

  // OpenMP threads for every following call (<= 0: the OpenMP default). Results are bitwise reproducible
  // for a fixed thread count.
  void set_threads(int threads) { threads_ = threads; }

  // Sizes the activation arena for batches up to `capacity` (forward does it on demand).
  void reserve(int64_t capacity);
  int64_t capacity() const { return capacity_; }
  int64_t arena_elements() const { return arena_count_; }

  // x: host [batch, Cin, S, S] NCHW. Writes logits [batch, classes] and the pooled embeddings [batch, 64]
  // when those pointers are not null. Train mode uses batch statistics and updates the running ones.
  void forward(const T* x, int64_t batch, Mode mode, T* logits, T* embeddings);
  // Parameter gradients (overwritten) from dL/dlogits (host [batch, classes]) of the last forward, which
  // must have been in train mode. Throws std::logic_error otherwise.
  void backward(const T* dlogits);
  void sgd_step(const SgdConfig& cfg);
  // forward(train) + loss + backward + SGD step on one batch; returns the loss (before the step). Writes the
  // logits when `logits` is not null.
  double train_step(const T* x, const int32_t* labels, int64_t batch, const LossConfig& loss,
                    const SgdConfig& sgd, T* logits = nullptr);

  // Testing aid for comparisons of two backends: when tracking is on, every train-mode forward of the per-op
  // path records the smallest |x| over the inputs of every ReLU. Two correct backends may put an input on
  // opposite sides of a ReLU only where |x| is within their rounding error, and there their gradients
  // legitimately differ, so a comparison picks inputs whose margin is well above that error. Reads the
  // activations on the host: host-memory backends (ref) only; costs one pass over each ReLU input.
  void track_relu_margin(bool on) { track_relu_margin_ = on; }
  // The smallest |x| recorded since the last call (+inf when none), and a reset.
  double take_relu_margin();

 private:
  enum class LayerKind { kConv, kBatchNorm, kRelu, kShortcutAdd, kAvgPool, kLinear, kCosine };
  struct Act {
    int64_t c, side;  // per-image shape [c, side, side]
    int64_t offset;   // in the arena (set by reserve)
  };
  struct Layer {
    LayerKind kind;
    int in = -1, out = -1, aux = -1;  // activation ids; aux is the shortcut's source
    int64_t c_in = 0, c_out = 0, side_in = 0, side_out = 0, stride = 1;
    int64_t weight = -1, bias = -1;                           // offsets into params / grads
    int64_t running_mean = -1, running_var = -1, stats = -1;  // batch norm: buffers; saved mean, invstd
    int bn = -1;                                              // batch-norm index
    int grad_in = -1, grad_out = -1;                          // gradient slots (backward plan)
    bool accumulate = false;                                  // add into grad_in instead of overwriting it
  };

  int add_act(int64_t c, int64_t side);
  int64_t add_param(const std::string& name, std::vector<int64_t> shape);
  int conv(const std::string& name, int in, int64_t c_out, int64_t stride);
  int batchnorm(const std::string& name, int in);
  void relu(int t);
  void plan_backward();
  T* act(int id) const { return arena_ + acts_[id].offset; }
  T* grad(int slot) const { return arena_ + slot_offsets_[slot]; }
  int64_t act_count(int id) const { return acts_[id].c * acts_[id].side * acts_[id].side; }

  NetworkSpec spec_;
  std::unique_ptr<Backend<T>> backend_;
  std::unique_ptr<TrunkProvider> trunk_;
  int threads_ = 0;

  std::vector<Layer> layers_;
  std::vector<Act> acts_;
  int input_ = -1, embedding_ = -1, logits_ = -1;
  std::vector<int64_t> slot_sizes_;    // per-image elements of each gradient slot
  std::vector<int64_t> slot_offsets_;  // in the arena (set by reserve)

  std::vector<TensorInfo> params_table_, buffers_table_;
  std::vector<std::string> bn_names_;
  std::vector<int64_t> num_batches_tracked_;
  int64_t param_count_ = 0, buffer_count_ = 0, stats_count_ = 0;

  T* params_ = nullptr;
  T* grads_ = nullptr;
  T* momentum_ = nullptr;
  T* buffers_ = nullptr;
  T* stats_ = nullptr;  // saved batch mean and invstd of every batch norm
  T* arena_ = nullptr;
  int64_t capacity_ = 0, arena_count_ = 0;
  int64_t train_batch_ = 0;  // batch of the last train-mode forward (0: none, or an eval forward since)
  std::vector<T> host_logits_, host_dlogits_;
  bool track_relu_margin_ = false;
  double relu_margin_ = std::numeric_limits<double>::infinity();
};

}  // namespace eos
