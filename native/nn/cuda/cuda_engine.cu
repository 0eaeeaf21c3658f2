#include <algorithm>
#include <cstring>
#include <numeric>
#include <stdexcept>

#include "nn/cuda/cuda_engine.h"
#include "nn/dims.h"
#include "nn/host_model.h"
#include "nn/layer_plan.h"

namespace eos::cuda {

namespace {

constexpr int kAccountThreads = 256;  // a power of two (the tree reduction below halves it)
constexpr int64_t kArenaAlign = 64;   // floats: every tensor in the arena starts on a 256-byte boundary

int64_t aligned(int64_t floats) { return (floats + kArenaAlign - 1) / kArenaAlign * kArenaAlign; }

// After a training step: the correct count of the train-mode logits (ranked as std::max_element ranks, the
// first maximum wins), the loss totals of a finite batch, or the divergence of a non-finite one (every later
// SGD step is skipped), the row offset advanced by the batch, and a copy of the totals into the host ring.
// One block; the integer tree sum is exact, so the thread count does not change the result.
__global__ void account_step(const float* logits, const int32_t* labels, int64_t batch, int64_t classes,
                             const double* loss, int64_t* offset, int32_t* skip, CudaEngine::Accounting* acc,
                             CudaEngine::Accounting* ring, int ring_slots) {
  __shared__ int64_t partial[kAccountThreads];
  int64_t correct = 0;
  for (int64_t i = threadIdx.x; i < batch; i += blockDim.x) {
    const float* row = logits + i * classes;
    int64_t best = 0;
    for (int64_t k = 1; k < classes; ++k) {
      if (row[best] < row[k]) best = k;
    }
    correct += best == labels[i] ? 1 : 0;
  }
  partial[threadIdx.x] = correct;
  __syncthreads();
  for (int half = blockDim.x / 2; half > 0; half /= 2) {
    if (static_cast<int>(threadIdx.x) < half) partial[threadIdx.x] += partial[threadIdx.x + half];
    __syncthreads();
  }
  if (threadIdx.x != 0) return;
  CudaEngine::Accounting a = *acc;
  if (a.diverged_at < 0) {
    const double value = *loss;
    if (isfinite(value)) {
      a.loss_sum += value * static_cast<double>(batch);
      a.images += batch;
      a.correct += partial[0];
    } else {
      a.diverged_at = a.steps;
      *skip = 1;
    }
  }
  *offset += batch;
  const int64_t step = a.steps++;
  *acc = a;
  ring[step % ring_slots] = a;
  __threadfence_system();  // the host reads the ring after the step's event
}

// After an eval batch: the next replay reads the next rows.
__global__ void advance_offset(int64_t* offset, int64_t by) { *offset += by; }

// Change detection for the image cache (not cryptographic): 8 bytes per round, each word mixed by a
// multiply before it enters the state, so a changed byte anywhere changes the result.
uint64_t hash_bytes(const uint8_t* p, int64_t n) {
  uint64_t h = 0x9E3779B97F4A7C15ull ^ static_cast<uint64_t>(n);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    h ^= w * 0xFF51AFD7ED558CCDull;
    h = ((h << 27) | (h >> 37)) * 0xC4CEB9FE1A85EC53ull;
  }
  for (; i < n; ++i) h = (h ^ p[i]) * 0x100000001B3ull;
  h ^= h >> 33;
  h *= 0xFF51AFD7ED558CCDull;
  return h ^ (h >> 33);
}

void add_augment(GraphKey& key, const DeviceAugment& a) {
  key.add(a.channels)
      .add(a.height)
      .add(a.width)
      .add(a.pad)
      .add(a.flip)
      .add(a.augment)
      .add(a.seed)
      .add(a.epoch);
  for (int64_t c = 0; c < a.channels && c < kMaxAugmentChannels; ++c) key.add(a.mean[c]).add(a.std[c]);
}

}  // namespace

void copy_now(void* dst, const void* src, int64_t bytes, cudaMemcpyKind kind, cudaStream_t stream) {
  if (bytes <= 0) return;
  EOS_CUDA_CHECK(cudaMemcpyAsync(dst, src, static_cast<size_t>(bytes), kind, stream));
  EOS_CUDA_CHECK(cudaStreamSynchronize(stream));
}

