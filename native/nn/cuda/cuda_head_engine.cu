// Phase 3 on the device: CudaHeadEngine (nn/cuda/cuda_engine.h), HostHeadEngine's loop (head_training.cc)
// over the device ops.
#include <algorithm>
#include <stdexcept>

#include "nn/cuda/cuda_engine.h"

namespace eos::cuda {

namespace {

constexpr int kGatherThreads = 256;

// xb[i, :] = x[order[i], :] and yb[i] = labels[order[i]] for the batch's rows.
__global__ void gather_rows(const float* x, const int32_t* labels, const int32_t* order, int64_t batch,
                            int64_t dim, float* xb, int32_t* yb) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= batch * dim) return;
  const int64_t r = i / dim, d = i % dim;
  const int64_t row = order[r];
  xb[i] = x[row * dim + d];
  if (d == 0) yb[r] = labels[row];
}

// The epoch's total, as the host sums it: total += loss * batch, batch after batch.
__global__ void add_batch_loss(const double* loss, int64_t batch, double* total) {
  *total += *loss * static_cast<double>(batch);
}

unsigned int blocks_for(int64_t count, int threads) {
  return static_cast<unsigned int>((count + threads - 1) / threads);
}

}  // namespace

CudaHeadEngine::CudaHeadEngine() {
  try {
    EOS_CUDA_CHECK(cudaGetDevice(&device_));
    EOS_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    for (cudaEvent_t& e : events_) EOS_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
  } catch (...) {
    for (cudaEvent_t& e : events_) {
      if (e) cudaEventDestroy(e);
    }
    if (stream_) cudaStreamDestroy(stream_);
    throw;
  }
}

CudaHeadEngine::~CudaHeadEngine() {
  cudaStreamSynchronize(stream_);
  for (cudaEvent_t& e : events_) cudaEventDestroy(e);
  cudaStreamDestroy(stream_);
}

