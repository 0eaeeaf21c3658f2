// The interface every compute backend implements: one network on one backend that owns its memory.
//
// Where the state lives: parameters, gradients, momentum, running statistics and activations stay where the
// backend computes (host memory for ref and dnnl; a device backend keeps them in device memory). The engine
// runs whole operations (an epoch of training steps: augmentation -> forward -> loss -> backward -> SGD;
// eval logits and embeddings), and host copies happen only at the sync points below (the whole-buffer and
// by-name getters and setters, and the results of predict). Nothing above this interface knows which
// backend runs: the addon builds engines by name (make_engine) and calls only these methods.
//
// Phase 3 (a fresh head on fixed embeddings) needs no network: HeadEngine is its interface, made by the same
// backend name (make_head_engine).
//
// Adding a backend: implement Engine and HeadEngine, and add the name to engine_factory.cc.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "augment/augment.h"
#include "nn/losses.h"
#include "nn/sgd.h"
#include "nn/topology.h"

namespace eos {

// Legend: N images [N, C, S, S] uint8 NCHW; labels [N]; R rows visited (order [R] holds image indices, so a
// class-balanced epoch may repeat some); B batch size; K classes.
struct EpochConfig {
  int64_t batch = 0;
  LossConfig loss;
  SgdConfig sgd;
  AugmentParams augment;  // mean/std always; pad/flip/seed/epoch when `augment_images`
  bool augment_images = true;
  int64_t progress_every = 0;  // batches between progress reports (0: none)
};

struct EpochProgress {
  int64_t batches_done = 0, batches_total = 0, images_done = 0;
  double loss_sum = 0;  // sum over the images seen of each batch's mean loss times its size
  int64_t correct = 0;  // images whose train-mode logits ranked their label first
  // The loss of the last batch done was not finite: the epoch stopped after it (its update is applied, so the
  // parameters are no longer usable; the caller keeps its last good checkpoint). Not counted in loss_sum.
  bool diverged = false;
};

using StopFn = std::function<bool()>;  // polled between batches; true stops the operation
using ProgressFn = std::function<void(const EpochProgress&)>;

class Engine {
 public:
  virtual ~Engine() = default;
  virtual const char* name() const = 0;
  virtual const Topology& topology() const = 0;
  const NetworkSpec& spec() const { return topology().spec; }

  // OpenMP (or device) threads for every following call (<= 0: every core). Results are bitwise
  // reproducible for a fixed thread count.
  virtual void set_threads(int threads) = 0;

  // --- sync points: host [parameter_count] or [buffer_count] of the topology's tables
  virtual void get_parameters(float* host) const = 0;
  virtual void set_parameters(const float* host) = 0;
  virtual void get_momentum(float* host) const = 0;
  virtual void set_momentum(const float* host) = 0;
  virtual void get_buffers(float* host) const = 0;
  virtual void set_buffers(const float* host) = 0;
  // One named parameter or buffer (host [count]); false when the name is unknown.
  virtual bool read_tensor(const std::string& name, float* host) const = 0;
  virtual bool write_tensor(const std::string& name, const float* host) = 0;
  virtual std::vector<int64_t> num_batches_tracked() const = 0;  // per batch norm, topology order
  virtual void set_num_batches_tracked(const std::vector<int64_t>& counts) = 0;
  // Fresh initial parameters from `seed` (also resets momentum, running statistics and counters).
  virtual void initialize(uint64_t seed) = 0;

  // --- whole operations
  // The batches of one epoch over images[order[0..R)]. A final batch of a single image is skipped
  // (batch-norm statistics of one sample are undefined; PyTorch refuses it). Stops before a batch when
  // should_stop() returns true; the returned progress says how far it got. Stops after the first batch whose
  // loss is not finite (EpochProgress::diverged), so a diverging run ends at once, not epochs later.
  virtual EpochProgress train_epoch(const uint8_t* images, const int32_t* labels, const int32_t* order,
                                    int64_t rows, const EpochConfig& cfg, const ProgressFn& on_progress,
                                    const StopFn& should_stop) = 0;
  // Eval-mode forward of images[indices[i]] (indices null: 0..rows-1) in batches of `batch`, normalised with
  // `normalize` (mean/std only). Writes logits [rows, K] and/or embeddings [rows, 64] where not null.
  // Returns false when stopped early.
  virtual bool predict(const uint8_t* images, const int32_t* indices, int64_t rows, int64_t batch,
                       const AugmentParams& normalize, float* logits, float* embeddings,
                       const StopFn& should_stop) = 0;