DeviceScope::DeviceScope(int device) {
  EOS_CUDA_CHECK(cudaGetDevice(&previous_));
  if (previous_ != device) EOS_CUDA_CHECK(cudaSetDevice(device));
}

DeviceScope::~DeviceScope() { cudaSetDevice(previous_); }

DeviceLoss upload_loss(const LossConfig& cfg, const std::vector<double>& weights, int64_t k,
                       DeviceBuffer<double>& weight_buffer, DeviceBuffer<double>& margin_buffer,
                       cudaStream_t stream) {
  if (!weights.empty() && static_cast<int64_t>(weights.size()) != k) {
    throw std::invalid_argument("class_weights needs one weight per class");
  }
  if (cfg.kind == LossKind::kLdam && static_cast<int64_t>(cfg.ldam_margins.size()) != k) {
    throw std::invalid_argument("ldam needs one margin per class");
  }
  DeviceLoss d;
  d.kind = cfg.kind;
  d.focal_gamma = cfg.focal_gamma;
  d.ldam_scale = cfg.ldam_scale;
  d.asl_gamma_pos = cfg.asl_gamma_pos;
  d.asl_gamma_neg = cfg.asl_gamma_neg;
  d.asl_eps = cfg.asl_eps;
  if (!weights.empty()) {
    weight_buffer.reserve(k);
    EOS_CUDA_CHECK(cudaMemcpyAsync(weight_buffer.data(), weights.data(),
                                   static_cast<size_t>(k) * sizeof(double), cudaMemcpyHostToDevice, stream));
    d.class_weights = weight_buffer.data();
  }
  if (cfg.kind == LossKind::kLdam) {
    margin_buffer.reserve(k);
    EOS_CUDA_CHECK(cudaMemcpyAsync(margin_buffer.data(), cfg.ldam_margins.data(),
                                   static_cast<size_t>(k) * sizeof(double), cudaMemcpyHostToDevice, stream));
    d.ldam_margins = margin_buffer.data();
  }
  return d;
}

CudaEngine::CudaEngine(const NetworkSpec& spec, MathMode math) : topo_(resnet_topology(spec)), math_(math) {
  // The ref network's plan (nn/layer_plan.h); here every relu also runs inside the pass of the layer before
  // it.
  const LayerPlan plan = layer_plan(topo_);
  layers_ = plan.layers;
  for (size_t i = 0; i < layers_.size(); ++i) {
    if (layers_[i].kind != LayerKind::kRelu) continue;
    if (i == 0 ||
        (layers_[i - 1].kind != LayerKind::kBatchNorm && layers_[i - 1].kind != LayerKind::kShortcutAdd)) {
      throw std::logic_error("the CUDA plan fuses every relu into the batch norm or residual add before it");
    }
    layers_[i - 1].relu = true;
  }
  for (const PlanActivation& a : plan.activations) acts_.push_back(Act{a.c, a.side, 0});
  input_ = plan.input;
  embedding_ = plan.embedding;
  logits_ = plan.logits;
  slot_sizes_ = plan.slot_sizes;
  stats_count_ = plan.stats_count;
  // The head ops overwrite the embedding's gradient (they have no accumulate flag): its only consumer.
  if (layers_.back().accumulate) throw std::logic_error("the head's input gradient must be a fresh slot");
  tracked_.assign(topo_.batchnorms.size(), 0);
  try {
    EOS_CUDA_CHECK(cudaGetDevice(&device_));
    EOS_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    for (cudaEvent_t& e : events_) EOS_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
    EOS_CUDA_CHECK(
        cudaHostAlloc(reinterpret_cast<void**>(&ring_), kRing * sizeof(Accounting), cudaHostAllocMapped));
    EOS_CUDA_CHECK(cudaHostGetDevicePointer(reinterpret_cast<void**>(&ring_device_), ring_, 0));
    params_.resize(topo_.parameter_count);
    grads_.resize(topo_.parameter_count);
    momentum_.resize(topo_.parameter_count);
    buffers_.resize(topo_.buffer_count);
    stats_.resize(stats_count_);
    state_.resize(1);
    initialize(spec.seed);
  } catch (...) {
    release();
    throw;
  }
}

