// The CUDA engine (nn/engine.h on one NVIDIA GPU): every piece of state a training run touches lives in
// device memory, and a whole training step (augmentation -> forward -> loss -> backward -> SGD ->
// accounting) is captured once as a CUDA graph and replayed for every full batch.
//
// Device state: flat parameter, gradient and momentum buffers laid out by the topology's parameter table;
// the running statistics by its buffer table; the saved batch mean / invstd of every batch norm; one
// activation arena for a batch capacity (the ref network's plan: batch norm + relu and the residual add +
// relu fused, the same gradient slots); op workspaces; the uint8 images (cached by host pointer, size and
// a hash of the bytes), labels and the epoch's visiting order. num_batches_tracked is counted on the host,
// which knows how many steps it launched.
//
// An epoch: the order, lr, class weights and counters are written to device memory, the step graph is
// (re)captured when what it bakes in changed (batch size, augmentation epoch, loss settings, buffers), then
// replayed with at most kInFlight steps queued, so should_stop (polled between launches) takes effect
// within two steps. A small accounting kernel after every step sums the loss and the correct count, sets
// the diverged flag that makes every later SGD step a no-op, and copies its totals into a ring in mapped
// host memory, which the host reads at progress points and to stop launching after a divergence. The
// results are HostEngine's (nn/host_engine.h) up to fp32 rounding: the same batches, the same lone-image
// rule, the same progress cadence and the same divergence report. After a divergence up to kInFlight - 1
// further steps may already have run their forward passes (their SGD is skipped); the running statistics
// then include those batches, and num_batches_tracked counts them.
//
// Determinism: the ops are deterministic (nn/cuda/ops.h) and so are the kernels here (no atomics), so the
// same seed on the same GPU gives the same bytes.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "augment/augment_cuda.h"
#include "core/device_buffer.h"
#include "nn/cuda/ops.h"
#include "nn/cuda/step_graph.h"
#include "nn/engine.h"
#include "nn/layer_plan.h"

namespace eos::cuda {

// The convolution arithmetic of EOS_CUDA_MATH (fp32, the default, tf32 or bf16); throws
// std::invalid_argument naming the variable for any other value (engine_factory.cc).
MathMode math_mode_from_environment();

// The loss of `cfg` on the device: `weights` (the class weights to use, empty: none) and the LDAM margins
// uploaded into the two buffers on `stream`. Throws std::invalid_argument as loss_forward_backward does for a
// weight or margin count other than k.
DeviceLoss upload_loss(const LossConfig& cfg, const std::vector<double>& weights, int64_t k,
                       DeviceBuffer<double>& weight_buffer, DeviceBuffer<double>& margin_buffer,
                       cudaStream_t stream);

// A copy of `bytes` on `stream`, returned from once done. The engines' streams do not synchronise with the
// legacy default stream (so no other thread's work there can join a capture in progress), which is why they
// copy with this instead of DeviceBuffer's upload / download (those run on the legacy stream).
void copy_now(void* dst, const void* src, int64_t bytes, cudaMemcpyKind kind, cudaStream_t stream);

// Sets the calling thread's current device for the lifetime of the object (the addon calls an engine from
// whichever worker thread runs the operation, and the current device is per thread).
class DeviceScope {
 public:
  explicit DeviceScope(int device);
  ~DeviceScope();
  DeviceScope(const DeviceScope&) = delete;
  DeviceScope& operator=(const DeviceScope&) = delete;

 private:
  int previous_ = 0;
};

class CudaEngine final : public Engine {
 public:
  // Steps queued on the device at once (the host waits for the step kInFlight launches back).
  static constexpr int kInFlight = 2;

  // Throws std::invalid_argument for an invalid spec, std::runtime_error for a CUDA failure.
  CudaEngine(const NetworkSpec& spec, MathMode math);
  ~CudaEngine() override;
  CudaEngine(const CudaEngine&) = delete;
  CudaEngine& operator=(const CudaEngine&) = delete;

  const char* name() const override { return "cuda"; }
  const Topology& topology() const override { return topo_; }
  // The device schedules itself; no result depends on host threads.
  void set_threads(int) override {}

  void get_parameters(float* host) const override;
  void set_parameters(const float* host) override;
  void get_momentum(float* host) const override;
  void set_momentum(const float* host) override;
  void get_buffers(float* host) const override;
  void set_buffers(const float* host) override;
  bool read_tensor(const std::string& name, float* host) const override;
  bool write_tensor(const std::string& name, const float* host) override;
  std::vector<int64_t> num_batches_tracked() const override { return tracked_; }
  void set_num_batches_tracked(const std::vector<int64_t>& counts) override { tracked_ = counts; }
  void initialize(uint64_t seed) override;

  EpochProgress train_epoch(const uint8_t* images, const int32_t* labels, const int32_t* order, int64_t rows,
                            const EpochConfig& cfg, const ProgressFn& on_progress,
                            const StopFn& should_stop) override;
  bool predict(const uint8_t* images, const int32_t* indices, int64_t rows, int64_t batch,
               const AugmentParams& normalize, float* logits, float* embeddings,
               const StopFn& should_stop) override;