  // --- testing aid (see Network::track_relu_margin): engines that cannot record ReLU margins return false.
  virtual bool track_relu_margin(bool on) { return !on; }
  virtual double take_relu_margin() { return 0.0; }
};

// Phase 3 of the method: a fresh classifier head trained on fixed embeddings (the backbone stays frozen).
//
// Legend: N embeddings of D features (64 for the CIFAR ResNet), K classes, E epochs, B batch size,
//   R rows visited per epoch (N for a shuffle, any count for class-balanced resampling).
//   x [N, D] row-major; labels [N]; orders [E, R] (row indices; one epoch's visiting order per row, made by
//   the caller so that phase 1 and phase 3 share one definition of "epoch order").
// Head kinds as in the network: linear (w [K, D], b [K]) or cosine (w [D, K], no bias).
// Per epoch e: lr = lr_per_epoch[e], class weights = weights_per_epoch[e] (empty: unweighted); batches of B
// rows in order (the last may be smaller); forward, loss, backward and one SGD step per batch, with the same
// loss and SGD code as phase 1.
struct HeadTrainingConfig {
  HeadKind head = HeadKind::kLinear;
  int64_t dim = 0, classes = 0, batch = 0, epochs = 0, rows_per_epoch = 0;
  std::vector<double> lr_per_epoch;                    // [E]
  std::vector<std::vector<double>> weights_per_epoch;  // [E][K or 0]
  LossConfig loss;                                     // class_weights ignored (per epoch above)
  SgdConfig sgd;                                       // lr ignored (per epoch above)
};

struct HeadParameters {
  std::vector<float> weight;  // [K, D] linear, [D, K] cosine
  std::vector<float> bias;    // [K] linear, empty for cosine
};

class HeadEngine {
 public:
  virtual ~HeadEngine() = default;
  virtual const char* name() const = 0;
  virtual void set_threads(int threads) = 0;
  // Trains `params` in place; returns the mean loss of every epoch. When should_stop() returns true
  // (polled between batches), training stops, `params` are left as they were on entry and the losses of
  // the epochs completed so far are returned.
  virtual std::vector<double> train_head(const HeadTrainingConfig& cfg, const float* x, int64_t n,
                                         const int32_t* labels, const int32_t* orders, HeadParameters& params,
                                         const StopFn& should_stop) = 0;
  // logits [N, K] of `params` on x [N, D].
  virtual void head_logits(HeadKind head, int64_t dim, int64_t classes, const HeadParameters& params,
                           const float* x, int64_t n, float* logits) = 0;
};

// Fresh head initialised as the network initialises its own: linear w ~ N(0, 2/D), b ~ U(-1/sqrt(D),
// 1/sqrt(D)); cosine w ~ U(-1, 1) with unit-norm columns. Draws are Philox functions of (seed, element), so
// every backend starts from the same head.
HeadParameters init_head(HeadKind head, int64_t dim, int64_t classes, uint64_t seed);

// --- the backends this build has (engine_factory.cc)
// "auto" resolved to the fastest backend built in that can run here (cuda only where a GPU is found); other
// names are returned unchanged.
std::string resolve_backend(const std::string& name);
// Every backend name this build accepts, fastest first ("auto" excluded).
std::vector<std::string> built_backends();
// Whether make_engine(name) can work on this machine: false for a name not built in, and for "cuda" where no
// GPU is found; *why (when not null) gets the message make_engine would throw (empty when usable).
bool backend_usable(const std::string& name, std::string* why = nullptr);
// Throws std::invalid_argument naming the backend when it is unknown or not built in, and for an invalid
// spec (validate_spec's message).
std::unique_ptr<Engine> make_engine(const std::string& backend, const NetworkSpec& spec);
std::unique_ptr<HeadEngine> make_head_engine(const std::string& backend);

}  // namespace eos