CudaEngine::~CudaEngine() { release(); }

void CudaEngine::release() noexcept {
  if (stream_) cudaStreamSynchronize(stream_);
  train_graph_.reset();
  eval_graph_.reset();
  for (cudaEvent_t& e : events_) {
    if (e) cudaEventDestroy(e);
    e = nullptr;
  }
  if (stream_) cudaStreamDestroy(stream_);
  stream_ = nullptr;
  if (ring_) cudaFreeHost(ring_);
  ring_ = ring_device_ = nullptr;
}

void CudaEngine::reserve(int64_t capacity) {
  if (capacity <= capacity_) return;
  int64_t offset = 0;
  for (Act& a : acts_) {
    a.offset = offset;
    offset += aligned(capacity * a.c * a.side * a.side);
  }
  slot_offsets_.resize(slot_sizes_.size());
  for (size_t s = 0; s < slot_sizes_.size(); ++s) {
    slot_offsets_[s] = offset;
    offset += aligned(capacity * slot_sizes_[s]);
  }
  // Captured graphs hold the old addresses and offsets.
  train_graph_.reset();
  eval_graph_.reset();
  arena_.resize(offset);
  batch_labels_.resize(capacity);
  capacity_ = capacity;
}

void CudaEngine::reserve_workspace(int64_t batch) {
  const int64_t K = topo_.spec.classes;
  int64_t need = loss_workspace_bytes(batch, K), head = 0;
  for (const Layer& l : layers_) {
    switch (l.kind) {
      case LayerKind::kConv:
        need =
            std::max(need, conv3x3_workspace_bytes(
                               conv3x3_dims(batch, l.c_in, l.side_in, l.side_in, l.c_out, l.stride), math_));
        break;
      case LayerKind::kBatchNorm:
        need = std::max(need, batchnorm_workspace_bytes(batch, l.c_in, l.side_in * l.side_in));
        break;
      case LayerKind::kCosine:
        head = normed_linear_workspace_bytes(batch, l.c_in, l.c_out);
        break;
      default:
        break;
    }
  }
  if (need > workspace_.size() || head > head_workspace_.size()) {
    train_graph_.reset();
    eval_graph_.reset();
    workspace_.reserve(need);
    head_workspace_.reserve(head);
  }
}