std::vector<double> CudaHeadEngine::train_head(const HeadTrainingConfig& cfg, const float* x, int64_t n,
                                               const int32_t* labels, const int32_t* orders,
                                               HeadParameters& params, const StopFn& should_stop) {
  const int64_t D = cfg.dim, K = cfg.classes, R = cfg.rows_per_epoch, B = cfg.batch, E = cfg.epochs;
  const bool linear = cfg.head == HeadKind::kLinear;
  if (B < 1) throw std::invalid_argument("batch must be >= 1");
  if (static_cast<int64_t>(cfg.lr_per_epoch.size()) < E ||
      static_cast<int64_t>(cfg.weights_per_epoch.size()) < E) {
    throw std::invalid_argument("lr_per_epoch and weights_per_epoch need one entry per epoch");
  }
  if (static_cast<int64_t>(params.weight.size()) != D * K ||
      static_cast<int64_t>(params.bias.size()) != (linear ? K : 0)) {
    throw std::invalid_argument(
        "head parameters must hold dim * classes weights (and classes biases if linear)");
  }
  // Parameters, gradients and momentum as flat buffers (weight then bias), so SGD is one call.
  const int64_t wcount = D * K, count = wcount + (linear ? K : 0);
  const int64_t tail = R % B;

  DeviceScope scope(device_);
  DeviceBuffer<float> xd(n * D), flat(count), grads(count), momentum(count), xb(B * D), dxb(B * D),
      logits(B * K), dlogits(B * K);
  DeviceBuffer<int32_t> labels_d(n), orders_d(E * R), yb(B);
  DeviceBuffer<double> lr(E), weights, margins, totals(E), loss(1);
  int64_t ws_bytes = loss_workspace_bytes(B, K),
          head_bytes = linear ? 0 : normed_linear_workspace_bytes(B, D, K);
  if (tail > 0) {
    ws_bytes = std::max(ws_bytes, loss_workspace_bytes(tail, K));
    if (!linear) head_bytes = std::max(head_bytes, normed_linear_workspace_bytes(tail, D, K));
  }
  DeviceBuffer<uint8_t> ws(ws_bytes), head_ws(head_bytes);

  // Every upload once, before the first batch.
  copy_now(xd.data(), x, xd.bytes(), cudaMemcpyHostToDevice, stream_);
  copy_now(labels_d.data(), labels, labels_d.bytes(), cudaMemcpyHostToDevice, stream_);
  copy_now(orders_d.data(), orders, orders_d.bytes(), cudaMemcpyHostToDevice, stream_);
  copy_now(lr.data(), cfg.lr_per_epoch.data(), lr.bytes(), cudaMemcpyHostToDevice, stream_);
  std::vector<double> all_weights;
  for (int64_t e = 0; e < E; ++e) {
    const std::vector<double>& w = cfg.weights_per_epoch[e];
    if (w.empty()) continue;
    if (static_cast<int64_t>(w.size()) != K)
      throw std::invalid_argument("class_weights needs one weight per class");
    if (all_weights.empty()) all_weights.assign(static_cast<size_t>(E * K), 0.0);
    std::copy(w.begin(), w.end(), all_weights.begin() + e * K);
  }
  if (!all_weights.empty()) {
    weights.resize(E * K);
    copy_now(weights.data(), all_weights.data(), weights.bytes(), cudaMemcpyHostToDevice, stream_);
  }
  const DeviceLoss base = upload_loss(cfg.loss, {}, K, weights, margins, stream_);
  std::vector<float> host_flat(params.weight);
  host_flat.insert(host_flat.end(), params.bias.begin(), params.bias.end());
  copy_now(flat.data(), host_flat.data(), flat.bytes(), cudaMemcpyHostToDevice, stream_);
  EOS_CUDA_CHECK(cudaMemsetAsync(momentum.data(), 0, static_cast<size_t>(momentum.bytes()), stream_));
  EOS_CUDA_CHECK(cudaMemsetAsync(totals.data(), 0, static_cast<size_t>(totals.bytes()), stream_));

  int64_t completed = 0, j = 0;
  bool stopped = false;
  for (int64_t e = 0; e < E && !stopped; ++e) {
    DeviceLoss dl = base;
    dl.class_weights = cfg.weights_per_epoch[e].empty() ? nullptr : weights.data() + e * K;
    const int32_t* order = orders_d.data() + e * R;
    for (int64_t start = 0; start < R; start += B, ++j) {
      // At most kInFlight batches queued, so a stop request takes effect within two batches.
      if (j >= CudaEngine::kInFlight)
        EOS_CUDA_CHECK(cudaEventSynchronize(events_[j % CudaEngine::kInFlight]));
      if (should_stop && should_stop()) {
        stopped = true;
        break;
      }
      const int64_t b = std::min(B, R - start);
      gather_rows<<<blocks_for(b * D, kGatherThreads), kGatherThreads, 0, stream_>>>(
          xd.data(), labels_d.data(), order + start, b, D, xb.data(), yb.data());
      EOS_CUDA_CHECK_LAUNCH();
      if (linear) {
        linear_forward(b, D, K, xb.data(), flat.data(), flat.data() + wcount, logits.data(), stream_);
      } else {
        normed_linear_forward(b, D, K, xb.data(), flat.data(), logits.data(), head_ws.data(), stream_);
      }
      loss_forward_backward(dl, b, K, logits.data(), yb.data(), dlogits.data(), loss.data(), ws.data(),
                            stream_);
      add_batch_loss<<<1, 1, 0, stream_>>>(loss.data(), b, totals.data() + e);
      EOS_CUDA_CHECK_LAUNCH();
      if (linear) {
        linear_backward(b, D, K, xb.data(), flat.data(), dlogits.data(), nullptr, grads.data(),
                        grads.data() + wcount, stream_);
      } else {
        normed_linear_backward(b, D, K, xb.data(), flat.data(), dlogits.data(), dxb.data(), grads.data(),
                               head_ws.data(), stream_);
      }
      sgd_step(count, flat.data(), grads.data(), momentum.data(), cfg.sgd, lr.data() + e, nullptr, stream_);
      EOS_CUDA_CHECK(cudaEventRecord(events_[j % CudaEngine::kInFlight], stream_));
    }
    if (!stopped) ++completed;
  }
  EOS_CUDA_CHECK(cudaStreamSynchronize(stream_));
  std::vector<double> losses(static_cast<size_t>(completed));
  copy_now(losses.data(), totals.data(), completed * static_cast<int64_t>(sizeof(double)),
           cudaMemcpyDeviceToHost, stream_);
  for (double& l : losses) l /= static_cast<double>(R);
  if (!stopped) {
    copy_now(host_flat.data(), flat.data(), flat.bytes(), cudaMemcpyDeviceToHost, stream_);
    std::copy(host_flat.begin(), host_flat.begin() + wcount, params.weight.begin());
    std::copy(host_flat.begin() + wcount, host_flat.end(), params.bias.begin());
  }
  return losses;
}

void CudaHeadEngine::head_logits(HeadKind head, int64_t dim, int64_t classes, const HeadParameters& params,
                                 const float* x, int64_t n, float* logits) {
  if (n <= 0) return;
  const bool linear = head == HeadKind::kLinear;
  DeviceScope scope(device_);
  DeviceBuffer<float> xd(n * dim), w(dim * classes), bias(linear ? classes : 0), y(n * classes);
  DeviceBuffer<uint8_t> ws(linear ? 0 : normed_linear_workspace_bytes(n, dim, classes));
  copy_now(xd.data(), x, xd.bytes(), cudaMemcpyHostToDevice, stream_);
  copy_now(w.data(), params.weight.data(), w.bytes(), cudaMemcpyHostToDevice, stream_);
  if (linear) copy_now(bias.data(), params.bias.data(), bias.bytes(), cudaMemcpyHostToDevice, stream_);
  if (linear) {
    linear_forward(n, dim, classes, xd.data(), w.data(), bias.data(), y.data(), stream_);
  } else {
    normed_linear_forward(n, dim, classes, xd.data(), w.data(), y.data(), ws.data(), stream_);
  }
  EOS_CUDA_CHECK(cudaStreamSynchronize(stream_));
  copy_now(logits, y.data(), y.bytes(), cudaMemcpyDeviceToHost, stream_);
}

}  // namespace eos::cuda