  // --- testing aids (test/native): Network::train_step's contract on a host float batch x [batch, C, S, S]
  // (already normalised), uncaptured; returns the loss and writes the train-mode logits when not null. The
  // step's gradients stay readable with get_gradients until the next step.
  double train_step(const float* x, const int32_t* labels, int64_t batch, const LossConfig& loss,
                    const SgdConfig& sgd, float* logits);
  void get_gradients(float* host) const;
  // Eval-mode forward of a host float batch (logits [batch, K] and/or embeddings [batch, 64] where not null).
  void eval_forward(const float* x, int64_t batch, float* logits, float* embeddings);
  MathMode math_mode() const { return math_; }

  // The totals the accounting kernel keeps (device memory and the host ring).
  struct Accounting {
    double loss_sum;      // sum of batch-mean loss times batch size over the finite batches
    int64_t images;       // images of the finite batches
    int64_t correct;      // of those, ranked first by their train-mode logits
    int64_t steps;        // steps run this epoch
    int64_t diverged_at;  // index of the first batch with a non-finite loss (-1: none)
  };

 private:
  struct Act {
    int64_t c, side;  // per-image shape
    int64_t offset;   // floats into the arena (set by reserve)
  };
  using Layer = PlanLayer;  // nn/layer_plan.h

  // The per-step scalars the captured graph reads and writes in device memory.
  struct StepState {
    int64_t offset;  // rows of the order consumed (augment_batch's row_offset)
    double loss;     // the last step's batch-mean loss
    double lr;       // the epoch's learning rate (sgd_step reads it)
    int32_t skip;    // non-zero after a divergence: sgd_step does nothing
    int32_t unused;
    Accounting acc;
  };
  // A data set's images on the device, known by the host pointer, byte count and a hash of the bytes.
  struct ImageCache {
    const uint8_t* host = nullptr;
    int64_t bytes = 0;
    uint64_t hash = 0, last_use = 0;
    DeviceBuffer<uint8_t> data;
  };
  static constexpr int kRing = 4;  // > kInFlight: the slot the host reads is never the one being written

  void reserve(int64_t capacity);
  void reserve_workspace(int64_t batch);
  float* act(int id) { return arena_.data() + acts_[id].offset; }
  float* grad(int slot) { return arena_.data() + slot_offsets_[slot]; }
  const uint8_t* device_images(const uint8_t* host, int64_t bytes);
  void sync() const;

  // Enqueue on stream_ without synchronising (capturable).
  void enqueue_forward(int64_t batch, bool train);
  void enqueue_backward(int64_t batch);
  // images null: the batch is already in the input activation and batch_labels_ (train_step), and no
  // accounting follows; otherwise an epoch step (augmentation from the order, accounting after SGD).
  void enqueue_train_step(int64_t batch, const uint8_t* images, const DeviceAugment& aug,
                          const DeviceLoss& loss, const SgdConfig& sgd);
  void enqueue_eval_batch(int64_t batch, const uint8_t* images, const DeviceAugment& normalize);
  EpochProgress progress_of(const Accounting& a, int64_t batches_total) const;
  GraphKey buffers_key(int64_t batch, const uint8_t* images, const DeviceAugment& aug) const;
  void release() noexcept;  // every CUDA handle (the destructor, and a constructor that failed half way)

  Topology topo_;
  MathMode math_;
  int device_ = 0;
  cudaStream_t stream_ = nullptr;
  cudaEvent_t events_[kInFlight] = {};

  std::vector<Layer> layers_;
  std::vector<Act> acts_;
  int input_ = -1, embedding_ = -1, logits_ = -1;
  std::vector<int64_t> slot_sizes_, slot_offsets_;
  int64_t stats_count_ = 0, capacity_ = 0;

  DeviceBuffer<float> params_, grads_, momentum_, buffers_, stats_, arena_;
  DeviceBuffer<uint8_t> workspace_, head_workspace_;
  DeviceBuffer<int32_t> labels_, order_, batch_labels_;
  DeviceBuffer<double> class_weights_, ldam_margins_;
  DeviceBuffer<StepState> state_;
  Accounting* ring_ = nullptr;         // pinned host memory, mapped into the device
  Accounting* ring_device_ = nullptr;  // its device address
  ImageCache images_[2];               // a training set and an evaluation set, without re-uploads
  uint64_t use_clock_ = 0;
  std::vector<int64_t> tracked_;
  StepGraph train_graph_, eval_graph_;
};

// Phase 3 on the device (nn/engine.h's HeadEngine; HostHeadEngine's arithmetic): the embeddings, labels,
// every epoch's order, learning rate and class weights uploaded once; per batch a gather, the head's
// forward, the loss, the backward and an SGD step; the epoch's loss summed on the device and read back at
// the end. The host params are written only when training completes, so a stop leaves them as they were.
class CudaHeadEngine final : public HeadEngine {
 public:
  CudaHeadEngine();
  ~CudaHeadEngine() override;
  CudaHeadEngine(const CudaHeadEngine&) = delete;
  CudaHeadEngine& operator=(const CudaHeadEngine&) = delete;

  const char* name() const override { return "cuda"; }
  void set_threads(int) override {}
  std::vector<double> train_head(const HeadTrainingConfig& cfg, const float* x, int64_t n,
                                 const int32_t* labels, const int32_t* orders, HeadParameters& params,
                                 const StopFn& should_stop) override;
  void head_logits(HeadKind head, int64_t dim, int64_t classes, const HeadParameters& params, const float* x,
                   int64_t n, float* logits) override;

 private:
  int device_ = 0;
  cudaStream_t stream_ = nullptr;
  cudaEvent_t events_[CudaEngine::kInFlight] = {};
};

}  // namespace eos::cuda