void CudaEngine::sync() const { EOS_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

const uint8_t* CudaEngine::device_images(const uint8_t* host, int64_t bytes) {
  const uint64_t hash = hash_bytes(host, bytes);
  for (ImageCache& c : images_) {
    if (c.host == host && c.bytes == bytes && c.hash == hash) {
      c.last_use = ++use_clock_;
      return c.data.data();
    }
  }
  ImageCache& c = images_[0].last_use <= images_[1].last_use ? images_[0] : images_[1];
  c.host = nullptr;  // not valid until the copy below is queued
  c.data.resize(bytes);
  EOS_CUDA_CHECK(
      cudaMemcpyAsync(c.data.data(), host, static_cast<size_t>(bytes), cudaMemcpyHostToDevice, stream_));
  c.host = host;
  c.bytes = bytes;
  c.hash = hash;
  c.last_use = ++use_clock_;
  return c.data.data();
}

// --- sync points --------------------------------------------------------------------------------------

void CudaEngine::get_parameters(float* host) const {
  DeviceScope scope(device_);
  sync();
  copy_now(host, params_.data(), params_.bytes(), cudaMemcpyDeviceToHost, stream_);
}
void CudaEngine::set_parameters(const float* host) {
  DeviceScope scope(device_);
  sync();
  copy_now(params_.data(), host, params_.bytes(), cudaMemcpyHostToDevice, stream_);
}
void CudaEngine::get_gradients(float* host) const {
  DeviceScope scope(device_);
  sync();
  copy_now(host, grads_.data(), grads_.bytes(), cudaMemcpyDeviceToHost, stream_);
}
void CudaEngine::get_momentum(float* host) const {
  DeviceScope scope(device_);
  sync();
  copy_now(host, momentum_.data(), momentum_.bytes(), cudaMemcpyDeviceToHost, stream_);
}
void CudaEngine::set_momentum(const float* host) {
  DeviceScope scope(device_);
  sync();
  copy_now(momentum_.data(), host, momentum_.bytes(), cudaMemcpyHostToDevice, stream_);
}
void CudaEngine::get_buffers(float* host) const {
  DeviceScope scope(device_);
  sync();
  copy_now(host, buffers_.data(), buffers_.bytes(), cudaMemcpyDeviceToHost, stream_);
}
void CudaEngine::set_buffers(const float* host) {
  DeviceScope scope(device_);
  sync();
  copy_now(buffers_.data(), host, buffers_.bytes(), cudaMemcpyHostToDevice, stream_);
}

bool CudaEngine::read_tensor(const std::string& name, float* host) const {
  const TensorInfo* p = find_tensor(topo_.parameters, name);
  const TensorInfo* b = p ? nullptr : find_tensor(topo_.buffers, name);
  if (!p && !b) return false;
  DeviceScope scope(device_);
  sync();
  const float* src = p ? params_.data() + p->offset : buffers_.data() + b->offset;
  const int64_t count = p ? p->count : b->count;
  copy_now(host, src, count * static_cast<int64_t>(sizeof(float)), cudaMemcpyDeviceToHost, stream_);
  return true;
}

bool CudaEngine::write_tensor(const std::string& name, const float* host) {
  const TensorInfo* p = find_tensor(topo_.parameters, name);
  const TensorInfo* b = p ? nullptr : find_tensor(topo_.buffers, name);
  if (!p && !b) return false;
  DeviceScope scope(device_);
  sync();
  float* dst = p ? params_.data() + p->offset : buffers_.data() + b->offset;
  const int64_t count = p ? p->count : b->count;
  copy_now(dst, host, count * static_cast<int64_t>(sizeof(float)), cudaMemcpyHostToDevice, stream_);
  return true;
}

void CudaEngine::initialize(uint64_t seed) {
  // The host initialisation every backend uses (HostModel), so all of them start from the same bytes.
  NetworkSpec spec = topo_.spec;
  spec.seed = seed;
  const HostModel<float> host(spec);
  DeviceScope scope(device_);
  sync();
  EOS_CUDA_CHECK(cudaMemsetAsync(momentum_.data(), 0, static_cast<size_t>(momentum_.bytes()), stream_));
  EOS_CUDA_CHECK(cudaMemsetAsync(grads_.data(), 0, static_cast<size_t>(grads_.bytes()), stream_));
  copy_now(params_.data(), host.params(), params_.bytes(), cudaMemcpyHostToDevice, stream_);
  copy_now(buffers_.data(), host.running_stats(), buffers_.bytes(), cudaMemcpyHostToDevice, stream_);
  std::fill(tracked_.begin(), tracked_.end(), 0);
}

// --- the passes -----------------------------------------------------------------------------------------

void CudaEngine::enqueue_forward(int64_t batch, bool train) {
  const NetworkSpec& spec = topo_.spec;
  float* params = params_.data();
  float* running = buffers_.data();
  float* stats = stats_.data();
  for (const Layer& l : layers_) {
    const int64_t s_in = l.side_in * l.side_in;
    switch (l.kind) {
      case LayerKind::kConv:
        conv3x3_forward(conv3x3_dims(batch, l.c_in, l.side_in, l.side_in, l.c_out, l.stride), act(l.in),
                        params + l.weight, act(l.out), math_, workspace_.data(), stream_);
        break;
      case LayerKind::kBatchNorm:
        if (train) {
          batchnorm_forward_train(batch, l.c_in, s_in, act(l.in), params + l.weight, params + l.bias,
                                  act(l.out), stats + l.stats, stats + l.stats + l.c_in,
                                  running + l.running_mean, running + l.running_var, spec.bn_momentum,
                                  spec.bn_eps, l.relu, workspace_.data(), stream_);
        } else {
          batchnorm_forward_eval(batch, l.c_in, s_in, act(l.in), params + l.weight, params + l.bias,
                                 running + l.running_mean, running + l.running_var, spec.bn_eps, l.relu,
                                 act(l.out), stream_);
        }
        break;
      case LayerKind::kRelu:
        break;  // ran inside the layer before it
      case LayerKind::kShortcutAdd: {
        const ShortcutDims d = option_a_dims(batch, l.c_in, l.side_in, l.side_in, l.c_out, l.stride);
        if (l.relu) {
          shortcut_add_relu_forward(d, act(l.aux), act(l.out), stream_);
        } else {
          shortcut_add_forward(d, act(l.aux), act(l.out), stream_);
        }
        break;
      }
      case LayerKind::kAvgPool:
        global_avgpool_forward(batch, l.c_in, s_in, act(l.in), act(l.out), stream_);
        break;
      case LayerKind::kLinear:
        linear_forward(batch, l.c_in, l.c_out, act(l.in), params + l.weight, params + l.bias, act(l.out),
                       stream_);
        break;
      case LayerKind::kCosine:
        normed_linear_forward(batch, l.c_in, l.c_out, act(l.in), params + l.weight, act(l.out),
                              head_workspace_.data(), stream_);
        break;
    }
  }
}

void CudaEngine::enqueue_backward(int64_t batch) {
  const float* params = params_.data();
  float* grads = grads_.data();
  const float* stats = stats_.data();
  for (size_t i = layers_.size(); i-- > 0;) {
    const Layer& l = layers_[i];
    const int64_t s_in = l.side_in * l.side_in;
    switch (l.kind) {
      case LayerKind::kConv: {
        const ConvDims d = conv3x3_dims(batch, l.c_in, l.side_in, l.side_in, l.c_out, l.stride);
        conv3x3_backward_weights(d, act(l.in), grad(l.grad_out), grads + l.weight, math_, workspace_.data(),
                                 stream_);
        if (l.grad_in >= 0) {
          conv3x3_backward_data(d, params + l.weight, grad(l.grad_out), grad(l.grad_in), l.accumulate, math_,
                                workspace_.data(), stream_);
        }
        break;
      }
      case LayerKind::kBatchNorm:
        // With the fused relu the op masks dy by the forward output itself.
        batchnorm_backward(batch, l.c_in, s_in, act(l.in), grad(l.grad_out), l.relu ? act(l.out) : nullptr,
                           params + l.weight, stats + l.stats, stats + l.stats + l.c_in, grad(l.grad_in),
                           grads + l.weight, grads + l.bias, workspace_.data(), stream_);
        break;
      case LayerKind::kRelu:
        // After a residual add the mask is applied here (in place); after a batch norm, by its backward.
        if (layers_[i - 1].kind == LayerKind::kShortcutAdd) {
          relu_backward(batch * l.c_in * s_in, act(l.out), grad(l.grad_out), grad(l.grad_in), stream_);
        }
        break;
      case LayerKind::kShortcutAdd:
        shortcut_add_backward(option_a_dims(batch, l.c_in, l.side_in, l.side_in, l.c_out, l.stride),
                              grad(l.grad_out), grad(l.grad_in), l.accumulate, stream_);
        break;
      case LayerKind::kAvgPool:
        global_avgpool_backward(batch, l.c_in, s_in, grad(l.grad_out), grad(l.grad_in), l.accumulate,
                                stream_);
        break;
      case LayerKind::kLinear:
        linear_backward(batch, l.c_in, l.c_out, act(l.in), params + l.weight, grad(l.grad_out),
                        grad(l.grad_in), grads + l.weight, grads + l.bias, stream_);
        break;
      case LayerKind::kCosine:
        normed_linear_backward(batch, l.c_in, l.c_out, act(l.in), params + l.weight, grad(l.grad_out),
                               grad(l.grad_in), grads + l.weight, head_workspace_.data(), stream_);
        break;
    }
  }
}

void CudaEngine::enqueue_train_step(int64_t batch, const uint8_t* images, const DeviceAugment& aug,
                                    const DeviceLoss& loss, const SgdConfig& sgd) {
  StepState* s = state_.data();
  const int64_t K = topo_.spec.classes;
  if (images) {
    augment_batch(images, order_.data(), &s->offset, batch, aug, act(input_), labels_.data(),
                  batch_labels_.data(), stream_);
  }
  enqueue_forward(batch, true);
  loss_forward_backward(loss, batch, K, act(logits_), batch_labels_.data(), grad(layers_.back().grad_out),
                        &s->loss, workspace_.data(), stream_);
  enqueue_backward(batch);
  sgd_step(topo_.parameter_count, params_.data(), grads_.data(), momentum_.data(), sgd, &s->lr, &s->skip,
           stream_);
  if (images) {
    account_step<<<1, kAccountThreads, 0, stream_>>>(act(logits_), batch_labels_.data(), batch, K, &s->loss,
                                                     &s->offset, &s->skip, &s->acc, ring_device_, kRing);
    EOS_CUDA_CHECK_LAUNCH();
  }
}

void CudaEngine::enqueue_eval_batch(int64_t batch, const uint8_t* images, const DeviceAugment& normalize) {
  StepState* s = state_.data();
  augment_batch(images, order_.data(), &s->offset, batch, normalize, act(input_), nullptr, nullptr, stream_);
  enqueue_forward(batch, false);
  advance_offset<<<1, 1, 0, stream_>>>(&s->offset, batch);
  EOS_CUDA_CHECK_LAUNCH();
}

// What a captured pass reads by value besides its own settings: sizes and device addresses.
GraphKey CudaEngine::buffers_key(int64_t batch, const uint8_t* images, const DeviceAugment& aug) const {
  GraphKey key;
  key.add(batch).add(capacity_).add(images).add(labels_.data()).add(order_.data()).add(batch_labels_.data());
  key.add(arena_.data()).add(workspace_.data()).add(workspace_.size()).add(head_workspace_.data());
  key.add(head_workspace_.size()).add(state_.data()).add(ring_device_);
  add_augment(key, aug);
  return key;
}

EpochProgress CudaEngine::progress_of(const Accounting& a, int64_t batches_total) const {
  EpochProgress p;
  p.batches_total = batches_total;
  p.images_done = a.images;
  p.loss_sum = a.loss_sum;
  p.correct = a.correct;
  p.diverged = a.diverged_at >= 0;
  p.batches_done = p.diverged ? a.diverged_at + 1 : a.steps;
  return p;
}

// --- whole operations -----------------------------------------------------------------------------------

EpochProgress CudaEngine::train_epoch(const uint8_t* images, const int32_t* labels, const int32_t* order,
                                      int64_t rows, const EpochConfig& cfg, const ProgressFn& on_progress,
                                      const StopFn& should_stop) {
  if (cfg.batch < 1) throw std::invalid_argument("batch must be >= 1");
  const NetworkSpec& spec = topo_.spec;
  const int64_t image_size = spec.in_channels * spec.side * spec.side;
  const int64_t B = cfg.batch, K = spec.classes;
  // HostEngine's batches: without a lone trailing image, ceil(R' / B) of them with R' = R or R - 1.
  const int64_t usable = (rows % B == 1 && rows > 1) ? rows - 1 : rows;
  const int64_t total = usable > 0 ? (usable + B - 1) / B : 0;
  if (total == 0) return progress_of(Accounting{0, 0, 0, 0, -1}, 0);
  const int64_t full = usable / B, tail = usable % B;

  DeviceScope scope(device_);
  sync();
  reserve(std::min(B, usable));
  if (full > 0) reserve_workspace(B);
  if (tail > 0) reserve_workspace(tail);
  // Only the images the order visits are needed (the engine is not told the data set's size).
  const int64_t max_row = *std::max_element(order, order + usable);
  const uint8_t* d_images = device_images(images, (max_row + 1) * image_size);
  labels_.reserve(max_row + 1);
  EOS_CUDA_CHECK(cudaMemcpyAsync(labels_.data(), labels, static_cast<size_t>(max_row + 1) * sizeof(int32_t),
                                 cudaMemcpyHostToDevice, stream_));
  order_.reserve(usable);
  EOS_CUDA_CHECK(cudaMemcpyAsync(order_.data(), order, static_cast<size_t>(usable) * sizeof(int32_t),
                                 cudaMemcpyHostToDevice, stream_));
  const DeviceLoss loss =
      upload_loss(cfg.loss, cfg.loss.class_weights, K, class_weights_, ldam_margins_, stream_);
  StepState start{};
  start.lr = cfg.sgd.lr;
  start.acc.diverged_at = -1;
  EOS_CUDA_CHECK(cudaMemcpyAsync(state_.data(), &start, sizeof start, cudaMemcpyHostToDevice, stream_));
  const DeviceAugment aug = device_augment(cfg.augment, cfg.augment_images);

  if (full > 0) {
    GraphKey key = buffers_key(B, d_images, aug);
    key.add(loss.kind)
        .add(loss.class_weights)
        .add(loss.ldam_margins)
        .add(loss.focal_gamma)
        .add(loss.ldam_scale);
    key.add(loss.asl_gamma_pos).add(loss.asl_gamma_neg).add(loss.asl_eps);
    key.add(cfg.sgd.momentum).add(cfg.sgd.weight_decay).add(cfg.sgd.nesterov);
    if (!train_graph_.matches(key)) {
      train_graph_.capture(key, stream_, [&] { enqueue_train_step(B, d_images, aug, loss, cfg.sgd); });
    }
  }

  int64_t launched = 0;
  for (int64_t j = 0; j < total; ++j) {
    if (j >= kInFlight) {
      // Wait for the step kInFlight back (so a stop takes effect soon) and stop after a divergence.
      EOS_CUDA_CHECK(cudaEventSynchronize(events_[j % kInFlight]));
      if (ring_[(j - kInFlight) % kRing].diverged_at >= 0) break;
    }
    if (should_stop && should_stop()) break;
    if (j < full) {
      train_graph_.launch(stream_);
    } else {
      enqueue_train_step(tail, d_images, aug, loss, cfg.sgd);
    }
    EOS_CUDA_CHECK(cudaEventRecord(events_[j % kInFlight], stream_));
    ++launched;
    if (on_progress && cfg.progress_every > 0 && ((j + 1) % cfg.progress_every == 0 || j + 1 == total)) {
      EOS_CUDA_CHECK(cudaEventSynchronize(events_[j % kInFlight]));
      const Accounting a = ring_[j % kRing];
      if (a.diverged_at >= 0) break;  // HostEngine reports no progress for a diverged batch
      on_progress(progress_of(a, total));
    }
  }
  sync();
  for (int64_t& t : tracked_) t += launched;  // every launched step ran its train-mode batch norms
  Accounting a{};
  copy_now(&a, &state_.data()->acc, sizeof a, cudaMemcpyDeviceToHost, stream_);
  return progress_of(a, total);
}

bool CudaEngine::predict(const uint8_t* images, const int32_t* indices, int64_t rows, int64_t batch,
                         const AugmentParams& normalize, float* logits, float* embeddings,
                         const StopFn& should_stop) {
  if (rows <= 0) return true;
  if (batch < 1) throw std::invalid_argument("batch must be >= 1");
  const NetworkSpec& spec = topo_.spec;
  const int64_t image_size = spec.in_channels * spec.side * spec.side, K = spec.classes;
  std::vector<int32_t> all;
  if (!indices) {
    all.resize(static_cast<size_t>(rows));
    std::iota(all.begin(), all.end(), 0);
    indices = all.data();
  }
  const int64_t full = rows / batch, tail = rows % batch;

  DeviceScope scope(device_);
  sync();
  reserve(std::min(batch, rows));
  if (full > 0) reserve_workspace(batch);
  if (tail > 0) reserve_workspace(tail);
  const int64_t max_row = *std::max_element(indices, indices + rows);
  const uint8_t* d_images = device_images(images, (max_row + 1) * image_size);
  order_.reserve(rows);
  EOS_CUDA_CHECK(cudaMemcpyAsync(order_.data(), indices, static_cast<size_t>(rows) * sizeof(int32_t),
                                 cudaMemcpyHostToDevice, stream_));
  EOS_CUDA_CHECK(cudaMemsetAsync(&state_.data()->offset, 0, sizeof(int64_t), stream_));
  const DeviceAugment norm = device_augment(normalize, false);
  if (full > 0) {
    const GraphKey key = buffers_key(batch, d_images, norm);
    if (!eval_graph_.matches(key)) {
      eval_graph_.capture(key, stream_, [&] { enqueue_eval_batch(batch, d_images, norm); });
    }
  }
  for (int64_t j = 0, start = 0; start < rows; ++j, start += batch) {
    if (j >= kInFlight) EOS_CUDA_CHECK(cudaEventSynchronize(events_[j % kInFlight]));
    if (should_stop && should_stop()) {
      sync();
      return false;
    }
    const int64_t b = std::min(batch, rows - start);
    if (b == batch) {
      eval_graph_.launch(stream_);
    } else {
      enqueue_eval_batch(b, d_images, norm);
    }
    // Stream-ordered after this batch's forward and before the next one overwrites the arena.
    if (logits) {
      EOS_CUDA_CHECK(cudaMemcpyAsync(logits + start * K, act(logits_),
                                     static_cast<size_t>(b * K) * sizeof(float), cudaMemcpyDeviceToHost,
                                     stream_));
    }
    if (embeddings) {
      EOS_CUDA_CHECK(cudaMemcpyAsync(embeddings + start * Topology::kEmbeddingDim, act(embedding_),
                                     static_cast<size_t>(b * Topology::kEmbeddingDim) * sizeof(float),
                                     cudaMemcpyDeviceToHost, stream_));
    }
    EOS_CUDA_CHECK(cudaEventRecord(events_[j % kInFlight], stream_));
  }
  sync();
  return true;
}

double CudaEngine::train_step(const float* x, const int32_t* labels, int64_t batch, const LossConfig& loss,
                              const SgdConfig& sgd, float* logits) {
  if (batch < 1) throw std::invalid_argument("batch must be >= 1");
  const NetworkSpec& spec = topo_.spec;
  const int64_t image_size = spec.in_channels * spec.side * spec.side, K = spec.classes;
  DeviceScope scope(device_);
  sync();
  reserve(batch);
  reserve_workspace(batch);
  const DeviceLoss dl = upload_loss(loss, loss.class_weights, K, class_weights_, ldam_margins_, stream_);
  StepState start{};
  start.lr = sgd.lr;
  start.acc.diverged_at = -1;
  EOS_CUDA_CHECK(cudaMemcpyAsync(state_.data(), &start, sizeof start, cudaMemcpyHostToDevice, stream_));
  EOS_CUDA_CHECK(cudaMemcpyAsync(act(input_), x, static_cast<size_t>(batch * image_size) * sizeof(float),
                                 cudaMemcpyHostToDevice, stream_));
  EOS_CUDA_CHECK(cudaMemcpyAsync(batch_labels_.data(), labels, static_cast<size_t>(batch) * sizeof(int32_t),
                                 cudaMemcpyHostToDevice, stream_));
  enqueue_train_step(batch, nullptr, DeviceAugment{}, dl, sgd);
  double value = 0;
  EOS_CUDA_CHECK(
      cudaMemcpyAsync(&value, &state_.data()->loss, sizeof value, cudaMemcpyDeviceToHost, stream_));
  if (logits) {
    EOS_CUDA_CHECK(cudaMemcpyAsync(logits, act(logits_), static_cast<size_t>(batch * K) * sizeof(float),
                                   cudaMemcpyDeviceToHost, stream_));
  }
  sync();
  for (int64_t& t : tracked_) ++t;
  return value;
}

void CudaEngine::eval_forward(const float* x, int64_t batch, float* logits, float* embeddings) {
  if (batch < 1) throw std::invalid_argument("batch must be >= 1");
  const NetworkSpec& spec = topo_.spec;
  const int64_t image_size = spec.in_channels * spec.side * spec.side, K = spec.classes;
  DeviceScope scope(device_);
  sync();
  reserve(batch);
  reserve_workspace(batch);
  EOS_CUDA_CHECK(cudaMemcpyAsync(act(input_), x, static_cast<size_t>(batch * image_size) * sizeof(float),
                                 cudaMemcpyHostToDevice, stream_));
  enqueue_forward(batch, false);
  if (logits) {
    EOS_CUDA_CHECK(cudaMemcpyAsync(logits, act(logits_), static_cast<size_t>(batch * K) * sizeof(float),
                                   cudaMemcpyDeviceToHost, stream_));
  }
  if (embeddings) {
    EOS_CUDA_CHECK(cudaMemcpyAsync(embeddings, act(embedding_),
                                   static_cast<size_t>(batch * Topology::kEmbeddingDim) * sizeof(float),
                                   cudaMemcpyDeviceToHost, stream_));
  }
  sync();
}

}  // namespace eos::cuda
